import CowFuzz
import CowModel
import Testing
import TestSupport

/// Issue "races", done means: fuzzing with races enabled rediscovers Dirty COW from a
/// random seed and shrinks it to a race of two ops plus the few setup ops it needs.
@Suite struct RaceRediscoveryTests {
    @Test(arguments: [12345] as [UInt64])
    func fuzzingRediscoversDirtyCowAndShrinksIt(seed: UInt64) throws {
        var c = CampaignConfig()
        c.seed = seed
        c.runs = 20_000
        c.jobs = 2
        c.generator.maxOps = 16
        c.generator.kinds = [.mmap, .mprotect, .madvise, .pokemem, .read, .fork, .race]
        let r = Campaign(c).run()
        // Dirty COW: a FOLL_FORCE write whose retry dropped FOLL_WRITE reaches the file or
        // the zero page, seen by a read, on linux-4.8 only.
        let f = try #require(r.findings.first { $0.signature.kind == .isolation && $0.signature.rule == .forceDropWrite },
                             "found: \(r.findings.map(\.signature.text))")
        #expect(f.signature.policies == ["linux-4.8"])
        #expect([PageKind.pageCache, .zero].contains(f.signature.page) && f.signature.ref == .force)
        let races = f.program.ops.filter { if case .race = $0 { true } else { false } }
        #expect(races.count == 1, "\(f.program.text)")
        if case let .race(lanes, _) = races.first {
            #expect(lanes.count == 2)
            #expect(lanes.contains { $0.kind == .pokemem } && lanes.contains { $0.kind == .madvise }, "\(f.program.text)")
        }
        #expect(f.program.ops.count <= 7, "\(f.program.text)")
        // The reproducer replays to the same verdicts from its text.
        let again = try Program(parsing: f.program.text)
        #expect(again == f.program.bare)
    }
}
