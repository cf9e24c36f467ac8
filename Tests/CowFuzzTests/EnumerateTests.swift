import CowFuzz
import CowModel
import CowOracle
import Foundation
import Testing
import TestSupport

/// Bounded exhaustive enumeration: canonical names, no skipped ops, the CVE-2020-29374
/// class at its minimal depth, and nothing on the current kernel.
@Suite struct EnumerateTests {
    static let cve = program("""
    \(cve2020_29374)
    """)

    /// The alphabet of the CVE class only: a restricted universe so the test stays fast.
    static var vmspliceUniverse: EnumerationUniverse {
        var u = EnumerationUniverse()
        u.processes = 2
        u.kinds = [.mmap, .munmap, .write, .fork, .vmsplice, .readpipe]
        return u
    }

    @Test func findsTheCVE2020_29374ClassOnLinux5_7AtDepth7() throws {
        let policies = [PolicyRegistry.named("linux-5.7")!, PolicyRegistry.named("linux-6.x")!]
        let e = Enumerator(Self.vmspliceUniverse)
        let report = e.search(depth: 7, policies: policies, jobs: 2)
        #expect(report.completedDepth == 7)
        #expect(report.skippedPrograms == 0)
        let c = try #require(report.shortest("linux-5.7", .isolation))
        #expect(c.depth == 7)
        #expect(c.program.ops.last == .readpipe(pipe: 0))
        #expect(c.program.ops.contains { $0.kind == .vmsplice } && c.program.ops.contains { $0.kind == .munmap })
        // Nothing shorter exists, and nothing at all on linux-6.x.
        #expect(report.found.filter { $0.policy == "linux-6.x" }.isEmpty)
        // The corpus reproducer of the CVE is one of the enumerated programs of that length.
        let seven = Set(e.programs(depth: 7))
        #expect(seven.contains(Enumerator.canonicalised(Self.cve)))
        #expect(Checker.check(Self.cve, policies: [policies[0]])[0].verdicts == VerdictSet(.isolation))
    }

    @Test func nothingOnLinux6_xUpToDepth5() {
        let report = Enumerator(EnumerationUniverse()).search(depth: 5, policies: [PolicyRegistry.current], jobs: 2)
        #expect(report.completedDepth == 5)
        #expect(report.skippedPrograms == 0)
        #expect(report.found.isEmpty)
        #expect(report.programsPerDepth == [2, 10, 91, 1009, 13540])
    }

    /// A wider alphabet (two regions of two pages, ranges, every modelled op kind):
    /// programs are canonical, distinct, and no op is skipped.
    @Test func programsAreCanonicalDistinctAndNeverSkip() {
        var u = EnumerationUniverse()
        u.regions = 2
        u.pages = 2
        u.pipes = 2
        u.ranges = true
        u.reuseValues = true
        u.backings = [.anon, .shared, .file]
        u.pinFlags = [[], [.rw], [.get], [.rw, .longterm]]
        u.advices = [.dontneed, .dontfork, .dofork, .wipeonfork]
        u.kinds = [.mmap, .munmap, .mprotect, .mremap, .madvise, .write, .read, .fork, .exit, .pin, .unpin,
                   .readpin, .writepin, .vmsplice, .readpipe, .pokemem]
        let e = Enumerator(u)
        let checker = ProgramChecker(policies: [PolicyRegistry.current])
        for depth in 1...3 {
            let programs = e.programs(depth: depth)
            #expect(Set(programs.map(\.text)).count == programs.count, "depth \(depth): duplicates")
            for p in programs {
                #expect(Enumerator.canonicalised(p) == p, "not canonical:\n\(p.text)")
                let statuses = checker.check(p)[0].result.trace.statuses
                #expect(!statuses.contains { if case .skipped = $0 { true } else { false } }, "skips:\n\(p.text)")
            }
        }
    }

    @Test func renamedProgramsCanonicaliseIntoTheEnumeration() {
        let renamed = program("""
        mmap p0 r1 pages=1
        write p0 r1[0] 9
        fork p0 -> p2
        vmsplice p2 r1[0] -> pipe1
        munmap p2 r1
        write p0 r1[0] 4
        readpipe pipe1
        """)
        #expect(Enumerator.canonicalised(renamed) == Self.cve)
    }

    @Test func theResultDoesNotDependOnTheNumberOfJobs() {
        let policies = Array(PolicyRegistry.all.prefix(3))
        let e = Enumerator(EnumerationUniverse())
        let one = e.search(depth: 5, policies: policies, jobs: 1)
        let three = e.search(depth: 5, policies: policies, jobs: 3)
        #expect(one.programsPerDepth == three.programsPerDepth)
        #expect(one.found == three.found)
        #expect(!one.found.isEmpty)
    }

    @Test func countsMatchTheSearch() {
        let e = Enumerator(Self.vmspliceUniverse)
        let report = e.search(depth: 4, policies: [PolicyRegistry.current])
        #expect(report.programsPerDepth == (1...4).map { e.count(depth: $0) })
    }
}
