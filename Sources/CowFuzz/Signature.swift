import CowModel
import CowOracle

/// What kind of thing went wrong: a verdict of the oracle, or (with `--diff A,B`) an
/// observable difference between two policies that the oracle may accept on both.
public enum FindingKind: UInt8, Hashable, Sendable, CaseIterable, Comparable, Codable {
    case isolation, coherence, integrity, leak, divergence
    /// Real backend only: an op's outcome class (done / refused / skipped) or a page's
    /// state class differs between the real kernel and linux-6.x.
    case opOutcome, state

    /// A difference between two backends or policies, not an oracle verdict.
    public var isDivergence: Bool { verdict == nil }

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
        case .divergence, .opOutcome, .state: nil
        }
    }

    public var name: String {
        switch self {
        case .opOutcome: "op-outcome"
        case .state: "state"
        default: verdict?.name ?? "divergence"
        }
    }

    public init?(name: String) {
        guard let k = FindingKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }

    public static func < (a: FindingKind, b: FindingKind) -> Bool { a.rawValue < b.rawValue }
}

/// The identity of a finding: its root cause, the way syzkaller's title names where the
/// kernel went wrong. For `isolation`, `coherence` and `leak` it is the verdict, the
/// culprit decision site (the kernel function and rule that made the observed page
/// reachable by the wrong party), the page kind and the reference kind:
/// `isolation · do_wp_page: reuse by mapcount · small anon · pipe`. An `integrity`
/// finding names the op after which an invariant broke; a `divergence` (`--diff A,B`)
/// the op kind of the first observable difference and the pair.
///
/// The policies that show a signature are its era range ("linux-4.8 … linux-5.7, fixed
/// in linux-5.8"), carried beside it in `policies` but not part of its identity (they
/// are for a divergence, whose pair is what it compares). Two programs with the same
/// signature are the same bug for deduplication, and the shrinker keeps a candidate only
/// if it keeps the signature. `hash` is a stable FNV-1a of `text` (never `hashValue`).
public struct Signature: Sendable, Comparable, Codable, CustomStringConvertible, Hashable {
    public var kind: FindingKind
    public var rule: RuleID
    public var action: DecisionAction
    public var page: PageKind
    public var ref: RefKind
    /// `integrity`: the op after which the invariant broke; `divergence`: the first
    /// differing op; nil otherwise.
    public var opKind: OpKind?
    /// The policies showing it, in `PolicyRegistry` order (the pair for a divergence).
    public var policies: [String]

    public init(kind: FindingKind, culprit: Culprit = .none, opKind: OpKind? = nil, policies: [String]) {
        self.kind = kind
        rule = culprit.rule
        action = culprit.action
        page = culprit.page
        ref = culprit.ref
        self.opKind = opKind
        self.policies = kind.isDivergence ? policies : Signature.registryOrder(policies)
        normalise()
    }

    init(key: SignatureKey, policies: [String]) {
        kind = key.kind
        rule = key.rule
        action = key.action
        page = key.page
        ref = key.ref
        opKind = key.opKind
        self.policies = policies
    }

    /// Fields that are not part of a kind's identity take fixed values.
    mutating func normalise() {
        switch kind {
        case .integrity, .divergence, .opOutcome, .state:
            rule = .none; action = .none; page = .smallAnon; ref = .cpu
        case .isolation, .coherence, .leak:
            opKind = nil
        }
        if rule == .none { action = .none }
    }

    public var key: SignatureKey {
        SignatureKey(kind: kind, culprit: Culprit(rule: rule, action: action, page: page, ref: ref, op: -1), opKind: opKind)
    }

    public static func == (a: Signature, b: Signature) -> Bool {
        a.key == b.key && (!a.kind.isDivergence || a.policies == b.policies)
    }

    public func hash(into h: inout Hasher) {
        h.combine(key)
        if kind.isDivergence { h.combine(policies) }
    }

    /// The culprit's site text: `do_wp_page: reuse by mapcount`.
    public var site: String { Culprit(rule: rule, action: action, page: page, ref: ref, op: -1).site }

    /// The identity in words, fields joined by ` · `.
    public var text: String {
        switch kind {
        case .integrity: "integrity · after \(opKind?.name ?? "teardown")"
        case .divergence, .opOutcome, .state:
            "\(kind.name) · first difference at \(opKind?.name ?? "-") · \(policies.joined(separator: " vs "))"
        default: "\(kind.name) · \(site) · \(page.text) · \(ref.text)"
        }
    }

    public var description: String { text }

    /// Parses `text`; nil if it is not a signature.
    public init?(text: String) {
        let parts = text.components(separatedBy: " · ")
        guard let k = FindingKind(name: parts[0]) else { return nil }
        self.init(kind: k, policies: [])
        switch k {
        case .integrity:
            guard parts.count == 2, parts[1].hasPrefix("after ") else { return nil }
            let op = String(parts[1].dropFirst(6))
            if op != "teardown" {
                guard let o = OpKind(name: op) else { return nil }
                opKind = o
            }
        case .divergence, .opOutcome, .state:
            guard parts.count == 3, parts[1].hasPrefix("first difference at "),
                  let o = OpKind(name: String(parts[1].dropFirst(20))) else { return nil }
            opKind = o
            policies = parts[2].components(separatedBy: " vs ")
        default:
            guard parts.count == 4, let pg = PageKind(text: parts[2]), let rf = RefKind(text: parts[3]) else { return nil }
            page = pg
            ref = rf
            if parts[1] != Culprit.none.site {
                guard let (r, a) = Signature.parseSite(parts[1]) else { return nil }
                rule = r
                action = a
            }
        }
    }

    static func parseSite(_ text: String) -> (RuleID, DecisionAction)? {
        for r in RuleID.allCases where r != .none {
            for a in DecisionAction.allCases where a != .none {
                if Culprit(rule: r, action: a, page: .smallAnon, ref: .cpu, op: -1).site == text { return (r, a) }
            }
        }
        return nil
    }

    /// The era range of the policies that show it, among the policies `run` (registry
    /// order): `linux-4.8 … linux-5.7, fixed in linux-5.8`; `linux-5.9 … linux-6.x, not
    /// fixed`; several runs joined by `, `.
    public func eraRange(among run: [String] = PolicyRegistry.all.map(\.name)) -> String {
        Signature.eraRange(policies, among: run)
    }

    public static func eraRange(_ shown: [String], among run: [String], sayFixed: Bool = true) -> String {
        let order = run.filter { shown.contains($0) }
        guard !order.isEmpty else { return "-" }
        // Columns that are not all eras (the real kernel beside linux-6.x): no range to tell.
        if run.contains(where: { PolicyRegistry.named($0) == nil }) { return order.joined(separator: ", ") }
        var runs: [(Int, Int)] = []
        for name in order {
            guard let i = run.firstIndex(of: name) else { continue }
            if let last = runs.last, last.1 == i - 1 { runs[runs.count - 1].1 = i } else { runs.append((i, i)) }
        }
        var parts = runs.map { a, b in a == b ? run[a] : "\(run[a]) … \(run[b])" }
        if sayFixed, let last = runs.last {
            if last.1 + 1 < run.count { parts.append("fixed in \(run[last.1 + 1])") } else { parts.append("not fixed") }
        }
        return parts.joined(separator: ", ")
    }

    /// A short file-name part: `isolation-wpMapcount-reuse-smallAnon-pipe`.
    public var slug: String {
        switch kind {
        case .integrity: "integrity-after-\(opKind?.name ?? "teardown")"
        case .divergence, .opOutcome, .state: "\(kind.name)-\(opKind?.name ?? "-")-" + policies.map { $0.hasPrefix("linux-") ? String($0.dropFirst(6)) : $0 }.joined(separator: "-vs-")
        default: "\(kind.name)-\(rule)-\(action)-\(page)-\(ref)"
        }
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
        if a.key != b.key { return a.key < b.key }
        return a.policies.lexicographicallyPrecedes(b.policies)
    }

    static func registryRank(_ name: String) -> Int {
        PolicyRegistry.all.firstIndex { $0.name == name } ?? Int.max
    }

    static func registryOrder(_ names: [String]) -> [String] {
        names.sorted { (registryRank($0), $0) < (registryRank($1), $1) }
    }

    // MARK: computing signatures

    /// The signatures of a checked program, each with the policies that show it.
    /// `diff`, a pair of indices into `outcomes`, adds a divergence signature when their
    /// traces differ observably.
    public static func of(_ program: Program, outcomes: [PolicyOutcome], diff: (Int, Int)? = nil) -> [Signature] {
        var keys = SignatureKeys()
        for (k, o) in outcomes.enumerated() {
            for v in o.violations { keys.add(SignatureKey(v), policy: k) }
        }
        if let (a, b) = diff, let op = firstDifference(program, outcomes[a].result.trace, outcomes[b].result.trace) {
            let key = SignatureKey(kind: .divergence, culprit: .none, opKind: program.ops[op].kind)
            keys.add(key, policy: a)
            keys.add(key, policy: b)
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

/// A signature's identity packed in 32 bits: what the fuzzer's hot path deduplicates
/// on. Bits: kind 0–2, rule 3–8, action 9–12, page 13–16, ref 17–19, op kind 20–24
/// (31: none).
public struct SignatureKey: Hashable, Sendable, Comparable {
    public var code: UInt32

    @inline(__always)
    public init(kind: FindingKind, culprit: Culprit, opKind: OpKind?) {
        var c = culprit
        var op = opKind
        switch kind {
        case .integrity, .divergence, .opOutcome, .state: c = .none
        case .isolation, .coherence, .leak: op = nil
        }
        if c.rule == .none { c.action = .none }
        if kind == .integrity || kind.isDivergence { c.page = .smallAnon; c.ref = .cpu }
        code = UInt32(kind.rawValue) | UInt32(c.rule.rawValue) << 3 | UInt32(c.action.rawValue) << 9
            | UInt32(c.page.rawValue) << 13 | UInt32(c.ref.rawValue) << 17 | UInt32(op?.rawValue ?? 31) << 20
    }

    /// The key of a violation.
    @inline(__always)
    public init(_ v: Violation) {
        self.init(kind: FindingKind(v.verdict), culprit: v.culprit, opKind: v.opKind)
    }

    public var kind: FindingKind { FindingKind(rawValue: UInt8(code & 7))! }
    public var rule: RuleID { RuleID(rawValue: UInt8((code >> 3) & 63)) ?? .none }
    public var action: DecisionAction { DecisionAction(rawValue: UInt8((code >> 9) & 15)) ?? .none }
    public var page: PageKind { PageKind(rawValue: UInt8((code >> 13) & 15)) ?? .smallAnon }
    public var ref: RefKind { RefKind(rawValue: UInt8((code >> 17) & 7)) ?? .cpu }
    public var opKind: OpKind? { let o = UInt8((code >> 20) & 31); return o == 31 ? nil : OpKind(rawValue: o) }

    public static func < (a: SignatureKey, b: SignatureKey) -> Bool { a.code < b.code }

    public func signature(policies mask: UInt32, policyNames: [String]) -> Signature {
        var names: [String] = []
        for k in 0..<policyNames.count where mask & (1 << UInt32(k)) != 0 { names.append(policyNames[k]) }
        return Signature(key: self, policies: kind.isDivergence ? names : Signature.registryOrder(names))
    }
}

/// One signature key met by one program, with the policies (bit k: policy k of the
/// run) that showed it.
public struct SignatureHit: Hashable, Sendable {
    public var key: SignatureKey
    public var policies: UInt32
}

/// The signature keys of one program with their policy masks: a fixed-size table, no
/// allocation on the hot path. A program with more than `capacity` distinct root causes
/// keeps the first ones (in program and policy order).
public struct SignatureKeys: Sendable {
    public static let capacity = 16
    var codes: InlineArray<16, UInt32> = .init(repeating: 0)
    var masks: InlineArray<16, UInt32> = .init(repeating: 0)
    public private(set) var count = 0

    public init() {}

    public var any: Bool { count > 0 }

    @inline(__always) public mutating func add(_ key: SignatureKey, policy: Int) {
        for i in 0..<count where codes[i] == key.code {
            masks[i] |= 1 << UInt32(policy)
            return
        }
        guard count < SignatureKeys.capacity else { return }
        codes[count] = key.code
        masks[count] = 1 << UInt32(policy)
        count += 1
    }

    public mutating func removeAll() { count = 0 }

    /// The hits, in key order.
    public var hits: [SignatureHit] {
        var out: [SignatureHit] = []
        for i in 0..<count { out.append(SignatureHit(key: SignatureKey(code: codes[i]), policies: masks[i])) }
        return out.sorted { $0.key < $1.key }
    }

    /// The keys, in canonical order.
    public var keys: [SignatureKey] { hits.map(\.key) }

    /// The policy mask of a key (0 if absent).
    @inline(__always) public func mask(of key: SignatureKey) -> UInt32 {
        for i in 0..<count where codes[i] == key.code { return masks[i] }
        return 0
    }

    @inline(__always) public func contains(_ key: SignatureKey) -> Bool { mask(of: key) != 0 }

    public func signatures(policyNames: [String]) -> [Signature] {
        hits.map { $0.key.signature(policies: $0.policies, policyNames: policyNames) }.sorted()
    }
}

extension SignatureKey {
    init(code: UInt32) { self.code = code }
}
