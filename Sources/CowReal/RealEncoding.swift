import CRealKernel
import CowModel

/// One op as the C executor's `struct cf_op`: the same ten integers go over the
/// executor's protocol and into the C initializers of an exported reproducer, and the
/// constants come from `cowreal.h`, so the two sides cannot drift.
struct COp: Hashable, Sendable {
    var kind: Int32
    var p: Int32 = -1
    var r: Int32 = -1
    var page: Int32 = 0
    var pages: Int32 = 0
    var arg: Int32 = -1
    var val: Int32 = 0
    var from: Int32 = 0
    var count: Int32 = -1
    var flags: Int32 = 0

    var fields: [Int32] { [kind, p, r, page, pages, arg, val, from, count, flags] }

    /// `op K P R PAGE PAGES ARG VAL FROM COUNT FLAGS`: one line of the executor protocol.
    var protocolLine: String { "op " + fields.map(String.init).joined(separator: " ") }

    init(kind: Int32) { self.kind = kind }

    init(_ op: Op) {
        func c(_ v: some BinaryInteger) -> Int32 { Int32(truncatingIfNeeded: v) }
        func range(_ r: PageRange?, into o: inout COp) {
            if let r {
                o.from = c(r.from)
                o.count = c(r.count)
            }
        }
        switch op {
        case let .mmap(p, r, pages, backing, huge):
            self.init(kind: c(CF_OP_MMAP))
            (self.p, self.r, self.pages) = (c(p), c(r), c(pages))
            switch backing {
            case .anon: val = c(CF_BACK_ANON)
            case .shared: val = c(CF_BACK_SHARED)
            case .file: val = c(CF_BACK_FILE)
            }
            switch huge {
            case .none: flags = c(CF_HUGE_NONE)
            case .thp: flags = c(CF_HUGE_THP)
            case .hugetlb: flags = c(CF_HUGE_HUGETLB)
            }
        case let .munmap(p, r, rg):
            self.init(kind: c(CF_OP_MUNMAP))
            (self.p, self.r) = (c(p), c(r))
            range(rg, into: &self)
        case let .mprotect(p, r, w, rg):
            self.init(kind: c(CF_OP_MPROTECT))
            (self.p, self.r, val) = (c(p), c(r), w ? 1 : 0)
            range(rg, into: &self)
        case let .mremap(p, r, to, rg):
            self.init(kind: c(CF_OP_MREMAP))
            (self.p, self.r, arg) = (c(p), c(r), c(to))
            range(rg, into: &self)
        case let .madvise(p, r, advice, rg):
            self.init(kind: c(CF_OP_MADVISE))
            (self.p, self.r) = (c(p), c(r))
            range(rg, into: &self)
            switch advice {
            case .dontneed: val = c(CF_ADV_DONTNEED)
            case .dontfork: val = c(CF_ADV_DONTFORK)
            case .dofork: val = c(CF_ADV_DOFORK)
            case .wipeonfork: val = c(CF_ADV_WIPEONFORK)
            case .hugepage: val = c(CF_ADV_HUGEPAGE)
            case .nohugepage: val = c(CF_ADV_NOHUGEPAGE)
            case .collapse: val = c(CF_ADV_COLLAPSE)
            case .pageout: val = c(CF_ADV_PAGEOUT)
            case .mergeable: val = c(CF_ADV_MERGEABLE)
            case .unmergeable: val = c(CF_ADV_UNMERGEABLE)
            }
        case let .write(p, r, i, v):
            self.init(kind: c(CF_OP_WRITE))
            (self.p, self.r, page, val) = (c(p), c(r), c(i), c(v))
        case let .read(p, r, i):
            self.init(kind: c(CF_OP_READ))
            (self.p, self.r, page) = (c(p), c(r), c(i))
        case let .fork(p, child):
            self.init(kind: c(CF_OP_FORK))
            (self.p, arg) = (c(p), c(child))
        case let .exit(p):
            self.init(kind: c(CF_OP_EXIT))
            self.p = c(p)
        case let .pin(p, r, i, g, pf):
            self.init(kind: c(CF_OP_PIN))
            (self.p, self.r, page, arg) = (c(p), c(r), c(i), c(g))
            if pf.contains(.rw) { flags |= c(CF_PIN_RW) }
            if pf.contains(.longterm) { flags |= c(CF_PIN_LONGTERM) }
            if pf.contains(.fast) { flags |= c(CF_PIN_FAST) }
            if pf.contains(.get) { flags |= c(CF_PIN_GET) }
        case let .unpin(g):
            self.init(kind: c(CF_OP_UNPIN))
            arg = c(g)
        case let .readpin(g):
            self.init(kind: c(CF_OP_READPIN))
            arg = c(g)
        case let .writepin(g, v):
            self.init(kind: c(CF_OP_WRITEPIN))
            (arg, val) = (c(g), c(v))
        case let .vmsplice(p, r, i, pipe):
            self.init(kind: c(CF_OP_VMSPLICE))
            (self.p, self.r, page, arg) = (c(p), c(r), c(i), c(pipe))
        case let .readpipe(pipe):
            self.init(kind: c(CF_OP_READPIPE))
            arg = c(pipe)
        case let .pokemem(p, r, i, v):
            self.init(kind: c(CF_OP_POKEMEM))
            (self.p, self.r, page, val) = (c(p), c(r), c(i), c(v))
        case .ksm:
            self.init(kind: c(CF_OP_KSM))
        case let .migrate(p, r, i):
            self.init(kind: c(CF_OP_MIGRATE))
            (self.p, self.r, page) = (c(p), c(r), c(i))
        case let .swapout(p, r, i):
            self.init(kind: c(CF_OP_SWAPOUT))
            (self.p, self.r, page) = (c(p), c(r), c(i))
        case let .splitpmd(p, r, i):
            self.init(kind: c(CF_OP_SPLITPMD))
            (self.p, self.r, page) = (c(p), c(r), c(i))
        case let .splitthp(p, r, i):
            self.init(kind: c(CF_OP_SPLITTHP))
            (self.p, self.r, page) = (c(p), c(r), c(i))
        case .race:
            self.init(kind: c(CF_OP_RACE))
        }
    }

    /// A C designated initializer of `struct cf_op`, with only the fields that matter.
    var cInitializer: String {
        let names = ["CF_OP_MMAP", "CF_OP_MUNMAP", "CF_OP_MPROTECT", "CF_OP_MREMAP", "CF_OP_MADVISE", "CF_OP_WRITE",
                     "CF_OP_READ", "CF_OP_FORK", "CF_OP_EXIT", "CF_OP_PIN", "CF_OP_UNPIN", "CF_OP_READPIN",
                     "CF_OP_WRITEPIN", "CF_OP_VMSPLICE", "CF_OP_READPIPE", "CF_OP_POKEMEM", "CF_OP_KSM",
                     "CF_OP_MIGRATE", "CF_OP_SWAPOUT", "CF_OP_SPLITPMD", "CF_OP_SPLITTHP", "CF_OP_RACE"]
        let k = Int(kind) - Int(CF_OP_MMAP)
        var parts = [".kind = " + (k >= 0 && k < names.count ? names[k] : String(kind))]
        let labelled: [(String, Int32, Int32)] = [
            ("p", p, -1), ("r", r, -1), ("page", page, 0), ("pages", pages, 0), ("arg", arg, -1),
            ("val", val, 0), ("from", from, 0), ("count", count, -1), ("flags", flags, 0),
        ]
        let ranged = [CF_OP_MUNMAP, CF_OP_MPROTECT, CF_OP_MREMAP, CF_OP_MADVISE].map { Int32($0) }.contains(kind)
        for (name, v, unused) in labelled where v != 0 && v != unused || (name == "count" && ranged && v != 0) {
            parts.append(".\(name) = \(v)")
        }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}

extension Program {
    /// The program in the executor protocol: a header line and one line per op.
    func realProtocolText(tiers: RealTiers, timeoutMs: Int, hangOp: Int) -> String {
        var s = "prog \(ops.count) \(tiers.rawValue) \(timeoutMs) \(hangOp) \(effectiveThpOrder)\n"
        for op in ops { s += COp(op).protocolLine + "\n" }
        return s
    }
}
