import CowModel
import CowOracle
import Foundation

/// `cowfuzz policies`: the era policies with their kernel ranges.
func runPolicies(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "policies")
    if let extra = args.positionals.first { throw UsageError("unexpected argument '\(extra)'") }
    for p in PolicyRegistry.all {
        print(p.name.padding(toLength: 12, withPad: " ", startingAt: 0) + p.kernels.padding(toLength: 30, withPad: " ", startingAt: 0) + p.summary)
    }
    return 0
}

/// One file's replay: the verdicts per policy and whether each expectation held.
struct ReplayRow {
    var file: String
    var program: Program
    var cells: [(policy: String, verdicts: VerdictSet, expected: VerdictSet?, violations: [Violation])]
    var failed: Bool { cells.contains { $0.expected != nil && $0.expected != $0.verdicts } }
}

/// `cowfuzz replay FILE|DIR…`: every program on every policy, the verdict table, and
/// the `@expect` check (exit 1 when one fails).
func runReplay(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "replay")
    guard !args.positionals.isEmpty else { throw UsageError("replay needs at least one FILE or DIR") }
    let backend = args.value("--backend") ?? "model"
    guard backend == "model" || backend == "real" else { throw UsageError("--backend expects model or real, got '\(backend)'") }
    try rejectRealOnlyOptions(args)
    let policies = try selectPolicies(args.value("--policies"))
    let files = try collectCowFiles(args.positionals)
    guard !files.isEmpty else { throw UsageError("no .cow files in \(args.positionals.joined(separator: " "))") }
    let programs = try files.map { ($0, try loadProgram($0)) }
    if backend == "real" {
        return try replayReal(programs, policies: policies, args: args)
    }
    let checker = ProgramChecker(policies: policies, options: RunOptions(paranoid: true))
    var rows: [ReplayRow] = []
    for (file, prog) in programs {
        let outcomes = checker.check(prog)
        rows.append(ReplayRow(file: file, program: prog, cells: outcomes.map {
            ($0.policy, $0.verdicts, prog.expected(for: $0.policy), $0.violations)
        }))
    }
    if args.flag("--json") {
        print(replayJSON(rows))
    } else {
        printReplayTable(rows, policies: policies.map(\.name), verbose: args.flag("--verbose"))
    }
    return rows.contains(where: \.failed) ? 1 : 0
}

func printReplayTable(_ rows: [ReplayRow], policies: [String], verbose: Bool) {
    let nameWidth = min(48, max(8, rows.map { ($0.file as NSString).lastPathComponent.count }.max() ?? 8)) + 2
    let cellMax = rows.flatMap { $0.cells.map { $0.verdicts.text.count + 1 } }.max() ?? 0
    let col = max(12, cellMax, policies.map(\.count).max() ?? 12) + 2
    var header = "program".padding(toLength: nameWidth, withPad: " ", startingAt: 0)
    for p in policies { header += p.padding(toLength: col, withPad: " ", startingAt: 0) }
    print(header)
    var failures: [String] = []
    for row in rows {
        var line = String((row.file as NSString).lastPathComponent.prefix(nameWidth - 2)).padding(toLength: nameWidth, withPad: " ", startingAt: 0)
        for p in policies {
            guard let c = row.cells.first(where: { $0.policy == p }) else {
                line += "".padding(toLength: col, withPad: " ", startingAt: 0)
                continue
            }
            var cell = c.verdicts.text
            if let e = c.expected, e != c.verdicts {
                cell = "!" + cell
                failures.append("\(row.file): \(p): expected \(e.text), got \(c.verdicts.text)"
                    + (c.violations.first.map { " (\($0.description))" } ?? ""))
            }
            line += cell.padding(toLength: col, withPad: " ", startingAt: 0)
        }
        print(line)
        if verbose {
            for c in row.cells { for v in c.violations { print("    " + v.description) } }
        }
    }
    print("\(rows.count) program(s), \(rows.filter(\.failed).count) with a failed expectation ('!' marks it)")
    for f in failures { print("FAIL " + f) }
}

func replayJSON(_ rows: [ReplayRow]) -> String {
    let list: [[String: Any]] = rows.map { row in
        var pol: [String: Any] = [:]
        for c in row.cells {
            var d: [String: Any] = ["verdicts": c.verdicts.verdicts.map(\.name)]
            if let e = c.expected {
                d["expected"] = e.verdicts.map(\.name)
                d["ok"] = e == c.verdicts
            }
            d["violations"] = c.violations.map { ["verdict": $0.verdict.name, "op": $0.op, "message": $0.message] as [String: Any] }
            pol[c.policy] = d
        }
        return ["file": row.file, "policies": pol, "ok": !row.failed]
    }
    let doc: [String: Any] = ["formatVersion": 1, "programs": list]
    let data = (try? JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    return String(data: data, encoding: .utf8) ?? "{}"
}

// MARK: - explain

/// `cowfuzz explain FILE [--policy P]`: step by step, policies side by side.
func runExplain(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "explain")
    guard args.positionals.count == 1 else { throw UsageError("explain needs exactly one FILE") }
    let prog = try loadProgram(args.positionals[0])
    var policies = try selectPolicies(args.value("--policies"))
    if let one = args.value("--policy") {
        guard args.value("--policies") == nil else { throw UsageError("give --policy or --policies, not both") }
        policies = try selectPolicies(one, option: "--policy")
    }
    let backend = args.value("--backend") ?? "model"
    guard backend == "model" || backend == "real" else { throw UsageError("--backend expects model or real, got '\(backend)'") }
    try rejectRealOnlyOptions(args)
    if backend == "real" { return try explainReal(prog, file: args.positionals[0], args: args) }
    explainText(prog, policies: policies) { print($0, terminator: "") }
    return 0
}

/// The explanation as text, emitted op by op: each policy's machine steps in lockstep
/// and shows only the pages the program names, so memory stays O(named pages ×
/// policies) whatever the program's length (issue 15 item 4).
func explainText(_ prog: Program, policies: [PolicyEntry], emit: (String) -> Void) {
    let outcomes = Checker.check(prog, policies: policies, options: RunOptions(paranoid: true))
    var out = ""
    let single = policies.count == 1
    let col = single ? 60 : 24
    out += """
    Each cell shows one page of one process after the op:
      fN = physical frame N (a copy gets a new number), m = mapcount, r = refcount
      (a FOLL_PIN adds 1024 to a small page), P = pins, G = FOLL_GET references (pipes),
      X = PageAnonExclusive, W = writable, ro = read-only, Z = the shared zero page,
      pc = a page-cache page of the file, sh = a shmem page, v = the page's value.
    Decisions: COPY (the faulting process gets a new frame), REUSE (it keeps the frame and
    maps it writable), UNSHARE (a R/O pin makes the page exclusive first), EAGER COPY (fork
    gives the child its own copy), SHARE (fork maps the frame in both, read-only).
    r counts every holder: mappings, pins, pipe buffers, the swap cache, and the LRU-add
    batch that holds a new page until it is drained.


    """
    out += "The policies:\n"
    for p in policies { out += "  \(p.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(p.kernels): \(p.summary)\n" }
    out += "\n"
    // Pages named by the program, in first-use order.
    let named = prog.namedPages.map { ($0.process, $0.region, $0.page) }
    let sessions = policies.map { $0.explainSession(prog, pages: prog.namedPages) }
    var head = "".padding(toLength: 12, withPad: " ", startingAt: 0)
    for p in policies { head += p.name.padding(toLength: col, withPad: " ", startingAt: 0) }
    for (k, op) in prog.ops.enumerated() {
        emit(out)
        out = ""
        // This op's step of every policy.
        let steps = sessions.map { $0.next()! }
        out += "#\(k)  \(op.text)\n"
        out += head + "\n"
        var status = "  result".padding(toLength: 12, withPad: " ", startingAt: 0)
        for s in steps {
            let st = s
            var t: String
            switch st.status {
            case .executed: t = st.observed >= 0 ? "saw \(st.observed)" : "ok"
            case let .skipped(why): t = "skip: " + why.text
            case let .failed(why): t = "FAILED: " + why.text
            }
            status += String(t.prefix(col - 1)).padding(toLength: col, withPad: " ", startingAt: 0)
        }
        out += status + "\n"
        if case .race = op {
            // A race: each policy's interleaved steps with their lane, process and pages.
            for (pi, s) in steps.enumerated() where !s.substeps.isEmpty {
                out += "  \(policies[pi].name) steps:\n"
                for sub in s.substeps {
                    let who = sub.process >= 0 ? "p\(sub.process)" : "-"
                    let evs = sub.events.compactMap(describe).joined(separator: "; ")
                    out += "    lane \(sub.lane) (\(who)): \(sub.text)\(sub.blocked ? " [blocked]" : "")\(evs.isEmpty ? "" : " — " + evs)\n"
                    guard !sub.blocked else { continue }
                    for (p, r, i) in named {
                        guard let c = sub.pages.first(where: { $0.process == p && $0.region == r && $0.page == i }) else { continue }
                        out += "        p\(p) r\(r)[\(i)]  \(cellText(c))\n"
                    }
                }
            }
        }
        let decisionRows = steps.map { s in s.events.compactMap(describe) }
        let maxRows = decisionRows.map(\.count).max() ?? 0
        for row in 0..<maxRows {
            var line = (row == 0 ? "  decision" : "").padding(toLength: 12, withPad: " ", startingAt: 0)
            for d in decisionRows {
                line += String((row < d.count ? d[row] : "").prefix(col - 1)).padding(toLength: col, withPad: " ", startingAt: 0)
            }
            out += line + "\n"
        }
        for (p, r, i) in named {
            let cells = steps.map { s in s.pages.first(where: { $0.process == p && $0.region == r && $0.page == i }) }
            if cells.allSatisfy({ $0 == nil }) { continue }
            var line = "  p\(p) r\(r)[\(i)]".padding(toLength: 12, withPad: " ", startingAt: 0)
            for c in cells { line += String(cellText(c).prefix(col - 1)).padding(toLength: col, withPad: " ", startingAt: 0) }
            out += line + "\n"
        }
        out += "\n"
    }
    out += "Verdicts\n"
    for o in outcomes {
        let exp = prog.expected(for: o.policy).map { $0 == o.verdicts ? " (as expected)" : " (EXPECTED \($0.text))" } ?? ""
        out += "  \(o.policy.padding(toLength: 12, withPad: " ", startingAt: 0)) \(o.verdicts.text)\(exp)\n"
        for v in o.violations { out += "      " + v.description + "\n" }
    }
    emit(out + "\n")
}

func cellText(_ v: PageView?) -> String {
    guard let v else { return "·" }
    switch v.entry {
    case "-": return "(not faulted in)"
    case "swap": return "swap slot \(v.frame)\(v.exclusive ? " X" : "")"
    case "migration": return "migration f\(v.frame)"
    default: break
    }
    // The shared zero page holds 0 unless a bug (Dirty COW on a private anonymous
    // mapping) stored into it: show what it holds, loudly.
    if v.kind == .zero { return v.content == 0 ? "Z ro v0" : "Z ro v\(v.content) (the zero page was written!)" }
    var s = "f\(v.frame)"
    switch v.kind {
    case .pagecache: s += " pc"
    case .shmem: s += " sh"
    default: break
    }
    s += " m\(v.mapcount) r\(v.refcount)"
    if v.pins > 0 { s += " P\(v.pins)" }
    if v.gets > 0 { s += " G\(v.gets)" }
    if v.exclusive { s += " X" }
    s += v.writable ? " W" : " ro"
    if v.pmd { s += " pmd" } else if v.order > 0 { s += " thp" }
    if v.ksm { s += " ksm" }
    if v.swapcache { s += " sc" }
    s += " v\(v.content)"
    return s
}

func describe(_ e: Event) -> String? {
    let at = e.process >= 0 ? "p\(e.process) r\(e.region)[\(e.page)]" : ""
    switch e.kind {
    case .copy: return "COPY f\(e.from)→f\(e.to) \(at)"
    case .reuse: return "REUSE f\(e.from) \(at)"
    case .unshare: return "UNSHARE (reuse) f\(e.from)"
    case .unshareCopy: return "UNSHARE COPY f\(e.from)→f\(e.to)"
    case .eagerCopy: return "EAGER COPY f\(e.from)→f\(e.to) for p\(e.process)"
    case .zeroFill: return "zero page → new f\(e.to)"
    case .share: return "SHARE f\(e.from) ro"
    case .gupForcedCow: return "GUP forces COW break"
    case .mprotectUpgrade: return "mprotect: f\(e.from) X → W"
    case .pmdSplit: return "split PMD of f\(e.from)"
    case .folioSplit: return "split folio f\(e.from)"
    case .swapout: return "swap out f\(e.from)"
    case .swapin: return "swap in → f\(e.to)"
    case .migrate: return "migrate f\(e.from)→f\(e.to)"
    case .ksmMerge: return "KSM merge → f\(e.to)"
    case .ksmBreak: return "KSM break f\(e.from)"
    case .refused: return "refused f\(e.from)"
    case .clearExclusive: return "clear X f\(e.from)"
    case .lruDrain: return "drain LRU batch"
    case .fault, .free: return nil
    }
}
