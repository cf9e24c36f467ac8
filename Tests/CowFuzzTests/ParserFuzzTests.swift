import CowFuzz
import CowModel
import Foundation
import Testing
import TestSupport

/// The parser's self-fuzz on fixed seeds: no trap, accepted texts round-trip, every
/// rejection is one short printable line (issue 15). Speed lives in `bench --parser`.
@Suite struct ParserFuzzTests {
    @Test(arguments: 0..<4 as Range<UInt64>)
    func mutatedCorpusTextsNeverBreakTheParser(seed: UInt64) throws {
        let seeds = try corpusFiles().map { try String(contentsOf: $0, encoding: .utf8) }
        #expect(seeds.count > 10)
        let stats = ParserFuzz.run(seeds: seeds, count: 3_000, seed: seed)
        #expect(stats.inputs == 3_000)
        #expect(stats.failures.isEmpty, "seed \(seed): \(stats.failures.prefix(5))")
        // The mutations reach both sides.
        #expect(stats.accepted > 100 && stats.rejected > 500, "seed \(seed): \(stats)")
    }

    @Test func mutationIsDeterministic() {
        var a = SplitMix64(seed: 9), b = SplitMix64(seed: 9)
        let t = "# cowfuzz 1\nmmap p0 r0 pages=1\nread p0 r0[0]\n"
        for _ in 0..<200 { #expect(ParserFuzz.mutate(t, other: t, &a) == ParserFuzz.mutate(t, other: t, &b)) }
    }
}
