import CowFuzz
import CowModel
import CowOracle
import CowReal
import Dispatch
import Foundation

/// `cowfuzz fuzz --backend real`: programs the kernel here can execute run on the real
/// kernel and on `linux-6.x`. An oracle violation on the real kernel (`KIND OP real`) or
/// a difference in observations (`divergence OP real,linux-6.x`) is a finding, shrunk
/// against the real kernel itself and written to `crashes/` with `@expect` lines for
/// every model policy and for `real`.
///
/// One program at a time, each in a fresh process tree pinned to one CPU; the budget,
/// seed, `--ops`, `--max-ops`, `--crashes` and `--real-tiers` options apply. Results
/// follow the seed as far as the kernel is deterministic (it is, pinned to one CPU, for
/// everything but the KSM scanner's timing).
func runRealFuzz(_ args: Args, config c: CampaignConfig) throws -> Int32 {
    try requireRealBackend()
    let tiers = try realTiers(args)
    var gen = c.generator
    gen.kinds = gen.kinds.filter { k in
        switch k {
        case .race, .migrate: return false
        case .ksm: return tiers.contains(.ksm)
        case .swapout: return tiers.contains(.swap)
        default: return true
        }
    }
    guard !gen.kinds.isEmpty else { throw UsageError("--ops leaves nothing the real kernel here can execute") }
    gen.maxOps = min(gen.maxOps, 24)
    gen.minOps = min(gen.minOps, gen.maxOps)
    let generator = ProgramGenerator(gen)
    let judge = RealJudge(tiers: tiers)
    let stop = RealFuzzStop()
    let quiet = args.flag("--quiet")
    let crashes = c.crashesDir ?? "crashes"
    var seen = Set(CorpusStore.programs(in: crashes).compactMap { Signature(text: $0.program.comments.first?.trimmingCharacters(in: .whitespaces) ?? "")?.text })
    if let corpus = c.corpusDir {
        for (_, p) in CorpusStore.programs(in: corpus) { if let s = judge.signature(p) { seen.insert(s.text) } }
    }
    let start = Date()
    var programs = 0, newFindings: [(Signature, String, Int)] = []
    if !quiet { printErr("cowfuzz fuzz --backend real: seed \(c.seed), one program at a time, tiers [\(RealTiers.words.filter { tiers.contains($0.0) }.map(\.1).joined(separator: ","))]") }
    while !stop.requested {
        if let runs = c.runs, programs >= runs { break }
        if c.runs == nil, Date().timeIntervalSince(start) >= (c.seconds ?? 20) { break }
        var prog = generator.program(seed: SplitMix64.derive(c.seed, UInt64(programs)))
        prog.ops.removeAll { RealBackend.staticallyUnsupported($0, tiers: tiers) != nil }
        programs += 1
        guard let sig = judge.signature(prog), seen.insert(sig.text).inserted else { continue }
        let shrinker = Shrinker(policies: [PolicyRegistry.current])
        shrinker.shouldStop = { stop.requested }
        let r = shrinker.shrink(prog, signature: sig, where: { judge.signature($0) == sig })
        let path = try writeRealFinding(r.program, signature: sig, dir: crashes, seed: c.seed, index: programs - 1,
                                        originalOps: prog.ops.count, calls: r.predicateCalls, tiers: tiers)
        newFindings.append((sig, path, r.program.ops.count))
        if !quiet { printErr("new: \(sig.text) → \(path) (\(r.program.ops.count) ops)") }
    }
    let secs = Date().timeIntervalSince(start)
    print(String(format: "%d real programs in %.1fs (%.0f/s), %d new signature(s)%@", programs, secs,
                 Double(programs) / max(secs, 1e-9), newFindings.count, stop.requested ? " (interrupted)" : ""))
    print(judge.figuresText)
    for (s, p, n) in newFindings { print("\(s.text)  \(n) ops  \(p)") }
    return newFindings.isEmpty ? 0 : 1
}

/// Runs a program on the real kernel and on linux-6.x and names what went wrong.
final class RealJudge {
    let tiers: RealTiers
    let model = PolicyRegistry.current
    /// Figures over every program judged (the shrinker's calls included).
    var runs = 0, fullRuns = 0, partialRuns = 0, notRunRuns = 0, timeouts = 0, opsRun = 0, opsNotRun = 0
    var notRunReasons: [String: Int] = [:]
    var helperErrors: [String: Int] = [:]

    init(tiers: RealTiers) { self.tiers = tiers }

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
        var s = "\(runs) real run(s) (shrinking included): \(fullRuns) full, \(partialRuns) partial, \(notRunRuns) not run, \(timeouts) timed out; \(opsRun) op(s) executed, \(opsNotRun) not run here"
        for (why, n) in notRunReasons.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) { s += "\n  not run here: \(n) × \(why)" }
        for (why, n) in helperErrors.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) { s += "\n  helper error: \(n) × \(why)" }
        return s
    }
}

/// Ctrl-C: stop after the current program and write what was found.
final class RealFuzzStop: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    private var source: DispatchSourceSignal?

    init() {
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler { [weak self] in self?.set() }
        s.resume()
        source = s
    }

    private func set() { lock.lock(); flag = true; lock.unlock() }
    var requested: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}

/// Writes a real-kernel finding atomically: the program, its signature as the first
/// comment, how it was found, the replay command, and `@expect` lines for every model
/// policy and for `real`.
func writeRealFinding(_ program: Program, signature: Signature, dir: String, seed: UInt64, index: Int,
                      originalOps: Int, calls: Int, tiers: RealTiers) throws -> String {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var prog = program.bare
    let path = (dir as NSString).appendingPathComponent(signature.fileStem + ".cow")
    var exps = Checker.check(prog, options: RunOptions(paranoid: true)).map { Expectation(policy: $0.policy, verdicts: $0.verdicts) }
    if let run = try? RealBackend.run(prog, tiers: tiers) {
        let v = Checker.judge(prog, trace: run.trace, policy: RealBackend.policyName)
        exps.append(Expectation(policy: RealBackend.policyName, verdicts: VerdictSet(v.map(\.verdict))))
    }
    prog.expectations = exps
    let tierArg = tiers.isEmpty ? "" : " --real-tiers \(RealTiers.words.filter { tiers.contains($0.0) }.map(\.1).joined(separator: ","))"
    prog.comments = [
        " \(signature.text)",
        " Found by 'cowfuzz fuzz --backend real' (seed \(seed)), program #\(index) (\(originalOps) ops),",
        " shrunk on the real kernel to \(program.ops.count) ops in \(calls) predicate calls.",
        " Replay: cowfuzz replay \(path) --backend real\(tierArg)",
        " Export: cowfuzz export-c \(path) -o repro.c",
    ]
    try CrashWriter.atomicWrite(Data(prog.text.utf8), to: path)
    return path
}
