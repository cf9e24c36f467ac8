import CowModel
import CowOracle
import Testing
import TestSupport

/// The central property: thousands of random programs (fixed seeds) run on every policy
/// with `checkInvariants()` after every op; the current kernel's model shows no
/// isolation, coherence, integrity or leak verdict at all. Older eras may show their
/// documented bugs, but never integrity or leak (the machine itself must stay sound).
@Suite struct RandomProgramPropertyTests {
    static let seeds: Range<UInt64> = 0..<3000

    @Test func everyPolicyKeepsItsInvariantsAndTheCurrentKernelIsClean() {
        let gen = RandomPrograms()
        let checker = ProgramChecker(policies: PolicyRegistry.all, options: RunOptions(paranoid: true))
        var executed = 0
        var eraFindings = 0
        withEvery("seed", in: Self.seeds) { seed in
            let prog = gen.make(seed: seed, length: 10 + Int(seed % 31))
            for o in checker.check(prog) {
                executed += o.result.counters.opsExecuted
                let sound = !o.verdicts.contains(.integrity) && !o.verdicts.contains(.leak)
                #expect(sound, "seed \(seed) on \(o.policy): \(o.violations.map(\.description))\n\(prog.text)")
                if o.policy == PolicyRegistry.current.name {
                    #expect(o.verdicts == .clean, "seed \(seed) on linux-6.x: \(o.violations.map(\.description))\n\(prog.text)")
                } else if !o.verdicts.isEmpty {
                    eraFindings += 1
                }
            }
        }
        // The programs reach deep states: most ops run, and old eras do misbehave sometimes.
        #expect(executed > Int(Self.seeds.count) * 7 * 5)
        #expect(eraFindings > 0)
    }
}
