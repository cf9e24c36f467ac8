import CowFuzz
import CowModel
import CowOracle
import Foundation

/// `cowfuzz triage FILE|DIR… [--policies LIST] [--corpus DIR] [--json]`: groups the
/// programs by root cause and says which are catalogued historic bugs, which a corpus
/// program already shows, and which are new. Exit 1 when a group is new.
/// `--annotate` instead rewrites each file's `# root cause:` lines to what it shows.
func runTriage(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "triage")
    guard !args.positionals.isEmpty else { throw UsageError("triage needs at least one FILE or DIR") }
    let policies = try selectPolicies(args.value("--policies"))
    let files = try collectCowFiles(args.positionals)
    guard !files.isEmpty else { throw UsageError("no .cow files in \(args.positionals.joined(separator: " "))") }
    let programs = try files.map { (path: $0, program: try loadProgram($0)) }
    if args.flag("--annotate") { return try annotateRootCauses(programs, policies: policies) }
    var known = Set<SignatureKey>()
    if let dir = args.value("--corpus") {
        let corpus = try collectCowFiles([dir]).map { try loadProgram($0) }
        known = Triage.keys(of: corpus, policies: policies)
    }
    let groups = Triage.group(programs, policies: policies, known: known)
    let names = policies.map(\.name)
    if args.flag("--json") {
        print(triageJSON(groups, policies: names))
    } else {
        printTriage(groups, policies: names)
    }
    return groups.contains { $0.status == .new } ? 1 : 0
}

func printTriage(_ groups: [TriageGroup], policies: [String]) {
    print("\(groups.count) root cause\(groups.count == 1 ? "" : "s")")
    for g in groups {
        let label = g.bug.map { " — " + $0.label } ?? ""
        print("\(g.status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(g.signature.text)\(label)")
        print("            eras: \(g.signature.eraRange(among: policies))")
        let shown = g.files.prefix(3).map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")
        let more = g.files.count > 3 ? " (+\(g.files.count - 3) more)" : ""
        print("            \(g.files.count) file\(g.files.count == 1 ? "" : "s"), smallest \(g.smallestOps) ops: \(shown)\(more)")
    }
}

func triageJSON(_ groups: [TriageGroup], policies: [String]) -> String {
    struct Row: Encodable {
        var signature: String
        var hash: String
        var status: String
        var bug: String?
        var eraRange: String
        var policies: [String]
        var files: [String]
        var smallestOps: Int
    }
    struct Doc: Encodable {
        var formatVersion = 1
        var rootCauses: [Row]
    }
    let doc = Doc(rootCauses: groups.map {
        Row(signature: $0.signature.text, hash: $0.signature.hash, status: $0.status.rawValue, bug: $0.bug?.label,
            eraRange: $0.signature.eraRange(among: policies), policies: $0.signature.policies, files: $0.files,
            smallestOps: $0.smallestOps)
    })
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(data: try! enc.encode(doc), encoding: .utf8)!
}

/// Rewrites the `# root cause:` lines of each file (atomically, only when they change).
func annotateRootCauses(_ programs: [(path: String, program: Program)], policies: [PolicyEntry]) throws -> Int32 {
    let checker = ProgramChecker(policies: policies)
    var changed = 0
    for (path, prog) in programs {
        let sigs = Signature.of(prog, outcomes: checker.check(prog)).sorted { $0.key < $1.key }
        let old = try String(contentsOfFile: path, encoding: .utf8)
        let new = RootCauseNote.annotate(old, signatures: sigs)
        guard new != old else { continue }
        try CrashWriter.atomicWrite(Data(new.utf8), to: path)
        changed += 1
    }
    print("\(changed) of \(programs.count) file\(programs.count == 1 ? "" : "s") updated")
    return 0
}
