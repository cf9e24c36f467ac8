import CowModel
import CowOracle

/// What the fuzzer keeps of one program's run on every selected policy: its signature
/// keys and, per policy, the coverage reached and the counters.
public struct ExecutionSummary: Sendable {
    public var keys = SignatureKeys()
    public var coverage: [Coverage]
    public var counters: [Counters]
    public var opsExecuted = 0

    public init(policies: Int) {
        coverage = Array(repeating: Coverage(), count: policies)
        counters = Array(repeating: Counters(), count: policies)
    }
}

/// Runs programs on every selected policy and judges them, building no strings:
/// the verdict-only fast path of `ProgramChecker.check`, with the same rules
/// (an observation is judged by `Checker.verdict` on the store it showed and filed
/// under the culprit stamped on its page; a broken invariant is
/// `integrity` at its op; frames held after teardown are a `leak`). The tests check
/// that both paths give the same signatures.
///
/// A class because its identity is the per-policy machines and buffers it reuses:
/// one per worker thread. `@unchecked Sendable` so a worker can be handed to a thread;
/// it is never used by two threads at once.
public final class DifferentialExecutor: @unchecked Sendable {
    public let policies: [PolicyEntry]
    public let policyNames: [String]
    /// Indices of the `--diff A,B` pair in `policies`.
    public let diff: (Int, Int)?
    let runners: [any PolicyRunner]
    var results: [RunResult]
    var acceptance: [Acceptance?] = []
    var acceptanceStatuses: [OpStatus] = []
    var acceptanceLanes: [OpStatus] = []
    let options: RunOptions

    public init(policies: [PolicyEntry], diff: (Int, Int)? = nil, options: RunOptions = RunOptions()) {
        precondition(policies.count <= 32, "at most 32 policies in one run")
        self.policies = policies
        policyNames = policies.map(\.name)
        self.diff = diff
        runners = policies.map { $0.makeRunner() }
        results = Array(repeating: RunResult(), count: policies.count)
        self.options = options
    }

    /// Runs `program` on every policy into `summary` (reusing its buffers).
    public func run(_ program: Program, into summary: inout ExecutionSummary) {
        summary.keys.removeAll()
        summary.opsExecuted = 0
        var table: StoreTable?
        var haveAcceptance = false
        let shape = ProgramShape(program)
        for k in 0..<runners.count {
            runners[k].run(program, shape: shape, options: options, into: &results[k])
            summary.coverage[k] = results[k].coverage
            summary.counters[k] = results[k].counters
            summary.opsExecuted &+= results[k].counters.opsExecuted
            let trace = results[k].trace
            var observes = false
            for i in 0..<trace.observed.count where trace.observed[i] >= 0 { observes = true; break }
            if observes {
                if !haveAcceptance || trace.statuses != acceptanceStatuses || trace.laneStatuses != acceptanceLanes {
                    acceptanceStatuses = trace.statuses
                    acceptanceLanes = trace.laneStatuses
                    acceptance = Checker.acceptance(program, statuses: acceptanceStatuses, laneStatuses: acceptanceLanes)
                    haveAcceptance = true
                }
                for i in 0..<min(trace.observed.count, acceptance.count) {
                    guard trace.observed[i] >= 0, let a = acceptance[i] else { continue }
                    // The common case, a store the reference accepts, needs no table.
                    let id = trace.stores[i]
                    if id == StoreID.zero && a.accepted.contains(0) { continue }
                    if table == nil { table = StoreTable(program) }
                    guard let verdict = Checker.verdict(observation: i, trace: trace, acceptance: a, table: table!) else { continue }
                    summary.keys.add(SignatureKey(kind: FindingKind(verdict), culprit: trace.culprits[i].culprit(coherence: verdict == .coherence), opKind: nil), policy: k)
                }
            }
            for inv in results[k].invariants {
                let kind = inv.op < program.ops.count ? program.ops[inv.op].kind : nil
                summary.keys.add(SignatureKey(kind: .integrity, culprit: .none, opKind: kind), policy: k)
            }
            if results[k].leaked > 0 {
                summary.keys.add(SignatureKey(kind: .leak, culprit: results[k].leakCulprit, opKind: nil), policy: k)
            }
        }
        if let (a, b) = diff, let op = Signature.firstDifference(program, results[a].trace, results[b].trace) {
            let key = SignatureKey(kind: .divergence, culprit: .none, opKind: program.ops[op].kind)
            summary.keys.add(key, policy: a)
            summary.keys.add(key, policy: b)
        }
    }

    /// The signatures of `program` (allocates; for the shrinker and reports).
    public func signatures(_ program: Program) -> [Signature] {
        var s = ExecutionSummary(policies: policies.count)
        run(program, into: &s)
        return s.keys.signatures(policyNames: policyNames)
    }

    /// The verdict set of each policy for `program`, in policy order (for `@expect`).
    public func verdicts(_ program: Program) -> [VerdictSet] {
        ProgramChecker(policies: policies, options: options).check(program).map(\.verdicts)
    }
}
