/// linux-5.19 (to 6.1 for most rules): the PG_anon_exclusive era (era E4).
///
/// "COW fixes part 2/3" (6c287605fd56 PG_anon_exclusive, c89357e27f20
/// FAULT_FLAG_UNSHARE, a7f226604170 unshare on R/O pins, fb3d824d1a46
/// page_try_dup_anon_rmap, 1493a1913e34 SWP_EXCLUSIVE, 6c54dc6c7437, b6a2619c60b4):
/// a write fault on an exclusive page reuses it unconditionally; otherwise the 5.18
/// refcount rule, and a reuse sets the flag. A R/O FOLL_PIN of a non-exclusive
/// anonymous page unshares it first (the PTE stays read-only), so every FOLL_PIN of
/// anonymous memory is exclusive while pinned. fork: a non-exclusive page is shared;
/// an exclusive maybe-pinned page (mm has pinned) is copied for the child; any other
/// exclusive page loses the flag and is shared. Swap-out clears the flag into the swap
/// entry; migration keeps it. hugetlb: reuse if exclusive or mapcount == 1.
/// Left as they were: FOLL_FORCE still uses FOLL_COW and a dirty PTE (removed in
/// 6.0, 5535be309971 — the CVE-2022-2590 window); mprotect(RW) does not yet map
/// exclusive pages writable (64fe24a3e05e, 6.0); a R/O FOLL_LONGTERM pin of the zero
/// page or a page-cache page in a private mapping still references the shared page
/// and goes stale at the next write (fixed in 6.2 by 84209e87c696).
/// A PTE-mapped large folio is reused only when the whole folio has refcount 1.
public enum Linux5_19: DerivedPolicy {
    public typealias Base = Linux5_18
    public static let name = "linux-5.19"
    public static let kernels = "5.19 – 6.1"
    public static let summary = "PG_anon_exclusive; R/O pins unshare possibly-shared anon pages; fork never shares a maybe-pinned exclusive page"
    public static let tracksExclusive = true

    public static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision {
        if m.frames[Int(site.frame)].exclusive { return .reuse(.wpExclusive) }
        if site.hugetlb { return .reuse(if: Rules.hugetlbMapcountIsOne(m, site.frame), .wpHugetlbMapcount) }
        return .reuse(if: Rules.canReuseAfterSettling(&m, site.frame), site.pmd ? .wpPmdSettled : .wpSettled,
                      otherwise: site.pmd ? .splitPMD : .copy)
    }

    public static func forkAnon(_ m: MachineState, frame: Int32, parentHasPinned: Bool, hugetlb: Bool) -> ForkDecision {
        guard m.frames[Int(frame)].exclusive else { return .share(.forkNotExclusive) }
        return .copy(if: Rules.needsCowForDma(m, frame, parentHasPinned: parentHasPinned), .forkMaybePinned)
    }

    public static func gupMustUnshare(_ m: MachineState, frame: Int32, anon: Bool, longterm: Bool) -> Bool {
        anon && !m.frames[Int(frame)].exclusive
    }
}
