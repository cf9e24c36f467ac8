import CowModel
import Foundation

/// cowfuzz: the command-line tool. Arguments are parsed by hand (no packages).
let usage = """
usage: cowfuzz <command> [options]

  fuzz      [--policies LIST|all] [--seed N] [--time D | --runs N] [--jobs N] [--max-ops N]
            [--ops LIST] [--no-swarm] [--corpus DIR] [--crashes DIR] [--report F.json]
            [--junit F.xml] [--shard I/N] [--diff A,B] [--backend model|real] [--real-tiers LIST]
  replay    FILE|DIR… [--policies LIST] [--json] [--backend model|real]
  shrink    FILE [-o FILE]
  explain   FILE [--policy P] [--backend model|real]
  compare   [--time D | --runs N] [--seed N] [--json]
  enumerate --depth N [--policies LIST]
  export-c  FILE [-o FILE.c]
  decode    FILE
  corpus    merge DIR… -o DIR | minimize DIR | seeds DIR… -o DIR | expect DIR…
  bench     [--quick]
  triage    FILE|DIR… [--policies LIST] [--corpus DIR] [--json] [--annotate]
  policies

exit status: 0 nothing new / all expectations hold; 1 new findings / an expectation
failed; 2 usage or input error; 3 internal error.
"""

let argv = CommandLine.arguments
let command = argv.count > 1 ? argv[1] : "help"
let rest: ArraySlice<String>
do { rest = try takeMaxFileSize(argv.dropFirst(2)) } catch {
    printErr("cowfuzz \(command): \(error)")
    exit(2)
}

let commands: [String: (ArraySlice<String>) throws -> Int32] = [
    "replay": runReplay,
    "explain": runExplain,
    "policies": runPolicies,
    "fuzz": runFuzz,
    "shrink": runShrink,
    "compare": runCompare,
    "bench": runBench,
    "enumerate": runEnumerate,
    "decode": runDecode,
    "corpus": runCorpus,
    "export-c": runExportCCommand,
    "triage": runTriage,
]

if command == "help" || command == "--help" || command == "-h" {
    print(usage)
    exit(0)
}
if let hidden = hiddenCommand(command) {
    exit(hidden(rest))
}
guard let run = commands[command] else {
    printErr("cowfuzz: unknown command \(CowFormat.quote(command)) (run 'cowfuzz help')")
    exit(2)
}
do {
    exit(try run(rest))
} catch let e as UsageError {
    printErr("cowfuzz \(command): \(CowFormat.printable(e.description))")
    exit(2)
} catch {
    printErr("cowfuzz \(command): internal error: \(CowFormat.printable("\(error)"))")
    exit(3)
}
