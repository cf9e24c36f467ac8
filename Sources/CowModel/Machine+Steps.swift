/// The kernel paths that have interleaving points, as atomic steps (see `Machine+Race`).
/// Run alone, each gives the same result as its sequential op; `RaceTests` checks that.
extension Machine {
    // MARK: - pokemem: the __get_user_pages retry loop with FOLL_FORCE

    /// One iteration of `__get_user_pages` for `/proc/P/mem`: follow the entry; if it
    /// cannot be followed for this write, fault and leave the retry to the next step.
    mutating func pokememStep(_ lane: inout RaceLane) {
        guard case let .pokemem(p, r, i, v) = lane.op else { return }
        let si: Int, reg: Region
        switch locate(p, r, i) {
        case let .ok(a, b): (si, reg) = (a, b)
        case let .skip(why):
            finish(&lane, .skipped(why), .skipped)
            return
        }
        if lane.phase == .start {
            // check_vma_flags, as the sequential pokemem.
            if !s.slots[si].vm.contains(.write) && reg.backing == .shared {
                s.coverage.hit(.pokeRefused, 0)
                finish(&lane, .failed(.gupFailed), .skipped)
                return
            }
            if !s.slots[si].vm.contains(.write) && reg.huge == .hugetlb && P.hugetlbRefusesForceWrite {
                s.coverage.hit(.hugetlbPokeRefused, 0)
                finish(&lane, .failed(.refusedByKernel), .skipped)
                return
            }
            lane.holdsRead = true
            lane.phase = .follow
        }
        let sl = s.slots[si]
        if canFollowForce(sl, reg, lane) {
            let f = sl.frame
            if lane.faults == 0 {
                s.cover(.pokeInPlace, f)
            } else if lane.faults > 1 || s.frames[Int(f)].kind != .anon {
                // The retry followed something other than what its fault left.
                s.cover(.raceFollowRetry, f)
            }
            if s.frames[Int(f)].kind != .anon || s.folio(f).ksm || s.foreignHolder(f, besides: p) != nil {
                // Risky: the FOLL_FORCE write lands on a page that is not its private copy.
                let rule: RuleID = switch P.forceWrite {
                case .dropWriteAfterFault: .forceDropWrite
                case .follCowDirty: .forceFollCowDirty
                case .exclusiveOnly: .forceExclusive
                }
                s.stamp(f, rule, .follow, ref: .force, pmd: sl.pmd, harm: .isolation)
            }
            s.frames[Int(f)].content = v
            s.frames[Int(f)].store = s.currentStore
            s.slots[si].dirty = true
            finish(&lane, .executed, .pokeFollow(frame: f, write: lane.follWrite))
            return
        }
        lane.faults += 1
        if lane.faults > 8 {
            // The kernel would keep retrying; a schedule cannot starve it, so this is a bug guard.
            finish(&lane, .failed(.gupFailed), .pokeGaveUp)
            return
        }
        if lane.faults == 1 { s.cover(.pokeFault, sl.state == .present ? sl.frame : 0) }
        // The fault is a write fault when FOLL_WRITE is set now, even if it is dropped after it.
        let writeFaulted = lane.follWrite
        var dropped = false
        if lane.follWrite {
            writeFault(si, p: p, r: r, i: i, reg: reg, unshare: false)
            // VM_FAULT_WRITE: the fault mapped a page this process may write (dirty).
            if s.slots[si].state == .present { s.slots[si].dirty = true }
            if !s.slots[si].vm.contains(.write) {
                switch P.forceWrite {
                case .dropWriteAfterFault:
                    // ≤ 4.8.2 faultin_page: `*flags &= ~FOLL_WRITE` — the retry follows anything.
                    lane.follWrite = false
                    dropped = true
                case .follCowDirty:
                    lane.follCow = true
                case .exclusiveOnly:
                    break
                }
            }
        } else {
            // FOLL_WRITE was dropped: the fault is a read fault.
            if s.slots[si].state == .swap { swapIn(si, p: p, r: r, i: i, write: false) }
            if s.slots[si].state != .present { readFault(si, p: p, r: r, i: i, reg: reg) }
        }
        lane.faultState = s.slots[si].state
        lane.faultFrame = s.slots[si].frame
        lane.note = .pokeFault(write: writeFaulted, dropped: dropped, follCow: lane.follCow)
    }

    /// `follow_page_pte` for a FOLL_FORCE write, by era (`can_follow_write_pte`).
    func canFollowForce(_ sl: Slot, _ reg: Region, _ lane: RaceLane) -> Bool {
        guard sl.state == .present else { return false }
        // Still what our own fault left: the fault's VM_FAULT_WRITE lets the retry take it.
        if lane.faults > 0 && sl.state == lane.faultState && sl.frame == lane.faultFrame { return true }
        if !lane.follWrite || sl.writable { return true }
        switch P.forceWrite {
        case .dropWriteAfterFault:
            return false
        case .follCowDirty:
            return lane.follCow && sl.dirty
        case .exclusiveOnly:
            let f = sl.frame
            return reg.backing != .shared && s.frames[Int(f)].kind == .anon && s.frames[Int(f)].exclusive && !s.folio(f).ksm
        }
    }

    mutating func finish(_ lane: inout RaceLane, _ status: OpStatus, _ note: StepNote) {
        lane.status = status
        lane.phase = .done
        lane.note = note
        lane.holdsRead = false
        lane.holdsWrite = false
        lane.user = false
    }

    // MARK: - GUP-fast

    /// One step of `pin … fast` (`internal_get_user_pages_fast` / `gup_pte_range`).
    mutating func gupFastStep(_ lane: inout RaceLane, _ seq: [UInt32]) {
        guard case let .pin(p, r, i, g, flags) = lane.op else { return }
        let write = flags.contains(.rw)
        switch lane.phase {
        case .start:
            guard !s.pins[g].active else { return finish(&lane, .skipped(.pinExists), .skipped) }
            let si: Int, reg: Region
            switch locate(p, r, i) {
            case let .ok(a, b): (si, reg) = (a, b)
            case let .skip(why): return finish(&lane, .skipped(why), .skipped)
            }
            guard !write || s.slots[si].vm.contains(.write) else {
                s.coverage.hit(.gupFail, 0)
                return finish(&lane, .failed(.gupFailed), .skipped)
            }
            lane.follPin = P.hasFollPin && !flags.contains(.get)
            // 5.9: internal_get_user_pages_fast sets mm->has_pinned before the walk.
            if lane.follPin { s.procs[p].hasPinned = true }
            lane.user = true
            if lane.follPin && P.hasWriteProtectSeq && seq[p] & 1 == 1 {
                s.coverage.hit(.raceFastBackoff, 0)
                lane.phase = .slow
                lane.note = .fastSeqOdd
                return
            }
            lane.seqSnapshot = seq[p]
            let sl = s.slots[si]
            if fastEligible(sl, reg, write: write, follPin: lane.follPin, longterm: flags.contains(.longterm)) {
                lane.snapFrame = sl.frame
                lane.snapWritable = sl.writable
                lane.snapPmd = sl.pmd
                lane.phase = .fastGrab
                lane.note = .fastRead(frame: sl.frame, writable: sl.writable)
            } else {
                lane.phase = .slow
                lane.note = .fastNotEligible
            }
        case .fastGrab:
            // try_grab_folio, then `pte_val(pte) != pte_val(*ptep)` → drop and bail.
            var same = false
            if case let .ok(si, _) = locate(p, r, i) {
                let sl = s.slots[si]
                same = sl.state == .present && sl.frame == lane.snapFrame && sl.writable == lane.snapWritable && sl.pmd == lane.snapPmd
            }
            if same {
                grab(lane.snapFrame, follPin: lane.follPin)
                lane.phase = .fastCommit
                lane.note = .fastGrabbed(frame: lane.snapFrame)
            } else {
                s.coverage.hit(.raceFastBackoff, 1)
                lane.phase = .slow
                lane.note = .fastChanged
            }
        case .fastCommit:
            if lane.follPin && P.hasWriteProtectSeq && seq[p] != lane.seqSnapshot {
                // read_seqcount_retry: fork ran meanwhile → unpin and take the slow path.
                ungrab(lane.snapFrame, follPin: lane.follPin)
                s.coverage.hit(.raceFastBackoff, 2)
                lane.phase = .slow
                lane.note = .fastSeqChanged
                return
            }
            if s.pins[g].active {
                ungrab(lane.snapFrame, follPin: lane.follPin)
                return finish(&lane, .skipped(.pinExists), .skipped)
            }
            let f = lane.snapFrame
            if !flags.contains(.get) && s.frames[Int(f)].kind == .anon && (s.frames[Int(f)].mapcount > 1 || s.mappedByOtherMM(f, besides: p)) {
                // GUP-fast pinned a page fork shared after GUP-fast read the entry.
                s.stamp(f, .gupFastNoSeqcount, .pin, ref: .pin, pmd: false, harm: .both)
            } else if !flags.contains(.get) && !write && s.frames[Int(f)].kind != .shmem,
                      case let .ok(si, _) = locate(p, r, i), !s.slots[si].writable || s.slots[si].frame != f {
                // As in the slow path: a R/O pin on a read-only entry that was not unshared
                // (or that a fault meanwhile copied away from, counting the fast grab).
                s.stamp(f, .gupNoUnshare, .pin, ref: .pin, pmd: s.slots[si].pmd, harm: .coherence)
            }
            s.pins[g] = PinState(active: true, frame: f, owner: Int32(p), flags: flags, follPin: lane.follPin)
            s.cover(lane.follPin ? .gupGrabPin : .gupGrabGet, f)
            finish(&lane, .executed, .fastCommitted(frame: f))
        case .slow:
            lane.user = false
            let st: OpStatus
            do { st = try pin(p, r, i, g, flags) } catch { st = .skipped(error) }
            finish(&lane, st, .slowPath)
        default:
            finish(&lane, lane.status, .skipped)
        }
    }

    /// Whether GUP-fast may take this entry without the slow path. When it may, the
    /// slow path would have taken the same page without faulting.
    func fastEligible(_ sl: Slot, _ reg: Region, write: Bool, follPin: Bool, longterm: Bool) -> Bool {
        guard sl.state == .present else { return false }
        let f = sl.frame
        let kind = s.frames[Int(f)].kind
        // pte_special: the zero page is left to the slow path.
        if kind == .zero || kind == .free { return false }
        if write && !sl.writable { return false }
        let cow = reg.backing != .shared
        // 5.8: GUP-fast adds FOLL_WRITE internally, so only writable entries are taken.
        if P.gupBreaksCow && cow && !sl.writable { return false }
        if follPin && !write && cow && !sl.writable && kind != .shmem
            && P.gupMustUnshare(s, frame: f, anon: kind == .anon, longterm: longterm) {
            return false
        }
        return true
    }

    // MARK: - fork

    /// One step of fork (`dup_mmap` → `copy_page_range`).
    mutating func forkStep(_ lane: inout RaceLane, _ seq: inout [UInt32]) {
        guard case let .fork(p, c) = lane.op else { return }
        switch lane.phase {
        case .start:
            guard s.procs[p].alive else { return finish(&lane, .skipped(.noProcess), .skipped) }
            guard !s.procs[c].alive else { return finish(&lane, .skipped(.processExists), .skipped) }
            s.procs[c] = ProcState(alive: true, hasPinned: false)
            lane.holdsWrite = true
            // raw_write_seqcount_begin(&src_mm->write_protect_seq)
            seq[p] &+= 1
            lane.note = .forkBegin
            forkAdvance(&lane, &seq, p: p, c: c)
        case .forkApply:
            let r = lane.cursorR, k = lane.pendingK
            let f = s.slots[s.slotIndex(p, r, k)].frame
            if !lane.pendingCopy, let ref = s.ownPin(f, of: p) {
                // A pin landed between fork's check and its write of the child's entry.
                s.stamp(f, .gupFastNoSeqcount, .pin, ref: ref, pmd: false, harm: .both)
            }
            applyForkAnon(p: p, c: c, r: r, k: k, decision: ForkDecision(lane.pendingCopy ? .copyForChild : .share, lane.pendingRule), hugetlb: false)
            lane.note = .forkApply(r: r, k: k, frame: f, copy: lane.pendingCopy)
            lane.phase = .forkCopy
            forkAdvance(&lane, &seq, p: p, c: c)
        default:
            forkAdvance(&lane, &seq, p: p, c: c)
        }
    }

    /// Copies entries from the cursor on, as the sequential fork does, and stops after
    /// deciding the next present small anonymous page; finishes fork after the last.
    mutating func forkAdvance(_ lane: inout RaceLane, _ seq: inout [UInt32], p: Int, c: Int) {
        while lane.cursorR < s.regionCap {
            let r = lane.cursorR
            let reg = s.regions[s.regionIndex(p, r)]
            if !reg.exists {
                lane.cursorR += 1
                lane.cursorK = 0
                continue
            }
            let pb = s.slotIndex(p, r, 0), cb = s.slotIndex(c, r, 0)
            while lane.cursorK < Int(reg.pages) {
                let k = lane.cursorK
                lane.cursorK += 1
                let ps = s.slots[pb + k]
                if ps.state == .present && ps.pmd && k % hugeNr != 0 && !ps.vm.contains(.dontfork) && !ps.vm.contains(.wipeonfork) {
                    lane.regionAny = true
                    continue
                }
                s.slots[cb + k] = Slot()
                guard ps.inVMA else { continue }
                if ps.vm.contains(.dontfork) {
                    s.coverage.hit(.forkDontfork, 0)
                    continue
                }
                lane.regionAny = true
                s.slots[cb + k].vm = ps.vm
                if ps.vm.contains(.wipeonfork) {
                    s.coverage.hit(.forkWipe, 0)
                    continue
                }
                if ps.state == .present && !ps.pmd && reg.huge == .none {
                    let f = ps.frame
                    let fr = s.frames[Int(f)]
                    if fr.kind == .anon && fr.head == f && fr.order == 0 && !fr.ksm {
                        // copy_present_pte: page_needs_cow_for_dma() is read here …
                        let decision = P.forkAnon(s, frame: f, parentHasPinned: s.procs[p].hasPinned, hugetlb: false)
                        let copy = decision.action == .copyForChild
                        lane.pendingK = k
                        lane.pendingCopy = copy
                        lane.pendingRule = decision.rule
                        lane.phase = .forkApply
                        lane.note = .forkDecide(r: r, k: k, frame: f, copy: copy)
                        // … and the entry is written in the next step: that is the window.
                        return
                    }
                }
                forkEntry(p: p, c: c, r: r, k: k, reg: reg, parentPinned: s.procs[p].hasPinned)
            }
            if lane.regionAny {
                s.regions[s.regionIndex(c, r)] = reg
                if reg.object >= 0 { s.objects[Int(reg.object)].mappers += 1 }
            } else {
                for k in 0..<Int(reg.pages) { s.slots[cb + k] = Slot() }
            }
            lane.regionAny = false
            lane.cursorR += 1
            lane.cursorK = 0
        }
        // raw_write_seqcount_end; mmap_write_unlock.
        seq[p] &+= 1
        if case .forkBegin = lane.note { lane.note = .forkDone }
        lane.status = .executed
        lane.phase = .done
        lane.holdsWrite = false
    }
}
