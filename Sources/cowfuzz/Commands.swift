import CowModel

/// The tool's version, printed by `cowfuzz --version`.
let cowfuzzVersion = "0.1"

/// The exit statuses of every command.
enum ExitStatus: Int32 {
    /// Nothing new; every expectation held.
    case clean = 0
    /// New findings; an expectation failed.
    case findings = 1
    /// A usage or input error (one line on stderr).
    case usage = 2
    /// An internal error (one line on stderr).
    case internalError = 3

    static let text = """
    exit status: 0 nothing new / all expectations hold; 1 new findings / an expectation
    failed; 2 usage or input error; 3 internal error.
    """
}

/// One option of a command: its name, the placeholder of its value (nil for a flag)
/// and a line of help.
struct OptionSpec {
    let name: String
    let value: String?
    let help: String
    init(_ name: String, _ value: String? = nil, _ help: String) {
        self.name = name
        self.value = value
        self.help = help
    }
    var synopsis: String { value.map { "[\(name) \($0)]" } ?? "[\(name)]" }
}

/// A command as declared once: usage, `cowfuzz help CMD`, `cowfuzz CMD --help` and the
/// option parser (`Args(_:command:)`) all read this.
struct CommandSpec {
    let name: String
    /// The positional arguments, as the synopsis shows them.
    let operands: String
    let summary: String
    let options: [OptionSpec]

    var valueOptions: Set<String> { Set(options.filter { $0.value != nil }.map(\.name)) }
    var flagOptions: Set<String> { Set(options.filter { $0.value == nil }.map(\.name)) }

    /// `cowfuzz NAME OPERANDS [options…]`, wrapped at 96 columns with aligned continuation lines.
    var synopsis: String {
        let head = "cowfuzz " + name.padding(toLength: max(name.count, 9), withPad: " ", startingAt: 0) + " "
        var lines: [String] = []
        var line = head + operands
        for o in options {
            if line.count + 1 + o.synopsis.count > 96 {
                lines.append(line)
                line = String(repeating: " ", count: head.count) + o.synopsis
            } else {
                line += (line.hasSuffix(" ") ? "" : " ") + o.synopsis
            }
        }
        lines.append(line)
        return lines.map { String($0.reversed().drop(while: { $0 == " " }).reversed()) }.joined(separator: "\n")
    }

    var help: String {
        var out = synopsis + "\n\n" + summary + "\n"
        if !options.isEmpty {
            out += "\noptions:\n"
            for o in options {
                let left = "  " + o.name + (o.value.map { " " + $0 } ?? "")
                out += left.padding(toLength: max(left.count + 2, 26), withPad: " ", startingAt: 0) + o.help + "\n"
            }
        }
        out += "\nevery command also takes --max-file-size N (default 16M) and --help.\n"
        return out
    }
}

/// `--help` on a command line: main prints the command's help and exits 0.
struct HelpRequested: Error {
    let spec: CommandSpec
}

enum Commands {
    static let campaign: [OptionSpec] = [
        OptionSpec("--policies", "LIST", "comma-separated policy names, or all (default all)"),
        OptionSpec("--seed", "N", "the run seed (default 1)"),
        OptionSpec("--time", "D", "a duration budget such as 30s, 5m, 1h"),
        OptionSpec("--runs", "N", "a budget in programs"),
        OptionSpec("--jobs", "N", "worker threads (default: all cores)"),
        OptionSpec("--max-ops", "N", "longest program, 1 to 1000 (default 40)"),
        OptionSpec("--ops", "LIST", "op kinds to draw from (at least one of read, readpin, readpipe)"),
        OptionSpec("--backings", "LIST", "mappings mmap makes: anon,shared,file,thp,hugetlb (default all)"),
        OptionSpec("--no-swarm", nil, "every program draws from every allowed kind"),
        OptionSpec("--corpus", "DIR", "seeds and known signatures (default corpus/ if present)"),
        OptionSpec("--crashes", "DIR", "where new findings go (default crashes/)"),
        OptionSpec("--report", "F.json", "the versioned JSON report"),
        OptionSpec("--junit", "F.xml", "one test case per signature"),
        OptionSpec("--summary", "F.md", "a Markdown summary"),
        OptionSpec("--shard", "I/N", "run shard I of N"),
        OptionSpec("--diff", "A,B", "also report differences between policies A and B"),
        OptionSpec("--backend", "model|real", "the model (default) or the running kernel (fuzz only)"),
        OptionSpec("--real-tiers", "LIST", "ksm,swap,hugetlb for --backend real"),
        OptionSpec("--strict", nil, "a .cow file of --corpus or --crashes that does not parse is an error"),
        OptionSpec("--quiet", nil, "no progress line"),
    ]
    static let policies = OptionSpec("--policies", "LIST", "comma-separated policy names, or all (default all)")

    static let all: [CommandSpec] = [
        CommandSpec(name: "fuzz", operands: "", summary: "A coverage-guided swarm campaign over the policies.", options: campaign),
        CommandSpec(name: "replay", operands: "FILE|DIR…", summary: "Every program on every policy: the verdict table and the @expect check.",
                    options: [policies, OptionSpec("--json", nil, "print JSON"), OptionSpec("--verbose", nil, "print every violation"),
                              OptionSpec("--backend", "model|real", "the model (default) or the running kernel"),
                              OptionSpec("--real-tiers", "LIST", "ksm,swap,hugetlb for --backend real")]),
        CommandSpec(name: "explain", operands: "FILE", summary: "Step by step, policies side by side: decisions and every page the program names.",
                    options: [OptionSpec("--policy", "P", "one policy"), policies,
                              OptionSpec("--backend", "model|real", "the model (default) or the running kernel beside it"),
                              OptionSpec("--real-tiers", "LIST", "ksm,swap,hugetlb for --backend real")]),
        CommandSpec(name: "shrink", operands: "FILE", summary: "Shrinks a program keeping one of its signatures.",
                    options: [OptionSpec("-o", "FILE", "write the result here (default stdout)"), policies,
                              OptionSpec("--signature", "TEXT", "the signature to keep (default the first)"),
                              OptionSpec("--diff", "A,B", "keep a difference between policies A and B"),
                              OptionSpec("--quiet", nil, "no statistics on stderr")]),
        CommandSpec(name: "compare", operands: "", summary: "The policy × verdict matrix and efficiency figures of a campaign.",
                    options: campaign.filter { $0.name != "--backend" && $0.name != "--real-tiers" } + [OptionSpec("--json", nil, "print JSON")]),
        CommandSpec(name: "enumerate", operands: "", summary: "Every canonical program up to a depth over a tiny universe, on every policy.",
                    options: [OptionSpec("--depth", "N", "longest program, 1 to 32 (required)"), policies,
                              OptionSpec("--jobs", "N", "worker threads"), OptionSpec("--time", "D", "stop after this long"),
                              OptionSpec("--procs", "N", "processes, 1 to 4"), OptionSpec("--regions", "N", "regions, 1 to 4"),
                              OptionSpec("--pages", "N", "pages per region, 1 to 4"), OptionSpec("--pins", "N", "pins, 0 to 2"),
                              OptionSpec("--pipes", "N", "pipes, 0 to 2"), OptionSpec("--ops", "LIST", "op kinds"),
                              OptionSpec("--backings", "LIST", "anon,shared,file"), OptionSpec("--pin-flags", "LIST", "such as ro,rw,rw+longterm,get"),
                              OptionSpec("--advice", "LIST", "madvise advices"), OptionSpec("--ranges", nil, "page ranges on region ops"),
                              OptionSpec("--reuse-values", nil, "values may repeat"), OptionSpec("--fork-empty", nil, "fork before any mapping"),
                              OptionSpec("--quiet", nil, "no progress lines")]),
        CommandSpec(name: "explore", operands: "", summary: "Breadth-first search over machine states: the shortest counterexample per verdict, or a proof.",
                    options: [policies, OptionSpec("--procs", "N", "processes, 1 to 4"), OptionSpec("--regions", "N", "regions, 1 to 4"),
                              OptionSpec("--pages", "N", "pages per region, 1 to 4"), OptionSpec("--pins", "N", "pins, 0 to 2"),
                              OptionSpec("--pipes", "N", "pipes, 0 to 2"), OptionSpec("--values", "N", "distinct values, 1 to 16"),
                              OptionSpec("--pipe-depth", "N", "buffers per pipe"), OptionSpec("--ops", "LIST", "op kinds"),
                              OptionSpec("--backings", "LIST", "anon,shared,file"), OptionSpec("--pin-flags", "LIST", "such as ro,rw,rw+longterm,get"),
                              OptionSpec("--advice", "LIST", "madvise advices"), OptionSpec("--ranges", nil, "page ranges on region ops"),
                              OptionSpec("--jobs", "N", "worker threads"), OptionSpec("--time", "D", "stop after this long"),
                              OptionSpec("--max-states", "N", "stop after N states"), OptionSpec("--max-depth", "N", "stop at this depth"),
                              OptionSpec("--first", nil, "stop at the first counterexample"),
                              OptionSpec("--no-symmetry", nil, "no symmetry reduction (the 'before' count)"),
                              OptionSpec("--visited", "exact|hash|bitstate[:BITS]", "the visited set (bitstate is no proof)"),
                              OptionSpec("--json", "F", "write the report as JSON"), OptionSpec("-o", "DIR", "write counterexamples here"),
                              OptionSpec("--quiet", nil, "no progress lines")]),
        CommandSpec(name: "bench-explore", operands: "", summary: "explore on the issue-11 universes, side by side.",
                    options: [OptionSpec("--quick", nil, "shorter runs"), OptionSpec("--time", "D", "budget per universe"),
                              OptionSpec("--jobs", "N", "worker threads"), OptionSpec("--json", "F", "write the figures as JSON")]),
        CommandSpec(name: "matrix", operands: "", summary: "cow.c's backings × COW cases on every policy (and the real kernel): pass, FAIL(verdicts) or skip per cell.",
                    options: [policies, OptionSpec("--backend", "model|real|both", "the policies (default), the running kernel only, or both"),
                              OptionSpec("--real-tiers", "LIST", "ksm,swap,hugetlb for --backend real or both"),
                              OptionSpec("--scenarios", "LIST", "backings to run (default all; see --json or the README)"),
                              OptionSpec("--cases", "LIST", "COW cases to run (default all)"),
                              OptionSpec("--json", nil, "print JSON"),
                              OptionSpec("--emit", "DIR", "write each cell's program, with @expect lines, as DIR/SCENARIO.CASE.cow")]),
        CommandSpec(name: "export-c", operands: "FILE", summary: "A standalone C reproducer of a program.",
                    options: [OptionSpec("-o", "FILE.c", "write it here (default stdout)"),
                              OptionSpec("--real-tiers", "LIST", "ksm,swap,hugetlb")]),
        CommandSpec(name: "decode", operands: "FILE", summary: "A libFuzzer input (any bytes) as a .cow program with @expect lines.",
                    options: [OptionSpec("-o", "FILE", "write it here (default stdout)"), OptionSpec("--shrink", nil, "shrink it against its first signature"),
                              OptionSpec("--no-expect", nil, "no @expect lines")]),
        CommandSpec(name: "corpus merge", operands: "DIR…", summary: "Merges crashes/ directories by signature, keeping the smallest reproducer.",
                    options: [OptionSpec("-o", "DIR", "the merged directory (required)"), OptionSpec("--strict", nil, "a file that does not parse is an error")]),
        CommandSpec(name: "corpus minimize", operands: "DIR", summary: "Keeps a smallest subset of DIR with the same coverage and signatures.",
                    options: [OptionSpec("-o", "DIR", "copy the subset here instead of removing the rest"), policies,
                              OptionSpec("--dry-run", nil, "only print what would be kept"), OptionSpec("--strict", nil, "a file that does not parse is an error")]),
        CommandSpec(name: "corpus seeds", operands: "DIR|FILE…", summary: "Writes .cow programs as libFuzzer inputs.",
                    options: [OptionSpec("-o", "DIR", "the output directory (required)")]),
        CommandSpec(name: "corpus expect", operands: "DIR|FILE…", summary: "Rewrites @expect lines into their shortest equivalent form (*, ranges).",
                    options: []),
        CommandSpec(name: "bench", operands: "", summary: "Throughput and search figures; --parser runs the parser's self-fuzz.",
                    options: [OptionSpec("--quick", nil, "shorter runs"), OptionSpec("--jobs", "N", "worker threads"),
                              OptionSpec("--parser", "N", "parse N mutated corpus texts instead"), OptionSpec("--seed", "S", "the self-fuzz seed")]),
        CommandSpec(name: "triage", operands: "FILE|DIR…", summary: "Groups findings by root cause.",
                    options: [policies, OptionSpec("--corpus", "DIR", "known programs"), OptionSpec("--json", nil, "print JSON"),
                              OptionSpec("--annotate", nil, "rewrite the files' '# root cause:' lines instead")]),
        CommandSpec(name: "policies", operands: "", summary: "The era policies with their kernel ranges.", options: []),
    ]

    static func named(_ name: String) -> CommandSpec? { all.first { $0.name == name } }

    /// The usage text: every command's synopsis, then the exit statuses.
    static var usage: String {
        "usage:\n" + all.map(\.synopsis).joined(separator: "\n") + "\n\n"
            + "cowfuzz help CMD or cowfuzz CMD --help: a command's options; cowfuzz --version.\n\n" + ExitStatus.text
    }
}

extension Args {
    /// Parses `argv` with the options `command` declares; `--help` or `-h` anywhere
    /// asks for the command's help instead.
    init(_ argv: ArraySlice<String>, command: String) throws {
        guard let spec = Commands.named(command) else { throw UsageError("no declaration for command '\(command)'") }
        if argv.contains("--help") || argv.contains("-h") { throw HelpRequested(spec: spec) }
        try self.init(argv, valueOptions: spec.valueOptions, flagOptions: spec.flagOptions)
    }
}
