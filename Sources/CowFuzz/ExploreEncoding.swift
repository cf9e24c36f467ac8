import CowModel
import CowOracle

/// The canonical encoding of one explorer state: the machine state of one policy and
/// the reference's state, with every name that carries no meaning renamed, as bytes.
///
/// Two states with the same encoding behave alike in every future (same statuses, same
/// verdicts), so the explorer keeps one of them. What is renamed, and why it is sound:
/// - frames by first use in a fixed walk (folio-wise: a tail stays at its offset from
///   its head): the machine never compares frame ids, only follows them;
/// - swap slots and shmem objects likewise (the file, object 0, stays first);
/// - reference cells by first use; stores (provenance) by first appearance, keeping only
///   the stores some frame or swap slot still holds, since no other store can be
///   observed again (with `ksm` in the alphabet every store is kept: a KSM page is
///   judged by its value, so a dead store of that value can still matter);
/// - with symmetry, processes, pins and pipes are permuted and the smallest encoding
///   wins: no op treats one process (pin, pipe) name differently from another.
/// What is left out: counters, coverage, culprit stamps and trace bookkeeping, which no
/// decision reads (culprits name the cause of a finding, never whether there is one).
/// A class because it holds scratch buffers reused across states; each worker has its
/// own (hence `@unchecked Sendable`).
final class StateEncoder: @unchecked Sendable {
    var bytes: [UInt8] = []
    var best: [UInt8] = []
    var frameMap: [Int32] = []
    var framesNamed: [Int32] = []
    var nextFrame: Int32 = 0
    var swapMap: [Int32] = []
    var swapsNamed: [Int32] = []
    var objectMap: [Int32] = []
    var objectsNamed: [Int32] = []
    var cellMap: [Int32] = []
    var cellsNamed: [Int32] = []
    var storeMap = [Int16](repeating: -1, count: 256)
    var storesNamed: [UInt8] = []
    var procNew: [Int] = []
    let keepAllStores: Bool
    let symmetry: Bool
    let procPerms: [[Int]]
    let pinPerms: [[Int]]
    let pipePerms: [[Int]]

    init(procs: Int, pins: Int, pipes: Int, symmetry: Bool, keepAllStores: Bool) {
        self.symmetry = symmetry
        self.keepAllStores = keepAllStores
        procPerms = symmetry ? StateEncoder.permutations(procs) : [Array(0..<procs)]
        pinPerms = symmetry ? StateEncoder.permutations(pins) : [Array(0..<pins)]
        pipePerms = symmetry ? StateEncoder.permutations(pipes) : [Array(0..<pipes)]
    }

    static func permutations(_ n: Int) -> [[Int]] {
        guard n > 1 else { return [Array(0..<n)] }
        var out: [[Int]] = []
        for rest in permutations(n - 1) {
            for k in 0...rest.count {
                var p = rest
                p.insert(n - 1, at: k)
                out.append(p)
            }
        }
        return out.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The canonical encoding (the smallest over the symmetry group), in `best`.
    func encode(_ m: MachineState, _ o: SteppedReference, values: [UInt8]) {
        var first = true
        // Only orders that sort processes (pins, pipes) by a key that no renaming changes
        // are tried: the smallest encoding among them is still the same for every state
        // of an orbit, and most states then need one encoding instead of n!.
        let pk = (0..<m.procCap).map { processKey(m, o, $0) }
        let gk = (0..<m.pins.count).map { g in
            UInt64(m.pins[g].active ? 1 : 0) | UInt64(m.pins[g].flags.rawValue) << 1 | UInt64(m.pins[g].follPin ? 1 : 0) << 9
        }
        let qk = (0..<m.pipeCount.count).map { UInt64(m.pipeCount[$0]) }
        func sorted(_ perm: [Int], _ key: [UInt64]) -> Bool {
            guard symmetry else { return true }  // identity only: nothing to choose from
            for k in perm.indices.dropFirst() where key[perm[k - 1]] > key[perm[k]] { return false }
            return true
        }
        for pp in procPerms where sorted(pp, pk) {
            for gp in pinPerms where sorted(gp, gk) {
                for qp in pipePerms where sorted(qp, qk) {
                    encode(m, o, values: values, pp, gp, qp)
                    if first || bytes.lexicographicallyPrecedes(best) {
                        swap(&bytes, &best)
                        first = false
                    }
                }
            }
        }
    }

    /// A key of process `p` made only of what renaming leaves alone: liveness, and per
    /// region and page the mapping's shape and entry states (FNV-1a over them).
    func processKey(_ m: MachineState, _ o: SteppedReference, _ p: Int) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        @inline(__always) func mix(_ b: UInt64) { h = (h ^ b) &* 0x100000001b3 }
        mix(m.procs[p].alive ? 1 : 0); mix(m.procs[p].hasPinned ? 1 : 0); mix(o.processAlive(p) ? 1 : 0)
        for r in 0..<m.regionCap {
            let reg = m.regions[m.regionIndex(p, r)]
            mix(reg.exists ? 1 : 0)
            guard reg.exists else { continue }
            mix(UInt64(reg.pages)); mix(UInt64(reg.backing.rawValue)); mix(UInt64(reg.huge.rawValue)); mix(reg.pageTables)
            for i in 0..<Int(reg.pages) {
                let sl = m.slots[m.slotIndex(p, r, i)]
                mix(UInt64(sl.vm.rawValue)); mix(UInt64(sl.state.rawValue))
                mix(UInt64((sl.writable ? 1 : 0) | (sl.dirty ? 2 : 0) | (sl.pmd ? 4 : 0) | (sl.exclusive ? 8 : 0)))
            }
        }
        return h
    }

    // MARK: - one permutation

    @inline(__always) func put(_ b: UInt8) { bytes.append(b) }
    @inline(__always) func put(_ b: Bool) { bytes.append(b ? 1 : 0) }
    @inline(__always) func put16(_ v: Int32) {
        let x = UInt16(truncatingIfNeeded: v)
        bytes.append(UInt8(x >> 8)); bytes.append(UInt8(x & 0xff))
    }

    func frame(_ m: MachineState, _ f: Int32) -> Int32 {
        guard f >= 0, Int(f) < m.frames.count else { return -1 }
        if frameMap[Int(f)] >= 0 { return frameMap[Int(f)] }
        let h = m.frames[Int(f)].head
        let n = Int32(1) << Int32(m.frames[Int(h)].order)
        if frameMap[Int(h)] < 0 {
            for k in 0..<n where Int(h + k) < m.frames.count { frameMap[Int(h + k)] = nextFrame + k }
            nextFrame += n
            framesNamed.append(h)
        }
        return frameMap[Int(f)]
    }

    func swapSlot(_ x: Int32) -> Int32 {
        guard x >= 0, Int(x) < swapMap.count else { return -1 }
        if swapMap[Int(x)] < 0 { swapMap[Int(x)] = Int32(swapsNamed.count); swapsNamed.append(x) }
        return swapMap[Int(x)]
    }

    func object(_ x: Int32) -> Int32 {
        guard x >= 0, Int(x) < objectMap.count else { return -1 }
        if objectMap[Int(x)] < 0 { objectMap[Int(x)] = Int32(objectsNamed.count); objectsNamed.append(x) }
        return objectMap[Int(x)]
    }

    func cell(_ c: Int32) -> Int32 {
        guard c >= 0, Int(c) < cellMap.count else { return -1 }
        if cellMap[Int(c)] < 0 { cellMap[Int(c)] = Int32(cellsNamed.count); cellsNamed.append(c) }
        return cellMap[Int(c)]
    }

    /// The oracle's ordinal of a machine store id (`StoreID`): op index + 1.
    @inline(__always) static func ordinal(ofStore id: Int32) -> Int {
        if id == StoreID.zero { return 0 }
        guard let op = StoreID.op(of: id), op < 255 else { return -1 }
        return op + 1
    }

    func nameStore(_ ord: Int) -> Int16 {
        guard ord >= 0, ord < 256 else { return -1 }
        if storeMap[ord] < 0 { storeMap[ord] = Int16(storesNamed.count); storesNamed.append(UInt8(ord)) }
        return storeMap[ord]
    }

    func putStore(_ id: Int32) {
        if id < 0 { put(UInt8(truncatingIfNeeded: 0xf0 &+ Int(id))); return }
        put16(Int32(nameStore(StoreID.zero == id ? 0 : StateEncoder.ordinal(ofStore: id))))
    }

    /// A set of ordinals, projected on the stores that can still be observed, as a
    /// bitmap of store names (names from 64 on, rare, listed after it).
    func putSet(_ s: ValueSet) {
        var low: UInt64 = 0
        var high: [Int16] = []
        s.forEachMember { ord in
            var n = storeMap[Int(ord)]
            if n < 0 && keepAllStores { n = nameStore(Int(ord)) }
            guard n >= 0 else { return }
            if n < 64 { low |= 1 << UInt64(n) } else { high.append(n) }
        }
        for k in 0..<8 { put(UInt8(truncatingIfNeeded: low >> UInt64(8 * k))) }
        put(UInt8(truncatingIfNeeded: high.count))
        for n in high.sorted() { put16(Int32(n)) }
    }

    func reset(_ m: MachineState, _ o: SteppedReference) {
        bytes.removeAll(keepingCapacity: true)
        if frameMap.count < m.frames.count { frameMap = Array(repeating: -1, count: m.frames.count) }
        for k in 0..<m.frames.count { frameMap[k] = -1 }
        framesNamed.removeAll(keepingCapacity: true)
        frameMap[0] = 0  // the zero page
        nextFrame = 1
        if swapMap.count != m.swapCount.count { swapMap = Array(repeating: -1, count: m.swapCount.count) }
        for k in swapMap.indices { swapMap[k] = -1 }
        swapsNamed.removeAll(keepingCapacity: true)
        if objectMap.count != m.objects.count { objectMap = Array(repeating: -1, count: m.objects.count) }
        for k in objectMap.indices { objectMap[k] = -1 }
        objectsNamed.removeAll(keepingCapacity: true)
        if cellMap.count < o.cellCount { cellMap = Array(repeating: -1, count: o.cellCount) }
        for k in 0..<o.cellCount { cellMap[k] = -1 }
        cellsNamed.removeAll(keepingCapacity: true)
        for k in storesNamed { storeMap[Int(k)] = -1 }
        storesNamed.removeAll(keepingCapacity: true)
    }

    func encode(_ m: MachineState, _ o: SteppedReference, values: [UInt8], _ pp: [Int], _ gp: [Int], _ qp: [Int]) {
        reset(m, o)
        if procNew.count != pp.count { procNew = Array(repeating: 0, count: pp.count) }
        for (k, p) in pp.enumerated() { procNew[p] = k }
        func owner(_ p: Int32) -> UInt8 { p >= 0 && Int(p) < procNew.count ? UInt8(procNew[Int(p)]) : 0xff }
        // The file (object 0) first: its page cache outlives every mapping.
        if !m.objects.isEmpty { _ = object(0) }
        // Processes: their regions, page-table entries and the reference's locations.
        for p in pp {
            put(m.procs[p].alive); put(m.procs[p].hasPinned); put(o.processAlive(p))
            for r in 0..<m.regionCap {
                let reg = m.regions[m.regionIndex(p, r)]
                let oreg = o.region(p, r)
                put(reg.exists); put(oreg.exists)
                guard reg.exists || oreg.exists else { continue }
                put(UInt8(reg.pages)); put(reg.backing.rawValue); put(reg.huge.rawValue); put(UInt8(truncatingIfNeeded: reg.pageTables))
                put16(object(reg.object)); put(UInt8(truncatingIfNeeded: reg.pgoff))
                put(UInt8(truncatingIfNeeded: oreg.pages)); put(UInt8(truncatingIfNeeded: oreg.pgoff))
                for i in 0..<m.pageCap {
                    let sl = m.slots[m.slotIndex(p, r, i)]
                    put16(Int32(sl.vm.rawValue)); put(sl.state.rawValue)
                    put(UInt8((sl.writable ? 1 : 0) | (sl.dirty ? 2 : 0) | (sl.pmd ? 4 : 0) | (sl.exclusive ? 8 : 0)))
                    switch sl.state {
                    case .present, .migration: put16(frame(m, sl.frame))
                    case .swap: put16(swapSlot(sl.frame))
                    case .none: break
                    }
                    if i < o.pageCap {
                        let l = o.location(p, r, i)
                        put16(cell(l.cell)); put(UInt8((l.dontfork ? 1 : 0) | (l.wipeonfork ? 2 : 0)))
                    }
                }
            }
        }
        // Pins (the sets they may show come later, once stores are named).
        for g in gp {
            let pin = m.pins[g]
            let ref = o.pin(g)
            put(pin.active); put(ref.active)
            if pin.active {
                put16(frame(m, pin.frame)); put(owner(pin.owner)); put(pin.flags.rawValue); put(pin.follPin)
            }
            if ref.active { put16(cell(ref.cell)); put(ref.coherent); put(owner(ref.owner)) }
        }
        // Pipes, oldest buffer first.
        for q in qp {
            let n = Int(m.pipeCount[q])
            put(UInt8(n))
            for k in 0..<n {
                let slot = q * Limits.pipeDepth + (Int(m.pipeHead[q]) + k) % Limits.pipeDepth
                put16(frame(m, m.pipeBufs[slot])); put(owner(m.pipeOwner[slot]))
            }
            let refs = o.pipeLength(q)
            put(UInt8(refs))
            for k in 0..<refs {
                let ref = o.pipeRef(q, k)
                put16(cell(ref.cell)); put(owner(ref.owner))
            }
        }
        // Objects' page caches (named objects; a shmem object no one maps is gone).
        var k = 0
        while k < objectsNamed.count {
            let x = objectsNamed[k]
            let ob = m.objects[Int(x)]
            put16(ob.size); put16(ob.mappers); put(ob.isFile)
            for i in 0..<Int(ob.size) where Int(ob.base) + i < m.objectPages.count {
                put16(frame(m, m.objectPages[Int(ob.base) + i]))
            }
            k += 1
        }
        // Swap slots in use, by first use, then any others still counted or cached.
        for x in 0..<m.swapCount.count where swapMap[x] < 0 && (m.swapCount[x] > 0 || m.swapFrame[x] >= 0) {
            _ = swapSlot(Int32(x))
        }
        for x in swapsNamed {
            put16(m.swapCount[Int(x)]); put16(frame(m, m.swapFrame[Int(x)]))
            put(m.swapContent[Int(x)]); putStore(m.swapStore[Int(x)])
        }
        // The LRU-add batch: how full it is, and what it holds. A page that only the
        // batch still holds (unmapped, unpinned, in no pipe or cache) can never be
        // reached again: the drain frees it. Such pages count, but are not named.
        put(UInt8(m.lruBatch.count))
        var pending: [Int32] = []
        var orphans = 0
        for h in m.lruBatch where Int(h) < m.frames.count && m.frames[Int(h)].lruPending {
            let f = m.frames[Int(h)]
            if frameMap[Int(h)] < 0 && f.refcount == 1 && f.mapcount == 0 && !f.swapcache {
                orphans += 1
                frameMap[Int(h)] = -2
            } else {
                pending.append(frame(m, h))
            }
        }
        pending.sort()
        put(UInt8(orphans))
        for f in pending { put16(f) }
        // Live frames no one references any more (held, so a leak at teardown).
        var h = 1
        while h < m.frames.count {
            if m.frames[h].kind != .free && frameMap[h] != -2 { _ = frame(m, Int32(h)) }
            h += 1 << Int(m.frames[h].order)
        }
        // Frames, folio by folio in naming order.
        put16(Int32(framesNamed.count))
        for h in framesNamed {
            let f = m.frames[Int(h)]
            put(f.kind.rawValue); put(f.order); put(f.hugetlb); put(f.ksm); put(f.swapcache); put(f.lruPending)
            put16(f.swapcache ? swapSlot(f.swapSlot) : -1); put16(object(f.object)); put16(f.index)
            put16(f.refcount); put16(f.pincount); put16(f.entireMapcount)
            for k in 0..<(1 << Int(f.order)) where Int(h) + k < m.frames.count {
                let t = m.frames[Int(h) + k]
                put(t.content); putStore(t.store); put(t.exclusive); put16(t.mapcount)
            }
        }
        // The reference: pins' and pipe buffers' acceptable stores, then cells.
        for g in gp where o.pin(g).active { putSet(o.pin(g).acc) }
        for q in qp { for k in 0..<o.pipeLength(q) { putSet(o.pipeRef(q, k).acc) } }
        var c = 0
        while c < cellsNamed.count {
            let id = Int(cellsNamed[c])
            let x = o.cell(id)
            put(owner(x.owner)); put(UInt8((x.alive ? 1 : 0) | (x.anon ? 2 : 0) | (x.shared ? 4 : 0)))
            putSet(x.value); putSet(x.history)
            c += 1
        }
        // The values of the stores kept (KSM merges and the integrity check read them).
        for ord in storesNamed {
            put(ord == 0 ? 0 : (Int(ord) - 1 < values.count ? values[Int(ord) - 1] : 0))
        }
    }
}

/// 64-bit FNV-1a over the canonical bytes, with a final avalanche (splitmix64's mixer),
/// so the low bits index the visited set well.
@inline(__always) func stateHash(_ bytes: [UInt8], seed: UInt64 = 0xcbf29ce484222325) -> UInt64 {
    var h = seed
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
    h ^= h >> 30; h &*= 0xbf58476d1ce4e5b9
    h ^= h >> 27; h &*= 0x94d049bb133111eb
    h ^= h >> 31
    return h
}
