/// Running whole programs: the trace, teardown (for the leak check) and invariants.

/// A broken invariant of the machine: spec §4.2.
public struct InvariantViolation: Hashable, Sendable {
    /// The op after which it was found (`ops.count` for the teardown check).
    public var op: Int
    /// INT-1 … INT-13, or "UAF", "UNDERFLOW".
    public var id: String
    public var message: String
}

/// How to run a program.
public struct RunOptions: Sendable {
    /// Check invariants after every op (otherwise only at the end).
    public var paranoid: Bool
    /// Record events for `explain`.
    public var tracing: Bool
    public init(paranoid: Bool = false, tracing: Bool = false) {
        self.paranoid = paranoid
        self.tracing = tracing
    }
}

/// Everything one run of one program on one policy produced.
public struct RunResult: Sendable {
    public var trace = Trace(count: 0)
    public var counters = Counters()
    public var coverage = Coverage()
    public var invariants: [InvariantViolation] = []
    /// Frames still held after every process, pin and pipe is gone.
    public var leaked = 0
    /// Frames held only by the swap cache after teardown (reclaimable, not a leak).
    public var swapCacheOnly = 0
    /// The decision stamped on the first leaked folio (or `Culprit.none` with its page kind).
    public var leakCulprit = Culprit.none
    public var events: [Event] = []
    public init() {}
}

extension Machine {
    /// Runs a program from a fresh state into `result` (reusing its buffers).
    public mutating func run(_ program: Program, options: RunOptions = RunOptions(), into result: inout RunResult) {
        run(program, shape: ProgramShape(program), options: options, into: &result)
    }

    /// Runs a program whose shape the caller computed (once for all policies).
    public mutating func run(_ program: Program, shape: ProgramShape, options: RunOptions = RunOptions(), into result: inout RunResult) {
        s.reset(for: program, shape: shape)
        s.tracing = options.tracing
        s.laneStatuses.removeAll(keepingCapacity: true)
        let n = program.ops.count
        result.trace.statuses.removeAll(keepingCapacity: true)
        result.trace.observed.removeAll(keepingCapacity: true)
        result.trace.stores.removeAll(keepingCapacity: true)
        result.trace.culprits.removeAll(keepingCapacity: true)
        result.invariants.removeAll(keepingCapacity: true)
        for (i, op) in program.ops.enumerated() {
            s.currentLane = -1
            s.obsStore = StoreID.none
            let (st, obs) = apply(op, index: i)
            if st.executed { s.counters.opsExecuted += 1 }
            result.trace.statuses.append(st)
            result.trace.observed.append(obs)
            if obs >= 0 {
                result.trace.stores.append(s.obsStore)
                var c = s.obsCulprit
                if c.isNone { c.leak.page = s.obsPage; c.leak.ref = s.obsRef; c.stale = c.leak }
                result.trace.culprits.append(c)
            } else {
                result.trace.stores.append(StoreID.none)
                result.trace.culprits.append(.none)
            }
            if options.paranoid, result.invariants.isEmpty, let v = checkInvariants() {
                result.invariants.append(InvariantViolation(op: i, id: v.0, message: v.1))
            }
        }
        if result.invariants.isEmpty, let v = checkInvariants() {
            result.invariants.append(InvariantViolation(op: max(0, n - 1), id: v.0, message: v.1))
        }
        result.trace.laneStatuses.removeAll(keepingCapacity: true)
        result.trace.laneStatuses.append(contentsOf: s.laneStatuses)
        s.currentOp = Int32(n)
        let (leaked, cached) = teardown()
        result.leaked = leaked
        result.leakCulprit = s.obsCulprit.culprit(coherence: false)
        result.swapCacheOnly = cached
        // Teardown only exits, unpins and drains; its accounting is checked in paranoid runs.
        if options.paranoid, result.invariants.isEmpty, let v = checkInvariants() {
            result.invariants.append(InvariantViolation(op: n, id: v.0, message: "after teardown: " + v.1))
        }
        result.counters = s.counters
        result.coverage = s.coverage
        if options.tracing { result.events = s.events }
    }

    public static func run(_ program: Program, options: RunOptions = RunOptions()) -> RunResult {
        var m = Machine<P>()
        var r = RunResult()
        m.run(program, options: options, into: &r)
        return r
    }

    /// Every process exits, every pin is released, every pipe drained; then counts the
    /// frames still held (a leak) and those held only by the swap cache.
    public mutating func teardown() -> (leaked: Int, swapCacheOnly: Int) {
        for p in 0..<s.procCap where s.procs[p].alive { _ = exit(p) }
        for g in 0..<s.pins.count where s.pins[g].active { releasePin(g) }
        for pipe in 0..<s.pipeCount.count {
            while s.pipeCount[pipe] > 0 { _ = readpipe(pipe) }
        }
        s.drainLRU()
        var leaked = 0, cached = 0
        s.obsCulprit = .none
        var h = 1
        while h < s.frames.count {
            let f = s.frames[h]
            let n = 1 << Int(f.order)
            if f.kind == .anon || f.kind == .shmem {
                if f.swapcache && f.refcount == Int32(n) {
                    cached += n
                } else {
                    if leaked == 0 {
                        s.obsCulprit = f.culprit
                        if f.culprit.isNone { s.obsCulprit.leak.page = s.pageKind(Int32(h), pmd: false) }
                    }
                    leaked += n
                }
            }
            h += n
        }
        return (leaked, cached)
    }

    /// Checks the machine's invariants (spec §4.2) as far as the era promises them.
    /// Returns the first violation as (id, message), or nil.
    public func checkInvariants() -> (String, String)? {
        // The per-frame tallies live in one temporary (stack) allocation: this runs after
        // every program on every policy, so it must not touch the heap.
        let fc = s.frames.count
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 5 * fc) { tallies in
            withUnsafeTemporaryAllocation(of: Bool.self, capacity: fc) { shared in
                tallies.initialize(repeating: 0)
                shared.initialize(repeating: false)
                return checkInvariants(fc, tallies, shared)
            }
        }
    }

    private func checkInvariants(_ fc: Int, _ tallies: UnsafeMutableBufferPointer<Int32>,
                                 _ sharedByMMs: UnsafeMutableBufferPointer<Bool>) -> (String, String)? {
        let maps = UnsafeMutableBufferPointer(rebasing: tallies[0..<fc])
        let pmds = UnsafeMutableBufferPointer(rebasing: tallies[fc..<(2 * fc)])
        let refs = UnsafeMutableBufferPointer(rebasing: tallies[(2 * fc)..<(3 * fc)])
        let pinc = UnsafeMutableBufferPointer(rebasing: tallies[(3 * fc)..<(4 * fc)])
        let procsMapping = UnsafeMutableBufferPointer(rebasing: tallies[(4 * fc)..<(5 * fc)])
        procsMapping.update(repeating: -1)
        for p in 0..<s.procCap {
            for r in 0..<s.regionCap {
                let reg = s.regions[s.regionIndex(p, r)]
                guard reg.exists else { continue }
                let base = s.slotIndex(p, r, 0)
                var k = 0
                while k < Int(reg.pages) {
                    let sl = s.slots[base + k]
                    if sl.state == .present {
                        let f = Int(sl.frame)
                        guard f >= 0, f < fc else { return ("UAF", "p\(p) r\(r)[\(k)] maps frame \(f), which does not exist") }
                        if s.frames[f].kind == .free {
                            return ("UAF", "p\(p) r\(r)[\(k)] maps frame \(f), which was freed")
                        }
                        if !sl.inVMA { return ("INT-12", "p\(p) r\(r)[\(k)] has an entry outside its VMA") }
                        let h = Int(s.frames[f].head)
                        if sl.pmd {
                            pmds[h] += 1
                            refs[h] += 1
                            // A PMD covers a whole aligned block; count it once.
                            for kk in 0..<(1 << s.thpOrder) where k + kk < Int(reg.pages) {
                                let ff = Int(s.slots[base + k + kk].frame)
                                if procsMapping[ff] >= 0 && procsMapping[ff] != Int32(p) { sharedByMMs[ff] = true }
                                procsMapping[ff] = Int32(p)
                            }
                            k += 1 << s.thpOrder
                            continue
                        }
                        if s.frames[f].kind != .zero {
                            maps[f] += 1
                            refs[h] += 1
                            if procsMapping[f] >= 0 && procsMapping[f] != Int32(p) { sharedByMMs[f] = true }
                            procsMapping[f] = Int32(p)
                        }
                        if sl.writable && s.frames[f].kind == .anon && reg.backing != .shared {
                            if P.tracksExclusive && !s.frames[f].exclusive {
                                return ("INT-3", "p\(p) r\(r)[\(k)] is writable but frame \(f) is not PageAnonExclusive")
                            }
                        }
                    } else if sl.state == .swap {
                        let slot = Int(sl.frame)
                        guard slot >= 0, slot < s.swapCount.count else { return ("INT-7", "p\(p) r\(r)[\(k)] names swap slot \(slot), which does not exist") }
                    }
                    k += 1
                }
            }
        }
        for g in 0..<s.pins.count where s.pins[g].active {
            let pin = s.pins[g]
            let f = Int(pin.frame)
            if s.frames[f].kind == .free { return ("UAF", "pin g\(g) holds frame \(f), which was freed") }
            if s.frames[f].kind == .zero { continue }
            let h = Int(s.frames[f].head)
            if pin.follPin {
                if s.frames[h].order > 0 { refs[h] += 1; pinc[h] += 1 } else { refs[h] += MachineState.pinBias }
            } else {
                refs[h] += 1
            }
            // INT-4: a FOLL_PIN'd anonymous page that is still mapped is exclusive (5.19+).
            if P.tracksExclusive && pin.follPin && s.frames[f].kind == .anon && maps[f] + pmds[h] > 0 && !s.frames[f].exclusive {
                return ("INT-4", "pin g\(g) (FOLL_PIN) holds mapped anonymous frame \(f), which is not PageAnonExclusive")
            }
        }
        for pipe in 0..<s.pipeCount.count {
            for k in 0..<Int(s.pipeCount[pipe]) {
                let f = Int(s.pipeBufs[pipe * Limits.pipeDepth + (Int(s.pipeHead[pipe]) + k) % Limits.pipeDepth])
                if s.frames[f].kind == .free { return ("UAF", "pipe\(pipe) holds frame \(f), which was freed") }
                if s.frames[f].kind != .zero { refs[Int(s.frames[f].head)] += 1 }
            }
        }
        for k in 0..<s.objectPages.count where s.objectPages[k] >= 0 {
            let f = Int(s.objectPages[k])
            if s.frames[f].kind == .free { return ("UAF", "an object's page cache holds frame \(f), which was freed") }
            refs[f] += 1
        }
        var h = 1
        while h < fc {
            let fr = s.frames[h]
            let n = 1 << Int(fr.order)
            if fr.kind != .free && fr.kind != .zero {
                var expect = refs[h]
                if fr.swapcache { expect += Int32(n) }
                if fr.lruPending { expect += 1 }
                for k in h..<(h + n) where k != h { expect += refs[k] }
                if fr.refcount < 0 || fr.mapcount < 0 || fr.pincount < 0 {
                    return ("UNDERFLOW", "frame \(h): refcount \(fr.refcount), mapcount \(fr.mapcount), pincount \(fr.pincount)")
                }
                if fr.refcount != expect {
                    return ("INT-1", "frame \(h): refcount \(fr.refcount) but its holders account for \(expect)")
                }
                if fr.entireMapcount != pmds[h] {
                    return ("INT-11", "frame \(h): entire mapcount \(fr.entireMapcount) but \(pmds[h]) PMD mappings")
                }
                if fr.order > 0 && fr.pincount != pinc[h] {
                    return ("INT-2", "frame \(h): pincount \(fr.pincount) but \(pinc[h]) FOLL_PIN pins")
                }
                for k in h..<(h + n) {
                    if s.frames[k].mapcount != maps[k] {
                        return ("INT-11", "frame \(k): mapcount \(s.frames[k].mapcount) but \(maps[k]) PTE mappings")
                    }
                    if P.tracksExclusive && s.frames[k].exclusive {
                        if fr.ksm { return ("INT-10", "KSM frame \(k) is PageAnonExclusive") }
                        if s.frames[k].mapcount + fr.entireMapcount > 1 || sharedByMMs[k] {
                            return ("INT-5", "frame \(k) is PageAnonExclusive but mapped \(s.frames[k].mapcount + fr.entireMapcount) times")
                        }
                    }
                }
            } else if fr.kind == .free && fr.refcount > 0 {
                return ("INT-12", "frame \(h) is free with refcount \(fr.refcount)")
            }
            h += n
        }
        // Compound pages: every tail lies inside a live large folio of its head (a split
        // leaves no dangling tail); no freed frame is still in the swap cache.
        for k in 1..<fc {
            let fr = s.frames[k]
            let h = Int(fr.head)
            if fr.kind != .free {
                guard h <= k, h < fc, k < h + (1 << Int(s.frames[h].order)), s.frames[h].kind == fr.kind else {
                    return ("INT-11", "frame \(k) names head \(h), which does not contain it")
                }
            } else if fr.swapcache {
                return ("SWAP", "frame \(k) was freed while in the swap cache")
            }
        }
        // Swap: each slot's count is the number of swap entries naming it; a cached
        // slot's frame is live and knows its slot; SWP_EXCLUSIVE means count 1 (INT-7).
        var swapRefs = [Int32](repeating: 0, count: s.swapCount.count)
        var exclusiveSlots: [Int] = []
        for p in 0..<s.procCap {
            for r in 0..<s.regionCap where s.regions[s.regionIndex(p, r)].exists {
                let base = s.slotIndex(p, r, 0)
                for k in 0..<Int(s.regions[s.regionIndex(p, r)].pages) where s.slots[base + k].state == .swap {
                    swapRefs[Int(s.slots[base + k].frame)] += 1
                    if s.slots[base + k].exclusive { exclusiveSlots.append(Int(s.slots[base + k].frame)) }
                }
            }
        }
        for slot in 0..<s.swapCount.count {
            if s.swapCount[slot] != swapRefs[slot] {
                return ("SWAP", "swap slot \(slot) has count \(s.swapCount[slot]) but \(swapRefs[slot]) swap entries")
            }
            let f = Int(s.swapFrame[slot])
            if f >= 0 && (s.frames[f].kind == .free || !s.frames[f].swapcache || s.frames[f].swapSlot != Int32(slot)) {
                return ("SWAP", "swap slot \(slot) caches frame \(f), which is not in the swap cache for it")
            }
        }
        if P.tracksExclusive {
            for slot in exclusiveSlots where s.swapCount[slot] != 1 {
                return ("INT-7", "an exclusive swap entry names slot \(slot), whose count is \(s.swapCount[slot])")
            }
        }
        // INT-6, every era: a writable private anonymous entry is mapped by one mm only.
        for p in 0..<s.procCap {
            for r in 0..<s.regionCap {
                let reg = s.regions[s.regionIndex(p, r)]
                guard reg.exists, reg.backing != .shared else { continue }
                let base = s.slotIndex(p, r, 0)
                for k in 0..<Int(reg.pages) {
                    let sl = s.slots[base + k]
                    guard sl.state == .present, sl.writable else { continue }
                    let f = Int(sl.frame)
                    if s.frames[f].kind == .anon && (sharedByMMs[f] || s.frames[f].mapcount + s.frames[Int(s.frames[f].head)].entireMapcount > 1) {
                        return ("INT-6", "p\(p) r\(r)[\(k)] is writable but frame \(f) is mapped by another mapping too")
                    }
                }
            }
        }
        return nil
    }
}
