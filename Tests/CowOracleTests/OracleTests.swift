import CowModel
@testable import CowOracle
import Testing
import TestSupport

@Suite struct OracleTests {
    func acceptance(_ text: String) -> [Acceptance?] {
        let p = program(text)
        return Reference.evaluate(p, statuses: Array(repeating: .executed, count: p.ops.count))
    }

    @Test func forkGivesEachProcessItsOwnMemory() {
        let a = acceptance("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nfork p0 -> p1\nwrite p0 r0[0] 2\nread p1 r0[0]\nread p0 r0[0]")
        #expect(a[4]!.accepted.values == [1])
        #expect(a[5]!.accepted.values == [2])
    }

    @Test func aGetReferenceMayBeStaleButNeverForeign() {
        // The pipe may show 1 (taken then) or 2 (the owner's later write), never the child's 3.
        let a = acceptance("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nvmsplice p0 r0[0] -> pipe0\nfork p0 -> p1\nwrite p0 r0[0] 2\nwrite p1 r0[0] 3\nreadpipe pipe0")
        #expect(a[6]!.accepted.values == [1, 2])
        #expect(Reference.classify(3, a[6]!, everWritten: ValueSet(3)) == .isolation)
    }

    @Test func aCoherentPinFollowsItsOwnerOnly() {
        let a = acceptance("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\npin p0 r0[0] -> g0 rw\nfork p0 -> p1\nwrite p0 r0[0] 2\nreadpin g0\nwritepin g0 3\nread p0 r0[0]\nread p1 r0[0]")
        #expect(a[5]!.accepted.values == [2] && a[5]!.coherent)
        #expect(Reference.classify(1, a[5]!, everWritten: ValueSet(1)) == .coherence)
        #expect(a[7]!.accepted.values == [3])
        #expect(a[8]!.accepted.values == [1])
    }

    @Test func pinCoherenceEndsWhenTheOwnerUnmaps() {
        let a = acceptance("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\npin p0 r0[0] -> g0 rw\nmadvise p0 r0 dontneed\nwrite p0 r0[0] 2\nreadpin g0\nread p0 r0[0]")
        #expect(a[5]!.accepted.values == [1])
        #expect(a[6]!.accepted.values == [2])
    }

    @Test func shortTermReadPinOfTheZeroPageIsNotCoherent() {
        let a = acceptance("mmap p0 r0 pages=1\npin p0 r0[0] -> g0\nwrite p0 r0[0] 2\nreadpin g0")
        #expect(!a[3]!.coherent)
        #expect(a[3]!.accepted.values == [0, 2])
        let l = acceptance("mmap p0 r0 pages=1\npin p0 r0[0] -> g0 longterm\nwrite p0 r0[0] 2\nreadpin g0")
        #expect(l[3]!.coherent && l[3]!.accepted.values == [2])
    }

    @Test func aRefusedOpChangesNothing() {
        let p = program("mmap p0 r0 pages=1 hugetlb\nmmap p0 r1 pages=1\nmprotect p0 r1 ro\npokemem p0 r1[0] 4\nread p0 r1[0]")
        var st = Array(repeating: OpStatus.executed, count: 5)
        st[0] = .skipped(.notSupportedYet)
        st[3] = .failed(.refusedByKernel)
        #expect(Reference.evaluate(p, statuses: st)[4]!.accepted.values == [0])
    }

    @Test func wipeonforkReadsZeroInTheChild() {
        let a = acceptance("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nmadvise p0 r0 wipeonfork\nfork p0 -> p1\nread p1 r0[0]")
        #expect(a[4]!.accepted.values == [0])
        #expect(Reference.classify(1, a[4]!, everWritten: ValueSet(1)) == .isolation)
    }

    @Test func anotherProcessesLaterWriteIsIsolationEvenIfTheValueWasOnceOurs() {
        // The child held 1 before fork; the parent writes 1 again afterwards through a
        // FOLL_GET reference. Seeing that write in the child is isolation, not staleness.
        let a = acceptance("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nwrite p0 r0[0] 2\npin p0 r0[0] -> g0 rw get\nfork p0 -> p1\nwritepin g0 1\nread p1 r0[0]")
        #expect(a[6]!.accepted.values == [2])
        #expect(Reference.classify(1, a[6]!, everWritten: ValueSet(1)) == .isolation)
        // Without a later foreign write the old value is a stale one of its own: coherence.
        let b = acceptance("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nfork p0 -> p1\npin p0 r0[0] -> g0\nwrite p0 r0[0] 2\nreadpin g0")
        #expect(Reference.classify(1, b[5]!, everWritten: ValueSet(1)) == .coherence)
    }

    @Test func judgeNamesTheOpPolicyAndAcceptedValues() {
        let p = program("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nread p0 r0[0]")
        let t = Trace(statuses: [.executed, .executed, .executed], observed: [-1, -1, 7])
        let v = Checker.judge(p, trace: t, policy: "real")
        #expect(v.count == 1)
        #expect(v.first?.verdict == .integrity)
        #expect(v.first?.op == 2 && v.first?.opKind == .read && v.first?.accepted == [1])
        #expect(v.first?.policy == "real")
    }
}
