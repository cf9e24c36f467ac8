import CowFuzz
import CowModel
import CowOracle
import Dispatch
import Foundation

/// Builds a campaign from the options; `defaultSeconds` applies when neither `--time`
/// nor `--runs` is given.
func campaignConfig(_ args: Args, command: String, defaultSeconds: Double?, defaultRuns: Int?) throws -> CampaignConfig {
    if let extra = args.positionals.first { throw UsageError("unexpected argument '\(extra)'") }
    do {
        var c = CampaignConfig()
        if let b = args.value("--backend"), b != "model" {
            guard b == "real" else { throw UsageError("--backend expects model or real, got '\(b)'") }
            guard command == "fuzz" else { throw UsageError("--backend real is for fuzz and replay, not \(command)") }
            // Options that cannot apply to the real backend are refused, never ignored.
            if args.value("--diff") != nil {
                throw UsageError("--diff compares two model policies; --backend real compares the real kernel with \(realModelPolicy) itself")
            }
            if args.value("--policies") != nil {
                throw UsageError("--policies does not apply to --backend real (it compares the real kernel with \(realModelPolicy))")
            }
            if let j = args.value("--jobs"), j != "1" {
                throw UsageError("--jobs \(j): --backend real runs one program at a time")
            }
        }
        try rejectRealOnlyOptions(args)
        c.policies = try selectPolicies(args.value("--policies"))
        c.seed = try args.uint64("--seed") ?? 1
        let time = try args.duration("--time")
        let runs = args.value("--runs") == nil ? nil : try args.int("--runs", default: 0, range: 1...Int.max)
        if time != nil && runs != nil { throw UsageError("give --time or --runs, not both") }
        if let t = time, t <= 0 { throw UsageError("--time must be positive") }
        c.seconds = time ?? (runs == nil ? defaultSeconds : nil)
        c.runs = runs ?? (time == nil ? defaultRuns : nil)
        c.jobs = try args.int("--jobs", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...1024)
        c.generator.maxOps = try FuzzOptions.maxOps(try args.int("--max-ops", default: 40, range: 1...1000))
        c.generator.minOps = min(c.generator.minOps, c.generator.maxOps)
        if let ops = args.value("--ops") { c.generator.kinds = try FuzzOptions.opKinds(ops) }
        if let b = args.value("--backings") { c.generator.mappings = try FuzzOptions.mappings(b) }
        c.generator.swarm = !args.flag("--no-swarm")
        if let s = args.value("--shard") { c.shard = try FuzzOptions.shard(s) }
        if let d = args.value("--diff") {
            let pair = try FuzzOptions.diff(d, available: PolicyRegistry.all.map(\.name))
            c.diff = pair
            // Both policies take part, whatever --policies says.
            for n in [pair.0, pair.1] where !c.policies.contains(where: { $0.name == n }) {
                c.policies.append(PolicyRegistry.named(n)!)
            }
            c.policies.sort { a, b in
                PolicyRegistry.all.firstIndex { $0.name == a.name }! < PolicyRegistry.all.firstIndex { $0.name == b.name }!
            }
        }
        c.corpusDir = try directoryOption(args, "--corpus", default: "corpus", mustExist: true)
        c.crashesDir = try directoryOption(args, "--crashes", default: "crashes", mustExist: false)
        c.commandLine = "cowfuzz " + ([command] + CommandLine.arguments.dropFirst(2)).joined(separator: " ")
        return c
    } catch let e as OptionError {
        throw UsageError(e.description)
    }
}

/// A directory option: the default only when it exists; an explicit value must be a
/// directory (or, when `mustExist` is false, creatable).
func directoryOption(_ args: Args, _ name: String, default d: String, mustExist: Bool) throws -> String? {
    var isDir: ObjCBool = false
    guard let v = args.value(name) else {
        if FileManager.default.fileExists(atPath: d, isDirectory: &isDir), isDir.boolValue { return d }
        return mustExist ? nil : d
    }
    if FileManager.default.fileExists(atPath: v, isDirectory: &isDir) {
        guard isDir.boolValue else { throw UsageError("\(name) \(v): not a directory") }
    } else if mustExist {
        throw UsageError("\(name) \(v): no such directory")
    }
    return v
}

/// Stops the campaign on SIGINT/SIGTERM so it writes its findings and report; a second
/// signal quits at once (findings already written stay).
final class StopOnSignal {
    var sources: [DispatchSourceSignal] = []
    init(_ campaign: Campaign) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler {
                if campaign.stopRequested { _exit(130) }
                campaign.requestStop()
                printErr("\ncowfuzz: stopping: writing findings and the report (interrupt again to quit at once)")
            }
            src.resume()
            sources.append(src)
        }
    }
    deinit {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// Runs a campaign with a progress line on a terminal.
func runCampaign(_ c: CampaignConfig, quiet: Bool) -> CampaignResult {
    let campaign = Campaign(c)
    let tty = isatty(STDERR_FILENO) != 0 && !quiet
    var lastDraw = Date.distantPast
    if tty {
        campaign.onProgress = { s in
            let now = Date()
            guard now.timeIntervalSince(lastDraw) >= 0.2 else { return }
            lastDraw = now
            let line = String(format: "\r[%6.1fs] %d programs (%.0f/s)  coverage %d  pool %d  signatures %d (new %d)",
                              s.seconds, s.programs, s.programsPerSecond, s.coverage, s.poolSize, s.findings, s.newFindings)
            FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
        }
    }
    let stopper = StopOnSignal(campaign)
    let r = campaign.run()
    withExtendedLifetime(stopper) {}
    if tty { FileHandle.standardError.write(Data("\n".utf8)) }
    return r
}

/// Checks every output path before the first program runs, so a bad path costs nothing:
/// `--report`, `--summary`, `--junit` and the `--crashes` directory.
func checkOutputs(_ args: Args, config c: CampaignConfig) throws {
    for name in ["--report", "--summary", "--junit"] {
        guard let path = args.value(name) else { continue }
        do { try OutputFile.check(path) } catch { throw UsageError("\(name) \(path): \(error.reason)") }
    }
    if let dir = c.crashesDir {
        do { try OutputFile.checkDirectory(dir) } catch {
            throw UsageError("--crashes \(dir): \(error.reason)")
        }
    }
}

func writeOutputs(_ args: Args, config c: CampaignConfig, result r: CampaignResult, skipped: [CorpusStore.Skipped]) throws {
    if let path = args.value("--report") {
        var report = FuzzReport(config: c, result: r)
        report.skippedFiles = skipped.map(\.description)
        do { try CrashWriter.atomicWrite(try report.json(), to: path) } catch {
            throw UsageError("--report \(path): \(error)")
        }
    }
    if let path = args.value("--summary") {
        do { try CrashWriter.atomicWrite(Data(MarkdownSummary.render(config: c, result: r).utf8), to: path) } catch {
            throw UsageError("--summary \(path): \(error)")
        }
    }
    if let path = args.value("--junit") {
        do { try CrashWriter.atomicWrite(Data(JUnitReport.xml(r, seed: c.seed).utf8), to: path) } catch {
            throw UsageError("--junit \(path): \(error)")
        }
    }
}

/// The closing table: one row per root cause (signature), with its status, its era
/// range over the policies run, ops, hits and reproducer, and under it the catalogue
/// entry it matches, if any.
func printRootCauses(_ r: CampaignResult) {
    // Uncatalogued root causes first (they are what a person must read), then the
    // catalogued ones by catalogue entry.
    let order = Dictionary(uniqueKeysWithValues: KnownBugs.all.enumerated().map { ($1.id, $0) })
    let findings = r.findings.enumerated().sorted { a, b in
        let ka = a.element.bug.flatMap { order[$0.id] } ?? -1, kb = b.element.bug.flatMap { order[$0.id] } ?? -1
        return ka != kb ? ka < kb : a.offset < b.offset
    }.map(\.element)
    let bugs = findings.compactMap { $0.bug?.id }
    var counts: [(String, Int)] = []
    for id in bugs { if counts.last?.0 == id { counts[counts.count - 1].1 += 1 } else { counts.append((id, 1)) } }
    print("\n\(findings.count) root cause\(findings.count == 1 ? "" : "s"): \(findings.count - bugs.count) not in the catalogue"
        + (counts.isEmpty ? "" : ", \(bugs.count) catalogued as \(counts.count) known bug\(counts.count == 1 ? "" : "s") ("
            + counts.map { "\($0.0) ×\($0.1)" }.joined(separator: ", ") + ")"))
    let w = min(72, (findings.map(\.signature.text.count).max() ?? 10) + 1)
    let eras = findings.map { $0.signature.eraRange(among: r.policies) }
    let ew = min(40, (eras.map(\.count).max() ?? 4) + 1)
    print("")
    print(padded("root cause", w) + padded("status", 7) + padded("eras", ew) + padded("ops", 5) + padded("hits", 8) + "reproducer")
    for (f, e) in zip(findings, eras) {
        print(padded(f.signature.text, w) + padded(f.status.rawValue, 7) + padded(e, ew) + padded("\(f.ops)", 5)
            + padded("\(f.hits)", 8) + (f.path ?? "-"))
        if let bug = f.bug { print("    — catalogued: " + bug.label) }
    }
}

func padded(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

/// `cowfuzz fuzz`: a coverage-guided swarm campaign over the policies.
func runFuzz(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "fuzz")
    var c = try campaignConfig(args, command: "fuzz", defaultSeconds: 20, defaultRuns: nil)
    try checkOutputs(args, config: c)
    let skipped = try checkStores([c.corpusDir, c.crashesDir].compactMap { $0 }, command: "fuzz", strict: args.flag("--strict"))
    if let dir = c.crashesDir {
        for name in CrashWriter.cleanOrphans(in: dir) { printErr("cowfuzz fuzz: removed \(name) from \(dir) (left by an interrupted run)") }
    }
    var judge: RealJudge?
    if args.value("--backend") == "real" {
        try requireRealBackend()
        let tiers = try realTiers(args)
        let j = RealJudge(tiers: tiers)
        judge = j
        c.generator = try realGenerator(c.generator, tiers: tiers)
        c.jobs = 1
        c.backend = realCampaignBackend(tiers: tiers, judge: j)
    }
    let quiet = args.flag("--quiet")
    if !quiet {
        let budget = c.runs.map { "\($0) programs" } ?? "\(c.seconds.map { String(format: "%g", $0) } ?? "?")s"
        let on: String? = judge.map { j in
            "the real kernel and \(realModelPolicy), one program at a time, tiers [\(j.tierText)]"
        }
        let what = on ?? "\(c.policies.count) policies"
        printErr("cowfuzz fuzz: seed \(c.seed), \(budget), \(c.jobs) job(s), " + what
            + (c.shard.count > 1 ? ", shard \(c.shard.index)/\(c.shard.count)" : "")
            + (c.corpusDir.map { ", corpus \($0)" } ?? "") + (c.crashesDir.map { ", crashes \($0)" } ?? ""))
    }
    let r = runCampaign(c, quiet: quiet)
    try writeOutputs(args, config: c, result: r, skipped: skipped)
    print(String(format: "%d programs in %.1fs (%.0f/s), coverage %d, %d signatures, %d new%@",
                 r.stats.programs, r.stats.seconds, r.stats.programsPerSecond, r.stats.coverage, r.findings.count,
                 r.stats.newFindings, r.interrupted ? " (interrupted)" : ""))
    if r.stats.flakyFindings > 0 {
        print("\(r.stats.flakyFindings) flaky signature(s): shown once and not again when the same program ran again (not written; see the table)")
    }
    if let judge { print(judge.figuresText) }
    if !skipped.isEmpty { print("\(skipped.count) file(s) of the corpus or crashes directories skipped: they do not parse (see the warnings)") }
    if !r.findings.isEmpty {
        printRootCauses(r)
    }
    for e in r.writeErrors { printErr("cowfuzz fuzz: could not write a finding: \(e)") }
    if r.stats.newFindings > 0, let dir = c.crashesDir {
        print("\nnew findings are in \(dir)/; replay them with 'cowfuzz replay \(dir)', promote the ones you keep into corpus/")
    }
    if !r.writeErrors.isEmpty { return 3 }
    return r.stats.newFindings > 0 ? 1 : 0
}

/// `cowfuzz compare`: the policy × verdict matrix and efficiency figures.
func runCompare(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "compare")
    let c = try campaignConfig(args, command: "compare", defaultSeconds: nil, defaultRuns: 200_000)
    try checkOutputs(args, config: c)
    let skipped = try checkStores([c.corpusDir, c.crashesDir].compactMap { $0 }, command: "compare", strict: args.flag("--strict"))
    let r = runCampaign(c, quiet: args.flag("--quiet") || args.flag("--json"))
    try writeOutputs(args, config: c, result: r, skipped: skipped)
    let m = CompareMatrix(result: r, seed: c.seed)
    if args.flag("--json") {
        FileHandle.standardOutput.write(try m.json())
    } else {
        print(m.table, terminator: "")
    }
    return r.stats.newFindings > 0 ? 1 : 0
}

/// `cowfuzz shrink FILE [-o FILE]`: shrinks a program keeping one of its signatures.
func runShrink(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "shrink")
    guard args.positionals.count == 1 else { throw UsageError("shrink needs exactly one FILE") }
    let file = args.positionals[0]
    if let o = args.value("-o") {
        do { try OutputFile.check(o) } catch { throw UsageError("-o \(o): \(error.reason)") }
    }
    let prog = try loadProgram(file)
    var policies = try selectPolicies(args.value("--policies"))
    var diff: (Int, Int)?
    if let d = args.value("--diff") {
        let pair: (String, String)
        do { pair = try FuzzOptions.diff(d, available: PolicyRegistry.all.map(\.name)) } catch { throw UsageError(error.description) }
        for n in [pair.0, pair.1] where !policies.contains(where: { $0.name == n }) { policies.append(PolicyRegistry.named(n)!) }
        diff = (policies.firstIndex { $0.name == pair.0 }!, policies.firstIndex { $0.name == pair.1 }!)
    }
    let shrinker = Shrinker(policies: policies, diff: diff)
    let sigs = shrinker.executor.signatures(prog)
    guard !sigs.isEmpty else { throw UsageError("\(file) shows no finding on the selected policies: nothing to shrink") }
    var sig = sigs[0]
    if let want = args.value("--signature") {
        guard let s = sigs.first(where: { $0.text == want }) else {
            throw UsageError("\(file) does not show '\(want)'; it shows: \(sigs.map(\.text).joined(separator: "; "))")
        }
        sig = s
    }
    let r = shrinker.shrink(prog, keeping: sig)
    var out = r.program
    out.comments = [" \(sig.text)", " Shrunk by 'cowfuzz shrink \(file)' from \(r.originalOps) to \(out.ops.count) ops in \(r.predicateCalls) predicate calls."]
    let checker = ProgramChecker(policies: PolicyRegistry.all, options: RunOptions(paranoid: true))
    out.expectations = checker.check(out).map { Expectation(policy: $0.policy, verdicts: $0.verdicts) }
    if let o = args.value("-o") {
        do { try CrashWriter.atomicWrite(Data(out.text.utf8), to: o) } catch { throw UsageError("-o \(o): \(error)") }
    } else {
        print(out.text, terminator: "")
    }
    if !args.flag("--quiet") {
        if sigs.count > 1 { printErr("shrink: kept '\(sig.text)' (also shown: \(sigs.dropFirst().map(\.text).joined(separator: "; ")); choose with --signature)") }
        printErr(String(format: "shrink: %d -> %d ops, %d predicate calls (%d memo hits), %d rounds, %.1f ms",
                        r.originalOps, out.ops.count, r.predicateCalls, r.memoHits, r.rounds, r.seconds * 1000))
        for p in r.passes { printErr("  \(padded(p.pass, 11)) calls \(padded("\(p.calls)", 6)) memo hits \(padded("\(p.memoHits)", 6)) accepted \(p.accepted)") }
    }
    return 0
}

/// `cowfuzz bench [--quick] [--jobs N]`: throughput and search figures.
func runBench(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "bench")
    if let extra = args.positionals.first { throw UsageError("unexpected argument '\(extra)'") }
    if args.value("--parser") != nil {
        // The parser's self-fuzz: N mutated corpus texts (issue 15).
        let n = try args.int("--parser", default: 1_000_000, range: 1...1_000_000_000)
        let dir = FileManager.default.fileExists(atPath: "corpus") ? "corpus" : nil
        var seeds = (dir.map { CorpusStore.programs(in: $0).map(\.program.text) } ?? [])
        if seeds.isEmpty { seeds = ["\(CowFormat.header)\nmmap p0 r0 pages=1\nwrite p0 r0[0] 1\nfork p0 -> p1\nread p1 r0[0]\n"] }
        #if DEBUG
        printErr("cowfuzz bench: this is a debug build; figures are only meaningful on a release build")
        #endif
        let stats = ParserFuzz.run(seeds: seeds, count: n, seed: try args.uint64("--seed") ?? 1)
        print("parser self-fuzz over \(seeds.count) seed text(s): \(stats)")
        for f in stats.failures.prefix(20) { print("  FAIL " + f) }
        return stats.failures.isEmpty && stats.slowest < 1 ? 0 : 1
    }
    var b = Benchmark(quick: args.flag("--quick"))
    b.jobs = try args.int("--jobs", default: b.jobs, range: 1...1024)
    #if DEBUG
    printErr("cowfuzz bench: this is a debug build; figures are only meaningful on a release build (Scripts/bench.sh)")
    #endif
    b.run()
    // The real kernel beside the model's figures (skipped with its reason where unavailable).
    print("")
    print("== the real kernel ==")
    print(realBenchmarkLine(seconds: args.flag("--quick") ? 0.5 : 2))
    return 0
}
