import CowModel

/// The kind of mapping an `mmap` makes, as `--backings` names it: a backing, or an
/// anonymous private mapping of THP or hugetlb pages.
public enum MappingKind: UInt8, Hashable, Sendable, CaseIterable, Codable, Comparable {
    case anon, shared, file, thp, hugetlb

    public init(backing: Backing, huge: HugeKind) {
        switch (backing, huge) {
        case (.anon, .thp): self = .thp
        case (.anon, .hugetlb): self = .hugetlb
        case (.anon, _): self = .anon
        case (.shared, _): self = .shared
        case (.file, _): self = .file
        }
    }

    public var name: String { ["anon", "shared", "file", "thp", "hugetlb"][Int(rawValue)] }
    public var backing: Backing { self == .shared ? .shared : self == .file ? .file : .anon }
    public var huge: HugeKind { self == .thp ? .thp : self == .hugetlb ? .hugetlb : .none }

    public init?(name: String) {
        guard let k = MappingKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }

    public static func < (a: MappingKind, b: MappingKind) -> Bool { a.rawValue < b.rawValue }
}

/// What a run may use (`--ops`, `--backings`): op kinds, race lanes included, and kinds
/// of mapping. The generator draws only from it, the campaign seeds its pools only with
/// corpus programs inside it, and the shrinker never makes a candidate with an op or a
/// mapping outside it that the program it shrinks did not already have.
public struct Alphabet: Hashable, Sendable {
    /// Bit `OpKind.rawValue`.
    public var kinds: UInt32
    /// Bit `MappingKind.rawValue`.
    public var mappings: UInt8

    public static let all = Alphabet(kinds: OpKind.allCases, mappings: MappingKind.allCases)

    public init(kinds: [OpKind], mappings: [MappingKind]) {
        self.kinds = kinds.reduce(0) { $0 | 1 << UInt32($1.rawValue) }
        self.mappings = mappings.reduce(0) { $0 | 1 << $1.rawValue }
    }

    public init(_ config: GeneratorConfig) { self.init(kinds: config.kinds, mappings: config.mappings) }

    /// The alphabet of a program: its ops' kinds (race lanes too) and its mappings.
    public init(of program: Program) {
        kinds = 0
        mappings = 0
        for op in program.ops { add(op) }
    }

    mutating func add(_ op: Op) {
        kinds |= 1 << UInt32(op.kind.rawValue)
        switch op {
        case let .mmap(_, _, _, b, h): mappings |= 1 << MappingKind(backing: b, huge: h).rawValue
        case let .race(lanes, _): for l in lanes { add(l) }
        default: break
        }
    }

    public func contains(_ k: OpKind) -> Bool { kinds & (1 << UInt32(k.rawValue)) != 0 }
    public func contains(_ m: MappingKind) -> Bool { mappings & (1 << m.rawValue) != 0 }

    public func union(_ o: Alphabet) -> Alphabet {
        var a = self
        a.kinds |= o.kinds
        a.mappings |= o.mappings
        return a
    }

    /// Every op of the program (race lanes too) and every mapping is in the alphabet.
    public func admits(_ program: Program) -> Bool {
        let a = Alphabet(of: program)
        return a.kinds & ~kinds == 0 && a.mappings & ~mappings == 0
    }
}
