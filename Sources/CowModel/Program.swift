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
    /// A policy name, a range of era policies in registry order (`linux-4.8..linux-5.7`),
    /// or `*`: every era policy the file names no more specifically.
    public var policy: String
    public var verdicts: VerdictSet
    public init(policy: String, verdicts: VerdictSet) {
        self.policy = policy
        self.verdicts = verdicts
    }

    /// The era policies, in registry order, that ranges and `*` refer to.
    public static let eraOrder: [String] = PolicyRegistry.all.map(\.name)

    /// How specifically this line names `policy`: 2 by name, 1 by a range, 0 by `*`;
    /// nil when it does not apply.
    public func specificity(for policy: String, order: [String] = Expectation.eraOrder) -> Int? {
        if self.policy == policy { return 2 }
        if self.policy == "*" { return order.contains(policy) ? 0 : nil }
        guard let (a, b) = Expectation.range(self.policy, order: order), let i = order.firstIndex(of: policy) else { return nil }
        return (a...b).contains(i) ? 1 : nil
    }

    /// The indices into `order` of a range `A..B`, or `A..` (A and every later era, so
    /// an era added at the end falls in it), or nil if `text` is not one.
    public static func range(_ text: String, order: [String] = Expectation.eraOrder) -> (Int, Int)? {
        guard let dots = text.firstRange(of: "..") else { return nil }
        let last = text[dots.upperBound...]
        guard let a = order.firstIndex(of: String(text[..<dots.lowerBound])),
              let b = last.isEmpty ? order.count - 1 : order.firstIndex(of: String(last)), a <= b else { return nil }
        return (a, b)
    }

    /// The shortest list of lines equal to one verdict set per policy of `order`: the
    /// most common set as `*`, the others as ranges of neighbours (names when alone).
    public static func compact(_ verdicts: [(policy: String, verdicts: VerdictSet)],
                               order: [String] = Expectation.eraOrder) -> [Expectation] {
        let eras = order.compactMap { p in verdicts.first { $0.policy == p } }
        var out: [Expectation] = []
        if eras.count == order.count, !eras.isEmpty {
            var counts: [VerdictSet: Int] = [:]
            for e in eras { counts[e.verdicts, default: 0] += 1 }
            // The most common set; on a tie, the one the earliest era has.
            let most = counts.values.max()!
            let common = eras.first { counts[$0.verdicts] == most }!.verdicts
            out.append(Expectation(policy: "*", verdicts: common))
            var k = 0
            while k < eras.count {
                guard eras[k].verdicts != common else { k += 1; continue }
                var j = k
                while j + 1 < eras.count && eras[j + 1].verdicts == eras[k].verdicts { j += 1 }
                let name = j == eras.count - 1 && eras.count > 1 ? "\(eras[k].policy).." : j == k ? eras[k].policy : "\(eras[k].policy)..\(eras[j].policy)"
                out.append(Expectation(policy: name, verdicts: eras[k].verdicts))
                k = j + 1
            }
        } else {
            out = eras.map { Expectation(policy: $0.policy, verdicts: $0.verdicts) }
        }
        for v in verdicts where !order.contains(v.policy) { out.append(Expectation(policy: v.policy, verdicts: v.verdicts)) }
        return out
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
    /// The most specific line wins (a name over a range over `*`), then the last.
    public func expected(for policy: String) -> VerdictSet? {
        var best: (Int, VerdictSet)?
        for e in expectations {
            guard let s = e.specificity(for: policy) else { continue }
            if best == nil || s >= best!.0 { best = (s, e.verdicts) }
        }
        return best?.1
    }
}
