/// What a physical frame (a page, or the head of a folio) is used for.
public enum FrameKind: UInt8, Hashable, Sendable {
    case free
    /// Anonymous memory of a private mapping (including COW copies of file pages).
    case anon
    /// A page of the model's file (page cache).
    case pagecache
    /// A page of a shared anonymous (shmem) object.
    case shmem
    /// The shared zero page (frame 0): no mapcount, no refcount, never written.
    case zero
}

/// One physical page. Folio-wide fields (refcount, pincount, entire mapcount, swap
/// cache, LRU batch, KSM) live on the head page, as in the kernel.
public struct Frame: Hashable, Sendable {
    public var content: UInt8 = 0
    /// The store whose value `content` is (`StoreID`): provenance, so the oracle judges
    /// which store an observation shows, never a coincidence of values.
    public var store: Int32 = StoreID.zero
    public var kind: FrameKind = .free
    /// PG_anon_exclusive (per page). Only eras from 5.19 set it.
    public var exclusive = false
    /// PTE mappings of this page.
    public var mapcount: Int32 = 0
    /// The folio head (itself for a small page).
    public var head: Int32 = 0
    public var order: UInt8 = 0
    public var refcount: Int32 = 0
    /// FOLL_PIN pins of a large folio (small folios count pins in refcount with the bias).
    public var pincount: Int32 = 0
    /// PMD mappings of the whole folio.
    public var entireMapcount: Int32 = 0
    public var swapcache = false
    public var swapSlot: Int32 = -1
    /// Held by the per-CPU LRU-add batch (one extra reference).
    public var lruPending = false
    public var ksm = false
    public var hugetlb = false
    /// The object (file or shmem) a page-cache page belongs to, and its index there.
    public var object: Int32 = -1
    public var index: Int32 = 0
    /// On a folio head: the first risky decisions taken on the folio, one per harm (`Causes`).
    public var culprit = Causes.none

    public var isLarge: Bool { order > 0 }
}

/// The state of one page-table entry.
public enum EntryState: UInt8, Hashable, Sendable {
    case none, present, swap, migration
}

/// One page slot of a region of a process: its VMA flags and its page-table entry.
public struct Slot: Hashable, Sendable {
    public var vm: VMFlags = []
    public var state: EntryState = .none
    public var writable = false
    public var dirty = false
    /// Part of a PMD mapping of a THP.
    public var pmd = false
    /// Swap entry: SWP_EXCLUSIVE. Migration entry: readable-exclusive or writable.
    public var exclusive = false
    /// The frame of a present or migration entry, or the swap slot of a swap entry.
    public var frame: Int32 = -1

    public var inVMA: Bool { vm.contains(.inVMA) }
}

/// The per-page view of the VMA flags that matter for COW.
public struct VMFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let inVMA = VMFlags(rawValue: 1 << 0)
    public static let write = VMFlags(rawValue: 1 << 1)
    public static let dontfork = VMFlags(rawValue: 1 << 2)
    public static let wipeonfork = VMFlags(rawValue: 1 << 3)
    public static let hugepage = VMFlags(rawValue: 1 << 4)
    public static let nohugepage = VMFlags(rawValue: 1 << 5)
    public static let mergeable = VMFlags(rawValue: 1 << 6)
    /// The VMA holding the slot has an anon_vma: an anonymous page was mapped in it once
    /// (anon_vma_prepare in do_anonymous_page, wp_page_copy, do_huge_pmd_anonymous_page
    /// even for a read), or the parent's was inherited at fork (anon_vma_fork). It stays
    /// after the pages go, and is per VMA: a VMA is a run of slots of a region with the
    /// same flags (`MachineState.markAnonVMA`); a split keeps it on both parts, a merge
    /// with a VMA without one gives it to the whole (is_mergeable_anon_vma). Without one
    /// fork copies no page-table entries of a private, non-hugetlb VMA (vma_needs_copy).
    public static let anonVMA = VMFlags(rawValue: 1 << 7)
    /// VM_ACCOUNT: a private writable mapping charged to the commit limit. mprotect drops
    /// it when an anonymous VMA without an anon_vma goes read-only, and sets it again when
    /// a VMA with neither it nor VM_WRITE goes writable; VMAs that differ in it do not
    /// merge (the real backend on 6.18: an mprotect back to equal protections left two
    /// VMAs apart, one without an anon_vma). Applied in every era; since which release
    /// mprotect drops it is not established.
    public static let account = VMFlags(rawValue: 1 << 8)
}

/// A region name of a process: what backs it and where in the object it starts.
public struct Region: Hashable, Sendable {
    public var exists = false
    public var pages: Int32 = 0
    public var backing: Backing = .anon
    public var huge: HugeKind = .none
    /// The shmem object or the file (object 0) it maps, or -1.
    public var object: Int32 = -1
    /// Offset of slot 0 in the object, in pages; also the huge-page alignment base.
    public var pgoff: Int32 = 0
    /// Bit b: a PTE table covers huge block b (slots b·2^order …): set when a PTE is
    /// mapped there or a PMD split; cleared when a PMD maps the block or munmap takes all
    /// of it; at fork the child gets one only where entries are copied. A THP fault needs
    /// the PMD empty (do_huge_pmd_anonymous_page only on pmd_none): after a PMD split
    /// and MADV_DONTNEED the block faults base pages (the sixth real fuzz on 6.18).
    /// Blocks past 63 always count as having one.
    public var pageTables: UInt64 = 0

    /// accountable_mapping(): a private writable mapping (not shmem, not hugetlb) takes
    /// VM_ACCOUNT.
    public var accountable: Bool { backing != .shared && huge != .hugetlb }
}

/// A GUP reference or pin held by a process (`pin … -> gN`).
public struct PinState: Hashable, Sendable {
    public var active = false
    public var frame: Int32 = -1
    public var owner: Int32 = -1
    public var flags: PinFlags = []
    /// True when it was taken with FOLL_PIN (the era has pins and `get` was not given).
    public var follPin = false
}

/// A process (an mm).
public struct ProcState: Hashable, Sendable {
    public var alive = false
    /// MMF_HAS_PINNED: set at the first FOLL_PIN, never cleared, not inherited.
    public var hasPinned = false
}

/// A shared object: the file (object 0) or one shmem segment.
public struct ObjectState: Hashable, Sendable {
    public var base: Int32 = 0
    public var size: Int32 = 0
    /// Regions mapping it; a shmem object dies with its last mapping.
    public var mappers: Int32 = 0
    public var isFile = false
}

/// What the machine counts: the efficiency figures of `compare`.
public struct Counters: Hashable, Sendable, Codable {
    public var copies = 0
    public var reuses = 0
    public var unshares = 0
    public var eagerForkCopies = 0
    public var zeroFills = 0
    /// Copies of a page that only the faulting process mapped and nobody else held (spec §4.1 item 4).
    public var unnecessaryCopies = 0
    public var framesInUse = 0
    public var peakFrames = 0
    public var pmdSplits = 0
    public var folioSplits = 0
    public var swapouts = 0
    public var swapins = 0
    public var migrations = 0
    public var ksmMerges = 0
    public var opsExecuted = 0

    public init() {}

    public mutating func add(_ o: Counters) {
        copies += o.copies; reuses += o.reuses; unshares += o.unshares
        eagerForkCopies += o.eagerForkCopies; zeroFills += o.zeroFills
        unnecessaryCopies += o.unnecessaryCopies; framesInUse += o.framesInUse
        peakFrames += o.peakFrames; pmdSplits += o.pmdSplits; folioSplits += o.folioSplits
        swapouts += o.swapouts; swapins += o.swapins; migrations += o.migrations
        ksmMerges += o.ksmMerges; opsExecuted += o.opsExecuted
    }
}

/// A decision or event of the machine, for `explain` (recorded only when tracing).
public struct Event: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable {
        case copy, reuse, unshare, unshareCopy, eagerCopy, zeroFill, fault, share, clearExclusive
        case pmdSplit, folioSplit, swapout, swapin, migrate, ksmMerge, ksmBreak, free, gupForcedCow
        case mprotectUpgrade, lruDrain, refused
    }
    public var op: Int32
    public var kind: Kind
    public var process: Int32
    public var region: Int32
    public var page: Int32
    public var from: Int32
    public var to: Int32
}

/// The whole simulated kernel state, generic-free so policies can inspect it.
///
/// Dense arrays indexed by integer ids; capacities come from the program, so a
/// machine reused for many programs does not allocate on the per-op path.
public struct MachineState: Sendable {
    public var frames: [Frame] = []
    public var procs: [ProcState] = []
    public var regions: [Region] = []
    public var slots: [Slot] = []
    public var objects: [ObjectState] = []
    public var objectPages: [Int32] = []
    public var pins: [PinState] = []
    public var pipeBufs: [Int32] = []
    public var pipeHead: [Int32] = []
    public var pipeCount: [Int32] = []
    public var swapCount: [Int32] = []
    public var swapFrame: [Int32] = []
    /// What each swap slot holds on the device (written at swap-out).
    public var swapContent: [UInt8] = []
    /// The store each swap slot's content came from.
    public var swapStore: [Int32] = []
    /// The culprit stamp of the folio a slot holds, so a swap round trip keeps the cause.
    public var swapCulprit: [Causes] = []
    /// The process that spliced each pipe buffer (parallel to `pipeBufs`).
    public var pipeOwner: [Int32] = []
    public var lruBatch: [Int32] = []
    public var counters = Counters()
    public var coverage = Coverage()
    public var events: [Event] = []
    public var tracing = false
    public var currentOp: Int32 = 0
    /// The race lane being stepped, or -1 at top level.
    public var currentLane = -1
    /// The store id a write of the current op (or lane) stores.
    public var currentStore: Int32 = 0
    /// The last observation's store id and the culprit stamped on its folio (set by
    /// read, readpin and readpipe; the run loop copies them into the trace).
    public var obsStore: Int32 = StoreID.none
    public var obsCulprit = Causes.none
    public var obsPage = PageKind.smallAnon
    public var obsRef = RefKind.cpu
    /// The status of every lane of every race so far, in program order (`Trace.laneStatuses`).
    public var laneStatuses: [OpStatus] = []
    /// The steps of races, for `explain` (recorded only when tracing).
    public var raceTrace: [RaceSubstep] = []
    /// The pages `explain` shows (`PageKey.packed`); nil shows every mapped page.
    public var explainPages: Set<Int>?

    public var procCap = 0
    public var regionCap = 0
    public var pageCap = 0
    public var thpOrder = Program.defaultThpOrder

    public static let lruBatchSize = 15
    public static let pinBias: Int32 = 1024
    public static let zeroFrame: Int32 = 0

    public init() {}

    // MARK: indexing

    @inline(__always) public func regionIndex(_ p: Int, _ r: Int) -> Int { p * regionCap + r }
    @inline(__always) public func slotIndex(_ p: Int, _ r: Int, _ i: Int) -> Int { (p * regionCap + r) * pageCap + i }

    /// The page-table bit of the huge block of slot `si` (`Region.pageTables`); 0 past 63.
    @inline(__always) func tableBit(_ si: Int) -> UInt64 {
        let b = (si % pageCap) >> thpOrder
        return b < 64 ? 1 &<< UInt64(b) : 0
    }

    /// Whether a PTE table covers slot `si` (blocks past 63: always).
    @inline(__always) public func hasPageTable(_ si: Int) -> Bool {
        let bit = tableBit(si)
        return bit == 0 || regions[si / pageCap].pageTables & bit != 0
    }

    public func region(_ p: Int, _ r: Int) -> Region? {
        guard p >= 0, p < procCap, r >= 0, r < regionCap else { return nil }
        let reg = regions[regionIndex(p, r)]
        return reg.exists ? reg : nil
    }

    public func slot(_ p: Int, _ r: Int, _ i: Int) -> Slot? {
        guard let reg = region(p, r), i >= 0, i < Int(reg.pages) else { return nil }
        return slots[slotIndex(p, r, i)]
    }

    @inline(__always) public func head(_ f: Int32) -> Int32 { frames[Int(f)].head }
    @inline(__always) public func folio(_ f: Int32) -> Frame { frames[Int(frames[Int(f)].head)] }

    /// FOLL_PIN visible through the counters: exact for large folios, refcount ≥ bias for small ones.
    @inline(__always) public func maybePinned(_ f: Int32) -> Bool {
        let h = frames[Int(frames[Int(f)].head)]
        return h.order > 0 ? h.pincount > 0 : h.refcount >= MachineState.pinBias
    }

    /// PTE + PMD mappings of the whole folio.
    public func folioMappings(_ f: Int32) -> Int32 {
        let h = Int(frames[Int(f)].head)
        let n = 1 << Int(frames[h].order)
        var m = frames[h].entireMapcount
        for k in h..<(h + n) { m += frames[k].mapcount }
        return m
    }

    /// The references a folio holds beyond its mappings, swap cache and LRU batch:
    /// GUP references, pins, pipe buffers.
    public func extraRefs(_ f: Int32) -> Int32 {
        let h = Int(frames[Int(f)].head)
        let fr = frames[h]
        let nr: Int32 = 1 << Int32(fr.order)
        return fr.refcount - folioMappings(f) - (fr.swapcache ? nr : 0) - (fr.lruPending ? 1 : 0)
    }

    // MARK: setup

    /// Sizes the arrays for a program and clears all state (keeps capacity).
    public mutating func reset(for program: Program) { reset(for: program, shape: ProgramShape(program)) }

    /// Sizes the arrays for a program whose shape the caller computed once for every policy.
    public mutating func reset(for program: Program, shape: ProgramShape) {
        thpOrder = program.effectiveThpOrder
        let huge = 1 << thpOrder
        // Round the page capacity up to a whole huge page so aligned blocks fit.
        pageCap = (shape.pages + huge - 1) / huge * huge
        procCap = shape.processes
        regionCap = shape.regions
        frames.removeAll(keepingCapacity: true)
        frames.append(Frame(content: 0, kind: .zero, head: 0))
        procs.removeAll(keepingCapacity: true)
        procs.append(contentsOf: repeatElement(ProcState(), count: procCap))
        procs[0].alive = true
        regions.removeAll(keepingCapacity: true)
        regions.append(contentsOf: repeatElement(Region(), count: procCap * regionCap))
        slots.removeAll(keepingCapacity: true)
        slots.append(contentsOf: repeatElement(Slot(), count: procCap * regionCap * pageCap))
        objects.removeAll(keepingCapacity: true)
        objectPages.removeAll(keepingCapacity: true)
        // Object 0: the file, as large as any region.
        objects.append(ObjectState(base: 0, size: Int32(pageCap), mappers: 0, isFile: true))
        objectPages.append(contentsOf: repeatElement(-1, count: pageCap))
        pins.removeAll(keepingCapacity: true)
        pins.append(contentsOf: repeatElement(PinState(), count: shape.pins))
        pipeBufs.removeAll(keepingCapacity: true)
        pipeBufs.append(contentsOf: repeatElement(-1, count: shape.pipes * Limits.pipeDepth))
        pipeOwner.removeAll(keepingCapacity: true)
        pipeOwner.append(contentsOf: repeatElement(-1, count: shape.pipes * Limits.pipeDepth))
        pipeHead.removeAll(keepingCapacity: true)
        pipeHead.append(contentsOf: repeatElement(0, count: shape.pipes))
        pipeCount.removeAll(keepingCapacity: true)
        pipeCount.append(contentsOf: repeatElement(0, count: shape.pipes))
        swapCount.removeAll(keepingCapacity: true)
        swapFrame.removeAll(keepingCapacity: true)
        swapContent.removeAll(keepingCapacity: true)
        swapStore.removeAll(keepingCapacity: true)
        swapCulprit.removeAll(keepingCapacity: true)
        lruBatch.removeAll(keepingCapacity: true)
        counters = Counters()
        coverage = Coverage()
        events.removeAll(keepingCapacity: true)
        currentOp = 0
        currentLane = -1
        currentStore = 0
        obsStore = StoreID.none
    }

    @inline(__always) mutating func event(_ kind: Event.Kind, p: Int, r: Int, i: Int, from: Int32 = -1, to: Int32 = -1) {
        if tracing {
            events.append(Event(op: currentOp, kind: kind, process: Int32(p), region: Int32(r), page: Int32(i), from: from, to: to))
        }
    }
}

/// How many names of each kind a program uses: the machine's and the oracle's capacities.
public struct ProgramShape: Hashable, Sendable {
    public var processes = 1
    public var regions = 1
    public var pages = 1
    public var pins = 1
    public var pipes = 1

    public init(_ program: Program) {
        for op in program.ops { visit(op) }
    }

    private mutating func visit(_ op: Op) {
        switch op {
        case let .mmap(p, r, n, _, _): see(p: p, r: r); pages = max(pages, n)
        case let .mremap(p, r, to, _): see(p: p, r: r); see(r: to)
        case let .fork(p, c): see(p: p); see(p: c)
        case let .pin(p, r, _, g, _): see(p: p, r: r); pins = max(pins, g + 1)
        case let .unpin(g), let .readpin(g), let .writepin(g, _): pins = max(pins, g + 1)
        case let .vmsplice(p, r, _, pipe): see(p: p, r: r); pipes = max(pipes, pipe + 1)
        case let .readpipe(pipe): pipes = max(pipes, pipe + 1)
        case let .race(lanes, _): for l in lanes { visit(l) }
        case let .munmap(p, r, _), let .mprotect(p, r, _, _), let .madvise(p, r, _, _), let .write(p, r, _, _),
            let .read(p, r, _), let .pokemem(p, r, _, _), let .migrate(p, r, _), let .swapout(p, r, _),
            let .splitpmd(p, r, _), let .splitthp(p, r, _):
            see(p: p, r: r)
        case let .exit(p): see(p: p)
        case .ksm: break
        }
    }

    private mutating func see(p: Int? = nil, r: Int? = nil) {
        if let p { processes = max(processes, p + 1) }
        if let r { regions = max(regions, r + 1) }
    }
}
