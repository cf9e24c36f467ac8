/// linux-5.7: the mapcount era, 4.8.3 – 5.7 (era E1).
///
/// Dirty COW is fixed (19be0eaffa3a): a FOLL_FORCE write sets FOLL_COW after its COW
/// fault and the retry follows only a dirty PTE. The write-fault reuse rule is
/// `reuse_swap_page()`: mapcount (for a THP the largest sub-page mapcount plus the
/// compound mapcount) plus swap count ≤ 1 — GUP references and pins are invisible,
/// so a page another process still references through vmsplice is reused
/// (CVE-2020-29374, Project Zero 2045), and a pinned page is shared at fork so the
/// parent's next write leaves the pin on the child's page (RDMA/fork, spec B5).
/// FOLL_PIN exists since 5.6 (eddb1c228f79): pins add GUP_PIN_COUNTING_BIAS.
/// KSM: `reuse_ksm_page()` (5.1, 52d1e606ee73) reuses a KSM page whose only user
/// faults, when it is not in the swap cache. A shared PMD-mapped THP is copied whole.
public enum Linux5_7: DerivedPolicy {
    public typealias Base = Linux4_8
    public static let name = "linux-5.7"
    public static let kernels = "4.8.3 – 5.7"
    public static let summary = "mapcount reuse; GUP does not break COW (CVE-2020-29374, RDMA/fork)"
    public static let hasFollPin = true
    public static let forceWrite = ForceWriteRule.follCowDirty

    public static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision {
        let head = m.folio(site.frame)
        if head.ksm { return .reuse(if: head.refcount == 1 && !head.swapcache, .wpKsmRefcount) }
        if site.hugetlb { return .reuse(if: Rules.hugetlbMapcountIsOne(m, site.frame), .wpHugetlbMapcount) }
        return .reuse(if: Rules.reuseSwapPage(&m, site.frame), site.pmd ? .wpPmdMapcount : (site.swapin ? .wpSwapinMapcount : .wpMapcount))
    }
}
