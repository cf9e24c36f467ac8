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
  explore   [--policies LIST] [--procs N] [--pages N] [--pins N] [--pipes N] [--values N] [--ops LIST]
            [--jobs N] [--time D] [--max-states N] [--first] [--no-symmetry] [--visited exact|hash|bitstate[:B]]
            [--json F] [-o DIR]
  bench-explore [--quick]
  export-c  FILE [-o FILE.c]
  decode    FILE
  corpus    merge DIR… -o DIR | minimize DIR
  bench     [--quick]
  triage    FILE|DIR… [--policies LIST] [--corpus DIR] [--json]
  policies

exit status: 0 nothing new / all expectations hold; 1 new findings / an expectation
failed; 2 usage or input error; 3 internal error.
"""

let argv = CommandLine.arguments
let command = argv.count > 1 ? argv[1] : "help"
let rest = argv.dropFirst(2)

let commands: [String: (ArraySlice<String>) throws -> Int32] = [
    "replay": runReplay,
    "explain": runExplain,
    "policies": runPolicies,
    "fuzz": runFuzz,
    "shrink": runShrink,
    "compare": runCompare,
    "bench": runBench,
    "enumerate": runEnumerate,
    "explore": runExplore,
    "bench-explore": runBenchExplore,
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
    printErr("cowfuzz: unknown command '\(command)' (run 'cowfuzz help')")
    exit(2)
}
do {
    exit(try run(rest))
} catch let e as UsageError {
    printErr("cowfuzz \(command): \(e.description)")
    exit(2)
} catch {
    printErr("cowfuzz \(command): internal error: \(error)")
    exit(3)
}
