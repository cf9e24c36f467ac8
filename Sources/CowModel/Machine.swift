/// The simulated kernel, generic over the era policy so the hot path specialises.
///
/// `apply` runs one op and returns its status and observation. Ops are total: names
/// that do not exist make the op a recorded skip. The machine asks `P` at every
/// decision the kernel answered differently over time and records coverage there.
public struct Machine<P: Policy>: Sendable {
    public var s = MachineState()

    public init() {}

    public mutating func load(_ program: Program) { s.reset(for: program) }

    /// Where a page op lands: the slot index, or why it cannot run.
    enum Located {
        case ok(Int, Region)
        case skip(SkipReason)
    }

    @inline(__always) func locate(_ p: Int, _ r: Int, _ i: Int) -> Located {
        guard p < s.procCap, s.procs[p].alive else { return .skip(.noProcess) }
        guard r < s.regionCap else { return .skip(.noRegion) }
        let reg = s.regions[s.regionIndex(p, r)]
        guard reg.exists else { return .skip(.noRegion) }
        guard i < Int(reg.pages) else { return .skip(.pageOutOfRange) }
        let si = s.slotIndex(p, r, i)
        guard s.slots[si].inVMA else { return .skip(.pageNotMapped) }
        return .ok(si, reg)
    }

    /// `locate` for ops that throw their skip reason: `let (si, reg) = try place(p, r, i)`.
    @inline(__always) func place(_ p: Int, _ r: Int, _ i: Int) throws(SkipReason) -> (Int, Region) {
        switch locate(p, r, i) {
        case let .ok(si, reg): return (si, reg)
        case let .skip(why): throw why
        }
    }

    /// The slot range of a region op, or why it cannot run. `needMapped`: every page
    /// of the range must be mapped (mprotect, madvise, mremap fail on holes).
    @inline(__always) func locateRange(_ p: Int, _ r: Int, _ range: PageRange?, needMapped: Bool) -> (Int, Int, Region)? {
        guard p < s.procCap, s.procs[p].alive, r < s.regionCap else { return nil }
        let reg = s.regions[s.regionIndex(p, r)]
        guard reg.exists else { return nil }
        let from = range?.from ?? 0
        let count = range?.count ?? Int(reg.pages)
        guard from + count <= Int(reg.pages) else { return nil }
        if needMapped {
            let base = s.slotIndex(p, r, 0)
            for k in from..<(from + count) where !s.slots[base + k].inVMA { return nil }
        }
        return (from, count, reg)
    }

    func rangeSkip(_ p: Int, _ r: Int, _ range: PageRange?) -> SkipReason {
        guard p < s.procCap, s.procs[p].alive else { return .noProcess }
        guard r < s.regionCap, s.regions[s.regionIndex(p, r)].exists else { return .noRegion }
        let reg = s.regions[s.regionIndex(p, r)]
        if let rg = range, rg.from + rg.count > Int(reg.pages) { return .badRange }
        return .pageNotMapped
    }

    /// Runs one op. `index` is its position in the program (for events).
    public mutating func apply(_ op: Op, index: Int) -> (OpStatus, Int16) {
        s.currentOp = Int32(index)
        s.currentStore = StoreID.of(op: index, lane: s.currentLane)
        do {
            return try dispatch(op)
        } catch {
            return (.skipped(error), -1)
        }
    }

    /// Runs one op; an op whose names do not exist throws why it was skipped.
    @inline(__always) mutating func dispatch(_ op: Op) throws(SkipReason) -> (OpStatus, Int16) {
        switch op {
        case let .mmap(p, r, pages, backing, huge):
            return (mmap(p, r, pages, backing, huge), -1)
        case let .munmap(p, r, range):
            return (munmap(p, r, range), -1)
        case let .mprotect(p, r, w, range):
            return (mprotect(p, r, w, range), -1)
        case let .mremap(p, r, to, range):
            return (mremap(p, r, to, range), -1)
        case let .madvise(p, r, advice, range):
            return (madvise(p, r, advice, range), -1)
        case let .write(p, r, i, v):
            return try (write(p, r, i, v), -1)
        case let .read(p, r, i):
            return try read(p, r, i)
        case let .fork(p, c):
            return (fork(p, c), -1)
        case let .exit(p):
            return (exit(p), -1)
        case let .pin(p, r, i, g, flags):
            return try (pin(p, r, i, g, flags), -1)
        case let .unpin(g):
            return (unpin(g), -1)
        case let .readpin(g):
            guard g < s.pins.count, s.pins[g].active else { return (.skipped(.noPin), -1) }
            s.observe(s.pins[g].frame, ref: s.pins[g].refKind)
            return (.executed, Int16(s.frames[Int(s.pins[g].frame)].content))
        case let .writepin(g, v):
            guard g < s.pins.count, s.pins[g].active else { return (.skipped(.noPin), -1) }
            guard s.pins[g].flags.contains(.rw) else { return (.skipped(.pinNotWritable), -1) }
            s.frames[Int(s.pins[g].frame)].content = v
            s.frames[Int(s.pins[g].frame)].store = s.currentStore
            return (.executed, -1)
        case let .vmsplice(p, r, i, pipe):
            return try (vmsplice(p, r, i, pipe), -1)
        case let .readpipe(pipe):
            return readpipe(pipe)
        case let .pokemem(p, r, i, v):
            return try (pokemem(p, r, i, v), -1)
        case .ksm:
            return (ksmPass(), -1)
        case let .migrate(p, r, i):
            return try (migrate(p, r, i), -1)
        case let .swapout(p, r, i):
            return try (swapout(p, r, i), -1)
        case let .splitpmd(p, r, i):
            return try (splitpmdOp(p, r, i), -1)
        case let .splitthp(p, r, i):
            return try (splitthpOp(p, r, i), -1)
        case let .race(lanes, schedule):
            return (race(lanes, schedule), -1)
        }
    }

    // MARK: - address space

    mutating func mmap(_ p: Int, _ r: Int, _ pages: Int, _ backing: Backing, _ huge: HugeKind) -> OpStatus {
        guard s.procs[p].alive else { return .skipped(.noProcess) }
        let ri = s.regionIndex(p, r)
        guard !s.regions[ri].exists else { return .skipped(.regionExists) }
        if huge == .hugetlb && backing != .anon { return .skipped(.notApplicable) }
        if huge == .hugetlb && pages % (1 << s.thpOrder) != 0 { return .skipped(.notApplicable) }
        var reg = Region()
        reg.exists = true
        reg.pages = Int32(pages)
        reg.backing = backing
        reg.huge = huge
        switch backing {
        case .anon: reg.object = -1
        case .file: reg.object = 0
        case .shared: reg.object = s.newObject(pages: pages)
        }
        if reg.object >= 0 { s.objects[Int(reg.object)].mappers += 1 }
        s.regions[ri] = reg
        var vm: VMFlags = [.inVMA, .write]
        // The real backend maps every region that is not `thp` with MADV_NOHUGEPAGE (so
        // a base-page region never gets a THP by chance): its VMA carries the flag, and a
        // `madvise nohugepage` there changes nothing (no VMA split).
        if huge == .none { vm.insert(.nohugepage) }
        if reg.accountable { vm.insert(.account) }
        if huge == .thp { vm.insert(.hugepage) }
        let base = s.slotIndex(p, r, 0)
        for k in 0..<pages { s.slots[base + k] = Slot(vm: vm) }
        return .executed
    }

    mutating func munmap(_ p: Int, _ r: Int, _ range: PageRange?) -> OpStatus {
        guard let (from, count, reg) = locateRange(p, r, range, needMapped: false) else {
            return .skipped(rangeSkip(p, r, range))
        }
        // hugetlb_vm_op_split(): a hugetlb VMA splits only on a huge-page boundary (EINVAL).
        guard hugetlbAligned(reg, range) else { return .failed(.refusedByKernel) }
        splitPMDsCrossing(p, r, from, count)
        let base = s.slotIndex(p, r, 0)
        for k in from..<(from + count) {
            s.zap(base + k)
            s.slots[base + k] = Slot()
        }
        dropEmptyPageTables(p, r)
        retireRegionIfEmpty(p, r)
        return .executed
    }

    /// free_pgtables(): a huge block no slot of the region maps any more loses its table.
    mutating func dropEmptyPageTables(_ p: Int, _ r: Int) {
        let ri = s.regionIndex(p, r), base = s.slotIndex(p, r, 0), n = hugeNr, pages = Int(s.regions[ri].pages)
        var b = 0
        while b < pages {
            if !(b..<min(b + n, pages)).contains(where: { s.slots[base + $0].inVMA }) {
                s.regions[ri].pageTables &= ~s.tableBit(base + b)
            }
            b += n
        }
    }

    /// A region whose every page is gone stops existing (its name can be mapped again).
    mutating func retireRegionIfEmpty(_ p: Int, _ r: Int) {
        let ri = s.regionIndex(p, r)
        let reg = s.regions[ri]
        let base = s.slotIndex(p, r, 0)
        for k in 0..<Int(reg.pages) where s.slots[base + k].inVMA { return }
        s.regions[ri].exists = false
        if reg.object >= 0 {
            s.objects[Int(reg.object)].mappers -= 1
            s.releaseObjectIfUnused(reg.object)
        }
    }

    mutating func mprotect(_ p: Int, _ r: Int, _ writable: Bool, _ range: PageRange?) -> OpStatus {
        guard let (from, count, reg) = locateRange(p, r, range, needMapped: true) else {
            return .skipped(rangeSkip(p, r, range))
        }
        let base = s.slotIndex(p, r, 0)
        // mprotect_fixup(): flags that do not change change nothing (no VMA split, no
        // PMD split, no upgrade).
        guard (from..<(from + count)).contains(where: { s.slots[base + $0].vm.contains(.write) != writable }) else {
            return .executed
        }
        // hugetlb_vm_op_split(): EINVAL off a huge-page boundary.
        guard hugetlbAligned(reg, range) else { return .failed(.refusedByKernel) }
        splitPMDsCrossing(p, r, from, count)
        var changed: UInt64 = 0
        for k in from..<min(from + count, 64) where s.slots[base + k].vm.contains(.write) != writable { changed |= 1 << UInt64(k) }
        for k in from..<(from + count) {
            let si = base + k
            if writable {
                // mprotect_fixup(): going writable charges a VMA that was neither.
                if reg.accountable { s.slots[si].vm.insert(.account) }
                s.slots[si].vm.insert(.write)
                // 6.0 (64fe24a3e05e): exclusive anonymous pages become writable at once.
                if P.mprotectUpgradesExclusive, reg.backing != .shared, s.slots[si].state == .present {
                    let f = s.slots[si].frame
                    if s.frames[Int(f)].kind == .anon && s.frames[Int(f)].exclusive && !s.slots[si].writable {
                        s.slots[si].writable = true
                        if let ref = s.foreignHolder(f, besides: p) { s.stamp(f, .mprotectUpgrade, .map, ref: ref, pmd: false, harm: .isolation) }
                        s.cover(.mprotectUpgrade, f)
                        s.event(.mprotectUpgrade, p: p, r: r, i: k, from: f)
                    }
                }
            } else {
                // ... and going read-only uncharges an anonymous VMA without an anon_vma.
                if reg.backing == .anon && !s.slots[si].vm.contains(.anonVMA) { s.slots[si].vm.remove(.account) }
                s.slots[si].vm.remove(.write)
                if s.slots[si].state == .present {
                    s.slots[si].writable = false
                    s.cover(.mprotectRO, s.slots[si].frame)
                }
            }
        }
        s.mergeAnonVMAs(region: s.regionIndex(p, r), changed: changed)
        return .executed
    }

    mutating func mremap(_ p: Int, _ r: Int, _ to: Int, _ range: PageRange?) -> OpStatus {
        guard let (from, asked, reg) = locateRange(p, r, range, needMapped: true) else {
            return .skipped(rangeSkip(p, r, range))
        }
        let ti = s.regionIndex(p, to)
        guard to != r, !s.regions[ti].exists else { return .skipped(.regionExists) }
        var count = asked
        if reg.huge == .hugetlb {
            // mremap() on hugetlb: the address must be huge-page aligned (EINVAL); the
            // length is aligned up to whole huge pages, which must lie in the VMA (EFAULT).
            guard from % hugeNr == 0 else { return .failed(.refusedByKernel) }
            count = HugetlbRange.mremapCount(asked, hugeNr: hugeNr)
            guard locateRange(p, r, PageRange(from: from, count: count), needMapped: true) != nil else {
                return .failed(.refusedByKernel)
            }
        }
        // A PMD survives a move only when the moved range starts on a huge-page boundary.
        if from % hugeNr == 0 { splitPMDsCrossing(p, r, from, count) } else { splitAllPMDs(p, r, from, count) }
        // move_vma(): KSM pages of the moved range are broken first (ksm_madvise with
        // MADV_UNMERGEABLE; VM_MERGEABLE stays), as the real backend shows on 6.18.
        let sb = s.slotIndex(p, r, 0)
        for k in from..<(from + count) where s.slots[sb + k].state == .present && s.slots[sb + k].vm.contains(.mergeable) {
            let f = s.slots[sb + k].frame
            guard f != MachineState.zeroFrame, s.frames[Int(f)].kind == .anon, s.folio(f).ksm else { continue }
            s.cover(.ksmUnmerge, f)
            s.event(.ksmBreak, p: p, r: r, i: k, from: f)
            anonWriteFault(sb + k, p: p, r: r, i: k, reg: reg, unshare: P.ksmUnmergeUnshares)
        }
        var nreg = reg
        nreg.pages = Int32(count)
        nreg.pgoff = reg.pgoff + Int32(from)
        // move_page_tables(): the destination gets a table where the source had one.
        nreg.pageTables = 0
        for k in 0..<count where s.hasPageTable(s.slotIndex(p, r, from + k)) {
            nreg.pageTables |= s.tableBit(s.slotIndex(p, to, k))
        }
        if nreg.object >= 0 { s.objects[Int(nreg.object)].mappers += 1 }
        s.regions[ti] = nreg
        let src = s.slotIndex(p, r, 0), dst = s.slotIndex(p, to, 0)
        for k in 0..<count {
            s.slots[dst + k] = s.slots[src + from + k]
            s.slots[src + from + k] = Slot()
            if s.slots[dst + k].state == .present { s.cover(.mremapMove, s.slots[dst + k].frame) }
        }
        dropEmptyPageTables(p, r)
        retireRegionIfEmpty(p, r)
        return .executed
    }

    mutating func madvise(_ p: Int, _ r: Int, _ advice: Advice, _ range: PageRange?) -> OpStatus {
        guard let (from, count, reg) = locateRange(p, r, range, needMapped: true) else {
            return .skipped(rangeSkip(p, r, range))
        }
        if !hugetlbAligned(reg, range) {
            switch advice {
            // ksm_madvise() leaves a hugetlb VMA alone: no flag changes, so no split.
            case .mergeable, .unmergeable: return .executed
            // MADV_DONTNEED on hugetlb: the start must be aligned (EINVAL), the end is
            // aligned down to whole huge pages (madvise_dontneed_free_valid_vma).
            case .dontneed:
                guard from % hugeNr == 0 else { return .failed(.refusedByKernel) }
                return hugetlbDontneed(p, r, from, HugetlbRange.dontneedCount(count, hugeNr: hugeNr))
            // A flag change splits the VMA: EINVAL off a huge-page boundary; no change, no split.
            case .dontfork, .dofork:
                return adviceChangesFlags(advice, s.slotIndex(p, r, 0), from, count) ? .failed(.refusedByKernel) : .executed
            // can_madv_lru_vma() and MADV_COLLAPSE refuse hugetlb whatever the range.
            case .pageout, .collapse: return .failed(.refusedByKernel)
            default: return .skipped(.notApplicable)
            }
        }
        let base = s.slotIndex(p, r, 0)
        var changed: UInt64 = 0
        for k in from..<min(from + count, 64) where Machine.adviceChanges(advice, s.slots[base + k].vm) { changed |= 1 << UInt64(k) }
        // madvise_update_vma(): a flag change splits the VMA, and with it a PMD it cuts;
        // unchanged flags split nothing.
        let splits = adviceChangesFlags(advice, base, from, count)
        switch advice {
        case .dontneed:
            if reg.huge == .hugetlb { return hugetlbDontneed(p, r, from, count) }
            splitPMDsCrossing(p, r, from, count)
            for k in from..<(from + count) { s.zap(base + k) }
            if P.dontneedReclaimsPageTables {
                // A block the range covers within one VMA (equal flags) loses its table.
                var b = (from + hugeNr - 1) / hugeNr * hugeNr
                while b + hugeNr <= min(from + count, Int(reg.pages)) {
                    let vm = s.slots[base + b].vm
                    if (b..<(b + hugeNr)).allSatisfy({ s.slots[base + $0].vm == vm }) {
                        s.regions[s.regionIndex(p, r)].pageTables &= ~s.tableBit(base + b)
                    }
                    b += hugeNr
                }
            }
        case .dontfork, .dofork:
            guard splits else { break }
            splitPMDsCrossing(p, r, from, count)
            for k in from..<(from + count) {
                if advice == .dontfork { s.slots[base + k].vm.insert(.dontfork) } else { s.slots[base + k].vm.remove(.dontfork) }
            }
        case .wipeonfork:
            guard reg.backing == .anon, reg.huge != .hugetlb else { return .skipped(.notApplicable) }
            if splits { splitPMDsCrossing(p, r, from, count) }
            for k in from..<(from + count) { s.slots[base + k].vm.insert(.wipeonfork) }
        case .hugepage, .nohugepage:
            guard reg.huge != .hugetlb else { return .skipped(.notApplicable) }
            // (The real backend: `madvise nohugepage` on part of a PMD-mapped THP splits it.)
            if splits { splitPMDsCrossing(p, r, from, count) }
            for k in from..<(from + count) {
                if advice == .hugepage {
                    s.slots[base + k].vm.insert(.hugepage); s.slots[base + k].vm.remove(.nohugepage)
                } else {
                    s.slots[base + k].vm.insert(.nohugepage); s.slots[base + k].vm.remove(.hugepage)
                }
            }
        case .collapse:
            return collapse(p, r, from, count)
        case .pageout:
            return pageout(p, r, from, count)
        case .mergeable, .unmergeable:
            let st = ksmAdvise(p, r, from, count, mergeable: advice == .mergeable, splits: splits)
            s.mergeAnonVMAs(region: s.regionIndex(p, r), changed: changed)
            return st
        }
        if changed != 0 { s.mergeAnonVMAs(region: s.regionIndex(p, r), changed: changed) }
        return .executed
    }

    /// Whether `advice` changes the flags of some page of the range.
    func adviceChangesFlags(_ advice: Advice, _ base: Int, _ from: Int, _ count: Int) -> Bool {
        (from..<(from + count)).contains { Machine.adviceChanges(advice, s.slots[base + $0].vm) }
    }

    /// Whether `advice` changes VMA flags `vm` (a flag change may split and merge VMAs).
    static func adviceChanges(_ advice: Advice, _ vm: VMFlags) -> Bool {
        switch advice {
        case .dontfork: !vm.contains(.dontfork)
        case .dofork: vm.contains(.dontfork)
        case .wipeonfork: !vm.contains(.wipeonfork)
        case .hugepage: !vm.contains(.hugepage) || vm.contains(.nohugepage)
        case .nohugepage: !vm.contains(.nohugepage) || vm.contains(.hugepage)
        case .mergeable: !vm.contains(.mergeable)
        case .unmergeable: vm.contains(.mergeable)
        default: false
        }
    }

    // MARK: - processes

    mutating func fork(_ p: Int, _ c: Int) -> OpStatus {
        guard s.procs[p].alive else { return .skipped(.noProcess) }
        guard !s.procs[c].alive else { return .skipped(.processExists) }
        s.procs[c] = ProcState(alive: true, hasPinned: false)
        let parentPinned = s.procs[p].hasPinned
        for r in 0..<s.regionCap {
            let reg = s.regions[s.regionIndex(p, r)]
            guard reg.exists else { continue }
            let pb = s.slotIndex(p, r, 0), cb = s.slotIndex(c, r, 0)
            var any = false
            // vma_needs_copy(): a private VMA without an anon_vma (and not hugetlb) has
            // nothing a fault could not fill again: the child gets the VMA, no entries.
            for k in 0..<Int(reg.pages) {
                let ps = s.slots[pb + k]
                if !ps.vm.contains(.anonVMA) && reg.huge != .hugetlb {
                    s.slots[cb + k] = Slot()
                    guard ps.inVMA, !ps.vm.contains(.dontfork) else { continue }
                    any = true
                    s.slots[cb + k].vm = ps.vm
                    if ps.state == .present { s.coverage.hit(.forkSkipsNoAnonVMA, 0) }
                    continue
                }
                if ps.state == .present && ps.pmd && k % hugeNr != 0 && !ps.vm.contains(.dontfork) && !ps.vm.contains(.wipeonfork) {
                    // Mapped in the child together with its block's first slot.
                    any = true
                    continue
                }
                s.slots[cb + k] = Slot()
                guard ps.inVMA else { continue }
                if ps.vm.contains(.dontfork) {
                    s.coverage.hit(.forkDontfork, 0)
                    continue
                }
                any = true
                s.slots[cb + k].vm = ps.vm
                if ps.vm.contains(.wipeonfork) {
                    s.coverage.hit(.forkWipe, 0)
                    continue
                }
                forkEntry(p: p, c: c, r: r, k: k, reg: reg, parentPinned: parentPinned)
            }
            if any {
                var creg = reg
                // copy_pmd_range(): the child gets tables only where entries are copied.
                if reg.huge != .hugetlb {
                    var b = 0
                    while b < Int(reg.pages) {
                        let vm = s.slots[pb + b].vm
                        if !vm.contains(.anonVMA) || vm.contains(.wipeonfork) || vm.contains(.dontfork) {
                            creg.pageTables &= ~s.tableBit(pb + b)
                        }
                        b += hugeNr
                    }
                }
                s.regions[s.regionIndex(c, r)] = creg
                if reg.object >= 0 { s.objects[Int(reg.object)].mappers += 1 }
            } else {
                for k in 0..<Int(reg.pages) { s.slots[cb + k] = Slot() }
            }
        }
        return .executed
    }

    /// Copies one page-table entry from parent to child (`copy_present_pte`,
    /// `copy_nonpresent_pte`, `copy_huge_pmd`).
    mutating func forkEntry(p: Int, c: Int, r: Int, k: Int, reg: Region, parentPinned: Bool) {
        let psi = s.slotIndex(p, r, k), csi = s.slotIndex(c, r, k)
        let ps = s.slots[psi]
        switch ps.state {
        case .none:
            return
        case .swap:
            forkSwapEntry(psi: psi, csi: csi)
            return
        case .migration:
            return
        case .present:
            break
        }
        if ps.pmd {
            forkPMD(p: p, c: c, r: r, k: k, reg: reg, parentPinned: parentPinned)
            return
        }
        let f = ps.frame
        switch s.frames[Int(f)].kind {
        case .zero:
            s.mapPTE(csi, f, writable: false, dirty: false)
            s.coverage.hit(.forkZero, 0)
        case .shmem:
            // vma_needs_copy(): shared mappings are not copied; the child faults them in again.
            s.slots[csi].state = .none
        case .pagecache:
            s.cover(.forkPagecache, f)
            s.mapPTE(csi, f, writable: false, dirty: false)
        case .anon:
            let hugetlb = reg.huge == .hugetlb
            let decision = s.frames[Int(f)].ksm ? ForkDecision.share(.none)
                : P.forkAnon(s, frame: f, parentHasPinned: parentPinned, hugetlb: hugetlb)
            applyForkAnon(p: p, c: c, r: r, k: k, decision: decision, hugetlb: hugetlb)
        case .free:
            return
        }
    }

    /// Carries out fork's decision for one anonymous PTE: the child's own copy (the
    /// parent keeps its page and PTE), or sharing read-only (clearing PageAnonExclusive).
    mutating func applyForkAnon(p: Int, c: Int, r: Int, k: Int, decision: ForkDecision, hugetlb: Bool) {
        let psi = s.slotIndex(p, r, k), csi = s.slotIndex(c, r, k)
        let ps = s.slots[psi]
        let f = ps.frame
        if decision.action == .copyForChild {
            s.cover(hugetlb ? .hugetlbForkCopy : .forkEagerCopy, f)
            let n = copyFolioForChild(f, hugetlb: hugetlb)
            s.mapPTE(csi, n, writable: ps.vm.contains(.write), dirty: true)
            s.counters.eagerForkCopies += 1
            s.event(.eagerCopy, p: c, r: r, i: k, from: f, to: n)
        } else {
            // Risky: the child maps a page that a pin (or a writable GET reference) holds.
            if let ref = s.ownPin(f, of: p) { s.stamp(f, decision.rule, .share, ref: ref, pmd: false, harm: .both) }
            if P.tracksExclusive && s.frames[Int(f)].exclusive {
                s.cover(.forkClearExclusive, f)
                s.frames[Int(f)].exclusive = false
            } else {
                s.cover(.forkShare, f)
            }
            s.slots[psi].writable = false
            s.mapPTE(csi, f, writable: false, dirty: ps.dirty)
            s.event(.share, p: c, r: r, i: k, from: f)
        }
    }

    /// The child's own copy of a page at fork (a small page, or a whole hugetlb page).
    mutating func copyFolioForChild(_ f: Int32, hugetlb: Bool) -> Int32 {
        if hugetlb {
            let h = s.head(f)
            let order = Int(s.frames[Int(h)].order)
            let n = s.allocate(kind: .anon, order: order, hugetlb: true)
            s.copyData(from: h, to: n, pages: 1 << order)
            s.frames[Int(n)].exclusive = P.tracksExclusive
            return n + (f - h)
        }
        let n = s.allocate(kind: .anon)
        s.copyData(from: f, to: n, pages: 1)
        s.frames[Int(n)].exclusive = P.tracksExclusive
        s.addToLRU(n)
        return n
    }

    mutating func exit(_ p: Int) -> OpStatus {
        guard s.procs[p].alive else { return .skipped(.noProcess) }
        tearDownAddressSpace(p)
        // Its pipe buffers outlive it; a later process of the same name is somebody else.
        for k in 0..<s.pipeOwner.count where s.pipeOwner[k] == Int32(p) { s.pipeOwner[k] = -2 }
        // Pins are held through the process's files (io_uring, RDMA): exit releases them.
        var hadPins = false
        for g in 0..<s.pins.count where s.pins[g].active && s.pins[g].owner == Int32(p) {
            releasePin(g)
            hadPins = true
        }
        if hadPins { s.coverage.hit(.exitWithPins, 0) }
        s.procs[p].alive = false
        return .executed
    }

    mutating func tearDownAddressSpace(_ p: Int) {
        for r in 0..<s.regionCap {
            let ri = s.regionIndex(p, r)
            let reg = s.regions[ri]
            guard reg.exists else { continue }
            let base = s.slotIndex(p, r, 0)
            for k in 0..<Int(reg.pages) {
                s.zap(base + k)
                s.slots[base + k] = Slot()
            }
            s.regions[ri].exists = false
            if reg.object >= 0 {
                s.objects[Int(reg.object)].mappers -= 1
                s.releaseObjectIfUnused(reg.object)
            }
        }
    }
}
