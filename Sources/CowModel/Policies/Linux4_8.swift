/// linux-4.8: mainline up to 4.8.2, before the Dirty COW fix (era E0).
///
/// Reuse on a write fault is mapcount-based through `reuse_swap_page()` (mapcount plus
/// swap count ≤ 1; GUP references are invisible). fork shares every anonymous page.
/// There is no FOLL_PIN (5.6), so a `pin` is a plain FOLL_GET reference (+1).
/// FOLL_FORCE writes (`pokemem`) drop FOLL_WRITE after one COW fault and follow
/// whatever is mapped on the retry (`faultin_page` in mm/gup.c before 19be0eaffa3a):
/// sequentially that finds the fresh anonymous copy, but a zap between the fault and
/// the retry makes it follow the page-cache page: Dirty COW, CVE-2016-5195 (races issue).
/// KSM pages are always copied on write (`reuse_ksm_page` came in 5.1, 52d1e606ee73).
/// A write fault on a shared PMD-mapped THP copies the whole THP.
public enum Linux4_8: Policy {
    public static let name = "linux-4.8"
    public static let kernels = "≤ 4.8.2 (before 19be0eaffa3a)"
    public static let summary = "mapcount reuse; FOLL_FORCE drops FOLL_WRITE after a COW fault (Dirty COW window)"
    public static let hasFollPin = false
    public static let tracksExclusive = false
    public static let gupBreaksCow = false
    public static let forceWrite = ForceWriteRule.dropWriteAfterFault
    public static let mprotectUpgradesExclusive = false
    public static let swapSkipsPinned = false
    public static let hasWriteProtectSeq = false
    public static let hugetlbForkCopiesPinned = false
    public static let hugetlbRefusesForceWrite = false
    public static let ksmUnmergeUnshares = false
    public static let hasMadvCollapse = false
    public static let hugeZeroWriteAllocatesTHP = true
    public static let swapinMapsExclusiveWritable = false
    public static let splitMapsZeroFilledToZeroPage = false
    public static let ksmSplitsLargeFolios = false
    public static let dontneedReclaimsPageTables = false

    public static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision {
        if m.folio(site.frame).ksm { return .copy(.wpKsmCopy) }
        if site.hugetlb { return .reuse(if: Rules.hugetlbMapcountIsOne(m, site.frame), .wpHugetlbMapcount) }
        return .reuse(if: Rules.reuseSwapPage(&m, site.frame), site.pmd ? .wpPmdMapcount : (site.swapin ? .wpSwapinMapcount : .wpMapcount))
    }

    public static func forkAnon(_ m: MachineState, frame: Int32, parentHasPinned: Bool, hugetlb: Bool) -> ForkDecision {
        .share(hugetlb ? .forkHugetlbNoPinCheck : .forkNoPinCheck)
    }

    public static func gupMustUnshare(_ m: MachineState, frame: Int32, anon: Bool, longterm: Bool) -> Bool { false }
}
