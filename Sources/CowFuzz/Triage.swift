import CowModel
import CowOracle

/// Findings grouped by root cause: what `cowfuzz triage` prints and what a person reads
/// after a nightly run. Each group is one signature (verdict, culprit site, page kind,
/// reference kind) with every file that shows it, the era range over all of them, and
/// whether the catalogue of historic bugs (`KnownBugs`) or a corpus program knows it.
public struct TriageGroup: Sendable {
    public enum Status: String, Sendable, Codable {
        /// A historic bug of the catalogue.
        case catalogued
        /// Not in the catalogue, but a corpus program shows it.
        case known
        case new
    }

    public var signature: Signature
    public var status: Status
    public var bug: KnownBug?
    /// The files that show it, smallest reproducer (shortlex) first.
    public var files: [String]
    public var smallestOps: Int
}

public enum Triage {
    /// Groups programs by the root causes they show on `policies`. `known` are the
    /// signature keys of corpus programs (for the `known` status).
    public static func group(_ programs: [(path: String, program: Program)], policies: [PolicyEntry],
                             known: Set<SignatureKey> = []) -> [TriageGroup] {
        let checker = ProgramChecker(policies: policies)
        var byKey: [SignatureKey: (sig: Signature, files: [(String, Program)])] = [:]
        for (path, prog) in programs {
            for sig in Signature.of(prog, outcomes: checker.check(prog)) {
                if var e = byKey[sig.key] {
                    e.sig.policies = Signature.registryOrder(Array(Set(e.sig.policies).union(sig.policies)))
                    e.files.append((path, prog))
                    byKey[sig.key] = e
                } else {
                    byKey[sig.key] = (sig, [(path, prog)])
                }
            }
        }
        return byKey.keys.sorted().map { key in
            let e = byKey[key]!
            let files = e.files.sorted { a, b in
                a.1.isShortlexSmaller(than: b.1) || (!b.1.isShortlexSmaller(than: a.1) && a.0 < b.0)
            }
            let bug = KnownBugs.match(e.sig)
            let status: TriageGroup.Status = bug != nil ? .catalogued : (known.contains(key) ? .known : .new)
            return TriageGroup(signature: e.sig, status: status, bug: bug, files: files.map(\.0),
                               smallestOps: files.first?.1.ops.count ?? 0)
        }
    }

    /// The signature keys that a set of programs shows (a corpus, for `known`).
    public static func keys(of programs: [Program], policies: [PolicyEntry]) -> Set<SignatureKey> {
        let executor = DifferentialExecutor(policies: policies)
        var out = Set<SignatureKey>()
        for p in programs { for s in executor.signatures(p) { out.insert(s.key) } }
        return out
    }
}

/// The root causes a corpus file records: `# root cause: SIGNATURE` comment lines (with
/// ` (B3a)` when catalogued), kept in step with what the file shows by
/// `cowfuzz triage --annotate` and checked by the corpus tests, so that `known` in a
/// fuzzing run visibly means the same cause, not the same symptom.
public enum RootCauseNote {
    static let prefix = "# root cause: "

    /// The line recording one signature.
    public static func line(_ s: Signature) -> String {
        prefix + s.text + (KnownBugs.match(s).map { " (\($0.id))" } ?? "")
    }

    /// The signature texts recorded in a file's text (without the catalogue suffix).
    public static func recorded(in text: String) -> [String] {
        CowFormat.lines(text).lines.compactMap { raw in
            let l = raw.hasSuffix("\r") ? raw.dropLast() : raw
            guard l.hasPrefix(prefix) else { return nil }
            var t = String(l.dropFirst(prefix.count))
            if t.hasSuffix(")"), let open = t.range(of: " (", options: .backwards) { t = String(t[..<open.lowerBound]) }
            return t
        }
    }

    /// `text` with its root-cause lines replaced by `signatures`' lines, placed before the
    /// first directive or op (after the header and the leading comments).
    public static func annotate(_ text: String, signatures: [Signature]) -> String {
        let (split, crlf) = CowFormat.lines(text)
        var lines = split.map(String.init)
        lines.removeAll { $0.hasPrefix(prefix) }
        var at = 0
        while at < lines.count, lines[at].hasPrefix("#") { at += 1 }
        lines.insert(contentsOf: signatures.map(line), at: at)
        return lines.joined(separator: crlf ? "\r\n" : "\n")
    }
}
