import CowFuzz
import Foundation

/// A usage or input error: one line on stderr and exit status 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// An internal error (a crashed helper): one line on stderr and exit status 3.
struct InternalError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// Hand-parsed command-line options (no packages): `--flag`, `--name value`, positionals.
struct Args {
    private(set) var positionals: [String] = []
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    private var consumed: Set<String> = []

    /// `valueOptions` take an argument (`--name value` or `--name=value`); `flagOptions`
    /// do not. Anything else starting with `-` is an error, and so are an option given
    /// twice (the last value would silently win) and an empty value (`--policies ""`
    /// from an unset variable would select nothing and check nothing).
    init(_ argv: ArraySlice<String>, valueOptions: Set<String>, flagOptions: Set<String>) throws {
        var it = argv.makeIterator()
        var seen: Set<String> = []
        func once(_ name: String) throws {
            guard seen.insert(name).inserted else { throw UsageError("\(name) given twice (give each option once)") }
        }
        while let a = it.next() {
            if a.hasPrefix("--"), let eq = a.firstIndex(of: "="), valueOptions.contains(String(a[..<eq])) || flagOptions.contains(String(a[..<eq])) {
                let name = String(a[..<eq])
                guard valueOptions.contains(name) else { throw UsageError("\(name) takes no value, got '\(a)'") }
                try once(name)
                let v = String(a[a.index(after: eq)...])
                guard !v.isEmpty else { throw UsageError("\(name) needs a value, got an empty one") }
                values[name] = v
            } else if valueOptions.contains(a) {
                try once(a)
                guard let v = it.next() else { throw UsageError("\(a) needs a value") }
                guard !v.isEmpty else { throw UsageError("\(a) needs a value, got an empty one") }
                values[a] = v
            } else if flagOptions.contains(a) {
                try once(a)
                flags.insert(a)
            } else if a.hasPrefix("-") && a.count > 1 {
                throw UsageError("unknown option \(a)")
            } else {
                positionals.append(a)
            }
        }
    }

    /// A comma-separated list option: nil when absent; an empty item (`a,,b`, `a,`) is an error.
    func list(_ name: String) throws -> [String]? {
        guard let v = values[name] else { return nil }
        let items = v.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !items.contains(where: \.isEmpty) else {
            throw UsageError("\(name) expects a comma-separated list without empty items, got '\(v)'")
        }
        return items
    }

    func value(_ name: String) -> String? { values[name] }
    func flag(_ name: String) -> Bool { flags.contains(name) }

    func int(_ name: String, default d: Int, range: ClosedRange<Int> = 0...Int.max) throws -> Int {
        guard let s = values[name] else { return d }
        guard let v = Int(s), range.contains(v) else {
            throw UsageError("\(name) expects a whole number from \(range.lowerBound) to \(range.upperBound), got '\(s)'")
        }
        return v
    }

    func uint64(_ name: String) throws -> UInt64? {
        guard let s = values[name] else { return nil }
        guard let v = UInt64(s) else { throw UsageError("\(name) expects a whole number, got '\(s)'") }
        return v
    }

    /// Durations such as `30s`, `5m`, `2h`, `500ms` or plain seconds.
    func duration(_ name: String) throws -> Double? {
        guard let s = values[name] else { return nil }
        guard let d = parseDuration(s) else { throw UsageError("\(name) expects a duration such as 30s, 5m or 1h, got '\(s)'") }
        return d
    }
}

func parseDuration(_ s: String) -> Double? {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    for (u, mul) in units where s.hasSuffix(u) {
        let num = s.dropLast(u.count)
        if let v = Double(num), v >= 0 { return v * mul }
    }
    if let v = Double(s), v >= 0 { return v }
    return nil
}

/// The policies named by `--policies LIST|all` (default all).
import CowModel
func selectPolicies(_ list: String?, option: String = "--policies") throws -> [PolicyEntry] {
    guard let list, list != "all" else { return PolicyRegistry.all }
    let names = list.split(separator: ",", omittingEmptySubsequences: false)
    guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
        throw UsageError("\(option) expects a comma-separated list of policies or 'all' without empty items, got '\(list)'")
    }
    var out: [PolicyEntry] = []
    for name in names {
        guard let p = PolicyRegistry.named(String(name)) else {
            throw UsageError("unknown policy '\(name)' (run 'cowfuzz policies' for the list)")
        }
        out.append(p)
    }
    return out
}

func printErr(_ s: String) {
    FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
}

/// Reads and parses a `.cow` file; a parse error becomes a one-line usage error.
func loadProgram(_ path: String) throws -> Program {
    do { return try CowFile.load(path) } catch { throw UsageError(error.description) }
}

/// The `.cow` files named by the arguments: files, or every `.cow` under a directory, sorted.
func collectCowFiles(_ paths: [String]) throws -> [String] {
    var out: [String] = []
    let fm = FileManager.default
    for p in paths {
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: p, isDirectory: &isDir) else {
            do { _ = try CowFile.read(p) } catch { throw UsageError(error.description) }
            throw UsageError("\(p): no such file or directory")
        }
        if isDir.boolValue {
            let items = (fm.enumerator(atPath: p)?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".cow") }.sorted()
            out += items.map { (p as NSString).appendingPathComponent($0) }
        } else {
            out.append(p)
        }
    }
    return out
}

/// Warns on stderr about each `.cow` file under `dirs` that is not a program, one line
/// each with its error; under `--strict` the first one is a usage error instead.
func checkStores(_ dirs: [String], command: String, strict: Bool) throws -> [CorpusStore.Skipped] {
    var all: [CorpusStore.Skipped] = []
    for dir in dirs {
        for s in CorpusStore.load(in: dir).skipped {
            if strict { throw UsageError("\(s.description) (--strict: every .cow file must parse)") }
            printErr("cowfuzz \(command): warning: skipping \(s.description)")
            all.append(s)
        }
    }
    return all
}

/// `--real-tiers` only means something to the real backend: with the model it is an error.
func rejectRealOnlyOptions(_ args: Args) throws {
    if args.value("--real-tiers") != nil && args.value("--backend") != "real" {
        throw UsageError("--real-tiers needs --backend real (the model runs every tier)")
    }
}

/// `--max-file-size N[K|M|G]` (bytes), a global option of every command: taken out of
/// the arguments before the command sees them.
func takeMaxFileSize(_ argv: ArraySlice<String>) throws -> ArraySlice<String> {
    var out: [String] = []
    var it = argv.makeIterator()
    var seen = false
    while let a = it.next() {
        var value: String?
        if a == "--max-file-size" {
            guard let v = it.next() else { throw UsageError("--max-file-size needs a value") }
            value = v
        } else if a.hasPrefix("--max-file-size=") {
            value = String(a.dropFirst("--max-file-size=".count))
        } else {
            out.append(a)
            continue
        }
        guard !seen else { throw UsageError("--max-file-size given twice (give each option once)") }
        seen = true
        let v = value ?? ""
        let units: [(String, Int)] = [("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("", 1)]
        guard let (u, mul) = units.first(where: { v.uppercased().hasSuffix($0.0) }),
              let n = Int(v.dropLast(u.count)), n >= 1, n <= (1 << 40) / mul else {
            throw UsageError("--max-file-size expects a size in bytes such as 4096, 512K or 64M, got \(CowFormat.quote(v))")
        }
        CowFile.maxBytes = n * mul
    }
    return ArraySlice(out)
}
