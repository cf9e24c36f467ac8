import CowModel

/// The reference semantics stepped one op at a time, with a read-only view of its
/// state: what the state-space explorer (`cowfuzz explore`) keeps beside each machine
/// state and folds into the state's canonical encoding.
///
/// Store ordinals here are op indices + 1 (the store of op `i` is ordinal `i + 1`, the
/// initial zero is 0), not `StoreTable`'s: the explorer knows the path, not the whole
/// program. Both numberings name each store once, so the verdicts are the same.
/// `@unchecked Sendable`: `Reference` is a value type of arrays of plain values.
public struct SteppedReference: @unchecked Sendable {
    var ref = Reference()

    /// A fresh reference with the capacities of `shape` (its names bound the universe).
    public init(shape program: Program) {
        ref.reset(program)
        ref.table = nil
    }

    /// Applies op `index` (which ran on the machine); returns the acceptance of an observation.
    public mutating func apply(_ op: Op, index: Int) -> Acceptance? {
        ref.opIndex = index
        ref.ordinal = UInt8(min(index + 1, 255))
        return ref.step(op, lanes: nil)
    }

    public var procCap: Int { ref.procCap }
    public var regionCap: Int { ref.regionCap }
    public var pageCap: Int { ref.pageCap }
    public var cellCount: Int { ref.cells.count }

    /// One cell of logical memory.
    public struct CellView {
        public var owner: Int32
        public var value: ValueSet
        public var history: ValueSet
        public var alive: Bool
        public var anon: Bool
        public var shared: Bool
    }

    /// A pin or pipe-buffer reference.
    public struct RefView {
        public var active: Bool
        public var cell: Int32
        public var acc: ValueSet
        public var coherent: Bool
        public var owner: Int32
    }

    public func cell(_ c: Int) -> CellView {
        let x = ref.cells[c]
        return CellView(owner: x.owner, value: x.value, history: x.history, alive: x.alive, anon: x.anon, shared: x.shared)
    }

    /// The cell a process's page names (-1 for none) and its fork flags.
    public func location(_ p: Int, _ r: Int, _ i: Int) -> (cell: Int32, dontfork: Bool, wipeonfork: Bool) {
        let l = ref.locs[ref.li(p, r, i)]
        return (l.cell, l.dontfork, l.wipeonfork)
    }

    public func region(_ p: Int, _ r: Int) -> (exists: Bool, pages: Int, backing: Backing, pgoff: Int) {
        let x = ref.regions[ref.ri(p, r)]
        return (x.exists, x.pages, x.backing, x.pgoff)
    }

    public func processAlive(_ p: Int) -> Bool { ref.alive[p] }

    public var pinCount: Int { ref.pins.count }
    public func pin(_ g: Int) -> RefView { view(ref.pins[g]) }

    public var pipeCount: Int { ref.pipes.count }
    public func pipe(_ q: Int) -> [RefView] { ref.pipes[q].map(view) }
    public func pipeLength(_ q: Int) -> Int { ref.pipes[q].count }
    public func pipeRef(_ q: Int, _ k: Int) -> RefView { view(ref.pipes[q][k]) }

    func view(_ r: Reference.Ref) -> RefView {
        RefView(active: r.active, cell: r.cell, acc: r.acc, coherent: r.coherent, owner: r.owner)
    }
}

extension ValueSet {
    /// Calls `body` with every member, ascending.
    @inline(__always) public func forEachMember(_ body: (UInt8) -> Void) {
        @inline(__always) func bits(_ word: UInt64, _ base: Int) {
            var w = word
            while w != 0 {
                body(UInt8(base + w.trailingZeroBitCount))
                w &= w &- 1
            }
        }
        bits(w0, 0); bits(w1, 64); bits(w2, 128); bits(w3, 192)
    }

    public var isEmpty: Bool { w0 == 0 && w1 == 0 && w2 == 0 && w3 == 0 }
}
