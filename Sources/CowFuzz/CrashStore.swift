import CowModel
import CowOracle
import Foundation

/// Reading the `.cow` programs of `corpus/` and `crashes/`.
public enum CorpusStore {
    /// A file that could not be read as a program, and why (its parse error).
    public struct Skipped: Hashable, Sendable, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { reason.hasPrefix(path) ? reason : "\(path): \(reason)" }
    }

    /// Every parseable `.cow` file under `dir`, sorted by path, and the files skipped
    /// with their errors (callers warn about each, or refuse under `--strict`).
    public static func load(in dir: String) -> (programs: [(path: String, program: Program)], skipped: [Skipped]) {
        let fm = FileManager.default
        guard let names = try? fm.subpathsOfDirectory(atPath: dir) else { return ([], []) }
        var out: [(String, Program)] = []
        var skipped: [Skipped] = []
        for name in names.sorted() where name.hasSuffix(".cow") {
            let path = (dir as NSString).appendingPathComponent(name)
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { continue }
            do {
                out.append((path, try CowFile.load(path)))
            } catch {
                skipped.append(Skipped(path: path, reason: error.description))
            }
        }
        return (out, skipped)
    }

    /// Every parseable `.cow` file under `dir`, sorted by path (see `load` for the skipped).
    public static func programs(in dir: String) -> [(path: String, program: Program)] {
        load(in: dir).programs
    }
}

/// The JSON sidecar of a crash file.
public struct CrashRecord: Hashable, Sendable, Codable {
    public static let formatVersion = 1
    public var formatVersion: Int
    public var signature: String
    public var kind: String
    public var opKind: String?
    public var policies: [String]
    public var file: String
    public var ops: Int
    public var originalOps: Int
    public var seed: UInt64
    public var programIndex: Int
    public var origin: String
    public var swarm: [String]
    public var foundAtSeconds: Double
    public var foundAfterPrograms: Int
    public var predicateCalls: Int
    public var shrinkPasses: [ShrinkPassStats]
    /// The verdicts of every registered policy, as in the `@expect` lines.
    public var verdicts: [String: String]
    public var found: String
    public var replay: String

    /// Decodes a sidecar, rejecting an unknown `formatVersion` clearly.
    public static func decode(_ data: Data) throws -> CrashRecord {
        struct Version: Decodable { var formatVersion: Int? }
        let v = try JSONDecoder().decode(Version.self, from: data)
        guard v.formatVersion == formatVersion else {
            throw CrashStoreError.unsupportedVersion(v.formatVersion)
        }
        return try JSONDecoder().decode(CrashRecord.self, from: data)
    }
}

public enum CrashStoreError: Error, CustomStringConvertible {
    case unsupportedVersion(Int?)
    case write(String, String)

    public var description: String {
        switch self {
        case let .unsupportedVersion(v):
            "unsupported crash sidecar formatVersion \(v.map(String.init) ?? "(missing)") (this cowfuzz reads \(CrashRecord.formatVersion))"
        case let .write(path, why): "cannot write \(path): \(why)"
        }
    }
}

/// Writes findings to `crashes/<slug>-<hash>.cow` plus a JSON sidecar, atomically
/// (a temporary file in the same directory, then `rename`), so a reader never sees a
/// half-written reproducer and an interrupted run leaves no debris.
public struct CrashWriter: Sendable {
    public var directory: String
    /// The backend that found what is written (its `@expect` lines and replay options);
    /// nil: the model.
    public var backend: CampaignBackend?

    public init(directory: String, backend: CampaignBackend? = nil) {
        self.directory = directory
        self.backend = backend
    }

    /// The text of a finding's crash file: a header comment saying what it is, how it
    /// was found and the one command that replays it; `@expect` lines for every
    /// registered policy as observed; the canonical program.
    public static func text(_ f: Finding, path: String, seed: UInt64, commandLine: String,
                            backend: CampaignBackend? = nil) -> (String, [String: String]) {
        let checker = ProgramChecker(policies: PolicyRegistry.all, options: RunOptions(paranoid: true))
        var prog = f.program.bare
        let outcomes = checker.check(prog)
        var verdicts: [String: String] = [:]
        prog.expectations = outcomes.map { Expectation(policy: $0.policy, verdicts: $0.verdicts) }
        for o in outcomes { verdicts[o.policy] = o.verdicts.text }
        for e in backend?.expectations?(prog) ?? [] {
            prog.expectations.append(e)
            verdicts[e.policy] = e.verdicts.text
        }
        let options = backend?.replayOptions ?? ""
        var comments = [
            " \(f.signature.text)",
            (backend.map { " on: \(f.signature.eraRange(among: $0.policyNames))" } ?? " eras: \(f.signature.eraRange())")
                + (f.bug.map { "; catalogued: \($0.label)" } ?? ""),
            " Found by '\(commandLine)' (seed \(seed)), program #\(f.programIndex) (\(f.origin == .mutant ? "a mutant of a pool program" : "a fresh program"), \(f.originalOps) ops),",
        ]
        if let s = f.shrink {
            comments.append(" shrunk to \(f.program.ops.count) ops in \(s.predicateCalls) predicate calls\(s.complete ? "" : " (stopped early: may not be minimal)")"
                + (f.shrunkPrograms > 1 ? " (the smallest of \(f.shrunkPrograms) programs with this signature, shrunk)." : "."))
        }
        if !f.swarm.isEmpty { comments.append(" Swarm: \(f.swarm.map(\.name).joined(separator: ","))") }
        if let example = outcomes.first(where: { o in f.signature.policies.contains(o.policy) })?.violations.first(where: {
            FindingKind($0.verdict) == f.signature.kind
        }) {
            comments.append(" \(example.description)")
        }
        comments.append(" Replay: cowfuzz replay \(path)\(options)")
        if !options.isEmpty {
            comments.append(" Explain: cowfuzz explain \(path)\(options)")
        } else if let p = f.signature.policies.first {
            comments.append(" Explain: cowfuzz explain \(path) --policy \(p)")
        }
        prog.comments = comments
        return (prog.text, verdicts)
    }

    /// What `writeKeepingSmaller` did.
    public enum Outcome: Hashable, Sendable {
        /// The finding's reproducer is now the file.
        case wrote
        /// A reproducer no larger in shortlex order already stood there (another run's,
        /// sharing the directory): it was kept.
        case keptSmaller
    }

    /// Writes the finding and its sidecar; returns the `.cow` path (see `writeKeepingSmaller`).
    @discardableResult
    public func write(_ f: Finding, seed: UInt64, commandLine: String) throws -> String {
        try writeKeepingSmaller(f, seed: seed, commandLine: commandLine).path
    }

    /// Runs `body` holding an exclusive advisory lock (`flock`) on `<directory>/.lock`,
    /// so runs that share one crashes directory write and clean it one at a time.
    public func locked<T>(_ body: () throws -> T) throws -> T {
        let fd = open((directory as NSString).appendingPathComponent(".lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CrashStoreError.write(directory, "cannot create its lock file: " + String(cString: strerror(errno))) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw CrashStoreError.write(directory, "cannot lock it: " + String(cString: strerror(errno))) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Writes the finding and its sidecar under the directory's lock, unless a
    /// reproducer of the same signature that is no larger in shortlex order (fewer ops,
    /// then smaller names and values) already stands at the path.
    public func writeKeepingSmaller(_ f: Finding, seed: UInt64, commandLine: String) throws -> (path: String, outcome: Outcome) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CrashStoreError.write(directory, "\(error.localizedDescription)")
        }
        let stem = f.signature.fileStem
        let path = (directory as NSString).appendingPathComponent(stem + ".cow")
        return try locked {
            if let existing = try? CowFile.load(path), !f.program.bare.isShortlexSmaller(than: existing.bare) {
                return (path, .keptSmaller)
            }
            try writeUnlocked(f, path: path, stem: stem, seed: seed, commandLine: commandLine)
            return (path, .wrote)
        }
    }

    func writeUnlocked(_ f: Finding, path: String, stem: String, seed: UInt64, commandLine: String) throws {
        let (text, verdicts) = CrashWriter.text(f, path: path, seed: seed, commandLine: commandLine, backend: backend)
        let record = CrashRecord(
            formatVersion: CrashRecord.formatVersion, signature: f.signature.text, kind: f.signature.kind.name,
            opKind: f.signature.opKind?.name, policies: f.signature.policies, file: path, ops: f.program.ops.count,
            originalOps: f.originalOps, seed: seed, programIndex: f.programIndex, origin: f.origin.rawValue,
            swarm: f.swarm.map(\.name), foundAtSeconds: f.foundAtSeconds, foundAfterPrograms: f.foundAfterPrograms,
            predicateCalls: f.shrink?.predicateCalls ?? 0, shrinkPasses: f.shrink?.passes ?? [], verdicts: verdicts,
            found: commandLine, replay: "cowfuzz replay \(path)\(backend?.replayOptions ?? "")")
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try enc.encode(record)
        // The pair is one unit: the sidecar first, the `.cow` last, so a `.cow` never
        // stands without its sidecar; `cleanOrphans` removes what a kill in between leaves.
        try CrashWriter.atomicWrite(json + Data("\n".utf8), to: (directory as NSString).appendingPathComponent(stem + ".json"))
        try CrashWriter.atomicWrite(Data(text.utf8), to: path)
    }

    /// Removes what an interrupted writer left in `directory`: temporary files
    /// (`.<name>.tmp.<pid>`) of processes no longer alive, and crash sidecars whose
    /// `.cow` is missing (a kill between the two renames). Returns the names removed.
    @discardableResult
    public static func cleanOrphans(in directory: String) -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        // Under the lock: a sidecar without its .cow may be another run's write in progress.
        return (try? CrashWriter(directory: directory).locked { cleanOrphansUnlocked(in: directory) }) ?? []
    }

    static func cleanOrphansUnlocked(in directory: String) -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        let present = Set(names)
        for name in names.sorted() {
            let path = (directory as NSString).appendingPathComponent(name)
            if name.hasPrefix("."), let r = name.range(of: ".tmp.", options: .backwards),
               let pid = Int32(name[r.upperBound...]) {
                guard pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
                if unlink(path) == 0 { removed.append(name) }
            } else if name.hasSuffix(".json"), !present.contains(String(name.dropLast(5)) + ".cow"),
                      let data = fm.contents(atPath: path), (try? CrashRecord.decode(data)) != nil {
                if unlink(path) == 0 { removed.append(name) }
            }
        }
        return removed
    }

    /// Writes `data` to `path` without clobbering what stands there (see `OutputFile`):
    /// a regular file is replaced by rename, a device or FIFO is written through.
    public static func atomicWrite(_ data: Data, to path: String) throws {
        do { try OutputFile.write(data, to: path) } catch { throw CrashStoreError.write(path, error.reason) }
    }
}
