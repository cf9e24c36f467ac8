import CowModel
import CowOracle
import Foundation

/// Which findings make the libFuzzer target trap: `any`, or a comma-separated list of
/// `POLICY`, `VERDICT` (or `divergence`), `VERDICT@POLICY`. A signature matches when
/// one item does: its kind is the verdict, its policies include the policy.
public struct TrapRule: Hashable, Sendable, CustomStringConvertible {
    public struct Item: Hashable, Sendable {
        public var kind: FindingKind?
        public var policy: String?
    }
    /// Empty: every finding matches.
    public var items: [Item]

    public init(items: [Item] = []) { self.items = items }

    /// Parses the rule text; nil names the first word it does not understand.
    public static func parse(_ text: String) -> Result<TrapRule, TrapRuleError> {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty || t == "any" { return .success(TrapRule()) }
        var items: [Item] = []
        for word in t.split(separator: ",") {
            let parts = word.split(separator: "@", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                guard let k = FindingKind(name: parts[0]) else { return .failure(.unknownVerdict(parts[0])) }
                guard PolicyRegistry.named(parts[1]) != nil else { return .failure(.unknownPolicy(parts[1])) }
                items.append(Item(kind: k, policy: parts[1]))
            } else if let k = FindingKind(name: parts[0]) {
                items.append(Item(kind: k, policy: nil))
            } else if PolicyRegistry.named(parts[0]) != nil {
                items.append(Item(kind: nil, policy: parts[0]))
            } else {
                return .failure(.unknownWord(parts[0]))
            }
        }
        return .success(TrapRule(items: items))
    }

    public func matches(_ s: Signature) -> Bool {
        items.isEmpty || items.contains { item in
            (item.kind == nil || item.kind == s.kind) && (item.policy.map { s.policies.contains($0) } ?? true)
        }
    }

    public var description: String {
        items.isEmpty ? "any" : items.map { i in
            switch (i.kind, i.policy) {
            case let (k?, p?): "\(k.name)@\(p)"
            case let (k?, nil): k.name
            case let (nil, p?): p
            case (nil, nil): "any"
            }
        }.joined(separator: ",")
    }
}

/// A rule word that is neither a policy nor a verdict.
public enum TrapRuleError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownVerdict(String), unknownPolicy(String), unknownWord(String)
    public var description: String {
        switch self {
        case let .unknownVerdict(w): "unknown verdict '\(w)'"
        case let .unknownPolicy(w): "unknown policy '\(w)'"
        case let .unknownWord(w): "'\(w)' is neither a policy nor a verdict"
        }
    }
}

/// The logic of the libFuzzer entry point, in the library so that tests and
/// `cowfuzz decode` reach it: decode the bytes, check the program on the policies, and
/// say whether a finding should trap. A class because it owns one reusable checker.
///
/// Configured from the environment (libFuzzer passes no options to the target), or where
/// the environment cannot be set (OSS-Fuzz), from `KEY=VALUE` lines in a file beside the
/// binary, `<binary>.conf` (see `configuration(file:)`):
/// * `COWFUZZ_POLICIES` — the policies to run (default all);
/// * `COWFUZZ_TRAP` — a `TrapRule` (default `any`);
/// * `COWFUZZ_KNOWN` — a directory of `.cow` files (e.g. `corpus`) whose signatures are
///   known: a finding traps only if it has a signature none of them has.
public final class LibFuzzerEntry {
    public let policies: [PolicyEntry]
    public let rule: TrapRule
    /// Signature texts that do not trap.
    public let known: Set<String>
    let checker: ProgramChecker
    /// Inputs run so far.
    public private(set) var runs = 0

    public init(policies: [PolicyEntry] = PolicyRegistry.all, rule: TrapRule = TrapRule(), known: Set<String> = []) {
        self.policies = policies
        self.rule = rule
        self.known = known
        checker = ProgramChecker(policies: policies)
    }

    /// Reads the configuration from `environment`; throws a one-line reason.
    public convenience init(environment: [String: String]) throws(LibFuzzerEntryError) {
        var policies = PolicyRegistry.all
        if let list = environment["COWFUZZ_POLICIES"], list != "all", !list.isEmpty {
            policies = []
            for name in list.split(separator: ",") {
                guard let p = PolicyRegistry.named(String(name)) else { throw .config("COWFUZZ_POLICIES: unknown policy '\(name)'") }
                policies.append(p)
            }
        }
        var rule = TrapRule()
        if let text = environment["COWFUZZ_TRAP"] {
            switch TrapRule.parse(text) {
            case let .success(r): rule = r
            case let .failure(e): throw .config("COWFUZZ_TRAP: \(e.description)")
            }
        }
        var known: Set<String> = []
        if let dir = environment["COWFUZZ_KNOWN"], !dir.isEmpty {
            known = try LibFuzzerEntry.knownSignatures(in: dir, policies: policies)
        }
        self.init(policies: policies, rule: rule, known: known)
    }

    /// The `KEY=VALUE` lines of a configuration file (`#` starts a comment); a relative
    /// `COWFUZZ_KNOWN` is resolved against the file's directory. Empty if there is no file.
    public static func configuration(file: String) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else { return [:] }
        var out: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let l = line.trimmingCharacters(in: .whitespaces)
            guard !l.hasPrefix("#"), let eq = l.firstIndex(of: "=") else { continue }
            out[String(l[..<eq]).trimmingCharacters(in: .whitespaces)] = String(l[l.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
        }
        if let known = out["COWFUZZ_KNOWN"], !known.hasPrefix("/") {
            out["COWFUZZ_KNOWN"] = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(known)
        }
        return out
    }

    /// The signatures that the `.cow` files under `dir` show on `policies`.
    public static func knownSignatures(in dir: String, policies: [PolicyEntry]) throws(LibFuzzerEntryError) -> Set<String> {
        let fm = FileManager.default
        guard let names = try? fm.subpathsOfDirectory(atPath: dir) else { throw .config("COWFUZZ_KNOWN: cannot read \(dir)") }
        let checker = ProgramChecker(policies: policies)
        var out: Set<String> = []
        for name in names.sorted() where name.hasSuffix(".cow") {
            let path = (dir as NSString).appendingPathComponent(name)
            guard let data = fm.contents(atPath: path), let text = String(data: data, encoding: .utf8),
                  let program = try? Program(parsing: text, file: path, requireHeader: true) else { continue }
            for s in Signature.of(program, outcomes: checker.check(program)) { out.insert(s.text) }
        }
        return out
    }

    /// A finding that should trap: its signature and the program.
    public struct Trap: Sendable {
        public var signature: Signature
        public var program: Program
        /// The canonical `.cow` text with `@expect` lines recording every policy's verdicts.
        public var text: String
    }

    /// Runs one input. Returns the finding that should trap, if any.
    public func test<C: Collection>(_ bytes: C) -> Trap? where C.Element == UInt8 {
        runs += 1
        let program = ByteDecoder.decode(bytes)
        let outcomes = checker.check(program)
        guard outcomes.contains(where: { !$0.verdicts.isEmpty }) else { return nil }
        for s in Signature.of(program, outcomes: outcomes) where rule.matches(s) && !known.contains(s.text) {
            var p = program
            p.comments = [" found by the cowfuzz libFuzzer target: \(s.text)"]
            p.expectations = outcomes.map { Expectation(policy: $0.policy, verdicts: $0.verdicts) }
            return Trap(signature: s, program: program, text: p.text)
        }
        return nil
    }
}

/// A bad libFuzzer-target configuration.
public enum LibFuzzerEntryError: Error, Hashable, Sendable, CustomStringConvertible {
    case config(String)
    public var description: String {
        switch self {
        case let .config(m): m
        }
    }
}
