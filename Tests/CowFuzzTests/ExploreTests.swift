import CowFuzz
import CowModel
import CowOracle
import Foundation
import Testing
import TestSupport

/// State-space exploration: shortest counterexamples that replay, proofs on a clean
/// policy, the same result for any number of jobs, and a sound canonical encoding.
@Suite struct ExploreTests {
    static let linux5_7 = PolicyRegistry.named("linux-5.7")!
    static let linux6_x = PolicyRegistry.named("linux-6.x")!

    /// The alphabet of the CVE-2020-29374 class: 2 processes, 1 one-page region, 1 pipe,
    /// 1 value (stores are told apart by provenance, so one value is enough).
    static var vmsplice: ExploreOptions {
        var o = ExploreOptions()
        o.universe.processes = 2
        o.universe.pins = 0
        o.universe.kinds = [.mmap, .munmap, .write, .fork, .vmsplice, .readpipe]
        o.values = 1
        o.jobs = 2
        return o
    }

    @Test func shortestCVE2020_29374CounterexampleMatchesEnumerateAndReplays() throws {
        var o = Self.vmsplice
        o.maxDepth = 7
        let report = Explorer(o).explore(Self.linux5_7)
        let c = try #require(report.shortest(.isolation))
        // enumerate finds its shortest at 7 ops in the same alphabet (EnumerateTests).
        var u = EnumerationUniverse()
        u.processes = 2
        u.kinds = o.universe.kinds
        let enumerated = Enumerator(u).search(depth: 7, policies: [Self.linux5_7], jobs: 2)
        #expect(c.depth == enumerated.shortest("linux-5.7", .isolation)?.depth)
        #expect(c.depth == 7)
        #expect(c.program.ops.last == .readpipe(pipe: 0))
        // The rebuilt program is canonical and replays to the same verdict.
        #expect(Enumerator.canonicalised(c.program) == c.program)
        let replay = Checker.check(c.program, policies: [Self.linux5_7])[0]
        #expect(replay.verdicts.contains(.isolation))
        #expect(!replay.result.trace.statuses.contains { if case .skipped = $0 { true } else { false } })
    }

    @Test func provesLinux6_xCleanOnTheVmspliceUniverse() {
        var o = Self.vmsplice
        o.visited = .exact
        let report = Explorer(o).explore(Self.linux6_x)
        #expect(report.complete)
        #expect(report.found.isEmpty)
        #expect(report.proved)
        #expect(report.states == report.statesPerDepth.reduce(0, +))
        #expect(report.diameter > 7)
        // The same universe is not clean on linux-5.7: the proof is not vacuous.
        o.maxDepth = 7
        #expect(Explorer(o).explore(Self.linux5_7).shortest(.isolation)?.depth == 7)
    }

    @Test func sameResultForAnyNumberOfJobs() {
        var o = Self.vmsplice
        o.universe.pins = 1
        o.universe.kinds += [.pin, .unpin, .readpin, .read]
        o.maxDepth = 6
        var reports: [ExploreReport] = []
        for jobs in [1, 2, 3] {
            o.jobs = jobs
            reports.append(Explorer(o).explore(Self.linux5_7))
        }
        for r in reports.dropFirst() {
            #expect(r.states == reports[0].states)
            #expect(r.transitions == reports[0].transitions)
            #expect(r.statesPerDepth == reports[0].statesPerDepth)
            #expect(r.found.map(\.program) == reports[0].found.map(\.program))
        }
    }

    @Test func symmetryReductionKeepsTheCounterexample() throws {
        var o = Self.vmsplice
        o.maxDepth = 7
        o.symmetry = false
        let plain = Explorer(o).explore(Self.linux5_7)
        o.symmetry = true
        let reduced = Explorer(o).explore(Self.linux5_7)
        let a = try #require(plain.shortest(.isolation))
        let b = try #require(reduced.shortest(.isolation))
        #expect(a.depth == b.depth)
        #expect(reduced.states < plain.states)
        #expect(Checker.check(b.program, policies: [Self.linux5_7])[0].verdicts.contains(.isolation))
    }

    /// Parent and child swapped (who wrote the new value) is the same state up to renaming.
    @Test func statesThatDifferByRenamingEncodeAlike() throws {
        let e = Explorer(Self.vmsplice)
        let childWrites = program("""
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        fork p0 -> p1
        write p1 r0[0] 2
        """)
        let parentWrites = program("""
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        fork p0 -> p1
        write p0 r0[0] 2
        """)
        for policy in [Self.linux5_7, Self.linux6_x] {
            let a = try #require(e.canonicalEncoding(of: childWrites, on: policy))
            let b = try #require(e.canonicalEncoding(of: parentWrites, on: policy))
            #expect(a == b, "\(policy.name)")
        }
        // Without symmetry the two are different states (the processes differ).
        var o = Self.vmsplice
        o.symmetry = false
        let plain = Explorer(o)
        #expect(plain.canonicalEncoding(of: childWrites, on: Self.linux6_x) != plain.canonicalEncoding(of: parentWrites, on: Self.linux6_x))
    }

    /// Two states alike in shape (p0 unmapped, p1 holds value 1, one buffer in the pipe)
    /// that differ in whether the pipe buffer is p1's page: readpipe tells them apart on
    /// linux-5.7, so they must not encode alike.
    @Test func observablyDifferentStatesNeverEncodeAlike() throws {
        let e = Explorer(Self.vmsplice)
        let prefix = """
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        fork p0 -> p1
        vmsplice p0 r0[0] -> pipe0
        """
        let aliased = program(prefix + "\nmunmap p0 r0\nwrite p1 r0[0] 1")
        let copied = program(prefix + "\nwrite p1 r0[0] 1\nmunmap p0 r0")
        let a = try #require(e.canonicalEncoding(of: aliased, on: Self.linux5_7))
        let b = try #require(e.canonicalEncoding(of: copied, on: Self.linux5_7))
        #expect(a != b)
        let read = Op.readpipe(pipe: 0)
        let va = Checker.check(Program(ops: aliased.ops + [read]), policies: [Self.linux5_7])[0].verdicts
        let vb = Checker.check(Program(ops: copied.ops + [read]), policies: [Self.linux5_7])[0].verdicts
        #expect(va == VerdictSet(.isolation))
        #expect(vb == .clean)
    }

    @Test func bitStateIsNeverAProof() {
        var o = Self.vmsplice
        o.visited = .bitstate(bits: 20)
        o.maxDepth = 5
        let report = Explorer(o).explore(Self.linux6_x)
        #expect(!report.proved)
        o.maxDepth = nil
        o.visited = .bitstate(bits: 22)
        let full = Explorer(o).explore(Self.linux6_x)
        #expect(full.complete && full.found.isEmpty && !full.proved)
    }

    @Test func maxStatesStopsCleanlyWithTheDepthReached() {
        var o = Self.vmsplice
        o.maxStates = 50
        let report = Explorer(o).explore(Self.linux6_x)
        #expect(!report.complete)
        #expect(report.stopReason == "max states 50")
        #expect(report.states >= 50)
        #expect(report.checkedDepth == report.statesPerDepth.count - 1)
    }
}

/// The explorer judges a path as `replay` judges the program, and finds the same
/// shortest counterexamples as `enumerate` in the default universe.
@Suite struct ExploreAgreesWithEnumerateTests {
    static let policies = [PolicyRegistry.named("linux-5.7")!, PolicyRegistry.named("linux-5.9")!, PolicyRegistry.current]

    /// Every program `enumerate` builds up to depth 4, and every one it flags at depth 5
    /// (default universe): the explorer's verdicts along its path are `Checker`'s.
    @Test func everyEnumeratedProgramGetsTheCheckersVerdicts() throws {
        let e = Enumerator(EnumerationUniverse())
        var flagged = 0
        let checker = ProgramChecker(policies: Self.policies)
        for depth in 1...5 {
            for p in e.programs(depth: depth) {
                let outcomes = checker.check(p)
                for (k, policy) in Self.policies.enumerated() where depth < 5 || !outcomes[k].verdicts.isEmpty {
                    let mine = try #require(Explorer(ExploreOptions()).verdicts(of: p, on: policy))
                    #expect(mine == outcomes[k].verdicts, "\(policy.name):\n\(p.text)")
                    if !mine.isEmpty { flagged += 1 }
                }
            }
        }
        #expect(flagged > 0)
    }

    /// enumerate's shortest counterexamples at depth ≤ 5 (default universe with 2
    /// processes: 1 pin, 1 pipe) have the length of the explorer's.
    @Test func shortestLengthsMatchEnumerateUpToDepth5() {
        let policy = PolicyRegistry.named("linux-5.7")!
        var u = EnumerationUniverse()
        u.processes = 2
        let enumerated = Enumerator(u).search(depth: 5, policies: [policy], jobs: 2)
        var o = ExploreOptions()
        o.universe = u
        o.values = 2
        o.maxDepth = 5
        o.jobs = 2
        let explored = Explorer(o).explore(policy)
        #expect(!enumerated.found.isEmpty)
        for v in Verdict.allCases {
            #expect(explored.shortest(v)?.depth == enumerated.shortest(policy.name, v)?.depth, "\(v.name)")
        }
    }
}
