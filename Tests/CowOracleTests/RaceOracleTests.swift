import CowModel
@testable import CowOracle
import Testing
import TestSupport

/// The reference meaning of a race (any serialization of its lanes) and the verdicts
/// the eras get on the race bugs of the spec.
@Suite struct RaceOracleTests {
    func acceptance(_ text: String, lanes: [OpStatus]? = nil) -> [Acceptance?] {
        let p = program(text)
        let n = p.ops.reduce(0) { if case let .race(l, _) = $1 { $0 + l.count } else { $0 } }
        return Reference.evaluate(p, statuses: Array(repeating: .executed, count: p.ops.count),
                                  laneStatuses: lanes ?? Array(repeating: .executed, count: n))
    }

    func verdicts(_ text: String) -> [String: VerdictSet] {
        var out: [String: VerdictSet] = [:]
        for o in Checker.check(program(text), options: RunOptions(paranoid: true)) { out[o.policy] = o.verdicts }
        return out
    }

    /// Race replay is linear in the number of races: every race copies and compares its
    /// worlds, so their size must not grow with the cells the program made and let die
    /// before (issue 15 item 9: N races of five lanes each were O(N²)).
    @Test func worldsDoNotGrowWithTheRacesBefore() {
        func peakCells(_ n: Int) -> Int {
            var text = "mmap p0 r1 pages=2\nfork p0 -> p1\n"
            for _ in 0..<n {
                text += """
                    mmap p0 r0 pages=2
                    write p0 r0[0] 1
                    fork p0 -> p2
                    race p0: write r0[0] 1 | p2: write r0[1] 2 | p0: write r1[0] 3 | p1: write r1[1] 4 | p0: pokemem r1[0] 5 schedule=0,1,2,3,4
                    read p0 r0[0]
                    exit p2
                    munmap p0 r0

                    """
            }
            let p = program(text)
            var ref = Reference()
            ref.reset(p)
            var peak = 0
            for (i, op) in p.ops.enumerated() {
                ref.setStore(op: i, lane: -1)
                _ = ref.step(op, lanes: nil)
                peak = max(peak, ([ref] + ref.alternatives).map(\.cells.count).max()!)
            }
            #expect(ref.alternatives.count > 0, "the races leave several worlds")
            return peak
        }
        #expect(peakCells(40) == peakCells(10))
    }

    @Test func aRaceAcceptsEverySerialization() {
        let a = acceptance("""
            mmap p0 r0 pages=1
            write p0 r0[0] 1
            race p0: write r0[0] 2 | p0: madvise r0 dontneed schedule=0,1
            read p0 r0[0]
            """)
        #expect(a[3]!.accepted.values == [0, 2])
    }

    @Test func onlyLanesThatRanAreApplied() {
        let text = """
            mmap p0 r0 pages=1
            race p0: write r0[0] 2 | p0: madvise r0 dontneed schedule=0,1
            read p0 r0[0]
            """
        #expect(acceptance(text, lanes: [.skipped(.notWritable), .executed])[2]!.accepted.values == [0])
        // Without lane statuses each lane may or may not have run.
        let p = program(text)
        let lenient = Reference.evaluate(p, statuses: Array(repeating: .executed, count: 3))
        #expect(StoreTable(p).values(of: lenient[2]!.accepted).values == [0, 2])
    }

    @Test func namesThatASerialOrderLacksDoNothingThere() {
        // write-then-fork: the child sees 5; fork-then-write: p1 does not exist yet.
        let text = """
            mmap p0 r0 pages=1
            race p1: write r0[0] 5 | p0: fork -> p1 schedule=1,0
            read p1 r0[0]
            """
        let a = acceptance(text)
        #expect(StoreTable(program(text)).values(of: a[2]!.accepted).values == [0, 5])
    }

    @Test func threeLanesGiveSixOrders() {
        let a = acceptance("""
            mmap p0 r0 pages=1
            race p0: write r0[0] 1 | p0: write r0[0] 2 | p0: write r0[0] 3 schedule=0,1,2
            read p0 r0[0]
            """)
        #expect(a[2]!.accepted.values == [1, 2, 3])
    }

    @Test func dirtyCowIsAnIsolationFindingOnLinux4_8Only() {
        let v = verdicts("""
            mmap p0 r0 pages=1 file
            mprotect p0 r0 ro
            fork p0 -> p1
            race p0: pokemem r0[0] 7 | p0: madvise r0 dontneed schedule=0,1
            read p1 r0[0]
            """)
        for p in PolicyRegistry.all {
            #expect(v[p.name] == (p.name == "linux-4.8" ? VerdictSet(.isolation) : .clean), "\(p.name): \(v[p.name]!.text)")
        }
    }

    @Test func gupFastForkIsFoundBefore5_11AndNotAfter() {
        let v = verdicts("""
            mmap p0 r0 pages=1
            write p0 r0[0] 1
            race p0: pin r0[0] -> g0 rw fast | p0: fork -> p1 schedule=1,0,0,1
            write p0 r0[0] 2
            readpin g0
            """)
        for p in PolicyRegistry.all {
            let before = ["linux-4.8", "linux-5.7", "linux-5.8", "linux-5.9"].contains(p.name)
            #expect(v[p.name] == (before ? VerdictSet(.coherence) : .clean), "\(p.name): \(v[p.name]!.text)")
        }
    }

    /// The random-program property with races: every era stays sound (no integrity, no
    /// leak) and the current kernel is clean, whatever the schedules.
    @Test func randomProgramsWithRacesKeepTheCurrentKernelClean() {
        var gen = RandomPrograms()
        gen.maxPages = 3
        let checker = ProgramChecker(policies: PolicyRegistry.all, options: RunOptions(paranoid: true))
        var races = 0, raced = 0
        withEvery("seed", in: 0..<1500 as Range<UInt64>) { seed in
            let prog = Self.racify(gen.make(seed: seed, length: 8 + Int(seed % 23)), seed: seed)
            for op in prog.ops { if case .race = op { races += 1 } }
            for o in checker.check(prog) {
                if o.policy == PolicyRegistry.current.name {
                    raced += o.result.trace.laneStatuses.filter(\.executed).count
                }
                let sound = !o.verdicts.contains(.integrity) && !o.verdicts.contains(.leak)
                #expect(sound, "seed \(seed) on \(o.policy): \(o.violations.map(\.description))\n\(prog.text)")
                if o.policy == PolicyRegistry.current.name, !RandomProgramPropertyTests.isHugetlbGetGap(prog, o.violations) {
                    #expect(o.verdicts == .clean, "seed \(seed) on linux-6.x: \(o.violations.map(\.description))\n\(prog.text)")
                }
            }
        }
        #expect(races > 1000)
        #expect(raced > races / 2)
    }

    /// Turns runs of adjacent non-observing ops into races of 2 or 3 lanes with random
    /// schedules, favouring the ops with interleaving points.
    static func racify(_ p: Program, seed: UInt64) -> Program {
        var rng = TestRng(seed: seed ^ 0x5EED)
        var out: [Op] = []
        var k = 0
        let ops = p.ops.map { op -> Op in
            // Half the pins are GUP-fast.
            if case let .pin(pp, r, i, g, f) = op, rng.chance(50) { return .pin(p: pp, r: r, page: i, g: g, flags: f.union(.fast)) }
            return op
        }
        while k < ops.count {
            let n = rng.chance(25) ? 3 : 2
            if k + n <= ops.count, rng.chance(45), ops[k..<(k + n)].allSatisfy({ !$0.kind.observes }) {
                let lanes = Array(ops[k..<(k + n)])
                let len = rng.below(9)
                out.append(.race(lanes: lanes, schedule: (0..<len).map { _ in UInt8(rng.below(n)) }))
                k += n
            } else {
                out.append(ops[k])
                k += 1
            }
        }
        return Program(ops: out, thpOrder: p.thpOrder)
    }
}
