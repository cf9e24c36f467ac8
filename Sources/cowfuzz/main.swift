import CowModel
import Foundation

/// cowfuzz: the command-line tool. Arguments are parsed by hand (no packages); every
/// command declares its options once, in `Commands.all`.
let usage = Commands.usage

let argv = CommandLine.arguments
let command = argv.count > 1 ? argv[1] : "help"
let rest: ArraySlice<String>
do { rest = try takeMaxFileSize(argv.dropFirst(2)) } catch {
    printErr("cowfuzz \(command): \(error)")
    exit(ExitStatus.usage.rawValue)
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
    "explore": runExplore,
    "bench-explore": runBenchExplore,
    "matrix": runMatrix,
]

if command == "--version" {
    print("cowfuzz \(cowfuzzVersion) (.cow format \(CowFormat.version))")
    exit(ExitStatus.clean.rawValue)
}
if command == "help" || command == "--help" || command == "-h" {
    if let name = rest.first {
        let specs = Commands.all.filter { $0.name == name || $0.name.hasPrefix(name + " ") }
        guard !specs.isEmpty else {
            printErr("cowfuzz: unknown command \(CowFormat.quote(name)) (run 'cowfuzz help')")
            exit(ExitStatus.usage.rawValue)
        }
        print(specs.map(\.help).joined(separator: "\n"), terminator: "")
    } else {
        print(usage)
    }
    exit(ExitStatus.clean.rawValue)
}
if let hidden = hiddenCommand(command) {
    exit(hidden(rest))
}
guard let run = commands[command] else {
    printErr("cowfuzz: unknown command \(CowFormat.quote(command)) (run 'cowfuzz help')")
    exit(ExitStatus.usage.rawValue)
}
do {
    exit(try run(rest))
} catch let h as HelpRequested {
    print(h.spec.help, terminator: "")
    exit(ExitStatus.clean.rawValue)
} catch let e as UsageError {
    printErr("cowfuzz \(command): \(CowFormat.printable(e.description))")
    exit(ExitStatus.usage.rawValue)
} catch {
    printErr("cowfuzz \(command): internal error: \(CowFormat.printable("\(error)"))")
    exit(ExitStatus.internalError.rawValue)
}
