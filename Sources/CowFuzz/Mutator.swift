import CowModel

/// Mutations of pool programs: insert, delete, duplicate, splice two programs,
/// change an operand, swap neighbours. Each mutant applies 1–4 of them. Pure
/// functions of the inputs and the `SplitMix64`.
public struct Mutator: Sendable {
    public var generator: ProgramGenerator

    public init(_ generator: ProgramGenerator) { self.generator = generator }

    public enum Kind: UInt8, CaseIterable, Sendable {
        case insert, delete, duplicate, splice, operand, swap
    }

    /// A mutant of `program`; `other` is the partner of a splice.
    public func mutate(_ program: Program, other: Program, _ rng: inout SplitMix64) -> Program {
        var p = program.bare
        let swarm = Swarm.draw(generator.config, &rng)
        let count = 1 + rng.below(4)
        for _ in 0..<count {
            let kind = Kind(rawValue: UInt8(rng.below(Kind.allCases.count)))!
            apply(kind, &p, other: other, swarm: swarm, &rng)
        }
        if p.ops.count > generator.config.maxOps { p.ops.removeSubrange(generator.config.maxOps...) }
        if p.ops.isEmpty { p = generator.generate(&rng).0 }
        return p
    }

    /// The names the generator would believe exist just before op `index`.
    func names(_ p: Program, before index: Int) -> NameState {
        var n = NameState(generator.config)
        for op in p.ops[0..<index] { n.observe(op) }
        // Values stay fresh across the whole program.
        for op in p.ops[index...] { op.visitNames { k, v in if k == 4 { n.nextValue = max(n.nextValue, v) } } }
        return n
    }

    func apply(_ kind: Kind, _ p: inout Program, other: Program, swarm: Swarm, _ rng: inout SplitMix64) {
        let n = p.ops.count
        switch kind {
        case .insert:
            let at = rng.below(n + 1)
            var names = names(p, before: at)
            p.ops.insert(generator.randomOp(swarm, &names, &rng), at: at)
        case .delete:
            guard n > 1 else { return }
            let at = rng.below(n)
            let len = 1 + rng.below(min(3, n - at))
            p.ops.removeSubrange(at..<(at + len))
        case .duplicate:
            guard n > 0 else { return }
            let from = rng.below(n)
            var op = p.ops[from]
            // A duplicated write writes a fresh value.
            var names = names(p, before: n)
            op = op.rewritten(value: { _ in names.fresh() })
            p.ops.insert(op, at: from + rng.below(n - from + 1))
        case .splice:
            guard !other.ops.isEmpty else { return }
            let cut = rng.below(n + 1)
            let from = rng.below(other.ops.count)
            p.ops = Array(p.ops[0..<cut]) + Array(other.ops[from...])
        case .operand:
            guard n > 0 else { return }
            let at = rng.below(n)
            var names = names(p, before: at)
            // Re-draw the op with the same kind, aimed at live names.
            p.ops[at] = generator.op(of: p.ops[at].kind, swarm, &names, &rng)
        case .swap:
            guard n > 1 else { return }
            let at = rng.below(n - 1)
            p.ops.swapAt(at, at + 1)
        }
    }
}
