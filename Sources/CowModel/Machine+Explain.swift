/// Views of the machine for `explain`: after each op, every page the program named.

/// One page slot as a kernel developer reads it.
public struct PageView: Hashable, Sendable {
    public var process: Int
    public var region: Int
    public var page: Int
    /// "-" (none), "present", "swap", "migration".
    public var entry: String
    public var frame: Int32
    public var content: UInt8
    public var mapcount: Int32
    public var refcount: Int32
    /// FOLL_PIN pins (exact: counted from the pins held) and FOLL_GET references of pins and pipes.
    public var pins: Int
    public var gets: Int
    public var exclusive: Bool
    public var writable: Bool
    public var pmd: Bool
    public var order: Int
    public var ksm: Bool
    public var swapcache: Bool
    public var kind: FrameKind
    /// In the LRU-add batch (an extra reference until it is drained).
    public var lruPending = false
}

/// The state after one op.
public struct StepView: Hashable, Sendable {
    public var index: Int
    public var op: Op
    public var status: OpStatus
    public var observed: Int16
    public var events: [Event]
    public var pages: [PageView]
    /// For a `race`: its steps in schedule order, each with its lane, process and the
    /// state after it (empty for other ops).
    public var substeps: [RaceSubstep] = []
}

/// A page a program names: page `page` of region `region` of process `process`.
public struct PageKey: Hashable, Sendable {
    public var process: Int
    public var region: Int
    public var page: Int
    public init(_ process: Int, _ region: Int, _ page: Int) {
        self.process = process
        self.region = region
        self.page = page
    }
    var packed: Int { (process * Limits.names + region) * Limits.pages + page }
}

extension Program {
    /// The pages `explain` shows, in first-use order: every page an op names, the
    /// first four of each mapping (also of the region an `mremap` moves pages to), and a
    /// fork child's copies of its parent's.
    public var namedPages: [PageKey] {
        var named: [PageKey] = []
        var seen = Set<PageKey>()
        // Pages of each process's region as mapped by the text: what an mremap without a range moves.
        var sizes: [Int: Int] = [:]
        func note(_ p: Int, _ r: Int, _ i: Int) {
            let k = PageKey(p, r, i)
            if seen.insert(k).inserted { named.append(k) }
        }
        for op in ops {
            switch op {
            case let .mremap(p, r, to, range):
                let n = range?.count ?? sizes[p * Limits.names + r] ?? 0
                sizes[p * Limits.names + to] = n
                for i in 0..<min(n, 4) { note(p, to, i) }
            case let .mmap(p, r, pages, _, _):
                sizes[p * Limits.names + r] = pages
                for i in 0..<min(pages, 4) { note(p, r, i) }
            case let .fork(p, c):
                for k in named where k.process == p { note(c, k.region, k.page) }
                for (key, n) in sizes where key / Limits.names == p { sizes[c * Limits.names + key % Limits.names] = n }
            case let .write(p, r, i, _), let .read(p, r, i), let .pin(p, r, i, _, _), let .vmsplice(p, r, i, _),
                let .pokemem(p, r, i, _), let .migrate(p, r, i), let .swapout(p, r, i), let .splitpmd(p, r, i), let .splitthp(p, r, i):
                note(p, r, i)
            case let .race(lanes, _):
                for lane in lanes {
                    switch lane {
                    case let .write(p, r, i, _), let .read(p, r, i), let .pin(p, r, i, _, _), let .vmsplice(p, r, i, _),
                        let .pokemem(p, r, i, _):
                        note(p, r, i)
                    default: break
                    }
                }
            default: break
            }
        }
        return named
    }
}

/// Steps a program through one policy for `explain`, one op at a time: memory holds one
/// step's views of the named pages, never the whole run (issue 15 item 4). A class
/// because it owns the machine between steps.
public final class ExplainSession {
    let stepFn: () -> StepView?
    init(_ step: @escaping () -> StepView?) { stepFn = step }
    /// The state after the next op, or nil after the last.
    public func next() -> StepView? { stepFn() }
}

/// The machine an `ExplainSession` steps (a class: the session mutates it in place).
final class ExplainMachine<P: Policy> {
    var m = Machine<P>()
    let program: Program
    var i = 0

    init(_ program: Program, pages: [PageKey]?) {
        self.program = program
        m.load(program)
        m.s.tracing = true
        m.s.laneStatuses.removeAll()
        m.s.explainPages = pages.map { Set($0.map(\.packed)) }
    }

    func step() -> StepView? {
        guard i < program.ops.count else { return nil }
        let op = program.ops[i]
        m.s.events.removeAll(keepingCapacity: true)
        m.s.raceTrace.removeAll()
        let (st, obs) = m.apply(op, index: i)
        var view = StepView(index: i, op: op, status: st, observed: obs, events: m.s.events, pages: m.pageViews())
        view.substeps = m.s.raceTrace
        i += 1
        return view
    }
}

extension Machine {
    /// A session over `program` showing `pages` (nil: every mapped page).
    public static func explainSession(_ program: Program, pages: [PageKey]?) -> ExplainSession {
        let box = ExplainMachine<P>(program, pages: pages)
        return ExplainSession { box.step() }
    }

    /// Every step of `program`, with views of its named pages (`Program.namedPages`).
    public static func explain(_ program: Program) -> [StepView] {
        let session = explainSession(program, pages: program.namedPages)
        var out: [StepView] = []
        while let v = session.next() { out.append(v) }
        return out
    }

    /// Every mapped page of every live process.
    func pageViews() -> [PageView] {
        var pinCount = [Int: Int](), getCount = [Int: Int]()
        for g in s.pins where g.active {
            if g.follPin { pinCount[Int(g.frame), default: 0] += 1 } else { getCount[Int(g.frame), default: 0] += 1 }
        }
        for pipe in 0..<s.pipeCount.count {
            for k in 0..<Int(s.pipeCount[pipe]) {
                let f = Int(s.pipeBufs[pipe * Limits.pipeDepth + (Int(s.pipeHead[pipe]) + k) % Limits.pipeDepth])
                getCount[f, default: 0] += 1
            }
        }
        var out: [PageView] = []
        for p in 0..<s.procCap where s.procs[p].alive {
            for r in 0..<s.regionCap {
                let reg = s.regions[s.regionIndex(p, r)]
                guard reg.exists else { continue }
                for k in 0..<Int(reg.pages) {
                    if let shown = s.explainPages, !shown.contains(PageKey(p, r, k).packed) { continue }
                    let sl = s.slots[s.slotIndex(p, r, k)]
                    guard sl.inVMA else { continue }
                    var v = PageView(process: p, region: r, page: k, entry: "-", frame: -1, content: 0, mapcount: 0,
                                     refcount: 0, pins: 0, gets: 0, exclusive: false, writable: false, pmd: false,
                                     order: 0, ksm: false, swapcache: false, kind: .free)
                    switch sl.state {
                    case .none: break
                    case .swap:
                        v.entry = "swap"
                        v.frame = sl.frame
                        v.exclusive = sl.exclusive
                    case .migration:
                        v.entry = "migration"
                        v.frame = sl.frame
                    case .present:
                        let f = sl.frame
                        let h = s.folio(f)
                        v.entry = "present"
                        v.frame = f
                        v.content = s.frames[Int(f)].content
                        v.mapcount = s.frames[Int(f)].mapcount + h.entireMapcount
                        v.refcount = h.refcount
                        v.pins = pinCount[Int(f)] ?? 0
                        v.gets = getCount[Int(f)] ?? 0
                        v.exclusive = s.frames[Int(f)].exclusive
                        v.writable = sl.writable
                        v.pmd = sl.pmd
                        v.order = Int(h.order)
                        v.ksm = h.ksm
                        v.swapcache = h.swapcache
                        v.kind = s.frames[Int(f)].kind
                        v.lruPending = h.lruPending
                    }
                    out.append(v)
                }
            }
        }
        return out
    }
}
