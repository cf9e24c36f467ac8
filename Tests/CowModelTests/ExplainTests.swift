import CowModel
import Testing
import TestSupport

/// `explain` keeps only the pages a program names (issue 15 item 4): its memory is
/// O(named pages × policies), not O(ops × mapped pages × processes).
@Suite struct ExplainTests {
    let big = program("""
    mmap p0 r0 pages=1024
    write p0 r0[700] 1
    fork p0 -> p1
    write p1 r0[700] 2
    read p0 r0[700]
    """)

    @Test func stepsShowOnlyTheNamedPages() {
        // r0[0…3] (the first four of the mapping) and r0[700], in p0 and in p1.
        for entry in PolicyRegistry.all {
            let steps = entry.explain(big)
            #expect(steps.count == 5)
            #expect(steps.map(\.pages.count).max() == 10, "\(entry.name)")
            #expect(steps[4].pages.contains { $0.process == 0 && $0.page == 700 && $0.content == 1 }, "\(entry.name)")
        }
    }

    @Test func aSessionStepsOneOpAtATimeLikeTheWholeRun() {
        for entry in PolicyRegistry.all {
            let all = entry.explain(big)
            let session = entry.explainSession(big, pages: big.namedPages)
            var stepped: [StepView] = []
            while let v = session.next() { stepped.append(v) }
            #expect(stepped == all, "\(entry.name)")
            #expect(big.namedPages.count == 10)
        }
    }

    @Test func theRegionAnMremapMovesPagesToIsShownAndForkedToo() {
        // Found by `cowfuzz matrix --backend real`: the moved pages were missing from the
        // views, and the real comparison took "not shown" for "not mapped".
        let p = program("""
        mmap p0 r0 pages=4 thp
        write p0 r0[0] 1
        mremap p0 r0 -> r1 from=2 count=2
        mremap p0 r1 -> r2
        fork p0 -> p1
        """)
        let named = p.namedPages
        for k in [PageKey(0, 1, 0), PageKey(0, 1, 1), PageKey(0, 2, 0), PageKey(0, 2, 1), PageKey(1, 2, 1)] {
            #expect(named.contains(k), "p\(k.process) r\(k.region)[\(k.page)]")
        }
        #expect(!named.contains(PageKey(0, 1, 2)) && !named.contains(PageKey(0, 2, 2)))
        let last = PolicyRegistry.current.explain(p)[4].pages
        #expect(last.filter { $0.region == 2 && $0.entry == "present" }.count == 4, "\(last)")
    }
}
