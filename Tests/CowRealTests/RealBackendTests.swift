import CowModel
import CowOracle
import CowReal
import Foundation
import TestSupport
import Testing

/// Whether the real backend can run here with everything these tests look at
/// (Linux, root for the page frames, the bit-34 self-test, io_uring).
enum RealHere {
    static let status: (Bool, String) = {
        #if os(Linux)
        let (ok, why) = RealBackend.isAvailable()
        guard ok else { return (false, why) }
        guard let f = try? RealBackend.shared.features() else { return (false, "no features") }
        guard f.root, f.pfns else { return (false, "not root: no page frames") }
        return (true, why)
        #else
        return (false, "the real backend needs Linux")
        #endif
    }()
    static var available: Bool { status.0 }
    static var why: Comment { Comment(rawValue: "real backend unavailable: \(status.1)") }
}

@Suite("real kernel backend", .serialized)
struct RealBackendTests {
    /// The source export-c and the fallback build use is #embed-ded from the files the
    /// target compiles (Sources/CRealKernel/cowsource.c): this checks the wiring (paths,
    /// NUL termination), not a copy, since there is none to drift.
    @Test("the executor source is embedded (#embed) from the C files this binary was built from")
    func executorSourceIsEmbedded() throws {
        let dir = packageRoot.appendingPathComponent("Sources/CRealKernel")
        let h = try String(contentsOf: dir.appendingPathComponent("include/cowreal.h"), encoding: .utf8)
        let c = try String(contentsOf: dir.appendingPathComponent("cowreal.c"), encoding: .utf8)
        #expect(CExport.executorSource == "#define _GNU_SOURCE 1\n#define CF_AMALGAMATED 1\n" + h + "\n" + c + "\n")
    }

    @Test("fork, write, read: copies are isolated and visible as frames", .enabled(if: RealHere.available, RealHere.why))
    func forkWriteRead() throws {
        let p = program("""
        mmap p0 r0 pages=2
        write p0 r0[0] 1
        fork p0 -> p1
        read p1 r0[0]
        write p1 r0[0] 2
        read p0 r0[0]
        read p1 r0[0]
        read p1 r0[1]
        exit p1
        write p0 r0[0] 3
        read p0 r0[0]
        """)
        let run = try RealBackend.run(p)
        #expect(!run.partial && !run.timedOut)
        #expect(run.trace.statuses.allSatisfy { $0.executed })
        #expect(run.trace.observed == [-1, -1, -1, 1, -1, 1, 2, 0, -1, -1, 3])
        // After fork both map one frame, not exclusive; the child's write copies.
        let afterFork = run.steps[2].pages.filter { $0.region == 0 && $0.page == 0 }
        #expect(afterFork.count == 2)
        #expect(Set(afterFork.map(\.frame)).count == 1)
        #expect(afterFork.allSatisfy { $0.mapcount == 2 && $0.anonExclusive != true })
        let afterWrite = run.steps[4].pages.filter { $0.page == 0 }
        #expect(Set(afterWrite.map(\.frame)).count == 2)
        #expect(afterWrite.first { $0.process == 1 }?.anonExclusive == true)
        // With the child gone the parent's write reuses its page (pinned to one CPU).
        let before = run.steps[4].pages.first { $0.process == 0 && $0.page == 0 }
        let after = run.steps[9].pages.first { $0.process == 0 && $0.page == 0 }
        #expect(before?.frame == after?.frame)
        #expect(after?.anonExclusive == true)
    }

    @Test("CVE-2020-29374: the child's pipe keeps the old data on this kernel", .enabled(if: RealHere.available, RealHere.why))
    func cve2020_29374() throws {
        let p = program("""
        \(TestSupport.cve2020_29374)
        """)
        let run = try RealBackend.run(p)
        #expect(run.trace.statuses.allSatisfy { $0.executed })
        #expect(run.trace.observed[6] == 1)
        #expect(Checker.judge(p, trace: run.trace).isEmpty)
    }

    @Test("an io_uring pin makes fork copy eagerly and stays coherent", .enabled(if: RealHere.available, RealHere.why))
    func ioUringPinAndFork() throws {
        let f = try RealBackend.shared.features()
        try #require(f.ioUring, "io_uring unavailable")
        let p = program("""
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        pin p0 r0[0] -> g0 rw longterm
        fork p0 -> p1
        write p0 r0[0] 2
        readpin g0
        read p1 r0[0]
        writepin g0 3
        read p0 r0[0]
        read p1 r0[0]
        unpin g0
        readpin g0
        """)
        let run = try RealBackend.run(p)
        #expect(!run.partial)
        #expect(run.trace.observed[5] == 2)
        #expect(run.trace.observed[6] == 1)
        #expect(run.trace.observed[8] == 3)
        #expect(run.trace.observed[9] == 1)
        #expect(run.trace.statuses[11] == .skipped(.noPin))
        // fork gave the child its own copy at once: two frames right after the fork.
        let atFork = run.steps[3].pages.filter { $0.region == 0 && $0.page == 0 }
        #expect(Set(atFork.map(\.frame)).count == 2)
        #expect(atFork.first { $0.process == 0 }?.anonExclusive == true)
        #expect(Checker.judge(p, trace: run.trace).isEmpty)
    }

    @Test("pokemem writes a read-only private file mapping, not the file", .enabled(if: RealHere.available, RealHere.why))
    func pokememReadOnlyFile() throws {
        let p = program("""
        mmap p0 r0 pages=1 file
        mprotect p0 r0 ro
        read p0 r0[0]
        write p0 r0[0] 5
        pokemem p0 r0[0] 7
        read p0 r0[0]
        mmap p0 r1 pages=1 file
        read p0 r1[0]
        fork p0 -> p1
        read p1 r0[0]
        """)
        let run = try RealBackend.run(p)
        #expect(run.trace.statuses[3] == .skipped(.notWritable))
        #expect(run.trace.statuses[4] == .executed)
        #expect(run.trace.observed[2] == 0)
        #expect(run.trace.observed[5] == 7)
        #expect(run.trace.observed[7] == 0)
        #expect(run.trace.observed[9] == 7)
        let poked = run.steps[4].pages.first { $0.process == 0 }
        #expect(poked?.flags.contains(.anon) == true)
    }

    @Test("ops this kernel cannot run are skipped with a reason and the run is partial", .enabled(if: RealHere.available, RealHere.why))
    func partialRuns() throws {
        let p = program("""
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        pin p0 r0[0] -> g0
        migrate p0 r0[0]
        ksm
        pin p0 r0[0] -> g1 get
        write p0 r0[0] 2
        readpin g1
        read p0 r0[0]
        """)
        let run = try RealBackend.run(p)
        #expect(run.partial)
        #expect(run.skips.map(\.op) == [2, 3, 4])
        #expect(run.skips.allSatisfy { $0.reason == .realUnsupported && !$0.detail.isEmpty })
        #expect(run.trace.statuses[5] == .executed)
        // A FOLL_GET reference keeps the page it got; the write copies away from it or not,
        // and the oracle accepts both.
        #expect([1, 2].contains(run.trace.observed[7]))
        #expect(run.trace.observed[8] == 2)
    }

    @Test("thp regions get a PMD-mapped THP; fork and a child's write copy one subpage", .enabled(if: RealHere.available, RealHere.why))
    func thpRegion() throws {
        let f = try RealBackend.shared.features()
        try #require(f.thp, "THP disabled")
        let p = program("""
        @thp-order 9
        mmap p0 r0 pages=512 thp
        write p0 r0[0] 1
        fork p0 -> p1
        write p1 r0[1] 2
        read p0 r0[1]
        read p1 r0[0]
        """)
        let run = try RealBackend.run(p)
        #expect(run.trace.observed[4] == 0 && run.trace.observed[5] == 1)
        let first = try #require(run.steps[1].pages.first)
        #expect(first.flags.contains(.thp) && first.flags.contains(.pmd) && first.anonExclusive == true)
        let child = try #require(run.steps[3].pages.first { $0.process == 1 && $0.page == 1 })
        #expect(!child.flags.contains(.thp) && child.anonExclusive == true)
    }

    @Test("the ksm tier merges, and restores every knob it changed", .enabled(if: RealHere.available, RealHere.why))
    func ksmTier() throws {
        kernelKnobLock.lock()
        defer { kernelKnobLock.unlock() }
        let f = try RealBackend.shared.features()
        try #require(f.ksm, "no KSM")
        let knobs = ["run", "sleep_millisecs", "pages_to_scan", "smart_scan"].map { "/sys/kernel/mm/ksm/" + $0 }
        let before = knobs.map { try? String(contentsOfFile: $0, encoding: .utf8) }
        let p = program("""
        mmap p0 r0 pages=2
        write p0 r0[0] 7
        write p0 r0[1] 7
        madvise p0 r0 mergeable
        ksm
        read p0 r0[0]
        write p0 r0[0] 8
        read p0 r0[1]
        read p0 r0[0]
        """)
        let run = try RealBackend.run(p, tiers: [.ksm])
        #expect(!run.partial)
        #expect(run.trace.observed[5] == 7 && run.trace.observed[7] == 7 && run.trace.observed[8] == 8)
        let merged = run.steps[4].pages.filter { $0.process == 0 }
        #expect(merged.count == 2 && merged.allSatisfy { $0.flags.contains(.ksm) } && Set(merged.map(\.frame)).count == 1)
        #expect(knobs.map { try? String(contentsOfFile: $0, encoding: .utf8) } == before)
    }

    @Test("a program that hangs is killed by its time-out and leaves no process behind", .enabled(if: RealHere.available, RealHere.why))
    func hangIsKilled() throws {
        let p = program("""
        mmap p0 r0 pages=1
        write p0 r0[0] 1
        fork p0 -> p1
        fork p1 -> p2
        write p2 r0[0] 2
        read p0 r0[0]
        """)
        let run = try RealBackend.shared.run(p, timeout: .milliseconds(300), hangAtOp: 4)
        #expect(run.timedOut)
        // A time-out is told as a time-out: the op that hung, and every op after it.
        #expect(run.trace.statuses[4] == .failed(.timedOut), "\(run.trace.statuses)")
        #expect(run.trace.statuses[5] == .skipped(.timedOut))
        #expect(run.skips.map(\.op) == [4, 5] && run.skips.allSatisfy { $0.reason == .timedOut })
        #expect(run.processGroup > 0)
        #expect(processesInGroup(run.processGroup).isEmpty)
        // The helper survives and runs the next program.
        let again = try RealBackend.run(p)
        #expect(!again.timedOut && again.trace.observed[5] == 1)
        #expect(processesInGroup(again.processGroup).isEmpty)
    }

    @Test("the corpus agrees with linux-6.x wherever it runs here", .enabled(if: RealHere.available, RealHere.why))
    func corpusAgreesWithModel() throws {
        guard let model = PolicyRegistry.named("linux-6.x") else { return }
        var ran = 0
        for url in corpusFiles() {
            let text = try String(contentsOf: url, encoding: .utf8)
            let p = try Program(parsing: text, file: url.lastPathComponent)
            guard !p.ops.contains(where: { RealBackend.staticallyUnsupported($0, tiers: []) != nil }) else { continue }
            let run = try RealBackend.run(p)
            #expect(!run.timedOut, "\(url.lastPathComponent)")
            if run.partial { continue }
            ran += 1
            let m = model.run(p)
            for i in p.ops.indices where run.trace.statuses[i].executed && m.trace.statuses[i].executed {
                #expect(run.trace.observed[i] == m.trace.observed[i], "\(url.lastPathComponent) op \(i): real \(run.trace.observed[i]), linux-6.x \(m.trace.observed[i])")
            }
            let realVerdicts = Set(Checker.judge(p, trace: run.trace).map(\.verdict))
            #expect(realVerdicts.isEmpty, "\(url.lastPathComponent): real kernel verdicts \(realVerdicts)")
        }
        #expect(ran > 0)
    }

    @Test("exported C of corpus programs compiles with cc and exits as the oracle judges here", .enabled(if: RealHere.available, RealHere.why))
    func exportedCMatchesOracle() throws {
        let f = try RealBackend.shared.features()
        var names = ["cve-2020-29374-vmsplice-unmap-child.cow", "exit-while-pinned.cow"]
        // A real violation on this kernel (the hugetlb_wp mapcount reuse): exit status 1.
        if f.hugetlb { names.append("hugetlb-vmsplice-unmap-child.cow") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cowfuzz-export-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var sawViolation = false
        for name in names {
            let url = packageRoot.appendingPathComponent("corpus/" + name)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
            let p = try Program(parsing: text, file: name)
            let run = try RealBackend.run(p, tiers: [.hugetlb])
            let acc = Checker.acceptance(p, statuses: run.trace.statuses)
            var exp: [Int: CExport.Expectation] = [:]
            for (i, a) in acc.enumerated() { if let a { exp[i] = CExport.Expectation(accepted: a.accepted.values) } }
            let src = CExport.source(for: p, expectations: exp, assumedStatuses: run.trace.statuses, name: name)
            let c = dir.appendingPathComponent("repro.c"), bin = dir.appendingPathComponent("repro")
            try src.write(to: c, atomically: true, encoding: .utf8)
            let cc = try shell(["cc", "-O2", "-Wall", "-o", bin.path, c.path])
            #expect(cc.status == 0, "\(name) compiles: \(cc.output)")
            let out = try shell([bin.path, "--tiers", "hugetlb"])
            let violations = Checker.judge(p, trace: run.trace)
            sawViolation = sawViolation || !violations.isEmpty
            #expect(out.status == (violations.isEmpty ? 0 : 1), "\(name): \(out.output)")
            #expect(out.output.contains("TAP version 13") && out.output.contains("# Totals:"))
            #expect(out.output.contains("not ok") == !violations.isEmpty)
        }
        #expect(!f.hugetlb || sawViolation)
    }

    @Test("real programs per second is a positive figure", .enabled(if: RealHere.available, RealHere.why))
    func benchmark() throws {
        let (runs, rate) = try RealBackend.benchmark(seconds: 0.2)
        #expect(runs > 0 && rate > 0)
    }
}

/// Live processes whose process group is `pgid` (from /proc/<pid>/stat).
func processesInGroup(_ pgid: Int32) -> [Int] {
    let fm = FileManager.default
    var out: [Int] = []
    for name in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int(name), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { continue }
        // pid (comm) state ppid pgrp …: comm may hold spaces, so split after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 2, Int32(fields[2]) == pgid { out.append(pid) }
    }
    return out
}

/// Runs a command (through /usr/bin/env) and returns its exit status and output.
func shell(_ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
