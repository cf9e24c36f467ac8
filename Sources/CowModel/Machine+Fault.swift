/// Read and write faults: `do_anonymous_page`, `do_read_fault`, `do_cow_fault`,
/// `do_wp_page` (copy or reuse, decided by the policy), and unsharing.
extension Machine {
    mutating func read(_ p: Int, _ r: Int, _ i: Int) throws(SkipReason) -> (OpStatus, Int16) {
        let (si, reg) = try place(p, r, i)
        if s.slots[si].state == .swap { swapIn(si, p: p, r: r, i: i, write: false) }
        if s.slots[si].state != .present { readFault(si, p: p, r: r, i: i, reg: reg) }
        let f = s.slots[si].frame
        s.cover(.readPresent, f)
        s.observe(f, pmd: s.slots[si].pmd, ref: .cpu)
        return (.executed, Int16(s.frames[Int(f)].content))
    }

    /// A read fault on an empty entry: the zero page, the page cache, or shmem.
    mutating func readFault(_ si: Int, p: Int, r: Int, i: Int, reg: Region) {
        switch reg.backing {
        case .anon:
            if reg.huge == .hugetlb {
                hugetlbFault(si, p: p, r: r, i: i, write: false)
                return
            }
            if thpEligible(si, reg), thpFault(si, p: p, r: r, i: i, reg: reg, write: false) {
                return
            }
            s.mapPTE(si, MachineState.zeroFrame, writable: false, dirty: false)
            s.coverage.hit(.readZeroFault, 0)
        case .file, .shared:
            let f = s.objectPage(reg.object, reg.pgoff + Int32(i))
            s.mapPTE(si, f, writable: false, dirty: false)
            s.cover(reg.backing == .file ? .readFileFault : .readShmemFault, f)
        }
        s.event(.fault, p: p, r: r, i: i, to: s.slots[si].frame)
    }

    mutating func write(_ p: Int, _ r: Int, _ i: Int, _ v: UInt8) throws(SkipReason) -> OpStatus {
        let (si, reg) = try place(p, r, i)
        guard s.slots[si].vm.contains(.write) else { return .skipped(.notWritable) }
        if !(s.slots[si].state == .present && s.slots[si].writable) {
            writeFault(si, p: p, r: r, i: i, reg: reg, unshare: false)
        } else {
            s.cover(.writeInPlace, s.slots[si].frame)
        }
        let f = s.slots[si].frame
        s.frames[Int(f)].content = v
        s.frames[Int(f)].store = s.currentStore
        s.slots[si].dirty = true
        return .executed
    }

    /// A write fault (or with `unshare`, FAULT_FLAG_UNSHARE) at a slot. Afterwards the
    /// slot maps a page the process may write: writable when the VMA has VM_WRITE,
    /// otherwise (a FOLL_FORCE write) read-only but private.
    mutating func writeFault(_ si: Int, p: Int, r: Int, i: Int, reg: Region, unshare: Bool) {
        let vmWrite = s.slots[si].vm.contains(.write)
        var fromSwap = false
        if s.slots[si].state == .swap {
            swapIn(si, p: p, r: r, i: i, write: !unshare)
            fromSwap = true
        }
        if s.slots[si].state != .present {
            // First touch.
            switch reg.backing {
            case .anon:
                if reg.huge == .hugetlb {
                    hugetlbFault(si, p: p, r: r, i: i, write: true)
                    if !unshare && vmWrite { s.slots[si].writable = true }
                    return
                }
                if thpEligible(si, reg), thpFault(si, p: p, r: r, i: i, reg: reg, write: true) {
                    if unshare || !vmWrite { s.slots[si].writable = false }
                    return
                }
                let n = s.allocate(kind: .anon)
                s.frames[Int(n)].exclusive = P.tracksExclusive
                s.mapPTE(si, n, writable: vmWrite && !unshare, dirty: !unshare)
                s.addToLRU(n)
                s.event(.fault, p: p, r: r, i: i, to: n)
            case .file:
                // do_cow_fault: a private copy of the page-cache page.
                let pc = s.objectPage(reg.object, reg.pgoff + Int32(i))
                let n = s.allocate(kind: .anon, content: s.frames[Int(pc)].content, store: s.frames[Int(pc)].store)
                s.inheritStamp(from: pc, to: n)
                s.frames[Int(n)].exclusive = P.tracksExclusive
                s.mapPTE(si, n, writable: vmWrite && !unshare, dirty: !unshare)
                s.addToLRU(n)
                s.cover(.writeFileCow, pc)
                s.event(.copy, p: p, r: r, i: i, from: pc, to: n)
            case .shared:
                let f = s.objectPage(reg.object, reg.pgoff + Int32(i))
                s.mapPTE(si, f, writable: vmWrite, dirty: true)
                s.cover(.writeShmem, f)
            }
            return
        }
        if s.slots[si].writable { return }
        if s.slots[si].pmd && s.slots[si].frame == MachineState.zeroFrame {
            if hugeZeroWrite(si, p: p, r: r, i: i, reg: reg) {
                if unshare || !vmWrite { setPMDReadOnly(si) }
                return
            }
        }
        let f = s.slots[si].frame
        let kind = s.frames[Int(f)].kind
        switch kind {
        case .shmem:
            // wp_page_shared: the same page, now writable.
            if vmWrite { s.slots[si].writable = true }
            s.slots[si].dirty = true
            s.cover(.writeShmem, f)
        case .zero:
            let n = s.allocate(kind: .anon)
            s.frames[Int(n)].exclusive = P.tracksExclusive
            replaceMapping(si, old: f, new: n, writable: vmWrite && !unshare, dirty: !unshare)
            s.counters.zeroFills += 1
            s.coverage.hit(unshare ? .unshareNonAnon : .writeZeroFill, 0)
            s.event(unshare ? .unshareCopy : .zeroFill, p: p, r: r, i: i, from: f, to: n)
        case .pagecache:
            let n = s.allocate(kind: .anon, content: s.frames[Int(f)].content, store: s.frames[Int(f)].store)
            s.frames[Int(n)].exclusive = P.tracksExclusive
            s.cover(unshare ? .unshareNonAnon : .writeFileCow, f)
            replaceMapping(si, old: f, new: n, writable: vmWrite && !unshare, dirty: !unshare)
            s.counters.copies += 1
            s.event(unshare ? .unshareCopy : .copy, p: p, r: r, i: i, from: f, to: n)
        case .anon:
            anonWriteFault(si, p: p, r: r, i: i, reg: reg, unshare: unshare, swapin: fromSwap)
        case .free:
            // A use after free: the invariant check reports it; do not make it worse.
            return
        }
    }

    /// `do_wp_page` on anonymous memory: the policy decides.
    mutating func anonWriteFault(_ si: Int, p: Int, r: Int, i: Int, reg: Region, unshare: Bool, swapin: Bool = false) {
        let vmWrite = s.slots[si].vm.contains(.write)
        var f = s.slots[si].frame
        let hugetlb = reg.huge == .hugetlb
        if unshare && P.tracksExclusive && s.frames[Int(f)].exclusive {
            s.cover(.unshareNoop, f)
            return
        }
        var site = FaultSite(process: p, frame: f, pmd: s.slots[si].pmd && !hugetlb, unshare: unshare, hugetlb: hugetlb, swapin: swapin)
        let wasKsm = s.folio(f).ksm
        var decision = P.anonWriteFault(&s, site)
        if decision.action == .splitPMD {
            splitPMD(at: si, p: p, r: r, i: i)
            f = s.slots[si].frame
            site.pmd = false
            site.frame = f
            decision = P.anonWriteFault(&s, site)
            if decision.action == .splitPMD { decision.action = .copy }
        }
        switch decision.action {
        case .reuse:
            // Risky: the page is reused while somebody besides this process holds it.
            if let ref = s.foreignHolder(f, besides: p) ?? otherMMMaps(f, besides: p) {
                s.stamp(f, decision.rule, .reuse, ref: ref, pmd: s.slots[si].pmd, harm: .isolation)
            }
            if wasKsm { s.frames[Int(s.head(f))].ksm = false }
            if P.tracksExclusive {
                if s.slots[si].pmd { setPMDExclusive(si, true) } else { s.frames[Int(f)].exclusive = true }
            }
            if unshare {
                s.counters.unshares += 1
                s.cover(.unshareReuse, f)
                s.event(.unshare, p: p, r: r, i: i, from: f)
            } else {
                if vmWrite {
                    if s.slots[si].pmd { setPMDWritable(si) } else { s.slots[si].writable = true }
                }
                s.slots[si].dirty = true
                s.counters.reuses += 1
                s.cover(hugetlb ? .hugetlbReuse : (wasKsm ? .wpReuseKsm : (s.slots[si].pmd ? .pmdReuse : .wpReuse)), f)
                s.event(.reuse, p: p, r: r, i: i, from: f)
            }
        case .copy, .splitPMD:
            // Risky: the copy leaves this process's own pin on the old page.
            let ownRef = s.ownPin(f, of: p)
            if let ownRef {
                s.stamp(f, decision.rule, .copy, ref: ownRef, pmd: s.slots[si].pmd, harm: ownRef == .pin ? .coherence : .isolation)
            }
            if hugetlb {
                hugetlbCopy(si, p: p, r: r, i: i, writable: vmWrite && !unshare, unshare: unshare)
                return
            }
            if s.slots[si].pmd {
                copyWholePMD(si, p: p, r: r, i: i, writable: vmWrite && !unshare)
                return
            }
            if isUnnecessaryCopy(f) { s.counters.unnecessaryCopies += 1 }
            let n = s.allocate(kind: .anon, content: s.frames[Int(f)].content, store: s.frames[Int(f)].store)
            s.frames[Int(n)].exclusive = P.tracksExclusive
            s.cover(unshare ? .unshareCopy : (wasKsm ? .wpCopyKsm : .wpCopy), f)
            replaceMapping(si, old: f, new: n, writable: vmWrite && !unshare, dirty: !unshare)
            s.addToLRU(n)
            if unshare { s.counters.unshares += 1 } else { s.counters.copies += 1 }
            s.event(unshare ? .unshareCopy : .copy, p: p, r: r, i: i, from: f, to: n)
        }
    }

    /// `.cpu` when another mm maps the large folio of `f` (a small page's mapcount says
    /// so already through `foreignHolder`).
    func otherMMMaps(_ f: Int32, besides p: Int) -> RefKind? {
        s.folio(f).order > 0 && s.mappedByOtherMM(f, besides: p) ? .cpu : nil
    }

    /// A copy of a page only this process maps and nobody else holds (spec §4.1 item 4).
    func isUnnecessaryCopy(_ f: Int32) -> Bool {
        let h = s.folio(f)
        guard h.kind == .anon, !h.ksm, h.order == 0 else { return false }
        if h.swapcache && s.swapCount[Int(h.swapSlot)] > 0 { return false }
        return s.frames[Int(f)].mapcount == 1 && s.extraRefs(f) == 0
    }

    /// Points a PTE at a new page, dropping the old mapping.
    mutating func replaceMapping(_ si: Int, old: Int32, new: Int32, writable: Bool, dirty: Bool) {
        s.inheritStamp(from: old, to: new)
        if s.frames[Int(old)].kind != .zero { s.frames[Int(old)].mapcount -= 1 }
        s.mapPTE(si, new, writable: writable, dirty: dirty)
        s.put(old)
    }
}
