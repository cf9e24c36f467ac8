import CowModel

/// The reference meaning of a race: that of *some* serialization of its lanes.
///
/// Each lane op is atomic in the reference. A race replaces the reference state by the
/// set of states ("worlds") that the serial orders of its lanes produce — every
/// permutation for up to 5 lanes, the rotations of the lane order beyond that — and
/// every later op is applied in every world; an observation accepts the union of what
/// the worlds accept. Only lanes that ran in the machine are applied (the trace's
/// `laneStatuses`); without them each lane may or may not have run. In a world where
/// an op's names do not exist (the serial order made them go away, or never made
/// them), the op does nothing there. Worlds are kept distinct up to equality of their
/// state; beyond `maxWorlds` of them the reference gives up judging (every later
/// observation is accepted): a program with many races of many lanes is not judged
/// after that point (a limitation, never a false finding). Races whose lanes
/// observe (`read`, `readpin`, `readpipe`) are skipped by the machine, so they never
/// reach the reference.
extension Reference {
    static let maxWorlds = 64

    /// Applies one op that ran to every world; handles races.
    mutating func step(_ op: Op, lanes: ArraySlice<OpStatus>?) -> Acceptance? {
        if case let .race(ops, _) = op {
            race(ops, lanes)
            return nil
        }
        if !guarded { return applyOne(op) }
        if saturated {
            // Too many serializations to follow: accept anything rather than judge wrongly.
            for k in alternatives.indices where alternatives[k].valid(op) { _ = alternatives[k].applyOne(op) }
            guard valid(op), var a = applyOne(op) else { return nil }
            a.accepted = ValueSet.all
            return a
        }
        var acc: Acceptance?
        if valid(op) { acc = applyOne(op) }
        for k in alternatives.indices where alternatives[k].valid(op) {
            guard let a = alternatives[k].applyOne(op) else { continue }
            if var u = acc {
                u.accepted.formUnion(a.accepted)
                u.history.formUnion(a.history)
                u.coherent = u.coherent || a.coherent
                acc = u
            } else {
                acc = a
            }
        }
        return acc
    }

    mutating func race(_ ops: [Op], _ lanes: ArraySlice<OpStatus>?) {
        let n = ops.count
        var masks: [[Bool]] = []
        if let lanes {
            masks.append(lanes.map(\.executed))
        } else if n <= 4 {
            for m in 0..<(1 << n) { masks.append((0..<n).map { m & (1 << $0) != 0 }) }
        } else {
            masks.append(Array(repeating: true, count: n))
        }
        let orders = Reference.serialOrders(n)
        compactCells()
        for k in alternatives.indices { alternatives[k].compactCells() }
        var start = self
        start.alternatives = []
        var worlds: [Reference] = []
        // Worlds by the hash of their state: a candidate is compared in full only with
        // the worlds in its bucket, not with every world (the same worlds, in the same order).
        var buckets: [Int: [Int]] = [:]
        for w in [start] + alternatives {
            for mask in masks {
                for order in orders {
                    var x = w
                    x.guarded = true
                    for l in order where mask[l] && !ops[l].kind.observes && x.valid(ops[l]) {
                        x.ordinal = table?.ordinal(of: StoreID.of(op: opIndex, lane: l)) ?? 0
                        _ = x.applyOne(ops[l])
                    }
                    let h = x.stateHash()
                    if !(buckets[h]?.contains(where: { worlds[$0].sameState(x) }) ?? false) {
                        if worlds.count < Reference.maxWorlds {
                            buckets[h, default: []].append(worlds.count)
                            worlds.append(x)
                        } else {
                            saturated = true
                        }
                    }
                }
            }
        }
        let full = saturated
        self = worlds[0]
        alternatives = Array(worlds.dropFirst())
        guarded = true
        saturated = full
    }

    /// Drops the cells nothing can name any more (a dead private cell no location, pin
    /// or pipe buffer refers to), keeping the order of the rest. Without it every world
    /// carries every cell the program ever made, and a program of N races costs O(N²):
    /// each race copies and compares the worlds. Shared cells are always kept, so a
    /// shmem object's cells stay contiguous from its `objectBase`.
    mutating func compactCells() {
        var map = [Int32](repeating: -1, count: cells.count)
        for k in cells.indices where cells[k].shared || cells[k].alive { map[k] = 0 }
        for l in locs where l.cell >= 0 { map[Int(l.cell)] = 0 }
        for g in pins.indices {
            if !pins[g].active { pins[g].cell = -1 } else if pins[g].cell >= 0 { map[Int(pins[g].cell)] = 0 }
        }
        for q in pipes { for r in q where r.cell >= 0 { map[Int(r.cell)] = 0 } }
        var next: Int32 = 0
        for k in map.indices where map[k] == 0 {
            cells[Int(next)] = cells[k]
            map[k] = next
            next += 1
        }
        guard Int(next) < cells.count else { return }
        cells.removeLast(cells.count - Int(next))
        for k in locs.indices where locs[k].cell >= 0 { locs[k].cell = map[Int(locs[k].cell)] }
        for g in pins.indices where pins[g].cell >= 0 { pins[g].cell = map[Int(pins[g].cell)] }
        for q in pipes.indices { for k in pipes[q].indices where pipes[q][k].cell >= 0 { pipes[q][k].cell = map[Int(pipes[q][k].cell)] } }
        for k in regions.indices where regions[k].objectBase >= 0 { regions[k].objectBase = map[Int(regions[k].objectBase)] }
    }

    /// Every permutation of 0..<n for n ≤ 5, else the n rotations.
    static func serialOrders(_ n: Int) -> [[Int]] {
        guard n <= 5 else { return (0..<n).map { k in (0..<n).map { ($0 + k) % n } } }
        var out: [[Int]] = []
        func go(_ prefix: [Int], _ rest: [Int]) {
            if rest.isEmpty { out.append(prefix); return }
            for (k, x) in rest.enumerated() {
                var r = rest
                r.remove(at: k)
                go(prefix + [x], r)
            }
        }
        go([], Array(0..<n))
        return out
    }

    /// Whether the names an op uses exist in this world (the machine's skip rules that
    /// the reference can see).
    func valid(_ op: Op) -> Bool {
        func live(_ p: Int) -> Bool { p < procCap && alive[p] }
        func region(_ p: Int, _ r: Int) -> RegionInfo? {
            guard live(p), r < regionCap, regions[ri(p, r)].exists else { return nil }
            return regions[ri(p, r)]
        }
        func page(_ p: Int, _ r: Int, _ i: Int) -> Bool {
            guard let reg = region(p, r), i < reg.pages else { return false }
            return locs[li(p, r, i)].cell >= 0
        }
        func range(_ p: Int, _ r: Int, _ rg: PageRange?, mapped: Bool) -> Bool {
            guard let reg = region(p, r) else { return false }
            let from = rg?.from ?? 0, count = rg?.count ?? reg.pages
            guard from + count <= reg.pages else { return false }
            if mapped { for k in from..<(from + count) where locs[li(p, r, k)].cell < 0 { return false } }
            return true
        }
        switch op {
        case let .mmap(p, r, _, _, _): return live(p) && r < regionCap && !regions[ri(p, r)].exists
        case let .munmap(p, r, rg): return range(p, r, rg, mapped: false)
        case let .mprotect(p, r, _, rg), let .madvise(p, r, _, rg): return range(p, r, rg, mapped: true)
        case let .mremap(p, r, to, rg):
            return range(p, r, rg, mapped: true) && to != r && to < regionCap && !regions[ri(p, to)].exists
        case let .write(p, r, i, _), let .read(p, r, i), let .pokemem(p, r, i, _):
            return page(p, r, i)
        case let .pin(p, r, i, g, _): return page(p, r, i) && !pins[g].active
        case let .vmsplice(p, r, i, pipe): return page(p, r, i) && pipes[pipe].count < Limits.pipeDepth
        case let .fork(p, c): return live(p) && !live(c)
        case let .exit(p): return live(p)
        case let .unpin(g), let .readpin(g), let .writepin(g, _): return pins[g].active && pins[g].cell >= 0
        case let .readpipe(pipe): return !pipes[pipe].isEmpty
        case .ksm, .migrate, .swapout, .splitpmd, .splitthp: return true
        case .race: return false
        }
    }

    /// Equality of the logical state (not of the alternatives).
    /// A hash of exactly what `sameState` compares (equal states hash equal).
    func stateHash() -> Int {
        var h = Hasher()
        h.combine(cells.count)
        for c in cells {
            h.combine(c.value)
            h.combine(c.history)
            h.combine(c.alive)
            h.combine(c.anon)
            h.combine(c.shared)
        }
        for l in locs {
            h.combine(l.cell)
            h.combine(l.dontfork)
            h.combine(l.wipeonfork)
        }
        for r in regions {
            h.combine(r.exists)
            h.combine(r.pages)
            h.combine(r.backing)
            h.combine(r.objectBase)
            h.combine(r.pgoff)
        }
        h.combine(alive)
        func ref(_ a: Ref) {
            h.combine(a.active)
            h.combine(a.cell)
            h.combine(a.acc)
            h.combine(a.coherent)
            h.combine(a.owner)
        }
        for p in pins { ref(p) }
        h.combine(pipes.count)
        for q in pipes {
            h.combine(q.count)
            for r in q { ref(r) }
        }
        return h.finalize()
    }

    func sameState(_ o: Reference) -> Bool {
        guard cells.count == o.cells.count, alive == o.alive, pipes.count == o.pipes.count else { return false }
        for k in cells.indices {
            let a = cells[k], b = o.cells[k]
            if a.value != b.value || a.history != b.history || a.alive != b.alive || a.anon != b.anon || a.shared != b.shared {
                return false
            }
        }
        for k in locs.indices {
            let a = locs[k], b = o.locs[k]
            if a.cell != b.cell || a.dontfork != b.dontfork || a.wipeonfork != b.wipeonfork { return false }
        }
        for k in regions.indices {
            let a = regions[k], b = o.regions[k]
            if a.exists != b.exists || a.pages != b.pages || a.backing != b.backing || a.objectBase != b.objectBase || a.pgoff != b.pgoff || a.hugetlb != b.hugetlb {
                return false
            }
        }
        func same(_ a: Ref, _ b: Ref) -> Bool {
            a.active == b.active && a.cell == b.cell && a.acc == b.acc && a.coherent == b.coherent && a.owner == b.owner
        }
        for k in pins.indices where !same(pins[k], o.pins[k]) { return false }
        for q in pipes.indices {
            guard pipes[q].count == o.pipes[q].count else { return false }
            for k in pipes[q].indices where !same(pipes[q][k], o.pipes[q][k]) { return false }
        }
        return true
    }
}
