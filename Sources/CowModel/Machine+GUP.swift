/// get_user_pages and its users: pins (FOLL_PIN / FOLL_GET), vmsplice, /proc/pid/mem.
extension Machine {
    /// `__get_user_pages` for one page, sequentially: fault in, break COW when the era
    /// or FOLL_WRITE asks for it, unshare for R/O pins where the era does, then grab.
    /// Returns the page referenced (the caller takes the reference).
    /// `pinOp`: a `pin` without `get` (a R/O one is judged for coherence in every era).
    mutating func gupFollow(_ si: Int, p: Int, r: Int, i: Int, reg: Region, write: Bool, follPin: Bool, longterm: Bool,
                            pinOp: Bool = false) -> Int32 {
        var wantWrite = write
        let cow = reg.backing != .shared
        if P.gupBreaksCow && cow && !wantWrite {
            // 5.8: every GET/PIN on a COW mapping write-faults first.
            wantWrite = true
            s.coverage.hit(.gupForcedCow, 0)
            s.event(.gupForcedCow, p: p, r: r, i: i)
        }
        if s.slots[si].state != .present {
            s.coverage.hit(.gupFault, 0)
            if wantWrite {
                writeFault(si, p: p, r: r, i: i, reg: reg, unshare: false)
            } else {
                if s.slots[si].state == .swap { swapIn(si, p: p, r: r, i: i, write: false) }
                if s.slots[si].state != .present { readFault(si, p: p, r: r, i: i, reg: reg) }
            }
        }
        if wantWrite && !s.slots[si].writable {
            if s.slots[si].vm.contains(.write) || !write {
                // A write fault; on a read-only VMA (5.8 forced break) it keeps the PTE
                // read-only and the FOLL_COW retry follows the private copy.
                writeFault(si, p: p, r: r, i: i, reg: reg, unshare: false)
            }
        } else if (follPin || pinOp) && !write && cow && !s.slots[si].writable {
            let f = s.slots[si].frame
            let kind = s.frames[Int(f)].kind
            let anon = kind == .anon
            if follPin && kind != .shmem && P.gupMustUnshare(s, frame: f, anon: anon, longterm: longterm) {
                s.cover(.gupUnshare, f)
                writeFault(si, p: p, r: r, i: i, reg: reg, unshare: true)
            } else if pinOp && kind != .shmem {
                // Risky: a R/O pin on a read-only mapped page that was not unshared: the
                // owner's next write fault decides, and a copy leaves the pin behind (on
                // a shared page in every era; on any page in the page_count eras).
                s.stamp(f, .gupNoUnshare, .pin, ref: .pin, pmd: s.slots[si].pmd, harm: .coherence)
            }
        }
        return s.slots[si].frame
    }

    mutating func pin(_ p: Int, _ r: Int, _ i: Int, _ g: Int, _ flags: PinFlags) throws(SkipReason) -> OpStatus {
        guard !s.pins[g].active else { return .skipped(.pinExists) }
        let (si, reg) = try place(p, r, i)
        let write = flags.contains(.rw)
        // check_vma_flags: FOLL_WRITE without FOLL_FORCE needs VM_WRITE.
        guard !write || s.slots[si].vm.contains(.write) else {
            s.coverage.hit(.gupFail, 0)
            return .failed(.gupFailed)
        }
        let follPin = P.hasFollPin && !flags.contains(.get)
        let f = gupFollow(si, p: p, r: r, i: i, reg: reg, write: write, follPin: follPin, longterm: flags.contains(.longterm),
                          pinOp: !flags.contains(.get))
        grab(f, follPin: follPin)
        if follPin { s.procs[p].hasPinned = true }
        s.pins[g] = PinState(active: true, frame: f, owner: Int32(p), flags: flags, follPin: follPin)
        s.cover(follPin ? .gupGrabPin : .gupGrabGet, f)
        return .executed
    }

    /// `try_grab_folio`: FOLL_GET +1; FOLL_PIN +1024 on a small folio, +1 and
    /// `_pincount` +1 on a large one. The zero page takes nothing (6.5+; the model
    /// does not refcount it in any era).
    mutating func grab(_ f: Int32, follPin: Bool) {
        let h = Int(s.head(f))
        guard s.frames[h].kind != .zero else { return }
        if follPin {
            if s.frames[h].order > 0 {
                s.frames[h].refcount += 1
                s.frames[h].pincount += 1
            } else {
                s.frames[h].refcount += MachineState.pinBias
            }
        } else {
            s.frames[h].refcount += 1
        }
    }

    mutating func ungrab(_ f: Int32, follPin: Bool) {
        let h = Int(s.head(f))
        guard s.frames[h].kind != .zero else { return }
        if follPin && s.frames[h].order > 0 { s.frames[h].pincount -= 1 }
        s.put(f, follPin && s.frames[h].order == 0 ? MachineState.pinBias : 1)
    }

    mutating func unpin(_ g: Int) -> OpStatus {
        guard s.pins[g].active else { return .skipped(.noPin) }
        releasePin(g)
        return .executed
    }

    mutating func releasePin(_ g: Int) {
        let pin = s.pins[g]
        s.pins[g].active = false
        let h = s.head(pin.frame)
        let before = s.frames[Int(h)].refcount
        ungrab(pin.frame, follPin: pin.follPin)
        s.coverage.hit(before <= (pin.follPin && s.frames[Int(h)].order == 0 ? MachineState.pinBias : 1) ? .unpinFree : .unpinKeep, 0)
    }

    mutating func vmsplice(_ p: Int, _ r: Int, _ i: Int, _ pipe: Int) throws(SkipReason) -> OpStatus {
        guard s.pipeCount[pipe] < Limits.pipeDepth else { return .skipped(.pipeFull) }
        let (si, reg) = try place(p, r, i)
        // iov_iter_get_pages: a FOLL_GET read reference, even today.
        let f = gupFollow(si, p: p, r: r, i: i, reg: reg, write: false, follPin: false, longterm: false)
        grab(f, follPin: false)
        let slot = (Int(s.pipeHead[pipe]) + Int(s.pipeCount[pipe])) % Limits.pipeDepth
        s.pipeBufs[pipe * Limits.pipeDepth + slot] = f
        s.pipeOwner[pipe * Limits.pipeDepth + slot] = Int32(p)
        s.pipeCount[pipe] += 1
        s.cover(.gupGrabGet, f)
        return .executed
    }

    mutating func readpipe(_ pipe: Int) -> (OpStatus, Int16) {
        guard s.pipeCount[pipe] > 0 else { return (.skipped(.pipeEmpty), -1) }
        let k = pipe * Limits.pipeDepth + Int(s.pipeHead[pipe])
        let f = s.pipeBufs[k]
        s.pipeBufs[k] = -1
        s.pipeHead[pipe] = (s.pipeHead[pipe] + 1) % Int32(Limits.pipeDepth)
        s.pipeCount[pipe] -= 1
        let v = Int16(s.frames[Int(f)].content)
        s.observe(f, ref: .pipe)
        s.cover(s.frames[Int(f)].mapcount + s.folio(f).entireMapcount == 0 ? .pipeReadStale : .pipeRead, f)
        ungrab(f, follPin: false)
        return (.executed, v)
    }

    /// A write through /proc/P/mem: FOLL_FORCE|FOLL_WRITE with FOLL_GET, then put.
    mutating func pokemem(_ p: Int, _ r: Int, _ i: Int, _ v: UInt8) throws(SkipReason) -> OpStatus {
        let (si, reg) = try place(p, r, i)
        let vmWrite = s.slots[si].vm.contains(.write)
        // check_vma_flags: FOLL_FORCE may override VM_WRITE only on COW mappings.
        if !vmWrite && reg.backing == .shared {
            s.coverage.hit(.pokeRefused, 0)
            return .failed(.gupFailed)
        }
        // 6.2 – 6.13 (1d8d14641fd9): hugetlb refuses FOLL_FORCE|FOLL_WRITE where FOLL_FORCE
        // would override a missing VM_WRITE; a write to a writable mapping is a plain write.
        if !vmWrite && reg.huge == .hugetlb && P.hugetlbRefusesForceWrite {
            s.coverage.hit(.hugetlbPokeRefused, 0)
            return .failed(.refusedByKernel)
        }
        let sl = s.slots[si]
        var inPlace = sl.state == .present && sl.writable
        if !inPlace, P.forceWrite == .exclusiveOnly, sl.state == .present, reg.backing != .shared {
            // 6.0+: can_follow_write_pte for FOLL_FORCE: an exclusive anonymous page.
            let f = sl.frame
            inPlace = s.frames[Int(f)].kind == .anon && s.frames[Int(f)].exclusive && !s.folio(f).ksm
        }
        if inPlace {
            s.cover(.pokeInPlace, sl.frame)
            // A writable pte is a CPU write's business; following a R/O one is a decision.
            if !sl.writable, let ref = s.foreignHolder(sl.frame, besides: p) {
                s.stamp(sl.frame, .forceExclusive, .follow, ref: ref == .cpu ? .force : ref, pmd: sl.pmd, harm: .isolation)
            }
        } else {
            s.cover(.pokeFault, sl.state == .present ? sl.frame : 0)
            writeFault(si, p: p, r: r, i: i, reg: reg, unshare: false)
        }
        let f = s.slots[si].frame
        s.frames[Int(f)].content = v
        s.frames[Int(f)].store = s.currentStore
        s.slots[si].dirty = true
        return .executed
    }
}
