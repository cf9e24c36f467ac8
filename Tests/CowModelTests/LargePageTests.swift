@testable import CowModel
import Testing
import TestSupport

/// THP, hugetlb, KSM, swap and migration, op by op and era by era (spec §2, §2.8).
@Suite struct LargePageTests {
    static let thp = "@thp-order 2\nmmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\n"

    /// What 6.18 answers to range ops off a hugetlb page boundary (measured by the real
    /// backend; a huge page is 4 model pages): refused (EINVAL) where the VMA would have
    /// to split, the length aligned up by mremap and down by MADV_DONTNEED, and KSM
    /// advice accepted as a no-op. The same in every era.
    @Test func hugetlbRangesOffAHugePageBoundary() {
        let setup = "mmap p0 r0 pages=8 hugetlb\nwrite p0 r0[0] 1\nwrite p0 r0[4] 2\n"
        func status(_ op: String) -> (OpStatus, Machine<Linux6_x>) {
            let (m, st, _) = machine(Linux6_x.self, setup + op)
            return (st[3], m)
        }
        for op in ["munmap p0 r0 from=0 count=2", "mprotect p0 r0 ro from=1 count=3",
                   "madvise p0 r0 dontneed from=1 count=3", "madvise p0 r0 dontfork from=0 count=2",
                   "mremap p0 r0 -> r1 from=2 count=2"] {
            #expect(status(op).0 == .failed(.refusedByKernel), "\(op)")
        }
        let (moved, m1) = status("mremap p0 r0 -> r1 from=0 count=2")
        #expect(moved == .executed)
        #expect(m1.s.regions[m1.s.regionIndex(0, 1)].pages == 4, "the whole huge page moved")
        let (dropped, m2) = status("madvise p0 r0 dontneed from=0 count=6")
        #expect(dropped == .executed)
        #expect(m2.entry(0, 0, 0).state == .none && m2.entry(0, 0, 5).state == .present, "end aligned down")
        for op in ["madvise p0 r0 mergeable from=0 count=2", "madvise p0 r0 mergeable", "madvise p0 r0 unmergeable"] {
            let (st, m) = status(op)
            #expect(st == .executed, "\(op)")
            #expect(!m.entry(0, 0, 0).vm.contains(.mergeable), "\(op): a hugetlb VMA takes no KSM flag")
        }
        let (_, st, _) = machine(Linux6_x.self, "mmap p0 r0 pages=2 shared\nmadvise p0 r0 mergeable\nmmap p0 r1 pages=2 file\nmadvise p0 r1 mergeable")
        #expect(st[1] == .executed && st[3] == .executed)
    }

    /// The model's side of the sixth real fuzz's findings (6.18): VM_ACCOUNT, PTE
    /// tables and THP faults, KSM merging shared and private-file pages, mremap breaking
    /// KSM pages.
    @Test func sixthRealFuzzFindingsInTheModel() {
        let (a, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=2\nmprotect p0 r0 ro from=0 count=1\nwrite p0 r0[1] 1\nmprotect p0 r0 ro\nread p0 r0[0]\nfork p0 -> p1")
        #expect(a.entry(1, 0, 0).state == .none, "page 0's VMA has no anon_vma: nothing copied")
        let (t, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nmprotect p0 r0 ro from=0 count=1\nmadvise p0 r0 dontneed\nmprotect p0 r0 rw\nwrite p0 r0[0] 2")
        #expect(!t.entry(0, 0, 0).pmd, "a PTE table is left: a base page")
        let (z, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nmadvise p0 r0 nohugepage\nwrite p0 r0[0] 1\nmadvise p0 r0 dontneed\nmadvise p0 r0 hugepage\nread p0 r0[1]")
        #expect(z.entry(0, 0, 1).pmd, "the table was freed: the huge zero page")
        let (k, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nwrite p0 r0[1] 1\nmadvise p0 r0 mergeable\nfork p0 -> p1\nksm")
        #expect(k.frame(0, 0, 0).ksm && k.entry(0, 0, 0).frame == k.entry(1, 0, 1).frame)
        let (mr, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nwrite p0 r0[1] 1\nmadvise p0 r0 mergeable\nksm\nmremap p0 r0 -> r1")
        #expect(!mr.frame(0, 1, 0).ksm && !mr.frame(0, 1, 1).ksm && mr.entry(0, 1, 0).vm.contains(.mergeable))
        let (f, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=1 file\nfork p0 -> p1\nwrite p0 r0[0] 1\nwrite p1 r0[0] 1\nmadvise p0 r0 mergeable\nmadvise p1 r0 mergeable\nksm")
        #expect(f.frame(0, 0, 0).ksm, "COWed pages of a private file mapping merge")
    }

    /// The sixth real fuzz: MADV_COLLAPSE of a range holding no whole huge page succeeds
    /// doing nothing, and MADV_MERGEABLE on part of a PMD-mapped THP splits the PMD.
    @Test func collapseOfLessThanAHugePageAndMergeableOnPartOfAPMD() {
        let (_, st, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nmadvise p0 r0 collapse from=0 count=1")
        #expect(st.last == .executed)
        let (m, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nmadvise p0 r0 mergeable from=0 count=1")
        #expect(!m.entry(0, 0, 0).pmd && !m.entry(0, 0, 1).pmd)
        let (u, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nmadvise p0 r0 unmergeable from=0 count=1")
        #expect(u.entry(0, 0, 0).pmd, "unchanged flags: the PMD stays")
    }

    /// MADV_(NO)HUGEPAGE on part of a PMD-mapped THP splits the VMA and the PMD (the
    /// fourth 10-minute real fuzz); unchanged flags split nothing.
    @Test func hugepageAdviceOnPartOfAPMDSplitsIt() {
        let (m, st, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nmadvise p0 r0 nohugepage from=0 count=1")
        #expect(st.allSatisfy { $0.executed })
        #expect(!m.entry(0, 0, 0).pmd && !m.entry(0, 0, 1).pmd, "the PMD is split")
        let (u, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nmadvise p0 r0 hugepage from=0 count=1")
        #expect(u.entry(0, 0, 0).pmd, "unchanged flags: the PMD stays")
    }

    /// MADV_COLLAPSE on 6.18 (the real backend, after a 10-minute real fuzz): a block
    /// without a present page other than the zero page is refused, whether it was never
    /// faulted, zapped, or holds only zero-page entries; a PMD (the huge zero page too)
    /// counts as collapsed and is left as it is.
    @Test func collapseNeedsAPageAndLeavesAPMDAlone() {
        let thp = "mmap p0 r0 pages=4 thp\n"
        for (body, refused) in [
            ("madvise p0 r0 collapse", true),
            ("madvise p0 r0 nohugepage\nwrite p0 r0[0] 1\nmadvise p0 r0 dontneed\nmadvise p0 r0 hugepage\nmadvise p0 r0 collapse", true),
            ("madvise p0 r0 nohugepage\nread p0 r0[0]\nmadvise p0 r0 hugepage\nmadvise p0 r0 collapse", true),
            ("write p0 r0[0] 1\nmadvise p0 r0 dontneed\nmadvise p0 r0 collapse", true),
            ("madvise p0 r0 nohugepage\nwrite p0 r0[1] 1\nmadvise p0 r0 hugepage\nmadvise p0 r0 collapse", false),
        ] {
            let (m, st, _) = machine(Linux6_x.self, thp + body)
            #expect(st.last == (refused ? .failed(.refusedByKernel) : .executed), "\(body)")
            if !refused { #expect(m.entry(0, 0, 0).pmd && m.entry(0, 0, 1).pmd, "\(body)") }
        }
        let (z, zst, _) = machine(Linux6_x.self, thp + "read p0 r0[0]\nmadvise p0 r0 collapse")
        #expect(zst.last == .executed)
        #expect(z.entry(0, 0, 0).pmd && z.entry(0, 0, 0).frame == MachineState.zeroFrame, "the huge zero page stays")
    }

    /// More answers of 6.18 found by the real backend's strict comparison: flags that do
    /// not change split nothing (mprotect_fixup, madvise_update_vma), MADV_COLLAPSE honours
    /// VM_NOHUGEPAGE, and MADV_PAGEOUT refuses hugetlb and drops unshared page-cache pages.
    @Test func noOpFlagChangesSplitNothingAndCollapseAndPageoutAnswerAs618() {
        let (m, st, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nread p0 r0[0]\nmprotect p0 r0 rw from=0 count=1\nmadvise p0 r0 dofork from=1 count=1")
        #expect(st[2] == .executed && st[3] == .executed)
        #expect(m.entry(0, 0, 0).pmd && m.entry(0, 0, 1).pmd, "the PMD stays")
        let (_, hst, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 hugetlb\nmprotect p0 r0 rw from=0 count=1\nmprotect p0 r0 ro from=0 count=1")
        #expect(hst[1] == .executed && hst[2] == .failed(.refusedByKernel))
        let (_, cst, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nsplitthp p0 r0[0]\nmadvise p0 r0 nohugepage\nmadvise p0 r0 collapse\nmadvise p0 r0 hugepage\nmadvise p0 r0 collapse")
        #expect(cst[4] == .failed(.refusedByKernel) && cst[6] == .executed, "VM_NOHUGEPAGE, then lifted")
        let (pm, pst, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 hugetlb\nmadvise p0 r0 pageout\nmmap p0 r1 pages=2 file\nread p0 r1[0]\nmadvise p0 r1 pageout")
        #expect(pst[1] == .failed(.refusedByKernel) && pst[4] == .executed)
        #expect(pm.entry(0, 1, 0).state == .none, "an unshared page-cache page is dropped")
    }

    @Test func aWriteFaultAllocatesAPMDMappedTHP() {
        let m = machine(Linux6_x.self, Self.thp).0
        let head = m.frame(0, 0, 0)
        #expect(head.order == 2 && head.entireMapcount == 1 && head.refcount == 1)
        for i in 0..<4 { #expect(m.entry(0, 0, i).pmd && m.entry(0, 0, i).writable && m.frame(0, 0, i).exclusive) }
    }

    @Test func aPartialMprotectSplitsThePMDAndConservesTheRefcount() {
        let m = machine(Linux6_x.self, Self.thp + "mprotect p0 r0 ro from=1 count=1").0
        #expect(m.s.counters.pmdSplits == 1)
        #expect(m.frame(0, 0, 0).refcount == 4 && m.frame(0, 0, 0).entireMapcount == 0)
        for i in 0..<4 { #expect(!m.entry(0, 0, i).pmd && m.frame(0, 0, i).mapcount == 1) }
        #expect(!m.entry(0, 0, 1).writable && m.entry(0, 0, 2).writable)
    }

    @Test func aSharedPMDWriteCopiesTheWholeTHPUntil57AndSplitsFrom58() {
        let text = Self.thp + "fork p0 -> p1\nwrite p0 r0[0] 2"
        let m57 = machine(Linux5_7.self, text).0
        #expect(m57.s.counters.copies == 1 && m57.frame(0, 0, 0).order == 2 && m57.entry(0, 0, 3).pmd)
        let m58 = machine(Linux5_8.self, text).0
        #expect(m58.s.counters.pmdSplits == 1 && m58.frame(0, 0, 0).order == 0 && !m58.entry(0, 0, 3).pmd)
        #expect(m58.frame(1, 0, 0).content == 1)
    }

    @Test func ptemappedLargeFolioReuseArrivesIn615() {
        // The parent copies one 4K page while the child lives; after the child exits,
        // its next write to another sub-page reuses the large folio on 6.15+ only.
        let text = Self.thp + "fork p0 -> p1\nwrite p0 r0[0] 2\nexit p1\nwrite p0 r0[1] 3"
        let m6 = machine(Linux6_x.self, text).0
        #expect(m6.s.counters.copies == 1 && m6.s.counters.reuses == 1)
        let m519 = machine(Linux5_19.self, text).0
        #expect(m519.s.counters.copies == 2)
    }

    @Test func splitthpIsRefusedWhilePinnedAndKeepsExclusivity() {
        let refused = machine(Linux6_x.self, Self.thp + "pin p0 r0[0] -> g0 rw\nsplitthp p0 r0[1]").0
        #expect(refused.frame(0, 0, 1).head != refused.entry(0, 0, 1).frame)
        #expect(refused.s.counters.folioSplits == 0)
        let m = machine(Linux5_19.self, Self.thp + "splitthp p0 r0[1]").0
        #expect(m.s.counters.folioSplits == 1)
        for i in 0..<4 {
            #expect(m.frame(0, 0, i).order == 0 && m.frame(0, 0, i).refcount == 1 && m.frame(0, 0, i).exclusive)
        }
        // 6.12+: the zero-filled sub-pages map the shared zero page after the split (the
        // real backend shows it on 6.18); the written one stays, exclusive.
        let z = machine(Linux6_x.self, Self.thp + "splitthp p0 r0[1]").0
        #expect(z.frame(0, 0, 0).order == 0 && z.frame(0, 0, 0).refcount == 1 && z.frame(0, 0, 0).exclusive)
        for i in 1..<4 { #expect(z.entry(0, 0, i).frame == MachineState.zeroFrame && !z.entry(0, 0, i).writable, "page \(i)") }
    }

    /// 6.18's ksmd splits a THP of a mergeable range whatever its contents, maps its
    /// zero-filled pages to the zero page, and merges equal pages (the fourth real fuzz).
    @Test func ksmSplitsATHPAndMergesItsPages() {
        let (m, st, _) = machine(Linux6_x.self, "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nwrite p0 r0[1] 1\nwrite p0 r0[2] 3\nmadvise p0 r0 mergeable\nksm")
        #expect(st.allSatisfy { $0.executed })
        #expect(!m.entry(0, 0, 0).pmd && m.frame(0, 0, 0).ksm && m.entry(0, 0, 0).frame == m.entry(0, 0, 1).frame)
        #expect(!m.frame(0, 0, 2).ksm && m.frame(0, 0, 2).order == 0)
        #expect(m.entry(0, 0, 3).frame == MachineState.zeroFrame)
        let old = machine(Linux5_19.self, "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nwrite p0 r0[1] 1\nmadvise p0 r0 mergeable\nksm").0
        #expect(old.entry(0, 0, 0).pmd, "older eras here leave a THP to ksmd alone")
    }

    @Test func collapseNeedsMadvCollapseButNoWritablePTE() {
        let text = Self.thp + "mprotect p0 r0 ro from=1 count=1\nmprotect p0 r0 rw from=1 count=1\nmadvise p0 r0 collapse"
        let (m6, st6, _) = machine(Linux6_x.self, text)
        #expect(st6[4] == .executed && m6.entry(0, 0, 0).pmd && m6.frame(0, 0, 0).content == 1)
        let (_, st5, _) = machine(Linux5_19.self, text)
        #expect(st5[4] == .failed(.refusedByKernel))
        // 6.18 (62b98015d988): all PTEs read-only and COW-shared after fork still collapse,
        // into a new THP that only p0 maps; the child keeps the old pages.
        let shared = text + "\nmprotect p0 r0 ro from=1 count=1\nmprotect p0 r0 rw from=1 count=1\nfork p0 -> p1\nmadvise p0 r0 collapse"
        let (mRO, stRO, _) = machine(Linux6_x.self, shared + "\nwrite p0 r0[0] 9")
        #expect(stRO[8] == .executed, "no SCAN_PAGE_RO any more")
        #expect(mRO.entry(0, 0, 0).pmd && mRO.frame(0, 0, 0).exclusive)
        #expect(mRO.entry(0, 0, 0).frame != mRO.entry(1, 0, 0).frame && !mRO.entry(1, 0, 0).pmd)
        #expect(mRO.frame(1, 0, 0).content == 1 && mRO.frame(0, 0, 0).content == 9)
    }

    @Test func hugetlbReusesOnMapcountOneEvenWithAReference() {
        let text = "@thp-order 2\nmmap p0 r0 pages=4 hugetlb\nwrite p0 r0[0] 1\nfork p0 -> p1\nvmsplice p1 r0[0] -> pipe0\nmunmap p1 r0\nwrite p0 r0[0] 2"
        for m in [machine(Linux5_9.self, text).0.s.counters, machine(Linux6_x.self, text).0.s.counters] {
            #expect(m.reuses == 1 && m.copies == 0)
        }
        let (_, st, _) = machine(Linux6_x.self, "@thp-order 2\nmmap p0 r0 pages=3 hugetlb\nmmap p0 r1 pages=4 hugetlb\nmprotect p0 r1 ro\npokemem p0 r1[0] 4")
        #expect(st[0] == .skipped(.notApplicable), "not a whole number of huge pages")
        // 6.2 – 6.13 refused this (1d8d14641fd9); 6.14 lifted it, and linux-6.x is today's kernel.
        #expect(st[3] == .executed, "6.14+: FOLL_FORCE writes to a read-only private hugetlb mapping")
        let (_, st2, obs2) = machine(Linux6_x.self, "@thp-order 2\nmmap p0 r0 pages=4 hugetlb\npokemem p0 r0[0] 1\nread p0 r0[0]")
        #expect(st2[1] == .executed && obs2[2] == 1, "the real 6.18 kernel reads 1")
    }

    @Test func swapOutUnmapsIntoTheSwapCacheAndSwapInRestores() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nswapout p0 r0[0]"
        let m = machine(Linux6_x.self, text).0
        #expect(m.entry(0, 0, 0).state == .swap && m.entry(0, 0, 0).exclusive)
        #expect(m.s.counters.framesInUse == 0, "written out: only the slot holds the data")
        let (m6, _, obs) = machine(Linux6_x.self, text + "\nread p0 r0[0]")
        #expect(obs[3] == 1 && m6.entry(0, 0, 0).writable, "~6.11: an exclusive swap-in is mapped writable")
        let m519 = machine(Linux5_19.self, text + "\nread p0 r0[0]").0
        #expect(!m519.entry(0, 0, 0).writable && m519.frame(0, 0, 0).exclusive && m519.frame(0, 0, 0).swapcache)
        let m57 = machine(Linux5_7.self, text).0
        #expect(!m57.entry(0, 0, 0).exclusive, "no SWP_EXCLUSIVE before 5.19")
    }

    @Test func pinnedPagesStayOutOfSwapFrom511() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\npin p0 r0[0] -> g0 rw\nswapout p0 r0[0]"
        #expect(machine(Linux5_9.self, text).0.entry(0, 0, 0).state == .swap)
        #expect(machine(Linux5_18.self, text).0.entry(0, 0, 0).state == .present)
        #expect(machine(Linux6_x.self, text).0.entry(0, 0, 0).state == .present)
    }

    @Test func forkDuplicatesSwapEntriesAndDropsExclusivity() {
        let m = machine(Linux6_x.self, "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nswapout p0 r0[0]\nfork p0 -> p1").0
        #expect(m.s.swapCount[0] == 2)
        #expect(!m.entry(0, 0, 0).exclusive && !m.entry(1, 0, 0).exclusive)
    }

    @Test func ksmMergesEqualPagesButNotReferencedOnes() {
        let text = "mmap p0 r0 pages=3\nwrite p0 r0[0] 9\nwrite p0 r0[1] 9\nwrite p0 r0[2] 9\nvmsplice p0 r0[2] -> pipe0\nmadvise p0 r0 mergeable\nksm"
        let m = machine(Linux6_x.self, text).0
        #expect(m.entry(0, 0, 0).frame == m.entry(0, 0, 1).frame)
        #expect(m.frame(0, 0, 0).ksm && m.frame(0, 0, 0).mapcount == 2 && !m.frame(0, 0, 0).exclusive)
        #expect(m.entry(0, 0, 2).frame != m.entry(0, 0, 0).frame, "a GUP-referenced page is not merged")
        #expect(m.s.counters.ksmMerges == 1)
        // A write to a KSM page copies; 6.2+ unmerge leaves the copy read-only.
        let w = machine(Linux6_x.self, text + "\nwrite p0 r0[0] 3\nmadvise p0 r0 unmergeable").0
        #expect(w.s.counters.copies == 1 && w.s.counters.unshares == 1 && !w.entry(0, 0, 1).writable)
        let w519 = machine(Linux5_19.self, text + "\nmadvise p0 r0 unmergeable").0
        #expect(w519.entry(0, 0, 1).writable, "≤ 6.1 unmerges with a fake write fault")
    }

    @Test func migrationMovesDataAndKeepsExclusivityButRefusesPins() {
        let m = machine(Linux6_x.self, "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nmigrate p0 r0[0]").0
        #expect(m.entry(0, 0, 0).frame != 1 && m.frame(0, 0, 0).content == 1 && m.frame(0, 0, 0).exclusive)
        #expect(m.s.counters.migrations == 1)
        let pinned = machine(Linux6_x.self, "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\npin p0 r0[0] -> g0 rw\nmigrate p0 r0[0]").0
        #expect(pinned.s.counters.migrations == 0 && pinned.entry(0, 0, 0).frame == 1)
    }

    @Test func invariantsCatchAMiscountedSplit() {
        var m = Machine<Linux6_x>()
        let prog = program(Self.thp)
        m.load(prog)
        for (i, op) in prog.ops.enumerated() { _ = m.apply(op, index: i) }
        #expect(m.checkInvariants() == nil)
        m.s.frames[1].refcount += 1
        #expect(m.checkInvariants()?.0 == "INT-1")
        m.s.frames[1].refcount -= 1
        m.s.frames[3].head = 9
        #expect(m.checkInvariants() != nil)
    }
}
