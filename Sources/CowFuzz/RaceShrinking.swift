import CowModel

/// Shrinking races: simpler schedules and fewer lanes (as operand variants), and races
/// turned back into plain ops when the finding does not need the interleaving.
extension Op {
    /// Simpler variants of a race, simplest first: a lane fewer (two lanes at least),
    /// the schedule cut short (the rest runs in lane order), fewer switches (an entry
    /// takes its predecessor's lane), earlier switches (two different neighbours swap
    /// so the lower lane goes first).
    public func raceSimplerVariants() -> [Op] {
        guard case let .race(lanes, s) = self else { return [] }
        var out: [Op] = []
        if lanes.count > 2 {
            for k in lanes.indices {
                var l = lanes
                l.remove(at: k)
                let s2 = s.compactMap { $0 == UInt8(k) ? nil : ($0 > UInt8(k) ? $0 - 1 : $0) }
                out.append(.race(lanes: l, schedule: s2))
            }
        }
        for n in 0..<s.count { out.append(.race(lanes: lanes, schedule: Array(s.prefix(n)))) }
        for k in 1..<max(1, s.count) where s[k] != s[k - 1] {
            var s2 = s
            s2[k] = s[k - 1]
            out.append(.race(lanes: lanes, schedule: s2))
        }
        for k in 1..<max(1, s.count) where s[k] < s[k - 1] {
            var s2 = s
            s2.swapAt(k, k - 1)
            out.append(.race(lanes: lanes, schedule: s2))
        }
        return out
    }
}

extension Program {
    /// The program with one race replaced by its lanes as plain ops (in lane order, then
    /// reversed), for each race: candidates that show a finding does not need a race.
    public func sequentializedRaces() -> [Program] {
        var out: [Program] = []
        for (i, op) in ops.enumerated() {
            guard case let .race(lanes, _) = op else { continue }
            for order in [lanes, lanes.reversed()] {
                var c = self
                c.ops.replaceSubrange(i...i, with: order)
                out.append(c)
            }
        }
        return out
    }
}
