import CowModel
import CowOracle
import Dispatch
import Foundation
import Synchronization

/// The tiny universe of bounded exhaustive enumeration (`cowfuzz enumerate`).
///
/// Every program up to a depth is built from these names and operands only. Names are
/// canonical by construction: `fork` always creates the next fresh process, `mmap` (and
/// `mremap`) the next fresh region, `pin` the next fresh pin, `vmsplice` an old pipe or
/// the next fresh one, a written value is the next fresh value (or, with `reuseValues`,
/// also an old one), and a page of an anonymous or shared region is an already-touched
/// page or the next untouched one. So programs that differ only by a renaming run once.
public struct EnumerationUniverse: Hashable, Sendable {
    /// Processes ever alive, `p0` included (1…4).
    public var processes = 3
    /// Region names ever mapped (1…4).
    public var regions = 1
    /// `mmap` sizes are 1…`pages` pages (1…4).
    public var pages = 1
    /// Pin names ever taken (0…2).
    public var pins = 1
    /// Pipe names (0…2).
    public var pipes = 1
    /// The op kinds to build programs from.
    public var kinds: [OpKind] = EnumerationUniverse.defaultKinds
    /// The backings `mmap` may use.
    public var backings: [Backing] = [.anon]
    /// The flag sets `pin` may use.
    public var pinFlags: [PinFlags] = [[.longterm], [.rw, .longterm]]
    /// The advice `madvise` may give.
    public var advices: [Advice] = [.dontneed, .dontfork, .wipeonfork]
    /// Region ops may also act on one page of a multi-page region (`from=i count=1`).
    public var ranges = false
    /// A write may also reuse a value written before (off: every write is a fresh value).
    public var reuseValues = false
    /// `fork` of a process that maps nothing (off: its child is an empty process).
    public var forkEmpty = false

    public static let defaultKinds: [OpKind] = [.mmap, .munmap, .mprotect, .write, .read, .fork, .exit,
                                                .pin, .unpin, .readpin, .writepin, .vmsplice, .readpipe]

    public init() {}

    /// Pages can be renamed by first use: every region op acts on whole regions and no
    /// page is tied to a file offset that another region shares.
    var canonicalPages: Bool { !ranges && !kinds.contains(.mremap) }

    /// Checks the bounds; the message says which one is out of range.
    public func validate() throws(EnumerationError) {
        func check(_ ok: Bool, _ what: String) throws(EnumerationError) {
            if !ok { throw EnumerationError.universe(what) }
        }
        try check((1...4).contains(processes), "processes must be 1…4")
        try check((1...4).contains(regions), "regions must be 1…4")
        try check((1...4).contains(pages), "pages must be 1…4")
        try check((0...2).contains(pins), "pins must be 0…2")
        try check((0...2).contains(pipes), "pipes must be 0…2")
        try check(!kinds.isEmpty, "the op alphabet is empty")
        try check(!kinds.contains(.race), "race is not enumerated")
        try check(!backings.isEmpty, "no mmap backing")
    }

    /// One line describing the universe, for reports.
    public var summary: String {
        func n(_ k: Int, _ one: String, _ many: String) -> String { "\(k) \(k == 1 ? one : many)" }
        var s = n(processes, "process", "processes") + ", " + n(regions, "region", "regions")
        s += " of 1…\(pages) page\(pages == 1 ? "" : "s")"
        s += " (" + backings.map { $0 == .anon ? "anon" : $0 == .shared ? "shared" : "file" }.joined(separator: ",") + ")"
        s += ", " + n(pins, "pin", "pins") + ", " + n(pipes, "pipe", "pipes")
        s += reuseValues ? ", values fresh or reused" : ", fresh values"
        if ranges { s += ", page ranges" }
        return s
    }

    /// The op alphabet and operand choices, for reports.
    public var alphabet: String {
        var s = "ops: " + kinds.map(\.name).joined(separator: " ")
        if kinds.contains(.pin) {
            s += "; pin flags: " + pinFlags.map(EnumerationUniverse.flagsText).joined(separator: ", ")
        }
        if kinds.contains(.madvise) { s += "; advice: " + advices.map(\.name).joined(separator: ", ") }
        return s
    }

    static func flagsText(_ f: PinFlags) -> String {
        let words = PinFlags.words.filter { f.contains($0.0) }.map(\.1)
        return words.isEmpty ? "ro" : words.joined(separator: "+")
    }

    /// Parses `ro`, `rw`, `rw+longterm`, `get`, …: the inverse of the report's notation.
    public static func parseFlags(_ s: String) -> PinFlags? {
        if s == "ro" { return [] }
        var f: PinFlags = []
        for w in s.split(separator: "+") {
            guard let (flag, _) = PinFlags.words.first(where: { $0.1 == w }) else { return nil }
            f.insert(flag)
        }
        return f
    }
}

/// An unusable enumeration request.
public enum EnumerationError: Error, Hashable, Sendable, CustomStringConvertible {
    case universe(String)
    public var description: String {
        switch self {
        case let .universe(m): m
        }
    }
}

/// What the enumerator knows about a program prefix: which names exist and which
/// operands would make an op skip. Policy-independent (skips are, see `OpStatus`), and
/// kept in inline storage so a DFS step copies no heap memory.
struct EnumState {
    var alive = InlineArray<4, Bool>(repeating: false)
    var procsCreated: Int8 = 1
    /// Per `p * 4 + r`: bit `i` set when page `i` is in the VMA / has VM_WRITE / VM_DONTFORK / VM_WIPEONFORK.
    var inVMA = InlineArray<16, UInt8>(repeating: 0)
    var vmWrite = InlineArray<16, UInt8>(repeating: 0)
    var dontfork = InlineArray<16, UInt8>(repeating: 0)
    var wipe = InlineArray<16, UInt8>(repeating: 0)
    /// Per region name: its size, backing and how many pages have been touched.
    var regionPages = InlineArray<4, Int8>(repeating: 0)
    var regionBacking = InlineArray<4, Backing>(repeating: .anon)
    var touched = InlineArray<4, Int8>(repeating: 0)
    var regionsCreated: Int8 = 0
    var pinActive = InlineArray<2, Bool>(repeating: false)
    var pinRW = InlineArray<2, Bool>(repeating: false)
    var pinOwner = InlineArray<2, Int8>(repeating: 0)
    var pinsCreated: Int8 = 0
    var pipeDepth = InlineArray<2, Int8>(repeating: 0)
    var pipesUsed: Int8 = 0
    var values: UInt8 = 0

    init() { alive[0] = true }

    @inline(__always) static func slot(_ p: Int, _ r: Int) -> Int { p &* 4 &+ r }
    @inline(__always) func exists(_ p: Int, _ r: Int) -> Bool { inVMA[EnumState.slot(p, r)] != 0 }
    func mapsSomething(_ p: Int) -> Bool {
        for r in 0..<Int(regionsCreated) where exists(p, r) { return true }
        return false
    }
}

/// Builds every canonical program of a universe, depth-first, in a fixed order.
public struct Enumerator: Sendable {
    public let universe: EnumerationUniverse

    public init(_ universe: EnumerationUniverse) { self.universe = universe }

    /// The page ranges of a region op on a region of `n` pages: the whole region, and
    /// with `ranges` each single page of a multi-page region.
    func rangeChoices(_ n: Int) -> [PageRange?] {
        guard universe.ranges, n > 1 else { return [nil] }
        return [nil] + (0..<n).map { PageRange(from: $0, count: 1) }
    }

    @inline(__always) func mask(_ range: PageRange?, pages n: Int) -> UInt8 {
        guard let range else { return UInt8((1 << n) - 1) }
        return UInt8(((1 << range.count) - 1) << range.from)
    }

    /// Calls `body` with every op that runs (is not skipped) after the prefix whose
    /// state is `st`, and the state after it, in the enumeration order.
    func forEachSuccessor(_ st: EnumState, _ body: (Op, EnumState) -> Void) {
        let u = universe
        let procs = Int(st.procsCreated)
        let regs = Int(st.regionsCreated)
        // Values a write may use: the next fresh one, and with reuse every earlier one.
        func valueChoices() -> ClosedRange<UInt8>? {
            guard st.values < 255 else { return u.reuseValues && st.values > 0 ? 1...st.values : nil }
            return u.reuseValues ? 1...(st.values + 1) : (st.values + 1)...(st.values + 1)
        }
        func pageChoices(_ r: Int) -> Range<Int> {
            let n = Int(st.regionPages[r])
            if u.canonicalPages && st.regionBacking[r] != .file { return 0..<min(n, Int(st.touched[r]) + 1) }
            return 0..<n
        }
        func touching(_ s: EnumState, _ r: Int, _ i: Int) -> EnumState {
            var s = s
            if Int(s.touched[r]) <= i { s.touched[r] = Int8(i + 1) }
            return s
        }
        for kind in u.kinds {
            switch kind {
            case .mmap:
                guard regs < u.regions else { continue }
                for p in 0..<procs where st.alive[p] {
                    for n in 1...u.pages {
                        for b in u.backings {
                            var s = st
                            let r = regs
                            s.regionsCreated += 1
                            s.regionPages[r] = Int8(n)
                            s.regionBacking[r] = b
                            let all = UInt8((1 << n) - 1)
                            s.inVMA[EnumState.slot(p, r)] = all
                            s.vmWrite[EnumState.slot(p, r)] = all
                            body(.mmap(p: p, r: r, pages: n, backing: b, huge: .none), s)
                        }
                    }
                }
            case .munmap, .mprotect, .madvise, .mremap:
                for p in 0..<procs where st.alive[p] {
                    for r in 0..<regs where st.exists(p, r) {
                        let k = EnumState.slot(p, r)
                        let n = Int(st.regionPages[r])
                        for range in rangeChoices(n) {
                            let m = mask(range, pages: n)
                            let mapped = st.inVMA[k] & m
                            switch kind {
                            case .munmap:
                                // Unmapping only holes does nothing: a shorter program.
                                guard mapped != 0 else { continue }
                                var s = st
                                s.inVMA[k] &= ~m; s.vmWrite[k] &= ~m; s.dontfork[k] &= ~m; s.wipe[k] &= ~m
                                body(.munmap(p: p, r: r, range: range), s)
                            case .mprotect:
                                guard mapped == m else { continue }
                                for w in [false, true] {
                                    var s = st
                                    if w { s.vmWrite[k] |= m } else { s.vmWrite[k] &= ~m }
                                    body(.mprotect(p: p, r: r, writable: w, range: range), s)
                                }
                            case .madvise:
                                guard mapped == m else { continue }
                                for a in u.advices {
                                    var s = st
                                    switch a {
                                    case .dontfork: s.dontfork[k] |= m
                                    case .dofork: s.dontfork[k] &= ~m
                                    case .wipeonfork:
                                        guard st.regionBacking[r] == .anon else { continue }
                                        s.wipe[k] |= m
                                    default: break
                                    }
                                    body(.madvise(p: p, r: r, advice: a, range: range), s)
                                }
                            default: // mremap to the next fresh region name
                                guard mapped == m, regs < u.regions else { continue }
                                let to = regs
                                let from = range?.from ?? 0
                                let count = range?.count ?? n
                                var s = st
                                s.regionsCreated += 1
                                s.regionPages[to] = Int8(count)
                                s.regionBacking[to] = st.regionBacking[r]
                                let kt = EnumState.slot(p, to)
                                let shift = { (x: UInt8) in UInt8((Int(x & m) >> from) & ((1 << count) - 1)) }
                                s.inVMA[kt] = shift(st.inVMA[k]); s.vmWrite[kt] = shift(st.vmWrite[k])
                                s.dontfork[kt] = shift(st.dontfork[k]); s.wipe[kt] = shift(st.wipe[k])
                                s.inVMA[k] &= ~m; s.vmWrite[k] &= ~m; s.dontfork[k] &= ~m; s.wipe[k] &= ~m
                                body(.mremap(p: p, r: r, to: to, range: range), s)
                            }
                        }
                    }
                }
            case .write, .read, .pokemem, .pin, .vmsplice:
                for p in 0..<procs where st.alive[p] {
                    for r in 0..<regs where st.exists(p, r) {
                        let k = EnumState.slot(p, r)
                        for i in pageChoices(r) where st.inVMA[k] & (1 << i) != 0 {
                            let writable = st.vmWrite[k] & (1 << i) != 0
                            let s0 = touching(st, r, i)
                            switch kind {
                            case .write:
                                guard writable, let vs = valueChoices() else { continue }
                                for v in vs {
                                    var s = s0
                                    if v > s.values { s.values = v }
                                    body(.write(p: p, r: r, page: i, value: v), s)
                                }
                            case .pokemem:
                                // FOLL_FORCE may not write a read-only shared mapping: a refused no-op.
                                guard writable || st.regionBacking[r] != .shared, let vs = valueChoices() else { continue }
                                for v in vs {
                                    var s = s0
                                    if v > s.values { s.values = v }
                                    body(.pokemem(p: p, r: r, page: i, value: v), s)
                                }
                            case .read:
                                body(.read(p: p, r: r, page: i), s0)
                            case .pin:
                                guard Int(st.pinsCreated) < u.pins else { continue }
                                let g = Int(st.pinsCreated)
                                for f in u.pinFlags {
                                    // FOLL_WRITE on a read-only VMA fails in every era: a no-op.
                                    if f.contains(.rw) && !writable { continue }
                                    var s = s0
                                    s.pinsCreated += 1
                                    s.pinActive[g] = true
                                    s.pinRW[g] = f.contains(.rw)
                                    s.pinOwner[g] = Int8(p)
                                    body(.pin(p: p, r: r, page: i, g: g, flags: f), s)
                                }
                            default: // vmsplice into an old pipe or the next fresh one
                                let used = Int(st.pipesUsed)
                                for pipe in 0..<min(u.pipes, used + 1) where Int(st.pipeDepth[pipe]) < Limits.pipeDepth {
                                    var s = s0
                                    if pipe == used { s.pipesUsed += 1 }
                                    s.pipeDepth[pipe] += 1
                                    body(.vmsplice(p: p, r: r, page: i, pipe: pipe), s)
                                }
                            }
                        }
                    }
                }
            case .fork:
                guard procs < u.processes else { continue }
                for p in 0..<procs where st.alive[p] {
                    if !u.forkEmpty && !st.mapsSomething(p) { continue }
                    var s = st
                    let c = procs
                    s.procsCreated += 1
                    s.alive[c] = true
                    for r in 0..<regs {
                        let kp = EnumState.slot(p, r), kc = EnumState.slot(c, r)
                        let keep = st.inVMA[kp] & ~st.dontfork[kp]
                        s.inVMA[kc] = keep
                        s.vmWrite[kc] = st.vmWrite[kp] & keep
                        s.wipe[kc] = st.wipe[kp] & keep
                        s.dontfork[kc] = 0
                    }
                    body(.fork(p: p, child: c), s)
                }
            case .exit:
                for p in 0..<procs where st.alive[p] {
                    var s = st
                    s.alive[p] = false
                    for r in 0..<4 {
                        let k = EnumState.slot(p, r)
                        s.inVMA[k] = 0; s.vmWrite[k] = 0; s.dontfork[k] = 0; s.wipe[k] = 0
                    }
                    for g in 0..<Int(st.pinsCreated) where st.pinActive[g] && Int(st.pinOwner[g]) == p {
                        s.pinActive[g] = false
                    }
                    body(.exit(p: p), s)
                }
            case .unpin, .readpin, .writepin:
                for g in 0..<Int(st.pinsCreated) where st.pinActive[g] {
                    switch kind {
                    case .unpin:
                        var s = st
                        s.pinActive[g] = false
                        body(.unpin(g: g), s)
                    case .readpin:
                        body(.readpin(g: g), st)
                    default:
                        guard st.pinRW[g], let vs = valueChoices() else { continue }
                        for v in vs {
                            var s = st
                            if v > s.values { s.values = v }
                            body(.writepin(g: g, value: v), s)
                        }
                    }
                }
            case .readpipe:
                for pipe in 0..<Int(st.pipesUsed) where st.pipeDepth[pipe] > 0 {
                    var s = st
                    s.pipeDepth[pipe] -= 1
                    body(.readpipe(pipe: pipe), s)
                }
            case .ksm:
                body(.ksm, st)
            case .migrate, .swapout, .splitpmd, .splitthp:
                for p in 0..<procs where st.alive[p] {
                    for r in 0..<regs where st.exists(p, r) {
                        let k = EnumState.slot(p, r)
                        for i in pageChoices(r) where st.inVMA[k] & (1 << i) != 0 {
                            let s = touching(st, r, i)
                            switch kind {
                            case .migrate: body(.migrate(p: p, r: r, page: i), s)
                            case .swapout: body(.swapout(p: p, r: r, page: i), s)
                            case .splitpmd: body(.splitpmd(p: p, r: r, page: i), s)
                            default: body(.splitthp(p: p, r: r, page: i), s)
                            }
                        }
                    }
                }
            case .race:
                continue
            }
        }
    }

    /// Calls `body` with every canonical program of exactly `depth` ops that extends
    /// `prefix` (whose state is `st`), in enumeration order. `body` returns false to stop.
    @discardableResult
    func forEachProgram(depth: Int, from st: EnumState, prefix: inout [Op], _ body: ([Op]) -> Bool) -> Bool {
        if prefix.count == depth { return body(prefix) }
        var go = true
        forEachSuccessor(st) { op, next in
            guard go else { return }
            prefix.append(op)
            go = forEachProgram(depth: depth, from: next, prefix: &prefix, body)
            prefix.removeLast()
        }
        return go
    }

    /// The canonical prefixes of exactly `depth` ops with their states, in order.
    func prefixes(depth: Int) -> [([Op], EnumState)] {
        var out: [([Op], EnumState)] = []
        func walk(_ st: EnumState, _ ops: inout [Op]) {
            if ops.count == depth { out.append((ops, st)); return }
            forEachSuccessor(st) { op, next in
                ops.append(op)
                walk(next, &ops)
                ops.removeLast()
            }
        }
        var ops: [Op] = []
        walk(EnumState(), &ops)
        return out
    }

    /// Every canonical program of exactly `depth` ops, in order (for tests and small depths).
    public func programs(depth: Int) -> [Program] {
        var out: [Program] = []
        var prefix: [Op] = []
        forEachProgram(depth: depth, from: EnumState(), prefix: &prefix) { ops in
            out.append(Program(ops: ops))
            return true
        }
        return out
    }

    /// How many canonical programs have exactly `depth` ops, without running them.
    public func count(depth: Int) -> Int {
        var n = 0
        var prefix: [Op] = []
        forEachProgram(depth: depth, from: EnumState(), prefix: &prefix) { _ in n += 1; return true }
        return n
    }

    /// Renames processes, regions, pins, pipes and values by first use (`p0` stays the
    /// first process), the naming `Enumerator` produces. Programs equal up to renaming
    /// have the same canonical form.
    public static func canonicalised(_ program: Program) -> Program {
        var procs: [Int: Int] = [0: 0], regs: [Int: Int] = [:], pins: [Int: Int] = [:], pipes: [Int: Int] = [:]
        var vals: [UInt8: UInt8] = [:]
        func name(_ m: inout [Int: Int], _ k: Int) -> Int {
            if let v = m[k] { return v }
            let v = m.count
            m[k] = v
            return v
        }
        func value(_ v: UInt8) -> UInt8 {
            if let w = vals[v] { return w }
            let w = UInt8(vals.count + 1)
            vals[v] = w
            return w
        }
        func op(_ o: Op) -> Op {
            switch o {
            case let .mmap(p, r, n, b, h): return .mmap(p: name(&procs, p), r: name(&regs, r), pages: n, backing: b, huge: h)
            case let .munmap(p, r, g): return .munmap(p: name(&procs, p), r: name(&regs, r), range: g)
            case let .mprotect(p, r, w, g): return .mprotect(p: name(&procs, p), r: name(&regs, r), writable: w, range: g)
            case let .mremap(p, r, to, g):
                let pp = name(&procs, p), rr = name(&regs, r)
                return .mremap(p: pp, r: rr, to: name(&regs, to), range: g)
            case let .madvise(p, r, a, g): return .madvise(p: name(&procs, p), r: name(&regs, r), advice: a, range: g)
            case let .write(p, r, i, v):
                let pp = name(&procs, p), rr = name(&regs, r)
                return .write(p: pp, r: rr, page: i, value: value(v))
            case let .read(p, r, i): return .read(p: name(&procs, p), r: name(&regs, r), page: i)
            case let .fork(p, c):
                let pp = name(&procs, p)
                return .fork(p: pp, child: name(&procs, c))
            case let .exit(p): return .exit(p: name(&procs, p))
            case let .pin(p, r, i, g, f):
                let pp = name(&procs, p), rr = name(&regs, r)
                return .pin(p: pp, r: rr, page: i, g: name(&pins, g), flags: f)
            case let .unpin(g): return .unpin(g: name(&pins, g))
            case let .readpin(g): return .readpin(g: name(&pins, g))
            case let .writepin(g, v):
                let gg = name(&pins, g)
                return .writepin(g: gg, value: value(v))
            case let .vmsplice(p, r, i, pipe):
                let pp = name(&procs, p), rr = name(&regs, r)
                return .vmsplice(p: pp, r: rr, page: i, pipe: name(&pipes, pipe))
            case let .readpipe(pipe): return .readpipe(pipe: name(&pipes, pipe))
            case let .pokemem(p, r, i, v):
                let pp = name(&procs, p), rr = name(&regs, r)
                return .pokemem(p: pp, r: rr, page: i, value: value(v))
            case .ksm: return .ksm
            case let .migrate(p, r, i): return .migrate(p: name(&procs, p), r: name(&regs, r), page: i)
            case let .swapout(p, r, i): return .swapout(p: name(&procs, p), r: name(&regs, r), page: i)
            case let .splitpmd(p, r, i): return .splitpmd(p: name(&procs, p), r: name(&regs, r), page: i)
            case let .splitthp(p, r, i): return .splitthp(p: name(&procs, p), r: name(&regs, r), page: i)
            case let .race(lanes, schedule): return .race(lanes: lanes.map(op), schedule: schedule)
            }
        }
        var out = program
        out.ops = program.ops.map(op)
        return out
    }
}

extension OpStatus {
    /// Skipped (names or state did not allow the op, on every policy alike).
    var isSkipped: Bool { if case .skipped = self { true } else { false } }
}
