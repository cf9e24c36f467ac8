/// linux-6.x: what the running kernel of today does (6.2+, checked against 6.18;
/// era E5).
///
/// Everything of linux-5.19, plus:
/// - 6.0, 5535be309971: FOLL_COW is gone; a FOLL_FORCE write follows a read-only
///   private page only if it is anonymous and exclusive (fixes CVE-2022-2590).
/// - 6.0, 64fe24a3e05e: mprotect(RW) maps exclusive anonymous pages writable at once.
/// - 6.2, 84209e87c696: a R/O FOLL_LONGTERM pin in a COW mapping unshares non-anon
///   pages too (zero page, page cache): the pin references a private copy.
/// - 6.2, 1d8d14641fd9, refused FOLL_FORCE|FOLL_WRITE on a hugetlb mapping without
///   VM_WRITE; 6.14 lifted that again (Guillaume Morin, "mm/hugetlb: support
///   FOLL_FORCE|FOLL_WRITE", v4 of Dec 2024, for debuggers and uprobes on hugetlb;
///   it removes the is_vm_hugetlb_page() refusal from check_vma_flags()): today's
///   kernel performs the write, so this era does not refuse it (found by the real
///   backend, 6.18 here). Its mainline id is not in our sources: the library holds it
///   only under linux-next ids (4e691fabdbc6, 04fc44077cea, …), so none is cited.
/// - 6.2: KSM unmerge uses FAULT_FLAG_UNSHARE (the copy stays read-only).
/// - 6.15, 1da190f4d0a6: a write or unshare fault on a non-exclusive sub-page of a
///   PTE-mapped large folio reuses it when only this mm maps the folio (MM-owner
///   tracking) and the folio's mapcount equals its refcount after the swap cache is
///   freed; a folio mapped once (its last sub-page) is not reused (copied).
/// - 6.18, 62b98015d988 ("mm: enable khugepaged anonymous collapse on non-writable
///   regions") and 473b73222f3d ("mm: drop all references of writable and
///   SCAN_PAGE_RO"): khugepaged and MADV_COLLAPSE no longer need a writable PTE in the
///   range, so a COW-shared, PTE-mapped THP collapses into a new exclusive PMD THP
///   (6.1 – 6.17 refused it with SCAN_PAGE_RO; found by the real backend).
/// - ~6.11, c18160dba5ff: swap-in maps an exclusive page writable even on a read fault.
/// - 6.12, b1f202060afe ("mm: remap unused subpages to shared zeropage when splitting
///   isolated thp"): a split maps the zero-filled sub-pages of an anonymous THP to the
///   shared zero page (the real backend: after splitthp and after a KSM pass).
/// - 6.14, 6375e95f381e ("mm: pgtable: reclaim empty PTE page in madvise(MADV_DONTNEED)"):
///   a MADV_DONTNEED that empties a huge block of one VMA frees its PTE table, so the
///   next fault there may map a THP.
/// - ksmd splits a large anonymous folio of a mergeable range before merging its pages
///   (observed on 6.18 by the real backend; since which release is not established).
/// - A write fault on the huge zero PMD allocates a new THP again (Dev Jain, "mm: Allocate
///   THP on hugezeropage wp-fault", `do_huge_zero_wp_pmd`; the spec marked it unsure,
///   checked in the kernel history) instead of 5.8 – 6.1's split to zero PTEs.
/// hugetlb keeps the mapcount rule, so vmsplice on hugetlb still leaks: the cow.c
/// XFAIL (spec B16, S28) that the oracle names as `isolation`.
public enum Linux6_x: DerivedPolicy {
    public typealias Base = Linux5_19
    public static let name = "linux-6.x"
    public static let kernels = "6.2 – today (6.18)"
    public static let summary = "5.19 plus PAE-only FOLL_FORCE, mprotect upgrade, R/O longterm unshare of non-anon pages, large-folio reuse"
    public static let forceWrite = ForceWriteRule.exclusiveOnly
    public static let mprotectUpgradesExclusive = true
    public static let ksmUnmergeUnshares = true
    public static let hasMadvCollapse = true
    public static let hugeZeroWriteAllocatesTHP = true
    public static let swapinMapsExclusiveWritable = true
    public static let splitMapsZeroFilledToZeroPage = true
    public static let ksmSplitsLargeFolios = true
    public static let dontneedReclaimsPageTables = true

    public static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision {
        if m.frames[Int(site.frame)].exclusive { return .reuse(.wpExclusive) }
        if site.hugetlb { return .reuse(if: Rules.hugetlbMapcountIsOne(m, site.frame), .wpHugetlbMapcount) }
        let head = m.folio(site.frame)
        if head.ksm { return .copy(.wpKsmCopy) }
        if head.order > 0 && !site.pmd {
            return .reuse(if: Rules.largeFolioOnlyThisMM(&m, site.frame, process: site.process), .wpLargeFolioOwner)
        }
        return .reuse(if: Rules.canReuseAfterSettling(&m, site.frame), site.pmd ? .wpPmdSettled : .wpSettled,
                      otherwise: site.pmd ? .splitPMD : .copy)
    }

    public static func gupMustUnshare(_ m: MachineState, frame: Int32, anon: Bool, longterm: Bool) -> Bool {
        anon ? !m.frames[Int(frame)].exclusive : longterm
    }
}
