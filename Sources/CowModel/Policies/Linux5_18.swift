/// linux-5.18: "COW fixes part 1" (era E3b).
///
/// The series 53a05ad9f21d, d4c470970d45, 84d60fdd3733, c145e0b47c77, 3bff7e3f1f16,
/// 363106c4cefe, 03104c2c5db8 makes reuse refcount-based everywhere but hugetlb:
/// `do_wp_page` drains the LRU-add batch when the page is not yet on the LRU and frees
/// the swap cache before judging, then reuses only at refcount 1; a PMD-mapped THP
/// reuses only at refcount 1, otherwise the PMD is split and the PTE rule applies
/// (3bff7e3f1f16); the write of a swap-in follows the same rule (c145e0b47c77);
/// `reuse_swap_page()` is gone. Inherited fixes: 5.11 write_protect_seq and no
/// pinned pages in the swap cache (feb889fb40fa), 5.12 hugetlb early COW at fork.
/// hugetlb still reuses on mapcount 1, so vmsplice on hugetlb leaks (spec B16).
/// R/O pins still go stale (the owner's write copies a page with refcount > 1).
public enum Linux5_18: DerivedPolicy {
    public typealias Base = Linux5_9
    public static let name = "linux-5.18"
    public static let kernels = "5.18"
    public static let summary = "refcount reuse everywhere but hugetlb; swap cache and LRU batch settled before judging"
    public static let swapSkipsPinned = true
    public static let hasWriteProtectSeq = true
    public static let hugetlbForkCopiesPinned = true

    public static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision {
        if site.hugetlb { return .reuse(if: Rules.hugetlbMapcountIsOne(m, site.frame), .wpHugetlbMapcount) }
        return .reuse(if: Rules.canReuseAfterSettling(&m, site.frame), site.pmd ? .wpPmdSettled : .wpSettled,
                      otherwise: site.pmd ? .splitPMD : .copy)
    }

    public static func forkAnon(_ m: MachineState, frame: Int32, parentHasPinned: Bool, hugetlb: Bool) -> ForkDecision {
        .copy(if: Rules.needsCowForDma(m, frame, parentHasPinned: parentHasPinned), .forkMaybePinned)
    }
}
