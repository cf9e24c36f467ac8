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
    /// The decision that made the observed page reachable by the wrong party (from the
    /// machine's trace), or `Culprit.none` with the observed page and reference kind.
    public var culprit: Culprit = .none

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
        let table = StoreTable(program)
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
                                                       policy: policies[k].name, table: table)
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
                                 table: StoreTable(program))
    }

    /// The values the reference accepts for every observing op, given the statuses of a run.
    /// `laneStatuses` (the trace's) make races exact; without them races are judged leniently.
    public static func acceptance(_ program: Program, statuses: [OpStatus], laneStatuses: [OpStatus] = []) -> [Acceptance?] {
        Reference.evaluate(program, statuses: statuses, laneStatuses: laneStatuses)
    }

    /// The verdict of one observation (nil: accepted), judged by the store it showed:
    /// the trace's store id where the backend knows it, else (values only, or a KSM page
    /// that stands for every store of its content) the stores that wrote its value.
    @inline(__always)
    public static func verdict(observation i: Int, trace: Trace, acceptance a: Acceptance, table: StoreTable) -> Verdict? {
        let o = trace.observed[i]
        if o > 255 { return .integrity }
        let id = i < trace.stores.count ? trace.stores[i] : StoreID.none
        if id >= 0 {
            guard let ord = table.ordinal(of: id) else { return .integrity }
            if a.accepted.contains(ord) { return nil }
            // A store of another value than the page holds: the machine lost track.
            if table.value(of: ord) != UInt8(o) && ord != 255 { return .integrity }
            return Reference.classify(ord, a)
        }
        return Reference.judge(candidates: table.ordinals(withValue: UInt8(o)), a)
    }

    /// Who made the store an isolation finding observed, and where: "p0's own store of
    /// op #2 (pokemem p0 r0[0] 7), into another page, …" — the observer may be the writer
    /// itself (Dirty COW writes the page cache or the zero page through one's own
    /// mapping). Nil when the store is unknown (the value path: KSM, the real kernel).
    static func storeText(_ program: Program, _ id: Int32, observer: Int?) -> String? {
        guard let j = StoreID.op(of: id), j < program.ops.count else { return nil }
        var op = program.ops[j]
        if let l = StoreID.lane(of: id), case let .race(lanes, _) = op, l < lanes.count { op = lanes[l] }
        let who: String
        if case let .writepin(g, _) = op {
            who = "a device write through g\(g)"
        } else if let p = op.process {
            who = p == observer ? "p\(p)'s own store" : "p\(p)'s store"
        } else {
            who = "the store"
        }
        let into = op.process != nil && op.process == observer ? ", made into another page," : ""
        return "\(who) of op #\(j) (\(op.text))\(into) that reached it through a private path"
    }

    /// The reference kind of an observing op (for a finding no decision explains).
    static func observer(_ op: Op) -> RefKind {
        switch op {
        case .readpipe: .pipe
        case .readpin: .pin
        default: .cpu
        }
    }

    static func judgeObservations(_ program: Program, trace: Trace, acceptance: [Acceptance?], policy: String,
                                  table: StoreTable) -> [Violation] {
        var out: [Violation] = []
        for i in 0..<min(trace.observed.count, acceptance.count) {
            let o = trace.observed[i]
            guard o >= 0, let a = acceptance[i] else { continue }
            if let verdict = verdict(observation: i, trace: trace, acceptance: a, table: table) {
                let kind = program.ops[i].kind
                let what: String
                switch verdict {
                case .coherence: what = "a stale store of the owner's own history"
                case .isolation:
                    what = storeText(program, i < trace.stores.count ? trace.stores[i] : StoreID.none, observer: program.ops[i].process)
                        ?? "a store by another process (or into another page) that reached it through a private path"
                default: what = "a value no store of the program wrote there"
                }
                let values = table.values(of: a.accepted).values
                var culprit = i < trace.culprits.count ? trace.culprits[i].culprit(coherence: verdict == .coherence) : .none
                if culprit.isNone && i >= trace.culprits.count { culprit.ref = observer(program.ops[i]) }
                out.append(Violation(verdict: verdict, policy: policy, op: i, opKind: kind, observed: Int(o),
                                     accepted: values,
                                     message: "\(kind.name) observed \(o), \(what); the reference accepts \(values.map(String.init).joined(separator: " or "))",
                                     culprit: culprit))
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
                                 message: "\(result.leaked) frame(s) still held after every process exited and every pin and pipe was released",
                                 culprit: result.leakCulprit))
        }
    }
}
