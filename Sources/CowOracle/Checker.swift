import CowModel

/// One thing that went wrong in one run of a program on one policy.
public struct Violation: Hashable, Sendable, Codable {
    public var verdict: Verdict
    public var policy: String
    /// The op index (the program's length for the teardown checks).
    public var op: Int
    /// The kind of the observing (or last) op.
    public var opKind: OpKind?
    public var observed: Int?
    public var accepted: [Int]
    public var message: String

    public var description: String {
        let at = opKind.map { "op \($0.name) #\(op)" } ?? "op #\(op)"
        return "\(verdict.name) on \(policy) at \(at): \(message)"
    }
}

/// The outcome of one program on one policy.
public struct PolicyOutcome: Sendable {
    public var policy: String
    public var verdicts: VerdictSet
    public var violations: [Violation]
    public var result: RunResult
}

/// Runs programs on policies and judges them against the reference. Holds one
/// reusable runner per policy, so a worker creates one and checks many programs.
/// A class because its identity is those buffers.
public final class ProgramChecker {
    public let policies: [PolicyEntry]
    let runners: [any PolicyRunner]
    var results: [RunResult]
    public var options: RunOptions

    public init(policies: [PolicyEntry] = PolicyRegistry.all, options: RunOptions = RunOptions()) {
        self.policies = policies
        runners = policies.map { $0.makeRunner() }
        results = Array(repeating: RunResult(), count: policies.count)
        self.options = options
    }

    /// Runs `program` on every policy and judges each run.
    public func check(_ program: Program) -> [PolicyOutcome] {
        let everWritten = Reference.writtenValues(program)
        var cache: [OpStatus] = []
        var cacheLanes: [OpStatus] = []
        var cachedAcceptance: [Acceptance?] = []
        var out: [PolicyOutcome] = []
        out.reserveCapacity(policies.count)
        let shape = ProgramShape(program)
        for k in policies.indices {
            runners[k].run(program, shape: shape, options: options, into: &results[k])
            let r = results[k]
            if cachedAcceptance.isEmpty || r.trace.statuses != cache || r.trace.laneStatuses != cacheLanes {
                cache = r.trace.statuses
                cacheLanes = r.trace.laneStatuses
                cachedAcceptance = Reference.evaluate(program, statuses: cache, laneStatuses: cacheLanes)
            }
            var violations = Checker.judgeObservations(program, trace: r.trace, acceptance: cachedAcceptance,
                                                       policy: policies[k].name, everWritten: everWritten)
            Checker.judgeMachine(program, result: r, policy: policies[k].name, into: &violations)
            var set = VerdictSet.clean
            for v in violations { set.insert(v.verdict) }
            out.append(PolicyOutcome(policy: policies[k].name, verdicts: set, violations: violations, result: r))
        }
        return out
    }
}

public enum Checker {
    /// Runs a program on the given policies (all by default) and judges each run.
    public static func check(_ program: Program, policies: [PolicyEntry] = PolicyRegistry.all,
                             options: RunOptions = RunOptions()) -> [PolicyOutcome] {
        ProgramChecker(policies: policies, options: options).check(program)
    }

    /// Judges an externally produced trace (the real kernel) against the reference.
    public static func judge(_ program: Program, trace: Trace, policy: String = "real") -> [Violation] {
        let acceptance = Reference.evaluate(program, statuses: trace.statuses, laneStatuses: trace.laneStatuses)
        return judgeObservations(program, trace: trace, acceptance: acceptance, policy: policy,
                                 everWritten: Reference.writtenValues(program))
    }

    /// The values the reference accepts for every observing op, given the statuses of a run.
    /// `laneStatuses` (the trace's) make races exact; without them races are judged leniently.
    public static func acceptance(_ program: Program, statuses: [OpStatus], laneStatuses: [OpStatus] = []) -> [Acceptance?] {
        Reference.evaluate(program, statuses: statuses, laneStatuses: laneStatuses)
    }

    static func judgeObservations(_ program: Program, trace: Trace, acceptance: [Acceptance?], policy: String,
                                  everWritten: ValueSet) -> [Violation] {
        var out: [Violation] = []
        for i in 0..<min(trace.observed.count, acceptance.count) {
            let o = trace.observed[i]
            guard o >= 0, let a = acceptance[i] else { continue }
            let v = UInt8(truncatingIfNeeded: o)
            if o > 255 || !a.accepted.contains(v) {
                let verdict = o > 255 ? .integrity : Reference.classify(v, a, everWritten: everWritten)
                let kind = program.ops[i].kind
                let what: String
                switch verdict {
                case .coherence: what = "a stale value of the owner's own history"
                case .isolation: what = "a value written by another process through a private path"
                default: what = "a value nobody wrote"
                }
                out.append(Violation(verdict: verdict, policy: policy, op: i, opKind: kind, observed: Int(o),
                                     accepted: a.accepted.values,
                                     message: "\(kind.name) observed \(o), \(what); the reference accepts \(a.accepted.values.map(String.init).joined(separator: " or "))"))
            }
        }
        return out
    }

    static func judgeMachine(_ program: Program, result: RunResult, policy: String, into out: inout [Violation]) {
        for inv in result.invariants {
            let kind = inv.op < program.ops.count ? program.ops[inv.op].kind : nil
            out.append(Violation(verdict: .integrity, policy: policy, op: inv.op, opKind: kind, observed: nil,
                                 accepted: [], message: "\(inv.id): \(inv.message)"))
        }
        if result.leaked > 0 {
            out.append(Violation(verdict: .leak, policy: policy, op: program.ops.count, opKind: nil, observed: nil,
                                 accepted: [],
                                 message: "\(result.leaked) frame(s) still held after every process exited and every pin and pipe was released"))
        }
    }
}
