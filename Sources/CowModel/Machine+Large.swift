/// Transparent huge pages and hugetlb: PMD mappings of 2^thpOrder-page folios, their
/// splits and collapse. A PMD mapping is represented on every slot of its aligned block
/// (`pmd == true`, frame = head + index); it counts once in the folio's entire
/// mapcount and refcount. A hugetlb page is mapped the same way (one huge PTE).
extension Machine {
    @inline(__always) var hugeNr: Int { 1 << s.thpOrder }

    /// The first slot index of the aligned block containing page `i` of region (p, r).
    @inline(__always) func blockStart(_ p: Int, _ r: Int, _ i: Int) -> Int { s.slotIndex(p, r, i - i % hugeNr) }

    /// A first fault at slot `si` may allocate a THP: an anonymous region with
    /// MADV_HUGEPAGE (or `thp`), whose aligned block lies inside the region, is mapped
    /// with the same flags and has no entry yet.
    func thpEligible(_ si: Int, _ reg: Region) -> Bool {
        // Only a `thp` region can hold a huge page: the real backend maps other regions
        // with base pages at no huge-page alignment, so `madvise hugepage` there gets none.
        guard reg.backing == .anon, reg.huge == .thp, s.slots[si].vm.contains(.hugepage),
              !s.slots[si].vm.contains(.nohugepage) else { return false }
        let n = hugeNr
        let i = (si % s.pageCap)
        let start = si - i % n
        guard i - i % n + n <= Int(reg.pages) else { return false }
        let vm = s.slots[si].vm
        for k in start..<(start + n) where s.slots[k].vm != vm || s.slots[k].state != .none { return false }
        // do_huge_pmd_anonymous_page() runs only on an empty PMD, not over a PTE table.
        return !s.hasPageTable(start)
    }

    /// `do_huge_pmd_anonymous_page`: a write allocates a PMD-mapped THP; a read maps the
    /// huge zero page (use_zero_page=1). Returns false when it does not apply.
    mutating func thpFault(_ si: Int, p: Int, r: Int, i: Int, reg: Region, write: Bool) -> Bool {
        let n = hugeNr
        let start = blockStart(p, r, i)
        let vmWrite = s.slots[si].vm.contains(.write)
        if !write {
            // vmf_anon_prepare() runs before the huge zero page is chosen.
            s.markAnonVMA(si)
            for k in start..<(start + n) {
                s.slots[k].state = .present
                s.slots[k].frame = MachineState.zeroFrame
                s.slots[k].pmd = true
                s.slots[k].writable = false
                s.slots[k].dirty = false
            }
            s.coverage.hit(.thpZeroPmd, 0)
            s.event(.fault, p: p, r: r, i: i, to: 0)
            return true
        }
        let h = s.allocate(kind: .anon, order: s.thpOrder)
        mapPMD(start, h, writable: vmWrite, dirty: true, exclusive: P.tracksExclusive)
        s.cover(.thpFault, h)
        s.event(.fault, p: p, r: r, i: i, to: h + Int32(i % n))
        return true
    }

    /// Maps folio `h` by one PMD over the block starting at slot `start`.
    mutating func mapPMD(_ start: Int, _ h: Int32, writable: Bool, dirty: Bool, exclusive: Bool) {
        for k in 0..<hugeNr {
            s.slots[start + k].state = .present
            s.slots[start + k].frame = h + Int32(k)
            s.slots[start + k].pmd = true
            s.slots[start + k].writable = writable
            s.slots[start + k].dirty = dirty
            s.frames[Int(h) + k].exclusive = exclusive
        }
        s.frames[Int(h)].entireMapcount += 1
        s.frames[Int(h)].refcount += 1
        s.regions[start / s.pageCap].pageTables &= ~s.tableBit(start)
        if s.frames[Int(h)].kind == .anon { s.markAnonVMA(start) }
    }

    mutating func setPMDWritable(_ si: Int) {
        let start = si - (si % s.pageCap) % hugeNr
        for k in start..<(start + hugeNr) { s.slots[k].writable = true }
    }

    /// Sets PageAnonExclusive on every sub-page of the folio mapped at `si` by a PMD.
    mutating func setPMDExclusive(_ si: Int, _ value: Bool) {
        let h = Int(s.head(s.slots[si].frame))
        for k in h..<(h + (1 << Int(s.frames[h].order))) { s.frames[k].exclusive = value }
    }

    /// `__split_huge_pmd`: one PMD mapping becomes 2^order PTE mappings of the same folio
    /// (entire mapcount −1, each sub-page's mapcount +1, refcount + nr − 1); write, dirty
    /// and exclusivity are copied to every PTE. The huge zero PMD becomes zero PTEs.
    mutating func splitPMD(at si: Int, p: Int, r: Int, i: Int) {
        guard s.slots[si].state == .present, s.slots[si].pmd else { return }
        let start = si - (si % s.pageCap) % hugeNr
        s.regions[start / s.pageCap].pageTables |= s.tableBit(start)
        let f = s.slots[start].frame
        if f == MachineState.zeroFrame {
            for k in start..<(start + hugeNr) { s.slots[k].pmd = false }
            return
        }
        let h = s.head(f)
        for k in start..<(start + hugeNr) {
            s.slots[k].pmd = false
            s.frames[Int(s.slots[k].frame)].mapcount += 1
        }
        s.frames[Int(h)].entireMapcount -= 1
        s.frames[Int(h)].refcount += Int32(hugeNr - 1)
        s.counters.pmdSplits += 1
        s.cover(.pmdSplit, h)
        s.event(.pmdSplit, p: p, r: r, i: i, from: h)
    }

    /// Splits the PMDs that a range op covers only in part (VMA split).
    mutating func splitPMDsCrossing(_ p: Int, _ r: Int, _ from: Int, _ count: Int) {
        let n = hugeNr
        let reg = s.regions[s.regionIndex(p, r)]
        guard reg.huge != .hugetlb else { return }
        let base = s.slotIndex(p, r, 0)
        var b = from - from % n
        while b < from + count && b < Int(reg.pages) {
            let covered = b >= from && b + n <= from + count
            if !covered, s.slots[base + b].state == .present, s.slots[base + b].pmd {
                splitPMD(at: base + b, p: p, r: r, i: b)
            }
            b += n
        }
    }

    /// Splits every PMD that intersects the range.
    mutating func splitAllPMDs(_ p: Int, _ r: Int, _ from: Int, _ count: Int) {
        let base = s.slotIndex(p, r, 0)
        for k in from..<(from + count) where s.slots[base + k].state == .present && s.slots[base + k].pmd {
            splitPMD(at: base + k, p: p, r: r, i: k)
        }
    }

    /// ≤ 5.7: a write fault on a shared PMD-mapped THP copies the whole THP.
    mutating func copyWholePMD(_ si: Int, p: Int, r: Int, i: Int, writable: Bool) {
        let start = si - (si % s.pageCap) % hugeNr
        let old = s.head(s.slots[start].frame)
        let n = s.allocate(kind: .anon, order: s.thpOrder)
        s.copyData(from: old, to: n, pages: hugeNr)
        s.frames[Int(old)].entireMapcount -= 1
        mapPMD(start, n, writable: writable, dirty: true, exclusive: P.tracksExclusive)
        s.put(old)
        s.counters.copies += 1
        s.cover(.pmdCopyWhole, old)
        s.event(.copy, p: p, r: r, i: i, from: old, to: n)
    }

    /// A write fault on the huge zero PMD: a new THP (≤ 5.7 and today), or split to zero
    /// PTEs and let the PTE path allocate one small page (5.8 – 6.1).
    mutating func hugeZeroWrite(_ si: Int, p: Int, r: Int, i: Int, reg: Region) -> Bool {
        let start = si - (si % s.pageCap) % hugeNr
        if P.hugeZeroWriteAllocatesTHP {
            for k in start..<(start + hugeNr) { s.slots[k] = Slot(vm: s.slots[k].vm) }
            let h = s.allocate(kind: .anon, order: s.thpOrder)
            mapPMD(start, h, writable: s.slots[si].vm.contains(.write), dirty: true, exclusive: P.tracksExclusive)
            s.counters.zeroFills += 1
            s.cover(.thpFault, h)
            s.event(.zeroFill, p: p, r: r, i: i, to: h)
            return true
        }
        for k in start..<(start + hugeNr) { s.slots[k].pmd = false }
        s.coverage.hit(.pmdSplit, 0)
        return false
    }

    /// fork meets a PMD mapping (`copy_huge_pmd`). Handled once, at the block's first slot.
    mutating func forkPMD(p: Int, c: Int, r: Int, k: Int, reg: Region, parentPinned: Bool) {
        guard k % hugeNr == 0 else { return }
        let psi = s.slotIndex(p, r, k), csi = s.slotIndex(c, r, k)
        let f = s.slots[psi].frame
        for j in 0..<hugeNr { s.slots[csi + j].vm = s.slots[psi + j].vm }
        if f == MachineState.zeroFrame {
            for j in 0..<hugeNr {
                s.slots[csi + j].state = .present
                s.slots[csi + j].frame = f
                s.slots[csi + j].pmd = true
            }
            return
        }
        let h = s.head(f)
        let hugetlb = reg.huge == .hugetlb
        let exclusive = s.frames[Int(h)].exclusive
        let decision = P.forkAnon(s, frame: h, parentHasPinned: parentPinned, hugetlb: hugetlb)
        if decision.action == .copyForChild {
            if hugetlb {
                let n = copyFolioForChild(h, hugetlb: true)
                mapPMD(csi, n, writable: s.slots[psi].vm.contains(.write), dirty: true, exclusive: P.tracksExclusive)
                s.counters.eagerForkCopies += 1
                s.cover(.hugetlbForkCopy, h)
                s.event(.eagerCopy, p: c, r: r, i: k, from: h, to: n)
                return
            }
            // Split the parent's PMD and redo at PTE level (-EAGAIN in copy_huge_pmd).
            // The fork loop then meets the other sub-pages as PTEs.
            s.cover(.forkPmdSplit, h)
            splitPMD(at: psi, p: p, r: r, i: k)
            forkEntry(p: p, c: c, r: r, k: k, reg: reg, parentPinned: parentPinned)
            return
        }
        if let ref = s.ownPin(h, of: p) { s.stamp(h, decision.rule, .share, ref: ref, pmd: true, harm: .both) }
        if P.tracksExclusive && exclusive { setPMDExclusive(psi, false) }
        for j in 0..<hugeNr { s.slots[psi + j].writable = false }
        mapPMD(csi, h, writable: false, dirty: s.slots[psi].dirty, exclusive: false)
        s.cover(.forkPmdShare, h)
        s.event(.share, p: c, r: r, i: k, from: h)
    }

    // MARK: - hugetlb

    /// A hugetlb fault on an empty entry allocates a zeroed huge page, anonymous and
    /// exclusive, mapped read-only (a write then reuses it at once).
    mutating func hugetlbFault(_ si: Int, p: Int, r: Int, i: Int, write: Bool) {
        let start = blockStart(p, r, i)
        let h = s.allocate(kind: .anon, order: s.thpOrder, hugetlb: true)
        mapPMD(start, h, writable: false, dirty: write, exclusive: P.tracksExclusive)
        s.cover(.hugetlbFault, h)
        s.event(.fault, p: p, r: r, i: i, to: h)
    }

    /// `hugetlb_wp` copying: a new huge page for the faulting process.
    mutating func hugetlbCopy(_ si: Int, p: Int, r: Int, i: Int, writable: Bool, unshare: Bool) {
        let start = blockStart(p, r, i)
        let old = s.head(s.slots[start].frame)
        let n = s.allocate(kind: .anon, order: s.thpOrder, hugetlb: true)
        s.copyData(from: old, to: n, pages: hugeNr)
        s.frames[Int(old)].entireMapcount -= 1
        mapPMD(start, n, writable: writable, dirty: !unshare, exclusive: P.tracksExclusive)
        s.put(old)
        if unshare { s.counters.unshares += 1 } else { s.counters.copies += 1 }
        s.cover(.hugetlbCopy, old)
        s.event(unshare ? .unshareCopy : .copy, p: p, r: r, i: i, from: old, to: n)
    }

    /// MADV_DONTNEED on hugetlb (5.18+): whole huge pages only.
    mutating func hugetlbDontneed(_ p: Int, _ r: Int, _ from: Int, _ count: Int) -> OpStatus {
        guard from % hugeNr == 0, count % hugeNr == 0 else { return .failed(.refusedByKernel) }
        let base = s.slotIndex(p, r, 0)
        for k in from..<(from + count) { s.zap(base + k) }
        return .executed
    }

    /// hugetlb range ops must cover whole huge pages (EINVAL otherwise).
    /// (`HugetlbRange` says how far the ops that align a length reach.)
    func hugetlbAligned(_ reg: Region, _ range: PageRange?) -> Bool {
        guard reg.huge == .hugetlb, let rg = range else { return true }
        return rg.from % hugeNr == 0 && rg.count % hugeNr == 0
    }

    // MARK: - splitpmd, splitthp, collapse

    mutating func splitpmdOp(_ p: Int, _ r: Int, _ i: Int) throws(SkipReason) -> OpStatus {
        let (si, reg) = try place(p, r, i)
        guard reg.huge != .hugetlb, s.slots[si].state == .present, s.slots[si].pmd else { return .skipped(.notApplicable) }
        splitPMD(at: si, p: p, r: r, i: i)
        return .executed
    }

    /// `split_huge_page`: refused while the folio has references beyond its mappings and
    /// the swap cache (pins, GUP references); otherwise every PMD mapping is split and
    /// the folio becomes small folios that keep their own exclusivity.
    mutating func splitthpOp(_ p: Int, _ r: Int, _ i: Int) throws(SkipReason) -> OpStatus {
        let (si, reg) = try place(p, r, i)
        guard reg.huge != .hugetlb, s.slots[si].state == .present else { return .skipped(.notApplicable) }
        let f = s.slots[si].frame
        let h = s.head(f)
        guard s.frames[Int(h)].order > 0, s.frames[Int(h)].kind == .anon else { return .skipped(.notApplicable) }
        if splitFolio(h) {
            s.event(.folioSplit, p: p, r: r, i: i, from: h)
        } else {
            s.event(.refused, p: p, r: r, i: i, from: h)
        }
        return .executed
    }

    /// Splits folio `h` into small folios. Returns false if refused.
    mutating func splitFolio(_ h: Int32) -> Bool {
        let order = Int(s.frames[Int(h)].order)
        guard order > 0, !s.frames[Int(h)].hugetlb, !s.frames[Int(h)].swapcache, s.extraRefs(h) == 0 else {
            s.cover(.folioSplitRefused, h)
            return false
        }
        // Split every PMD mapping of the folio first.
        for p in 0..<s.procCap where s.procs[p].alive {
            for r in 0..<s.regionCap where s.regions[s.regionIndex(p, r)].exists {
                let base = s.slotIndex(p, r, 0)
                for k in 0..<Int(s.regions[s.regionIndex(p, r)].pages) {
                    let sl = s.slots[base + k]
                    if sl.state == .present, sl.pmd, s.frames[Int(sl.frame)].head == h {
                        splitPMD(at: base + k, p: p, r: r, i: k)
                    }
                }
            }
        }
        let n = 1 << order
        let causes = s.frames[Int(h)].culprit
        for k in Int(h)..<(Int(h) + n) {
            s.frames[k].head = Int32(k)
            s.frames[k].order = 0
            // Each sub-page, now a folio of its own, keeps the causes the folio carried.
            s.frames[k].culprit = causes
            s.frames[k].refcount = s.frames[k].mapcount
            s.frames[k].pincount = 0
            s.frames[k].entireMapcount = 0
            if !P.tracksExclusive { s.frames[k].exclusive = false }
        }
        s.counters.folioSplits += 1
        s.cover(.folioSplit, h)
        let anon = s.frames[Int(h)].kind == .anon
        // Sub-pages nobody maps are freed.
        for k in Int(h)..<(Int(h) + n) where s.frames[k].refcount == 0 { s.free(Int32(k)) }
        if P.splitMapsZeroFilledToZeroPage && anon { mapZeroFilledToZeroPage(h, n) }
        return true
    }

    /// try_to_map_unused_to_zeropage(): after a split, every PTE of a zero-filled
    /// sub-page (never written: content 0) maps the shared zero page instead.
    mutating func mapZeroFilledToZeroPage(_ h: Int32, _ n: Int) {
        for k in Int(h)..<(Int(h) + n) where s.frames[k].content == 0 && s.frames[k].mapcount > 0 && s.frames[k].kind == .anon {
            for si in 0..<s.slots.count where s.slots[si].state == .present && s.slots[si].frame == Int32(k) {
                s.frames[k].mapcount -= 1
                s.put(Int32(k))
                s.slots[si].frame = MachineState.zeroFrame
                s.slots[si].writable = false
                s.slots[si].exclusive = false
            }
        }
    }

    /// MADV_COLLAPSE (6.1): copy an aligned, PTE-mapped range into a new PMD-mapped THP.
    /// Refused with pinned or GUP-referenced pages, KSM pages, or entries that are not
    /// present or empty. Pages shared with another process (COW after fork) collapse:
    /// the new THP is this process's alone. 6.1 – 6.17 also refused a range without a
    /// writable PTE (SCAN_PAGE_RO); 6.18 dropped that (62b98015d988, 473b73222f3d), and
    /// the only era with MADV_COLLAPSE here models today's kernel.
    mutating func collapse(_ p: Int, _ r: Int, _ from: Int, _ count: Int) -> OpStatus {
        guard P.hasMadvCollapse else { return .failed(.refusedByKernel) }
        let reg = s.regions[s.regionIndex(p, r)]
        guard reg.backing == .anon, reg.huge != .hugetlb else { return .failed(.refusedByKernel) }
        let n = hugeNr
        let base = s.slotIndex(p, r, 0)
        // thp_vma_allowable_order() first: a VMA that may not hold a THP is EINVAL
        // whatever the range (VM_NOHUGEPAGE, which every non-`thp` region has here).
        let vm0 = s.slots[base + from].vm
        guard reg.huge == .thp, !vm0.contains(.nohugepage) else { return .failed(.refusedByKernel) }
        s.drainLRU()
        var blocks = 0, collapsed = 0
        var b = (from + n - 1) / n * n
        while b + n <= from + count && b + n <= Int(reg.pages) {
            blocks += 1
            if collapseBlock(base + b, p: p, r: r, i: b) { collapsed += 1 }
            b += n
        }
        // madvise_collapse(): success when every whole huge page of the range collapsed,
        // so a range that holds none succeeds doing nothing (the sixth real fuzz).
        return collapsed == blocks ? .executed : .failed(.refusedByKernel)
    }

    mutating func collapseBlock(_ start: Int, p: Int, r: Int, i: Int) -> Bool {
        let n = hugeNr
        // vma_thp_disabled(): MADV_COLLAPSE ignores the sysfs setting but not
        // VM_NOHUGEPAGE, which a plain anonymous region has here (the real backend sets
        // it on every region that is not `thp`); `madvise hugepage` lifts it.
        let vm = s.slots[start].vm
        let reg = s.regions[start / s.pageCap]
        guard reg.huge == .thp, vm.contains(.hugepage), !vm.contains(.nohugepage) else {
            s.coverage.hit(.collapseRefused, 0)
            return false
        }
        // find_pmd_or_thp_or_none(): a PMD mapping (a THP, or the huge zero page) is
        // SCAN_PMD_MAPPED, counted as done. A block without a present page other than
        // the zero page (never faulted: no PTE table, SCAN_PMD_NULL; every entry zapped;
        // only zero-page entries) is refused with EINVAL on 6.18 (the real backend
        // showed all three, found by a 10-minute real fuzz).
        if s.slots[start].state == .present && s.slots[start].pmd { return true }
        guard (start..<(start + n)).contains(where: { s.slots[$0].state == .present && s.slots[$0].frame != MachineState.zeroFrame }) else {
            s.coverage.hit(.collapseRefused, 0)
            return false
        }
        for k in start..<(start + n) {
            let sl = s.slots[k]
            guard sl.inVMA, sl.vm == s.slots[start].vm else { s.coverage.hit(.collapseRefused, 0); return false }
            if sl.state == .swap || sl.state == .migration { s.coverage.hit(.collapseRefused, 0); return false }
            guard sl.state == .present else { continue }
            let f = sl.frame
            if f == MachineState.zeroFrame { continue }
            let h = s.folio(f)
            if h.kind != .anon || h.ksm || s.extraRefs(f) != 0 { s.cover(.collapseRefused, f); return false }
        }
        let nh = s.allocate(kind: .anon, order: s.thpOrder)
        for k in 0..<n {
            let sl = s.slots[start + k]
            if sl.state == .present {
                s.frames[Int(nh) + k].content = s.frames[Int(sl.frame)].content
                s.frames[Int(nh) + k].store = s.frames[Int(sl.frame)].store
                s.inheritStamp(from: sl.frame, to: nh)
            }
        }
        for k in start..<(start + n) {
            let vm = s.slots[k].vm
            s.zap(k)
            s.slots[k] = Slot(vm: vm)
        }
        mapPMD(start, nh, writable: s.slots[start].vm.contains(.write), dirty: true, exclusive: P.tracksExclusive)
        s.cover(.collapse, nh)
        s.event(.copy, p: p, r: r, i: i, to: nh)
        return true
    }
}

extension Machine {
    mutating func setPMDReadOnly(_ si: Int) {
        let start = si - (si % s.pageCap) % hugeNr
        for k in start..<(start + hugeNr) { s.slots[k].writable = false }
    }
}

/// How far a hugetlb range op reaches when the kernel aligns its length (the
/// `Reference` applies the same ranges, so it agrees with the machine on which pages moved
/// or were dropped).
public enum HugetlbRange {
    /// mremap(): the length is aligned up to whole huge pages (`hugeNr` pages each).
    @inline(__always) public static func mremapCount(_ count: Int, hugeNr: Int) -> Int {
        (count + hugeNr - 1) / hugeNr * hugeNr
    }

    /// MADV_DONTNEED: the end is aligned down (madvise_dontneed_free_valid_vma).
    @inline(__always) public static func dontneedCount(_ count: Int, hugeNr: Int) -> Int {
        count - count % hugeNr
    }
}
