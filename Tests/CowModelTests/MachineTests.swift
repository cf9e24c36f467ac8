@testable import CowModel
import Testing
import TestSupport

/// Runs a program op by op on one policy and hands back the machine.
func machine<P: Policy>(_ p: P.Type, _ text: String) -> (Machine<P>, [OpStatus], [Int16]) {
    let prog = program(text)
    var m = Machine<P>()
    m.load(prog)
    var st: [OpStatus] = [], obs: [Int16] = []
    for (i, op) in prog.ops.enumerated() {
        let (s, o) = m.apply(op, index: i)
        st.append(s)
        obs.append(o)
        if let v = m.checkInvariants() { Issue.record("invariant \(v.0) after op \(i) (\(op.text)): \(v.1)") }
    }
    return (m, st, obs)
}

extension Machine {
    func entry(_ p: Int, _ r: Int, _ i: Int) -> Slot { s.slots[s.slotIndex(p, r, i)] }
    func frame(_ p: Int, _ r: Int, _ i: Int) -> Frame { s.frames[Int(entry(p, r, i).frame)] }
}

@Suite struct MachineOpTests {
    @Test func readFaultMapsTheZeroPageAndAWriteFillsANewPage() {
        let (m, _, obs) = machine(Linux6_x.self, "mmap p0 r0 pages=1\nread p0 r0[0]")
        #expect(obs[1] == 0)
        #expect(m.entry(0, 0, 0).frame == MachineState.zeroFrame)
        let (m2, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=1\nread p0 r0[0]\nwrite p0 r0[0] 4")
        #expect(m2.s.counters.zeroFills == 1)
        #expect(m2.frame(0, 0, 0).kind == .anon)
        #expect(m2.frame(0, 0, 0).content == 4)
        #expect(m2.entry(0, 0, 0).writable)
    }

    /// vma_needs_copy(): fork copies no entries of a private VMA that never had an
    /// anonymous page (no anon_vma), copies them all once it had one (even after the
    /// pages went), and always copies hugetlb. Measured on 6.18 by the real backend.
    @Test func forkCopiesEntriesOnlyOfVMAsWithAnAnonVMA() {
        for (text, childHasEntry) in [
            ("mmap p0 r0 pages=2\nread p0 r0[1]\nfork p0 -> p1", false),
            ("mmap p0 r0 pages=2 file\nread p0 r0[1]\nfork p0 -> p1", false),
            ("mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nread p0 r0[1]\nfork p0 -> p1", true),
            ("mmap p0 r0 pages=2 file\nwrite p0 r0[0] 1\nread p0 r0[1]\nfork p0 -> p1", true),
            ("mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nmadvise p0 r0 dontneed\nread p0 r0[1]\nfork p0 -> p1", true),
            // The anon_vma is per VMA: mprotect split r0, and only page 0's VMA faulted
            // an anonymous page in (found by the second 10-minute real fuzz on 6.18).
            ("mmap p0 r0 pages=2\nmprotect p0 r0 ro from=0 count=1\nread p0 r0[1]\npokemem p0 r0[0] 1\nfork p0 -> p1", false),
            // ... and a merge back gives the anon_vma to the whole VMA.
            ("mmap p0 r0 pages=2\nmprotect p0 r0 ro from=0 count=1\nread p0 r0[1]\npokemem p0 r0[0] 1\nmprotect p0 r0 rw from=0 count=1\nfork p0 -> p1", true),
        ] {
            let (m, st, _) = machine(Linux6_x.self, text)
            #expect(st.allSatisfy { $0.executed }, "\(text)")
            #expect(m.entry(1, 0, 1).inVMA, "the child has the VMA: \(text)")
            #expect((m.entry(1, 0, 1).state == .present) == childHasEntry, "\(text)")
            #expect(m.entry(0, 0, 1).state == .present)
        }
        // A child without the entry reads the same zero page or file page.
        let (_, _, obs) = machine(Linux4_8.self, "mmap p0 r0 pages=1 file\nread p0 r0[0]\nfork p0 -> p1\nread p1 r0[0]")
        #expect(obs[3] == 0)
    }

    /// wp_can_reuse_anon_folio settles only when reuse is possible: a folio two processes
    /// map (refcount above 1 + the swap cache) keeps its swap cache when one of them
    /// writes and copies; the last mapper's write then frees it and reuses the page.
    @Test func aSharedFolioKeepsItsSwapCacheWhenOneMapperCopies() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nswapout p0 r0[0]\nwrite p0 r0[0] 2\nfork p0 -> p1\nwrite p0 r0[0] 4"
        let (m, st, _) = machine(Linux6_x.self, text)
        #expect(st.allSatisfy { $0.executed })
        #expect(m.frame(1, 0, 0).swapcache, "p1's page keeps its swap cache (6.18 does)")
        #expect(!m.frame(0, 0, 0).swapcache, "p0 wrote into a copy")
        let (m2, _, _) = machine(Linux6_x.self, text + "\nwrite p1 r0[0] 5")
        #expect(!m2.frame(1, 0, 0).swapcache && m2.entry(1, 0, 0).writable, "the last mapper frees it and reuses")
    }

    /// ksmd scans only when some VMA is mergeable: without one a `ksm` pass changes
    /// nothing, not even the LRU-add batch that a full scan drains (6.18 on the real
    /// backend: full_scans does not move).
    @Test func aKSMPassWithoutAMergeableVMAChangesNothing() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nswapout p0 r0[0]\nwrite p0 r0[0] 2\nmmap p0 r1 pages=1\n"
        let (idle, st, _) = machine(Linux6_x.self, text + "ksm")
        #expect(st.allSatisfy { $0.executed })
        #expect(idle.frame(0, 0, 0).lruPending, "no scan, no drain")
        let (scanned, _, _) = machine(Linux6_x.self, text + "madvise p0 r1 mergeable\nksm")
        #expect(!scanned.frame(0, 0, 0).lruPending, "a full scan drains the batch")
    }

    /// A folio read from swap waits in the LRU-add batch with an extra reference, so a
    /// write-in right after keeps its swap cache on 5.19+; after a drain it is freed.
    @Test func aFolioReadFromSwapJoinsTheLRUBatch() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nswapout p0 r0[0]\nwrite p0 r0[0] 2"
        let (m, st, _) = machine(Linux6_x.self, text)
        #expect(st.allSatisfy { $0.executed })
        #expect(m.frame(0, 0, 0).lruPending && m.frame(0, 0, 0).swapcache)
        #expect(m.entry(0, 0, 0).writable && m.frame(0, 0, 0).exclusive)
    }

    @Test func forkSharesReadOnlyAndClearsExclusiveFrom519() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nfork p0 -> p1"
        let (m, _, _) = machine(Linux6_x.self, text)
        #expect(m.entry(0, 0, 0).frame == m.entry(1, 0, 0).frame)
        #expect(m.frame(0, 0, 0).mapcount == 2)
        #expect(!m.entry(0, 0, 0).writable && !m.entry(1, 0, 0).writable)
        #expect(!m.frame(0, 0, 0).exclusive)
        let (old, _, _) = machine(Linux5_7.self, text + "\nwrite p0 r0[0] 2")
        #expect(old.s.counters.copies == 1)
        #expect(old.frame(1, 0, 0).content == 1 && old.frame(0, 0, 0).content == 2)
    }

    @Test func munmapFreesTheLastMapping() {
        let (m, _, _) = machine(Linux5_19.self, "mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nwrite p0 r0[1] 2\nmunmap p0 r0 from=0 count=1")
        #expect(m.s.region(0, 0) != nil)
        #expect(!m.entry(0, 0, 0).inVMA)
        let (m2, st, _) = machine(Linux5_19.self, "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nmunmap p0 r0\nread p0 r0[0]")
        #expect(m2.s.region(0, 0) == nil)
        #expect(st[3] == .skipped(.noRegion))
        var mm = m2
        _ = mm.teardown()
        #expect(mm.s.counters.framesInUse == 0)
    }

    @Test func mprotectUpgradesOnlyExclusivePagesFrom60() {
        let text = "mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nwrite p0 r0[1] 2\nfork p0 -> p1\nexit p1\nwrite p0 r0[1] 3\nmprotect p0 r0 ro\nmprotect p0 r0 rw"
        let (m6, _, _) = machine(Linux6_x.self, text)
        #expect(!m6.entry(0, 0, 0).writable, "page 0 lost PageAnonExclusive at fork")
        #expect(m6.entry(0, 0, 1).writable, "page 1 was reused, exclusive again")
        let (m5, _, _) = machine(Linux5_19.self, text)
        #expect(!m5.entry(0, 0, 1).writable)
    }

    @Test func mremapMovesEntriesUnchanged() {
        let (m, st, obs) = machine(Linux6_x.self, "mmap p0 r0 pages=2\nwrite p0 r0[1] 9\nmremap p0 r0 -> r1 from=1 count=1\nread p0 r1[0]\nread p0 r0[1]\nmremap p0 r0 -> r1\nmremap p0 r0 -> r1 from=0 count=1")
        #expect(obs[3] == 9)
        #expect(st[4] == .skipped(.pageNotMapped))
        #expect(st[5] == .skipped(.pageNotMapped), "a hole in the range")
        #expect(st[6] == .skipped(.regionExists))
        #expect(m.frame(0, 1, 0).content == 9)
    }

    @Test func dontneedDropsPrivateDataButNotShmem() {
        let (_, _, obs) = machine(Linux6_x.self, "mmap p0 r0 pages=1\nmmap p0 r1 pages=1 shared\nwrite p0 r0[0] 5\nwrite p0 r1[0] 6\nmadvise p0 r0 dontneed\nmadvise p0 r1 dontneed\nread p0 r0[0]\nread p0 r1[0]")
        #expect(obs[6] == 0)
        #expect(obs[7] == 6)
    }

    @Test func pinsCountWithTheBiasFrom56() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\npin p0 r0[0] -> g0 rw longterm\npin p0 r0[0] -> g1 get"
        let (m6, _, _) = machine(Linux6_x.self, text)
        #expect(m6.frame(0, 0, 0).refcount == 1 + 1024 + 1 + (m6.frame(0, 0, 0).lruPending ? 1 : 0))
        #expect(m6.s.procs[0].hasPinned)
        let (m4, _, _) = machine(Linux4_8.self, text)
        #expect(m4.frame(0, 0, 0).refcount == 1 + 1 + 1 + (m4.frame(0, 0, 0).lruPending ? 1 : 0))
        let (u, _, _) = machine(Linux6_x.self, text + "\nunpin g0\nunpin g1")
        #expect(u.frame(0, 0, 0).refcount == 1 + (u.frame(0, 0, 0).lruPending ? 1 : 0))
    }

    @Test func vmspliceHoldsAReferenceUntilRead() {
        var (m, st, obs) = machine(Linux6_x.self, "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nvmsplice p0 r0[0] -> pipe0\nmunmap p0 r0\nreadpipe pipe0\nreadpipe pipe0")
        #expect(obs[4] == 1)
        #expect(st[5] == .skipped(.pipeEmpty))
        // Only the LRU-add batch still holds the page; draining it frees the page.
        m.s.drainLRU()
        #expect(m.s.counters.framesInUse == 0)
    }

    @Test func pokememWritesReadOnlyPrivateButNotReadOnlyShared() {
        let (_, st, obs) = machine(Linux6_x.self, "mmap p0 r0 pages=1\nmprotect p0 r0 ro\npokemem p0 r0[0] 3\nread p0 r0[0]\nmmap p0 r1 pages=1 shared\nmprotect p0 r1 ro\npokemem p0 r1[0] 4\nwrite p0 r0[0] 5")
        #expect(st[2] == .executed && obs[3] == 3)
        #expect(st[6] == .failed(.gupFailed))
        #expect(st[7] == .skipped(.notWritable))
    }

    @Test func exitReleasesPinsAndTheAddressSpace() {
        var (m, _, _) = machine(Linux6_x.self, "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nfork p0 -> p1\nwrite p1 r0[0] 2\npin p1 r0[0] -> g0 rw\nexit p1")
        #expect(!m.s.pins[0].active)
        #expect(!m.s.procs[1].alive)
        #expect(m.teardown().leaked == 0)
    }

    @Test(arguments: [
        ("read p1 r0[0]", SkipReason.noProcess),
        ("read p0 r3[0]", .noRegion),
        ("read p0 r0[7]", .pageOutOfRange),
        ("unpin g0", .noPin),
        ("readpin g1", .noPin),
        ("readpipe pipe0", .pipeEmpty),
        ("fork p0 -> p0", .processExists),
        ("mmap p0 r0 pages=1", .regionExists),
        ("munmap p0 r0 from=1 count=5", .badRange),
        ("madvise p0 r0 wipeonfork", .notApplicable),
    ])
    func opsOnMissingNamesAreRecordedSkips(op: String, why: SkipReason) {
        let (_, st, _) = machine(Linux6_x.self, "mmap p0 r0 pages=2 shared\n" + op)
        #expect(st[1] == .skipped(why), "\(op)")
    }
}
