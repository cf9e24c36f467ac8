/// Races: two or more ops whose kernel paths interleave, step by step (issue 7).
///
/// `race L0 | L1 … schedule=…` runs its lanes as sequences of atomic steps. Each schedule
/// entry names the lane that takes its next step; when the schedule is used up, the lanes
/// that are left run to completion in lane order. A lane whose step would need a lock
/// another lane holds is *blocked*: its schedule entry is spent and nothing happens.
///
/// Which ops have interleaving points (everything else is one atomic step):
/// * `pokemem` — the `__get_user_pages` retry loop with FOLL_FORCE|FOLL_WRITE: each step
///   is one *follow* and, if that fails, one *fault*. Holds `mmap_lock(P)` for read from
///   its first step to its last. The retry after a fault is where Dirty COW raced
///   (spec §2.2, B1).
/// * `pin … fast` — GUP-fast: read the entry (and `write_protect_seq`); take the
///   reference and re-check the entry; re-check `write_protect_seq` (5.11+, 57efa1fe5957)
///   and commit. Any back-off goes to the slow path (a plain `pin`, one step, which
///   needs `mmap_lock` and so waits for fork). Takes no lock (spec §1.4, §2.6, B9).
/// * `fork` — holds `mmap_lock(P)` and the child's for write throughout and makes
///   `write_protect_seq` odd. One step per present small anonymous page: the step that
///   *decides* (copy_present_pte's `page_maybe_dma_pinned` test) ends before the step
///   that *applies* (write-protect and share, or copy); between the two the page-table
///   lock is held, so only GUP-fast can run. Other entries are copied in whichever
///   step reaches them.
///
/// Lock rules: `munmap`, `mmap`, `mprotect`, `mremap`, `exit` and `madvise` that changes
/// VMA flags want `mmap_lock(P)` for write; faults, slow GUP, `vmsplice`,
/// `madvise dontneed|pageout|collapse`, `swapout`, `migrate`, splits want it for read;
/// `ksm` wants every mm for read; `exit` also waits for GUP-fast in flight on its mm.
/// Lanes that observe (`read`, `readpin`, `readpipe`) are not allowed: such a race is
/// skipped (`notApplicable`); observe after the race instead.
extension Machine {
    mutating func race(_ ops: [Op], _ schedule: [UInt8]) -> OpStatus {
        for op in ops where op.kind.observes || op.kind == .race {
            for _ in ops { s.laneStatuses.append(.skipped(.notApplicable)) }
            return .skipped(.notApplicable)
        }
        var lanes = ops.map { RaceLane($0) }
        var seq = [UInt32](repeating: 0, count: s.procCap)
        var pos = 0
        var guardSteps = 0
        while guardSteps < 100_000 {
            guardSteps += 1
            var l: Int
            if pos < schedule.count {
                l = Int(schedule[pos])
                pos += 1
                guard l < lanes.count, lanes[l].phase != .done else { continue }
                if let holder = blocker(lanes, l) {
                    s.coverage.hit(.raceStep, 1)
                    if s.tracing { noteBlocked(lanes, l, holder) }
                    continue
                }
            } else {
                // The schedule is spent: the rest in lane order, skipping blocked lanes
                // (a deadlock, which the lock rules should exclude, runs them anyway).
                var pick = -1
                for k in lanes.indices where lanes[k].phase != .done && blocker(lanes, k) == nil { pick = k; break }
                if pick < 0 { for k in lanes.indices where lanes[k].phase != .done { pick = k; break } }
                if pick < 0 { break }
                l = pick
            }
            let before = s.events.count
            s.currentLane = l
            s.currentStore = StoreID.of(op: Int(s.currentOp), lane: l)
            raceStep(&lanes, l, &seq)
            s.currentLane = -1
            s.coverage.hit(.raceStep, 0)
            if s.tracing { noteStep(lanes[l], l, eventsFrom: before) }
        }
        var any = false
        for k in lanes.indices {
            s.laneStatuses.append(lanes[k].status)
            if lanes[k].status.executed { any = true }
        }
        return any ? .executed : lanes[0].status
    }

    /// One step of lane `l`.
    mutating func raceStep(_ lanes: inout [RaceLane], _ l: Int, _ seq: inout [UInt32]) {
        // A zap while another lane is inside a multi-step path: the interesting case.
        if case let .madvise(_, _, advice, _) = lanes[l].op, advice == .dontneed || advice == .pageout {
            for k in lanes.indices where k != l && lanes[k].phase != .start && lanes[k].phase != .done {
                s.coverage.hit(.raceZap, UInt8(lanes[k].kind.rawValue))
            }
        }
        switch lanes[l].kind {
        case .atomic:
            let (st, _) = apply(lanes[l].op, index: Int(s.currentOp))
            lanes[l].status = st
            lanes[l].phase = .done
            lanes[l].note = .atomic
        case .pokemem:
            pokememStep(&lanes[l])
        case .pinFast:
            gupFastStep(&lanes[l], seq)
        case .fork:
            forkStep(&lanes[l], &seq)
        }
    }

    // MARK: - locks

    /// The lock a lane's next step needs.
    func lockNeed(_ lane: RaceLane) -> LockNeed {
        switch lane.kind {
        case .pokemem:
            if case let .pokemem(p, _, _, _) = lane.op { return .read(p) }
            return .none
        case .fork:
            if case let .fork(p, c) = lane.op { return .fork(p, c) }
            return .none
        case .pinFast:
            guard lane.phase == .slow, case let .pin(p, _, _, _, _) = lane.op else { return .none }
            return .read(p)
        case .atomic:
            switch lane.op {
            case let .mmap(p, _, _, _, _), let .munmap(p, _, _), let .mprotect(p, _, _, _), let .mremap(p, _, _, _):
                return .write(p)
            case let .exit(p):
                return .exit(p)
            case let .madvise(p, _, advice, _):
                return advice == .dontneed || advice == .pageout || advice == .collapse ? .read(p) : .write(p)
            case let .write(p, _, _, _), let .read(p, _, _), let .pin(p, _, _, _, _), let .vmsplice(p, _, _, _),
                let .pokemem(p, _, _, _), let .migrate(p, _, _), let .swapout(p, _, _), let .splitpmd(p, _, _),
                let .splitthp(p, _, _), let .fork(p, _):
                return .read(p)
            case .ksm:
                return .all
            case .unpin, .readpin, .writepin, .readpipe, .race:
                return .none
            }
        }
    }

    /// The lane whose lock stops lane `l`'s next step, or nil if it may run.
    func blocker(_ lanes: [RaceLane], _ l: Int) -> Int? {
        let lane = lanes[l]
        // copy_present_pte holds the page-table lock between deciding and applying:
        // only the lockless GUP-fast walk gets in.
        let lockless = lane.kind == .pinFast && lane.phase != .slow
        if !lockless {
            for k in lanes.indices where k != l && lanes[k].phase == .forkApply { return k }
        }
        func holder(_ p: Int, readers: Bool, users: Bool) -> Int? {
            for k in lanes.indices where k != l {
                let o = lanes[k]
                if o.holdsWrite, o.lockedProcess == p || o.lockedChild == p { return k }
                if readers, o.holdsRead, o.lockedProcess == p { return k }
                if users, o.user, o.lockedProcess == p { return k }
            }
            return nil
        }
        switch lockNeed(lane) {
        case .none:
            return nil
        case let .read(p):
            return holder(p, readers: false, users: false)
        case let .write(p):
            return holder(p, readers: true, users: false)
        case let .exit(p):
            return holder(p, readers: true, users: true)
        case let .fork(p, c):
            if lane.holdsWrite { return nil }
            return holder(p, readers: true, users: false) ?? holder(c, readers: true, users: true)
        case .all:
            for k in lanes.indices where k != l && lanes[k].holdsWrite { return k }
            return nil
        }
    }

    // MARK: - explain

    mutating func noteBlocked(_ lanes: [RaceLane], _ l: Int, _ holder: Int) {
        let why = lanes[holder].phase == .forkApply ? "the page-table lock (fork is inside copy_present_pte)" : "mmap_lock"
        s.raceTrace.append(RaceSubstep(op: Int(s.currentOp), lane: l, process: lanes[l].op.process ?? -1,
                                       text: "blocked: lane \(holder) holds \(why)", blocked: true, events: [], pages: []))
    }

    mutating func noteStep(_ lane: RaceLane, _ l: Int, eventsFrom before: Int) {
        let ev = before < s.events.count ? Array(s.events[before...]) : []
        s.raceTrace.append(RaceSubstep(op: Int(s.currentOp), lane: l, process: lane.op.process ?? -1,
                                       text: lane.note.text(lane), blocked: false, events: ev, pages: pageViews()))
    }
}

/// A lock a race step needs.
enum LockNeed {
    case none
    case read(Int)
    case write(Int)
    /// `exit`: write, and no GUP-fast in flight on the mm.
    case exit(Int)
    /// fork: the parent's and the child's mmap_lock for write.
    case fork(Int, Int)
    /// `ksm`: every mm for read.
    case all
}

/// One lane of a race: its op and how far its kernel path has got.
struct RaceLane {
    enum Kind: UInt8 { case atomic, pokemem, pinFast, fork }
    enum Phase: UInt8 {
        case start
        /// pokemem: between iterations of the GUP retry loop.
        case follow
        /// GUP-fast: the entry was read; next, grab and re-check.
        case fastGrab
        /// GUP-fast: grabbed; next, re-check write_protect_seq and commit.
        case fastCommit
        /// GUP-fast backed off: the next step is the slow path.
        case slow
        /// fork: decided an entry, applies it next (holds the page-table lock).
        case forkApply
        /// fork: between entries.
        case forkCopy
        case done
    }

    var op: Op
    var kind: Kind
    var phase = Phase.start
    var status = OpStatus.skipped(.notApplicable)
    /// What the last step did (for explain).
    var note = StepNote.atomic

    // Locks held across steps.
    var holdsRead = false
    var holdsWrite = false
    /// GUP-fast in flight (an mm user: exit waits).
    var user = false
    var lockedProcess = -1
    var lockedChild = -1

    // pokemem: the foll_flags of the retry loop.
    var follWrite = true
    var follCow = false
    var faults = 0
    /// The entry as the last fault left it: if it is unchanged, the retry follows it.
    var faultState = EntryState.none
    var faultFrame: Int32 = -1

    // GUP-fast.
    var follPin = false
    var seqSnapshot: UInt32 = 0
    var snapFrame: Int32 = -1
    var snapWritable = false
    var snapPmd = false

    // fork: where the per-entry copy has got.
    var cursorR = 0
    var cursorK = 0
    var regionAny = false
    var pendingK = -1
    var pendingCopy = false
    var pendingRule = RuleID.none

    init(_ op: Op) {
        self.op = op
        switch op {
        case .pokemem: kind = .pokemem
        case let .pin(_, _, _, _, flags) where flags.contains(.fast): kind = .pinFast
        case .fork: kind = .fork
        default: kind = .atomic
        }
        lockedProcess = op.process ?? -1
        if case let .fork(_, c) = op { lockedChild = c }
    }
}

/// What a race step did, in words for `explain` (built only when tracing).
enum StepNote {
    case atomic
    case skipped
    case pokeFollow(frame: Int32, write: Bool)
    case pokeFault(write: Bool, dropped: Bool, follCow: Bool)
    case pokeGaveUp
    case fastSeqOdd
    case fastRead(frame: Int32, writable: Bool)
    case fastNotEligible
    case fastGrabbed(frame: Int32)
    case fastChanged
    case fastSeqChanged
    case fastCommitted(frame: Int32)
    case slowPath
    case forkBegin
    case forkDecide(r: Int, k: Int, frame: Int32, copy: Bool)
    case forkApply(r: Int, k: Int, frame: Int32, copy: Bool)
    case forkDone

    func text(_ lane: RaceLane) -> String {
        switch self {
        case .atomic: return lane.op.text + (lane.status.executed ? "" : " (not run)")
        case .skipped: return lane.op.text + " (not run)"
        case let .pokeFollow(f, w): return "follow\(w ? "" : " without FOLL_WRITE") → f\(f); write the value"
        case let .pokeFault(w, dropped, cow):
            var t = "follow found no usable entry → \(w ? "write" : "read") fault"
            if dropped { t += "; FOLL_WRITE dropped (pre-19be0eaffa3a)" }
            if cow { t += "; FOLL_COW set" }
            return t + "; retry"
        case .pokeGaveUp: return "the retry loop gave up"
        case .fastSeqOdd: return "GUP-fast: write_protect_seq is odd (fork running) → slow path"
        case let .fastRead(f, w): return "GUP-fast: read the entry f\(f) \(w ? "W" : "ro")"
        case .fastNotEligible: return "GUP-fast: entry not usable locklessly → slow path"
        case let .fastGrabbed(f): return "GUP-fast: grab f\(f); the entry is unchanged"
        case .fastChanged: return "GUP-fast: the entry changed → drop, slow path"
        case .fastSeqChanged: return "GUP-fast: write_protect_seq changed → unpin, slow path"
        case let .fastCommitted(f): return "GUP-fast: done, \(lane.follPin ? "pinned" : "referenced") f\(f)"
        case .slowPath: return "slow GUP (mmap_lock): " + lane.op.text + (lane.status.executed ? "" : " (not run)")
        case .forkBegin: return "fork: mmap_lock for write, write_protect_seq odd; copy the entries"
        case let .forkDecide(r, k, f, copy):
            return "fork: r\(r)[\(k)] f\(f) \(copy ? "maybe pinned → will copy" : "not pinned → will share") (PT lock held)"
        case let .forkApply(r, k, f, copy):
            return "fork: r\(r)[\(k)] f\(f) \(copy ? "copied for the child" : "write-protected and shared")"
                + (lane.phase == .done ? "; fork done" : "")
        case .forkDone: return "fork: done, write_protect_seq even, mmap_lock released"
        }
    }
}

/// One step of a race as `explain` shows it: which lane, what it did, the state after.
public struct RaceSubstep: Hashable, Sendable {
    /// The index of the race op in the program.
    public var op: Int
    public var lane: Int
    /// The lane's process, or -1.
    public var process: Int
    public var text: String
    /// The lane wanted to step but a lock held by another lane stopped it.
    public var blocked: Bool
    public var events: [Event]
    /// Every mapped page after the step (empty for a blocked step).
    public var pages: [PageView]
}

