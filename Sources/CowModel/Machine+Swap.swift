/// Swap: reclaim through the reverse map into the swap cache, and `do_swap_page`.
extension Machine {
    /// `swapout P R[i]`: reclaim the page (every mapping of it, in every process).
    mutating func swapout(_ p: Int, _ r: Int, _ i: Int) throws(SkipReason) -> OpStatus {
        let (si, reg) = try place(p, r, i)
        guard reg.backing == .anon, reg.huge != .hugetlb, s.slots[si].state == .present else { return .skipped(.notApplicable) }
        let f = s.slots[si].frame
        guard s.frames[Int(f)].kind == .anon, !s.folio(f).ksm else { return .skipped(.notApplicable) }
        _ = reclaim(f, p: p, r: r, i: i)
        return .executed
    }

    /// `madvise pageout`: reclaim the range's pages that only this process maps.
    /// hugetlb is refused (can_madv_lru_vma: EINVAL); shmem going to swap is not
    /// modelled (skipped, by the real backend too). In a private file mapping a page-cache
    /// page only this process maps, with no other reference, is unmapped and dropped
    /// from the mapping (clean: the file still has it).
    mutating func pageout(_ p: Int, _ r: Int, _ from: Int, _ count: Int) -> OpStatus {
        let reg = s.regions[s.regionIndex(p, r)]
        guard reg.huge != .hugetlb else { return .failed(.refusedByKernel) }
        guard reg.backing != .shared else { return .skipped(.notApplicable) }
        let base = s.slotIndex(p, r, 0)
        for k in from..<(from + count) {
            let sl = s.slots[base + k]
            guard sl.state == .present else { continue }
            let f = sl.frame
            if s.frames[Int(f)].kind == .pagecache {
                // try_to_unmap() takes the PTE whatever GET references hold the page (the
                // sixth real fuzz: a vmsplice'd page-cache page); a FOLL_PIN keeps it here.
                if !s.mappedByOtherMM(f, besides: p) && s.folio(f).pincount == 0 { s.zap(base + k) }
                continue
            }
            guard s.frames[Int(f)].kind == .anon, !s.folio(f).ksm, !s.mappedByOtherMM(f, besides: p) else { continue }
            _ = reclaim(f, p: p, r: r, i: k)
        }
        return .executed
    }

    /// `shrink_folio_list` for one page: split a large folio first, refuse pinned pages
    /// where the era does, unmap every PTE into swap entries (SWP_EXCLUSIVE from the
    /// page's PageAnonExclusive, 5.19+), and free the page once only the swap cache holds it.
    mutating func reclaim(_ f0: Int32, p: Int, r: Int, i: Int) -> Bool {
        var f = f0
        s.drainLRU()
        if s.frames[Int(s.head(f))].order > 0 {
            guard splitFolio(s.head(f)) else {
                s.cover(.swapoutRefused, f)
                return false
            }
            f = f0
        }
        let h = s.head(f)
        // 5.11 (feb889fb40fa): maybe-pinned pages stay out of the swap cache; 5.19+
        // cannot clear PageAnonExclusive of a maybe-pinned page either.
        if (P.swapSkipsPinned || (P.tracksExclusive && s.frames[Int(h)].exclusive)) && s.maybePinned(h) {
            s.cover(.swapoutRefused, h)
            s.event(.refused, p: p, r: r, i: i, from: h)
            return false
        }
        let exclusive = P.tracksExclusive && s.frames[Int(h)].exclusive
        // Risky: a pinned page in the swap cache is copied away from its pin on the next
        // write of an era that counts the cache's reference (B11).
        if let ref = s.anyPin(h) { s.stamp(h, .reclaimPinned, .swapout, ref: ref, pmd: false, harm: .both) }
        s.frames[Int(h)].exclusive = false
        // A page still in the swap cache keeps its slot (and its one cache reference).
        let slot: Int32
        if s.frames[Int(h)].swapcache {
            slot = s.frames[Int(h)].swapSlot
            s.swapContent[Int(slot)] = s.frames[Int(h)].content
            s.swapStore[Int(slot)] = s.frames[Int(h)].store
            s.swapCulprit[Int(slot)] = s.frames[Int(h)].culprit
        } else {
            slot = Int32(s.swapCount.count)
            s.swapCount.append(0)
            s.swapFrame.append(h)
            s.swapContent.append(s.frames[Int(h)].content)
            s.swapStore.append(s.frames[Int(h)].store)
            s.swapCulprit.append(s.frames[Int(h)].culprit)
            s.frames[Int(h)].swapcache = true
            s.frames[Int(h)].swapSlot = slot
            s.frames[Int(h)].refcount += 1
        }
        for q in 0..<s.procCap where s.procs[q].alive {
            for rr in 0..<s.regionCap where s.regions[s.regionIndex(q, rr)].exists {
                let base = s.slotIndex(q, rr, 0)
                for k in 0..<Int(s.regions[s.regionIndex(q, rr)].pages) where s.slots[base + k].state == .present && s.slots[base + k].frame == h {
                    s.slots[base + k].state = .swap
                    s.slots[base + k].frame = slot
                    s.slots[base + k].exclusive = exclusive
                    s.slots[base + k].writable = false
                    s.slots[base + k].pmd = false
                    s.swapCount[Int(slot)] += 1
                    s.frames[Int(h)].mapcount -= 1
                    s.put(h)
                }
            }
        }
        s.counters.swapouts += 1
        s.cover(.swapout, h)
        s.event(.swapout, p: p, r: r, i: i, from: h)
        // Written out: if nothing but the swap cache holds it, the page is freed.
        if s.frames[Int(h)].refcount == 1 { s.dropSwapCache(h) }
        return true
    }

    /// `do_swap_page`: map the page from the swap cache (reading it in if needed),
    /// read-only unless the entry was exclusive (5.19+) and the fault writes (or, from
    /// ~6.11, the VMA is writable). A write that finds it read-only goes on to the
    /// write fault with `swapin` set, where the era decides.
    mutating func swapIn(_ si: Int, p: Int, r: Int, i: Int, write: Bool) {
        let slot = Int(s.slots[si].frame)
        let exclusive = s.slots[si].exclusive
        var h = s.swapFrame[slot]
        if h < 0 {
            h = s.allocate(kind: .anon, content: s.swapContent[slot], store: s.swapStore[slot])
            s.frames[Int(h)].culprit = s.swapCulprit[slot]
            s.frames[Int(h)].swapcache = true
            s.frames[Int(h)].swapSlot = Int32(slot)
            s.frames[Int(h)].refcount = 1
            s.swapFrame[slot] = h
            // The folio read from swap joins the LRU-add batch (folio_add_lru in
            // __read_swap_cache_async), with its extra reference: a write-in right after
            // then keeps the swap cache on 5.19+, as 6.18 does (should_try_to_free_swap
            // wants refcount == 1 + nr_pages).
            s.addToLRU(h)
        }
        s.swapCount[slot] -= 1
        s.slots[si].exclusive = false
        s.mapPTE(si, h, writable: false, dirty: false)
        s.counters.swapins += 1
        s.cover(write ? .swapinWrite : .swapinRead, h)
        s.event(.swapin, p: p, r: r, i: i, to: h)
        guard P.tracksExclusive && exclusive else { return }
        s.frames[Int(h)].exclusive = true
        if write && s.swapCount[slot] == 0 && s.frames[Int(h)].refcount == 2 { s.dropSwapCache(h) }
        if (write || P.swapinMapsExclusiveWritable) && s.slots[si].vm.contains(.write) {
            s.slots[si].writable = true
            s.slots[si].dirty = write
            if let ref = s.foreignHolder(h, besides: p) { s.stamp(h, .swapinRestore, .map, ref: ref, pmd: false, harm: .isolation) }
            s.cover(.swapinReuse, h)
        }
    }

    /// fork meets a swap entry: `swap_duplicate`; neither copy stays SWP_EXCLUSIVE.
    mutating func forkSwapEntry(psi: Int, csi: Int) {
        let slot = Int(s.slots[psi].frame)
        s.swapCount[slot] += 1
        s.slots[psi].exclusive = false
        s.slots[csi].state = .swap
        s.slots[csi].frame = Int32(slot)
        s.slots[csi].exclusive = false
        s.coverage.hit(.forkSwapDup, 0)
    }
}
