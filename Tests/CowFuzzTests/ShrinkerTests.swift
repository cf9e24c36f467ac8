import CowFuzz
import CowModel
import CowOracle
import Testing
import TestSupport

@Suite struct ShrinkerTests {
    /// Random programs with a finding: the first `count` programs of a stream that show one.
    static func failingPrograms(seed: UInt64, count: Int) -> [(Program, Signature)] {
        let executor = DifferentialExecutor(policies: PolicyRegistry.all)
        var config = GeneratorConfig()
        config.maxOps = 30
        let gen = ProgramGenerator(config)
        var out: [(Program, Signature)] = []
        var i: UInt64 = 0
        while out.count < count && i < 20_000 {
            let p = gen.program(seed: SplitMix64.derive(seed, i))
            i += 1
            if let s = executor.signatures(p).first { out.append((p, s)) }
        }
        return out
    }

    @Test func shrunkProgramsKeepTheSignatureAreOneMinimalCanonicalAndNeverLonger() throws {
        let shrinker = Shrinker(policies: PolicyRegistry.all)
        let cases = Self.failingPrograms(seed: 11, count: 6)
        #expect(cases.count == 6)
        for (k, (original, sig)) in cases.enumerated() {
            let r = shrinker.shrink(original, keeping: sig)
            let p = r.program
            #expect(r.complete, "case \(k)")
            #expect(shrinker.hasSignature(p, sig), "case \(k): lost \(sig.text)\n\(p.text)")
            #expect(p.ops.count <= original.ops.count, "case \(k)")
            #expect(!original.isShortlexSmaller(than: p), "case \(k): result is shortlex-larger than its input")
            #expect(p.isCanonical, "case \(k): not canonical\n\(p.text)")
            for i in p.ops.indices {
                var q = p
                q.ops.remove(at: i)
                #expect(!shrinker.hasSignature(q, sig), "case \(k): removing op \(i) keeps \(sig.text): not 1-minimal\n\(p.text)")
            }
            // Deterministic: the same input shrinks to the same program.
            #expect(shrinker.shrink(original, keeping: sig).program == p, "case \(k)")
            #expect(r.predicateCalls == r.passes.reduce(0) { $0 + $1.calls })
        }
    }

    @Test func canonicalRenamingKeepsP0AndNumbersByFirstAppearance() {
        let p = program("""
        mmap p0 r2 pages=1
        write p0 r2[0] 77
        fork p0 -> p3
        vmsplice p3 r2[0] -> pipe1
        pin p0 r2[0] -> g2 rw
        write p0 r2[0] 12
        readpipe pipe1
        """)
        let c = p.canonicallyRenamed
        #expect(c.text == program("""
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        fork p0 -> p1
        vmsplice p1 r0[0] -> pipe0
        pin p0 r0[0] -> g0 rw
        write p0 r0[0] 2
        readpipe pipe0
        """).text)
        #expect(c.isCanonical)
        #expect(!p.isCanonical)
    }

    @Test func aProgramWithoutTheSignatureIsReturnedUnchanged() {
        let p = program("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nread p0 r0[0]")
        let sig = Signature(kind: .isolation, culprit: Culprit(rule: .wpMapcount, action: .reuse, page: .smallAnon, ref: .pipe, op: -1), policies: ["linux-5.7"])
        let r = Shrinker(policies: PolicyRegistry.all).shrink(p, keeping: sig)
        #expect(r.program == p.bare)
        #expect(!r.complete)
    }

    @Test func signatureTextRoundTrips() throws {
        let cause = Culprit(rule: .forkNoPinCheck, action: .share, page: .smallAnon, ref: .pin, op: 3)
        let s = Signature(kind: .coherence, culprit: cause, policies: ["linux-5.8", "linux-4.8"])
        #expect(s.policies == ["linux-4.8", "linux-5.8"])
        #expect(s.text == "coherence · copy_present_pte: share by no pin check · small anon · FOLL_PIN")
        let parsed = try #require(Signature(text: s.text))
        #expect(parsed == s && parsed.text == s.text)
        // The policies are the era range beside the identity, not part of it.
        #expect(Signature(kind: .coherence, culprit: cause, policies: ["linux-5.9"]) == s)
        #expect(Signature(kind: .isolation, culprit: cause, policies: ["linux-4.8"]) != s)
        let eras = ["linux-4.8", "linux-5.7", "linux-5.8", "linux-5.9", "linux-5.18", "linux-5.19", "linux-6.x"]
        #expect(s.eraRange(among: eras) == "linux-4.8, linux-5.8, fixed in linux-5.9")
        #expect(Signature.eraRange(["linux-4.8", "linux-5.7"], among: eras) == "linux-4.8 … linux-5.7, fixed in linux-5.8")
        #expect(Signature.eraRange(["linux-5.19", "linux-6.x"], among: eras) == "linux-5.19 … linux-6.x, not fixed")
        let leak = Signature(kind: .leak, culprit: Culprit(rule: .wpHugetlbMapcount, action: .reuse, page: .hugetlb, ref: .pipe, op: 1), policies: ["linux-6.x"])
        #expect(Signature(text: leak.text) == leak)
        let integrity = Signature(kind: .integrity, opKind: .fork, policies: ["linux-6.x"])
        #expect(Signature(text: integrity.text) == integrity)
        #expect(s.hash.count == 8 && s.hash == Signature(text: s.text)!.hash)
        #expect(s.fileStem.hasPrefix("coherence-forkNoPinCheck-share-smallAnon-pin-"))
        #expect(Signature(text: "isolation · no such site · small anon · pipe") == nil)
    }
}
