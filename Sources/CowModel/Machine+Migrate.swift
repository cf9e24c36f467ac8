/// Page migration through migration entries (sequential: the entries exist only
/// inside the op). Data and mappings move to a new folio; exclusivity is kept through
/// writable and readable-exclusive entries from 5.19 on.
extension Machine {
    mutating func migrate(_ p: Int, _ r: Int, _ i: Int) throws(SkipReason) -> OpStatus {
        let (si, reg) = try place(p, r, i)
        guard reg.huge != .hugetlb, s.slots[si].state == .present else { return .skipped(.notApplicable) }
        let f = s.slots[si].frame
        guard s.frames[Int(f)].kind == .anon else { return .skipped(.notApplicable) }
        s.drainLRU()
        let h = s.head(f)
        // folio_migrate_mapping: the refcount must be exactly what mappings and the
        // swap cache explain; 5.19+ also cannot clear PageAnonExclusive of a maybe-pinned page.
        guard s.extraRefs(h) == 0 else {
            s.cover(.migrateRefused, h)
            s.event(.refused, p: p, r: r, i: i, from: h)
            return .executed
        }
        let order = Int(s.frames[Int(h)].order)
        let n = s.allocate(kind: .anon, order: order, hugetlb: false)
        let nr = 1 << order
        for k in 0..<nr {
            s.frames[Int(n) + k].content = s.frames[Int(h) + k].content; s.frames[Int(n) + k].store = s.frames[Int(h) + k].store
            s.frames[Int(n) + k].exclusive = P.tracksExclusive && s.frames[Int(h) + k].exclusive
            s.frames[Int(n) + k].mapcount = s.frames[Int(h) + k].mapcount
        }
        s.frames[Int(n)].refcount = s.frames[Int(h)].refcount
        s.frames[Int(n)].entireMapcount = s.frames[Int(h)].entireMapcount
        s.frames[Int(n)].ksm = s.frames[Int(h)].ksm
        // The same logical page moves: its culprit moves with it.
        s.frames[Int(n)].culprit = s.frames[Int(h)].culprit
        if s.frames[Int(h)].swapcache {
            let slot = s.frames[Int(h)].swapSlot
            s.frames[Int(n)].swapcache = true
            s.frames[Int(n)].swapSlot = slot
            s.swapFrame[Int(slot)] = n
        }
        for q in 0..<s.procCap where s.procs[q].alive {
            for rr in 0..<s.regionCap where s.regions[s.regionIndex(q, rr)].exists {
                let base = s.slotIndex(q, rr, 0)
                for k in 0..<Int(s.regions[s.regionIndex(q, rr)].pages) where s.slots[base + k].state == .present {
                    let g = s.slots[base + k].frame
                    if g >= h && g < h + Int32(nr) { s.slots[base + k].frame = n + (g - h) }
                }
            }
        }
        for k in 0..<nr {
            s.frames[Int(h) + k].mapcount = 0
            s.frames[Int(h) + k].exclusive = false
        }
        s.frames[Int(h)].refcount = 0
        s.frames[Int(h)].entireMapcount = 0
        s.frames[Int(h)].swapcache = false
        s.frames[Int(h)].ksm = false
        s.free(h)
        s.counters.migrations += 1
        s.cover(P.tracksExclusive && s.frames[Int(n)].exclusive ? .migrateExclusive : .migrate, n)
        s.event(.migrate, p: p, r: r, i: i, from: f, to: n + (f - h))
        return .executed
    }
}
