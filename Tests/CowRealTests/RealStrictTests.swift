@testable import CowModel
@testable import CowReal
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The strict comparison of a real run with linux-6.x (outcome and state classes, and
/// the measurement-artifact rules), without a kernel: runs built by hand.
@Suite("real vs model: outcomes, state classes and artifact rules")
struct RealComparisonRuleTests {
    static let features: RealFeatures = {
        var f = RealFeatures()
        f.root = true; f.pfns = true; f.kpageflags = true; f.anonExclusive = true
        return f
    }()

    func real(_ p: Int, _ r: Int, _ i: Int, frame: Int, ae: Bool? = true, flags: RealPageFlags = [.anon]) -> RealPageState {
        RealPageState(process: p, region: r, page: i, present: true, swapped: false, frame: frame, exclusivelyMapped: true,
                      mapcount: 1, anonExclusive: ae, flags: flags)
    }

    func model(_ p: Int, _ r: Int, _ i: Int, frame: Int32, exclusive: Bool = true, order: Int = 0, pmd: Bool = false,
               kind: FrameKind = .anon) -> PageView {
        PageView(process: p, region: r, page: i, entry: "present", frame: frame, content: 1, mapcount: 1, refcount: 1,
                 pins: 0, gets: 0, exclusive: exclusive, writable: true, pmd: pmd, order: order, ksm: false,
                 swapcache: false, kind: kind)
    }

    func differences(_ r: [RealPageState], _ m: [PageView]) -> [RealDivergence] {
        RealComparison.stateDifferences(at: 3, real: r, model: m, features: Self.features)
    }

    @Test("an order-0 page whose PageAnonExclusive differs is a state divergence with its op and page")
    func exclusiveOfASmallPage() {
        let d = differences([real(0, 0, 0, frame: 7, ae: false)], [model(0, 0, 0, frame: 3, exclusive: true)])
        #expect(d.count == 1)
        #expect(d.first?.kind == .state && d.first?.op == 3 && d.first?.page == "p0 r0[0]")
        #expect(d.first?.what.contains("exclusive") == true)
    }

    @Test("rule 'head's exclusive bit': a PTE-mapped large folio's sub-pages are not compared for AE")
    func headExclusiveBit() {
        // kpageflags shows the head's bit on every sub-page; the model tracks it per page.
        let r = [real(0, 0, 1, frame: 11, ae: true, flags: [.anon, .thp, .tail])]
        let m = [model(0, 0, 1, frame: 5, exclusive: false, order: 2, pmd: false)]
        #expect(differences(r, m).isEmpty)
        // The same difference on a PMD-mapped THP is compared.
        let rp = [real(0, 0, 1, frame: 11, ae: true, flags: [.anon, .thp, .tail, .pmd])]
        let mp = [model(0, 0, 1, frame: 5, exclusive: false, order: 2, pmd: true)]
        #expect(differences(rp, mp).map(\.what).contains { $0.contains("exclusive") })
    }

    @Test("rule 'huge zero page': zero frames take no part in frame sharing")
    func hugeZeroPage() {
        // The huge zero folio: two sub-pages, two PFNs; the model maps its one zero frame twice.
        let r = [real(0, 0, 0, frame: 900, ae: nil, flags: [.zero, .thp]), real(0, 0, 1, frame: 901, ae: nil, flags: [.zero, .thp])]
        let m = [model(0, 0, 0, frame: 0, exclusive: false, kind: .zero), model(0, 0, 1, frame: 0, exclusive: false, kind: .zero)]
        #expect(differences(r, m).isEmpty)
        // Two anonymous pages that share a frame in the model but not here do differ.
        let r2 = [real(0, 0, 0, frame: 20), real(1, 0, 0, frame: 21)]
        let m2 = [model(0, 0, 0, frame: 4, exclusive: false), model(1, 0, 0, frame: 4, exclusive: false)]
        let d = differences(r2.map { var x = $0; x.anonExclusive = false; return x }, m2)
        #expect(d.count == 1 && d[0].what.hasPrefix("frame shared with p1 r0[0]"))
    }

    @Test("rule 'hugetlb is huge by construction': the PMD bit of a hugetlb page is not compared")
    func hugetlbPMD() {
        let r = [real(0, 0, 0, frame: 30, flags: [.anon, .hugetlb, .head])]
        let m = [model(0, 0, 0, frame: 8, order: 2, pmd: true)]
        #expect(differences(r, m).isEmpty)
        let thp = [real(0, 0, 0, frame: 30, flags: [.anon, .thp, .head])]
        #expect(differences(thp, m).map(\.what) == ["PMD-mapped"])
    }

    func run(_ steps: [RealStep]) -> RealRun {
        RealRun(trace: Trace(statuses: steps.map(\.status), observed: steps.map(\.observed)), steps: steps,
                partial: false, skips: [], timedOut: false, processGroup: 0, microseconds: 0, features: Self.features)
    }

    func view(_ k: Int, _ op: Op, _ status: OpStatus, _ pages: [PageView], observed: Int16 = -1) -> StepView {
        StepView(index: k, op: op, status: status, observed: observed, events: [], pages: pages)
    }

    @Test("rule 'fault-around': a page-cache page the kernel mapped around a fault is no difference; an anonymous one is")
    func faultAround() {
        var none = model(0, 1, 0, frame: -1, kind: .pagecache)
        none.entry = "-"
        #expect(differences([real(0, 1, 0, frame: 7, ae: nil, flags: [])], [none]).isEmpty)
        let anon = differences([real(0, 1, 0, frame: 7, ae: false, flags: [.anon])], [none])
        #expect(anon.map(\.what) == ["entry"])
        // The other way round (the model maps what the kernel does not) is always one.
        #expect(differences([RealPageState(process: 0, region: 1, page: 0, present: false, swapped: false, frame: 0,
                                           exclusivelyMapped: false, mapcount: 0, anonExclusive: nil, flags: [])],
                            [model(0, 1, 0, frame: 3, kind: .pagecache)]).map(\.what) == ["entry"])
    }

    @Test("rule 'PFN reuse': one frame at two times names no sharing; the comparison is per step")
    func pfnReuse() {
        let p = program("mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nmunmap p0 r0 from=0 count=1\nwrite p0 r0[1] 2")
        // The kernel gives the freed frame 40 to page 1; the model allocates a new frame.
        let steps = [
            RealStep(status: .executed, observed: -1, detail: "", pages: []),
            RealStep(status: .executed, observed: -1, detail: "", pages: [real(0, 0, 0, frame: 40)]),
            RealStep(status: .executed, observed: -1, detail: "", pages: []),
            RealStep(status: .executed, observed: -1, detail: "", pages: [real(0, 0, 1, frame: 40)]),
        ]
        let views = [
            view(0, p.ops[0], .executed, []),
            view(1, p.ops[1], .executed, [model(0, 0, 0, frame: 1)]),
            view(2, p.ops[2], .executed, []),
            view(3, p.ops[3], .executed, [model(0, 0, 1, frame: 2)]),
        ]
        #expect(RealComparison.compare(p, real: run(steps), model: views).isEmpty)
    }

    @Test("a different outcome class is an op-outcome divergence, and the comparison stops there")
    func outcomeClass() {
        let p = program("mmap p0 r0 pages=4 thp\nmadvise p0 r0 collapse\nread p0 r0[0]")
        let steps = [
            RealStep(status: .executed, observed: -1, detail: "", pages: []),
            RealStep(status: .executed, observed: -1, detail: "", pages: []),
            RealStep(status: .executed, observed: 0, detail: "", pages: []),
        ]
        let views = [
            view(0, p.ops[0], .executed, []),
            view(1, p.ops[1], .failed(.refusedByKernel), []),
            view(2, p.ops[2], .executed, [], observed: 7),
        ]
        let d = RealComparison.compare(p, real: run(steps), model: views)
        #expect(d.count == 1)
        #expect(d.first?.kind == .opOutcome && d.first?.op == 1)
        #expect(d.first?.real.hasPrefix("done") == true && d.first?.model.hasPrefix("refused") == true)
        // The same runs with matching outcomes compare the observation.
        var same = views
        same[1].status = .executed
        let d2 = RealComparison.compare(p, real: run(steps), model: same)
        #expect(d2.map(\.kind) == [.observation] && d2.first?.op == 2)
    }

    @Test("an op this kernel could not run ends the comparison: nothing after it is a divergence")
    func stopsAtRealUnsupported() {
        let p = program("mmap p0 r0 pages=1\nksm\nread p0 r0[0]")
        let steps = [
            RealStep(status: .executed, observed: -1, detail: "", pages: []),
            RealStep(status: .skipped(.realUnsupported), observed: -1, detail: "needs --real-tiers ksm", pages: []),
            RealStep(status: .executed, observed: 0, detail: "", pages: []),
        ]
        let views = [view(0, p.ops[0], .executed, []), view(1, p.ops[1], .executed, []), view(2, p.ops[2], .executed, [], observed: 5)]
        #expect(RealComparison.compare(p, real: run(steps), model: views).isEmpty)
    }
}

/// The pieces of the real backend that guard the machine and the protocol, checked
/// without running programs.
@Suite("real backend: limits, helper directory, knob journal")
struct RealGuardTests {
    @Test("a program over the helper's op limit is refused before anything is sent")
    func opLimit() {
        let ok = program("mmap p0 r0 pages=1\nread p0 r0[0]")
        #expect(RealExecutor.overLimit(ok) == nil)
        let big = Program(ops: [Op](repeating: .read(p: 0, r: 0, page: 0), count: RealExecutor.maxOps + 1))
        let why = RealExecutor.overLimit(big)
        #expect(why?.contains("at most \(RealExecutor.maxOps) ops") == true)
        #expect(RealExecutor.overLimit(Program(ops: [Op](repeating: .read(p: 0, r: 0, page: 0), count: RealExecutor.maxOps))) == nil)
    }

    @Test("export-c and replay --backend real refuse a program over the op limit at once (no deadlock), exit 2")
    func longProgramDoesNotHang() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("long.cow")
        let text = "# cowfuzz 1\nmmap p0 r0 pages=1\n" + String(repeating: "read p0 r0[0]\n", count: RealExecutor.maxOps + 1)
        try text.write(to: f, atomically: true, encoding: .utf8)
        for args in [["export-c", f.path, "-o", dir.appendingPathComponent("long.c").path], ["replay", f.path, "--backend", "real"]] {
            let t0 = Date()
            let r = try runCowfuzz(args)
            #expect(r.status == 2, "\(args[0]): \(r.err)")
            #expect(r.err.contains("at most \(RealExecutor.maxOps) ops"))
            #expect(Date().timeIntervalSince(t0) < 30)
        }
    }

    #if os(Linux)
    @Test("a helper that crashes is an internal error, exit 3; a helper that cannot be found is exit 2")
    func helperCrashIsExit3() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let crash = dir.appendingPathComponent("crashing-helper")
        try "#!/bin/sh\nkill -SEGV $$\n".write(to: crash, atomically: true, encoding: .utf8)
        chmod(crash.path, 0o700)
        let f = packageRoot.appendingPathComponent("corpus/race-dirty-cow.cow").path
        let crashed = try runCowfuzz(["replay", f, "--backend", "real"], environment: ["COWFUZZ_REAL_EXEC": crash.path])
        #expect(crashed.status == 3, "\(crashed.err)")
        #expect(crashed.err.contains("helper died") && crashed.err.contains("signal 11"), "\(crashed.err)")
        let missing = try runCowfuzz(["replay", f, "--backend", "real"],
                                     environment: ["COWFUZZ_REAL_EXEC": dir.appendingPathComponent("none").path])
        #expect(missing.status == 2, "\(missing.err)")
        #expect(missing.err.split(separator: "\n").count == 1, "\(missing.err)")
    }

    @Test("a directory another user could write is never trusted for the helper")
    func untrustedDirectories() throws {
        let base = try temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: base) }
        // Group- or world-writable without the sticky bit: refused.
        let open = base + "/open"
        #expect(mkdir(open, 0o700) == 0)
        #expect(chmod(open, 0o777) == 0)
        #expect(RealExecutable.trustedDirectory(open)?.contains("writable by group or others") == true)
        #expect(RealExecutable.privateDirectoryProblem(open) != nil)
        // A symlink to a private directory: refused (lstat, never followed).
        let priv = base + "/private"
        #expect(mkdir(priv, 0o700) == 0)
        #expect(RealExecutable.privateDirectoryProblem(priv) == nil)
        #expect(symlink(priv, base + "/link") == 0)
        #expect(RealExecutable.privateDirectoryProblem(base + "/link")?.contains("symlink") == true)
        // Owned by someone else (as root: chown to nobody): refused.
        if geteuid() == 0 {
            let theirs = base + "/theirs"
            #expect(mkdir(theirs, 0o700) == 0)
            #expect(chown(theirs, 65534, 65534) == 0)
            #expect(RealExecutable.privateDirectoryProblem(theirs)?.contains("owned by uid 65534") == true)
            #expect(RealExecutable.trustedDirectory(theirs)?.contains("owned by uid 65534") == true)
        }
        // A private directory with mode 0750: refused.
        #expect(chmod(priv, 0o750) == 0)
        #expect(RealExecutable.privateDirectoryProblem(priv)?.contains("not 0700") == true)
    }

    @Test("a helper planted in a predictable or foreign directory is never executed; a fresh one is built")
    func plantedHelperIsNotRun() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/cc") || FileManager.default.isExecutableFile(atPath: "/usr/bin/gcc")
            || FileManager.default.isExecutableFile(atPath: "/usr/bin/clang") else { return }
        let base = try temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: base) }
        // Another user's cache directory with a "helper" in it under the expected name.
        let foreign = base + "/foreign"
        #expect(mkdir(foreign, 0o777) == 0)
        #expect(chmod(foreign, 0o777) == 0)
        let planted = RealExecutable.expectedName()
        let marker = base + "/planted-ran"
        try "#!/bin/sh\ntouch \(marker)\n".write(toFile: foreign + "/" + planted, atomically: false, encoding: .utf8)
        #expect(chmod(foreign + "/" + planted, 0o755) == 0)
        let bin = try RealExecutable.compileFromEmbeddedSource(cacheDir: .some(foreign))
        defer { try? FileManager.default.removeItem(atPath: (bin as NSString).deletingLastPathComponent) }
        #expect(!bin.hasPrefix(foreign + "/"), "built into a fresh directory, not the foreign one")
        #expect(RealExecutable.privateDirectoryProblem((bin as NSString).deletingLastPathComponent) == nil)
        #expect(!FileManager.default.fileExists(atPath: marker))
        // The binary answers the protocol's first line.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        let out = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardInput = inp
        try p.run()
        try inp.fileHandleForWriting.write(contentsOf: Data("quit\n".utf8))
        try inp.fileHandleForWriting.close()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text.hasPrefix("V cowfuzz-real "))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("a journal left by a dead cowfuzz is repaired once; a live writer's is left alone")
    func journalRepair() throws {
        kernelKnobLock.lock()
        defer { kernelKnobLock.unlock() }
        // It writes a knob itself: under the machine-wide lock, as cowfuzz does.
        try RealKnobs.withMachineLock { () throws in try journalRepairLocked() }
    }

    func journalRepairLocked() throws {
        let knob = "/sys/kernel/mm/ksm/pages_to_scan"
        guard geteuid() == 0, let original = RealKnobs.current()[knob] ?? nil, access(knob, W_OK) == 0 else { return }
        defer { RealKnobs.write(knob, original) }
        let dir = try temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let journal = dir + "/knobs.journal"
        // A live writer (this test's parent, pid 1 stands for "alive"): not touched.
        try "cowfuzz-knobs 1\npid 1\n\(knob) \(original)\n".write(toFile: journal, atomically: true, encoding: .utf8)
        RealKnobs.write(knob, "1234")
        #expect(RealKnobs.repair(journal: journal).isEmpty)
        #expect(RealKnobs.current()[knob] == "1234")
        // A dead writer: the value goes back and the journal is gone.
        let dead = deadPID()
        try "cowfuzz-knobs 1\npid \(dead)\n\(knob) \(original)\n/etc/passwd x\n".write(toFile: journal, atomically: true, encoding: .utf8)
        let repaired = RealKnobs.repair(journal: journal)
        #expect(repaired.map(\.0) == [knob], "only the known knob paths, never another file")
        #expect(RealKnobs.current()[knob] == original)
        #expect(!FileManager.default.fileExists(atPath: journal))
    }

    /// A pid that no process has now (a child that has exited and been reaped).
    func deadPID() -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try? p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }
    #endif
}

/// On this kernel: a killed helper's knobs, swap gating and honest partial runs.
@Suite("real backend: restored knobs and honest partial runs", .serialized)
struct RealHonestyTests {
    #if os(Linux)
    @Test("another process driving KSM is waited for: a run with tiers never records driven knobs as the originals",
          .enabled(if: RealHere.available, RealHere.why))
    func anotherProcessDrivingKSMIsWaitedFor() throws {
        kernelKnobLock.lock()
        defer { kernelKnobLock.unlock() }
        guard (try? RealBackend.shared.features())?.ksm == true else { return }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("ksm.cow")
        try "# cowfuzz 1\nmmap p0 r0 pages=2\nwrite p0 r0[0] 1\nwrite p0 r0[1] 1\nmadvise p0 r0 mergeable\nksm\nread p0 r0[0]\n"
            .write(to: f, atomically: true, encoding: .utf8)
        let before = machineKnobs()
        let proc = Process()
        var finishedWhileHeld = false
        // This process plays one driving KSM (it holds the machine lock) while a second
        // cowfuzz starts a KSM run (alone it takes about 0.1 s): that one must wait, not
        // record and restore whatever the first had set.
        try RealKnobs.withMachineLock { () throws -> Void in
            proc.executableURL = cowfuzzBinary()
            proc.arguments = ["replay", f.path, "--backend", "real", "--real-tiers", "ksm"]
            proc.standardOutput = FileHandle.nullDevice
            proc.standardError = FileHandle.nullDevice
            try proc.run()
            usleep(1_500_000)
            finishedWhileHeld = !proc.isRunning
        }
        proc.waitUntilExit()
        #expect(!finishedWhileHeld, "the second process ran its KSM op while another held the knobs")
        #expect(proc.terminationStatus == 0)
        #expect(machineKnobs() == before, "every knob as before")
    }

    @Test("a helper killed mid KSM pass leaves no knob changed: this process restores the originals",
          .enabled(if: RealHere.available, RealHere.why))
    func killedHelperRestoresKnobs() throws {
        kernelKnobLock.lock()
        defer { kernelKnobLock.unlock() }
        guard (try? RealBackend.shared.features())?.ksm == true else { return }
        let before = machineKnobs()
        let ex = RealExecutor()
        defer { ex.shutdown() }
        let p = program("mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nwrite p0 r0[1] 1\nmadvise p0 r0 mergeable\nksm\nread p0 r0[0]")
        // Kill the helper (SIGKILL, no chance to restore) once ksmd is driven.
        let me = getpid()
        let killer = Thread {
            let t0 = Date()
            while Date().timeIntervalSince(t0) < 20 {
                if RealKnobs.current()["/sys/kernel/mm/ksm/run"] == "1", let pid = helperChild(of: me) {
                    kill(pid, SIGKILL)
                    return
                }
                usleep(20000)
            }
        }
        killer.start()
        var failed: RealBackendError?
        do { _ = try ex.run(p, tiers: [.ksm], timeout: .seconds(10), hangAtOp: 4) } catch { failed = error }
        // Either our SIGKILL (helperDied) or, if the killer did not find it, the deadline's
        // SIGKILL of the hung helper (timedOut): both kill it mid-pass without its restore.
        switch failed {
        case .helperDied?, .timedOut?: break
        default: Issue.record("expected the helper to be killed, got \(String(describing: failed))")
        }
        #expect(machineKnobs() == before, "every knob as before the run")
    }

    @Test("pageout and swapout run only with the swap tier and an active swap device, else are skipped with the reason",
          .enabled(if: RealHere.available, RealHere.why))
    func swapGating() throws {
        let p = program("mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nmadvise p0 r0 pageout\nswapout p0 r0[0]\nread p0 r0[0]")
        let without = try RealBackend.run(p)
        #expect(without.partial)
        #expect(without.skips.map(\.op) == [2, 3])
        #expect(without.skips.allSatisfy { $0.reason == .realUnsupported && $0.detail.contains("--real-tiers swap") })
        let with = try RealBackend.run(p, tiers: [.swap])
        if !(try RealBackend.shared.features()).swap {
            #expect(with.skips.map(\.op) == [2, 3])
            #expect(with.skips.allSatisfy { $0.detail.contains("no swap device is active") })
        } else {
            #expect(with.skips.isEmpty)
        }
        #expect(with.trace.observed[4] == 1)
    }

    @Test("a swapout MADV_PAGEOUT leaves in memory is 'not run here' whichever process asked (the parent or the child)",
          .enabled(if: RealHere.available, RealHere.why))
    func swapoutOfASharedPageIsNotRunForEitherProcess() throws {
        guard (try RealBackend.shared.features()).swap else { return }
        // Found by a 10-minute real fuzz: the check read the first touched page, which is
        // p0's, so p1's swapout of the page both map was taken as done.
        for asker in ["p0", "p1"] {
            let p = program("mmap p0 r0 pages=1\npokemem p0 r0[0] 1\nfork p0 -> p1\nswapout \(asker) r0[0]")
            let run = try RealBackend.run(p, tiers: [.swap])
            #expect(run.partial, "\(asker)")
            #expect(run.skips.map(\.op) == [3], "\(asker)")
            #expect(run.skips.first?.detail.contains("left the page in memory") == true, "\(asker)")
        }
    }

    @Test("a hugetlb mremap of part of a huge page moves all of it on both sides, so the source name is free again",
          .enabled(if: RealHere.available, RealHere.why))
    func hugetlbMremapMovesWholeHugePages() throws {
        kernelKnobLock.lock()
        defer { kernelKnobLock.unlock() }
        guard (try RealBackend.shared.features()).hugetlb else { return }
        // Found by the second 10-minute real fuzz: the helper moved one page in its books
        // while the kernel moved the huge page, and refused to map r1 again.
        let p = program("mmap p0 r0 pages=1\nmmap p0 r1 pages=4 hugetlb\nmremap p0 r1 -> r2 from=0 count=1\nmremap p0 r0 -> r1\nread p0 r2[3]")
        let run = try RealBackend.run(p, tiers: [.hugetlb])
        #expect(run.trace.statuses[2].executed && run.trace.statuses[3].executed, "\(run.trace.statuses)")
        let d = RealComparison.compare(p, real: run, model: PolicyRegistry.current.explain(p))
        #expect(d.isEmpty, "\(d)")
    }

    @Test("fuzz --backend real is the one campaign: it writes --report, --junit and --summary",
          .enabled(if: RealHere.available, RealHere.why))
    func realFuzzWritesEveryOutput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = dir.appendingPathComponent("corpus")
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        let report = dir.appendingPathComponent("r.json"), junit = dir.appendingPathComponent("r.xml")
        let summary = dir.appendingPathComponent("s.md")
        let r = try runCowfuzz(["fuzz", "--backend", "real", "--runs", "6", "--seed", "3", "--corpus", corpus.path,
                                "--crashes", dir.appendingPathComponent("crashes").path, "--report", report.path,
                                "--junit", junit.path, "--summary", summary.path, "--quiet"])
        #expect(r.status == 0 || r.status == 1, "\(r.err)")
        #expect(r.out.contains("6 programs in"), "\(r.out)")
        #expect(r.out.contains("real run(s)"), "the real figures: \(r.out)")
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any]
        let settings = obj?["settings"] as? [String: Any]
        #expect(settings?["backend"] as? String == "real")
        #expect(settings?["policies"] as? [String] == ["real", "linux-6.x"])
        #expect(settings?["jobs"] as? Int == 1)
        #expect((try String(contentsOf: junit, encoding: .utf8)).contains("<testsuite"))
        #expect(FileManager.default.fileExists(atPath: summary.path))
    }

    @Test("a ksm op with no mergeable VMA runs at once (ksmd has nothing to scan) and agrees with linux-6.x",
          .enabled(if: RealHere.available, RealHere.why))
    func ksmWithoutMergeableVMAsIsANoOp() throws {
        kernelKnobLock.lock()
        defer { kernelKnobLock.unlock() }
        guard (try RealBackend.shared.features()).ksm else { return }
        // The fourth and fifth real fuzz runs counted ~280 of these a run as "ksmd did not
        // finish three full scans in 2 s", 2 s each.
        for text in ["mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nksm\nread p0 r0[0]",
                     "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nmadvise p0 r0 mergeable\nmadvise p0 r0 unmergeable\nksm\nread p0 r0[0]"] {
            let p = program(text)
            let run = try RealBackend.run(p, tiers: [.ksm])
            #expect(run.skips.isEmpty && !run.partial, "\(text): \(run.skips.map(\.detail))")
            #expect(RealComparison.compare(p, real: run, model: PolicyRegistry.current.explain(p)).isEmpty, "\(text)")
        }
    }

    @Test("munmap of a region with holes unmaps only its pages, never what the holes hold by now",
          .enabled(if: RealHere.available, RealHere.why))
    func munmapLeavesWhatTheHolesHold() throws {
        // Found by the sixth real fuzz: the whole original span took the helper's
        // io_uring rings (then the pin's process died) or another region (then a write
        // to it killed the process).
        for text in ["mmap p0 r0 pages=2\nmunmap p0 r0 from=0 count=1\npin p0 r0[1] -> g0 rw\nmunmap p0 r0\nreadpin g0\nwritepin g0 1\nreadpin g0",
                     "mmap p0 r0 pages=4\nmunmap p0 r0 from=0 count=1\nmremap p0 r0 -> r1 from=1 count=2\nmmap p0 r2 pages=1\nmunmap p0 r0\nwrite p0 r2[0] 1\nread p0 r2[0]"] {
            let p = program(text)
            let run = try RealBackend.run(p)
            #expect(run.trace.statuses.allSatisfy { $0.executed }, "\(text): \(run.steps.map(\.detail))")
            #expect(RealComparison.compare(p, real: run, model: PolicyRegistry.current.explain(p)).isEmpty, "\(text)")
        }
    }

    /// Six 6.18 behaviours the sixth real fuzz (673 programs/s) found and the model now
    /// follows; each program must agree with linux-6.x op by op, value and page state.
    @Test("the sixth real fuzz's model fixes agree with 6.18", .enabled(if: RealHere.available, RealHere.why))
    func sixthRealFuzzFixesAgree() throws {
        kernelKnobLock.lock()
        defer { kernelKnobLock.unlock() }
        guard (try RealBackend.shared.features()).ksm else { return }
        for (what, text) in [
            ("VM_ACCOUNT keeps an anon_vma VMA apart from a read-only neighbour without one",
             "mmap p0 r0 pages=2\nmprotect p0 r0 ro from=0 count=1\nwrite p0 r0[1] 1\nmprotect p0 r0 ro\nread p0 r0[0]\nfork p0 -> p1"),
            ("a PTE table left by a PMD split keeps the next fault a base page",
             "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nmprotect p0 r0 ro from=0 count=1\nmadvise p0 r0 dontneed\nmprotect p0 r0 rw\nwrite p0 r0[0] 2"),
            ("MADV_DONTNEED of a whole block in one VMA frees its table: a THP faults again",
             "mmap p0 r0 pages=4 thp\nmadvise p0 r0 nohugepage\nwrite p0 r0[0] 1\nmadvise p0 r0 dontneed\nmadvise p0 r0 hugepage\nread p0 r0[1]"),
            ("ksmd merges pages that fork left shared",
             "mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nwrite p0 r0[1] 1\nmadvise p0 r0 mergeable\nfork p0 -> p1\nksm"),
            ("mremap breaks the KSM pages it moves",
             "mmap p0 r0 pages=2\nwrite p0 r0[0] 1\nwrite p0 r0[1] 1\nmadvise p0 r0 mergeable\nksm\nmremap p0 r0 -> r1"),
            ("a wipeonfork child has no PTE tables: its fault maps a THP",
             "mmap p0 r0 pages=4 thp\nwrite p0 r0[0] 1\nsplitpmd p0 r0[0]\nmadvise p0 r0 wipeonfork\nfork p0 -> p1\nvmsplice p1 r0[0] -> pipe0"),
            ("MADV_COLLAPSE of a VMA that may not hold a THP is EINVAL whatever the range",
             "mmap p0 r0 pages=1\nmadvise p0 r0 collapse"),
            ("a page fork left mapped twice never merges with itself",
             "mmap p0 r0 pages=1\nmadvise p0 r0 mergeable\nwrite p0 r0[0] 1\nfork p0 -> p1\nksm"),
            ("nohugepage on a base-page region changes nothing: no VMA split",
             "mmap p0 r0 pages=2\nmadvise p0 r0 nohugepage from=0 count=1\nread p0 r0[1]\nwrite p0 r0[0] 1\nfork p0 -> p1"),
            ("pageout unmaps a page-cache page a GET reference holds",
             "mmap p0 r0 pages=1 file\npin p0 r0[0] -> g0 get\nmadvise p0 r0 pageout"),
            ("COWed pages of a private file mapping merge",
             "mmap p0 r0 pages=1 file\nfork p0 -> p1\nwrite p0 r0[0] 1\nwrite p1 r0[0] 1\nmadvise p0 r0 mergeable\nmadvise p1 r0 mergeable\nksm\nvmsplice p0 r0[0] -> pipe0\nwrite p0 r0[0] 2\nreadpipe pipe0"),
        ] {
            // pageout runs only with an active swap device (CI has none).
            if text.contains("pageout"), !(try RealBackend.shared.features()).swap { continue }
            let p = program(text)
            let run = try RealBackend.run(p, tiers: [.ksm, .swap])
            #expect(!run.partial, "\(what): \(run.skips.map(\.detail))")
            #expect(RealComparison.compare(p, real: run, model: PolicyRegistry.current.explain(p)).isEmpty, "\(what)")
        }
    }

    @Test("a program in which nothing ran is 'not run' in replay and its JSON, never 'agree'",
          .enabled(if: RealHere.available, RealHere.why))
    func notRun() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("nothing.cow")
        try "# cowfuzz 1\nmmap p0 r0 pages=4 hugetlb\nwrite p0 r0[0] 1\nread p0 r0[0]\n".write(to: f, atomically: true, encoding: .utf8)
        let table = try runCowfuzz(["replay", f.path, "--backend", "real"])
        let row = table.out.split(separator: "\n").first { $0.hasPrefix("nothing.cow") }
        #expect(row?.hasSuffix("not run") == true, "\(table.out)")
        #expect(row?.contains("agree") == false)
        #expect(table.out.contains("0 ran fully, 0 partially, 1 not run"))
        #expect(table.out.contains("not run here: 1 × hugetlb needs the opt-in tier (--real-tiers hugetlb)"))
        let json = try runCowfuzz(["replay", f.path, "--backend", "real", "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.out.utf8))
        let rows = (obj as? [[String: Any]]) ?? ((obj as? [String: Any])?["programs"] as? [[String: Any]]) ?? []
        let real = rows.first?["real"] as? [String: Any]
        #expect(rows.first?["comparison"] as? String == "not run")
        #expect(real?["notRun"] as? Bool == true)
        #expect(real?["opsExecuted"] as? Int == 0)
        #expect(real?["opsNotRun"] as? Int == 1)
    }
    #endif
}

#if os(Linux)
/// The knobs as they stand when no cowfuzz process drives them: read under the
/// machine-wide lock, so another cowfuzz on this machine (a nightly run beside the suite)
/// is never read mid-run as the original.
func machineKnobs() -> [String: String] { RealKnobs.withMachineLock { RealKnobs.current() } }

/// The `CowRealExec` child of `parent`, from /proc.
func helperChild(of parent: Int32) -> Int32? {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
    for n in names {
        guard let pid = Int32(n), let stat = try? String(contentsOfFile: "/proc/\(n)/stat", encoding: .utf8) else { continue }
        guard let close = stat.lastIndex(of: ")") else { continue }
        let comm = stat[stat.index(after: stat.firstIndex(of: "(")!)..<close]
        let rest = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard rest.count > 2, Int32(rest[1]) == parent, comm.hasPrefix("CowRealExec") else { continue }
        return pid
    }
    return nil
}
#endif
