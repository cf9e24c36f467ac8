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
        var gen = RandomPrograms()
        gen.maxPages = 4
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
                    if Self.isHugetlbGetGap(prog, o.violations) || Self.isGetWriteAcrossForkGap(prog, o.violations) { return }
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

    /// The reference is total: it is driven by any backend's statuses (the real kernel's
    /// too, which may run an op the model refuses), so under *any* statuses — each op
    /// run or not at random, hugetlb and races included — it gives an acceptance or none
    /// for each op and never traps. (A 10-minute real fuzz crashed in it on a hugetlb
    /// mremap before it clamped its ranges and skipped pages it does not map.)
    @Test func theReferenceAcceptsAnyStatuses() {
        var gen = RandomPrograms()
        gen.maxPages = 8
        var judged = 0
        withEvery("seed", in: UInt64(0)..<2000) { seed in
            var prog = gen.make(seed: seed, length: 8 + Int(seed % 25))
            if seed % 3 == 0 { prog.thpOrder = 2 }
            var rng = SplitMix64(seed: seed ^ 0x5eed)
            let statuses: [OpStatus] = prog.ops.map { _ in rng.chance(75) ? .executed : .skipped(.pageNotMapped) }
            let acc = Reference.evaluate(prog, statuses: statuses)
            #expect(acc.count == prog.ops.count)
            judged += acc.compactMap { $0 }.count
        }
        #expect(judged > 200, "observations were judged")
    }

    /// The other documented gap (spec B6, corpus/foll-get-rw-fork-odirect.cow): a device
    /// write through a FOLL_GET|FOLL_WRITE reference (`pin … rw get`, O_DIRECT before 6.5)
    /// held across fork can land in the child — by design for FOLL_GET, which fork never
    /// copies eagerly. Excluded exactly: isolation, in a program that forks and writes
    /// through a `get` pin.
    static func isGetWriteAcrossForkGap(_ prog: Program, _ violations: [Violation]) -> Bool {
        guard !violations.isEmpty, violations.allSatisfy({ $0.verdict == .isolation }) else { return false }
        var getPins = Set<Int>()
        var forked = false, wroteThroughGet = false
        for op in prog.ops {
            switch op {
            case let .pin(_, _, _, g, f): if f.contains(.get) { getPins.insert(g) } else { getPins.remove(g) }
            case .fork: forked = true
            case let .writepin(g, _): if getPins.contains(g) && forked { wroteThroughGet = true }
            default: break
            }
        }
        return wroteThroughGet
    }

    /// The gap the current kernel still has on hugetlb (spec B16, cow.c XFAIL): hugetlb reuse
    /// is mapcount-based, so a FOLL_GET reference (vmsplice, a `get` pin) to a private
    /// hugetlb page can see another process's later write. Exactly that is excluded:
    /// isolation seen through a pipe or a FOLL_GET pin, in a program with hugetlb memory.
    static func isHugetlbGetGap(_ prog: Program, _ violations: [Violation]) -> Bool {
        let hasHugetlb = prog.ops.contains { if case .mmap(_, _, _, _, .hugetlb) = $0 { true } else { false } }
        guard hasHugetlb, !violations.isEmpty else { return false }
        return violations.allSatisfy { v in
            guard v.verdict == .isolation else { return false }
            switch prog.ops[v.op] {
            case .readpipe: return true
            case let .readpin(g):
                // The pin read must be of a FOLL_GET pin.
                return prog.ops[..<v.op].last(where: { if case let .pin(_, _, _, gg, _) = $0 { gg == g } else { false } })
                    .map { if case let .pin(_, _, _, _, f) = $0 { f.contains(.get) } else { false } } ?? false
            default: return false
            }
        }
    }
}
