/// linux-5.8: "GUP always breaks COW" (era E2).
///
/// 17839856fd58 ("gup: document and work around 'COW can break either way' issue",
/// 5.8-rc1): `__get_user_pages` adds FOLL_WRITE to every FOLL_GET/FOLL_PIN on a COW
/// mapping, so the referenced page is exclusive to the caller when the reference is
/// taken — even for reads, and the zero page gets a real page. The spec marked the
/// read-only-VMA case unsure; the kernel source settles it (read in Peter Xu's revert,
/// a308c71bf1e6, which shows the 5.8 code): `should_force_cow_break()` is
/// `is_cow_mapping(vma->vm_flags) && (flags & (FOLL_GET | FOLL_PIN))` — private file
/// mappings included — and 5.8 dropped FOLL_FORCE from `can_follow_write_pte()`, leaving
/// `pte_write(pte) || ((flags & FOLL_COW) && pte_dirty(pte))`. So on a VMA without
/// VM_WRITE the forced write fault copies once (mapped read-only, dirty), `faultin_page`
/// sets FOLL_COW, and the retry follows the dirty private copy: the model does exactly that.
/// fork still shares pinned pages (no early copy until 5.9-rc7), so `pin rw; fork;
/// write` still loses the pin, and vmsplice *before* fork still leaks (spec §4.3).
/// 3917c80280c9 (5.8): a write fault on a shared PMD-mapped THP splits the PMD and
/// copies one 4K page. The reuse rule itself is still mapcount-based (E1).
public enum Linux5_8: DerivedPolicy {
    public typealias Base = Linux5_7
    public static let name = "linux-5.8"
    public static let kernels = "5.8"
    public static let summary = "GUP forces a COW break on private mappings, even for reads; THP COW splits"
    public static let gupBreaksCow = true
    public static let hugeZeroWriteAllocatesTHP = false

    public static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision {
        let head = m.folio(site.frame)
        if head.ksm { return .reuse(if: head.refcount == 1 && !head.swapcache, .wpKsmRefcount) }
        if site.hugetlb { return .reuse(if: Rules.hugetlbMapcountIsOne(m, site.frame), .wpHugetlbMapcount) }
        let rule: RuleID = site.pmd ? .wpPmdMapcount : (site.swapin ? .wpSwapinMapcount : .wpMapcount)
        return .reuse(if: Rules.reuseSwapPage(&m, site.frame), rule, otherwise: site.pmd ? .splitPMD : .copy)
    }
}
