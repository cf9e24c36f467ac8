import CowFuzz
import CowModel
import CowOracle
import Foundation
import Testing
import TestSupport

@Suite struct CampaignTests {
    static func config(seed: UInt64, runs: Int, jobs: Int) -> CampaignConfig {
        var c = CampaignConfig()
        c.seed = seed
        c.runs = runs
        c.jobs = jobs
        c.generator.maxOps = 24
        return c
    }

    /// What must not depend on the number of jobs.
    static func fingerprint(_ r: CampaignResult) -> [String] {
        var out = ["programs \(r.stats.programs)", "ops \(r.stats.opsExecuted)", "coverage \(r.stats.coverage)",
                   "pool \(r.stats.poolSize)"]
        for f in r.findings {
            out.append("\(f.signature.text) #\(f.programIndex) hits \(f.hits) original \(f.originalOps)\n\(f.program.text)")
        }
        out.append("copies \(r.counters.map(\.copies))")
        return out
    }

    @Test func sameSeedSameFindingsForOneAndFourJobs() {
        let one = Campaign(Self.config(seed: 5, runs: 2000, jobs: 1)).run()
        let four = Campaign(Self.config(seed: 5, runs: 2000, jobs: 4)).run()
        #expect(!one.findings.isEmpty)
        #expect(Self.fingerprint(one) == Self.fingerprint(four))
        let other = Campaign(Self.config(seed: 6, runs: 2000, jobs: 1)).run()
        #expect(Self.fingerprint(one) != Self.fingerprint(other), "the seed must matter")
    }

    @Test func shardsPartitionTheUnshardedRun() {
        var c = Self.config(seed: 9, runs: 1500, jobs: 2)
        c.shrink = false
        let whole = Campaign(c).run()
        var programs = 0
        var signatures = Set<String>()
        var coverage = 0
        for i in 0..<3 {
            var s = c
            s.shard = (i, 3)
            let r = Campaign(s).run()
            programs += r.stats.programs
            coverage = max(coverage, r.stats.coverage)
            signatures.formUnion(r.findings.map(\.signature.text))
        }
        #expect(programs == whole.stats.programs)
        #expect(signatures == Set(whole.findings.map(\.signature.text)))
        #expect(coverage <= whole.stats.coverage)
    }

    @Test func theFastPathGivesTheCheckersSignatures() {
        let executor = DifferentialExecutor(policies: PolicyRegistry.all)
        let gen = ProgramGenerator(GeneratorConfig(maxOps: 30))
        var shown = 0
        withEvery("seed", in: 0..<300 as Range<UInt64>) { seed in
            let p = gen.program(seed: SplitMix64.derive(77, seed))
            let slow = Signature.of(p, outcomes: Checker.check(p))
            let fast = executor.signatures(p)
            #expect(fast == slow, "seed \(seed)\n\(p.text)")
            if !fast.isEmpty { shown += 1 }
        }
        #expect(shown > 0)
    }

    @Test func generatorIsDeterministicAndPrintsParseableText() throws {
        let gen = ProgramGenerator()
        try withEvery("seed", in: 0..<200 as Range<UInt64>) { seed in
            let p = gen.program(seed: seed)
            #expect(p == gen.program(seed: seed))
            #expect(p.ops.count >= 4 && p.ops.count <= 40)
            let back = try Program(parsing: p.text, file: "seed-\(seed)")
            #expect(back == p, "seed \(seed)")
        }
    }

    @Test func mutantsStayWithinBounds() throws {
        let gen = ProgramGenerator()
        let m = Mutator(gen)
        var rng = SplitMix64(seed: 4)
        var p = gen.program(seed: 1)
        for k in 0..<300 {
            let other = gen.program(seed: UInt64(k) + 100)
            p = m.mutate(p, other: other, &rng)
            #expect(!p.ops.isEmpty && p.ops.count <= 40)
            #expect(try Program(parsing: p.text) == p)
        }
    }

    @Test func diffModeReportsAnObservableDifference() throws {
        var c = Self.config(seed: 2, runs: 1500, jobs: 2)
        c.policies = [PolicyRegistry.named("linux-5.7")!, PolicyRegistry.named("linux-5.8")!]
        c.diff = ("linux-5.7", "linux-5.8")
        let r = Campaign(c).run()
        let d = try #require(r.findings.first { $0.signature.kind == .divergence })
        #expect(d.signature.policies == ["linux-5.7", "linux-5.8"])
        let shrinker = Shrinker(policies: c.policies, diff: c.diffIndices)
        #expect(shrinker.hasSignature(d.program, d.signature))
    }
}
