/// THP, hugetlb, swap, KSM and migration. Until their issue lands these ops are
/// recorded skips with a stated reason; the hooks the base paths call are no-ops
/// because no large folio, swap entry or KSM page can exist yet.
extension Machine {
    func thpEligible(_ si: Int, _ reg: Region) -> Bool { false }
    mutating func thpFault(_ si: Int, p: Int, r: Int, i: Int, reg: Region, write: Bool) -> Bool { false }
    mutating func hugetlbFault(_ si: Int, p: Int, r: Int, i: Int, write: Bool) {}
    mutating func hugetlbCopy(_ si: Int, p: Int, r: Int, i: Int, writable: Bool, unshare: Bool) {}
    mutating func hugetlbDontneed(_ p: Int, _ r: Int, _ from: Int, _ count: Int) -> OpStatus { .skipped(.notSupportedYet) }
    mutating func splitPMD(at si: Int, p: Int, r: Int, i: Int) {}
    mutating func setPMDWritable(_ si: Int) { s.slots[si].writable = true }
    mutating func copyWholePMD(_ si: Int, p: Int, r: Int, i: Int, writable: Bool) {}
    mutating func splitPMDsCrossing(_ p: Int, _ r: Int, _ from: Int, _ count: Int) {}
    mutating func forkPMD(p: Int, c: Int, r: Int, k: Int, reg: Region, parentPinned: Bool) {}
    mutating func forkSwapEntry(psi: Int, csi: Int) {}
    mutating func swapIn(_ si: Int, p: Int, r: Int, i: Int, write: Bool) {}
    mutating func collapse(_ p: Int, _ r: Int, _ from: Int, _ count: Int) -> OpStatus { .skipped(.notSupportedYet) }
    mutating func pageout(_ p: Int, _ r: Int, _ from: Int, _ count: Int) -> OpStatus { .skipped(.notSupportedYet) }
    mutating func ksmAdvise(_ p: Int, _ r: Int, _ from: Int, _ count: Int, mergeable: Bool) -> OpStatus { .skipped(.notSupportedYet) }
    mutating func ksmPass() -> OpStatus { .skipped(.notSupportedYet) }
    mutating func migrate(_ p: Int, _ r: Int, _ i: Int) -> OpStatus { .skipped(.notSupportedYet) }
    mutating func swapout(_ p: Int, _ r: Int, _ i: Int) -> OpStatus { .skipped(.notSupportedYet) }
    mutating func splitpmdOp(_ p: Int, _ r: Int, _ i: Int) -> OpStatus { .skipped(.notSupportedYet) }
    mutating func splitthpOp(_ p: Int, _ r: Int, _ i: Int) -> OpStatus { .skipped(.notSupportedYet) }
}
