import CowModel

/// A set of small integers 0…255 as a 256-bit bitmap: store ordinals (`StoreTable`)
/// in the oracle, page values where a backend sees only values.
public struct ValueSet: Hashable, Sendable {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    public init() {}
    public init(_ v: UInt8) { insert(v) }

    @inline(__always) public mutating func insert(_ v: UInt8) {
        let b = UInt64(1) << UInt64(v & 63)
        switch v >> 6 {
        case 0: w0 |= b
        case 1: w1 |= b
        case 2: w2 |= b
        default: w3 |= b
        }
    }

    @inline(__always) public func contains(_ v: UInt8) -> Bool {
        let b = UInt64(1) << UInt64(v & 63)
        switch v >> 6 {
        case 0: return w0 & b != 0
        case 1: return w1 & b != 0
        case 2: return w2 & b != 0
        default: return w3 & b != 0
        }
    }

    @inline(__always) public mutating func formUnion(_ o: ValueSet) {
        w0 |= o.w0; w1 |= o.w1; w2 |= o.w2; w3 |= o.w3
    }

    public var values: [Int] { (0...255).filter { contains(UInt8($0)) } }
    /// Every value.
    public static let all: ValueSet = { var s = ValueSet(); s.w0 = ~0; s.w1 = ~0; s.w2 = ~0; s.w3 = ~0; return s }()
}

/// The stores of a program, in program order, and their ordinals: the oracle's names
/// for stores. Ordinal 0 is the initial zero; store k (0-based, lanes of a race in lane
/// order) has ordinal k + 1, and every store from the 255th on shares ordinal 255 (a
/// program that long is judged leniently for its later stores: never a false finding).
/// Store ids (`StoreID`) grow with program order, so an id's ordinal is a binary search.
public struct StoreTable: Hashable, Sendable {
    /// The store ids, ascending.
    public private(set) var ids: [Int32] = []
    /// The value each store writes.
    public private(set) var values: [UInt8] = []

    public init(_ program: Program) {
        for (i, op) in program.ops.enumerated() {
            switch op {
            case let .write(_, _, _, v), let .pokemem(_, _, _, v), let .writepin(_, v):
                ids.append(StoreID.of(op: i, lane: -1)); values.append(v)
            case let .race(lanes, _):
                for (l, lop) in lanes.enumerated() {
                    switch lop {
                    case let .write(_, _, _, v), let .pokemem(_, _, _, v), let .writepin(_, v):
                        ids.append(StoreID.of(op: i, lane: l)); values.append(v)
                    default: break
                    }
                }
            default: break
            }
        }
    }

    /// The ordinal of a store id; nil for an id that is no store of the program.
    public func ordinal(of id: Int32) -> UInt8? {
        if id == StoreID.zero { return 0 }
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        guard lo < ids.count, ids[lo] == id else { return nil }
        return UInt8(min(lo + 1, 255))
    }

    /// The value a store of this ordinal wrote (0 for the initial zero).
    public func value(of ordinal: UInt8) -> UInt8 { ordinal == 0 ? 0 : values[Int(ordinal) - 1] }

    /// Every ordinal whose store wrote `value` (0 for the initial zero).
    public func ordinals(withValue value: UInt8) -> ValueSet {
        var s = ValueSet()
        if value == 0 { s.insert(0) }
        for (k, v) in values.enumerated() where v == value { s.insert(UInt8(min(k + 1, 255))) }
        return s
    }

    /// The values of a set of ordinals.
    public func values(of set: ValueSet) -> ValueSet {
        var out = ValueSet()
        for o in 0...255 where set.contains(UInt8(o)) {
            if o == 0 { out.insert(0) } else if o - 1 < values.count { out.insert(values[o - 1]) }
        }
        return out
    }
}

/// What the reference semantics accept for one observation, as store ordinals
/// (`StoreTable`), and the observer's own history (to tell a stale store, `coherence`,
/// from another process's, `isolation`).
public struct Acceptance: Hashable, Sendable {
    public var accepted: ValueSet
    public var history: ValueSet
    /// The observation is through a FOLL_PIN pin with coherence semantics (spec §4.1 item 3).
    public var coherent: Bool
}

/// The reference semantics of design.md and spec §4.1, independent of any policy.
///
/// Each process has private logical memory made of *cells*; fork copies cells;
/// MAP_SHARED locations of all processes name one cell; a FOLL_PIN pin in scope
/// aliases its owner's cell while the owner keeps it mapped; a FOLL_GET reference (a
/// pipe buffer, a `get` pin) may show any value its cell held since the reference was
/// taken, never another process's data. The reference is driven by a policy's op
/// statuses (an op that was skipped or refused did nothing). It judges *stores*, not
/// values: each cell holds store ordinals (`StoreTable`), so two stores of the same
/// value are never confused.
public struct Reference {
    struct Cell {
        /// The process whose memory it is (its creator for a shared cell).
        var owner: Int32 = -1
        var value = ValueSet(0)
        var history = ValueSet(0)
        var alive = true
        /// Backed by an anonymous page (written, or copied at fork from such a cell).
        var anon = false
        var shared = false
    }


    struct Ref {
        var active = false
        var cell: Int32 = -1
        var acc = ValueSet()
        var coherent = false
        var owner: Int32 = -1
    }

    struct Loc {
        var cell: Int32 = -1
        var dontfork = false
        var wipeonfork = false
    }

    struct RegionInfo {
        var exists = false
        var pages = 0
        var backing = Backing.anon
        /// First cell of the shmem object, for shared regions.
        var objectBase: Int32 = -1
        var pgoff = 0
        /// A hugetlb mapping: mremap and MADV_DONTNEED align their length (`HugetlbRange`).
        var hugetlb = false
    }

    var cells: [Cell] = []
    var locs: [Loc] = []
    var regions: [RegionInfo] = []
    var alive: [Bool] = []
    var pins: [Ref] = []
    var pipes: [[Ref]] = []
    /// The program's stores; `ordinal` is the store the op being applied makes.
    var table: StoreTable?
    var ordinal: UInt8 = 0
    var opIndex = 0
    var procCap = 1, regionCap = 1, pageCap = 1
    /// Pages of a huge page (the program's THP order).
    var hugeNr = 1 << Program.defaultThpOrder
    /// After a race: the other serializations' states ("worlds"; see Reference+Race.swift).
    var alternatives: [Reference] = []
    /// A race has run: ops are applied to a world only where their names exist.
    var guarded = false
    /// Races made more worlds than the reference follows: it accepts every value.
    var saturated = false

    public init() {}

    @inline(__always) func li(_ p: Int, _ r: Int, _ i: Int) -> Int { (p * regionCap + r) * pageCap + i }
    @inline(__always) func ri(_ p: Int, _ r: Int) -> Int { p * regionCap + r }

    mutating func reset(_ program: Program) {
        let shape = ProgramShape(program)
        procCap = shape.processes
        regionCap = shape.regions
        pageCap = shape.pages
        hugeNr = 1 << program.effectiveThpOrder
        cells.removeAll(keepingCapacity: true)
        locs = Array(repeating: Loc(), count: procCap * regionCap * pageCap)
        regions = Array(repeating: RegionInfo(), count: procCap * regionCap)
        alive = Array(repeating: false, count: procCap)
        alive[0] = true
        pins = Array(repeating: Ref(), count: shape.pins)
        pipes = Array(repeating: [], count: shape.pipes)
        table = StoreTable(program)
    }

    /// The cell at a page of a region the reference maps; -1 for a page it does not map
    /// (past the region, or a name of no region).
    @inline(__always) func cell(_ p: Int, _ r: Int, _ i: Int) -> Int32 {
        guard i < pageCap, i < regions[ri(p, r)].pages else { return -1 }
        return locs[li(p, r, i)].cell
    }

    mutating func newCell(owner: Int, shared: Bool = false) -> Int32 {
        cells.append(Cell(owner: Int32(owner), shared: shared))
        return Int32(cells.count - 1)
    }

    /// The private cell of a location dies (munmap, dontneed, exit).
    mutating func kill(_ l: Int) {
        let c = locs[l].cell
        guard c >= 0 else { return }
        if !cells[Int(c)].shared { cells[Int(c)].alive = false }
        locs[l].cell = -1
    }

    /// A value lands in a cell: by a store of its owner, or a device write through a coherent pin.
    mutating func store(_ c: Int32, _ v: UInt8, exact: Bool) {
        guard c >= 0 else { return }
        if exact { cells[Int(c)].value = ValueSet(v) } else { cells[Int(c)].value.insert(v) }
        cells[Int(c)].history.insert(v)
        cells[Int(c)].anon = true
        for g in pins.indices where pins[g].active && pins[g].cell == c {
            if pins[g].coherent && exact { pins[g].acc = ValueSet(v) } else { pins[g].acc.insert(v) }
        }
        for q in pipes.indices {
            for k in pipes[q].indices where pipes[q][k].cell == c { pipes[q][k].acc.insert(v) }
        }
    }

    /// Applies one op that ran to this world; returns the acceptance for an observation.
    /// (`step` applies an op to every world and handles races.)
    mutating func applyOne(_ op: Op) -> Acceptance? {
        switch op {
        case let .mmap(p, r, pages, backing, huge):
            var info = RegionInfo(exists: true, pages: pages, backing: backing, hugetlb: huge == .hugetlb)
            if backing == .shared {
                info.objectBase = Int32(cells.count)
                for _ in 0..<pages { _ = newCell(owner: p, shared: true) }
            }
            regions[ri(p, r)] = info
            for k in 0..<pages {
                locs[li(p, r, k)] = Loc(cell: backing == .shared ? info.objectBase + Int32(k) : newCell(owner: p))
            }
        case let .munmap(p, r, range):
            let reg = regions[ri(p, r)]
            let from = range?.from ?? 0, count = range?.count ?? reg.pages
            for k in from..<max(from, min(from + count, reg.pages)) { kill(li(p, r, k)); locs[li(p, r, k)] = Loc() }
            retire(p, r)
        case let .mremap(p, r, to, range):
            let reg = regions[ri(p, r)]
            let from = range?.from ?? 0
            var count = range?.count ?? reg.pages
            if reg.hugetlb { count = HugetlbRange.mremapCount(count, hugeNr: hugeNr) }
            // Total over any backend's statuses: never past the region the reference knows.
            count = max(0, min(count, reg.pages - from))
            var n = reg
            n.pages = count
            n.pgoff = reg.pgoff + from
            regions[ri(p, to)] = n
            for k in 0..<count {
                locs[li(p, to, k)] = locs[li(p, r, from + k)]
                locs[li(p, r, from + k)] = Loc()
            }
            retire(p, r)
        case let .madvise(p, r, advice, range):
            let reg = regions[ri(p, r)]
            let from = range?.from ?? 0
            var count = range?.count ?? reg.pages
            if reg.hugetlb && advice == .dontneed { count = HugetlbRange.dontneedCount(count, hugeNr: hugeNr) }
            for k in from..<max(from, min(from + count, reg.pages)) {
                let l = li(p, r, k)
                switch advice {
                case .dontneed:
                    if reg.backing != .shared {
                        kill(l)
                        locs[l].cell = newCell(owner: p)
                    }
                case .dontfork: locs[l].dontfork = true
                case .dofork: locs[l].dontfork = false
                case .wipeonfork: locs[l].wipeonfork = true
                default: break
                }
            }
        case let .write(p, r, i, _), let .pokemem(p, r, i, _):
            store(cell(p, r, i), ordinal, exact: true)
        case let .read(p, r, i):
            let cid = cell(p, r, i)
            // A page the reference does not map (a backend ran what its names do not
            // allow): not judged, never a crash.
            guard cid >= 0 else { return nil }
            let c = cells[Int(cid)]
            return Acceptance(accepted: c.value, history: c.history, coherent: false)
        case let .fork(p, c):
            alive[c] = true
            for r in 0..<regionCap {
                let reg = regions[ri(p, r)]
                guard reg.exists else { continue }
                var any = false
                for k in 0..<reg.pages {
                    let pl = locs[li(p, r, k)]
                    locs[li(c, r, k)] = Loc()
                    guard pl.cell >= 0, !pl.dontfork else { continue }
                    any = true
                    var nl = pl
                    let cell = cells[Int(pl.cell)]
                    if cell.shared {
                        nl.cell = pl.cell
                    } else if pl.wipeonfork {
                        nl.cell = newCell(owner: c)
                    } else {
                        nl.cell = newCell(owner: c)
                        cells[Int(nl.cell)].value = cell.value
                        cells[Int(nl.cell)].history = cell.history
                        cells[Int(nl.cell)].anon = cell.anon
                    }
                    locs[li(c, r, k)] = nl
                }
                if any { regions[ri(c, r)] = reg }
            }
        case let .exit(p):
            for r in 0..<regionCap where regions[ri(p, r)].exists {
                for k in 0..<regions[ri(p, r)].pages { kill(li(p, r, k)); locs[li(p, r, k)] = Loc() }
                regions[ri(p, r)].exists = false
            }
            for g in pins.indices where pins[g].active && pins[g].owner == Int32(p) { pins[g].active = false }
            alive[p] = false
        case let .pin(p, r, i, g, flags):
            let c = cell(p, r, i)
            guard c >= 0 else { return nil }
            let cell = cells[Int(c)]
            let coherent = !flags.contains(.get)
                && (cell.shared || flags.contains(.rw) || flags.contains(.longterm) || cell.anon)
            if flags.contains(.rw) { cells[Int(c)].anon = true }
            pins[g] = Ref(active: true, cell: c, acc: cell.value, coherent: coherent, owner: Int32(p))
        case let .unpin(g):
            pins[g].active = false
        case let .readpin(g):
            let ref = pins[g]
            guard ref.cell >= 0 else { return nil }
            let cell = cells[Int(ref.cell)]
            let acc = ref.coherent && cell.alive ? cell.value : ref.acc
            return Acceptance(accepted: acc, history: cell.history, coherent: ref.coherent)
        case let .writepin(g, _):
            let v = ordinal
            let ref = pins[g]
            guard ref.cell >= 0 else { return nil }
            if cells[Int(ref.cell)].alive {
                store(ref.cell, v, exact: ref.coherent)
            } else {
                // The owner no longer maps the page: the write reaches only references to it.
                cells[Int(ref.cell)].history.insert(v)
                for h in pins.indices where pins[h].active && pins[h].cell == ref.cell { pins[h].acc.insert(v) }
                for q in pipes.indices {
                    for k in pipes[q].indices where pipes[q][k].cell == ref.cell { pipes[q][k].acc.insert(v) }
                }
                if ref.coherent { pins[g].acc = ValueSet(v) }
            }
        case let .vmsplice(p, r, i, pipe):
            let c = cell(p, r, i)
            guard c >= 0 else { return nil }
            pipes[pipe].append(Ref(active: true, cell: c, acc: cells[Int(c)].value, coherent: false, owner: Int32(p)))
        case let .readpipe(pipe):
            guard !pipes[pipe].isEmpty else { return nil }
            let ref = pipes[pipe].removeFirst()
            return Acceptance(accepted: ref.acc, history: cells[Int(ref.cell)].history, coherent: false)
        case .mprotect, .ksm, .migrate, .swapout, .splitpmd, .splitthp, .race:
            break
        }
        return nil
    }

    mutating func retire(_ p: Int, _ r: Int) {
        let reg = regions[ri(p, r)]
        for k in 0..<reg.pages where locs[li(p, r, k)].cell >= 0 { return }
        regions[ri(p, r)].exists = false
    }

    /// The acceptance of every observing op of a program run with these statuses.
    /// `laneStatuses`: the run's `Trace.laneStatuses`; without them every lane of a race
    /// may or may not have run (lenient).
    public static func evaluate(_ program: Program, statuses: [OpStatus], laneStatuses: [OpStatus] = []) -> [Acceptance?] {
        var ref = Reference()
        ref.reset(program)
        var out: [Acceptance?] = Array(repeating: nil, count: program.ops.count)
        var lane = 0
        for (i, op) in program.ops.enumerated() {
            var lanes: ArraySlice<OpStatus>?
            if case let .race(l, _) = op {
                if lane + l.count <= laneStatuses.count { lanes = laneStatuses[lane..<(lane + l.count)] }
                lane += l.count
            }
            guard i < statuses.count && statuses[i].executed else { continue }
            ref.setStore(op: i, lane: -1)
            out[i] = ref.step(op, lanes: lanes)
        }
        return out
    }

    /// Sets the store the next applied op makes (in every world).
    mutating func setStore(op: Int, lane: Int) {
        opIndex = op
        ordinal = table?.ordinal(of: StoreID.of(op: op, lane: lane)) ?? 0
        for k in alternatives.indices { alternatives[k].opIndex = op; alternatives[k].ordinal = ordinal }
    }

    /// Classifies an observed store the reference does not accept: a store of the
    /// observer's own history is coherence, any other store (another process's, or
    /// another location's) is isolation. After a race the serialisations' histories are
    /// merged, so a store inherited in one of them counts as the observer's own: the
    /// verdict claims the least (coherence), since a schedule exists that explains it so.
    public static func classify(_ observed: UInt8, _ a: Acceptance) -> Verdict {
        a.history.contains(observed) ? .coherence : .isolation
    }

    /// Classifies an observation that is known only by its value (a KSM page, which
    /// stands for every store of its content, or a backend that sees values only):
    /// `candidates` are the ordinals of the stores that wrote it. Accepted if any
    /// candidate is; otherwise coherence if one is the observer's own history (the least
    /// claim: a KSM page of that content stands for the observer's own store too), else
    /// isolation; integrity if no store wrote it.
    public static func judge(candidates: ValueSet, _ a: Acceptance) -> Verdict? {
        var none = true
        var own = false
        for o in 0...255 where candidates.contains(UInt8(o)) {
            none = false
            if a.accepted.contains(UInt8(o)) { return nil }
            if a.history.contains(UInt8(o)) { own = true }
        }
        if none { return .integrity }
        return own ? .coherence : .isolation
    }
}
