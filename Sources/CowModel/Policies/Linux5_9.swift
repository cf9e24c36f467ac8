/// linux-5.9: the page_count era as released in 5.9 (era E3a, 5.9 – 5.17 with the
/// later fixes noted below left out, since this models 5.9 as released).
///
/// 09854ba94c6a ("mm: do_wp_page() simplification"): a write fault on a small page
/// (or a PTE-mapped THP sub-page) reuses it only if the folio's refcount is 1 and it
/// is not KSM — every reference counts: GUP references, pins, the swap cache, the
/// LRU-add batch, other sub-pages' mappings. 1a0cf26323c8 removed `reuse_ksm_page`;
/// a308c71bf1e6 removed the 5.8 forced COW break in GUP. The remnants of
/// CVE-2020-29374 stay: a PMD-mapped THP (`do_huge_pmd_wp_page`) and the write of a
/// swap-in (`do_swap_page`) still use the mapcount-based `reuse_swap_page()` (fixed in
/// 5.18 by 3bff7e3f1f16 and c145e0b47c77).
/// fork (5.9-rc7: 008cfe4418b3 mm->has_pinned, 70e806e4e645 early COW for PTEs,
/// d042035eaf5f split pinned PMDs): once the mm has pinned, a maybe-pinned anonymous
/// page is copied for the child; hugetlb only from 5.12. Not yet here: 5.11's
/// write_protect_seq (57efa1fe5957) and swap-cache skip of pinned pages (feb889fb40fa).
/// What goes wrong: a R/O pin on a page that is, or was, shared goes stale at the
/// owner's next write (the "wrong COW", spec B7); a pinned page written after
/// mprotect RO→RW is copied away from its pin.
public enum Linux5_9: DerivedPolicy {
    public typealias Base = Linux5_8
    public static let name = "linux-5.9"
    public static let kernels = "5.9 – 5.17"
    public static let summary = "page_count reuse for small pages; fork copies maybe-pinned pages; THP and swap-in stay mapcount-based"
    public static let gupBreaksCow = false

    public static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision {
        if site.hugetlb { return .reuse(if: Rules.hugetlbMapcountIsOne(m, site.frame), .wpHugetlbMapcount) }
        if m.folio(site.frame).ksm { return .copy(.wpKsmCopy) }
        if site.pmd { return .reuse(if: Rules.reuseSwapPage(&m, site.frame), .wpPmdMapcount, otherwise: .splitPMD) }
        if site.swapin { return .reuse(if: Rules.reuseSwapPage(&m, site.frame), .wpSwapinMapcount) }
        return .reuse(if: Rules.pageCountIsOne(m, site.frame), .wpPageCount)
    }

    public static func forkAnon(_ m: MachineState, frame: Int32, parentHasPinned: Bool, hugetlb: Bool) -> ForkDecision {
        if hugetlb && !hugetlbForkCopiesPinned { return .share(.forkHugetlbNoPinCheck) }
        return .copy(if: Rules.needsCowForDma(m, frame, parentHasPinned: parentHasPinned), .forkMaybePinned)
    }
}
