import CowModel
import CowOracle
import Dispatch
import Foundation
import Synchronization

/// The outcome of a bounded exhaustive search.
public struct EnumerationReport: Sendable {
    /// The shortest program found for one policy and verdict.
    public struct Counterexample: Sendable, Hashable {
        public var policy: String
        public var verdict: Verdict
        /// The first program of the shortest length in enumeration order.
        public var program: Program
        public var depth: Int { program.ops.count }
        /// How many programs of that length show the verdict on the policy.
        public var count: Int
        /// Found at a depth that was not enumerated completely (time limit): still
        /// shortest, but maybe not the first of its length in enumeration order.
        public var partialDepth: Bool
    }

    public var universe: EnumerationUniverse
    public var policies: [String]
    public var requestedDepth: Int
    /// Every program of up to this many ops was checked.
    public var completedDepth: Int
    /// Programs checked with exactly `d + 1` ops at index `d` (the last may be partial).
    public var programsPerDepth: [Int]
    /// Seconds since the start when each depth ended (same indices).
    public var secondsAtDepth: [Double]
    /// Programs dropped because an op skipped on some policy (0 unless the state
    /// tracking of `Enumerator` is out of step with the machine).
    public var skippedPrograms: Int
    /// One per policy and verdict that has a counterexample, in policy then verdict order.
    public var found: [Counterexample]
    public var seconds: Double
    public var jobs: Int

    public var programs: Int { programsPerDepth.reduce(0, +) }
    public var stoppedEarly: Bool { completedDepth < requestedDepth }

    public func shortest(_ policy: String, _ verdict: Verdict) -> Counterexample? {
        found.first { $0.policy == policy && $0.verdict == verdict }
    }
}

extension Enumerator {
    /// Checks every canonical program of 1…`depth` ops on `policies`, shortest first
    /// (iterative deepening), with `jobs` workers. The result does not depend on `jobs`:
    /// each depth is cut into tasks at a fixed prefix length and merged in task order.
    /// `timeLimit` (seconds) stops early; `progress` is called after each depth.
    public func search(depth: Int, policies: [PolicyEntry] = PolicyRegistry.all, jobs: Int = 1,
                       timeLimit: Double? = nil,
                       progress: ((_ depth: Int, _ programs: Int, _ seconds: Double) -> Void)? = nil) -> EnumerationReport {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = timeLimit.map { start.advanced(by: .milliseconds(Int64($0 * 1000))) }
        let nv = Verdict.allCases.count
        var best = [Counterexample?](repeating: nil, count: policies.count * nv)
        var perDepth: [Int] = []
        var secondsAtDepth: [Double] = []
        var skipped = 0
        var completed = 0
        let stop = Atomic<Bool>(false)
        let jobs = max(1, jobs)
        for d in 1...max(1, depth) {
            let split = min(d, 3)
            let tasks = prefixes(depth: split)
            let results = Mutex<[TaskResult?]>(Array(repeating: nil, count: tasks.count))
            let next = Atomic<Int>(0)
            let already = best.map { $0 != nil }
            DispatchQueue.concurrentPerform(iterations: min(jobs, max(1, tasks.count))) { _ in
                let checker = ProgramChecker(policies: policies)
                while !stop.load(ordering: .relaxed) {
                    let t = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard t < tasks.count else { break }
                    var r = TaskResult(pairs: policies.count * nv)
                    var prefix = tasks[t].0
                    forEachProgram(depth: d, from: tasks[t].1, prefix: &prefix) { ops in
                        if r.checked & 255 == 255, let deadline, clock.now >= deadline {
                            stop.store(true, ordering: .relaxed)
                        }
                        if stop.load(ordering: .relaxed) { return false }
                        r.checked += 1
                        let program = Program(ops: ops)
                        let outcomes = checker.check(program)
                        if outcomes.contains(where: { $0.result.trace.statuses.contains(where: \.isSkipped) }) {
                            r.skipped += 1
                            return true
                        }
                        for (k, o) in outcomes.enumerated() where !o.verdicts.isEmpty {
                            for v in o.verdicts.verdicts {
                                let pair = k * nv + Int(v.rawValue)
                                guard !already[pair] else { continue }
                                r.counts[pair] += 1
                                if r.first[pair] == nil { r.first[pair] = program }
                            }
                        }
                        return true
                    }
                    results.withLock { $0[t] = r }
                }
            }
            let rs = results.withLock { $0 }
            let partial = stop.load(ordering: .relaxed)
            var checked = 0
            for r in rs.compactMap({ $0 }) {
                checked += r.checked
                skipped += r.skipped
                for pair in r.first.indices where !already[pair] {
                    guard let p = r.first[pair] else { continue }
                    if var b = best[pair] {
                        b.count += r.counts[pair]
                        best[pair] = b
                    } else {
                        best[pair] = Counterexample(policy: policies[pair / nv].name, verdict: Verdict.allCases[pair % nv],
                                                    program: p, count: r.counts[pair], partialDepth: partial)
                    }
                }
            }
            perDepth.append(checked)
            secondsAtDepth.append((clock.now - start).enumerationSeconds)
            progress?(d, checked, secondsAtDepth[d - 1])
            if partial { break }
            completed = d
        }
        return EnumerationReport(universe: universe, policies: policies.map(\.name), requestedDepth: depth,
                                 completedDepth: completed, programsPerDepth: perDepth, secondsAtDepth: secondsAtDepth, skippedPrograms: skipped,
                                 found: best.compactMap { $0 }, seconds: (clock.now - start).enumerationSeconds, jobs: jobs)
    }

    public typealias Counterexample = EnumerationReport.Counterexample
}

/// What one task (all programs of a depth under one prefix) found.
private struct TaskResult: Sendable {
    var checked = 0
    var skipped = 0
    var first: [Program?]
    var counts: [Int]
    init(pairs: Int) {
        first = Array(repeating: nil, count: pairs)
        counts = Array(repeating: 0, count: pairs)
    }
}

private extension Duration {
    var enumerationSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
