import CowModel

/// Turns any byte string into a program and back: the structure-aware input format of
/// the libFuzzer target (`CowLibFuzzer`) and of `cowfuzz decode`.
///
/// Every byte string decodes. The input is a sequence of 3-byte records, one op each
/// (a short last record is padded with zero bytes; records past `maxOps` are ignored),
/// and a record is decoded on its own, without looking at the ops before it. So a byte
/// change changes one op, inserting or erasing a record inserts or erases one op, and
/// ops whose names do not exist are simply skipped by the machine (ops are total).
///
/// Record `[k, w, x]`:
/// * `k & 31` selects the op kind from `kindSlots` (frequent kinds have several slots);
///   `k >> 5` of the *first* record is the `@thp-order` (0: the default), and is
///   ignored in the others;
/// * `w` says *where*: process `p = w & 3`, region `r = (w >> 2) & 1`, page
///   `i = (w >> 3) & 3`, a second name `n = (w >> 5) & 3` (the child of `fork`, the
///   target region of `mremap` (`n & 1`), pin `g = n & 1`, pipe `n & 1`), and bit 7
///   asks region ops for a page range;
/// * `x` says *what*: the value of a write (0 reads as 1); for `mmap` the pages
///   `1 + x & 3`, backing `(x >> 2) & 3` (anon, shared, file, anon) and huge kind
///   `(x >> 4) & 3` (none, thp, hugetlb, none); for a region op with a range
///   `from = (x >> 4) & 3`, `count = 1 + (x >> 6)`; the writability of `mprotect`
///   `x & 1`; the advice `(x & 15) % 10`; the pin flags `x & 15`.
///
/// `encode` writes the canonical record of each op; `decode(encode(p)) == p` for every
/// program inside this universe (`represents`), and `encode(decode(b))` decodes to
/// `decode(b)` for every `b`.
public enum ByteDecoder {
    public static let recordSize = 3
    /// At most this many ops are decoded (longer inputs are truncated).
    public static let maxOps = 64
    /// The longest input that still matters; pass it to libFuzzer as `-max_len`.
    public static let maxLength = recordSize * maxOps

    public static let processes = 4
    public static let regions = 2
    public static let pages = 4
    public static let pins = 2
    public static let pipes = 2

    /// The op kind of each value of `k & 31`.
    public static let kindSlots: [OpKind] = [
        .mmap, .munmap, .mprotect, .mremap, .madvise, .write, .read, .fork, .exit, .pin, .unpin,
        .readpin, .writepin, .vmsplice, .readpipe, .pokemem, .ksm, .migrate, .swapout, .splitpmd, .splitthp,
        .write, .write, .read, .fork, .pin, .vmsplice, .readpin, .readpipe, .mmap, .munmap, .mprotect,
    ]

    /// The first slot of each kind: what `encode` writes.
    static let slotOfKind: [UInt8] = OpKind.allCases.map { k in UInt8(kindSlots.firstIndex(of: k) ?? 0) }

    /// The program that `bytes` stand for.
    public static func decode<C: Collection>(_ bytes: C) -> Program where C.Element == UInt8 {
        var ops: [Op] = []
        var thpOrder: Int?
        var it = bytes.makeIterator()
        while ops.count < maxOps, let k = it.next() {
            let w = it.next() ?? 0
            let x = it.next() ?? 0
            if ops.isEmpty && k >> 5 != 0 { thpOrder = Int(k >> 5) }
            ops.append(op(k, w, x))
        }
        return Program(ops: ops, thpOrder: thpOrder)
    }

    /// The op of one record.
    public static func op(_ k: UInt8, _ w: UInt8, _ x: UInt8) -> Op {
        let p = Int(w & 3), r = Int((w >> 2) & 1), i = Int((w >> 3) & 3), n = Int((w >> 5) & 3)
        let value = x == 0 ? 1 : x
        let range: PageRange? = w & 0x80 == 0 ? nil : PageRange(from: Int((x >> 4) & 3), count: 1 + Int(x >> 6))
        switch kindSlots[Int(k & 31)] {
        case .mmap:
            let backing: Backing = [.anon, .shared, .file, .anon][Int((x >> 2) & 3)]
            let huge: HugeKind = [.none, .thp, .hugetlb, .none][Int((x >> 4) & 3)]
            return .mmap(p: p, r: r, pages: 1 + Int(x & 3), backing: backing, huge: huge)
        case .munmap: return .munmap(p: p, r: r, range: range)
        case .mprotect: return .mprotect(p: p, r: r, writable: x & 1 != 0, range: range)
        case .mremap: return .mremap(p: p, r: r, to: n & 1, range: range)
        case .madvise: return .madvise(p: p, r: r, advice: Advice.allCases[Int(x & 15) % Advice.allCases.count], range: range)
        case .write: return .write(p: p, r: r, page: i, value: value)
        case .read: return .read(p: p, r: r, page: i)
        case .fork: return .fork(p: p, child: n)
        case .exit: return .exit(p: p)
        case .pin: return .pin(p: p, r: r, page: i, g: n & 1, flags: PinFlags(rawValue: x & 15))
        case .unpin: return .unpin(g: n & 1)
        case .readpin: return .readpin(g: n & 1)
        case .writepin: return .writepin(g: n & 1, value: value)
        case .vmsplice: return .vmsplice(p: p, r: r, page: i, pipe: n & 1)
        case .readpipe: return .readpipe(pipe: n & 1)
        case .pokemem: return .pokemem(p: p, r: r, page: i, value: value)
        case .ksm: return .ksm
        case .migrate: return .migrate(p: p, r: r, page: i)
        case .swapout: return .swapout(p: p, r: r, page: i)
        case .splitpmd: return .splitpmd(p: p, r: r, page: i)
        case .splitthp: return .splitthp(p: p, r: r, page: i)
        case .race: return .ksm // not in the slot table
        }
    }

    /// The canonical bytes of a program. Ops outside the universe are reduced into it
    /// (names and sizes modulo the universe's bounds; a `race` becomes its lanes, one
    /// after the other), so the result always decodes, and to `program` exactly when
    /// `represents(program)`.
    public static func encode(_ program: Program) -> [UInt8] {
        var out: [UInt8] = []
        var ops: [Op] = []
        for op in program.ops {
            if case let .race(lanes, _) = op { ops += lanes } else { ops.append(op) }
        }
        for op in ops.prefix(maxOps) {
            let (k, w, x) = record(op)
            out += [k, w, x]
        }
        if let o = program.thpOrder, !out.isEmpty { out[0] |= UInt8(o & 7) << 5 }
        return out
    }

    /// True when `decode(encode(program)) == program`: every op is inside the universe.
    public static func represents(_ program: Program) -> Bool {
        (program.thpOrder.map { (1...7).contains($0) && !program.ops.isEmpty } ?? true) && program.expectations.isEmpty && program.comments.isEmpty
            && program.ops.count <= maxOps && program.ops.allSatisfy { op in
                if case .race = op { return false }
                let (k, w, x) = record(op)
                return self.op(k, w, x) == op
            }
    }

    /// The canonical record of one op.
    public static func record(_ op: Op) -> (UInt8, UInt8, UInt8) {
        func where_(_ p: Int = 0, _ r: Int = 0, _ i: Int = 0, _ n: Int = 0, range: Bool = false) -> UInt8 {
            UInt8(p & 3) | UInt8(r & 1) << 2 | UInt8(i & 3) << 3 | UInt8(n & 3) << 5 | (range ? 0x80 : 0)
        }
        func rangeBits(_ g: PageRange?) -> UInt8 {
            guard let g else { return 0 }
            return UInt8(g.from & 3) << 4 | UInt8((max(1, g.count) - 1) & 3) << 6
        }
        let k = slotOfKind[Int(op.kind.rawValue)]
        switch op {
        case let .mmap(p, r, pages, backing, huge):
            return (k, where_(p, r), UInt8((pages - 1) & 3) | backing.rawValue << 2 | huge.rawValue << 4)
        case let .munmap(p, r, g): return (k, where_(p, r, range: g != nil), rangeBits(g))
        case let .mprotect(p, r, w, g): return (k, where_(p, r, range: g != nil), rangeBits(g) | (w ? 1 : 0))
        case let .mremap(p, r, to, g): return (k, where_(p, r, 0, to, range: g != nil), rangeBits(g))
        case let .madvise(p, r, a, g): return (k, where_(p, r, range: g != nil), rangeBits(g) | a.rawValue)
        case let .write(p, r, i, v): return (k, where_(p, r, i), v)
        case let .read(p, r, i): return (k, where_(p, r, i), 0)
        case let .fork(p, c): return (k, where_(p, 0, 0, c), 0)
        case let .exit(p): return (k, where_(p), 0)
        case let .pin(p, r, i, g, f): return (k, where_(p, r, i, g), f.rawValue & 15)
        case let .unpin(g): return (k, where_(0, 0, 0, g), 0)
        case let .readpin(g): return (k, where_(0, 0, 0, g), 0)
        case let .writepin(g, v): return (k, where_(0, 0, 0, g), v)
        case let .vmsplice(p, r, i, pipe): return (k, where_(p, r, i, pipe), 0)
        case let .readpipe(pipe): return (k, where_(0, 0, 0, pipe), 0)
        case let .pokemem(p, r, i, v): return (k, where_(p, r, i), v)
        case .ksm: return (k, 0, 0)
        case let .migrate(p, r, i), let .swapout(p, r, i), let .splitpmd(p, r, i), let .splitthp(p, r, i):
            return (k, where_(p, r, i), 0)
        case .race: return (slotOfKind[Int(OpKind.ksm.rawValue)], 0, 0)
        }
    }
}
