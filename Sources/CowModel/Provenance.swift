/// Store provenance and culprit decisions: what the machine records so that findings
/// are judged by *which store* an observation shows and filed by *which decision* made
/// the observed page reachable by the wrong party.

/// The id of one store into memory. Every `write`, `pokemem` and `writepin` of a
/// program is a store; its id comes from its position, so the machine and the oracle
/// compute the same id without talking to each other:
/// `0` is the initial zero of every page; a top-level op at index `i` stores
/// `(i + 1) * 16`; lane `l` of a race at index `i` stores `(i + 1) * 16 + l + 1`.
/// Copies (COW, fork, swap, migration, collapse) carry the id of the store they copy.
/// `ksmMerged` marks a page that KSM merged by content: it stands for every store of
/// that value, so an observation of it is judged by value.
public enum StoreID {
    public static let zero: Int32 = 0
    public static let ksmMerged: Int32 = -2
    /// No observation.
    public static let none: Int32 = -1
    public static let lanesPerOp = 16

    @inline(__always) public static func of(op: Int, lane: Int) -> Int32 {
        Int32(truncatingIfNeeded: (op + 1) &* lanesPerOp &+ (lane + 1))
    }

    /// The op index of a program store id (nil for zero and the markers).
    public static func op(of id: Int32) -> Int? { id >= Int32(lanesPerOp) ? Int(id) / lanesPerOp - 1 : nil }
    /// The lane of a race store, or nil for a top-level op.
    public static func lane(of id: Int32) -> Int? {
        let l = Int(id) % lanesPerOp
        return id >= Int32(lanesPerOp) && l > 0 ? l - 1 : nil
    }
}

/// A decision the kernel takes at one site, named after the kernel function and the
/// rule it applies: the culprit vocabulary of signatures (`do_wp_page: reuse by
/// mapcount`). Policies return one with every write-fault and fork decision; the
/// machine names the rest (GUP, FOLL_FORCE, reclaim, swap-in, mprotect) itself. KSM
/// merges, migration, THP splits and collapse refuse pinned or otherwise referenced
/// pages, so they take no risky decision of their own here; migration carries the
/// page's stamp to the new folio.
public enum RuleID: UInt8, Hashable, Sendable, CaseIterable, Codable {
    case none
    // Write (and unshare) faults on anonymous pages.
    case wpMapcount, wpPmdMapcount, wpSwapinMapcount, wpPageCount, wpSettled, wpPmdSettled
    case wpExclusive, wpHugetlbMapcount, wpKsmRefcount, wpKsmCopy, wpLargeFolioOwner
    // fork.
    case forkNoPinCheck, forkMaybePinned, forkNotExclusive, forkHugetlbNoPinCheck
    // GUP.
    case gupNoUnshare, gupFastNoSeqcount
    // FOLL_FORCE writes (/proc/pid/mem).
    case forceDropWrite, forceFollCowDirty, forceExclusive
    // Background and other mm operations.
    case reclaimPinned, swapinRestore, mprotectUpgrade

    /// The kernel function the decision site models.
    public var function: String {
        switch self {
        case .none: "-"
        case .wpMapcount, .wpPageCount, .wpExclusive, .wpKsmCopy: "do_wp_page"
        case .wpPmdMapcount, .wpPmdSettled: "do_huge_pmd_wp_page"
        case .wpSwapinMapcount, .swapinRestore: "do_swap_page"
        case .wpSettled, .wpLargeFolioOwner: "wp_can_reuse_anon_folio"
        case .wpHugetlbMapcount: "hugetlb_wp"
        case .wpKsmRefcount: "reuse_ksm_page"
        case .forkNoPinCheck, .forkMaybePinned, .forkNotExclusive: "copy_present_pte"
        case .forkHugetlbNoPinCheck: "copy_hugetlb_page_range"
        case .gupNoUnshare: "follow_page_pte"
        case .gupFastNoSeqcount: "gup_fast"
        case .forceDropWrite: "faultin_page"
        case .forceFollCowDirty, .forceExclusive: "can_follow_write_pte"
        case .reclaimPinned: "shrink_folio_list"
        case .mprotectUpgrade: "change_pte_range"
        }
    }

    /// The criterion the site applied.
    public var criterion: String {
        switch self {
        case .none: "no decision recorded"
        case .wpMapcount, .wpPmdMapcount, .wpSwapinMapcount, .wpHugetlbMapcount: "mapcount"
        case .wpPageCount: "page_count"
        case .wpSettled, .wpPmdSettled: "refcount after settling"
        case .wpExclusive: "PageAnonExclusive"
        case .wpKsmRefcount: "KSM refcount"
        case .wpKsmCopy: "KSM page"
        case .wpLargeFolioOwner: "large folio of one mm"
        case .forkNoPinCheck, .forkHugetlbNoPinCheck: "no pin check"
        case .forkMaybePinned: "page_needs_cow_for_dma"
        case .forkNotExclusive: "not PageAnonExclusive"
        case .gupNoUnshare: "R/O pin without unshare"
        case .gupFastNoSeqcount: "no write_protect_seq"
        case .forceDropWrite: "FOLL_WRITE dropped after the COW fault"
        case .forceFollCowDirty: "FOLL_COW on a dirty pte"
        case .forceExclusive: "exclusive anon page"
        case .reclaimPinned: "maybe-pinned page into the swap cache"
        case .swapinRestore: "exclusive and writable again"
        case .mprotectUpgrade: "exclusive page writable at once"
        }
    }

    public init?(name: String) {
        guard let r = RuleID.allCases.first(where: { "\($0)" == name }) else { return nil }
        self = r
    }
}

/// What a decision did with the page.
public enum DecisionAction: UInt8, Hashable, Sendable, CaseIterable, Codable {
    case none, reuse, copy, share, pin, follow, swapout, map

    public var verb: String {
        switch self {
        case .none: "-"
        case .reuse: "reuse"
        case .copy: "copy"
        case .share: "share"
        case .pin: "pin"
        case .follow: "follow"
        case .swapout: "swap out"
        case .map: "map"
        }
    }
}

/// The kind of page a decision was taken on.
public enum PageKind: UInt8, Hashable, Sendable, CaseIterable, Codable {
    case smallAnon, pmdTHP, pteTHP, hugetlb, ksm, swapCache, zero, pageCache, shmem

    public var text: String {
        switch self {
        case .smallAnon: "small anon"
        case .pmdTHP: "PMD-mapped THP"
        case .pteTHP: "PTE-mapped THP"
        case .hugetlb: "hugetlb"
        case .ksm: "KSM"
        case .swapCache: "swap cache"
        case .zero: "zero page"
        case .pageCache: "page cache"
        case .shmem: "shmem"
        }
    }

    public init?(text: String) {
        guard let k = PageKind.allCases.first(where: { $0.text == text }) else { return nil }
        self = k
    }
}

/// The kind of reference that made the page reachable, or that observed it.
public enum RefKind: UInt8, Hashable, Sendable, CaseIterable, Codable {
    /// A FOLL_PIN pin (io_uring fixed buffers, RDMA, O_DIRECT since 6.5).
    case pin
    /// A FOLL_GET reference (`pin … get`).
    case get
    /// A pipe buffer (vmsplice: FOLL_GET).
    case pipe
    /// A FOLL_FORCE write (/proc/pid/mem, ptrace).
    case force
    /// A mapping: the CPU's loads and stores.
    case cpu

    public var text: String {
        switch self {
        case .pin: "FOLL_PIN"
        case .get: "FOLL_GET"
        case .pipe: "pipe"
        case .force: "FOLL_FORCE"
        case .cpu: "CPU"
        }
    }

    public init?(text: String) {
        guard let k = RefKind.allCases.first(where: { $0.text == text }) else { return nil }
        self = k
    }
}

/// The decision that made a page reachable by a party that should not reach it: the
/// first risky decision on the folio (a reuse while others hold it, a fork that shares
/// a pinned page, a R/O pin that did not unshare, a FOLL_FORCE follow of a page that is
/// not the private copy, …). Stamped on the folio's head frame; a folio lives until it
/// is freed (frames are never recycled within a run), so a stamp never outlives it.
public struct Culprit: Hashable, Sendable, Codable {
    public var rule: RuleID
    public var action: DecisionAction
    public var page: PageKind
    public var ref: RefKind
    /// The op index of the decision (-1: none).
    public var op: Int32

    public static let none = Culprit(rule: .none, action: .none, page: .smallAnon, ref: .cpu, op: -1)

    public init(rule: RuleID, action: DecisionAction, page: PageKind, ref: RefKind, op: Int32) {
        self.rule = rule
        self.action = action
        self.page = page
        self.ref = ref
        self.op = op
    }

    public var isNone: Bool { rule == .none }

    /// `do_wp_page: reuse by mapcount`.
    public var site: String {
        rule == .none ? "no decision recorded" : "\(rule.function): \(action.verb) by \(rule.criterion)"
    }
}

/// What a risky decision can cause, and so which of a folio's two causes it stamps.
public struct Harm: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Another party's stores can reach the folio's observers (a reuse while others hold
    /// it, a FOLL_FORCE follow of a shared page, a writable mapping restored).
    public static let isolation = Harm(rawValue: 1)
    /// A coherent FOLL_PIN is left on a folio its owner no longer maps (a copy away
    /// from one's own pin, a R/O pin that did not unshare a shared page).
    public static let coherence = Harm(rawValue: 2)
    /// A fork sharing a pinned page, a GUP-fast race: either can follow.
    public static let both: Harm = [.isolation, .coherence]
}

/// The two causes a folio carries, one per kind of harm, each the first decision of its
/// kind: an isolation finding is explained by `leak`, a coherence finding by `stale`
/// (each falls back to the other when only one was stamped). Keeping them apart stops a
/// harmless earlier stamp from hiding the real cause of the other kind.
public struct Causes: Hashable, Sendable {
    public var leak: Culprit
    public var stale: Culprit

    public static let none = Causes(leak: .none, stale: .none)

    public init(leak: Culprit, stale: Culprit) {
        self.leak = leak
        self.stale = stale
    }

    public var isNone: Bool { leak.isNone && stale.isNone }

    /// The cause of a finding: `stale` for coherence, `leak` otherwise.
    @inline(__always) public func culprit(coherence: Bool) -> Culprit {
        let (a, b) = coherence ? (stale, leak) : (leak, stale)
        return a.isNone ? b : a
    }
}
