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
}
