import CowFuzz
import CowModel
import CowOracle
import CowReal
import Foundation

/// `cowfuzz fuzz --backend real`: the same campaign as the model's (budget, seed,
/// `--shard`, pools guided by linux-6.x's coverage, shrinking, crash files with
/// sidecars, `--report`, `--junit`, `--summary`), on a backend that runs each program on
/// the real kernel and on linux-6.x. A finding is an oracle violation on the real kernel
/// (`KIND OP real`), or a different op outcome, observation or page state
/// (`op-outcome|divergence|state · first difference at OP · real vs linux-6.x`), shrunk
/// against the real kernel itself.
///
/// One program at a time, each in a fresh process tree pinned to one CPU. Programs keep
/// only the ops the kernel here can run with the given tiers (no races or migration;
/// `ksm` and `swapout` need their tier), so a reproducer replays as it was judged.
/// Results follow the seed as far as the kernel is deterministic (pinned to one CPU it
/// is, but for the KSM scanner's timing).
func realCampaignBackend(tiers: RealTiers, judge: RealJudge) -> CampaignBackend {
    let tierArg = tiers.isEmpty ? "" : " --real-tiers " + judge.tierText
    return CampaignBackend(
        name: "real", policyNames: [RealBackend.policyName, realModelPolicy],
        makeExecutor: { RealProgramExecutor(judge: judge) },
        maxJobs: 1,
        prepare: { prog in
            prog.ops.removeAll { RealBackend.staticallyUnsupported($0, tiers: tiers) != nil }
        },
        expectations: { prog in
            guard let run = try? RealBackend.run(prog, tiers: tiers) else { return [] }
            let v = Checker.judge(prog, trace: run.trace, policy: RealBackend.policyName)
            return [Expectation(policy: RealBackend.policyName, verdicts: VerdictSet(v.map(\.verdict)))]
        },
        replayOptions: " --backend real" + tierArg)
}

/// The generator of a real campaign: the kinds the kernel here can run with these tiers,
/// programs of at most 24 ops (each op is a round trip to a process).
func realGenerator(_ g: GeneratorConfig, tiers: RealTiers) throws -> GeneratorConfig {
    var gen = g
    gen.kinds = gen.kinds.filter { k in
        switch k {
        case .race, .migrate: return false
        case .ksm: return tiers.contains(.ksm)
        case .swapout: return tiers.contains(.swap)
        default: return true
        }
    }
    guard gen.kinds.contains(where: \.observes) else {
        throw UsageError("--ops leaves no observing op the real kernel here can execute")
    }
    gen.maxOps = min(gen.maxOps, 24)
    gen.minOps = min(gen.minOps, gen.maxOps)
    return gen
}

/// A campaign worker's executor on the real kernel: policy 0 is `real`, policy 1
/// `linux-6.x`, whose coverage and counters guide the pools.
final class RealProgramExecutor: ProgramExecutor {
    let judge: RealJudge
    let model: DifferentialExecutor
    var modelSummary = ExecutionSummary(policies: 1)
    var policyNames: [String] { [RealBackend.policyName, realModelPolicy] }

    init(judge: RealJudge) {
        self.judge = judge
        model = DifferentialExecutor(policies: [PolicyRegistry.current])
    }

    func run(_ program: Program, into summary: inout ExecutionSummary) {
        summary.keys.removeAll()
        model.run(program, into: &modelSummary)
        summary.coverage[0] = Coverage()
        summary.coverage[1] = modelSummary.coverage[0]
        summary.counters[1] = modelSummary.counters[0]
        let before = judge.opsRun
        if let sig = judge.signature(program) {
            summary.keys.add(sig.key, policy: 0)
            if sig.kind.isDivergence { summary.keys.add(sig.key, policy: 1) }
        }
        summary.opsExecuted = judge.opsRun - before
        summary.counters[0] = Counters()
        summary.counters[0].opsExecuted = summary.opsExecuted
    }
}

/// Runs a program on the real kernel and on linux-6.x and names what went wrong; keeps
/// the figures of every run (the shrinker's included). Used by one worker at a time.
final class RealJudge: @unchecked Sendable {
    let tiers: RealTiers
    let model = PolicyRegistry.current
    var runs = 0, fullRuns = 0, partialRuns = 0, notRunRuns = 0, timeouts = 0, opsRun = 0, opsNotRun = 0
    var notRunReasons: [String: Int] = [:]
    var helperErrors: [String: Int] = [:]

    init(tiers: RealTiers) { self.tiers = tiers }

    /// `ksm,swap,hugetlb`.
    var tierText: String { RealTiers.words.filter { tiers.contains($0.0) }.map(\.1).joined(separator: ",") }

    /// The finding's signature, or nil when the kernel and the model agree and the
    /// oracle accepts the real run (or the run timed out, or nothing ran).
    ///
    /// In order: an oracle violation on the real kernel (`KIND OP real`); a different
    /// outcome class of an op (`op-outcome OP real,linux-6.x`); a different observed
    /// value (`divergence OP real,linux-6.x`); a different page state class after an op
    /// (`state OP real,linux-6.x`). See `RealComparison` for the rules.
    func signature(_ prog: Program) -> Signature? {
        let run: RealRun
        do { run = try RealBackend.run(prog, tiers: tiers) } catch {
            helperErrors[error.description, default: 0] += 1
            return nil
        }
        runs += 1
        let executed = run.trace.statuses.filter(\.executed).count
        opsRun += executed
        opsNotRun += run.skips.count
        for s in run.skips { notRunReasons[s.detail, default: 0] += 1 }
        if run.timedOut { timeouts += 1; return nil }
        if executed == 0 && !prog.ops.isEmpty { notRunRuns += 1; return nil }
        if run.partial { partialRuns += 1 } else { fullRuns += 1 }
        if let v = Checker.judge(prog, trace: run.trace, policy: RealBackend.policyName).first {
            return Signature(kind: FindingKind(v.verdict), opKind: v.opKind, policies: [RealBackend.policyName])
        }
        let divergences = RealComparison.compare(prog, real: run, model: model.explain(prog))
        for (kind, fk) in [(RealDivergence.Kind.opOutcome, FindingKind.opOutcome), (.observation, .divergence), (.state, .state)] {
            if let d = divergences.first(where: { $0.kind == kind }) {
                return Signature(kind: fk, opKind: prog.ops[d.op].kind, policies: [RealBackend.policyName, realModelPolicy])
            }
        }
        return nil
    }

    /// The figures in one paragraph.
    var figuresText: String {
        var s = "\(runs) real run(s) (corpus and crashes probes and shrinking included): \(fullRuns) full, \(partialRuns) partial, \(notRunRuns) not run, \(timeouts) timed out; \(opsRun) op(s) executed, \(opsNotRun) not run here"
        for (why, n) in notRunReasons.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) { s += "\n  not run here: \(n) × \(why)" }
        for (why, n) in helperErrors.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) { s += "\n  helper error: \(n) × \(why)" }
        return s
    }
}
