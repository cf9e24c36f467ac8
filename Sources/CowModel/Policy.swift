/// The questions the Linux kernel answered differently over time, one type per era.
///
/// The machine asks its policy at every decision point; everything else (page
/// tables, counters, the mechanics of copy and reuse) is shared. A policy is a
/// caseless enum with static members so the generic machine specialises on it.
/// Adding a policy is adding one file in `Policies/` and one line in `PolicyRegistry`.
public protocol Policy: SendableMetatype {
    /// `linux-X.Y`: the mainline release modelled, as released.
    static var name: String { get }
    /// The mainline range that behaves this way, e.g. "5.9 – 5.17".
    static var kernels: String { get }
    /// One line: what changed in this era.
    static var summary: String { get }

    /// FOLL_PIN exists (5.6+): pins add GUP_PIN_COUNTING_BIAS to a small folio's refcount.
    static var hasFollPin: Bool { get }
    /// PG_anon_exclusive exists (5.19+).
    static var tracksExclusive: Bool { get }
    /// 5.8: every FOLL_GET/FOLL_PIN on a COW mapping is forced to break COW first.
    static var gupBreaksCow: Bool { get }
    /// How FOLL_FORCE|FOLL_WRITE (`pokemem`) follows a read-only private page.
    static var forceWrite: ForceWriteRule { get }
    /// 6.0: mprotect(RW) maps exclusive anon pages writable at once.
    static var mprotectUpgradesExclusive: Bool { get }
    /// 5.11+: reclaim does not put maybe-pinned pages into the swap cache (feb889fb40fa).
    static var swapSkipsPinned: Bool { get }
    /// 5.11+ (57efa1fe5957): fork bumps `mm->write_protect_seq` around copying a COW
    /// mapping and GUP-fast (FOLL_PIN) backs off to the slow path when it was odd or
    /// changed.
    static var hasWriteProtectSeq: Bool { get }
    /// 5.12+: fork copies pinned hugetlb pages for the child (4eae4efa2c29).
    static var hugetlbForkCopiesPinned: Bool { get }
    /// 6.2 – 6.13: FOLL_FORCE|FOLL_WRITE is refused on a hugetlb mapping without VM_WRITE
    /// (check_vma_flags, 1d8d14641fd9); 6.14 lifted it again ("mm/hugetlb: support
    /// FOLL_FORCE|FOLL_WRITE"). No era here models 6.2 – 6.13, so no era sets it today.
    static var hugetlbRefusesForceWrite: Bool { get }
    /// 6.2+: KSM unmerge uses FAULT_FLAG_UNSHARE (the copy stays read-only).
    static var ksmUnmergeUnshares: Bool { get }
    /// MADV_COLLAPSE exists (6.1).
    static var hasMadvCollapse: Bool { get }
    /// A write fault on the huge zero PMD allocates a new THP (≤ 5.7, and again in
    /// today's kernels) instead of splitting to zero PTEs (5.8 – 6.1, 3917c80280c9).
    static var hugeZeroWriteAllocatesTHP: Bool { get }
    /// ~6.11 (c18160dba5ff): swap-in maps an exclusive page writable even on a read fault.
    static var swapinMapsExclusiveWritable: Bool { get }
    /// 6.12 (b1f202060afe, "mm: remap unused subpages to shared zeropage when splitting
    /// isolated thp"): splitting an anonymous THP maps its zero-filled sub-pages to the
    /// shared zero page and frees them (the real backend shows it on 6.18 after splitthp
    /// and after a KSM pass).
    static var splitMapsZeroFilledToZeroPage: Bool { get }
    /// ksmd splits a large anonymous folio of a mergeable range it scans, then merges its
    /// pages one by one (observed on 6.18 by the real backend; older eras here leave
    /// large folios alone, since when exactly this holds is not established).
    static var ksmSplitsLargeFolios: Bool { get }
    /// 6.14 (6375e95f381e, "mm: pgtable: reclaim empty PTE page in madvise(MADV_DONTNEED)"):
    /// a MADV_DONTNEED that empties a huge block of one VMA frees its PTE table, so the
    /// next fault there may map a THP again (the real backend on 6.18).
    static var dontneedReclaimsPageTables: Bool { get }

    /// A write (or, with `site.unshare`, an unshare) fault on a present, read-only page of
    /// anonymous memory in a private mapping: reuse it, copy it, or split the PMD first.
    /// May change state the kernel changes before judging (drain the LRU batch, free the
    /// swap cache).
    static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision

    /// fork meets a present anonymous page in a COW mapping of a parent.
    static func forkAnon(_ m: MachineState, frame: Int32, parentHasPinned: Bool, hugetlb: Bool) -> ForkDecision

    /// A read-only FOLL_PIN (`pin` without `rw`, without `get`) meets a read-only entry:
    /// must it be unshared first (FAULT_FLAG_UNSHARE)? `anon` is false for the zero page
    /// and page-cache pages of a private mapping.
    static func gupMustUnshare(_ m: MachineState, frame: Int32, anon: Bool, longterm: Bool) -> Bool
}

/// An era stated as its predecessor plus what it changed: a `DerivedPolicy` names its
/// `Base` and declares only the members whose answer changed (with the commits in its
/// doc comment); every other question is answered by the base. The forwarding is
/// static, so the machine still specialises on each era.
///
/// A decision function that reads one of the era's own flags must be restated in the
/// derived era, since the base's body reads the base's flag.
public protocol DerivedPolicy: Policy {
    associatedtype Base: Policy
}

extension DerivedPolicy {
    @inline(__always) public static var hasFollPin: Bool { Base.hasFollPin }
    @inline(__always) public static var tracksExclusive: Bool { Base.tracksExclusive }
    @inline(__always) public static var gupBreaksCow: Bool { Base.gupBreaksCow }
    @inline(__always) public static var forceWrite: ForceWriteRule { Base.forceWrite }
    @inline(__always) public static var mprotectUpgradesExclusive: Bool { Base.mprotectUpgradesExclusive }
    @inline(__always) public static var swapSkipsPinned: Bool { Base.swapSkipsPinned }
    @inline(__always) public static var hasWriteProtectSeq: Bool { Base.hasWriteProtectSeq }
    @inline(__always) public static var hugetlbForkCopiesPinned: Bool { Base.hugetlbForkCopiesPinned }
    @inline(__always) public static var hugetlbRefusesForceWrite: Bool { Base.hugetlbRefusesForceWrite }
    @inline(__always) public static var ksmUnmergeUnshares: Bool { Base.ksmUnmergeUnshares }
    @inline(__always) public static var hasMadvCollapse: Bool { Base.hasMadvCollapse }
    @inline(__always) public static var hugeZeroWriteAllocatesTHP: Bool { Base.hugeZeroWriteAllocatesTHP }
    @inline(__always) public static var swapinMapsExclusiveWritable: Bool { Base.swapinMapsExclusiveWritable }
    @inline(__always) public static var splitMapsZeroFilledToZeroPage: Bool { Base.splitMapsZeroFilledToZeroPage }
    @inline(__always) public static var ksmSplitsLargeFolios: Bool { Base.ksmSplitsLargeFolios }
    @inline(__always) public static var dontneedReclaimsPageTables: Bool { Base.dontneedReclaimsPageTables }

    @inline(__always)
    public static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision {
        Base.anonWriteFault(&m, site)
    }

    @inline(__always)
    public static func forkAnon(_ m: MachineState, frame: Int32, parentHasPinned: Bool, hugetlb: Bool) -> ForkDecision {
        Base.forkAnon(m, frame: frame, parentHasPinned: parentHasPinned, hugetlb: hugetlb)
    }

    @inline(__always)
    public static func gupMustUnshare(_ m: MachineState, frame: Int32, anon: Bool, longterm: Bool) -> Bool {
        Base.gupMustUnshare(m, frame: frame, anon: anon, longterm: longterm)
    }
}

/// How a FOLL_FORCE write finds a page it may write in a read-only private mapping.
public enum ForceWriteRule: Sendable {
    /// ≤ 4.8.2: after one COW fault FOLL_WRITE is dropped and the retry follows
    /// whatever is mapped then (Dirty COW when a zap races in between).
    case dropWriteAfterFault
    /// 4.8.3 – 5.19 (19be0eaffa3a): FOLL_COW set after the fault; the retry needs a dirty PTE.
    case follCowDirty
    /// 6.0+ (5535be309971): follow only an exclusive anonymous page.
    case exclusiveOnly
}

/// The faulting page and what kind of fault it is.
public struct FaultSite: Sendable {
    /// The faulting process.
    public var process: Int
    /// The faulting (sub)page.
    public var frame: Int32
    /// Mapped by a PMD (a whole THP).
    public var pmd: Bool
    /// FAULT_FLAG_UNSHARE rather than FAULT_FLAG_WRITE.
    public var unshare: Bool
    public var hugetlb: Bool
    /// The fault is the write of a swap-in (`do_swap_page`).
    public var swapin: Bool

    public init(process: Int, frame: Int32, pmd: Bool = false, unshare: Bool = false, hugetlb: Bool = false, swapin: Bool = false) {
        self.process = process
        self.frame = frame
        self.pmd = pmd
        self.unshare = unshare
        self.hugetlb = hugetlb
        self.swapin = swapin
    }
}

/// What a write fault does with the page.
public enum FaultAction: UInt8, Sendable {
    case reuse
    case copy
    /// Split the PMD mapping, then decide again at PTE level.
    case splitPMD
}

/// A write-fault decision and the rule that took it (the culprit site it names).
public struct FaultDecision: Hashable, Sendable {
    public var action: FaultAction
    public var rule: RuleID

    public init(_ action: FaultAction, _ rule: RuleID) {
        self.action = action
        self.rule = rule
    }

    public static func reuse(_ rule: RuleID) -> FaultDecision { FaultDecision(.reuse, rule) }
    public static func copy(_ rule: RuleID) -> FaultDecision { FaultDecision(.copy, rule) }
    public static func splitPMD(_ rule: RuleID) -> FaultDecision { FaultDecision(.splitPMD, rule) }
    /// Reuse when `test` holds, else `otherwise` (copy by default), both by `rule`.
    public static func reuse(if test: Bool, _ rule: RuleID, otherwise: FaultAction = .copy) -> FaultDecision {
        FaultDecision(test ? .reuse : otherwise, rule)
    }
}

/// What fork does with a present anonymous page.
public enum ForkAction: UInt8, Sendable {
    /// Map the page in the child too; both read-only (and not exclusive).
    case share
    /// The child gets its own copy now; the parent keeps its page and PTE.
    case copyForChild
}

/// A fork decision and the rule that took it.
public struct ForkDecision: Hashable, Sendable {
    public var action: ForkAction
    public var rule: RuleID

    public init(_ action: ForkAction, _ rule: RuleID) {
        self.action = action
        self.rule = rule
    }

    public static func share(_ rule: RuleID) -> ForkDecision { ForkDecision(.share, rule) }
    /// Copy for the child when `test` holds, else share, both by `rule`.
    public static func copy(if test: Bool, _ rule: RuleID) -> ForkDecision { ForkDecision(test ? .copyForChild : .share, rule) }
}

/// The building blocks the eras combine: each is one rule of one kernel function.
public enum Rules {
    /// `reuse_swap_page()` before 5.18: mapcount (for a THP the largest sub-page
    /// mapcount plus the compound mapcount) plus the swap count ≤ 1. GUP references
    /// are invisible to it (the root of CVE-2020-29374). On reuse of a page in the swap
    /// cache whose slot nobody else uses, the swap cache is dropped.
    public static func reuseSwapPage(_ m: inout MachineState, _ f: Int32) -> Bool {
        let h = Int(m.frames[Int(f)].head)
        let head = m.frames[h]
        var count: Int32
        if head.order > 0 {
            var maxMap: Int32 = 0
            for k in h..<(h + (1 << Int(head.order))) { maxMap = max(maxMap, m.frames[k].mapcount) }
            count = maxMap + head.entireMapcount
        } else {
            count = m.frames[Int(f)].mapcount
        }
        if head.swapcache { count += m.swapCount[Int(head.swapSlot)] }
        guard count <= 1 else { return false }
        if head.swapcache && m.swapCount[Int(head.swapSlot)] == 0 { m.dropSwapCache(Int32(h)) }
        return true
    }

    /// 5.9 – 5.17 `do_wp_page` (09854ba94c6a): reuse only if the folio's refcount is 1
    /// and it is not KSM. Every holder counts: other sub-pages' mappings, the swap
    /// cache, the LRU batch, GUP references and pins.
    public static func pageCountIsOne(_ m: MachineState, _ f: Int32) -> Bool {
        let h = m.folio(f)
        return !h.ksm && h.refcount == 1
    }

    /// 5.18+ `wp_can_reuse_anon_folio` (53a05ad9f21d, d4c470970d45), in the kernel's
    /// order: KSM or a refcount above 3 leaves at once with nothing settled; a folio in
    /// the LRU-add batch drains it (lru_add_drain); a refcount above 1 + the swap cache's
    /// leaves, the swap cache kept; else the swap cache is freed (folio_free_swap) and
    /// the folio is reused if its refcount is 1. (The model settled and freed first,
    /// whatever the refcount: a second 10-minute real fuzz showed 6.18 keeping the swap
    /// cache of a folio two processes map when one of them writes.)
    public static func canReuseAfterSettling(_ m: inout MachineState, _ f: Int32) -> Bool {
        let h = m.head(f)
        if m.frames[Int(h)].ksm || m.frames[Int(h)].refcount > 3 { return false }
        if m.frames[Int(h)].lruPending { m.drainLRU() }
        if m.frames[Int(h)].refcount > 1 + (m.frames[Int(h)].swapcache ? 1 : 0) { return false }
        if m.frames[Int(h)].swapcache { m.tryFreeSwap(h) }
        return m.frames[Int(h)].refcount == 1
    }

    /// `hugetlb_cow`/`hugetlb_wp` in every era: mapcount == 1 of an anon page. Not
    /// refcount-based even today (spec B16): hugetlb_fault holds an extra reference.
    public static func hugetlbMapcountIsOne(_ m: MachineState, _ f: Int32) -> Bool {
        let h = m.folio(f)
        return h.entireMapcount + m.frames[Int(f)].mapcount == 1
    }

    /// `folio_maybe_dma_pinned` with MMF_HAS_PINNED: fork's early-copy test (5.9-rc7+).
    public static func needsCowForDma(_ m: MachineState, _ f: Int32, parentHasPinned: Bool) -> Bool {
        parentHasPinned && m.maybePinned(f)
    }
}
