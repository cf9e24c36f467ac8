import CowModel

/// The repo's one seeded generator, under the name the tests use.
public typealias TestRng = SplitMix64

/// Random programs over a small universe of names, so most ops act on names that
/// exist: the generator of the format and invariant property tests.
public struct RandomPrograms {
    public var processes = 3
    public var regions = 2
    public var maxPages = 3
    public var pins = 2
    public var pipes = 2
    /// Which op kinds to draw from.
    public var kinds: [OpKind] = OpKind.allCases.filter { $0 != .race }

    public init() {}

    public func make(seed: UInt64, length: Int) -> Program {
        var rng = TestRng(seed: seed)
        var ops: [Op] = [.mmap(p: 0, r: 0, pages: 1 + rng.below(maxPages), backing: .anon, huge: .none)]
        var value: UInt8 = 0
        func fresh() -> UInt8 { value = value == 255 ? 1 : value + 1; return value }
        // A rough picture of which names exist, so most ops act on live names.
        var alive: Set<Int> = [0]
        var mapped: Set<Int> = [0]
        while ops.count < length {
            var op = self.op(&rng, fresh)
            if rng.chance(85) { op = retarget(op, &rng, alive: alive, mapped: mapped) }
            switch op {
            case let .fork(_, c): alive.insert(c)
            case let .exit(p): alive.remove(p); if alive.isEmpty { alive = [0] }
            case let .mmap(_, r, _, _, _): mapped.insert(r)
            case let .mremap(_, _, to, _): mapped.insert(to)
            default: break
            }
            ops.append(op)
        }
        var prog = Program(ops: ops)
        if rng.chance(50) { prog.thpOrder = 1 + rng.below(2) }
        return prog
    }

    /// Points an op's process and region at names that likely exist.
    func retarget(_ op: Op, _ rng: inout TestRng, alive: Set<Int>, mapped: Set<Int>) -> Op {
        let ps = alive.sorted(), rs = mapped.sorted()
        let p = ps[rng.below(ps.count)], r = rs[rng.below(rs.count)]
        switch op {
        case let .munmap(_, _, range): return .munmap(p: p, r: r, range: range)
        case let .mprotect(_, _, w, range): return .mprotect(p: p, r: r, writable: w, range: range)
        case let .madvise(_, _, a, range): return .madvise(p: p, r: r, advice: a, range: range)
        case let .write(_, _, i, v): return .write(p: p, r: r, page: i, value: v)
        case let .read(_, _, i): return .read(p: p, r: r, page: i)
        case let .fork(_, c): return .fork(p: p, child: c)
        case let .pin(_, _, i, g, f): return .pin(p: p, r: r, page: i, g: g, flags: f)
        case let .vmsplice(_, _, i, pipe): return .vmsplice(p: p, r: r, page: i, pipe: pipe)
        case let .pokemem(_, _, i, v): return .pokemem(p: p, r: r, page: i, value: v)
        case let .migrate(_, _, i): return .migrate(p: p, r: r, page: i)
        case let .swapout(_, _, i): return .swapout(p: p, r: r, page: i)
        case let .splitpmd(_, _, i): return .splitpmd(p: p, r: r, page: i)
        case let .splitthp(_, _, i): return .splitthp(p: p, r: r, page: i)
        case let .mmap(_, r2, n, b, h): return .mmap(p: p, r: r2, pages: n, backing: b, huge: h)
        case let .mremap(_, _, to, range): return .mremap(p: p, r: r, to: to, range: range)
        default: return op
        }
    }

    public func op(_ rng: inout TestRng, _ fresh: () -> UInt8) -> Op {
        let p = rng.below(processes), r = rng.below(regions), i = rng.below(maxPages)
        let g = rng.below(pins), pipe = rng.below(pipes)
        func range() -> PageRange? {
            guard rng.chance(30) else { return nil }
            let f = rng.below(maxPages)
            return PageRange(from: f, count: 1 + rng.below(maxPages - f))
        }
        switch kinds[rng.below(kinds.count)] {
        case .mmap:
            let backing: Backing = rng.chance(70) ? .anon : (rng.chance(50) ? .shared : .file)
            let huge: HugeKind = backing == .anon && rng.chance(35) ? (rng.chance(50) ? .thp : .hugetlb) : .none
            let pages = huge == .none ? 1 + rng.below(maxPages) : maxPages - maxPages % 2
            return .mmap(p: p, r: r, pages: max(1, pages), backing: backing, huge: huge)
        case .munmap: return .munmap(p: p, r: r, range: range())
        case .mprotect: return .mprotect(p: p, r: r, writable: rng.chance(50), range: range())
        case .mremap: return .mremap(p: p, r: r, to: rng.below(regions), range: range())
        case .madvise: return .madvise(p: p, r: r, advice: Advice.allCases[rng.below(Advice.allCases.count)], range: range())
        case .write: return .write(p: p, r: r, page: i, value: fresh())
        case .read: return .read(p: p, r: r, page: i)
        case .fork: return .fork(p: p, child: rng.below(processes))
        case .exit: return .exit(p: p)
        case .pin: return .pin(p: p, r: r, page: i, g: g, flags: PinFlags(rawValue: UInt8(rng.below(16))))
        case .unpin: return .unpin(g: g)
        case .readpin: return .readpin(g: g)
        case .writepin: return .writepin(g: g, value: fresh())
        case .vmsplice: return .vmsplice(p: p, r: r, page: i, pipe: pipe)
        case .readpipe: return .readpipe(pipe: pipe)
        case .pokemem: return .pokemem(p: p, r: r, page: i, value: fresh())
        case .ksm: return .ksm
        case .migrate: return .migrate(p: p, r: r, page: i)
        case .swapout: return .swapout(p: p, r: r, page: i)
        case .splitpmd: return .splitpmd(p: p, r: r, page: i)
        case .splitthp: return .splitthp(p: p, r: r, page: i)
        case .race:
            var lanes: [Op] = []
            for _ in 0..<2 {
                var lane = op(&rng, fresh)
                while lane.kind == .race || lane.process == nil { lane = op(&rng, fresh) }
                lanes.append(lane)
            }
            return .race(lanes: lanes, schedule: (0..<(2 + rng.below(4))).map { _ in UInt8(rng.below(2)) })
        }
    }
}
