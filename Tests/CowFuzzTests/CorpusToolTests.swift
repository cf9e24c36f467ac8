import CowFuzz
import CowModel
import CowOracle
import Foundation
import Testing
import TestSupport

/// `cowfuzz corpus merge` and `minimize`.
@Suite struct CorpusToolTests {
    static let cve = """
    # cowfuzz 1
    \(cve2020_29374)

    """
    /// The same bug with two ops that change nothing.
    static let cveLonger = """
    # cowfuzz 1
    mmap p0 r0 pages=1
    write p0 r0[0] 1
    read p0 r0[0]
    fork p0 -> p1
    vmsplice p1 r0[0] -> pipe0
    read p1 r0[0]
    munmap p1 r0
    write p0 r0[0] 2
    readpipe pipe0

    """
    static let rdma = """
    # cowfuzz 1
    mmap p0 r0 pages=1
    write p0 r0[0] 1
    pin p0 r0[0] -> g0 rw longterm
    fork p0 -> p1
    write p0 r0[0] 2
    readpin g0

    """

    func tempDir(_ name: String) throws -> String {
        let d = NSTemporaryDirectory() + "cowfuzz-corpus-tests-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func write(_ text: String, _ dir: String, _ name: String) {
        FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8))
    }

    @Test func mergeKeepsTheSmallestPerSignature() throws {
        let a = try tempDir("a"), b = try tempDir("b"), out = try tempDir("out")
        defer { for d in [a, b, out] { try? FileManager.default.removeItem(atPath: d) } }
        write(Self.cveLonger, a, "long.cow")
        write(Self.rdma, a, "rdma.cow")
        write(Self.cve, b, "short.cow")
        let candidates = try CorpusTools.candidates(in: [a, b])
        let merged = CorpusTools.merge(candidates)
        let cveSig = "isolation · do_wp_page: reuse by mapcount · small anon · pipe"
        let kept = try #require(merged.first { $0.kept.signature.text == cveSig })
        #expect(kept.kept.path.hasSuffix("short.cow"))
        #expect(kept.kept.program.ops.count == 7)
        #expect(kept.competitors == 2)
        // One entry per signature, and every signature of the inputs is there.
        #expect(Set(merged.map(\.kept.signature)) == Set(candidates.map(\.signature)))
        #expect(merged.count == Set(candidates.map(\.signature)).count)

        // Written with sidecars that name the new files; merging the output again is stable.
        let paths = try CorpusTools.write(merged.map(\.kept), to: out)
        #expect(paths.count == merged.count)
        for p in paths {
            let json = (p as NSString).deletingPathExtension + ".json"
            let record = try CrashRecord.decode(try #require(FileManager.default.contents(atPath: json)))
            #expect(record.file == p)
            #expect(Signature(text: record.signature) != nil)
        }
        let again = CorpusTools.merge(try CorpusTools.candidates(in: [out]))
        #expect(again.map(\.kept.signature) == merged.map(\.kept.signature))
        #expect(again.map(\.kept.program) == merged.map(\.kept.program))
    }

    @Test func mergeTrustsSidecarsAndPrefersSmallerOnes() throws {
        let a = try tempDir("sa"), b = try tempDir("sb"), out = try tempDir("sout")
        defer { for d in [a, b, out] { try? FileManager.default.removeItem(atPath: d) } }
        // Two shards that found the same signature: shard a with the longer reproducer.
        let sig = try #require(Signature(text: "isolation · do_wp_page: reuse by mapcount · small anon · pipe"))
        let long = CorpusTools.Candidate(path: a + "/x.cow", text: Self.cveLonger, program: program(Self.cveLonger), signature: sig, record: nil)
        let short = CorpusTools.Candidate(path: b + "/y.cow", text: Self.cve, program: program(Self.cve), signature: sig, record: nil)
        try CorpusTools.write([long], to: a)
        try CorpusTools.write([short], to: b)
        let merged = CorpusTools.merge(try CorpusTools.candidates(in: [a, b]))
        #expect(merged.count == 1)
        #expect(merged[0].kept.program.ops.count == 7)
        #expect(merged[0].kept.record != nil)
        #expect(merged[0].competitors == 2)
    }

    @Test func minimizeKeepsTheCoverageWithFewerPrograms() {
        let programs = [Self.cveLonger, Self.cve, Self.rdma, Self.cve].map { program($0) }
        let policies = PolicyRegistry.all
        let (kept, total) = CorpusTools.minimize(programs, policies: policies)
        #expect(kept.count < programs.count)
        // The kept subset has the features of the whole set.
        let checker = ProgramChecker(policies: policies)
        var all = CorpusTools.features(programs[0], checker: checker)
        for p in programs.dropFirst() { all.merge(CorpusTools.features(p, checker: checker)) }
        var sub = CorpusTools.features(programs[kept[0]], checker: checker)
        for i in kept.dropFirst() { sub.merge(CorpusTools.features(programs[i], checker: checker)) }
        #expect(sub == all)
        #expect(total == all)
        // The duplicate is gone, and of two equal programs the first is kept.
        #expect(!(kept.contains(1) && kept.contains(3)))
    }
}
