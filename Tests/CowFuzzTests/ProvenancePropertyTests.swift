import CowFuzz
import CowModel
import CowOracle
import Testing
import TestSupport

/// The oracle judges store ids, not values: a program's verdicts and root-cause
/// signatures do not depend on which values it writes.
@Suite struct ProvenancePropertyTests {
    /// Every op kind but `ksm`, which merges pages by content and so legitimately
    /// depends on the values.
    static let gen = ProgramGenerator(GeneratorConfig(maxOps: 30, kinds: OpKind.allCases.filter { $0 != .ksm }))

    /// A value map drawn from `seed`: a permutation of 1…255, or a merge of all values
    /// into a few (0 included: a written 0 is a store of its own, not the initial zero).
    static func valueMap(seed: UInt64) -> (UInt8) -> UInt8 {
        var rng = SplitMix64(seed: seed)
        if seed % 2 == 0 {
            var perm = Array(UInt8(1)...UInt8(255))
            for k in stride(from: perm.count - 1, to: 0, by: -1) {
                perm.swapAt(k, Int(rng.next() % UInt64(k + 1)))
            }
            return { v in v == 0 ? 0 : perm[Int(v) - 1] }
        }
        let buckets = 1 + rng.next() % 3
        let offset = rng.next() % 3
        return { v in UInt8((UInt64(v) % buckets + offset) % 3) }
    }

    static func renamed(_ p: Program, _ f: (UInt8) -> UInt8) -> Program {
        var q = p
        q.ops = p.ops.map { $0.rewritten(value: f) }
        return q
    }

    /// Random programs, and corpus programs (which find something) with their mutants.
    static func programs() throws -> [Program] {
        var out = (0..<300 as Range<UInt64>).map { gen.program(seed: SplitMix64.derive(2026, $0)) }
        let corpus = try corpusFiles().map { try Program(parsing: String(contentsOf: $0, encoding: .utf8), file: $0.path).bare }
            .filter { !$0.ops.contains { $0.kind == .ksm } }
        out += corpus
        let mutator = Mutator(gen)
        var rng = SplitMix64(seed: 99)
        for k in 0..<300 {
            let m = mutator.mutate(corpus[k % corpus.count], other: corpus[(k * 7 + 3) % corpus.count], &rng)
            if !m.ops.contains(where: { $0.kind == .ksm }) { out.append(m) }
        }
        return out
    }

    @Test func renamingOrMergingValuesKeepsVerdictsAndSignatures() throws {
        let executor = DifferentialExecutor(policies: PolicyRegistry.all)
        var changedValues = 0, withFindings = 0
        let programs = try Self.programs()
        withEvery("program", in: 0..<programs.count) { k in
            let p = programs[k]
            let q = Self.renamed(p, Self.valueMap(seed: UInt64(k)))
            if q != p { changedValues += 1 }
            let a = Checker.check(p), b = Checker.check(q)
            #expect(a.map(\.verdicts) == b.map(\.verdicts), "program \(k)\n\(p.text)\n--- renamed ---\n\(q.text)")
            let sa = executor.signatures(p)
            #expect(sa == executor.signatures(q), "program \(k)\n\(p.text)\n--- renamed ---\n\(q.text)")
            if !sa.isEmpty { withFindings += 1 }
        }
        // The property is only worth something if the maps change values and the
        // programs find something.
        #expect(changedValues > programs.count / 2 && withFindings > 50, "\(changedValues) changed, \(withFindings) with findings")
    }

    /// The example: the grandchild sees the device's write made after the
    /// child diverged. By value, 1 is also an old value of the observer's own history;
    /// by store it is the pin's write, another process's store: isolation.
    @Test func aValueCoincidenceIsNotCoherence() throws {
        let p = try Program(parsing: """
        # cowfuzz 1
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        write p0 r0[0] 2
        pin p0 r0[0] -> g0 rw get
        fork p0 -> p1
        writepin g0 1
        fork p1 -> p2
        read p2 r0[0]
        """)
        let outcomes = Checker.check(p)
        #expect(outcomes.contains { $0.verdicts.contains(.isolation) })
        #expect(!outcomes.contains { $0.verdicts.contains(.coherence) })
        // With the device's value made distinct, the same verdicts.
        var q = p
        q.ops[5] = .writepin(g: 0, value: 9)
        #expect(Checker.check(q).map(\.verdicts) == outcomes.map(\.verdicts))
    }
}
