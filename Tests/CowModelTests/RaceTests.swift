import CowModel
import Foundation
import Testing
import TestSupport

/// Races in the machine: the steps of each kernel path, the schedule, the locks, and
/// that a race whose schedule runs the lanes one after the other is the sequential ops.
@Suite struct RaceTests {
    static let dirtyCow = """
        mmap p0 r0 pages=1 file
        mprotect p0 r0 ro
        race p0: pokemem r0[0] 7 | p0: madvise r0 dontneed schedule=0,1
        mmap p0 r1 pages=1 file
        read p0 r1[0]
        """

    func observed(_ text: String, _ policy: String) -> [Int16] {
        PolicyRegistry.named(policy)!.run(program(text), options: RunOptions(paranoid: true)).trace.observed
    }

    @Test func dirtyCowWritesTheFileOnlyBeforeTheFix() {
        for entry in PolicyRegistry.all {
            let seen = observed(Self.dirtyCow, entry.name).last!
            #expect(seen == (entry.name == "linux-4.8" ? 7 : 0), "\(entry.name) saw \(seen) in the file")
        }
    }

    @Test func dirtyCowNeedsTheZapBetweenFaultAndRetry() {
        // The zap before the pokemem, or after it, leaves the file alone in every era.
        for schedule in ["", "1", "0,0,1", "0,0,0,1"] {
            let text = Self.dirtyCow.replacingOccurrences(of: "schedule=0,1", with: "schedule=\(schedule)")
            #expect(observed(text, "linux-4.8").last! == 0, "schedule=\(schedule)")
        }
    }

    @Test func dirtyCowOnAnonymousMemoryWritesTheZeroPage() {
        let text = """
            mmap p0 r0 pages=1
            mprotect p0 r0 ro
            race p0: pokemem r0[0] 9 | p0: madvise r0 dontneed schedule=0,1
            mmap p0 r1 pages=1
            read p0 r1[0]
            """
        #expect(observed(text, "linux-4.8").last! == 9)
        #expect(observed(text, "linux-5.7").last! == 0)
        #expect(observed(text, "linux-6.x").last! == 0)
    }

    @Test func munmapWaitsForTheGUPLoop() {
        // munmap needs mmap_lock for write; pokemem holds it for read until it is done.
        let text = """
            mmap p0 r0 pages=1 file
            mprotect p0 r0 ro
            race p0: pokemem r0[0] 7 | p0: munmap r0 schedule=0,1,0
            mmap p0 r1 pages=1 file
            read p0 r1[0]
            """
        let p = program(text)
        let steps = PolicyRegistry.named("linux-4.8")!.explain(p)
        #expect(steps[2].substeps.map(\.blocked) == [false, true, false, false])
        #expect(observed(text, "linux-4.8").last! == 0)
    }

    @Test func gupFastForkRaceDisconnectsThePinBefore5_11() {
        let text = """
            mmap p0 r0 pages=1
            write p0 r0[0] 1
            race p0: pin r0[0] -> g0 rw fast | p0: fork -> p1 schedule=1,0,0,1
            write p0 r0[0] 2
            readpin g0
            """
        for entry in PolicyRegistry.all {
            let seen = observed(text, entry.name).last!
            let buggy = ["linux-4.8", "linux-5.7", "linux-5.8", "linux-5.9"].contains(entry.name)
            #expect(seen == (buggy ? 1 : 2), "\(entry.name): the pin saw \(seen)")
        }
        // On 5.9 it is the race: one after the other, fork copies the pinned page.
        for schedule in ["", "1,1", "0,0,0,1,1"] {
            let serial = text.replacingOccurrences(of: "schedule=1,0,0,1", with: "schedule=\(schedule)")
            #expect(observed(serial, "linux-5.9").last! == 2, "schedule=\(schedule)")
        }
    }

    @Test func writeProtectSeqSendsGUPFastToTheSlowPath() {
        let p = program("""
            mmap p0 r0 pages=1
            write p0 r0[0] 1
            race p0: pin r0[0] -> g0 rw fast | p0: fork -> p1 schedule=1,0,0,1
            """)
        let fixed = PolicyRegistry.named("linux-5.18")!.explain(p)[2].substeps.map(\.text)
        #expect(fixed.contains { $0.contains("write_protect_seq is odd") })
        #expect(fixed.contains { $0.contains("blocked") })
        #expect(fixed.last!.contains("slow GUP"))
        let old = PolicyRegistry.named("linux-5.9")!.explain(p)[2].substeps.map(\.text)
        #expect(old.contains { $0.contains("grab f1") })
    }

    @Test func observingLanesAreNotAllowed() {
        let p = program("mmap p0 r0 pages=1\nrace p0: read r0[0] | p0: write r0[0] 1 schedule=0,1\nread p0 r0[0]")
        let r = PolicyRegistry.current.run(p)
        #expect(r.trace.statuses[1] == .skipped(.notApplicable))
        #expect(r.trace.laneStatuses == [.skipped(.notApplicable), .skipped(.notApplicable)])
        #expect(r.trace.observed[2] == 0)
    }

    @Test func emptyScheduleRoundTrips() throws {
        let p = program("mmap p0 r0 pages=1\nrace p0: write r0[0] 1 | p0: madvise r0 dontneed schedule=")
        #expect(p.ops[1] == .race(lanes: [.write(p: 0, r: 0, page: 0, value: 1), .madvise(p: 0, r: 0, advice: .dontneed, range: nil)], schedule: []))
        #expect(try Program(parsing: p.text, file: "<t>") == p)
    }

    /// Every race reproducer replays identically from its text.
    @Test(arguments: CorpusFiles.races)
    func raceReproducersReplayFromText(_ name: String) throws {
        let p = try Program(parsing: String(contentsOfFile: name, encoding: .utf8), file: name)
        let again = try Program(parsing: p.text, file: name)
        #expect(again == p)
        for entry in PolicyRegistry.all {
            let a = entry.run(p, options: RunOptions(paranoid: true)), b = entry.run(again, options: RunOptions(paranoid: true))
            #expect(a.trace == b.trace, "\(entry.name)")
            #expect(a.invariants.isEmpty, "\(entry.name): \(a.invariants)")
        }
    }

    /// A race whose schedule is empty runs its lanes one after the other: it must do
    /// exactly what the same ops do sequentially (every step path, every era).
    @Test func serialRacesAreTheSequentialOps() {
        var gen = RandomPrograms()
        gen.maxPages = 3
        gen.kinds = OpKind.allCases.filter { $0 != .race && !$0.observes }
        withEvery("seed", in: 0..<400 as Range<UInt64>) { seed in
            let base = gen.make(seed: seed, length: 8 + Int(seed % 17))
            var rng = TestRng(seed: seed &* 7 &+ 1)
            let ops = base.ops
            let obs = Self.observers(base)
            // Wrap adjacent ops into serial races.
            var raced: [Op] = []
            var k = 0
            while k < ops.count {
                if k + 1 < ops.count, rng.chance(40) {
                    raced.append(.race(lanes: [ops[k], ops[k + 1]], schedule: []))
                    k += 2
                } else {
                    raced.append(ops[k])
                    k += 1
                }
            }
            let seqProg = Program(ops: ops + obs, thpOrder: base.thpOrder)
            let raceProg = Program(ops: raced + obs, thpOrder: base.thpOrder)
            for entry in PolicyRegistry.all {
                let a = entry.run(seqProg), b = entry.run(raceProg)
                // The final state, as every observer sees it, and the machine's soundness.
                #expect(Array(a.trace.observed.suffix(obs.count)) == Array(b.trace.observed.suffix(obs.count)),
                        "seed \(seed) \(entry.name)\n\(raceProg.text)")
                #expect(a.leaked == b.leaked && a.invariants.isEmpty == b.invariants.isEmpty,
                        "seed \(seed) \(entry.name): \(b.invariants)\n\(raceProg.text)")
            }
        }
    }

    /// Reads of every page the program may have mapped, to compare final states.
    static func observers(_ p: Program) -> [Op] {
        var out: [Op] = []
        for proc in 0..<3 { for r in 0..<2 { for i in 0..<3 { out.append(.read(p: proc, r: r, page: i)) } } }
        for g in 0..<2 { out.append(.readpin(g: g)) }
        for q in 0..<2 { out.append(.readpipe(pipe: q)) }
        return out
    }
}

/// The race reproducers of the corpus.
enum CorpusFiles {
    static var races: [String] {
        corpusFiles().map(\.path).filter { ($0 as NSString).lastPathComponent.hasPrefix("race-") }
    }
}
