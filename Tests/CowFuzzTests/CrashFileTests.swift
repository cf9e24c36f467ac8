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
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
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
}
