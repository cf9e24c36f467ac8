import CowFuzz
import CowModel
import CowOracle
import Testing
import TestSupport

/// The run's alphabet (`--ops`, `--backings`, issue 14 item 7): what the generator, the
/// campaign's seeds and the shrinker may use.
@Suite struct AlphabetTests {
    /// A random alphabet: a random subset of op kinds with one observing kind, and a
    /// random non-empty subset of mappings.
    static func randomConfig(_ rng: inout SplitMix64) -> GeneratorConfig {
        var c = GeneratorConfig()
        var kinds = OpKind.allCases.filter { _ in rng.chance(40) }
        if !kinds.contains(where: \.observes) { kinds.append([OpKind.read, .readpin, .readpipe][rng.below(3)]) }
        c.kinds = kinds.sorted()
        var mappings = MappingKind.allCases.filter { _ in rng.chance(40) }
        if mappings.isEmpty { mappings = [MappingKind.allCases[rng.below(MappingKind.allCases.count)]] }
        c.mappings = mappings
        c.swarm = rng.chance(70)
        return c
    }

    @Test("every generated op, race lanes included, and every mapping is inside --ops and --backings")
    func generatedProgramsStayInsideTheAlphabet() {
        var rng = SplitMix64(seed: 14_7)
        var races = 0, huge = 0
        for _ in 0..<300 {
            let c = Self.randomConfig(&rng)
            let alphabet = Alphabet(c)
            let gen = ProgramGenerator(c)
            for k in 0..<40 {
                let p = gen.program(seed: SplitMix64.derive(rng.next(), UInt64(k)))
                #expect(alphabet.admits(p), "kinds \(c.kinds.map(\.name)) mappings \(c.mappings.map(\.name)):\n\(p.text)")
                for op in p.ops {
                    if case .race = op { races += 1 }
                    if case let .mmap(_, _, _, _, h) = op, h != .none { huge += 1 }
                }
            }
        }
        // The property is not vacuous: races and huge mappings were drawn.
        #expect(races > 0 && huge > 0)
    }

    @Test("a race is drawn only when a lane kind is among the op kinds")
    func noRaceWithoutLaneKinds() {
        var c = GeneratorConfig()
        c.kinds = [.race, .read, .mmap, .readpin]
        let gen = ProgramGenerator(c)
        for k in 0..<200 {
            let p = gen.program(seed: UInt64(k))
            #expect(!p.ops.contains { $0.kind == .race }, "\(p.text)")
        }
        c.kinds = [.race, .read, .mmap, .write, .pokemem]
        let lanes = ProgramGenerator(c)
        var seen = false
        for k in 0..<400 {
            for case let .race(ls, _) in lanes.program(seed: UInt64(k)).ops {
                seen = true
                #expect(ls.allSatisfy { $0.kind == .write || $0.kind == .pokemem })
            }
        }
        #expect(seen)
    }

    @Test("the shrinker keeps a mapping of the alphabet that an anonymous one would also reproduce")
    func shrinkerNeverLeavesTheAlphabet() throws {
        // CVE-2020-29374 on a one-page THP region (too small for a huge page: it behaves
        // as plain anon memory, so without an alphabet the shrinker makes it plain anon).
        let p = program("mmap p0 r0 pages=1 thp\nwrite p0 r0[0] 1\nfork p0 -> p1\nvmsplice p1 r0[0] -> pipe0\nmunmap p1 r0\nwrite p0 r0[0] 2\nreadpipe pipe0")
        let shrinker = Shrinker(policies: [PolicyRegistry.named("linux-5.7")!])
        let sig = try #require(shrinker.executor.signatures(p).first)
        let free = shrinker.shrink(p, keeping: sig).program
        #expect(free.ops.contains { if case .mmap(_, _, _, .anon, HugeKind.none) = $0 { true } else { false } },
                "without an alphabet the mapping becomes plain anon:\n\(free.text)")
        shrinker.alphabet = Alphabet(kinds: OpKind.allCases, mappings: [.thp])
        let kept = shrinker.shrink(p, keeping: sig)
        #expect(Alphabet(kinds: OpKind.allCases, mappings: [.thp]).admits(kept.program), "\(kept.program.text)")
        #expect(shrinker.hasSignature(kept.program, sig))
    }

    @Test("a campaign with --backings seeds its pools only from corpus programs inside it and finds in it")
    func campaignRespectsTheAlphabet() {
        var c = CampaignConfig()
        c.seed = 3
        c.runs = 512
        c.jobs = 2
        c.generator.mappings = [.anon, .thp]
        c.corpusDir = packageRoot.appendingPathComponent("corpus").path
        let alphabet = Alphabet(c.generator)
        let campaign = Campaign(c)
        nonisolated(unsafe) var seeds: [Program] = []
        campaign.onSeeds = { seeds = $0 }
        let r = campaign.run()
        #expect(!seeds.isEmpty && seeds.count < corpusFiles().count, "some corpus programs are inside, some outside")
        for s in seeds { #expect(alphabet.admits(s), "a seed outside --backings:\n\(s.text)") }
        for f in r.findings where f.status == .new {
            #expect(alphabet.admits(f.program), "\(f.signature.text):\n\(f.program.text)")
        }
        #expect(r.stats.programs == 512)
        #expect(r.findings.contains { $0.status == .new }, "the property is not vacuous")
    }

    @Test func backingsOptionParses() throws {
        #expect(try FuzzOptions.mappings("thp,anon,thp") == [.anon, .thp])
        #expect(throws: OptionError.self) { try FuzzOptions.mappings("anon,,file") }
        #expect(throws: OptionError.self) { try FuzzOptions.mappings("shmem") }
        #expect(throws: OptionError.self) { try FuzzOptions.mappings("") }
    }
}
