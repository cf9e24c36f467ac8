import CowModel

/// Random races: lanes drawn from the ops that have interleaving points (the GUP retry
/// loop of `pokemem`, GUP-fast `pin … fast`, `fork`) and the ops they race with (zaps,
/// unmaps, writes), mostly on one process (threads of one mm), with a random schedule.
/// A small race's schedules are few: `allSchedules` lists them for exhaustive runs.
extension ProgramGenerator {
    /// Lane kinds and weights: the interleavable paths and their usual opponents.
    static let raceLaneKinds: [(OpKind, Int)] = [
        (.pokemem, 4), (.madvise, 4), (.pin, 4), (.fork, 3), (.write, 2), (.munmap, 1),
        (.mprotect, 1), (.vmsplice, 1), (.exit, 1), (.unpin, 1),
    ]

    /// `raceLaneKinds` as a bitmask of `OpKind.rawValue`.
    static let raceLaneMask: UInt32 = raceLaneKinds.reduce(0) { $0 | 1 << UInt32($1.0.rawValue) }

    /// A race of 2 (sometimes 3) lanes with a random schedule.
    /// Lanes are drawn only from the run's op kinds (`--ops`); a swarm never draws a
    /// race when none of them is a lane kind (`GeneratorConfig.hasRaceLanes`).
    public func raceOp(_ swarm: Swarm, _ names: inout NameState, _ rng: inout SplitMix64) -> Op {
        let n = rng.chance(15) ? 3 : 2
        var lanes: [Op] = []
        var first: Int?
        let laneKinds = config.raceLaneKinds
        let total = laneKinds.reduce(0) { $0 + $1.1 }
        for _ in 0..<n {
            var pick = rng.below(total)
            var kind = laneKinds[0].0
            for (k, w) in laneKinds {
                if pick < w { kind = k; break }
                pick -= w
            }
            var lane = op(of: kind, swarm, &names, &rng)
            // Threads of one process race most often.
            if let p0 = first, rng.chance(70) { lane = lane.onProcess(p0) }
            switch lane {
            case let .madvise(p, r, _, range) where rng.chance(80):
                lane = .madvise(p: p, r: r, advice: .dontneed, range: range)
            case let .pin(p, r, i, g, f) where rng.chance(75):
                lane = .pin(p: p, r: r, page: i, g: g, flags: f.union(.fast))
            default:
                break
            }
            if first == nil { first = lane.process }
            lanes.append(lane)
        }
        return .race(lanes: lanes, schedule: Self.randomSchedule(lanes: n, &rng))
    }

    /// Short schedules: the interesting interleavings switch lanes once or twice early.
    static func randomSchedule(lanes n: Int, _ rng: inout SplitMix64) -> [UInt8] {
        if rng.chance(40) {
            // One switch: a lane runs k steps, then another takes one.
            let a = rng.below(n)
            var b = rng.below(n - 1)
            if b >= a { b += 1 }
            return Array(repeating: UInt8(a), count: 1 + rng.below(3)) + [UInt8(b)]
        }
        return (0..<rng.below(7)).map { _ in UInt8(rng.below(n)) }
    }

    /// Every schedule of `n` lanes up to `maxLength` entries, shortest first (schedules
    /// longer than the lanes' steps only repeat shorter ones, so a small bound is exhaustive
    /// for small races).
    public static func allSchedules(lanes n: Int, maxLength: Int) -> [[UInt8]] {
        var out: [[UInt8]] = [[]]
        var frontier: [[UInt8]] = [[]]
        for _ in 0..<maxLength {
            var next: [[UInt8]] = []
            for s in frontier { for l in 0..<n { next.append(s + [UInt8(l)]) } }
            out += next
            frontier = next
        }
        return out
    }
}

extension GeneratorConfig {
    /// The race lane kinds and weights of the run's op kinds.
    var raceLaneKinds: [(OpKind, Int)] { ProgramGenerator.raceLaneKinds.filter { kinds.contains($0.0) } }
    /// Whether a race can be drawn: some lane kind is among the op kinds (no allocation:
    /// every swarm draw asks).
    var hasRaceLanes: Bool {
        for k in kinds where ProgramGenerator.raceLaneMask & (1 << UInt32(k.rawValue)) != 0 { return true }
        return false
    }
}

extension Op {
    /// The same op acting as process `p` (ops without a process are unchanged).
    func onProcess(_ p: Int) -> Op {
        guard process != nil else { return self }
        if case let .fork(_, c) = self { return .fork(p: p, child: c == p ? c + 1 : c) }
        return rewritten(p: { _ in p }, r: { $0 }, g: { $0 }, pipe: { $0 }, value: { $0 })
    }
}
