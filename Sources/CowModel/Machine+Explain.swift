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

extension Machine {
    /// Runs the program op by op with events on, snapshotting every named page.
    public static func explain(_ program: Program) -> [StepView] {
        var m = Machine<P>()
        m.load(program)
        m.s.tracing = true
        m.s.laneStatuses.removeAll()
        var out: [StepView] = []
        for (i, op) in program.ops.enumerated() {
            let before = m.s.events.count
            m.s.raceTrace.removeAll()
            let (st, obs) = m.apply(op, index: i)
            let ev = Array(m.s.events[before...])
            var view = StepView(index: i, op: op, status: st, observed: obs, events: ev, pages: m.pageViews())
            view.substeps = m.s.raceTrace
            out.append(view)
        }
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
                    }
                    out.append(v)
                }
            }
        }
        return out
    }
}
