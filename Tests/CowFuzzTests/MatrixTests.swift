import CowFuzz
import CowModel
import CowOracle
import Testing
import TestSupport

/// `cowfuzz matrix` on the model (issue 16 item 5): the table's shape, the selftest's
/// known results per era, and the rule that turns a run into pass / FAIL / skip.
@Suite struct MatrixTests {
    /// The whole matrix on every policy, computed once for the suite.
    static let results: [(cell: CowMatrix.Cell, byPolicy: [String: CowMatrix.Result])] = {
        let checker = ProgramChecker(policies: PolicyRegistry.all, options: RunOptions(paranoid: true))
        return CowMatrix.cells().map { cell in
            (cell, Dictionary(uniqueKeysWithValues: CowMatrix.runModel(cell, checker: checker).map { ($0.policy, $0.result) }))
        }
    }()

    static func result(_ scenario: String, _ testCase: String, _ policy: String) -> CowMatrix.Result? {
        results.first { $0.cell.scenario.name == scenario && $0.cell.testCase.name == testCase }?.byPolicy[policy]
    }

    @Test func theTableHasEveryBackingOfTheSelftestTimesEveryCase() {
        let scenarios = CowMatrix.scenarios.map(\.name)
        #expect(scenarios == ["base", "swapped", "thp-pmd", "thp-pte", "thp-single-pte", "thp-mremap", "thp-shared", "hugetlb"])
        let cases = CowMatrix.cases.map(\.name)
        #expect(Set(cases).count == cases.count)
        for c in ["fork-parent-writes", "fork-child-writes", "vmsplice-child-unmap", "vmsplice-before-fork", "vmsplice-parent-after-fork",
                  "ro-pin-shared", "ro-pin-before-fork", "ro-pin-write", "rw-pin-fork", "pokemem-parent"] {
            #expect(cases.contains(c), "\(c)")
        }
        let cells = CowMatrix.cells()
        #expect(cells.count == scenarios.count * cases.count)
        #expect(Set(cells.map(\.name)).count == cells.count)
        #expect(Set(cells.map(\.fileName)).count == cells.count)
        #expect(CowMatrix.cells(scenarios: ["hugetlb", "base"], cases: ["rw-pin-fork"]).map(\.name) == ["base/rw-pin-fork", "hugetlb/rw-pin-fork"])
        #expect(CowMatrix.cells(scenarios: ["nonesuch"]).isEmpty)
    }

    @Test func everyCellIsItsSetupThenItsCaseAndPrintsAndParsesLosslessly() throws {
        for cell in CowMatrix.cells() {
            let ops = cell.program.ops.map(\.text)
            #expect(Array(ops.prefix(cell.setupCount)) == cell.scenario.setup, "\(cell.name)")
            #expect(ops.count == cell.setupCount + cell.testCase.ops.count, "\(cell.name)")
            let again = try Program(parsing: cell.program.text, file: cell.fileName, requireHeader: true)
            #expect(again == cell.program, "\(cell.name)")
        }
    }

    @Test func everySetupLeavesThePageUnderTestHoldingOneOnEveryPolicy() {
        for s in CowMatrix.scenarios {
            var p = program((s.setup + ["read p0 r0[0]"]).joined(separator: "\n"))
            p.thpOrder = s.thpOrder
            for policy in PolicyRegistry.all {
                let t = policy.run(p).trace
                #expect(t.statuses.allSatisfy { $0.executed }, "\(s.name) on \(policy.name): \(t.statuses)")
                #expect(t.observed.last == 1, "\(s.name) on \(policy.name)")
            }
        }
    }

    @Test func everyModelCellRunsEveryOpAndPassesItsSetupCheck() {
        // A skip on the model means the table is wrong (an op on a hole, a name unused).
        for (cell, byPolicy) in Self.results {
            #expect(byPolicy.count == PolicyRegistry.all.count)
            for (policy, r) in byPolicy { #expect(!r.skipped, "\(cell.name) on \(policy): \(r.text)") }
        }
    }

    @Test func theMapcountErasFailTheVmspliceCasesOnBasePages() {
        for policy in ["linux-4.8", "linux-5.7"] {
            for c in ["vmsplice-child-unmap", "vmsplice-child-unmap-mprotect", "vmsplice-before-fork", "vmsplice-parent-after-fork"] {
                #expect(Self.result("base", c, policy) == .fail(VerdictSet(.isolation)), "\(c) on \(policy)")
            }
        }
        // 5.8 breaks COW at vmsplice time, which a reference taken before fork escapes.
        #expect(Self.result("base", "vmsplice-child-unmap", "linux-5.8") == .pass)
        #expect(Self.result("base", "vmsplice-before-fork", "linux-5.8") == .fail(VerdictSet(.isolation)))
        // page_trans_huge_mapcount() takes the largest sub-page mapcount: the moved half keeps it shared.
        #expect(Self.result("thp-mremap", "vmsplice-child-unmap", "linux-5.7") == .pass)
        // 5.9 – 5.17 judge a PMD and a swap-in by mapcount (reuse_swap_page()).
        #expect(Self.result("thp-pmd", "vmsplice-child-unmap", "linux-5.9") == .fail(VerdictSet(.isolation)))
        #expect(Self.result("swapped", "vmsplice-child-unmap", "linux-5.9") == .fail(VerdictSet(.isolation)))
        #expect(Self.result("thp-pte", "vmsplice-child-unmap", "linux-5.9") == .pass)
    }

    @Test func thePinErasAreWhereTheSelftestSaysTheyAre() {
        // RDMA/fork (B5): fixed in 5.9; the R/O pin wrong COW (B7): 5.9 – 5.18 fail, PAE fixes it.
        #expect(Self.result("base", "rw-pin-fork", "linux-5.8") == .fail(VerdictSet(.coherence)))
        #expect(Self.result("base", "rw-pin-fork", "linux-5.9") == .pass)
        #expect(Self.result("hugetlb", "rw-pin-fork", "linux-5.9") == .fail(VerdictSet(.coherence)))
        for c in ["ro-pin-shared", "ro-pin-prev-shared", "ro-pin-exclusive"] {
            #expect(Self.result("base", c, "linux-5.18") == .fail(VerdictSet(.coherence)), "\(c)")
            #expect(Self.result("base", c, "linux-5.19") == .pass, "\(c)")
        }
        #expect(Self.result("base", "ro-pin-prev-shared", "linux-5.7") == .pass)
        #expect(Self.result("thp-pmd", "ro-pin-prev-shared", "linux-5.9") == .pass)
    }

    @Test func linux6PassesEveryCellButTheHugetlbVmspliceXfails() {
        // Spec §6.7: all pass on a current kernel except vmsplice on hugetlb (B16).
        for (cell, byPolicy) in Self.results {
            let xfail = cell.scenario.name == "hugetlb" && cell.testCase.name.hasPrefix("vmsplice")
            #expect(byPolicy["linux-6.x"] == (xfail ? .fail(VerdictSet(.isolation)) : .pass), "\(cell.name)")
        }
        #expect(Self.results.filter { $0.cell.scenario.name == "base" }.allSatisfy { $0.byPolicy["linux-6.x"] == .pass })
    }

    @Test func eachCellsProgramReplaysToTheVerdictsOfItsCell() throws {
        let checker = ProgramChecker(policies: PolicyRegistry.all, options: RunOptions(paranoid: true))
        for (cell, byPolicy) in Self.results {
            let replayed = try Program(parsing: cell.program.text, file: cell.fileName, requireHeader: true)
            for o in checker.check(replayed) {
                let expected: VerdictSet = if case let .fail(v) = byPolicy[o.policy] { v } else { .clean }
                #expect(o.verdicts == expected, "\(cell.name) on \(o.policy)")
            }
        }
    }

    @Test func aSkipNamesTheFirstOpNotRunOrTheStateTheSetupMissed() {
        let cell = CowMatrix.cell(CowMatrix.scenarios.first { $0.name == "thp-pmd" }!, CowMatrix.cases[0])
        let all = Array(repeating: OpStatus.executed, count: cell.program.ops.count)
        let pmd = CowMatrix.ProbedPage(pmd: true, swapped: false)
        #expect(CowMatrix.result(of: cell, statuses: all, verdicts: .clean) { _ in pmd } == .pass)
        #expect(CowMatrix.result(of: cell, statuses: all, verdicts: VerdictSet([.isolation, .leak])) { _ in pmd }.text == "FAIL(isolation,leak)")
        var some = all
        some[3] = .skipped(.realUnsupported)
        some[4] = .failed(.refusedByKernel)
        #expect(CowMatrix.result(of: cell, statuses: some, verdicts: .clean) { _ in pmd }
            == .skip(reason: SkipReason.realUnsupported.text, op: 3))
        #expect(CowMatrix.result(of: cell, statuses: some, verdicts: .clean, detail: { $0 == 3 ? "no GUP_TEST" : nil }) { _ in pmd }.text
            == "skip: no GUP_TEST")
        // The check is made after the op it names, on that op's page state.
        var asked: [Int] = []
        let small = CowMatrix.result(of: cell, statuses: all, verdicts: VerdictSet(.isolation)) { k in
            asked.append(k)
            return CowMatrix.ProbedPage(pmd: false, swapped: false)
        }
        #expect(small == .skip(reason: "did not get a PMD-mapped THP", op: 1))
        #expect(asked == [1])
        #expect(CowMatrix.result(of: cell, statuses: all, verdicts: .clean) { _ in nil }.skipped)
    }
}
