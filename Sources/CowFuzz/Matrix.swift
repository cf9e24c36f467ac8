import CowModel
import CowOracle

/// The selftest's view of every era at once (issue 16 item 5): the backings and layouts of
/// the kernel's `tools/testing/selftests/mm/cow.c` × its COW cases, each cell one `.cow`
/// program (the scenario's setup, then the case's ops) run on every policy and, from the
/// command line, on the real kernel.
///
/// The table is written from the selftest's documented test descriptions (spec §6.2, §6.3),
/// not from its code. Every scenario leaves the page under test at `p0 r0[0]` holding 1;
/// every case is written against that page, with `p1` the forked child.
public enum CowMatrix {
    /// A backing or layout of the page under test (cow.c's `run_anon_test_case` variants).
    public struct Scenario: Hashable, Sendable {
        public var name: String
        /// What cow.c calls it.
        public var title: String
        /// The setup, one `.cow` op a line.
        public var setup: [String]
        /// `@thp-order` of the program (huge backings: 4 base pages a huge page, which the
        /// real backend scales to 2 MiB).
        public var thpOrder: Int?
        /// The state the setup must have produced, as cow.c checks it (else the cell is a skip).
        public var check: Check?
        /// The range the cases' `mprotect` and `munmap` of `r0` cover, as ` from=i count=n`
        /// (empty: the whole region): cow.c's `mem, size`, which is one sub-page of a
        /// single-PTE THP and the lower half of a partially mremap()'ed one.
        public var range = ""
    }

    /// A state of the page under test that a scenario relies on, checked right after one
    /// setup op (its index in `setup`), on each backend's own page state.
    public enum Check: Hashable, Sendable {
        /// cow.c: "Did not get a THP populated".
        case pmdMapped(after: Int)
        /// cow.c: "MADV_PAGEOUT did not work, is swap enabled?".
        case swappedOut(after: Int)

        public var after: Int {
            switch self {
            case let .pmdMapped(k), let .swappedOut(k): k
            }
        }

        /// Why the cell is a skip when the state is not there.
        public var failure: String {
            switch self {
            case .pmdMapped: "did not get a PMD-mapped THP"
            case .swappedOut: "the page was not swapped out"
            }
        }

        public func holds(_ page: ProbedPage?) -> Bool {
            guard let page else { return false }
            switch self {
            case .pmdMapped: return page.pmd
            case .swappedOut: return page.swapped
            }
        }
    }

    /// What a backend shows of the page under test after one op.
    public struct ProbedPage: Hashable, Sendable {
        public var pmd: Bool
        public var swapped: Bool
        public init(pmd: Bool, swapped: Bool) {
            self.pmd = pmd
            self.swapped = swapped
        }
    }

    /// A COW case (cow.c's `anon_test_cases[]`, and the other directions the format expresses).
    public struct Case: Hashable, Sendable {
        public var name: String
        /// cow.c's name of the test (A1…A14, spec §6.3), or what the case checks.
        public var title: String
        /// One `.cow` op a line; `$range` stands for the scenario's `range`.
        public var ops: [String]
    }

    public static let scenarios: [Scenario] = {
        let thp = ["mmap p0 r0 pages=4 thp", "write p0 r0[0] 1"]
        return [
            Scenario(name: "base", title: "base page", setup: ["mmap p0 r0 pages=1", "write p0 r0[0] 1"]),
            Scenario(name: "swapped", title: "swapped-out base page",
                     setup: ["mmap p0 r0 pages=1", "write p0 r0[0] 1", "swapout p0 r0[0]"], check: .swappedOut(after: 2)),
            Scenario(name: "thp-pmd", title: "THP (PMD-mapped)", setup: thp, thpOrder: 2, check: .pmdMapped(after: 1)),
            Scenario(name: "thp-pte", title: "PTE-mapped THP (mprotect of one sub-page splits the PMD)",
                     setup: thp + ["mprotect p0 r0 ro from=1 count=1", "mprotect p0 r0 rw from=1 count=1"],
                     thpOrder: 2, check: .pmdMapped(after: 1)),
            Scenario(name: "thp-single-pte", title: "single PTE of THP (the rest dropped with MADV_DONTNEED)",
                     setup: thp + ["madvise p0 r0 dontneed from=1 count=3"], thpOrder: 2, check: .pmdMapped(after: 1),
                     range: " from=0 count=1"),
            Scenario(name: "thp-mremap", title: "partially mremap()'ed THP (upper half moved away)",
                     setup: thp + ["mremap p0 r0 -> r1 from=2 count=2"], thpOrder: 2, check: .pmdMapped(after: 1),
                     range: " from=0 count=2"),
            Scenario(name: "thp-shared", title: "partially shared THP (sub-page 0 was COW-shared with a child that exited)",
                     setup: thp + ["madvise p0 r0 dontfork from=1 count=3", "fork p0 -> p2", "exit p2",
                                   "madvise p0 r0 dofork from=1 count=3"],
                     thpOrder: 2, check: .pmdMapped(after: 1)),
            Scenario(name: "hugetlb", title: "hugetlb page", setup: ["mmap p0 r0 pages=4 hugetlb", "write p0 r0[0] 1"], thpOrder: 2),
        ]
    }()

    public static let cases: [Case] = {
        let fork = "fork p0 -> p1"
        let mprotect = ["mprotect p0 r0 ro$range", "mprotect p0 r0 rw$range"]
        func roPin(_ name: String, _ title: String, before: [String], fast: Bool) -> Case {
            Case(name: name, title: title,
                 ops: before + ["pin p0 r0[0] -> g0 longterm" + (fast ? " fast" : ""), "write p0 r0[0] 2", "readpin g0"])
        }
        return [
            Case(name: "fork-parent-writes", title: "A1 Basic COW after fork(): the child must not see the parent's write",
                 ops: [fork, "write p0 r0[0] 2", "read p1 r0[0]"]),
            Case(name: "fork-child-writes", title: "Basic COW after fork(), the other way: the parent must not see the child's write",
                 ops: [fork, "write p1 r0[0] 2", "read p0 r0[0]"]),
            Case(name: "fork-mprotect", title: "A2 Basic COW after fork() with mprotect() optimization",
                 ops: [fork] + mprotect + ["write p0 r0[0] 2", "read p1 r0[0]"]),
            Case(name: "vmsplice-child-unmap", title: "A3 vmsplice() + unmap in child (CVE-2020-29374)",
                 ops: [fork, "vmsplice p1 r0[0] -> pipe0", "munmap p1 r0$range", "write p0 r0[0] 2", "readpipe pipe0"]),
            Case(name: "vmsplice-child-unmap-mprotect", title: "A4 vmsplice() + unmap in child with mprotect() optimization",
                 ops: [fork, "vmsplice p1 r0[0] -> pipe0", "munmap p1 r0$range"] + mprotect + ["write p0 r0[0] 2", "readpipe pipe0"]),
            Case(name: "vmsplice-before-fork", title: "A5 vmsplice() before fork(), unmap in parent after fork()",
                 ops: ["vmsplice p0 r0[0] -> pipe0", fork, "munmap p0 r0$range", "write p1 r0[0] 2", "readpipe pipe0"]),
            Case(name: "vmsplice-parent-after-fork", title: "A6 vmsplice() + unmap in parent after fork()",
                 ops: [fork, "vmsplice p0 r0[0] -> pipe0", "munmap p0 r0$range", "write p1 r0[0] 2", "readpipe pipe0"]),
            Case(name: "rw-pin-mprotect", title: "A7 R/O-mapping a page registered as iouring fixed buffer (R/W longterm pin)",
                 ops: ["pin p0 r0[0] -> g0 rw longterm"] + mprotect + ["write p0 r0[0] 2", "readpin g0"]),
            Case(name: "rw-pin-fork", title: "A8 fork() with an iouring fixed buffer: the pin must see the parent's write",
                 ops: ["pin p0 r0[0] -> g0 rw longterm", fork, "write p0 r0[0] 2", "readpin g0"]),
            Case(name: "rw-pin-fork-device-write",
                 title: "R/W longterm pin, fork, then a device write: the parent sees it, the child must not",
                 ops: ["pin p0 r0[0] -> g0 rw longterm", fork, "writepin g0 2", "read p0 r0[0]", "read p1 r0[0]"]),
            roPin("ro-pin-shared", "A9 R/O GUP pin on R/O-mapped shared page", before: [fork], fast: false),
            roPin("ro-pin-fast-shared", "A10 R/O GUP-fast pin on R/O-mapped shared page", before: [fork], fast: true),
            roPin("ro-pin-prev-shared", "A11 R/O GUP pin on R/O-mapped previously-shared page", before: [fork, "exit p1"], fast: false),
            roPin("ro-pin-fast-prev-shared", "A12 R/O GUP-fast pin on R/O-mapped previously-shared page",
                  before: [fork, "exit p1"], fast: true),
            roPin("ro-pin-exclusive", "A13 R/O GUP pin on R/O-mapped exclusive page", before: mprotect, fast: false),
            roPin("ro-pin-fast-exclusive", "A14 R/O GUP-fast pin on R/O-mapped exclusive page", before: mprotect, fast: true),
            roPin("ro-pin-write", "R/O longterm pin, then a write: the pin must see it", before: [], fast: false),
            Case(name: "ro-pin-before-fork",
                 title: "R/O longterm pin taken before fork, then the parent writes: the pin must see it, the child must not",
                 ops: ["pin p0 r0[0] -> g0 longterm", fork, "write p0 r0[0] 2", "readpin g0", "read p1 r0[0]"]),
            Case(name: "pokemem-parent",
                 title: "fork, then a FOLL_FORCE write by the parent through /proc/pid/mem into its R/O mapping",
                 ops: [fork, "mprotect p0 r0 ro$range", "pokemem p0 r0[0] 2", "read p1 r0[0]", "read p0 r0[0]"]),
            Case(name: "pokemem-child",
                 title: "fork, then a FOLL_FORCE write by the child through /proc/pid/mem into its R/O mapping",
                 ops: [fork, "mprotect p1 r0 ro$range", "pokemem p1 r0[0] 2", "read p0 r0[0]", "read p1 r0[0]"]),
        ]
    }()

    /// One cell: a scenario, a case and the program they make.
    public struct Cell: Sendable {
        public var scenario: Scenario
        public var testCase: Case
        public var program: Program
        /// `base/fork-parent-writes`.
        public var name: String { scenario.name + "/" + testCase.name }
        /// The file name `--emit` writes it under.
        public var fileName: String { scenario.name + "." + testCase.name + ".cow" }
        /// The setup's ops come first: ops before this index are the setup.
        public var setupCount: Int { scenario.setup.count }
    }

    /// The program of one cell, with comments saying what it is.
    public static func cell(_ s: Scenario, _ c: Case) -> Cell {
        var text = s.thpOrder.map { "@thp-order \($0)\n" } ?? ""
        text += (s.setup + c.ops.map { $0.replacing("$range", with: s.range) }).joined(separator: "\n") + "\n"
        do {
            var p = try Program(parsing: text, file: "<matrix \(s.name)/\(c.name)>")
            p.comments = [" cowfuzz matrix cell \(s.name)/\(c.name)",
                          " scenario \(s.name): \(s.title); setup: ops 0-\(s.setup.count - 1)",
                          " case \(c.name): \(c.title)"]
            return Cell(scenario: s, testCase: c, program: p)
        } catch {
            preconditionFailure("the matrix table does not parse: \(error)")
        }
    }

    /// Every cell of the scenarios and cases named (all when nil), scenario-major, in
    /// table order; names not in the table select nothing.
    public static func cells(scenarios: [String]? = nil, cases: [String]? = nil) -> [Cell] {
        let ss = self.scenarios.filter { scenarios?.contains($0.name) ?? true }
        let cs = self.cases.filter { cases?.contains($0.name) ?? true }
        return ss.flatMap { s in cs.map { cell(s, $0) } }
    }

    // MARK: - results

    /// A cell's result on one backend, as the selftest prints it.
    public enum Result: Hashable, Sendable {
        case pass
        case fail(VerdictSet)
        /// The cell could not be run as written: an op was not run (`op` is its index) or
        /// the setup did not produce the state the scenario needs (`op` is the op after
        /// which it was checked).
        case skip(reason: String, op: Int)

        /// `pass`, `FAIL(isolation)`, `skip: reason`.
        public var text: String {
            switch self {
            case .pass: "pass"
            case let .fail(v): "FAIL(\(v.text))"
            case let .skip(why, _): "skip: " + why
            }
        }

        /// `pass`, `fail` or `skip`.
        public var kind: String {
            switch self {
            case .pass: "pass"
            case .fail: "fail"
            case .skip: "skip"
            }
        }

        public var skipped: Bool { if case .skip = self { true } else { false } }
    }

    /// The rule every backend's cell follows: a skip when any op was not run (the first
    /// one, with `detail` for its reason, else the status's reason) or the scenario's
    /// check fails on `page` (the page under test after the op the check names);
    /// otherwise pass when the run is clean, FAIL with its verdicts when not.
    public static func result(of cell: Cell, statuses: [OpStatus], verdicts: VerdictSet,
                              detail: (Int) -> String? = { _ in nil }, page: (Int) -> ProbedPage?) -> Result {
        for (i, s) in statuses.enumerated() {
            switch s {
            case .executed: continue
            case let .skipped(why), let .failed(why):
                let d = detail(i) ?? ""
                return .skip(reason: d.isEmpty ? why.text : d, op: i)
            }
        }
        if let check = cell.scenario.check, !check.holds(page(check.after)) {
            return .skip(reason: check.failure, op: check.after)
        }
        return verdicts.isEmpty ? .pass : .fail(verdicts)
    }

    /// One cell on the model policies: the result per policy, in the order given, with
    /// the verdicts and violations behind it. The scenario's check reads the page state
    /// of a run of the setup alone: the model is deterministic, so that is the cell's
    /// state after the same op (the real kernel's check reads the cell's own run).
    public static func runModel(_ cell: Cell, checker: ProgramChecker) -> [(policy: String, result: Result, outcome: PolicyOutcome)] {
        let outcomes = checker.check(cell.program)
        return zip(checker.policies, outcomes).map { policy, o in
            // The page state is needed only for the scenario's check, after a setup op.
            let steps = cell.scenario.check == nil ? [] : policy.explain(Program(ops: Array(cell.program.ops.prefix(cell.setupCount)),
                                                                               thpOrder: cell.program.thpOrder))
            let r = result(of: cell, statuses: o.result.trace.statuses, verdicts: o.verdicts) { k in
                guard k < steps.count, let v = steps[k].pages.first(where: { $0.process == 0 && $0.region == 0 && $0.page == 0 }) else {
                    return nil
                }
                return ProbedPage(pmd: v.pmd, swapped: v.entry == "swap")
            }
            return (o.policy, r, o)
        }
    }
}
