import CowModel
import CowOracle
import Dispatch
import Foundation
import Synchronization

/// The outcome of exploring the state space of one policy (`cowfuzz explore`).
public struct ExploreReport: Sendable {
    /// The shortest program that shows a verdict, rebuilt from BFS parent links.
    public struct Counterexample: Sendable, Hashable {
        public var verdict: Verdict
        /// Canonical names (`Enumerator.canonicalised`); replays to the verdict.
        public var program: Program
        public var depth: Int { program.ops.count }
        /// Distinct states stored when the depth it was found at had been explored.
        public var statesWhenFound: Int
        public var secondsWhenFound: Double
    }

    public var policy: String
    public var summary: String
    public var alphabet: String
    public var symmetry: Bool
    public var visited: VisitedMode
    /// Distinct states (after reduction) stored, the initial one included.
    public var states: Int
    /// Transitions taken (ops that ran from a stored state).
    public var transitions: Int
    /// New states first reached at each depth (index 0: the initial state).
    public var statesPerDepth: [Int]
    /// The deepest depth at which a new state appeared: every state is within this many ops.
    public var diameter: Int { statesPerDepth.count - 1 }
    /// Every reachable state was explored (no limit stopped the search).
    public var complete: Bool
    /// Why the search stopped before the end (nil when complete).
    public var stopReason: String?
    /// One per verdict found, in verdict order.
    public var found: [Counterexample]
    public var seconds: Double
    public var jobs: Int
    /// Peak resident memory of the process (bytes), 0 where unknown.
    public var peakMemory: Int

    /// No violation at any depth: complete, none found, and the visited set was a proof.
    public var proved: Bool {
        guard complete, found.isEmpty else { return false }
        if case .bitstate = visited { return false }
        return true
    }

    /// The probability bound that hash compaction merged two distinct states (n²/2⁶⁵).
    public var collisionBound: Double {
        guard case .hashCompaction = visited else { return 0 }
        return Double(states) * Double(states) / 36893488147419103232.0
    }

    /// Every program of up to this many ops was checked (the depths expanded completely).
    public var checkedDepth: Int
    public var checkedDepthText: String { "every program of up to \(checkedDepth) ops checked" }

    public func shortest(_ verdict: Verdict) -> Counterexample? { found.first { $0.verdict == verdict } }
}

/// One stored or candidate state: the machine of one policy, the reference beside it,
/// and the value each op of its path stored (0 for ops that store nothing).
struct ExploreNode<P: Policy>: @unchecked Sendable {
    var machine: Machine<P>
    var oracle: SteppedReference
    var values: [UInt8]

    /// Runs op `index` of the path on the machine and, if it ran, on the reference.
    /// Nil when the machine skipped it (no transition); else the observation and its acceptance.
    mutating func step(_ op: Op, index: Int) -> (observed: Int16, acceptance: Acceptance?)? {
        machine.s.currentLane = -1
        machine.s.obsStore = StoreID.none
        let (status, observed) = machine.apply(op, index: index)
        if case .skipped = status { return nil }
        var acceptance: Acceptance?
        if status.executed { acceptance = oracle.apply(op, index: index) }
        switch op {
        case let .write(_, _, _, v), let .pokemem(_, _, _, v), let .writepin(_, v): values.append(status.executed ? v : 0)
        default: values.append(0)
        }
        return (observed, acceptance)
    }
}

/// How a stored state was first reached: its parent's index at the depth before, and
/// which successor of the parent (in `ExploreOptions.successorOps` order) it is.
struct ExploreLink: Sendable {
    var parent: Int32
    var succ: UInt16
}

/// The visited set in the chosen mode. A class: one shared, growing buffer.
final class VisitedSet: @unchecked Sendable {
    let mode: VisitedMode
    var hashes = Set<UInt64>()
    var exact = Set<[UInt8]>()
    var bits: [UInt64] = []
    var mask: UInt64 = 0
    private(set) var count = 0

    init(_ mode: VisitedMode) {
        self.mode = mode
        if case let .bitstate(b) = mode {
            bits = Array(repeating: 0, count: max(1, (1 << b) / 64))
            mask = (UInt64(1) << UInt64(b)) - 1
        }
    }

    /// A key: the hash, and the bytes where the mode keeps them.
    struct Key: Sendable {
        var hash: UInt64
        var bytes: [UInt8]?
    }

    @inline(__always) func bitPositions(_ h: UInt64) -> (Int, Int) {
        let a = h & mask
        let b = ((h >> 32) | (h << 32)) &* 0x9e3779b97f4a7c15 & mask
        return (Int(a), Int(b))
    }

    func contains(_ k: Key) -> Bool {
        switch mode {
        case .exact: return exact.contains(k.bytes!)
        case .hashCompaction: return hashes.contains(k.hash)
        case .bitstate:
            let (a, b) = bitPositions(k.hash)
            return bits[a >> 6] & (1 << UInt64(a & 63)) != 0 && bits[b >> 6] & (1 << UInt64(b & 63)) != 0
        }
    }

    /// Inserts; true when the key was new.
    func insert(_ k: Key) -> Bool {
        let new: Bool
        switch mode {
        case .exact: new = exact.insert(k.bytes!).inserted
        case .hashCompaction: new = hashes.insert(k.hash).inserted
        case .bitstate:
            let (a, b) = bitPositions(k.hash)
            let wa = bits[a >> 6], wb = bits[b >> 6]
            new = wa & (1 << UInt64(a & 63)) == 0 || wb & (1 << UInt64(b & 63)) == 0
            bits[a >> 6] |= 1 << UInt64(a & 63)
            bits[b >> 6] |= 1 << UInt64(b & 63)
        }
        if new { count += 1 }
        return new
    }
}

/// Breadth-first search over the states of one policy's machine and the reference.
public struct Explorer: Sendable {
    public let options: ExploreOptions

    public init(_ options: ExploreOptions) { self.options = options }

    /// Progress after each depth: depth, states stored, frontier size, seconds.
    public typealias Progress = @Sendable (_ depth: Int, _ states: Int, _ frontier: Int, _ seconds: Double) -> Void

    /// Explores every state of the universe on `policy`, shortest paths first.
    public func explore(_ policy: PolicyEntry, progress: Progress? = nil) -> ExploreReport {
        policy.visit(Visitor(explorer: self, name: policy.name, progress: progress))
    }

    struct Visitor: PolicyVisitor {
        let explorer: Explorer
        let name: String
        let progress: Progress?
        func visit<P: Policy>(_ policy: P.Type) -> ExploreReport {
            explorer.run(P.self, name: name, progress: progress)
        }
    }

    /// What expanding one stored state produced.
    struct Expansion: Sendable {
        /// Successors not visited at an earlier depth: (key, successor index), in order.
        var successors: [(VisitedSet.Key, UInt16)] = []
        /// The successor index of the first op showing each verdict (by raw value), if any.
        var violations: [UInt16?] = Array(repeating: nil, count: Verdict.allCases.count)
        /// The state itself leaks at teardown (bit 0) or breaks an invariant there (bit 1).
        var stateFlags: UInt8 = 0
        var transitions = 0
    }

    /// Rebuilds stored states by replaying their paths from the initial state. States
    /// are visited in index order, and siblings are adjacent, so the ancestors of the
    /// previous state are kept and only the differing tail of the path is replayed.
    /// This is what keeps the frontier small: a stored state is 8 bytes of parent link.
    struct Replayer<P: Policy>: @unchecked Sendable {
        var stack: [(index: Int32, node: ExploreNode<P>)]
        var ancestors: [Int32] = []
        let options: ExploreOptions

        init(root: ExploreNode<P>, options: ExploreOptions) {
            stack = [(0, root)]
            self.options = options
        }

        mutating func node(depth: Int, index: Int, links: [[ExploreLink]]) -> ExploreNode<P> {
            if ancestors.count < depth + 1 { ancestors = Array(repeating: 0, count: depth + 1) }
            ancestors[depth] = Int32(index)
            var d = depth
            while d > 0 {
                ancestors[d - 1] = links[d][Int(ancestors[d])].parent
                d -= 1
            }
            var m = min(depth, stack.count - 1)
            while m > 0 && stack[m].index != ancestors[m] { m -= 1 }
            stack.removeSubrange((m + 1)...)
            if m < depth {
                for d in (m + 1)...depth {
                    var n = stack[d - 1].node
                    let op = options.successorOp(n.machine.s, at: Int(links[d][Int(ancestors[d])].succ))
                    _ = n.step(op, index: d - 1)
                    stack.append((ancestors[d], n))
                }
            }
            return stack[depth].node
        }
    }

    func run<P: Policy>(_: P.Type, name: String, progress: Progress?) -> ExploreReport {
        let o = options
        let clock = ContinuousClock()
        let start = clock.now
        func seconds() -> Double { let d = clock.now - start; return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        let keepAll = o.universe.kinds.contains(.ksm)
        let shape = o.shapeProgram
        var root = ExploreNode<P>(machine: Machine<P>(), oracle: SteppedReference(shape: shape), values: [])
        root.machine.load(shape)
        let jobs = max(1, o.jobs)
        let encoders = (0..<jobs).map { _ in
            StateEncoder(procs: o.universe.processes, pins: max(1, o.universe.pins), pipes: max(1, o.universe.pipes),
                         symmetry: o.symmetry, keepAllStores: keepAll)
        }
        let replayers = Mutex((0..<jobs).map { _ in Replayer<P>(root: root, options: o) })
        let visited = VisitedSet(o.visited)
        _ = visited.insert(key(root, encoders[0]))
        var links: [[ExploreLink]] = [[]]
        var levelCount = 1
        var perDepth = [1]
        var found: [ExploreReport.Counterexample?] = Array(repeating: nil, count: Verdict.allCases.count)
        var transitions = 0
        var stopReason: String?
        let stop = Atomic<Bool>(false)
        let deadline = o.timeLimit.map { start.advanced(by: .milliseconds(Int64($0 * 1000))) }

        /// The path to state `index` at `depth`, then successor `succ` if given, as ops.
        func path(depth: Int, index: Int, then succ: UInt16?) -> Program {
            var chain: [UInt16] = []
            var d = depth, i = index
            while d > 0 {
                chain.append(links[d][i].succ)
                i = Int(links[d][i].parent)
                d -= 1
            }
            chain.reverse()
            if let succ { chain.append(succ) }
            var n = root
            var ops: [Op] = []
            for (k, c) in chain.enumerated() {
                let op = o.successorOp(n.machine.s, at: Int(c))
                _ = n.step(op, index: k)
                ops.append(op)
            }
            return Enumerator.canonicalised(Program(ops: ops))
        }

        var depth = 0
        var checked = 0
        while levelCount > 0 {
            // At the depth bound, states are only checked, not expanded.
            let last = o.maxDepth.map { depth >= $0 } ?? false
            // Expand the level in chunks, in parallel; `visited` and `links` are only read.
            let count = levelCount
            let chunk = max(16, count / (jobs * 8))
            let chunks = (count + chunk - 1) / chunk
            let results = Mutex<[Expansion?]>(Array(repeating: nil, count: count))
            let next = Atomic<Int>(0)
            let d = depth
            let frozenLinks = links
            DispatchQueue.concurrentPerform(iterations: min(jobs, chunks)) { w in
                let enc = encoders[w]
                var replayer = replayers.withLock { $0[w] }
                while !stop.load(ordering: .relaxed) {
                    let c = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard c < chunks else { break }
                    var local: [(Int, Expansion)] = []
                    for i in (c * chunk)..<min(count, (c + 1) * chunk) {
                        let node = replayer.node(depth: d, index: i, links: frozenLinks)
                        local.append((i, expand(node, depth: d, enc, visited: visited, successors: !last)))
                    }
                    results.withLock { r in for (i, e) in local { r[i] = e } }
                    if let deadline, clock.now >= deadline { stop.store(true, ordering: .relaxed) }
                }
                replayer.stack.removeSubrange(1...)
                replayers.withLock { $0[w] = replayer }
            }
            let expansions = results.withLock { r in
                let out = r
                r = []
                return out
            }
            let partial = stop.load(ordering: .relaxed)
            // Merge in level order: the result does not depend on the number of jobs.
            var nextLinks: [ExploreLink] = []
            var stateHit: [Int?] = [nil, nil]
            var levelFound: [(Int, UInt16)?] = Array(repeating: nil, count: Verdict.allCases.count)
            for (i, e) in expansions.enumerated() {
                guard let e else { continue }
                transitions += e.transitions
                for b in 0..<2 where stateHit[b] == nil && e.stateFlags & (1 << b) != 0 { stateHit[b] = i }
                for (v, succ) in e.violations.enumerated() where levelFound[v] == nil {
                    if let succ { levelFound[v] = (i, succ) }
                }
                for (k, succ) in e.successors where visited.insert(k) {
                    nextLinks.append(ExploreLink(parent: Int32(i), succ: succ))
                }
            }
            let statesNow = visited.count
            func record(_ v: Verdict, _ program: Program) {
                guard found[Int(v.rawValue)] == nil else { return }
                found[Int(v.rawValue)] = ExploreReport.Counterexample(
                    verdict: v, program: program, statesWhenFound: statesNow, secondsWhenFound: seconds())
            }
            // States of this depth first (shorter), then transitions out of them.
            if let i = stateHit[0] { record(.leak, path(depth: depth, index: i, then: nil)) }
            if let i = stateHit[1] { record(.integrity, path(depth: depth, index: i, then: nil)) }
            for (v, hit) in levelFound.enumerated() {
                if let (i, succ) = hit { record(Verdict.allCases[v], path(depth: depth, index: i, then: succ)) }
            }
            if partial { stopReason = "time limit"; break }
            checked = depth + (last ? 0 : 1)
            if last {
                stopReason = "max depth \(depth)"
                break
            }
            links.append(nextLinks)
            levelCount = nextLinks.count
            depth += 1
            if levelCount > 0 { perDepth.append(levelCount) }
            progress?(depth, visited.count, levelCount, seconds())
            if levelCount == 0 { break }
            if o.stopAtFirst && found.contains(where: { $0 != nil }) { stopReason = "first counterexample"; break }
            if let m = o.maxStates, visited.count >= m { stopReason = "max states \(m)"; break }
            if let deadline, clock.now >= deadline { stopReason = "time limit"; break }
        }
        return ExploreReport(policy: name, summary: o.summary, alphabet: o.universe.alphabet, symmetry: o.symmetry,
                             visited: o.visited, states: visited.count, transitions: transitions, statesPerDepth: perDepth,
                             complete: stopReason == nil, stopReason: stopReason, found: found.compactMap { $0 },
                             seconds: seconds(), jobs: jobs, peakMemory: peakResidentBytes(), checkedDepth: checked)
    }

    /// The visited-set key of a state: the hash of its canonical encoding (and the encoding itself in exact mode).
    func key<P: Policy>(_ n: ExploreNode<P>, _ enc: StateEncoder) -> VisitedSet.Key {
        enc.encode(n.machine.s, n.oracle, values: n.values)
        let exact: Bool = if case .exact = options.visited { true } else { false }
        return VisitedSet.Key(hash: stateHash(enc.best), bytes: exact ? enc.best : nil)
    }

    /// Checks one stored state (invariants, and leak and invariants at teardown) and runs every op of the
    /// alphabet from it: the verdicts of the transitions and the successors not already
    /// visited at an earlier depth.
    func expand<P: Policy>(_ node: ExploreNode<P>, depth: Int, _ enc: StateEncoder, visited: VisitedSet,
                           successors: Bool) -> Expansion {
        var out = Expansion()
        // Invariants are a property of the state (renaming does not change them): checked
        // once per stored state, not per transition into it.
        var m = node.machine
        let broken = m.checkInvariants() != nil
        let (leaked, _) = m.teardown()
        out.stateFlags = (leaked > 0 ? 1 : 0) | (broken || m.checkInvariants() != nil ? 2 : 0)
        guard successors else { return out }
        var index = -1
        options.successorOps(node.machine.s) { op in
            index += 1
            var n = node
            guard let (observed, acceptance) = n.step(op, index: depth) else { return }
            out.transitions += 1
            let succ = UInt16(index)
            if observed >= 0, let a = acceptance,
               let v = Explorer.verdict(observed: observed, store: n.machine.s.obsStore, acceptance: a, values: n.values) {
                if out.violations[Int(v.rawValue)] == nil { out.violations[Int(v.rawValue)] = succ }
            }
            let k = key(n, enc)
            if visited.contains(k) { return }
            out.successors.append((k, succ))
        }
        return out
    }

    /// The verdict of one observation, as `Checker.verdict` gives it, with the
    /// explorer's ordinals (op index + 1) and the path's stored values.
    static func verdict(observed o: Int16, store id: Int32, acceptance a: Acceptance, values: [UInt8]) -> Verdict? {
        if o > 255 { return .integrity }
        func value(_ ord: Int) -> UInt8? { ord == 0 ? 0 : ord - 1 < values.count ? values[ord - 1] : nil }
        if id >= 0 {
            let ord = StateEncoder.ordinal(ofStore: id)
            guard ord >= 0, let v = value(ord) else { return .integrity }
            if a.accepted.contains(UInt8(ord)) { return nil }
            if v != UInt8(o) { return .integrity }
            return Reference.classify(UInt8(ord), a)
        }
        var candidates = ValueSet()
        if o == 0 { candidates.insert(0) }
        for (k, v) in values.enumerated() where v == UInt8(o) && v != 0 && k < 254 { candidates.insert(UInt8(k + 1)) }
        return Reference.judge(candidates: candidates, a)
    }
}

/// Peak resident set size of this process (VmHWM), 0 where /proc is missing.
func peakResidentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let digits = line.filter(\.isNumber)
        return (Int(digits) ?? 0) * 1024
    }
    return 0
}

extension Explorer {
    /// The canonical encoding of the state `program` reaches on `policy`, stepped as the
    /// explorer steps (nil when an op is skipped or names something outside the universe).
    /// For tests and debugging: states that differ only by renaming encode alike.
    public func canonicalEncoding(of program: Program, on policy: PolicyEntry) -> [UInt8]? {
        policy.visit(EncodingVisitor(explorer: self, program: program))
    }

    struct EncodingVisitor: PolicyVisitor {
        let explorer: Explorer
        let program: Program
        func visit<P: Policy>(_: P.Type) -> [UInt8]? {
            let o = explorer.options
            let shape = ProgramShape(o.shapeProgram)
            let ps = ProgramShape(program)
            guard ps.processes <= shape.processes, ps.regions <= shape.regions, ps.pages <= shape.pages,
                  ps.pins <= shape.pins, ps.pipes <= shape.pipes else { return nil }
            var n = ExploreNode<P>(machine: Machine<P>(), oracle: SteppedReference(shape: o.shapeProgram), values: [])
            n.machine.load(o.shapeProgram)
            for (i, op) in program.ops.enumerated() where n.step(op, index: i) == nil { return nil }
            let enc = StateEncoder(procs: o.universe.processes, pins: max(1, o.universe.pins), pipes: max(1, o.universe.pipes),
                                   symmetry: o.symmetry, keepAllStores: o.universe.kinds.contains(.ksm))
            enc.encode(n.machine.s, n.oracle, values: n.values)
            return enc.best
        }
    }
}

extension Explorer {
    /// The verdicts the explorer gives along `program`'s path on `policy`: every
    /// transition's, and the last state's teardown (leak, invariants). Nil when an op is
    /// skipped. This is what the search judges; the tests compare it with `Checker`.
    public func verdicts(of program: Program, on policy: PolicyEntry) -> VerdictSet? {
        policy.visit(VerdictVisitor(program: program))
    }

    struct VerdictVisitor: PolicyVisitor {
        let program: Program
        func visit<P: Policy>(_: P.Type) -> VerdictSet? {
            var n = ExploreNode<P>(machine: Machine<P>(), oracle: SteppedReference(shape: program), values: [])
            n.machine.load(program)
            var out = VerdictSet.clean
            for (i, op) in program.ops.enumerated() {
                guard let (observed, acceptance) = n.step(op, index: i) else { return nil }
                if observed >= 0, let a = acceptance,
                   let v = Explorer.verdict(observed: observed, store: n.machine.s.obsStore, acceptance: a, values: n.values) {
                    out.insert(v)
                }
                if n.machine.checkInvariants() != nil { out.insert(.integrity) }
            }
            var m = n.machine
            let (leaked, _) = m.teardown()
            if leaked > 0 { out.insert(.leak) }
            if m.checkInvariants() != nil { out.insert(.integrity) }
            return out
        }
    }
}
