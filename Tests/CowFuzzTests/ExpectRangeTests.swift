import CowFuzz
import CowModel
import Foundation
import Testing
import TestSupport

/// `@expect` with ranges and a default: what each policy expects, the errors, and the
/// compact form being equivalent to the explicit one.
@Suite struct ExpectRangeTests {
    static let eras = Expectation.eraOrder

    @Test func theMostSpecificLineWins() throws {
        let p = try Program(parsing: """
        # cowfuzz 1
        @expect * clean
        @expect linux-4.8..linux-5.7 isolation
        @expect linux-5.7 isolation,coherence
        @expect linux-5.19.. leak
        @expect real clean
        mmap p0 r0 pages=1
        """)
        #expect(p.expected(for: "linux-4.8") == VerdictSet(.isolation))
        #expect(p.expected(for: "linux-5.7") == VerdictSet([.isolation, .coherence]))
        #expect(p.expected(for: "linux-5.8") == .clean)
        #expect(p.expected(for: "linux-5.18") == .clean)
        #expect(p.expected(for: "linux-5.19") == VerdictSet(.leak))
        #expect(p.expected(for: "linux-6.x") == VerdictSet(.leak))
        #expect(p.expected(for: "real") == .clean)
        // `*` is for the era policies only.
        let q = try Program(parsing: "# cowfuzz 1\n@expect * isolation\nmmap p0 r0 pages=1\n")
        #expect(q.expected(for: "real") == nil)
        #expect(q.text.contains("@expect * isolation"), "printed as given")
    }

    @Test(arguments: [
        ("@expect linux-5.7..linux-4.8 clean", 9, "runs backwards"),
        ("@expect linux-4.8..linux-9.9 clean", 20, "unknown era policy"),
        ("@expect real..linux-5.7 clean", 9, "unknown era policy"),
        ("@expect ..linux-4.8 clean", 9, "unknown era policy"),
        ("@expect ** clean", 9, "unknown policy"),
    ])
    func badRangesAreOneLineErrors(_ line: String, _ column: Int, _ says: String) {
        do {
            _ = try Program(parsing: "# cowfuzz 1\n\(line)\nmmap p0 r0 pages=1\n", file: "t.cow")
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.description.hasPrefix("t.cow:2:\(column):"), "\(error.description)")
            #expect(error.description.contains(says), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    /// For random verdicts per era (and sometimes a `real` line or a missing era), the
    /// compact lines give every policy the same expectation as the explicit ones.
    @Test func compactIsEquivalentAndShort() throws {
        let sets: [VerdictSet] = [.clean, VerdictSet(.isolation), VerdictSet(.coherence), VerdictSet([.isolation, .coherence])]
        var rng = SplitMix64(seed: 5)
        var shorter = 0
        for k in 0..<500 {
            var per: [(policy: String, verdicts: VerdictSet)] = []
            for e in Self.eras where k % 17 != 3 || e != "linux-5.9" {
                per.append((e, sets[Int(rng.next() % UInt64(k % 3 == 0 ? 2 : 4))]))
            }
            if k % 5 == 0 { per.append(("real", sets[Int(rng.next() % 4)])) }
            let lines = Expectation.compact(per)
            let p = Program(ops: [], expectations: lines)
            for e in KnownPolicyNames.all {
                #expect(p.expected(for: e) == per.first { $0.policy == e }?.verdicts, "k \(k) \(e): \(lines)")
            }
            if lines.count < per.count { shorter += 1 }
            // Round trip through the text.
            let text = "# cowfuzz 1\n" + lines.map { "@expect \($0.policy) \($0.verdicts.text)\n" }.joined() + "mmap p0 r0 pages=1\n"
            #expect(try Program(parsing: text).expectations == lines)
        }
        #expect(shorter > 400)
    }

    /// A CRLF file is compacted like an LF one and keeps its line endings.
    @Test func compactionKeepsCRLF() throws {
        let eras = Self.eras.map { "@expect \($0) \($0 == "linux-4.8" ? "isolation" : "clean")" }
        let text = (["# cowfuzz 1"] + eras + ["mmap p0 r0 pages=1", ""]).joined(separator: "\r\n")
        let out = try #require(try ExpectCompaction.compacted(text))
        #expect(out.contains("@expect * clean\r\n@expect linux-4.8 isolation\r\n"), "\(out.debugDescription)")
        #expect(!out.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "no bare LF")
        let a = try Program(parsing: text), b = try Program(parsing: out)
        for e in Self.eras { #expect(a.expected(for: e) == b.expected(for: e)) }
        #expect(try ExpectCompaction.compacted(out) == nil)
    }

    @Test func corpusFilesAreCompact() throws {
        for url in corpusFiles() {
            let text = try String(contentsOf: url, encoding: .utf8)
            #expect(try ExpectCompaction.compacted(text, file: url.path) == nil,
                    "\(url.lastPathComponent): run 'cowfuzz corpus expect corpus'")
        }
    }
}
