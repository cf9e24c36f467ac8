import CowModel

/// The bounds of a state-space exploration (`cowfuzz explore`).
///
/// The universe is `EnumerationUniverse`'s, read as bounds on what exists *at once*:
/// `processes` process slots (a slot is reused after `exit`), `regions` region names per
/// process, `pages` pages per `mmap`, `pins` pin slots, `pipes` pipes; plus the values a
/// write may store and how many buffers a pipe holds. Every state of that universe
/// is reachable by some program, at any depth.
public struct ExploreOptions: Sendable {
    public var universe = EnumerationUniverse()
    /// Writes store one of the values 1…`values`.
    public var values = 2
    /// Buffers a pipe holds at once (`vmsplice` into a full pipe is not explored).
    public var pipeDepth = 1
    /// Permute processes, pins and pipes before hashing (off: identity only).
    public var symmetry = true
    public var visited = VisitedMode.hashCompaction
    public var jobs = 1
    /// Seconds; stops cleanly at the first check after it.
    public var timeLimit: Double?
    public var maxStates: Int?
    /// Explore no deeper than this many ops.
    public var maxDepth: Int?
    /// Stop after the depth at which the first counterexample was found.
    public var stopAtFirst = false

    public init() {}

    /// One line describing the bounds, for reports.
    public var summary: String {
        let u = universe
        func n(_ k: Int, _ one: String, _ many: String) -> String { "\(k) \(k == 1 ? one : many)" }
        var s = n(u.processes, "process", "processes") + " × " + n(u.regions, "region", "regions")
        s += " of 1…\(u.pages) page\(u.pages == 1 ? "" : "s")"
        s += " (" + u.backings.map { $0 == .anon ? "anon" : $0 == .shared ? "shared" : "file" }.joined(separator: ",") + ")"
        s += " × " + n(values, "value", "values") + " × " + n(u.pins, "pin", "pins") + " × " + n(u.pipes, "pipe", "pipes")
        if u.pipes > 0 { s += " of depth \(pipeDepth)" }
        if u.ranges { s += ", page ranges" }
        return s
    }

    /// A program that names the largest process, region, page, pin and pipe of the
    /// universe: its shape sizes the machine and the reference.
    var shapeProgram: Program {
        let u = universe
        var ops: [Op] = [.mmap(p: u.processes - 1, r: u.regions - 1, pages: u.pages, backing: .anon, huge: .none)]
        if u.pins > 0 { ops.append(.pin(p: 0, r: 0, page: 0, g: u.pins - 1, flags: [])) }
        if u.pipes > 0 { ops.append(.vmsplice(p: 0, r: 0, page: 0, pipe: u.pipes - 1)) }
        return Program(ops: ops)
    }

    public func validate() throws(EnumerationError) {
        try universe.validate()
        if !(1...16).contains(values) { throw .universe("values must be 1…16") }
        if !(1...Limits.pipeDepth).contains(pipeDepth) { throw .universe("pipe depth must be 1…\(Limits.pipeDepth)") }
        if let d = maxDepth, !(1...250).contains(d) { throw .universe("max depth must be 1…250") }
    }
}

/// How the explorer remembers the states it has seen.
public enum VisitedMode: Hashable, Sendable {
    /// The full canonical encodings: exact, memory grows with the encoding size.
    case exact
    /// 64-bit hashes of the encodings (hash compaction): 8 bytes and some slack per
    /// state; two states with the same hash would be taken for one, with probability
    /// about n²/2⁶⁵ for n states (reported), so the proof is exact up to that.
    case hashCompaction
    /// A bit array of 2^bits bits, two hash functions (Spin's -DBITSTATE): a few bits
    /// per state, but states are lost to collisions, so no proof.
    case bitstate(bits: Int)

    public var name: String {
        switch self {
        case .exact: "exact"
        case .hashCompaction: "hash compaction (64-bit)"
        case let .bitstate(b): "bit-state (2^\(b) bits, not a proof)"
        }
    }
}

extension ExploreOptions {
    /// Successor `k` of a state (in `successorOps` order).
    func successorOp(_ m: MachineState, at k: Int) -> Op {
        var i = 0
        var found: Op?
        successorOps(m) { op in
            if i == k { found = op }
            i += 1
        }
        return found!
    }

    /// Every op the universe allows after a state, in a fixed order. Ops the machine
    /// skips are dropped by the caller; fresh names are the lowest free ones (any free
    /// name is as good: names are symmetric).
    func successorOps(_ m: MachineState, _ body: (Op) -> Void) {
        let u = universe
        let procs = u.processes
        func alive(_ p: Int) -> Bool { m.procs[p].alive }
        func exists(_ p: Int, _ r: Int) -> Bool { m.regions[m.regionIndex(p, r)].exists }
        func pages(_ p: Int, _ r: Int) -> Int { Int(m.regions[m.regionIndex(p, r)].pages) }
        func ranges(_ n: Int) -> [PageRange?] {
            guard u.ranges, n > 1 else { return [nil] }
            return [nil] + (0..<n).map { PageRange(from: $0, count: 1) }
        }
        let vals = (1...values).map { UInt8($0) }
        for kind in u.kinds {
            switch kind {
            case .mmap:
                for p in 0..<procs where alive(p) {
                    guard let r = (0..<u.regions).first(where: { !exists(p, $0) }) else { continue }
                    for n in 1...u.pages {
                        for b in u.backings { body(.mmap(p: p, r: r, pages: n, backing: b, huge: .none)) }
                    }
                }
            case .munmap, .mprotect, .madvise, .mremap:
                for p in 0..<procs where alive(p) {
                    for r in 0..<u.regions where exists(p, r) {
                        for g in ranges(pages(p, r)) {
                            switch kind {
                            case .munmap: body(.munmap(p: p, r: r, range: g))
                            case .mprotect:
                                body(.mprotect(p: p, r: r, writable: false, range: g))
                                body(.mprotect(p: p, r: r, writable: true, range: g))
                            case .madvise:
                                for a in u.advices { body(.madvise(p: p, r: r, advice: a, range: g)) }
                            default:
                                if let to = (0..<u.regions).first(where: { !exists(p, $0) }) {
                                    body(.mremap(p: p, r: r, to: to, range: g))
                                }
                            }
                        }
                    }
                }
            case .write, .read, .pokemem, .pin, .vmsplice, .migrate, .swapout, .splitpmd, .splitthp:
                for p in 0..<procs where alive(p) {
                    for r in 0..<u.regions where exists(p, r) {
                        for i in 0..<pages(p, r) {
                            switch kind {
                            case .write: for v in vals { body(.write(p: p, r: r, page: i, value: v)) }
                            case .pokemem: for v in vals { body(.pokemem(p: p, r: r, page: i, value: v)) }
                            case .read: body(.read(p: p, r: r, page: i))
                            case .pin:
                                guard let g = (0..<u.pins).first(where: { !m.pins[$0].active }) else { continue }
                                for f in u.pinFlags { body(.pin(p: p, r: r, page: i, g: g, flags: f)) }
                            case .vmsplice:
                                for q in 0..<u.pipes where Int(m.pipeCount[q]) < pipeDepth {
                                    body(.vmsplice(p: p, r: r, page: i, pipe: q))
                                }
                            case .migrate: body(.migrate(p: p, r: r, page: i))
                            case .swapout: body(.swapout(p: p, r: r, page: i))
                            case .splitpmd: body(.splitpmd(p: p, r: r, page: i))
                            default: body(.splitthp(p: p, r: r, page: i))
                            }
                        }
                    }
                }
            case .fork:
                guard let c = (0..<procs).first(where: { !alive($0) }) else { continue }
                for p in 0..<procs where alive(p) { body(.fork(p: p, child: c)) }
            case .exit:
                for p in 0..<procs where alive(p) { body(.exit(p: p)) }
            case .unpin, .readpin, .writepin:
                for g in 0..<u.pins where m.pins[g].active {
                    switch kind {
                    case .unpin: body(.unpin(g: g))
                    case .readpin: body(.readpin(g: g))
                    default: for v in vals { body(.writepin(g: g, value: v)) }
                    }
                }
            case .readpipe:
                for q in 0..<u.pipes where m.pipeCount[q] > 0 { body(.readpipe(pipe: q)) }
            case .ksm:
                body(.ksm)
            case .race:
                continue
            }
        }
    }
}
