import CowModel
import CowOracle
import Foundation
import Testing
import TestSupport

/// The corpus is the regression suite: every `@expect` line of every file must hold.
@Suite struct CorpusReplayTests {
    @Test func corpusHasAtLeastFifteenReproducers() {
        #expect(corpusFiles().count >= 15)
    }

    @Test(arguments: corpusFiles().map(\.lastPathComponent))
    func replayMeetsEveryExpectation(name: String) throws {
        let url = packageRoot.appendingPathComponent("corpus").appendingPathComponent(name)
        let prog = try Program(parsing: String(contentsOf: url, encoding: .utf8), file: name)
        #expect(!prog.expectations.isEmpty, "\(name) states no @expect")
        for o in Checker.check(prog, options: RunOptions(paranoid: true)) {
            guard let e = prog.expected(for: o.policy) else { continue }
            #expect(o.verdicts == e, "\(name) on \(o.policy): expected \(e.text), got \(o.verdicts.text): \(o.violations.map(\.description))")
        }
        // Every model policy has an expectation.
        for p in PolicyRegistry.all { #expect(prog.expected(for: p.name) != nil, "\(name) has no @expect for \(p.name)") }
    }
}
