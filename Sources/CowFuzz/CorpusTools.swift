import CowModel
import CowOracle
import Foundation

/// `cowfuzz corpus merge`, `minimize` and `seeds`: bookkeeping over directories of
/// `.cow` programs, such as the `crashes/` of several shards of one campaign.
public enum CorpusTools {
    /// One crash file (or plain program) and the signature it stands for.
    public struct Candidate: Sendable {
        public var path: String
        public var text: String
        public var program: Program
        public var signature: Signature
        /// The JSON sidecar, if the file has one (`<stem>.json` beside it).
        public var record: CrashRecord?

        public init(path: String, text: String, program: Program, signature: Signature, record: CrashRecord?) {
            self.path = path
            self.text = text
            self.program = program
            self.signature = signature
            self.record = record
        }
    }

    /// Shortlex order of reproducers: fewer ops, then shorter canonical text, then the
    /// smaller text, then the path (so the choice never depends on directory order).
    public static func smaller(_ a: Candidate, _ b: Candidate) -> Bool {
        let ta = a.program.bare.text, tb = b.program.bare.text
        return (a.program.ops.count, ta.utf8.count, ta, a.path) < (b.program.ops.count, tb.utf8.count, tb, b.path)
    }

    /// The candidates of `dirs`: every `.cow` file with the signature of its sidecar, or
    /// without a sidecar one candidate per signature the program shows on `policies`.
    public static func candidates(in dirs: [String], policies: [PolicyEntry] = PolicyRegistry.all) throws(CorpusToolError) -> [Candidate] {
        let fm = FileManager.default
        let checker = ProgramChecker(policies: policies)
        var out: [Candidate] = []
        for dir in dirs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { throw .input("\(dir): not a directory") }
            for (path, program) in CorpusStore.programs(in: dir) {
                let text = (fm.contents(atPath: path).flatMap { String(data: $0, encoding: .utf8) }) ?? program.text
                let sidecar = (path as NSString).deletingPathExtension + ".json"
                if let data = fm.contents(atPath: sidecar) {
                    let record: CrashRecord
                    do { record = try CrashRecord.decode(data) } catch { throw .input("\(sidecar): \(error)") }
                    guard let s = Signature(text: record.signature) else { throw .input("\(sidecar): bad signature '\(record.signature)'") }
                    out.append(Candidate(path: path, text: text, program: program, signature: s, record: record))
                } else {
                    for s in Signature.of(program, outcomes: checker.check(program)) {
                        out.append(Candidate(path: path, text: text, program: program, signature: s, record: nil))
                    }
                }
            }
        }
        return out
    }

    /// The smallest candidate per signature, in signature order, with how many competed.
    public static func merge(_ candidates: [Candidate]) -> [(kept: Candidate, competitors: Int)] {
        var best: [Signature: (Candidate, Int)] = [:]
        for c in candidates {
            if let (b, n) = best[c.signature] {
                best[c.signature] = (smaller(c, b) ? c : b, n + 1)
            } else {
                best[c.signature] = (c, 1)
            }
        }
        return best.keys.sorted().map { (best[$0]!.0, best[$0]!.1) }
    }

    /// Writes merged candidates to `dir` as `<slug>-<hash>.cow` plus the JSON sidecar
    /// (the original one with its paths updated, or a new one for a file that had none).
    /// Returns the paths written.
    @discardableResult
    public static func write(_ merged: [Candidate], to dir: String) throws(CorpusToolError) -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw .output("\(dir): \(error.localizedDescription)")
        }
        var paths: [String] = []
        let checker = ProgramChecker(policies: PolicyRegistry.all)
        for c in merged {
            let stem = c.signature.fileStem
            let path = (dir as NSString).appendingPathComponent(stem + ".cow")
            var record: CrashRecord
            if let r = c.record {
                record = r
            } else {
                var verdicts: [String: String] = [:]
                for o in checker.check(c.program) { verdicts[o.policy] = o.verdicts.text }
                record = CrashRecord(
                    formatVersion: CrashRecord.formatVersion, signature: c.signature.text, kind: c.signature.kind.name,
                    opKind: c.signature.opKind?.name, policies: c.signature.policies, file: path, ops: c.program.ops.count,
                    originalOps: c.program.ops.count, seed: 0, programIndex: 0, origin: "imported", swarm: [],
                    foundAtSeconds: 0, foundAfterPrograms: 0, predicateCalls: 0, shrinkPasses: [], verdicts: verdicts,
                    found: "imported from \(c.path) by cowfuzz corpus merge", replay: "")
            }
            let text = c.text.replacingOccurrences(of: c.path, with: path)
            record.file = path
            record.replay = "cowfuzz replay \(path)"
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            do {
                let json = try enc.encode(record)
                // The sidecar first, the `.cow` last (see `CrashWriter.write`).
                try CrashWriter.atomicWrite(json + Data("\n".utf8), to: (dir as NSString).appendingPathComponent(stem + ".json"))
                try CrashWriter.atomicWrite(Data(text.utf8), to: path)
            } catch {
                throw .output("\(path): \(error)")
            }
            paths.append(path)
        }
        return paths
    }

    // MARK: - minimize

    /// What a program reaches: the coverage of each policy's run, and its signatures
    /// (so a program that shows a finding is never dropped for one that does not).
    public struct Features: Hashable, Sendable {
        public var coverage: [Coverage]
        public var signatures: Set<String>

        public func isSubset(of other: Features) -> Bool {
            signatures.isSubset(of: other.signatures)
                && zip(coverage, other.coverage).allSatisfy { $0.isSubset(of: $1) }
        }

        public mutating func merge(_ other: Features) {
            for k in coverage.indices { coverage[k].merge(other.coverage[k]) }
            signatures.formUnion(other.signatures)
        }

        /// Every coverage bit of every policy, plus the signatures.
        public var count: Int { coverage.reduce(0) { $0 + $1.count } + signatures.count }
    }

    public static func features(_ program: Program, checker: ProgramChecker) -> Features {
        let outcomes = checker.check(program)
        return Features(coverage: outcomes.map(\.result.coverage),
                        signatures: Set(Signature.of(program, outcomes: outcomes).map(\.text)))
    }

    /// The indices of a small subset of `programs` whose features together equal those
    /// of all of them: greedily keep, smallest first (shortlex), each program that adds a
    /// feature; then drop, largest first, each kept program the others already cover.
    public static func minimize(_ programs: [Program], policies: [PolicyEntry] = PolicyRegistry.all) -> (kept: [Int], total: Features) {
        let checker = ProgramChecker(policies: policies)
        let feats = programs.map { features($0, checker: checker) }
        let order = programs.indices.sorted { a, b in
            let ta = programs[a].bare.text, tb = programs[b].bare.text
            return (programs[a].ops.count, ta.utf8.count, ta, a) < (programs[b].ops.count, tb.utf8.count, tb, b)
        }
        let empty = Features(coverage: Array(repeating: Coverage(), count: policies.count), signatures: [])
        var total = empty
        var kept: [Int] = []
        for i in order where !feats[i].isSubset(of: total) {
            total.merge(feats[i])
            kept.append(i)
        }
        // Redundancy elimination: a kept program whose features the other kept ones cover.
        var k = kept.count - 1
        while k >= 0 {
            var rest = empty
            for (j, i) in kept.enumerated() where j != k { rest.merge(feats[i]) }
            if feats[kept[k]].isSubset(of: rest) { kept.remove(at: k) }
            k -= 1
        }
        return (kept.sorted(), total)
    }
}

/// A corpus directory that cannot be read or written.
public enum CorpusToolError: Error, Hashable, Sendable, CustomStringConvertible {
    case input(String), output(String)
    public var description: String {
        switch self {
        case let .input(m): m
        case let .output(m): "cannot write \(m)"
        }
    }
}

/// `@expect` lines in their shortest equivalent form (`*`, ranges), so that a new era
/// touches only the files where it differs (`cowfuzz corpus expect DIR`).
public enum ExpectCompaction {
    /// `text` with its `@expect` lines replaced by the compact equivalent, or nil when
    /// it is already compact. Equivalence is checked: every policy's expectation, as the
    /// reader resolves it, is the same before and after.
    public static func compacted(_ text: String, file: String = "-") throws -> String? {
        let prog = try Program(parsing: text, file: file)
        var per: [(policy: String, verdicts: VerdictSet)] = []
        for p in KnownPolicyNames.all { if let v = prog.expected(for: p) { per.append((p, v)) } }
        let lines = Expectation.compact(per).map { "@expect \($0.policy) \($0.verdicts.text)" }
        let (split, crlf) = CowFormat.lines(text)
        var all = split.map(String.init)
        let old = all.filter { $0.hasPrefix("@expect ") }
        guard old != lines, let at = all.firstIndex(where: { $0.hasPrefix("@expect ") }) else { return nil }
        all.removeAll { $0.hasPrefix("@expect ") }
        all.insert(contentsOf: lines, at: at)
        let out = all.joined(separator: crlf ? "\r\n" : "\n")
        let back = try Program(parsing: out, file: file)
        for p in KnownPolicyNames.all where back.expected(for: p) != prog.expected(for: p) {
            preconditionFailure("compacting the @expect lines of \(file) changed \(p)")
        }
        return out
    }
}
