/// A verdict of the checker about one run of a program on one policy.
public enum Verdict: UInt8, Hashable, Sendable, CaseIterable, Comparable, Codable {
    /// An observation shows a value that another process wrote through a private path,
    /// or a write reached a file, the zero page or a KSM page.
    case isolation
    /// An observation through a FOLL_PIN pin (or by its owner after a device write)
    /// shows a value of the owner's own history that is no longer current.
    case coherence
    /// The machine broke one of its own invariants (spec §4.2).
    case integrity
    /// Frames are still held after every process, pin and pipe is gone.
    case leak

    public static func < (a: Verdict, b: Verdict) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .isolation: "isolation"
        case .coherence: "coherence"
        case .integrity: "integrity"
        case .leak: "leak"
        }
    }

    public init?(name: String) {
        guard let v = Verdict.allCases.first(where: { $0.name == name }) else { return nil }
        self = v
    }
}

/// A set of verdicts; the empty set prints as `clean`.
public struct VerdictSet: OptionSet, Hashable, Sendable, Codable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ v: Verdict) { self.rawValue = 1 << v.rawValue }
    public init(_ vs: [Verdict]) {
        self.rawValue = vs.reduce(0) { $0 | (1 << $1.rawValue) }
    }
    public static let clean = VerdictSet([])
    public func contains(_ v: Verdict) -> Bool { rawValue & (1 << v.rawValue) != 0 }
    public mutating func insert(_ v: Verdict) { self.formUnion(VerdictSet(v)) }
    public var verdicts: [Verdict] { Verdict.allCases.filter { contains($0) } }
    /// `clean`, or the verdict names joined by commas in canonical order.
    public var text: String { isEmpty ? "clean" : verdicts.map(\.name).joined(separator: ",") }
}

/// `@expect POLICY VERDICT[,VERDICT…]`.
public struct Expectation: Hashable, Sendable {
    public var policy: String
    public var verdicts: VerdictSet
    public init(policy: String, verdicts: VerdictSet) {
        self.policy = policy
        self.verdicts = verdicts
    }
}

/// A program: a list of ops plus the directives and leading comments of its text.
public struct Program: Hashable, Sendable {
    public var ops: [Op]
    /// `@thp-order N`: a huge page is 2^N base pages (nil: the model's default).
    public var thpOrder: Int?
    /// `@expect` lines, in the order they were given.
    public var expectations: [Expectation]
    /// Comment lines before the first op or directive, without the `#` (kept when printing).
    public var comments: [String]

    public init(ops: [Op], thpOrder: Int? = nil, expectations: [Expectation] = [], comments: [String] = []) {
        self.ops = ops
        self.thpOrder = thpOrder
        self.expectations = expectations
        self.comments = comments
    }

    /// The model's default huge-page order: a THP of 4 base pages keeps states small.
    public static let defaultThpOrder = 2

    public var effectiveThpOrder: Int { thpOrder ?? Program.defaultThpOrder }

    /// The expectation for a policy, if the program states one.
    public func expected(for policy: String) -> VerdictSet? {
        expectations.last(where: { $0.policy == policy })?.verdicts
    }
}
