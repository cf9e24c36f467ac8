import CowFuzz
import CowModel
import CowOracle
import Foundation

/// Reads `--procs`, `--regions`, `--pages`, `--pins`, `--pipes`, `--ops`, `--backings`,
/// `--pin-flags`, `--advice` and `--ranges` into a universe.
func parseUniverse(_ args: Args) throws -> EnumerationUniverse {
    var u = EnumerationUniverse()
    u.processes = try args.int("--procs", default: u.processes, range: 1...4)
    u.regions = try args.int("--regions", default: u.regions, range: 1...4)
    u.pages = try args.int("--pages", default: u.pages, range: 1...4)
    u.pins = try args.int("--pins", default: u.pins, range: 0...2)
    u.pipes = try args.int("--pipes", default: u.pipes, range: 0...2)
    u.ranges = args.flag("--ranges")
    if let list = try args.list("--ops") {
        u.kinds = try list.map { w in
            guard let k = OpKind(name: String(w)), k != .race else { throw UsageError("--ops: unknown or unsupported op kind '\(w)'") }
            return k
        }
    }
    if let list = try args.list("--backings") {
        u.backings = try list.map { w in
            switch w {
            case "anon": return .anon
            case "shared": return .shared
            case "file": return .file
            default: throw UsageError("--backings expects anon, shared or file, got '\(w)'")
            }
        }
    }
    if let list = try args.list("--pin-flags") {
        u.pinFlags = try list.map { w in
            guard let f = EnumerationUniverse.parseFlags(String(w)) else {
                throw UsageError("--pin-flags expects sets such as ro, rw, rw+longterm, get; got '\(w)'")
            }
            return f
        }
    }
    if let list = try args.list("--advice") {
        u.advices = try list.map { w in
            guard let a = Advice(name: String(w)) else { throw UsageError("--advice: unknown advice '\(w)'") }
            return a
        }
    }
    return u
}

/// `cowfuzz explore`: breadth-first search over the states of each policy's machine
/// (with the reference beside it) in a bounded universe. Per policy: the shortest
/// counterexample per verdict, or a proof that none exists at any depth. Exit 1 when a
/// counterexample was found, 0 when every policy was proved clean or ran out of budget.
func runExplore(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "explore")
    if let extra = args.positionals.first { throw UsageError("unexpected argument '\(extra)'") }
    var o = ExploreOptions()
    o.universe = try parseUniverse(args)
    o.values = try args.int("--values", default: o.values, range: 1...16)
    o.pipeDepth = try args.int("--pipe-depth", default: o.pipeDepth, range: 1...Limits.pipeDepth)
    o.symmetry = !args.flag("--no-symmetry")
    o.jobs = try args.int("--jobs", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
    o.timeLimit = try args.duration("--time")
    if args.value("--max-states") != nil { o.maxStates = try args.int("--max-states", default: 0, range: 1...Int.max) }
    if args.value("--max-depth") != nil { o.maxDepth = try args.int("--max-depth", default: 0, range: 1...250) }
    o.stopAtFirst = args.flag("--first")
    if let v = args.value("--visited") {
        switch v {
        case "exact": o.visited = .exact
        case "hash": o.visited = .hashCompaction
        case _ where v.hasPrefix("bitstate"):
            let bits = v == "bitstate" ? 30 : Int(v.dropFirst("bitstate:".count)) ?? -1
            guard (10...36).contains(bits) else { throw UsageError("--visited bitstate:BITS expects BITS in 10…36") }
            o.visited = .bitstate(bits: bits)
        default: throw UsageError("--visited expects exact, hash or bitstate[:BITS], got '\(v)'")
        }
    }
    do { try o.validate() } catch { throw UsageError(error.description) }
    let policies = try selectPolicies(args.value("--policies"))
    let quiet = args.flag("--quiet")
    let tty = isatty(STDERR_FILENO) != 0

    print("explore: \(o.summary)")
    print(o.universe.alphabet)
    print("symmetry: " + (o.symmetry ? "processes, pins and pipes permuted" : "off") + "; visited set: \(o.visited.name)")
    var reports: [ExploreReport] = []
    for policy in policies {
        let report = Explorer(o).explore(policy) { d, states, frontier, secs in
            guard tty && !quiet else { return }
            let rate = secs > 0 ? Double(states) / secs : 0
            let mem = Double(peakResidentBytesForProgress()) / 1_048_576
            printErr(String(format: "  %@ depth %d: %d states, frontier %d, %.1f s, %.0f states/s, %.0f MB",
                            policy.name, d, states, frontier, secs, rate, mem))
        }
        reports.append(report)
        print("")
        print(exploreText(report))
        if let dir = args.value("-o") { try writeCounterexamples(report, to: dir) }
    }
    if let path = args.value("--json") {
        let data = exploreJSON(reports, options: o)
        guard FileManager.default.createFile(atPath: path, contents: data) else { throw UsageError("\(path): cannot write the file") }
    }
    return reports.contains { !$0.found.isEmpty } ? 1 : 0
}

func peakResidentBytesForProgress() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") { return (Int(line.filter(\.isNumber)) ?? 0) * 1024 }
    return 0
}

/// The report of one policy's exploration (deterministic apart from the figures line).
func exploreText(_ r: ExploreReport) -> String {
    var out = ""
    for c in r.found {
        out += "\(r.policy): \(c.verdict.name): shortest counterexample, \(c.depth) ops"
        out += String(format: " (found with %d states stored, %.2f s):\n", c.statesWhenFound, c.secondsWhenFound)
        for op in c.program.ops { out += "    " + op.text + "\n" }
    }
    let none = Verdict.allCases.filter { r.shortest($0) == nil }.map(\.name)
    if r.proved {
        out += "\(r.policy): proved: no violation in \(r.states) states, diameter \(r.diameter)"
        if case .hashCompaction = r.visited { out += String(format: " (hash compaction: P(collision) ≤ %.1e)", r.collisionBound) }
        out += "\n"
    } else if r.complete {
        out += "\(r.policy): every state explored (\(r.states) states, diameter \(r.diameter))"
        if case .bitstate = r.visited { out += "; bit-state search, so this is not a proof" }
        if !none.isEmpty && !r.found.isEmpty { out += "; no \(none.joined(separator: ", ")) at any depth" }
        out += "\n"
    } else {
        out += "\(r.policy): stopped (\(r.stopReason ?? "limit")) after \(r.states) states: \(r.checkedDepthText)"
        if !none.isEmpty { out += "; no \(none.joined(separator: ", ")) so far" }
        out += "\n"
    }
    out += "states per depth: " + r.statesPerDepth.map(String.init).joined(separator: " ") + "\n"
    let rate = r.seconds > 0 ? Double(r.states) / r.seconds : 0
    out += String(format: "%d states, %d transitions in %.2f s: %.0f states/s, peak memory %.0f MB, %d job(s)",
                  r.states, r.transitions, r.seconds, rate, Double(r.peakMemory) / 1_048_576, r.jobs)
    return out
}

/// Writes each counterexample as `explore-POLICY-VERDICT.cow` with its `@expect` line.
func writeCounterexamples(_ r: ExploreReport, to dir: String) throws {
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
        throw UsageError("\(dir): \(error.localizedDescription)")
    }
    guard let policy = PolicyRegistry.named(r.policy) else { return }
    for c in r.found {
        var prog = c.program
        let outcome = Checker.check(prog, policies: [policy])[0]
        prog.comments = [" shortest \(c.verdict.name) counterexample on \(r.policy) found by cowfuzz explore",
                         " universe: \(r.summary)"]
        prog.expectations = [Expectation(policy: r.policy, verdicts: outcome.verdicts)]
        let path = (dir as NSString).appendingPathComponent("explore-\(r.policy)-\(c.verdict.name).cow")
        guard FileManager.default.createFile(atPath: path, contents: Data(prog.text.utf8)) else {
            throw UsageError("\(path): cannot write the file")
        }
    }
}

/// The JSON report (`"formatVersion": 1`).
func exploreJSON(_ reports: [ExploreReport], options o: ExploreOptions) -> Data {
    let list: [[String: Any]] = reports.map { r in
        var d: [String: Any] = [
            "policy": r.policy, "states": r.states, "transitions": r.transitions, "diameter": r.diameter,
            "statesPerDepth": r.statesPerDepth, "complete": r.complete, "proved": r.proved,
            "seconds": r.seconds, "jobs": r.jobs, "peakMemoryBytes": r.peakMemory,
            "counterexamples": r.found.map { c -> [String: Any] in
                ["verdict": c.verdict.name, "length": c.depth, "program": c.program.ops.map(\.text),
                 "statesWhenFound": c.statesWhenFound, "secondsWhenFound": c.secondsWhenFound]
            },
        ]
        if let s = r.stopReason { d["stopReason"] = s }
        if case .hashCompaction = r.visited { d["collisionBound"] = r.collisionBound }
        return d
    }
    let doc: [String: Any] = ["formatVersion": 1, "command": "explore", "universe": o.summary, "alphabet": o.universe.alphabet,
                              "symmetry": o.symmetry, "visited": o.visited.name, "policies": list]
    return (try? JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])) ?? Data()
}

/// `cowfuzz bench-explore [--quick] [--time D] [--jobs N] [--json F]`: the side-by-side
/// figures of Documentation/exploring.md. For each universe (pPROCS vVALUES xPAGES kPIPES,
/// anonymous COW + vmsplice as in the Spin model), linux-5.7 runs to the first
/// counterexample and linux-6.x to a proof or the time limit. Prints states, time,
/// states/s, peak memory and the shortest counterexample length.
func runBenchExplore(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "bench-explore")
    let quick = args.flag("--quick")
    let limit = try args.duration("--time") ?? (quick ? 10 : 60)
    let jobs = try args.int("--jobs", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
    struct Case { var name: String; var procs, values, pages, pipes, pins: Int; var ops: [OpKind] }
    let base: [OpKind] = [.mmap, .munmap, .write, .read, .fork, .exit, .vmsplice, .readpipe]
    let full: [OpKind] = [.fork, .exit, .mmap, .munmap, .mprotect, .madvise, .read, .write, .pin, .unpin, .readpin,
                          .writepin, .vmsplice, .readpipe, .pokemem]
    var cases = [Case(name: "p2v1x1k1", procs: 2, values: 1, pages: 1, pipes: 1, pins: 0, ops: base),
                 Case(name: "p2v2x1k1", procs: 2, values: 2, pages: 1, pipes: 1, pins: 0, ops: base),
                 Case(name: "p2v1x2k1", procs: 2, values: 1, pages: 2, pipes: 1, pins: 0, ops: base),
                 Case(name: "p2v2x2k1", procs: 2, values: 2, pages: 2, pipes: 1, pins: 0, ops: base)]
    if !quick {
        cases += [Case(name: "p2v2x3k1", procs: 2, values: 2, pages: 3, pipes: 1, pins: 0, ops: base),
                  Case(name: "p2v2x2k2", procs: 2, values: 2, pages: 2, pipes: 2, pins: 0, ops: base),
                  Case(name: "p3v1x2k1g1 (full alphabet)", procs: 3, values: 1, pages: 2, pipes: 1, pins: 1, ops: full)]
    }
    let policies = [PolicyRegistry.named("linux-5.7")!, PolicyRegistry.named("linux-6.x")!]
    print("bench-explore: \(jobs) job(s), \(Int(limit)) s per run; linux-5.7 to the first counterexample, linux-6.x to a proof")
    let header = "universe".padding(toLength: 28, withPad: " ", startingAt: 0) + "policy     result        states      depth  seconds  states/s  peak MB  shortest"
    print(header)
    var rows: [[String: Any]] = []
    for c in cases {
        for policy in policies {
            var o = ExploreOptions()
            o.universe.processes = c.procs
            o.universe.pages = c.pages
            o.universe.pins = c.pins
            o.universe.pipes = c.pipes
            o.universe.kinds = c.ops
            o.values = c.values
            o.jobs = jobs
            o.timeLimit = limit
            o.stopAtFirst = policy.name == "linux-5.7"
            let r = Explorer(o).explore(policy)
            let result = r.proved ? "proved" : !r.found.isEmpty ? "found" : r.complete ? "explored" : "stopped"
            let shortest = r.found.map { "\($0.verdict.name) \($0.depth)" }.joined(separator: ", ")
            let rate = r.seconds > 0 ? Double(r.states) / r.seconds : 0
            let depth = r.proved ? "D=\(r.diameter)" : "\(r.checkedDepth)"
            print(c.name.padding(toLength: 28, withPad: " ", startingAt: 0) + r.policy.padding(toLength: 11, withPad: " ", startingAt: 0)
                  + result.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + String(format: "%10d  ", r.states) + depth.padding(toLength: 9, withPad: " ", startingAt: 0)
                  + String(format: "  %7.2f  %8.0f  %7.0f  ", r.seconds, rate, Double(r.peakMemory) / 1_048_576)
                  + (shortest.isEmpty ? "-" : shortest))
            rows.append(["universe": c.name, "policy": r.policy, "result": result, "states": r.states, "checkedDepth": r.checkedDepth,
                         "diameter": r.diameter, "seconds": r.seconds, "peakMemoryBytes": r.peakMemory,
                         "shortest": r.found.map { ["verdict": $0.verdict.name, "length": $0.depth] }])
        }
    }
    if let path = args.value("--json") {
        let doc: [String: Any] = ["formatVersion": 1, "command": "bench-explore", "jobs": jobs, "timeLimit": limit, "runs": rows]
        let data = (try? JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        guard FileManager.default.createFile(atPath: path, contents: data) else { throw UsageError("\(path): cannot write the file") }
    }
    return 0
}
