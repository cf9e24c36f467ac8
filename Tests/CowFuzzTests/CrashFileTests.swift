import CowFuzz
import CowModel
import CowOracle
import Foundation
import Testing
import TestSupport

@Suite struct CrashFileTests {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "cowfuzz-crashes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func writtenFindingsReplayToTheirRecordedVerdicts() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = CampaignConfig()
        c.seed = 4
        c.runs = 1500
        c.jobs = 2
        c.generator.maxOps = 24
        c.crashesDir = dir
        let r = Campaign(c).run()
        let new = r.findings.filter { $0.status == .new }
        #expect(!new.isEmpty)
        let checker = ProgramChecker(policies: PolicyRegistry.all, options: RunOptions(paranoid: true))
        let executor = DifferentialExecutor(policies: PolicyRegistry.all)
        for f in new {
            let path = try #require(f.path)
            #expect(path.hasSuffix(f.signature.fileStem + ".cow"))
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasPrefix("# cowfuzz 1\n# \(f.signature.text)\n"))
            #expect(text.contains("# Replay: cowfuzz replay \(path)"))
            let prog = try Program(parsing: text, file: path)
            #expect(prog.bare == f.program.bare)
            #expect(prog.expectations.count == PolicyRegistry.all.count)
            for o in checker.check(prog) {
                #expect(prog.expected(for: o.policy) == o.verdicts, "\(path): \(o.policy)")
            }
            #expect(executor.signatures(prog).contains(f.signature))
            let json = try #require(FileManager.default.contents(atPath: String(path.dropLast(4)) + ".json"))
            let record = try CrashRecord.decode(json)
            #expect(record.formatVersion == 1)
            #expect(record.signature == f.signature.text)
            #expect(record.ops == prog.ops.count)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") && $0 != ".lock" }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")

        // A second run deduplicates against what the first wrote.
        let again = Campaign(c).run()
        #expect(again.stats.newFindings == 0)
        #expect(again.findings.allSatisfy { $0.status == .seen })
    }

    @Test func unknownSidecarVersionsAreRejected() {
        let data = Data(#"{"formatVersion": 2, "signature": "x"}"#.utf8)
        #expect(throws: CrashStoreError.self) { try CrashRecord.decode(data) }
    }

    @Test func reportAndJUnitAreVersionedAndNameEverySignature() throws {
        var c = CampaignConfig()
        c.seed = 8
        c.runs = 600
        c.jobs = 1
        let r = Campaign(c).run()
        let report = FuzzReport(config: c, result: r)
        let decoded = try FuzzReport.decode(try report.json())
        #expect(decoded.formatVersion == FuzzReport.formatVersion)
        #expect(decoded.findings.map(\.signature) == r.findings.map(\.signature.text))
        let xml = JUnitReport.xml(r, seed: 8)
        #expect(xml.components(separatedBy: "<testcase ").count - 1 == r.findings.count)
        #expect(xml.components(separatedBy: "<failure ").count - 1 == r.stats.newFindings)
    }

    /// One new finding of a short run (written nowhere).
    func oneFinding() throws -> Finding {
        var c = CampaignConfig()
        c.seed = 4
        c.runs = 1500
        c.jobs = 2
        c.generator.maxOps = 24
        return try #require(Campaign(c).run().findings.first)
    }

    /// Issue 15 item 13: the `.cow` is renamed last, so it never stands without its sidecar.
    @Test func aCowFileNeverStandsWithoutItsSidecar() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try oneFinding()
        // Something the sidecar cannot replace stands at its path: the write fails there.
        try FileManager.default.createDirectory(atPath: dir + "/" + f.signature.fileStem + ".json", withIntermediateDirectories: false)
        #expect(throws: CrashStoreError.self) { try CrashWriter(directory: dir).write(f, seed: 4, commandLine: "test") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + f.signature.fileStem + ".cow"))
    }

    @Test func orphanedTemporariesAndSidecarsAreCleanedAndNothingElse() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try oneFinding()
        let kept = try CrashWriter(directory: dir).write(f, seed: 4, commandLine: "test")
        let fm = FileManager.default
        // A sidecar whose .cow never arrived, copied from a real one.
        let sidecar = try #require(fm.contents(atPath: String(kept.dropLast(4)) + ".json"))
        fm.createFile(atPath: dir + "/orphan-0000.json", contents: sidecar)
        fm.createFile(atPath: dir + "/notes.json", contents: Data("{}".utf8))
        fm.createFile(atPath: dir + "/.x.cow.tmp.2147483646", contents: Data("half".utf8))
        fm.createFile(atPath: dir + "/.y.cow.tmp.\(getpid())", contents: Data("mine, in progress".utf8))
        let removed = CrashWriter.cleanOrphans(in: dir)
        #expect(removed == [".x.cow.tmp.2147483646", "orphan-0000.json"])
        let left = try fm.contentsOfDirectory(atPath: dir).sorted()
        let stem = (kept as NSString).lastPathComponent.dropLast(4)
        #expect(left == [".lock", ".y.cow.tmp.\(getpid())", "notes.json", stem + ".cow", stem + ".json"].sorted())
    }

    /// Issue 15 item 8: runs sharing a crashes directory keep the smaller reproducer.
    @Test func aSharedDirectoryKeepsTheShortlexSmallerReproducer() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let small = try oneFinding()
        var big = small
        big.program.ops.append(.ksm)
        let w = CrashWriter(directory: dir)
        let path = try w.write(big, seed: 1, commandLine: "run A")
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("run A"))
        #expect(try w.write(small, seed: 2, commandLine: "run B") == path)
        let smallText = try String(contentsOfFile: path, encoding: .utf8)
        #expect(smallText.contains("run B"))
        // The larger one arrives again (the other run): the smaller file stays, sidecar too.
        let again = try w.writeKeepingSmaller(big, seed: 1, commandLine: "run A")
        #expect(again.path == path && again.outcome == .keptSmaller)
        #expect(try w.write(big, seed: 1, commandLine: "run A") == path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == smallText)
        let record = try CrashRecord.decode(try #require(FileManager.default.contents(atPath: String(path.dropLast(4)) + ".json")))
        #expect(record.found == "run B" && record.ops == small.program.ops.count)
    }
}
