import CowFuzz
import CowModel
import CowOracle
import Testing
import TestSupport

/// A test-only policy: linux-6.x with a planted defect. The write fault reuses a
/// non-exclusive small anonymous page whenever its mapcount is 1, ignoring GUP
/// references: the mapcount rule of 4.8.3–5.7 brought back, so CVE-2020-29374 returns.
enum PlantedMapcountReuse: DerivedPolicy {
    typealias Base = Linux6_x
    static let name = "planted-mapcount-reuse"
    static let kernels = "test only"
    static let summary = "linux-6.x, but the write fault reuses when mapcount == 1"

    static func anonWriteFault(_ m: inout MachineState, _ site: FaultSite) -> FaultDecision {
        let f = m.frames[Int(site.frame)]
        let head = m.folio(site.frame)
        if !site.hugetlb && !site.unshare && head.order == 0 && !head.ksm && f.mapcount == 1 {
            return .reuse(.wpMapcount)  // the planted defect
        }
        return Linux6_x.anonWriteFault(&m, site)
    }
}

@Suite struct InjectedBugTests {
    let policies = [PolicyEntry(Linux6_x.self), PolicyEntry(PlantedMapcountReuse.self)]
    let target = Signature(kind: .isolation, culprit: Culprit(rule: .wpMapcount, action: .reuse, page: .smallAnon, ref: .pipe, op: -1),
                           policies: [PlantedMapcountReuse.name])

    /// The planted minimum: CVE-2020-29374 in 7 ops. The child may drop its mapping of
    /// the page by munmap, by exit, or by a write of its own (a COW copy): shortlex
    /// shrinking removes and simplifies ops but never changes an op's kind, so which of
    /// the three it reaches depends on the program it started from.
    static let minimum = [
        """
        \(cve2020_29374)
        """,
        """
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        fork p0 -> p1
        vmsplice p1 r0[0] -> pipe0
        exit p1
        write p0 r0[0] 2
        readpipe pipe0
        """,
        """
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        fork p0 -> p1
        vmsplice p1 r0[0] -> pipe0
        write p1 r0[0] 2
        write p0 r0[0] 3
        readpipe pipe0
        """,
    ]

    @Test func plantedDefectIsFoundAndShrunkToThePlantedMinimum() throws {
        var c = CampaignConfig()
        c.policies = policies
        c.seed = 3
        c.jobs = 2
        c.runs = 20_000
        c.generator.kinds = [.mmap, .munmap, .write, .read, .fork, .exit, .pin, .readpin, .vmsplice, .readpipe]
        let campaign = Campaign(c)
        var found: Finding?
        campaign.onFinding = { f in
            if f.signature == target { found = f; campaign.requestStop() }
        }
        let result = campaign.run()
        let f = try #require(found, "the planted defect was not found in \(result.stats.programs) programs")
        #expect(f.status == .new)
        let text = f.program.ops.map(\.text).joined(separator: "\n")
        #expect(Self.minimum.contains(text), "shrunk to:\n\(text)")
        // linux-6.x stays clean on it: the defect is the policy's, not the program's.
        let outcomes = Checker.check(f.program, policies: policies)
        #expect(outcomes[0].verdicts == .clean)
        #expect(outcomes[1].verdicts.contains(.isolation))
    }

    @Test func theCveProgramWithNoiseShrinksToSevenOps() throws {
        let noisy = program("""
        mmap p0 r0 pages=3
        mmap p0 r1 pages=2 shared
        write p0 r1[1] 9
        write p0 r0[2] 1
        read p0 r0[1]
        fork p0 -> p2
        pin p2 r0[0] -> g1 longterm
        write p2 r0[1] 3
        vmsplice p2 r0[2] -> pipe1
        read p0 r1[1]
        munmap p2 r0
        unpin g1
        write p0 r0[2] 4
        read p2 r1[0]
        readpipe pipe1
        write p0 r0[0] 5
        read p0 r0[0]
        """)
        let shrinker = Shrinker(policies: policies)
        #expect(shrinker.hasSignature(noisy, target))
        let r = shrinker.shrink(noisy, keeping: target)
        #expect(r.program.ops.map(\.text).joined(separator: "\n") == Self.minimum[0])
        #expect(r.predicateCalls > 0)
        #expect(r.passes.map(\.pass) == Shrinker.passNames)
    }
}
