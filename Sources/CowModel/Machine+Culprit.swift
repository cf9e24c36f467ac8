/// Culprit stamps: the machine's record of which decision made a folio reachable by a
/// party that should not reach it (see `Culprit`). A decision stamps only when it is
/// *risky* — it leaves the folio held by someone besides the process it was taken for,
/// in a way a later write or device write can cross. A folio keeps the first stamp of
/// each harm (`Causes`: isolation and coherence), so the root cause comes before its
/// consequences (a fork that shared a pinned page before the copy that left the pin
/// behind) and a stamp of one kind never hides the cause of the other. Nothing here
/// allocates.
extension MachineState {
    /// The page kind of frame `f` as a decision sees it (`pmd`: mapped by a PMD there).
    @inline(__always) public func pageKind(_ f: Int32, pmd: Bool) -> PageKind {
        let fr = frames[Int(f)]
        let h = frames[Int(fr.head)]
        switch fr.kind {
        case .zero: return .zero
        case .pagecache: return .pageCache
        case .shmem: return .shmem
        case .free, .anon: break
        }
        if h.hugetlb { return .hugetlb }
        if h.ksm { return .ksm }
        if h.order > 0 { return pmd ? .pmdTHP : .pteTHP }
        if h.swapcache { return .swapCache }
        return .smallAnon
    }

    /// Stamps the folio of `f` with a decision, for each harm it can cause whose cause
    /// the folio does not carry yet (`Causes`).
    @inline(__always) mutating func stamp(_ f: Int32, _ rule: RuleID, _ action: DecisionAction, ref: RefKind, pmd: Bool,
                                          harm: Harm) {
        let h = Int(frames[Int(f)].head)
        let c = Culprit(rule: rule, action: action, page: pageKind(f, pmd: pmd), ref: ref, op: currentOp)
        // A FOLL_GET reference or a pipe buffer promises no coherence (spec §4.1): a
        // decision about one can only cause isolation findings.
        let harm = ref == .get || ref == .pipe ? harm.subtracting(.coherence) : harm
        if harm.contains(.isolation) && frames[h].culprit.leak.isNone { frames[h].culprit.leak = c }
        if harm.contains(.coherence) && frames[h].culprit.stale.isNone { frames[h].culprit.stale = c }
    }

    /// Copies `pages` pages of data (value and store) from one folio to a new one, which
    /// also inherits the source's stamp.
    mutating func copyData(from old: Int32, to n: Int32, pages: Int) {
        for k in 0..<pages {
            frames[Int(n) + k].content = frames[Int(old) + k].content
            frames[Int(n) + k].store = frames[Int(old) + k].store
        }
        inheritStamp(from: old, to: n)
    }

    /// Copies a stamp from one folio to a copy of its data: the copy carries the cause
    /// of whatever wrong store it holds.
    @inline(__always) mutating func inheritStamp(from f: Int32, to n: Int32) {
        let c = frames[Int(frames[Int(f)].head)].culprit
        let h = Int(frames[Int(n)].head)
        if frames[h].culprit.leak.isNone { frames[h].culprit.leak = c.leak }
        if frames[h].culprit.stale.isNone { frames[h].culprit.stale = c.stale }
    }

    /// Records an observation of frame `f` (read, readpin, readpipe).
    @inline(__always) mutating func observe(_ f: Int32, pmd: Bool = false, ref: RefKind) {
        obsStore = frames[Int(f)].store
        obsCulprit = frames[Int(frames[Int(f)].head)].culprit
        obsPage = pageKind(f, pmd: pmd)
        obsRef = ref
    }

    /// A holder of the folio of `f` other than process `p`'s own mapping and its own
    /// FOLL_PIN pins: another pin or GET reference, a pipe buffer spliced by another
    /// process, or another mapping. Nil when only `p` holds it.
    func foreignHolder(_ f: Int32, besides p: Int) -> RefKind? {
        let h = frames[Int(f)].head
        for g in 0..<pins.count where pins[g].active && frames[Int(pins[g].frame)].head == h {
            if pins[g].owner != Int32(p) { return pins[g].refKind }
        }
        for k in 0..<pipeBufs.count where pipeBufs[k] >= 0 && frames[Int(pipeBufs[k])].head == h {
            if pipeOwner[k] != Int32(p) { return .pipe }
        }
        if frames[Int(h)].order == 0 && frames[Int(f)].mapcount > 1 { return .cpu }
        return nil
    }

    /// A reference process `p` itself holds on the folio of `f` through a pin (FOLL_PIN
    /// first), or nil.
    func ownPin(_ f: Int32, of p: Int) -> RefKind? {
        let h = frames[Int(f)].head
        var found: RefKind?
        for g in 0..<pins.count where pins[g].active && pins[g].owner == Int32(p) && frames[Int(pins[g].frame)].head == h {
            if pins[g].refKind == .pin { return .pin }
            // A GET reference promises no coherence; only a device write through it
            // can cross to the folio's other holders.
            if pins[g].flags.contains(.rw) { found = .get }
        }
        return found
    }

    /// Any pin (FOLL_PIN first) or GET reference on the folio of `f`, whoever holds it.
    func anyPin(_ f: Int32) -> RefKind? {
        let h = frames[Int(f)].head
        var found: RefKind?
        for g in 0..<pins.count where pins[g].active && frames[Int(pins[g].frame)].head == h {
            if pins[g].refKind == .pin { return .pin }
            if pins[g].flags.contains(.rw) { found = .get }
        }
        return found
    }
}

extension PinState {
    /// The reference the program asked for: FOLL_PIN unless `get` — in every era, so a
    /// root cause has one name across eras (before 5.6 the kernel served it with FOLL_GET).
    public var refKind: RefKind { flags.contains(.get) ? .get : .pin }
}
