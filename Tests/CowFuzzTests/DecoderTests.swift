import CowFuzz
import CowModel
import CowOracle
import Testing
import TestSupport

/// The libFuzzer input format: every byte string decodes, decoding is local, and
/// encoding is its inverse on the universe it covers.
@Suite struct DecoderTests {
    static func randomBytes(seed: UInt64, maxLength: Int) -> [UInt8] {
        var rng = TestRng(seed: seed)
        return (0..<rng.below(maxLength + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    @Test func everyByteStringDecodesToAValidProgram() throws {
        try withEvery("seed", in: 0..<400 as Range<UInt64>) { seed in
            let bytes = Self.randomBytes(seed: seed, maxLength: 260)
            let p = ByteDecoder.decode(bytes)
            #expect(p.ops.count == min(ByteDecoder.maxOps, (bytes.count + 2) / 3))
            // A valid program: its text parses back to it, and it runs on every policy.
            let parsed = try Program(parsing: p.text)
            #expect(parsed == p)
            #expect(ByteDecoder.represents(p))
            // decode ∘ encode is stable.
            #expect(ByteDecoder.decode(ByteDecoder.encode(p)) == p)
            #expect(ByteDecoder.encode(ByteDecoder.decode(ByteDecoder.encode(p))) == ByteDecoder.encode(p))
        }
    }

    @Test func decodedProgramsRunOnEveryPolicy() {
        let checker = ProgramChecker()
        withEvery("seed", in: 0..<60 as Range<UInt64>) { seed in
            let p = ByteDecoder.decode(Self.randomBytes(seed: seed, maxLength: 120))
            let outcomes = checker.check(p)
            #expect(outcomes.count == PolicyRegistry.all.count)
            #expect(outcomes.allSatisfy { $0.result.trace.statuses.count == p.ops.count })
        }
    }

    @Test func edgeCases() {
        #expect(ByteDecoder.decode([UInt8]()).ops.isEmpty)
        #expect(ByteDecoder.decode([0]).ops == [.mmap(p: 0, r: 0, pages: 1, backing: .anon, huge: .none)])
        #expect(ByteDecoder.decode([UInt8](repeating: 0xFF, count: 10_000)).ops.count == ByteDecoder.maxOps)
    }

    @Test func oneByteChangesAtMostOneOp() {
        withEvery("seed", in: 0..<200 as Range<UInt64>) { seed in
            var rng = TestRng(seed: seed &+ 1000)
            var bytes = Self.randomBytes(seed: seed, maxLength: 90)
            guard !bytes.isEmpty else { return }
            let before = ByteDecoder.decode(bytes).ops
            bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
            let after = ByteDecoder.decode(bytes).ops
            #expect(before.count == after.count)
            #expect(zip(before, after).filter { $0 != $1 }.count <= 1)
        }
    }

    @Test func encodeIsInverseOnGeneratedPrograms() {
        var gen = RandomPrograms()
        gen.processes = 3
        gen.regions = 2
        gen.maxPages = 3
        withEvery("seed", in: 0..<300 as Range<UInt64>) { seed in
            let p = gen.make(seed: seed, length: 1 + Int(seed % 40))
            #expect(ByteDecoder.represents(p))
            #expect(ByteDecoder.decode(ByteDecoder.encode(p)) == p)
        }
    }

    @Test func programsOutsideTheUniverseStillEncode() {
        let p = program("""
        mmap p5 r3 pages=9
        fork p5 -> p7
        write p7 r3[6] 9
        """)
        #expect(!ByteDecoder.represents(p))
        let q = ByteDecoder.decode(ByteDecoder.encode(p))
        #expect(q.ops.count == 3)
        #expect(ByteDecoder.decode(ByteDecoder.encode(q)) == q)
    }

    static let cve = program("""
    \(cve2020_29374)
    """)

    @Test func theEntryTrapsOnTheCVEAndHonoursItsRule() throws {
        let bytes = ByteDecoder.encode(Self.cve)
        #expect(bytes.count == 21)
        let any = LibFuzzerEntry()
        let trap = try #require(any.test(bytes))
        #expect(trap.signature.text == "isolation · do_wp_page: reuse by mapcount · small anon · pipe")
        #expect(trap.signature.policies == ["linux-4.8", "linux-5.7"])
        #expect(trap.text.contains("@expect linux-5.7 isolation"))
        #expect(trap.text.contains("vmsplice p1 r0[0] -> pipe0"))
        // Only findings on linux-6.x: none here.
        let current = LibFuzzerEntry(rule: try TrapRule.parse("linux-6.x").get())
        #expect(current.test(bytes) == nil)
        // A known signature does not trap.
        let knownEntry = LibFuzzerEntry(known: [trap.signature.text])
        #expect(knownEntry.test(bytes) == nil)
    }

    @Test func trapRules() throws {
        #expect(try TrapRule.parse("any").get().items.isEmpty)
        let r = try TrapRule.parse("coherence@linux-5.9,linux-6.x,leak").get()
        #expect(r.description == "coherence@linux-5.9,linux-6.x,leak")
        let s = Signature(kind: .coherence, policies: ["linux-5.9", "linux-5.18"])
        #expect(r.matches(s))
        #expect(!r.matches(Signature(kind: .isolation, policies: ["linux-5.9"])))
        #expect(r.matches(Signature(kind: .leak, policies: ["linux-4.8"])))
        #expect(throws: TrapRuleError.self) { try TrapRule.parse("linux-9.9").get() }
        #expect(throws: TrapRuleError.self) { try TrapRule.parse("stale@linux-5.9").get() }
    }
}
