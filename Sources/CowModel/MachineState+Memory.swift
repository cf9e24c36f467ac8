/// Frame allocation, references and mappings: the mechanics every era shares.
extension MachineState {
    /// Allocates a folio of 2^order pages filled with `content`; returns its head.
    /// Frame ids are never reused within a program, so a use after free is visible.
    public mutating func allocate(kind: FrameKind, order: Int = 0, content: UInt8 = 0, store: Int32 = StoreID.zero,
                                  hugetlb: Bool = false) -> Int32 {
        let h = Int32(frames.count)
        let n = 1 << order
        for k in 0..<n {
            var f = Frame()
            f.kind = kind
            f.content = content
            f.store = store
            f.head = h
            f.order = k == 0 ? UInt8(order) : 0
            f.hugetlb = hugetlb
            frames.append(f)
        }
        frames[Int(h)].order = UInt8(order)
        counters.framesInUse += n
        counters.peakFrames = max(counters.peakFrames, counters.framesInUse)
        return h
    }

    /// A new anonymous small page sits in the LRU-add batch with one extra reference
    /// until the batch (15 entries) is drained. Large folios never wait there.
    mutating func addToLRU(_ h: Int32) {
        guard frames[Int(h)].order == 0 else { return }
        if lruBatch.count >= MachineState.lruBatchSize {
            cover(.lruBatchFull, h)
            drainLRU()
        }
        frames[Int(h)].lruPending = true
        frames[Int(h)].refcount += 1
        lruBatch.append(h)
    }

    /// `lru_add_drain()`: drop the batch's references.
    public mutating func drainLRU() {
        guard !lruBatch.isEmpty else { return }
        event(.lruDrain, p: -1, r: -1, i: -1)
        for h in lruBatch where frames[Int(h)].lruPending {
            frames[Int(h)].lruPending = false
            put(h)
        }
        lruBatch.removeAll(keepingCapacity: true)
    }

    /// Takes one reference on the folio of `f`.
    @inline(__always) public mutating func get(_ f: Int32, _ n: Int32 = 1) {
        let h = Int(frames[Int(f)].head)
        guard frames[h].kind != .zero else { return }
        frames[h].refcount += n
    }

    /// Drops references on the folio of `f`; frees it at zero.
    public mutating func put(_ f: Int32, _ n: Int32 = 1) {
        let h = Int(frames[Int(f)].head)
        guard frames[h].kind != .zero else { return }
        frames[h].refcount -= n
        if frames[h].refcount == 0 { free(Int32(h)) }
    }

    /// Frees a folio whose refcount reached zero.
    mutating func free(_ h: Int32) {
        let n = 1 << Int(frames[Int(h)].order)
        event(.free, p: -1, r: -1, i: -1, from: h)
        if frames[Int(h)].kind == .pagecache || frames[Int(h)].kind == .shmem {
            let o = objects[Int(frames[Int(h)].object)]
            let idx = Int(o.base) + Int(frames[Int(h)].index)
            if objectPages[idx] == h { objectPages[idx] = -1 }
        }
        for k in Int(h)..<(Int(h) + n) {
            frames[k].kind = .free
            frames[k].exclusive = false
        }
        counters.framesInUse -= n
    }

    /// Maps frame `f` at a slot as a PTE (mapcount and refcount +1; none for the zero page).
    mutating func mapPTE(_ si: Int, _ f: Int32, writable: Bool, dirty: Bool) {
        slots[si].state = .present
        slots[si].frame = f
        slots[si].writable = writable
        slots[si].dirty = dirty
        slots[si].pmd = false
        slots[si].exclusive = false
        regions[si / pageCap].pageTables |= tableBit(si)
        guard frames[Int(f)].kind != .zero else { return }
        if frames[Int(f)].kind == .anon { markAnonVMA(si) }
        frames[Int(f)].mapcount += 1
        get(f)
    }

    /// The VMA of slot `si` gets an anon_vma: every slot of its run (the neighbours in the
    /// region, in a VMA, with the same flags).
    mutating func markAnonVMA(_ si: Int) {
        guard !slots[si].vm.contains(.anonVMA) else { return }
        let base = si - si % pageCap
        let pages = Int(regions[si / pageCap].pages)
        let flags = slots[si].vm.subtracting(.anonVMA)
        var lo = si, hi = si
        while lo > base && slots[lo - 1].inVMA && slots[lo - 1].vm.subtracting(.anonVMA) == flags { lo -= 1 }
        while hi + 1 < base + pages && slots[hi + 1].inVMA && slots[hi + 1].vm.subtracting(.anonVMA) == flags { hi += 1 }
        for k in lo...hi { slots[k].vm.insert(.anonVMA) }
    }

    /// After a flag change of region `ri` (bit k of `changed`: slot k's flags changed):
    /// a changed range that now has a neighbour's flags (VM_ACCOUNT included) merges
    /// with it, and the merged VMA has the anon_vma either had (is_mergeable_anon_vma).
    /// (Slots past 63 are not in the mask: a region that large does not merge them.)
    mutating func mergeAnonVMAs(region ri: Int, changed: UInt64) {
        let base = ri * pageCap, pages = Int(regions[ri].pages)
        for k in 0..<min(pages, 64) where changed & (1 << UInt64(k)) != 0 && slots[base + k].inVMA {
            let flags = slots[base + k].vm.subtracting(.anonVMA)
            var lo = k, hi = k
            while lo > 0 && slots[base + lo - 1].inVMA && slots[base + lo - 1].vm.subtracting(.anonVMA) == flags { lo -= 1 }
            while hi + 1 < pages && slots[base + hi + 1].inVMA && slots[base + hi + 1].vm.subtracting(.anonVMA) == flags { hi += 1 }
            guard (lo...hi).contains(where: { slots[base + $0].vm.contains(.anonVMA) }) else { continue }
            for j in lo...hi { slots[base + j].vm.insert(.anonVMA) }
        }
    }

    /// Removes the entry of a slot (zap), dropping what it held. The VMA flags stay.
    mutating func zap(_ si: Int) {
        let s = slots[si]
        switch s.state {
        case .none:
            return
        case .present:
            if s.pmd {
                zapPMD(si)
                return
            }
            let f = s.frame
            slots[si].state = .none
            slots[si].frame = -1
            slots[si].writable = false
            guard frames[Int(f)].kind != .zero else { return }
            frames[Int(f)].mapcount -= 1
            cover(.zap, f)
            put(f)
        case .swap:
            slots[si].state = .none
            let slot = Int(s.frame)
            swapCount[slot] -= 1
            coverage.hit(.zapSwap, 0)
            if swapCount[slot] == 0, swapFrame[slot] >= 0 {
                // free_swap_and_cache: the cached page loses its swap cache reference.
                let h = swapFrame[slot]
                if frames[Int(h)].refcount == 1 << Int(frames[Int(h)].order) { dropSwapCache(h) }
            }
            slots[si].frame = -1
        case .migration:
            slots[si].state = .none
            slots[si].frame = -1
        }
    }

    /// Zaps a whole PMD mapping that covers slot `si`.
    mutating func zapPMD(_ si: Int) {
        let n = 1 << thpOrder
        let first = si - (si % pageCap) % n
        let f = slots[first].frame
        let h = head(f)
        for k in first..<(first + n) {
            slots[k].state = .none
            slots[k].frame = -1
            slots[k].writable = false
            slots[k].pmd = false
        }
        frames[Int(h)].entireMapcount -= 1
        cover(.zap, h)
        put(h)
    }

    /// Removes a folio from the swap cache (its references go with it).
    public mutating func dropSwapCache(_ h: Int32) {
        guard frames[Int(h)].swapcache else { return }
        let slot = Int(frames[Int(h)].swapSlot)
        frames[Int(h)].swapcache = false
        frames[Int(h)].swapSlot = -1
        if slot >= 0 { swapFrame[slot] = -1 }
        coverage.hit(.swapcacheFree, 0)
        put(h, Int32(1 << Int(frames[Int(h)].order)))
    }

    /// `folio_free_swap()`: frees the swap cache if no swap entry uses the slot any more.
    public mutating func tryFreeSwap(_ h: Int32) {
        guard frames[Int(h)].swapcache else { return }
        if swapCount[Int(frames[Int(h)].swapSlot)] == 0 { dropSwapCache(h) }
    }

    /// The page-cache page of object `o` at index `i`, read in (zero-filled) if absent.
    mutating func objectPage(_ o: Int32, _ i: Int32) -> Int32 {
        let idx = Int(objects[Int(o)].base + i)
        if objectPages[idx] >= 0 { return objectPages[idx] }
        let f = allocate(kind: objects[Int(o)].isFile ? .pagecache : .shmem)
        frames[Int(f)].object = o
        frames[Int(f)].index = i
        // The page cache holds one reference.
        frames[Int(f)].refcount = 1
        objectPages[idx] = f
        return f
    }

    /// Creates a shmem object of `pages` pages.
    mutating func newObject(pages: Int) -> Int32 {
        let o = Int32(objects.count)
        objects.append(ObjectState(base: Int32(objectPages.count), size: Int32(pages), mappers: 0, isFile: false))
        objectPages.append(contentsOf: repeatElement(-1, count: pages))
        return o
    }

    /// Drops a shmem object's pages once nothing maps it (the file stays).
    mutating func releaseObjectIfUnused(_ o: Int32) {
        guard o > 0, objects[Int(o)].mappers == 0 else { return }
        let ob = objects[Int(o)]
        for k in Int(ob.base)..<Int(ob.base + ob.size) {
            let f = objectPages[k]
            guard f >= 0 else { continue }
            objectPages[k] = -1
            put(f)
        }
    }

    /// Which processes other than `p` map any page of the folio of `f` (rmap walk).
    func mappedByOtherMM(_ f: Int32, besides p: Int) -> Bool {
        let h = head(f)
        for q in 0..<procCap where q != p && procs[q].alive {
            for r in 0..<regionCap {
                let reg = regions[regionIndex(q, r)]
                guard reg.exists else { continue }
                let base = slotIndex(q, r, 0)
                for i in 0..<Int(reg.pages) {
                    let s = slots[base + i]
                    if s.state == .present, frames[Int(s.frame)].head == h { return true }
                }
            }
        }
        return false
    }
}

extension Rules {
    /// 6.15+ `__wp_can_reuse_large_anon_folio` (1da190f4d0a6): a PTE-mapped large folio
    /// mapped more than once, only by this mm (MM-owner tracking), whose mappings
    /// account for every reference once the swap cache is freed.
    public static func largeFolioOnlyThisMM(_ m: inout MachineState, _ f: Int32, process: Int) -> Bool {
        let h = m.head(f)
        guard m.folioMappings(f) > 1 else { return false }
        if m.mappedByOtherMM(f, besides: process) { return false }
        if m.frames[Int(h)].swapcache { m.tryFreeSwap(h) }
        return m.folioMappings(f) == m.frames[Int(h)].refcount
    }
}
