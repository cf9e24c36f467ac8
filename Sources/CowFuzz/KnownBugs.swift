import CowModel

/// One historic bug of the spec's catalogue (`spec/kernel-cow.md` §5) that the model
/// can express: the culprit signatures it produces, the eras it affects and the commits
/// that fixed it. A finding whose signature matches an entry is labelled with it.
public struct KnownBug: Hashable, Sendable, Codable, CustomStringConvertible {
    /// A set of culprit signatures: any of `kinds` × `rules` × `pages` × `refs` (an empty
    /// `pages` or `refs` means any).
    public struct Pattern: Hashable, Sendable, Codable {
        public var kinds: Set<FindingKind>
        public var rules: Set<RuleID>
        public var pages: Set<PageKind>
        public var refs: Set<RefKind>
        /// The decisions' actions (empty: any): a reuse and a copy by one rule are
        /// different bugs (the missed COW of B3, the wrong COW of B6/B7).
        public var actions: Set<DecisionAction>

        public init(kinds: Set<FindingKind>, rules: Set<RuleID>, pages: Set<PageKind> = [], refs: Set<RefKind> = [],
                    actions: Set<DecisionAction> = []) {
            self.kinds = kinds
            self.rules = rules
            self.pages = pages
            self.refs = refs
            self.actions = actions
        }

        public func matches(_ s: Signature) -> Bool {
            kinds.contains(s.kind) && rules.contains(s.rule) && (pages.isEmpty || pages.contains(s.page))
                && (refs.isEmpty || refs.contains(s.ref)) && (actions.isEmpty || actions.contains(s.action))
        }
    }

    /// `B3a`, `B5`, … as in the spec (a letter marks a variant the spec lists apart).
    public var id: String
    public var name: String
    /// The culprit signatures it produces.
    public var patterns: [Pattern]
    /// The era policies that show it, as the spec expects: names and ranges as in
    /// `@expect` (`linux-4.8..linux-5.7`, `linux-4.8..` for a bug not fixed yet, so a new
    /// era falls in it).
    public var eras: [String]

    /// `eras` resolved to era policy names in registry order.
    public var eraNames: [String] {
        let order = Expectation.eraOrder
        return order.enumerated().filter { i, name in
            eras.contains { e in e == name || Expectation.range(e, order: order).map { ($0.0...$0.1).contains(i) } ?? false }
        }.map(\.element)
    }
    /// The commits that fixed it (abbreviated ids), or a note for an open bug.
    public var fixedBy: String
    /// Its reproducer in `corpus/` (the test checks that it maps to this entry).
    public var reproducer: String

    public init(id: String, name: String, kinds: Set<FindingKind>, rules: Set<RuleID>, pages: Set<PageKind>,
                refs: Set<RefKind>, actions: Set<DecisionAction> = [], also: [Pattern] = [], eras: [String],
                fixedBy: String, reproducer: String) {
        self.id = id
        self.name = name
        patterns = [Pattern(kinds: kinds, rules: rules, pages: pages, refs: refs, actions: actions)] + also
        self.eras = eras
        self.fixedBy = fixedBy
        self.reproducer = reproducer
    }

    public func matches(_ s: Signature) -> Bool { patterns.contains { $0.matches(s) } }

    /// `B3a CVE-2020-29374, linux-4.8 … linux-5.8, fixed by 17839856fd58, 09854ba94c6a`.
    public var label: String {
        let era = Signature.eraRange(eraNames, among: PolicyRegistry.all.map(\.name), sayFixed: false)
        return "\(id) \(name), \(era), \(fixedBy.hasPrefix("not fixed") ? fixedBy : "fixed by " + fixedBy)"
    }

    public var description: String { id }
}

/// The catalogue. Order matters only for overlapping patterns: the first match wins.
public enum KnownBugs {
    public static let all: [KnownBug] = [
        KnownBug(id: "B1", name: "Dirty COW, CVE-2016-5195", kinds: [.isolation, .integrity],
                 rules: [.forceDropWrite], pages: [], refs: [.force],
                 eras: ["linux-4.8"], fixedBy: "19be0eaffa3a", reproducer: "race-dirty-cow.cow"),
        KnownBug(id: "B3a", name: "CVE-2020-29374, a GUP reference survives COW reuse",
                 kinds: [.isolation], rules: [.wpMapcount], pages: [.smallAnon, .pteTHP], refs: [.pipe, .get, .pin],
                 actions: [.reuse],
                 eras: ["linux-4.8", "linux-5.7", "linux-5.8"], fixedBy: "17839856fd58, 09854ba94c6a",
                 reproducer: "cve-2020-29374-vmsplice-unmap-child.cow"),
        KnownBug(id: "B3b", name: "CVE-2020-29374 remnants: THP and swap-in reuse by mapcount",
                 kinds: [.isolation], rules: [.wpPmdMapcount, .wpSwapinMapcount], pages: [], refs: [.pipe, .get, .pin],
                 actions: [.reuse],
                 eras: ["linux-4.8", "linux-5.7", "linux-5.9"], fixedBy: "3bff7e3f1f16, c145e0b47c77",
                 reproducer: "swap-vmsplice-unmap-child.cow"),
        KnownBug(id: "B16", name: "hugetlb vmsplice leak (B3c)", kinds: [.isolation],
                 rules: [.wpHugetlbMapcount], pages: [.hugetlb], refs: [],
                 eras: ["linux-4.8.."], fixedBy: "not fixed (cow.c xfail)", reproducer: "hugetlb-vmsplice-unmap-child.cow"),
        KnownBug(id: "B5", name: "RDMA/fork wrong COW: fork shares a pinned page", kinds: [.isolation, .coherence],
                 rules: [.forkNoPinCheck], pages: [], refs: [.pin],
                 eras: ["linux-4.8", "linux-5.7", "linux-5.8"], fixedBy: "008cfe4418b3, 70e806e4e645, d042035eaf5f",
                 reproducer: "fork-rw-pin-rdma.cow"),
        KnownBug(id: "B5h", name: "RDMA/fork wrong COW on hugetlb", kinds: [.isolation, .coherence],
                 rules: [.forkHugetlbNoPinCheck], pages: [.hugetlb], refs: [.pin],
                 eras: ["linux-4.8", "linux-5.7", "linux-5.8", "linux-5.9"], fixedBy: "4eae4efa2c29",
                 reproducer: "hugetlb-fork-rw-pin.cow"),
        KnownBug(id: "B6", name: "O_DIRECT (FOLL_GET) + fork data corruption", kinds: [.isolation, .coherence],
                 rules: [.forkNoPinCheck, .forkMaybePinned, .forkNotExclusive, .forkHugetlbNoPinCheck, .reclaimPinned],
                 pages: [], refs: [.get],
                 also: [KnownBug.Pattern(kinds: [.isolation], rules: [.wpMapcount, .wpPmdMapcount, .wpSwapinMapcount,
                                                                      .wpPageCount, .wpSettled, .wpPmdSettled, .wpHugetlbMapcount],
                                         refs: [.get], actions: [.copy])],
                 eras: ["linux-4.8.."], fixedBy: "not fixed for FOLL_GET (O_DIRECT moved to FOLL_PIN in 6.5)",
                 reproducer: "foll-get-rw-fork-odirect.cow"),
        KnownBug(id: "B7", name: "R/O pin wrong COW (anon)", kinds: [.coherence],
                 rules: [.wpPageCount, .wpSettled, .wpPmdSettled, .wpKsmCopy, .wpKsmRefcount, .wpMapcount, .wpPmdMapcount,
                         .wpSwapinMapcount, .wpHugetlbMapcount],
                 pages: [.smallAnon, .pmdTHP, .pteTHP, .ksm, .hugetlb, .swapCache], refs: [.pin], actions: [.copy],
                 also: [KnownBug.Pattern(kinds: [.coherence], rules: [.gupNoUnshare],
                                pages: [.smallAnon, .pmdTHP, .pteTHP, .ksm, .hugetlb, .swapCache], refs: [.pin])],
                 eras: ["linux-4.8", "linux-5.7", "linux-5.9", "linux-5.18"],
                 fixedBy: "6c287605fd56, c89357e27f20, a7f226604170", reproducer: "ro-pin-shared-page.cow"),
        KnownBug(id: "B7n", name: "R/O pin wrong COW (page cache, zero page)", kinds: [.coherence],
                 rules: [.gupNoUnshare], pages: [.pageCache, .zero, .shmem], refs: [.pin],
                 eras: ["linux-4.8", "linux-5.7", "linux-5.9", "linux-5.18", "linux-5.19"],
                 fixedBy: "84209e87c696", reproducer: "ro-longterm-pin-pagecache.cow"),
        KnownBug(id: "B9", name: "GUP-fast vs fork race", kinds: [.isolation, .coherence],
                 rules: [.gupFastNoSeqcount], pages: [], refs: [.pin, .get],
                 eras: ["linux-4.8", "linux-5.7", "linux-5.8", "linux-5.9"], fixedBy: "57efa1fe5957",
                 reproducer: "race-gup-fast-fork.cow"),
        KnownBug(id: "B11", name: "pinned pages put into the swap cache", kinds: [.coherence, .isolation],
                 rules: [.reclaimPinned], pages: [], refs: [.pin],
                 eras: ["linux-5.9"], fixedBy: "feb889fb40fa", reproducer: "swap-pinned-page.cow"),
    ]

    /// The first catalogue entry a signature matches.
    public static func match(_ s: Signature) -> KnownBug? { all.first { $0.matches(s) } }
}
