import CowFuzz
import CowModel
import CowOracle
import Foundation
import Testing
import TestSupport

/// One campaign for every backend (issue 13 item 4): a backend other than the model gets
/// the same budget, pools, shrinking, crash files with sidecars and reports; its
/// `prepare`, `maxJobs`, `@expect` lines and replay options are honoured.
@Suite struct BackendCampaignTests {
    /// A stand-in for the real kernel: "differs from linux-6.x" whenever a program forks
    /// and reads; it counts the programs it saw and whether any still had a race.
    final class FakeExecutor: ProgramExecutor {
        nonisolated(unsafe) static var sawRace = false
        var policyNames: [String] { ["fake", "linux-6.x"] }
        func run(_ program: Program, into summary: inout ExecutionSummary) {
            summary.keys.removeAll()
            summary.opsExecuted = program.ops.count
            if program.ops.contains(where: { $0.kind == .race }) { FakeExecutor.sawRace = true }
            if program.ops.contains(where: { $0.kind == .fork }) && program.ops.contains(where: { $0.kind == .read }) {
                let key = SignatureKey(kind: .divergence, culprit: .none, opKind: .fork)
                summary.keys.add(key, policy: 0)
                summary.keys.add(key, policy: 1)
            }
        }
    }

    static func backend() -> CampaignBackend {
        CampaignBackend(name: "fake", policyNames: ["fake", "linux-6.x"], makeExecutor: { FakeExecutor() }, maxJobs: 1,
                        prepare: { $0.ops.removeAll { $0.kind == .race } },
                        expectations: { _ in [Expectation(policy: "fake", verdicts: VerdictSet([Verdict.isolation]))] },
                        replayOptions: " --backend fake")
    }

    @Test("a campaign on another backend shrinks on it and writes its crash file, sidecar and report")
    func anotherBackendGetsTheWholeCampaign() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = CampaignConfig()
        c.seed = 5
        c.runs = 300
        c.jobs = 2
        c.backend = Self.backend()
        c.crashesDir = dir.path
        FakeExecutor.sawRace = false
        let r = Campaign(c).run()
        #expect(!FakeExecutor.sawRace, "prepare ran on every program before the backend saw it")
        #expect(r.stats.programs == 300)
        #expect(r.policies == ["fake", "linux-6.x"])
        let f = try #require(r.findings.first { $0.status == .new })
        #expect(f.signature.text == "divergence · first difference at fork · fake vs linux-6.x")
        // Shrunk on the backend: a fork and a read are all it needs.
        #expect(f.program.ops.count == 2, "\(f.program.text)")
        let path = try #require(f.path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("@expect fake isolation"), "\(text)")
        #expect(text.contains("# on: fake, linux-6.x"), "no era range over backend columns:\n\(text)")
        #expect(text.contains("Replay: cowfuzz replay \(path) --backend fake"), "\(text)")
        #expect(text.contains("Explain: cowfuzz explain \(path) --backend fake"), "\(text)")
        let sidecar = try Data(contentsOf: URL(fileURLWithPath: String(path.dropLast(4)) + ".json"))
        let record = try CrashRecord.decode(sidecar)
        #expect(record.verdicts["fake"] == "isolation")
        #expect(record.replay.hasSuffix("--backend fake"))
        let report = try FuzzReport.decode(try FuzzReport(config: c, result: r).json())
        #expect(report.settings.backend == "fake")
        #expect(report.settings.policies == ["fake", "linux-6.x"])
        #expect(report.findings.map(\.signature) == r.findings.map(\.signature.text))
        #expect(JUnitReport.xml(r, seed: 5).contains("fake vs linux-6.x"))
    }

    /// A backend that shows its "divergence" only on the first run of each program text.
    final class OnceExecutor: ProgramExecutor {
        var seen = Set<String>()
        var policyNames: [String] { ["fake", "linux-6.x"] }
        func run(_ program: Program, into summary: inout ExecutionSummary) {
            summary.keys.removeAll()
            let first = seen.insert(program.text).inserted
            if first && program.ops.contains(where: { $0.kind == .fork }) && program.ops.contains(where: { $0.kind == .read }) {
                let key = SignatureKey(kind: .divergence, culprit: .none, opKind: .fork)
                summary.keys.add(key, policy: 0)
                summary.keys.add(key, policy: 1)
            }
        }
    }

    @Test("a finding that does not show again when its program is re-run is flaky: reported, not written, not new")
    func aFindingThatDoesNotReproduceIsFlaky() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = CampaignConfig()
        c.seed = 5
        c.runs = 100
        c.backend = CampaignBackend(name: "fake", policyNames: ["fake", "linux-6.x"], makeExecutor: { OnceExecutor() }, maxJobs: 1)
        c.crashesDir = dir.path
        let r = Campaign(c).run()
        let f = try #require(r.findings.first)
        #expect(f.status == .flaky && f.path == nil)
        #expect(r.stats.newFindings == 0 && r.stats.flakyFindings == 1)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".cow") }.isEmpty)
        #expect(!JUnitReport.xml(r, seed: 5).contains("<failure "))
        let report = try FuzzReport.decode(try FuzzReport(config: c, result: r).json())
        #expect(report.findings.first?.status == "flaky")
        #expect(report.findings.first?.program == f.program.text, "the report keeps the program to replay by hand")
    }

    @Test("the same seed and runs give the same findings on a backend at any --jobs (it caps them)")
    func backendRunsAreDeterministic() {
        func run(_ jobs: Int) -> [String] {
            var c = CampaignConfig()
            c.seed = 9
            c.runs = 200
            c.jobs = jobs
            c.backend = Self.backend()
            return Campaign(c).run().findings.map { $0.signature.text + "\n" + $0.program.text }
        }
        #expect(run(1) == run(3))
    }
}
