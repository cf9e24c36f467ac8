import CowFuzz
import CowModel
import CowOracle
import Foundation

// MARK: - enumerate

/// `cowfuzz enumerate --depth N`: every canonical program of up to N ops over a tiny
/// universe, on every policy; the shortest counterexample per policy and verdict, or
/// the statement that none exists up to that depth. Exit 1 when one was found.
func runEnumerate(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "enumerate")
    if let extra = args.positionals.first { throw UsageError("unexpected argument '\(extra)'") }
    guard args.value("--depth") != nil else { throw UsageError("enumerate needs --depth N") }
    let depth = try args.int("--depth", default: 1, range: 1...32)
    let policies = try selectPolicies(args.value("--policies"))
    let jobs = try args.int("--jobs", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)
    let time = try args.duration("--time")
    var u = try parseUniverse(args)
    u.reuseValues = args.flag("--reuse-values")
    u.forkEmpty = args.flag("--fork-empty")
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
    var out = "\ndepth  programs    done after (s)\n"
    for (d, n) in r.programsPerDepth.enumerated() {
        let mark = d + 1 > r.completedDepth ? "  (stopped: time limit)" : ""
        out += String(d + 1).padding(toLength: 7, withPad: " ", startingAt: 0) + String(n).padding(toLength: 12, withPad: " ", startingAt: 0)
            + String(format: "%.1f", r.secondsAtDepth[d]) + mark + "\n"
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

/// `cowfuzz decode FILE [-o FILE] [--shrink] [--no-expect]`: a libFuzzer input (any
/// bytes) as a `.cow` program, with the verdicts of every policy as `@expect` lines.
/// `--shrink` shrinks it against its first signature (a readable reproducer).
func runDecode(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "decode")
    guard args.positionals.count == 1 else { throw UsageError("decode needs exactly one FILE") }
    let path = args.positionals[0]
    guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("\(path): cannot read the file") }
    var prog = ByteDecoder.decode([UInt8](data))
    let checker = ProgramChecker(policies: PolicyRegistry.all, options: RunOptions(paranoid: true))
    var outcomes = checker.check(prog)
    let signatures = Signature.of(prog, outcomes: outcomes)
    var comments = [" decoded from \(path) (\(data.count) bytes, \(prog.ops.count) ops) by cowfuzz decode"]
    if args.flag("--shrink"), let sig = signatures.first {
        let result = Shrinker(policies: PolicyRegistry.all).shrink(prog, keeping: sig)
        comments.append(" shrunk from \(prog.ops.count) to \(result.program.ops.count) ops keeping \(sig.text)")
        prog = result.program
        outcomes = checker.check(prog)
    }
    for s in Signature.of(prog, outcomes: outcomes) { comments.append(" finding: \(s.text)") }
    prog.comments = comments
    if !args.flag("--no-expect") {
        prog.expectations = outcomes.map { Expectation(policy: $0.policy, verdicts: $0.verdicts) }
    }
    if let out = args.value("-o") {
        do { try OutputFile.write(Data(prog.text.utf8), to: out) } catch { throw UsageError("-o \(out): \(error.reason)") }
    } else {
        print(prog.text, terminator: "")
    }
    return 0
}

// MARK: - corpus

/// `cowfuzz corpus merge DIR… -o DIR | minimize DIR [-o DIR] [--dry-run] | seeds DIR… -o DIR`.
func runCorpus(_ argv: ArraySlice<String>) throws -> Int32 {
    guard let sub = argv.first else { throw UsageError("corpus needs merge, minimize, seeds or expect") }
    if sub == "--help" || sub == "-h" {
        print(Commands.all.filter { $0.name.hasPrefix("corpus ") }.map(\.help).joined(separator: "\n"), terminator: "")
        return 0
    }
    let rest = argv.dropFirst()
    switch sub {
    case "merge": return try corpusMerge(rest)
    case "minimize": return try corpusMinimize(rest)
    case "seeds": return try corpusSeeds(rest)
    case "expect": return try corpusExpect(rest)
    default: throw UsageError("unknown corpus command '\(sub)' (expected merge, minimize, seeds or expect)")
    }
}

/// `cowfuzz corpus expect DIR|FILE…`: rewrites `@expect` lines into their shortest
/// equivalent form (`@expect * clean`, `@expect linux-4.8..linux-5.7 isolation`).
func corpusExpect(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "corpus expect")
    guard !args.positionals.isEmpty else { throw UsageError("corpus expect needs at least one FILE or DIR") }
    let files = try collectCowFiles(args.positionals)
    var changed = 0
    for path in files {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let new: String?
        do { new = try ExpectCompaction.compacted(text, file: path) } catch let e as ParseError { throw UsageError(e.description) }
        guard let new else { continue }
        try CrashWriter.atomicWrite(Data(new.utf8), to: path)
        changed += 1
    }
    print("\(changed) of \(files.count) file\(files.count == 1 ? "" : "s") rewritten")
    return 0
}

/// Merges the `crashes/` of several runs (shards) by signature, keeping the smallest
/// reproducer of each with its JSON sidecar.
func corpusMerge(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "corpus merge")
    guard !args.positionals.isEmpty else { throw UsageError("corpus merge needs at least one DIR") }
    guard let out = args.value("-o") else { throw UsageError("corpus merge needs -o DIR") }
    _ = try checkStores(args.positionals, command: "corpus merge", strict: args.flag("--strict"))
    let candidates: [CorpusTools.Candidate]
    do { candidates = try CorpusTools.candidates(in: args.positionals) } catch { throw UsageError(error.description) }
    let merged = CorpusTools.merge(candidates)
    do { try CorpusTools.write(merged.map(\.kept), to: out) } catch { throw UsageError(error.description) }
    for (c, n) in merged {
        print("\(c.signature.text): \(c.program.ops.count) ops from \(c.path) (smallest of \(n))")
    }
    print("\(merged.count) signature(s) from \(candidates.count) reproducer(s) in \(args.positionals.count) dir(s) -> \(out)")
    return 0
}

/// Keeps a smallest subset of the programs of DIR with the same coverage (and
/// signatures): copies it to `-o DIR`, or removes the others from DIR in place.
func corpusMinimize(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "corpus minimize")
    guard args.positionals.count == 1 else { throw UsageError("corpus minimize needs exactly one DIR") }
    let dir = args.positionals[0]
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { throw UsageError("\(dir): not a directory") }
    let policies = try selectPolicies(args.value("--policies"))
    _ = try checkStores([dir], command: "corpus minimize", strict: args.flag("--strict"))
    let files = CorpusStore.programs(in: dir)
    let (kept, total) = CorpusTools.minimize(files.map(\.program), policies: policies)
    let keptSet = Set(kept)
    let fm = FileManager.default
    if let out = args.value("-o"), !args.flag("--dry-run") {
        do {
            try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
            for i in kept {
                let name = (files[i].path as NSString).lastPathComponent
                let dest = (out as NSString).appendingPathComponent(name)
                if fm.fileExists(atPath: dest) { try fm.removeItem(atPath: dest) }
                try fm.copyItem(atPath: files[i].path, toPath: dest)
            }
        } catch { throw UsageError("\(out): \(error.localizedDescription)") }
    } else if !args.flag("--dry-run") {
        for (i, f) in files.enumerated() where !keptSet.contains(i) {
            try? fm.removeItem(atPath: f.path)
            try? fm.removeItem(atPath: (f.path as NSString).deletingPathExtension + ".json")
        }
    }
    for (i, f) in files.enumerated() { print((keptSet.contains(i) ? "keep   " : "drop   ") + f.path) }
    let verb = args.flag("--dry-run") ? "would keep" : "kept"
    print("\(verb) \(kept.count) of \(files.count) program(s): \(total.count) coverage points and signatures on \(policies.count) policies")
    return 0
}

/// Writes `.cow` programs as libFuzzer inputs (`ByteDecoder.encode`), one file each.
func corpusSeeds(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "corpus seeds")
    guard !args.positionals.isEmpty else { throw UsageError("corpus seeds needs at least one DIR or FILE") }
    guard let out = args.value("-o") else { throw UsageError("corpus seeds needs -o DIR") }
    let files = try collectCowFiles(args.positionals)
    do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
        throw UsageError("\(out): \(error.localizedDescription)")
    }
    var approximate = 0
    for f in files {
        let prog = try loadProgram(f)
        let bare = Program(ops: prog.ops, thpOrder: prog.thpOrder)
        if !ByteDecoder.represents(bare) { approximate += 1 }
        let name = ((f as NSString).lastPathComponent as NSString).deletingPathExtension + ".bin"
        let dest = (out as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: dest, contents: Data(ByteDecoder.encode(bare))) else {
            throw UsageError("\(dest): cannot write the file")
        }
    }
    print("\(files.count) seed(s) -> \(out)" + (approximate > 0 ? " (\(approximate) approximate: outside the decoder's universe)" : ""))
    return 0
}
