import CowFuzz
import CowModel
import CowOracle
import CowReal
import Foundation

// The real-kernel backend on the command line: `export-c`, `replay --backend real`,
// `explain --backend real`, and the figure `bench` prints beside the model's.

/// The model policy the real kernel is held against.
let realModelPolicy = "linux-6.x"

/// `--real-tiers ksm,swap,hugetlb` (default none).
func realTiers(_ args: Args) throws -> RealTiers {
    guard let list = args.value("--real-tiers") else { return [] }
    do { return try RealTiers(list: list) } catch { throw UsageError(error.description) }
}

/// A real-backend failure as the CLI reports it: input over the helper's limits or a
/// bad tier is a usage error (exit 2); a helper that died, timed out or spoke nonsense
/// is an internal error (exit 3), never a silent fallback.
struct RealBackendFailure: Error, CustomStringConvertible {
    var description: String
}

func cliError(_ e: RealBackendError, file: String? = nil) -> Error {
    let text = (file.map { "\($0): " } ?? "") + e.description
    return e.isUsageError ? UsageError(text) : RealBackendFailure(description: text)
}

/// The real backend, or a usage error saying why it cannot run here (exit 2); a helper
/// that dies or hangs in its start-up probe is an internal error (exit 3).
func requireRealBackend() throws {
    guard case let .failure(e) = RealBackend.availability() else { return }
    let text = "--backend real: \(e.description)"
    throw e.isUnavailable ? UsageError(text) : RealBackendFailure(description: text)
}

/// The oracle's accepted values per observing op, for a run with these statuses.
func realExpectations(_ program: Program, statuses: [OpStatus]) -> [Int: CExport.Expectation] {
    var out: [Int: CExport.Expectation] = [:]
    for (i, a) in Checker.acceptance(program, statuses: statuses).enumerated() {
        if let a { out[i] = CExport.Expectation(accepted: a.accepted.values) }
    }
    return out
}

/// `cowfuzz export-c FILE [-o FILE.c] [--real-tiers LIST]`: a standalone C reproducer.
///
/// The oracle's value sets depend on which ops run; they are computed for the statuses
/// of a run on this machine's kernel when the real backend is available, else for the
/// statuses of `linux-6.x`.
func realExportC(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "export-c")
    guard args.positionals.count == 1 else { throw UsageError("export-c needs exactly one FILE") }
    let file = args.positionals[0]
    if let o = args.value("-o") {
        do { try OutputFile.check(o) } catch { throw UsageError("-o \(o): \(error.reason)") }
    }
    let prog = try loadProgram(file)
    let tiers = try realTiers(args)
    var statuses: [OpStatus]
    var from: String
    if let why = RealExecutor.overLimit(prog) { throw UsageError("\(file): \(why)") }
    if RealBackend.isAvailable().0 {
        let run: RealRun
        do { run = try RealBackend.run(prog, tiers: tiers) } catch { throw cliError(error, file: file) }
        statuses = run.trace.statuses
        from = "this machine's kernel"
    } else if let model = PolicyRegistry.named(realModelPolicy) {
        statuses = model.run(prog).trace.statuses
        from = realModelPolicy
    } else {
        statuses = Array(repeating: .executed, count: prog.ops.count)
        from = "every op running"
    }
    let expectations = realExpectations(prog, statuses: statuses)
    let source = CExport.source(for: prog, expectations: expectations, assumedStatuses: statuses,
                                name: (file as NSString).lastPathComponent)
    if let out = args.value("-o") {
        do { try OutputFile.write(Data(source.utf8), to: out) } catch { throw UsageError("-o \(out): \(error.reason)") }
        printErr("wrote \(out): \(prog.ops.count) ops, \(expectations.count) observation(s) judged (op statuses of \(from)); build with: cc -O2 -o repro \(out)")
    } else {
        print(source, terminator: "")
    }
    return 0
}

/// One program's real run beside the model's.
struct RealReplayRow {
    var file: String
    var program: Program
    var real: RealRun
    var realVerdicts: VerdictSet
    var realViolations: [Violation]
    var models: [PolicyOutcome]
    /// Outcome, observation and state differences from linux-6.x, up to the first op
    /// not run here (`RealComparison`).
    var divergences: [RealDivergence]

    var expectedReal: VerdictSet? { program.expected(for: RealBackend.policyName) }
    var realExpectationFailed: Bool { !notRun && (expectedReal.map { $0 != realVerdicts } ?? false) }
    /// Ops executed on the real kernel.
    var executed: Int { real.trace.statuses.filter(\.executed).count }
    /// Nothing ran: no comparison was made, so it cannot "agree".
    var notRun: Bool { executed == 0 && !program.ops.isEmpty }
    var disagrees: Bool { !real.timedOut && !divergences.isEmpty }
    var failed: Bool { realExpectationFailed || disagrees || real.timedOut }

    /// `agree`, `agree (partial: 2 of 9 ops not run)`, `not run`, `DIFFER`, `TIMEOUT`.
    var comparisonText: String {
        if real.timedOut { return "TIMEOUT" }
        if !divergences.isEmpty { return real.partial ? "DIFFER (partial)" : "DIFFER" }
        if notRun { return "not run" }
        if real.partial { return "agree (partial: \(real.skips.count) of \(program.ops.count) ops not run)" }
        return "agree"
    }
}

/// Runs one program on the real kernel and the given policies.
func realReplayRow(file: String, program: Program, policies: [PolicyEntry], tiers: RealTiers) throws -> RealReplayRow {
    let run: RealRun
    do { run = try RealBackend.run(program, tiers: tiers) } catch { throw cliError(error, file: file) }
    let violations = Checker.judge(program, trace: run.trace, policy: RealBackend.policyName)
    var verdicts = VerdictSet.clean
    for v in violations { verdicts.insert(v.verdict) }
    let outcomes = Checker.check(program, policies: policies, options: RunOptions(paranoid: true))
    let model = PolicyRegistry.named(realModelPolicy)?.explain(program) ?? []
    let divergences = RealComparison.compare(program, real: run, model: model)
    return RealReplayRow(file: file, program: program, real: run, realVerdicts: verdicts, realViolations: violations,
                         models: outcomes, divergences: divergences)
}

/// `cowfuzz replay FILE|DIR… --backend real [--policies LIST] [--real-tiers LIST] [--json]`:
/// each program on the real kernel and on the models; the real verdict beside the models',
/// and a disagreement in observations wherever the program is executable here.
/// Exit 1 when an `@expect real` line fails, the real kernel disagrees with `linux-6.x`
/// on a program it ran fully, or a program timed out.
func realReplay(_ programs: [(String, Program)], policies: [PolicyEntry], args: Args) throws -> Int32 {
    try requireRealBackend()
    let tiers = try realTiers(args)
    var shown = policies
    if !shown.contains(where: { $0.name == realModelPolicy }), let m = PolicyRegistry.named(realModelPolicy) { shown.append(m) }
    var rows: [RealReplayRow] = []
    for (file, prog) in programs { rows.append(try realReplayRow(file: file, program: prog, policies: shown, tiers: tiers)) }
    if args.flag("--json") {
        print(realReplayJSON(rows))
    } else {
        printRealReplayTable(rows, policies: shown.map(\.name), verbose: args.flag("--verbose"))
    }
    return rows.contains(where: \.failed) ? 1 : 0
}

func printRealReplayTable(_ rows: [RealReplayRow], policies: [String], verbose: Bool) {
    let nameWidth = min(48, max(8, rows.map { ($0.file as NSString).lastPathComponent.count }.max() ?? 8)) + 2
    let widest = rows.flatMap { r in r.models.map { $0.verdicts.text.count } + [r.realVerdicts.text.count] }.max() ?? 0
    let col = max(14, widest + 3)
    var header = "program".padding(toLength: nameWidth, withPad: " ", startingAt: 0)
    header += "real".padding(toLength: col, withPad: " ", startingAt: 0)
    for p in policies { header += p.padding(toLength: col, withPad: " ", startingAt: 0) }
    header += "real vs \(realModelPolicy)"
    print(header)
    var notes: [String] = []
    for row in rows {
        let name = (row.file as NSString).lastPathComponent
        var line = String(name.prefix(nameWidth - 2)).padding(toLength: nameWidth, withPad: " ", startingAt: 0)
        var cell = row.real.timedOut ? "timeout" : row.notRun ? "not run" : row.realVerdicts.text
        if row.realExpectationFailed { cell = "!" + cell }
        if row.notRun, row.expectedReal != nil { notes.append("note \(row.file): '@expect real' not checked: no op ran here") }
        line += cell.padding(toLength: col, withPad: " ", startingAt: 0)
        for p in policies {
            let v = row.models.first(where: { $0.policy == p })?.verdicts.text ?? ""
            line += v.padding(toLength: col, withPad: " ", startingAt: 0)
        }
        line += row.comparisonText
        print(line)
        if row.realExpectationFailed, let e = row.expectedReal {
            notes.append("FAIL \(row.file): real: expected \(e.text), got \(row.realVerdicts.text)")
        }
        for d in row.divergences {
            notes.append("FAIL \(row.file): \(d.kind.rawValue) divergence at op \(d.op) '\(row.program.ops[d.op].text)'\(d.page.map { " " + $0 } ?? ""): \(d.what): real \(d.real), \(realModelPolicy) \(d.model)")
        }
        for s in row.real.skips {
            notes.append("  \(name): op \(s.op) '\(row.program.ops[s.op].text)' not run here: \(s.detail)")
        }
        if verbose { for v in row.realViolations { notes.append("    " + v.description) } }
    }
    let partial = rows.filter { $0.real.partial && !$0.notRun }.count
    let notRun = rows.filter(\.notRun).count
    let skippedOps = rows.reduce(0) { $0 + $1.real.skips.count }
    let byKind = Dictionary(grouping: rows.flatMap(\.divergences), by: \.kind.rawValue).mapValues(\.count)
    let kinds = ["op-outcome", "observation", "state"].map { "\(byKind[$0] ?? 0) \($0)" }.joined(separator: ", ")
    print("\(rows.count) program(s) on the real kernel: \(rows.count - partial - notRun) ran fully, \(partial) partially, \(notRun) not run (\(skippedOps) op(s) not run here); \(rows.filter(\.disagrees).count) disagreeing with \(realModelPolicy) (\(kinds)); \(rows.filter(\.realExpectationFailed).count) failed expectation(s)")
    let reasons = Dictionary(grouping: rows.flatMap(\.real.skips), by: \.detail).mapValues(\.count)
    for (why, n) in reasons.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) { print("  not run here: \(n) × \(why)") }
    for n in notes { print(n) }
}

func realReplayJSON(_ rows: [RealReplayRow]) -> String {
    let list: [[String: Any]] = rows.map { row in
        var d: [String: Any] = [
            "file": row.file,
            "real": [
                "verdicts": row.realVerdicts.verdicts.map(\.name),
                "partial": row.real.partial,
                "timedOut": row.real.timedOut,
                "notRun": row.notRun,
                "opsExecuted": row.executed,
                "opsNotRun": row.real.skips.count,
                "skipped": row.real.skips.map { ["op": $0.op, "reason": $0.detail] as [String: Any] },
                "observed": row.real.trace.observed.map(Int.init),
                "violations": row.realViolations.map { ["verdict": $0.verdict.name, "op": $0.op, "message": $0.message] as [String: Any] },
            ] as [String: Any],
            "models": Dictionary(uniqueKeysWithValues: row.models.map { ($0.policy, $0.verdicts.verdicts.map(\.name)) }),
            "comparison": row.comparisonText,
            "divergences": row.divergences.map { d -> [String: Any] in
                var x: [String: Any] = ["kind": d.kind.rawValue, "op": d.op, "what": d.what, "real": d.real, "model": d.model]
                if let p = d.page { x["page"] = p }
                return x
            },
            "ok": !row.failed,
        ]
        if let e = row.expectedReal { d["expectedReal"] = e.verdicts.map(\.name) }
        return d
    }
    let doc: [String: Any] = ["formatVersion": 1, "backend": "real", "programs": list]
    let data = (try? JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    return String(data: data, encoding: .utf8) ?? "{}"
}

/// `cowfuzz explain FILE --backend real [--real-tiers LIST]`: step by step, the real
/// kernel's pages (frames as classes, mapcount, exclusivity, flags) beside `linux-6.x`'s.
func realExplain(_ prog: Program, file: String, tiers: RealTiers = []) throws -> Int32 {
    try requireRealBackend()
    let run: RealRun
    do { run = try RealBackend.run(prog, tiers: tiers) } catch { throw cliError(error, file: file) }
    print(realExplainText(prog, run: run))
    return 0
}

func realExplainText(_ prog: Program, run: RealRun) -> String {
    let model = PolicyRegistry.named(realModelPolicy)
    let steps = model?.explain(prog) ?? []
    var out = """
    The real kernel (this machine) beside \(realModelPolicy). Real pages: frame #N is a class
    (the same number is the same physical page in this run; a new number after a write is a
    copy), mapcount from /proc/kpagecount, excl = pagemap bit 56 (mapped once), AE =
    PageAnonExclusive (kpageflags bit 34), flags from /proc/kpageflags.
    Kernel features: \(run.features.text)


    """
    for (k, op) in prog.ops.enumerated() {
        out += "#\(k)  \(op.text)\n"
        let s = run.steps[k]
        out += "  real        " + statusText(s.status, s.observed) + (s.detail.isEmpty ? "" : " (\(s.detail))") + "\n"
        for p in s.pages { out += "              " + p.text + "\n" }
        if k < steps.count {
            let st = steps[k]
            out += "  \(realModelPolicy.padding(toLength: 10, withPad: " ", startingAt: 0))  " + statusText(st.status, st.observed) + "\n"
            for p in s.pages {
                if let v = st.pages.first(where: { $0.process == p.process && $0.region == p.region && $0.page == p.page }) {
                    out += "              p\(p.process) r\(p.region)[\(p.page)]: " + cellText(v) + "\n"
                }
            }
        }
        out += "\n"
    }
    let violations = Checker.judge(prog, trace: run.trace, policy: RealBackend.policyName)
    var v = VerdictSet.clean
    for x in violations { v.insert(x.verdict) }
    out += "Verdict on the real kernel: \(v.text)\(run.partial ? " (ran partially)" : "")\(run.timedOut ? " (timed out)" : "")\n"
    for x in violations { out += "    " + x.description + "\n" }
    for s in run.skips { out += "    op \(s.op) not run here: \(s.detail)\n" }
    let divergences = RealComparison.compare(prog, real: run, model: steps)
    out += divergences.isEmpty ? "No difference from \(realModelPolicy) in outcomes, observations or page state classes.\n"
        : "Differences from \(realModelPolicy):\n"
    for d in divergences { out += "    " + d.description + "\n" }
    return out
}

private func statusText(_ st: OpStatus, _ observed: Int16) -> String {
    switch st {
    case .executed:
        if observed == RealBackend.corrupt { return "saw a page that does not hold one value" }
        return observed >= 0 ? "saw \(observed)" : "ok"
    case let .skipped(why): return "skip: " + why.text
    case let .failed(why): return "FAILED: " + why.text
    }
}

/// The benchmark figure beside the model's: real programs per second on this machine,
/// or why there is none.
func realBenchmarkLine(seconds: Double = 1) -> String {
    let (ok, why) = RealBackend.isAvailable()
    guard ok else { return "real kernel: not measured (\(why))" }
    do {
        let (runs, rate) = try RealBackend.benchmark(seconds: seconds)
        return String(format: "real kernel: %.0f programs/s (%d runs of a %d-op fork/write/pin/vmsplice program, fresh process tree each, one CPU)",
                      rate, runs, RealBackend.benchmarkProgram.ops.count)
    } catch {
        return "real kernel: not measured (\(error.description))"
    }
}
