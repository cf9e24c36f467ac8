import CowModel

/// The bounds and choices of random programs.
///
/// Small universes make deep states likely: a few processes, regions of a few pages,
/// a few pins and pipes, so most ops act on names that exist. `kinds` is the set of op
/// kinds allowed (`--ops`); with `swarm` each program draws its own subset and
/// weights from it (Groce et al., "Swarm testing", ISSTA 2012).
public struct GeneratorConfig: Hashable, Sendable, Codable {
    /// Programs have `minOps...maxOps` ops (`maxOps` exactly when `fixedLength`).
    public var maxOps: Int = 40
    public var minOps: Int = 4
    public var fixedLength = false
    public var kinds: [OpKind] = OpKind.allCases
    /// The kinds of mapping `mmap` makes (`--backings`).
    public var mappings: [MappingKind] = MappingKind.allCases
    public var swarm = true
    public var processes = 4
    public var regions = 3
    public var pages = 4
    public var pins = 3
    public var pipes = 2

    public init(maxOps: Int = 40, kinds: [OpKind] = OpKind.allCases, swarm: Bool = true) {
        self.maxOps = maxOps
        self.minOps = min(4, maxOps)
        self.kinds = kinds
        self.swarm = swarm
    }

    /// The base weight of each op kind: base-page ops dominate so the classic era bugs
    /// are found fast; THP, hugetlb, KSM, swap, migration and races stay present but rare.
    public static func baseWeight(_ k: OpKind) -> UInt16 {
        switch k {
        case .write: 16
        case .read: 10
        case .fork: 9
        case .pin: 8
        case .mmap: 5
        case .vmsplice: 6
        case .readpipe: 6
        case .readpin: 7
        case .writepin: 4
        case .munmap: 5
        case .mprotect: 4
        case .madvise: 4
        case .pokemem: 3
        case .exit: 3
        case .unpin: 2
        case .mremap: 2
        case .ksm, .migrate, .swapout, .splitpmd, .splitthp: 1
        case .race: 1
        }
    }
}

/// The op kinds and weights one program draws from: recorded in findings so a person
/// sees what the program was made of; replayed by the program's seed.
public struct Swarm: Hashable, Sendable {
    /// Weight per `OpKind.rawValue` (0: not drawn).
    public var weights: [UInt16]
    public var total: Int

    public init(weights: [UInt16]) {
        self.weights = weights
        total = weights.reduce(0) { $0 + Int($1) }
    }

    /// The kinds present, in canonical order.
    public var kinds: [OpKind] { OpKind.allCases.filter { weights[Int($0.rawValue)] > 0 } }

    /// Every allowed kind at its base weight (`--no-swarm`).
    public static func full(_ config: GeneratorConfig) -> Swarm {
        var w = [UInt16](repeating: 0, count: OpKind.allCases.count)
        for k in config.kinds { w[Int(k.rawValue)] = GeneratorConfig.baseWeight(k) }
        if !config.hasRaceLanes { w[Int(OpKind.race.rawValue)] = 0 }
        return Swarm(weights: w)
    }

    /// A swarm draw: each allowed kind is kept with probability 1/2 and its weight
    /// scaled by 1…3; `mmap`, `write` and `fork` stay likely, and at least one
    /// observing kind is kept so a program can show a wrong value.
    public static func draw(_ config: GeneratorConfig, _ rng: inout SplitMix64) -> Swarm {
        guard config.swarm else { return full(config) }
        var w = [UInt16](repeating: 0, count: OpKind.allCases.count)
        var observing = false
        for k in config.kinds {
            let core = k == .write || k == .fork || k == .mmap
            guard core ? rng.chance(85) : rng.chance(50) else { continue }
            w[Int(k.rawValue)] = GeneratorConfig.baseWeight(k) * UInt16(1 + rng.below(3))
            if k.observes { observing = true }
        }
        if !observing {
            let obs = config.kinds.filter(\.observes)
            if !obs.isEmpty {
                let k = obs[rng.below(obs.count)]
                w[Int(k.rawValue)] = GeneratorConfig.baseWeight(k) * 2
            }
        }
        if !config.hasRaceLanes { w[Int(OpKind.race.rawValue)] = 0 }
        var s = Swarm(weights: w)
        if s.total == 0 { s = full(config) }
        return s
    }
}

/// What the generator believes about the names of a program so far: which processes
/// are alive, which regions each maps (and how large), which pins are held and how
/// full each pipe is. An approximation (it does not run the machine), good enough to
/// make most ops act on names that exist.
public struct NameState: Sendable {
    public var alive: UInt64 = 1
    /// Per process: the bitmask of region names it maps.
    public var regions: [UInt64]
    /// Pages of each region name as last mapped.
    public var pages: [Int]
    public var pins: UInt64 = 0
    public var pipeFill: [Int]
    public var nextValue: Int = 0

    public init(_ config: GeneratorConfig) {
        regions = [UInt64](repeating: 0, count: Limits.names)
        pages = [Int](repeating: 1, count: Limits.names)
        pipeFill = [Int](repeating: 0, count: Limits.names)
    }

    /// A value not written yet (1…255, wrapping), so an observation names its write.
    public mutating func fresh() -> UInt8 {
        nextValue = nextValue >= 255 ? 1 : nextValue + 1
        return UInt8(nextValue)
    }

    /// Updates the belief after `op`.
    public mutating func observe(_ op: Op) {
        switch op {
        case let .mmap(p, r, n, _, _):
            if alive & bit(p) != 0 { regions[p] |= bit(r); pages[r] = n }
        case let .munmap(p, r, range):
            if range == nil { regions[p] &= ~bit(r) }
        case let .mremap(p, r, to, _):
            if regions[p] & bit(r) != 0 { regions[p] = (regions[p] & ~bit(r)) | bit(to); pages[to] = pages[r] }
        case let .fork(p, c):
            if alive & bit(p) != 0 && alive & bit(c) == 0 { alive |= bit(c); regions[c] = regions[p] }
        case let .exit(p):
            alive &= ~bit(p); regions[p] = 0
        case let .pin(p, r, _, g, _):
            if regions[p] & bit(r) != 0 { pins |= bit(g) }
        case let .unpin(g):
            pins &= ~bit(g)
        case let .vmsplice(_, _, _, pipe):
            pipeFill[pipe] += 1
        case let .readpipe(pipe):
            pipeFill[pipe] = max(0, pipeFill[pipe] - 1)
        case let .write(_, _, _, v), let .pokemem(_, _, _, v), let .writepin(_, v):
            nextValue = max(nextValue, Int(v))
        case let .race(lanes, _):
            for l in lanes { observe(l) }
        default:
            break
        }
    }

    @inline(__always) func bit(_ i: Int) -> UInt64 { i < 64 ? 1 &<< UInt64(i) : 0 }
}

/// Makes random programs and random ops. A value type: pure functions of the
/// config, the swarm and the `SplitMix64` passed in.
public struct ProgramGenerator: Sendable {
    public var config: GeneratorConfig

    public init(_ config: GeneratorConfig = GeneratorConfig()) { self.config = config }

    /// A fresh random program and the swarm it was drawn from.
    public func generate(_ rng: inout SplitMix64) -> (Program, Swarm) {
        let swarm = Swarm.draw(config, &rng)
        let n = config.fixedLength ? config.maxOps : config.minOps + rng.below(config.maxOps - config.minOps + 1)
        var names = NameState(config)
        var ops: [Op] = []
        ops.reserveCapacity(n)
        var first = Op.mmap(p: 0, r: 0, pages: 1 + rng.below(config.pages), backing: .anon, huge: .none)
        if !config.mappings.contains(.anon), let m = config.mappings.first {
            first = mmap(p: 0, r: 0, m, &rng)
        }
        if config.kinds.contains(.mmap) || config.kinds.isEmpty {
            ops.append(first)
            names.observe(first)
        }
        while ops.count < n {
            let op = randomOp(swarm, &names, &rng)
            names.observe(op)
            ops.append(op)
        }
        return (Program(ops: ops), swarm)
    }

    /// The program for a seed: `generate` from `SplitMix64(seed:)`.
    public func program(seed: UInt64) -> Program {
        var rng = SplitMix64(seed: seed)
        return generate(&rng).0
    }

    /// One random op of a kind drawn from `swarm`, aimed at names `names` believes exist.
    public func randomOp(_ swarm: Swarm, _ names: inout NameState, _ rng: inout SplitMix64) -> Op {
        let kind = swarm.weights.withUnsafeBufferPointer { OpKind(rawValue: UInt8(rng.weighted($0, total: swarm.total)))! }
        return op(of: kind, swarm, &names, &rng)
    }

    func pickBit(_ mask: UInt64, _ rng: inout SplitMix64) -> Int? {
        let n = mask.nonzeroBitCount
        guard n > 0 else { return nil }
        var k = rng.below(n)
        var m = mask
        while true {
            let t = m.trailingZeroBitCount
            if k == 0 { return t }
            k -= 1
            m &= m - 1
        }
    }

    /// A process: alive with 90% probability, else any in bounds.
    func process(_ names: NameState, _ rng: inout SplitMix64) -> Int {
        if rng.chance(92), let p = pickBit(names.alive, &rng) { return p }
        return rng.below(config.processes)
    }

    /// A process and one of its regions, mostly both existing.
    func procRegion(_ names: NameState, _ rng: inout SplitMix64) -> (Int, Int) {
        if rng.chance(92) {
            var withRegions: UInt64 = 0
            var m = names.alive
            while m != 0 {
                let p = m.trailingZeroBitCount
                if names.regions[p] != 0 { withRegions |= 1 &<< UInt64(p) }
                m &= m - 1
            }
            if let p = pickBit(withRegions, &rng), let r = pickBit(names.regions[p], &rng) { return (p, r) }
        }
        return (process(names, &rng), rng.below(config.regions))
    }

    func page(_ r: Int, _ names: NameState, _ rng: inout SplitMix64) -> Int {
        rng.chance(95) ? rng.below(max(1, min(names.pages[r], Limits.pages))) : rng.below(config.pages)
    }

    func range(_ r: Int, _ names: NameState, _ rng: inout SplitMix64) -> PageRange? {
        let n = names.pages[r]
        guard n > 1, rng.chance(30) else { return nil }
        let from = rng.below(n)
        return PageRange(from: from, count: 1 + rng.below(n - from))
    }

    func pin(_ names: NameState, _ rng: inout SplitMix64) -> Int {
        if rng.chance(90), let g = pickBit(names.pins, &rng) { return g }
        return rng.below(config.pins)
    }

    func freshPin(_ names: NameState, _ rng: inout SplitMix64) -> Int {
        let free = ~names.pins & ((1 &<< UInt64(config.pins)) - 1)
        return pickBit(free, &rng) ?? rng.below(config.pins)
    }

    func fullPipe(_ names: NameState, _ rng: inout SplitMix64) -> Int {
        var m: UInt64 = 0
        for q in 0..<config.pipes where names.pipeFill[q] > 0 { m |= 1 &<< UInt64(q) }
        if rng.chance(90), let q = pickBit(m, &rng) { return q }
        return rng.below(config.pipes)
    }

    /// An `mmap` of a kind of mapping. A huge mapping gets whole huge pages of the
    /// default order: a THP needs an aligned block, and hugetlb refuses anything else.
    func mmap(p: Int, r: Int, _ kind: MappingKind, _ rng: inout SplitMix64) -> Op {
        let hugeNr = 1 << Program.defaultThpOrder
        let pages = kind.huge == .none ? 1 + rng.below(config.pages) : max(hugeNr, config.pages / hugeNr * hugeNr)
        return .mmap(p: p, r: r, pages: pages, backing: kind.backing, huge: kind.huge)
    }

    /// One op of `kind`.
    public func op(of kind: OpKind, _ swarm: Swarm, _ names: inout NameState, _ rng: inout SplitMix64) -> Op {
        switch kind {
        case .mmap:
            let p = process(names, &rng)
            // Prefer a region name this process does not map yet.
            let free = ~names.regions[p] & ((1 &<< UInt64(config.regions)) - 1)
            let r = pickBit(free, &rng) ?? rng.below(config.regions)
            let roll = rng.below(100)
            let backing: Backing = roll < 76 ? .anon : roll < 88 ? .shared : .file
            var huge = HugeKind.none
            if backing == .anon, rng.chance(12) { huge = rng.chance(60) ? .thp : .hugetlb }
            var kind = MappingKind(backing: backing, huge: huge)
            // Outside --backings: one of the allowed kinds instead (the same draws otherwise).
            if !config.mappings.contains(kind), !config.mappings.isEmpty {
                kind = config.mappings[rng.below(config.mappings.count)]
            }
            return mmap(p: p, r: r, kind, &rng)
        case .munmap:
            let (p, r) = procRegion(names, &rng)
            return .munmap(p: p, r: r, range: range(r, names, &rng))
        case .mprotect:
            let (p, r) = procRegion(names, &rng)
            return .mprotect(p: p, r: r, writable: rng.chance(50), range: range(r, names, &rng))
        case .mremap:
            let (p, r) = procRegion(names, &rng)
            let free = ~names.regions[p] & ((1 &<< UInt64(config.regions)) - 1)
            let to = pickBit(free, &rng) ?? rng.below(config.regions)
            return .mremap(p: p, r: r, to: to, range: range(r, names, &rng))
        case .madvise:
            let (p, r) = procRegion(names, &rng)
            let common: [Advice] = [.dontneed, .dontfork, .dofork, .wipeonfork]
            let advice = rng.chance(80) ? common[rng.below(common.count)] : Advice.allCases[rng.below(Advice.allCases.count)]
            return .madvise(p: p, r: r, advice: advice, range: range(r, names, &rng))
        case .write:
            let (p, r) = procRegion(names, &rng)
            return .write(p: p, r: r, page: page(r, names, &rng), value: names.fresh())
        case .read:
            let (p, r) = procRegion(names, &rng)
            return .read(p: p, r: r, page: page(r, names, &rng))
        case .fork:
            let p = process(names, &rng)
            let dead = ~names.alive & ((1 &<< UInt64(config.processes)) - 1)
            let c = rng.chance(90) ? (pickBit(dead, &rng) ?? rng.below(config.processes)) : rng.below(config.processes)
            return .fork(p: p, child: c)
        case .exit:
            // Exiting p0 early ends most programs: prefer children.
            let p = process(names, &rng)
            return .exit(p: p == 0 && rng.chance(70) ? process(names, &rng) : p)
        case .pin:
            let (p, r) = procRegion(names, &rng)
            var flags: PinFlags = []
            if rng.chance(50) { flags.insert(.rw) }
            if rng.chance(40) { flags.insert(.longterm) }
            if rng.chance(20) { flags.insert(.fast) }
            if rng.chance(20) { flags.insert(.get) }
            return .pin(p: p, r: r, page: page(r, names, &rng), g: freshPin(names, &rng), flags: flags)
        case .unpin:
            return .unpin(g: pin(names, &rng))
        case .readpin:
            return .readpin(g: pin(names, &rng))
        case .writepin:
            return .writepin(g: pin(names, &rng), value: names.fresh())
        case .vmsplice:
            let (p, r) = procRegion(names, &rng)
            return .vmsplice(p: p, r: r, page: page(r, names, &rng), pipe: rng.below(config.pipes))
        case .readpipe:
            return .readpipe(pipe: fullPipe(names, &rng))
        case .pokemem:
            let (p, r) = procRegion(names, &rng)
            return .pokemem(p: p, r: r, page: page(r, names, &rng), value: names.fresh())
        case .ksm:
            return .ksm
        case .migrate:
            let (p, r) = procRegion(names, &rng)
            return .migrate(p: p, r: r, page: page(r, names, &rng))
        case .swapout:
            let (p, r) = procRegion(names, &rng)
            return .swapout(p: p, r: r, page: page(r, names, &rng))
        case .splitpmd:
            let (p, r) = procRegion(names, &rng)
            return .splitpmd(p: p, r: r, page: page(r, names, &rng))
        case .splitthp:
            let (p, r) = procRegion(names, &rng)
            return .splitthp(p: p, r: r, page: page(r, names, &rng))
        case .race:
            // RaceGeneration.swift: interleavable paths and their opponents, one mm mostly.
            return raceOp(swarm, &names, &rng)
        }
    }
}
