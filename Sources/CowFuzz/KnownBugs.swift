import CowModel

/// One historic bug of the spec's catalogue (`spec/kernel-cow.md` §5) that the model
/// can express: the culprit signatures it produces, the eras it affects and the commits
/// that fixed it. A finding whose signature matches an entry is labelled with it.
public struct KnownBug: Hashable, Sendable, Codable {
    /// `B3`, `B5`, … as in the spec.
    public var id: String
    public var name: String
    /// The verdicts it shows.
    public var kinds: Set<FindingKind>
    /// The decision sites that cause it (any action of these rules).
    public var rules: Set<RuleID>
    /// Its page kinds (empty: any).
    public var pages: Set<PageKind>
    /// Its reference kinds (empty: any).
    public var refs: Set<RefKind>
    /// The era policies that show it, as the spec expects.
    public var eras: [String]
    /// The commits that fixed it (abbreviated ids), or a note for an open bug.
    public var fixedBy: String
    /// Its reproducer in `corpus/` (the test checks that it maps to this entry).
    public var reproducer: String

    public func matches(_ s: Signature) -> Bool {
        kinds.contains(s.kind) && rules.contains(s.rule) && (pages.isEmpty || pages.contains(s.page))
            && (refs.isEmpty || refs.contains(s.ref))
    }

    /// `B3 CVE-2020-29374, linux-4.8…linux-5.7, fixed by 17839856fd58`.
    public var label: String {
        let era = eras.count > 1 ? "\(eras.first!)…\(eras.last!)" : (eras.first ?? "-")
        return "\(id) \(name), \(era), \(fixedBy.hasPrefix("not fixed") ? fixedBy : "fixed by " + fixedBy)"
    }
}

/// The catalogue. Order matters only for overlapping patterns: the first match wins.
public enum KnownBugs {
    public static let all: [KnownBug] = []

    /// The first catalogue entry a signature matches.
    public static func match(_ s: Signature) -> KnownBug? { all.first { $0.matches(s) } }
}
