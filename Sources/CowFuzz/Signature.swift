import CowModel
import CowOracle

/// What kind of thing went wrong: a verdict of the oracle, or (with `--diff A,B`) an
/// observable difference between two policies that the oracle may accept on both.
public enum FindingKind: UInt8, Hashable, Sendable, CaseIterable, Comparable, Codable {
    case isolation, coherence, integrity, leak, divergence

    public init(_ v: Verdict) {
        switch v {
        case .isolation: self = .isolation
        case .coherence: self = .coherence
        case .integrity: self = .integrity
        case .leak: self = .leak
        }
    }

    public var verdict: Verdict? {
        switch self {
        case .isolation: .isolation
        case .coherence: .coherence
        case .integrity: .integrity
        case .leak: .leak
        case .divergence: nil
        }
    }

    public var name: String { verdict?.name ?? "divergence" }

    public init?(name: String) {
        guard let k = FindingKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }

    public static func < (a: FindingKind, b: FindingKind) -> Bool { a.rawValue < b.rawValue }
}

/// The stable identity of a finding: what went wrong (`kind`), where it was seen (the
/// kind of the observing op; none for a leak found at teardown) and on which policies
/// (exactly the set of policies that show it, in registry order).
///
/// Two programs with the same signature are the same bug for deduplication, and the
/// shrinker keeps a candidate only if it still has the signature (not "any failure").
/// The text form, e.g. `isolation readpipe linux-4.8,linux-5.7`, is what reports,
/// crash files and JSON sidecars carry; `hash` is a stable FNV-1a of that text (never
/// `hashValue`, which changes from run to run).
public struct Signature: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var kind: FindingKind
    /// The observing op (read, readpin, readpipe), the op after which an invariant broke,
    /// the first differing op of a divergence; nil for a leak.
    public var opKind: OpKind?
    /// The policies showing it, in `PolicyRegistry` order (the pair for a divergence).
    public var policies: [String]

    public init(kind: FindingKind, opKind: OpKind?, policies: [String]) {
        self.kind = kind
        self.opKind = opKind
        self.policies = Signature.registryOrder(policies)
        if kind == .divergence { self.policies = policies }
    }

    /// `KIND OPKIND|- POLICY,POLICY…`.
    public var text: String { "\(kind.name) \(opKind?.name ?? "-") \(policies.joined(separator: ","))" }
    public var description: String { text }

    /// Parses `text`; nil if it is not a signature.
    public init?(text: String) {
        let parts = text.split(separator: " ")
        guard parts.count == 3, let k = FindingKind(name: String(parts[0])) else { return nil }
        var op: OpKind?
        if parts[1] != "-" {
            guard let o = OpKind(name: String(parts[1])) else { return nil }
            op = o
        }
        kind = k
        opKind = op
        policies = parts[2].split(separator: ",").map(String.init)
    }

    /// A short file-name part: kind, op kind and the policy range, e.g.
    /// `isolation-readpipe-linux-4.8-to-5.7`.
    public var slug: String {
        var s = kind.name + "-" + (opKind?.name ?? "teardown")
        if let first = policies.first {
            s += "-" + first
            if policies.count > 1, let last = policies.last {
                s += (kind == .divergence ? "-vs-" : "-to-") + (last.hasPrefix("linux-") ? String(last.dropFirst(6)) : last)
            }
        }
        return s
    }

    /// FNV-1a (64 bit) of `text`, as 8 hex digits: stable across runs and machines.
    public var hash: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let x = UInt32(truncatingIfNeeded: h ^ (h >> 32))
        let hex = String(x, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// `<slug>-<hash>`: the base name of its crash file.
    public var fileStem: String { slug + "-" + hash }

    public static func < (a: Signature, b: Signature) -> Bool {
        if a.kind != b.kind { return a.kind < b.kind }
        let ao = a.opKind.map { Int($0.rawValue) } ?? -1, bo = b.opKind.map { Int($0.rawValue) } ?? -1
        if ao != bo { return ao < bo }
        return a.policies.lexicographicallyPrecedes(b.policies) { registryRank($0) < registryRank($1) || (registryRank($0) == registryRank($1) && $0 < $1) }
    }

    static func registryRank(_ name: String) -> Int {
        PolicyRegistry.all.firstIndex { $0.name == name } ?? Int.max
    }

    static func registryOrder(_ names: [String]) -> [String] {
        names.sorted { (registryRank($0), $0) < (registryRank($1), $1) }
    }

    // MARK: computing signatures

    /// The signatures of a checked program: one per (verdict, observing op kind), with
    /// the set of policies that show that pair. `diff`, a pair of indices into
    /// `outcomes`, adds a divergence signature when their traces differ observably.
    public static func of(_ program: Program, outcomes: [PolicyOutcome], diff: (Int, Int)? = nil) -> [Signature] {
        var keys = SignatureKeys()
        for (k, o) in outcomes.enumerated() {
            for v in o.violations { keys.add(kind: FindingKind(v.verdict), opKind: v.opKind, policy: k) }
        }
        if let (a, b) = diff, let op = firstDifference(program, outcomes[a].result.trace, outcomes[b].result.trace) {
            keys.add(kind: .divergence, opKind: program.ops[op].kind, policy: a)
            keys.add(kind: .divergence, opKind: program.ops[op].kind, policy: b)
        }
        return keys.signatures(policyNames: outcomes.map(\.policy))
    }

    /// The first op whose observable outcome differs between two traces (status or
    /// observed value), if any.
    public static func firstDifference(_ program: Program, _ a: Trace, _ b: Trace) -> Int? {
        let n = min(a.statuses.count, b.statuses.count)
        for i in 0..<n {
            if a.statuses[i].executed != b.statuses[i].executed || a.observed[i] != b.observed[i] { return i }
        }
        return nil
    }
}

/// A compact, allocation-free set of signatures under construction: (kind, op kind)
/// pairs with a bitmask of policy indices. The hot path of the fuzzer uses it; names
/// are attached only when a finding is reported.
public struct SignatureKey: Hashable, Sendable, Comparable {
    public var kind: FindingKind
    /// `OpKind.rawValue`, or 255 for none.
    public var op: UInt8
    /// Bit k: policy k of the run's policy list.
    public var policies: UInt32

    public static func < (a: SignatureKey, b: SignatureKey) -> Bool {
        (a.kind.rawValue, a.op, a.policies) < (b.kind.rawValue, b.op, b.policies)
    }

    public func signature(policyNames: [String]) -> Signature {
        var names: [String] = []
        for k in 0..<policyNames.count where policies & (1 << UInt32(k)) != 0 { names.append(policyNames[k]) }
        return Signature(kind: kind, opKind: op == 255 ? nil : OpKind(rawValue: op), policies: names)
    }
}

/// The signature keys of one program, collected per (kind, op kind).
public struct SignatureKeys: Sendable {
    /// Policy mask per (kind × op kind): index `kind * 32 + op` (op 31 = none).
    public private(set) var masks: InlineArray<160, UInt32> = .init(repeating: 0)
    public private(set) var any = false

    public init() {}

    @inline(__always) static func slot(_ kind: FindingKind, _ op: OpKind?) -> Int {
        Int(kind.rawValue) &* 32 &+ Int(op?.rawValue ?? 31)
    }

    @inline(__always) public mutating func add(kind: FindingKind, opKind: OpKind?, policy: Int) {
        masks[SignatureKeys.slot(kind, opKind)] |= 1 << UInt32(policy)
        any = true
    }

    public mutating func removeAll() {
        guard any else { return }
        for i in 0..<160 { masks[i] = 0 }
        any = false
    }

    /// The keys, in canonical order.
    public var keys: [SignatureKey] {
        guard any else { return [] }
        var out: [SignatureKey] = []
        for i in 0..<160 where masks[i] != 0 {
            let op = i % 32
            out.append(SignatureKey(kind: FindingKind(rawValue: UInt8(i / 32))!, op: op == 31 ? 255 : UInt8(op), policies: masks[i]))
        }
        return out
    }

    @inline(__always) public func contains(_ key: SignatureKey) -> Bool {
        let op = key.op == 255 ? 31 : Int(key.op)
        return masks[Int(key.kind.rawValue) * 32 + op] == key.policies
    }

    public func signatures(policyNames: [String]) -> [Signature] {
        keys.map { $0.signature(policyNames: policyNames) }.sorted()
    }
}
