import CowFuzz
import CowModel
import CowOracle
import Foundation

// MARK: - enumerate

/// `cowfuzz enumerate --depth N`: every canonical program of up to N ops over a tiny
/// universe, on every policy; the shortest counterexample per policy and verdict, or
/// the statement that none exists up to that depth. Exit 1 when one was found.
func runEnumerate(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, valueOptions: ["--depth", "--policies", "--jobs", "--time", "--procs", "--regions", "--pages",
                                             "--pins", "--pipes", "--ops", "--backings", "--pin-flags", "--advice"],
                        flagOptions: ["--ranges", "--reuse-values", "--fork-empty", "--quiet"])
    if let extra = args.positionals.first { throw UsageError("unexpected argument '\(extra)'") }
    guard args.value("--depth") != nil else { throw UsageError("enumerate needs --depth N") }
    let depth = try args.int("--depth", default: 1, range: 1...32)
    let policies = try selectPolicies(args.value("--policies"))
    let jobs = try args.int("--jobs", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
    let time = try args.duration("--time")
    var u = EnumerationUniverse()
    u.processes = try args.int("--procs", default: u.processes, range: 1...4)
    u.regions = try args.int("--regions", default: u.regions, range: 1...4)
    u.pages = try args.int("--pages", default: u.pages, range: 1...4)
    u.pins = try args.int("--pins", default: u.pins, range: 0...2)
    u.pipes = try args.int("--pipes", default: u.pipes, range: 0...2)
    u.ranges = args.flag("--ranges")
    u.reuseValues = args.flag("--reuse-values")
    u.forkEmpty = args.flag("--fork-empty")
    if let list = args.value("--ops") {
        u.kinds = try list.split(separator: ",").map { w in
            guard let k = OpKind(name: String(w)), k != .race else { throw UsageError("--ops: unknown or unsupported op kind '\(w)'") }
            return k
        }
    }
    if let list = args.value("--backings") {
        u.backings = try list.split(separator: ",").map { w in
            switch w {
            case "anon": return .anon
            case "shared": return .shared
            case "file": return .file
            default: throw UsageError("--backings expects anon, shared or file, got '\(w)'")
            }
        }
    }
    if let list = args.value("--pin-flags") {
        u.pinFlags = try list.split(separator: ",").map { w in
            guard let f = EnumerationUniverse.parseFlags(String(w)) else {
                throw UsageError("--pin-flags expects sets such as ro, rw, rw+longterm, get; got '\(w)'")
            }
            return f
        }
    }
    if let list = args.value("--advice") {
        u.advices = try list.split(separator: ",").map { w in
            guard let a = Advice(name: String(w)) else { throw UsageError("--advice: unknown advice '\(w)'") }
            return a
        }
    }
    do { try u.validate() } catch { throw UsageError(error.description) }

    let quiet = args.flag("--quiet")
    let tty = isatty(STDERR_FILENO) != 0
    let enumerator = Enumerator(u)
    print("enumerate: every program of 1…\(depth) ops over \(u.summary)")
    print(u.alphabet)
    print("policies: \(policies.map(\.name).joined(separator: " "))")
    let report = enumerator.search(depth: depth, policies: policies, jobs: jobs, timeLimit: time) { d, n, secs in
        if tty && !quiet { printErr(String(format: "  depth %d: %d programs (%.1f s)", d, n, secs)) }
    }
    print(enumerationText(report))
    return report.found.isEmpty ? 0 : 1
}

/// The report of `enumerate` (deterministic apart from the last line's figures).
func enumerationText(_ r: EnumerationReport) -> String {
    var out = "\ndepth  programs\n"
    for (d, n) in r.programsPerDepth.enumerated() {
        let mark = d + 1 > r.completedDepth ? "  (stopped: time limit)" : ""
        out += String(d + 1).padding(toLength: 7, withPad: " ", startingAt: 0) + String(n) + mark + "\n"
    }
    if r.skippedPrograms > 0 { out += "(\(r.skippedPrograms) program(s) dropped because an op skipped)\n" }
    out += r.stoppedEarly
        ? "complete through depth \(r.completedDepth) of \(r.requestedDepth)\n"
        : "complete through depth \(r.completedDepth)\n"
    let width = max(12, (r.policies.map(\.count).max() ?? 0) + 2)
    out += "\nshortest counterexample per policy and verdict\n"
    for p in r.policies {
        for v in Verdict.allCases {
            let head = "  " + p.padding(toLength: width, withPad: " ", startingAt: 0) + v.name.padding(toLength: 11, withPad: " ", startingAt: 0)
            if let c = r.shortest(p, v) {
                let partial = c.partialDepth ? ", depth not complete" : ""
                out += head + "\(c.depth) ops (\(c.count) program(s) of that length\(partial)):\n"
                for op in c.program.ops { out += "      " + op.text + "\n" }
            } else {
                out += head + "none up to depth \(r.completedDepth)\n"
            }
        }
    }
    let rate = r.seconds > 0 ? Double(r.programs) / r.seconds : 0
    out += String(format: "\n%d programs in %.1f s: %.0f programs/s with %d job(s)", r.programs, r.seconds, rate, r.jobs)
    return out
}

// MARK: - decode

func runDecode(_ argv: ArraySlice<String>) throws -> Int32 { throw UsageError("decode is not built yet") }

// MARK: - corpus

func runCorpus(_ argv: ArraySlice<String>) throws -> Int32 { throw UsageError("corpus is not built yet") }
