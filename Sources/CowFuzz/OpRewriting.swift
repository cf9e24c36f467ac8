import CowModel

/// Rewriting the operands of ops: the shared tool of the mutator (change an operand)
/// and the shrinker (simplify operands, rename canonically).
extension Op {
    /// The op with every name and value passed through the given maps.
    public func rewritten(p fp: (Int) -> Int = { $0 }, r fr: (Int) -> Int = { $0 }, g fg: (Int) -> Int = { $0 },
                          pipe fq: (Int) -> Int = { $0 }, value fv: (UInt8) -> UInt8 = { $0 }) -> Op {
        switch self {
        case let .mmap(p, r, n, b, h): return .mmap(p: fp(p), r: fr(r), pages: n, backing: b, huge: h)
        case let .munmap(p, r, rg): return .munmap(p: fp(p), r: fr(r), range: rg)
        case let .mprotect(p, r, w, rg): return .mprotect(p: fp(p), r: fr(r), writable: w, range: rg)
        case let .mremap(p, r, to, rg): return .mremap(p: fp(p), r: fr(r), to: fr(to), range: rg)
        case let .madvise(p, r, a, rg): return .madvise(p: fp(p), r: fr(r), advice: a, range: rg)
        case let .write(p, r, i, v): return .write(p: fp(p), r: fr(r), page: i, value: fv(v))
        case let .read(p, r, i): return .read(p: fp(p), r: fr(r), page: i)
        case let .fork(p, c): return .fork(p: fp(p), child: fp(c))
        case let .exit(p): return .exit(p: fp(p))
        case let .pin(p, r, i, g, f): return .pin(p: fp(p), r: fr(r), page: i, g: fg(g), flags: f)
        case let .unpin(g): return .unpin(g: fg(g))
        case let .readpin(g): return .readpin(g: fg(g))
        case let .writepin(g, v): return .writepin(g: fg(g), value: fv(v))
        case let .vmsplice(p, r, i, q): return .vmsplice(p: fp(p), r: fr(r), page: i, pipe: fq(q))
        case let .readpipe(q): return .readpipe(pipe: fq(q))
        case let .pokemem(p, r, i, v): return .pokemem(p: fp(p), r: fr(r), page: i, value: fv(v))
        case .ksm: return .ksm
        case let .migrate(p, r, i): return .migrate(p: fp(p), r: fr(r), page: i)
        case let .swapout(p, r, i): return .swapout(p: fp(p), r: fr(r), page: i)
        case let .splitpmd(p, r, i): return .splitpmd(p: fp(p), r: fr(r), page: i)
        case let .splitthp(p, r, i): return .splitthp(p: fp(p), r: fr(r), page: i)
        case let .race(lanes, s): return .race(lanes: lanes.map { $0.rewritten(p: fp, r: fr, g: fg, pipe: fq, value: fv) }, schedule: s)
        }
    }

    /// Visits the names and values of the op in print order: kind 0 process, 1 region,
    /// 2 pin, 3 pipe, 4 value.
    public func visitNames(_ f: (Int, Int) -> Void) {
        switch self {
        case let .mmap(p, r, _, _, _), let .munmap(p, r, _), let .mprotect(p, r, _, _), let .madvise(p, r, _, _),
            let .read(p, r, _), let .migrate(p, r, _), let .swapout(p, r, _), let .splitpmd(p, r, _), let .splitthp(p, r, _):
            f(0, p); f(1, r)
        case let .mremap(p, r, to, _): f(0, p); f(1, r); f(1, to)
        case let .write(p, r, _, v), let .pokemem(p, r, _, v): f(0, p); f(1, r); f(4, Int(v))
        case let .fork(p, c): f(0, p); f(0, c)
        case let .exit(p): f(0, p)
        case let .pin(p, r, _, g, _): f(0, p); f(1, r); f(2, g)
        case let .unpin(g), let .readpin(g): f(2, g)
        case let .writepin(g, v): f(2, g); f(4, Int(v))
        case let .vmsplice(p, r, _, q): f(0, p); f(1, r); f(3, q)
        case let .readpipe(q): f(3, q)
        case .ksm: break
        case let .race(lanes, _): for l in lanes { l.visitNames(f) }
        }
    }

    /// The shortlex key of the op: its kind, then its operands, smaller is simpler
    /// (fewer pages, no range, lower indices and names, fewer flags, plainer backing).
    public func appendShortlexKey(to key: inout [Int]) {
        func range(_ rg: PageRange?) { if let rg { key += [1, rg.from, rg.count] } else { key += [0, 0, 0] } }
        key.append(Int(kind.rawValue))
        switch self {
        case let .mmap(p, r, n, b, h): key += [p, r, n, Int(b.rawValue), Int(h.rawValue)]
        case let .munmap(p, r, rg): key += [p, r]; range(rg)
        case let .mprotect(p, r, w, rg): key += [p, r, w ? 1 : 0]; range(rg)
        case let .mremap(p, r, to, rg): key += [p, r, to]; range(rg)
        case let .madvise(p, r, a, rg): key += [p, r, Int(a.rawValue)]; range(rg)
        case let .write(p, r, i, v), let .pokemem(p, r, i, v): key += [p, r, i, Int(v)]
        case let .read(p, r, i), let .migrate(p, r, i), let .swapout(p, r, i), let .splitpmd(p, r, i), let .splitthp(p, r, i):
            key += [p, r, i]
        case let .fork(p, c): key += [p, c]
        case let .exit(p): key += [p]
        case let .pin(p, r, i, g, f): key += [p, r, i, g, f.rawValue.nonzeroBitCount, Int(f.rawValue)]
        case let .unpin(g), let .readpin(g): key += [g]
        case let .writepin(g, v): key += [g, Int(v)]
        case let .vmsplice(p, r, i, q): key += [p, r, i, q]
        case let .readpipe(q): key += [q]
        case .ksm: break
        case let .race(lanes, s):
            key += [lanes.count, s.count]
            for l in lanes { l.appendShortlexKey(to: &key) }
            key += s.map(Int.init)
        }
    }

    /// Simpler variants of this op alone (not renaming), simplest first.
    public var simplerVariants: [Op] {
        var out: [Op] = []
        func pages(_ i: Int, _ make: (Int) -> Op) { for k in 0..<i { out.append(make(k)) } }
        func ranges(_ rg: PageRange?, _ make: (PageRange?) -> Op) {
            guard let rg else { return }
            out.append(make(nil))
            for f in 0..<rg.from { out.append(make(PageRange(from: f, count: rg.count))) }
            for c in 1..<max(1, rg.count) { out.append(make(PageRange(from: rg.from, count: c))) }
        }
        func lower(_ x: Int, _ make: (Int) -> Op) { for k in 0..<x { out.append(make(k)) } }
        switch self {
        case let .mmap(p, r, n, b, h):
            for k in 1..<max(1, n) { out.append(.mmap(p: p, r: r, pages: k, backing: b, huge: h)) }
            if b != .anon { out.append(.mmap(p: p, r: r, pages: n, backing: .anon, huge: h)) }
            if h != .none { out.append(.mmap(p: p, r: r, pages: n, backing: b, huge: .none)) }
            lower(p) { .mmap(p: $0, r: r, pages: n, backing: b, huge: h) }
        case let .munmap(p, r, rg): ranges(rg) { .munmap(p: p, r: r, range: $0) }; lower(p) { .munmap(p: $0, r: r, range: rg) }
        case let .mprotect(p, r, w, rg): ranges(rg) { .mprotect(p: p, r: r, writable: w, range: $0) }
        case let .mremap(p, r, to, rg): ranges(rg) { .mremap(p: p, r: r, to: to, range: $0) }
        case let .madvise(p, r, a, rg): ranges(rg) { .madvise(p: p, r: r, advice: a, range: $0) }
        case let .write(p, r, i, v):
            pages(i) { .write(p: p, r: r, page: $0, value: v) }
            lower(p) { .write(p: $0, r: r, page: i, value: v) }
        case let .pokemem(p, r, i, v): pages(i) { .pokemem(p: p, r: r, page: $0, value: v) }
        case let .read(p, r, i):
            pages(i) { .read(p: p, r: r, page: $0) }
            lower(p) { .read(p: $0, r: r, page: i) }
        case let .migrate(p, r, i): pages(i) { .migrate(p: p, r: r, page: $0) }
        case let .swapout(p, r, i): pages(i) { .swapout(p: p, r: r, page: $0) }
        case let .splitpmd(p, r, i): pages(i) { .splitpmd(p: p, r: r, page: $0) }
        case let .splitthp(p, r, i): pages(i) { .splitthp(p: p, r: r, page: $0) }
        case let .vmsplice(p, r, i, q):
            pages(i) { .vmsplice(p: p, r: r, page: $0, pipe: q) }
            lower(p) { .vmsplice(p: $0, r: r, page: i, pipe: q) }
        case let .pin(p, r, i, g, f):
            for (flag, _) in PinFlags.words where f.contains(flag) {
                out.append(.pin(p: p, r: r, page: i, g: g, flags: f.subtracting(flag)))
            }
            pages(i) { .pin(p: p, r: r, page: $0, g: g, flags: f) }
            lower(p) { .pin(p: $0, r: r, page: i, g: g, flags: f) }
        case let .fork(p, c): lower(p) { .fork(p: $0, child: c) }
        case let .exit(p): lower(p) { .exit(p: $0) }
        case let .race(lanes, s):
            // Fewer lanes, shorter schedules, fewer and earlier switches (RaceShrinking.swift).
            out += raceSimplerVariants()
            if s.count > 1 {
                for k in 0..<s.count {
                    var s2 = s
                    s2.remove(at: k)
                    out.append(.race(lanes: lanes, schedule: s2))
                }
            }
        case .unpin, .readpin, .writepin, .readpipe, .ksm:
            break
        }
        return out
    }
}

extension Program {
    /// Only what runs: the ops and `@thp-order` (no comments or expectations).
    public var bare: Program { Program(ops: ops, thpOrder: thpOrder) }

    /// Names renamed canonically: `p0` stays `p0` (the first process), other processes,
    /// regions, pins and pipes are numbered from 0 in order of first appearance;
    /// values are numbered 1, 2, … in order of first appearance (0 stays 0).
    public var canonicallyRenamed: Program {
        var maps: [[Int: Int]] = [[0: 0], [:], [:], [:], [0: 0]]
        var next = [1, 0, 0, 0, 1]
        for op in ops {
            op.visitNames { kind, x in
                if maps[kind][x] == nil { maps[kind][x] = next[kind]; next[kind] += 1 }
            }
        }
        // Values wrap at 255; keep them in range.
        let ops2 = ops.map { op in
            op.rewritten(p: { maps[0][$0]! }, r: { maps[1][$0]! }, g: { maps[2][$0]! }, pipe: { maps[3][$0]! },
                         value: { UInt8(clamping: min(255, max(1, maps[4][Int($0)]!))) })
        }
        var p = self
        p.ops = ops2
        return p
    }

    /// True when renaming changes nothing.
    public var isCanonical: Bool { canonicallyRenamed.ops == ops }

    /// The shortlex key: op count first, then the ops' kinds and operands.
    public var shortlexKey: [Int] {
        var k = [ops.count, thpOrder ?? -1]
        for op in ops { op.appendShortlexKey(to: &k) }
        return k
    }

    /// Shortlex order: fewer ops, then smaller names, indices and values.
    public func isShortlexSmaller(than other: Program) -> Bool {
        shortlexKey.lexicographicallyPrecedes(other.shortlexKey)
    }
}

extension Op {
    /// The region and page index of a page op.
    public var pageOperand: (r: Int, page: Int)? {
        switch self {
        case let .write(_, r, i, _), let .pokemem(_, r, i, _), let .read(_, r, i), let .migrate(_, r, i),
            let .swapout(_, r, i), let .splitpmd(_, r, i), let .splitthp(_, r, i), let .pin(_, r, i, _, _),
            let .vmsplice(_, r, i, _):
            (r, i)
        default: nil
        }
    }

    /// The op with the page index of a page op on region `region` (any region when nil)
    /// mapped by `index`, the size of an `mmap` of it mapped by `pages`, and its ranges dropped.
    public func compactingPages(region: Int?, index: (Int) -> Int, pages: (Int) -> Int) -> Op {
        func on(_ r: Int) -> Bool { region == nil || region == r }
        switch self {
        case let .mmap(p, r, n, b, h) where on(r): return .mmap(p: p, r: r, pages: pages(n), backing: b, huge: h)
        case let .munmap(p, r, _) where on(r): return .munmap(p: p, r: r, range: nil)
        case let .mprotect(p, r, w, _) where on(r): return .mprotect(p: p, r: r, writable: w, range: nil)
        case let .mremap(p, r, to, _) where on(r): return .mremap(p: p, r: r, to: to, range: nil)
        case let .madvise(p, r, a, _) where on(r): return .madvise(p: p, r: r, advice: a, range: nil)
        case let .write(p, r, i, v) where on(r): return .write(p: p, r: r, page: index(i), value: v)
        case let .pokemem(p, r, i, v) where on(r): return .pokemem(p: p, r: r, page: index(i), value: v)
        case let .read(p, r, i) where on(r): return .read(p: p, r: r, page: index(i))
        case let .migrate(p, r, i) where on(r): return .migrate(p: p, r: r, page: index(i))
        case let .swapout(p, r, i) where on(r): return .swapout(p: p, r: r, page: index(i))
        case let .splitpmd(p, r, i) where on(r): return .splitpmd(p: p, r: r, page: index(i))
        case let .splitthp(p, r, i) where on(r): return .splitthp(p: p, r: r, page: index(i))
        case let .pin(p, r, i, g, f) where on(r): return .pin(p: p, r: r, page: index(i), g: g, flags: f)
        case let .vmsplice(p, r, i, q) where on(r): return .vmsplice(p: p, r: r, page: index(i), pipe: q)
        case let .race(lanes, s):
            return .race(lanes: lanes.map { $0.compactingPages(region: region, index: index, pages: pages) }, schedule: s)
        default: return self
        }
    }
}

extension Program {
    /// Coordinated page simplifications, most aggressive first: every region one page
    /// with every index 0; then per region name, one page; then per region name, the
    /// used indices renumbered 0, 1, … in order and the mapping shrunk to fit. (Changing
    /// one op's page or one mmap's size alone usually breaks the program; these change
    /// every op of a region together.)
    public var pageCompactions: [Program] {
        var out: [Program] = []
        func with(_ f: (Op) -> Op) -> Program { var p = self; p.ops = ops.map(f); return p }
        out.append(with { $0.compactingPages(region: nil, index: { _ in 0 }, pages: { _ in 1 }) })
        var regions: [Int] = []
        for op in ops { op.visitNames { k, x in if k == 1 && !regions.contains(x) { regions.append(x) } } }
        for r in regions {
            out.append(with { $0.compactingPages(region: r, index: { _ in 0 }, pages: { _ in 1 }) })
        }
        for r in regions {
            var used: [Int] = []
            for op in ops { if let (rr, i) = op.pageOperand, rr == r, !used.contains(i) { used.append(i) } }
            used.sort()
            guard !used.isEmpty else { continue }
            out.append(with {
                $0.compactingPages(region: r, index: { used.firstIndex(of: $0) ?? $0 }, pages: { n in min(n, used.count) })
            })
        }
        return out
    }
}

extension Program {
    /// Fewer processes: for each `fork P -> C`, the program without that fork in which
    /// every later op of `C` is done by `P` instead. A parent and child that play one
    /// role between them become one process.
    public var processMerges: [Program] {
        var out: [Program] = []
        for (i, op) in ops.enumerated() {
            guard case let .fork(p, c) = op else { continue }
            var q = self
            q.ops.remove(at: i)
            for k in i..<q.ops.count { q.ops[k] = q.ops[k].rewritten(p: { $0 == c ? p : $0 }) }
            out.append(q)
        }
        return out
    }
}
