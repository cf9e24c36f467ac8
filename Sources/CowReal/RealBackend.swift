import CRealKernel
import CowModel
import Foundation

/// The running Linux kernel as one more backend (`real`): programs run as trees of
/// real processes driven by the `CowRealExec` helper (see `cowreal.c`), and come back
/// as a `Trace` comparable with a policy's, plus the pages' real states.
public enum RealBackend {
    /// The observation of a page that did not hold one value in every byte.
    public static let corrupt = Int16(CF_CORRUPT)

    /// The policy name of this backend in `@expect` lines and reports.
    public static let policyName = "real"

    /// The huge-page order of the real kernel (x86-64: 2 MiB PMD THP).
    public static let thpOrder = 9

    /// The executor every `RealBackend.run` uses (one program at a time).
    public static let shared = RealExecutor()

    /// Whether programs can run here, and a one-line explanation (what is missing or
    /// limited, such as no PFNs without root).
    public static func isAvailable() -> (Bool, String) {
        switch availability() {
        case let .success(notes): (true, notes)
        case let .failure(error): (false, error.description)
        }
    }

    /// What the helper's start-up probe says: notes on what this machine cannot show, or
    /// why the backend cannot run (`RealBackendError.isUnavailable`: no helper, not Linux)
    /// or failed (the helper died, timed out, spoke nonsense: an internal error).
    public static func availability() -> Result<String, RealBackendError> {
        #if os(Linux)
        do {
            let f = try shared.features()
            var notes: [String] = []
            if !f.root { notes.append("not root: values only, no page frames or flags") }
            if f.root && !f.anonExclusive { notes.append("PageAnonExclusive self-test failed: AE not reported (\(f.selfTest))") }
            if !f.ioUring { notes.append("no io_uring: rw pins are skipped") }
            if f.cpu < 0 { notes.append("cannot pin to one CPU: reuse may turn into copies now and then") }
            return .success(notes.isEmpty ? "real kernel ready (\(f.text))" : notes.joined(separator: "; "))
        } catch {
            return .failure(error)
        }
        #else
        return .failure(.unsupportedPlatform)
        #endif
    }

    /// Runs one program on the real kernel in a fresh process tree pinned to one CPU.
    /// - Parameters:
    ///   - tiers: opt-in tiers that change machine-wide settings (restored afterwards).
    ///   - timeout: for the whole program; on expiry the tree is killed and the run
    ///     reports `timedOut`.
    public static func run(_ program: Program, tiers: RealTiers = [], timeout: Duration = .seconds(5)) throws(RealBackendError) -> RealRun {
        try shared.run(program, tiers: tiers, timeout: timeout)
    }

    /// Whether a program can run fully here, without tiers it does not have: the ops
    /// `run` would skip as `realUnsupported` regardless of state (R/O FOLL_PIN pins,
    /// FOLL_GET|FOLL_WRITE pins, migrate, race, and ksm, swapout, `madvise pageout` and
    /// hugetlb without their tier). With the swap tier but no active swap device, the
    /// helper skips swapout and pageout at run time with that reason.
    public static func staticallyUnsupported(_ op: Op, tiers: RealTiers) -> String? {
        switch op {
        case let .pin(_, _, _, _, f):
            if !f.contains(.rw) && !f.contains(.get) { return "R/O FOLL_PIN needs CONFIG_GUP_TEST" }
            if f.contains(.rw) && f.contains(.get) { return "no interface holds a FOLL_GET|FOLL_WRITE reference" }
            return nil
        case .migrate: return "one NUMA node"
        case .race: return "races are not scheduled on the real kernel"
        case .ksm: return tiers.contains(.ksm) ? nil : "needs --real-tiers ksm"
        case .swapout: return tiers.contains(.swap) ? nil : "needs --real-tiers swap"
        case .madvise(_, _, .pageout, _): return tiers.contains(.swap) ? nil : "pageout needs --real-tiers swap"
        case let .mmap(_, _, _, _, huge): return huge == .hugetlb && !tiers.contains(.hugetlb) ? "needs --real-tiers hugetlb" : nil
        default: return nil
        }
    }

    /// Real programs per second on this machine: `program` (default: a fork, write and
    /// read sequence of 16 ops) run repeatedly for about `seconds`.
    public static func benchmark(seconds: Double = 1, program: Program? = nil) throws(RealBackendError) -> (runs: Int, perSecond: Double) {
        let p = program ?? benchmarkProgram
        _ = try shared.run(p)
        let start = Date()
        var n = 0
        while Date().timeIntervalSince(start) < seconds {
            _ = try shared.run(p)
            n += 1
        }
        let t = Date().timeIntervalSince(start)
        return (n, Double(n) / max(t, 1e-9))
    }

    /// The benchmark's program: the shape of a typical generated one.
    public static let benchmarkProgram: Program = {
        let text = """
        mmap p0 r0 pages=4
        write p0 r0[0] 1
        write p0 r0[1] 2
        fork p0 -> p1
        write p1 r0[0] 3
        read p0 r0[0]
        vmsplice p1 r0[1] -> pipe0
        pin p0 r0[2] -> g0 rw longterm
        fork p0 -> p2
        writepin g0 4
        read p2 r0[2]
        readpin g0
        exit p1
        write p0 r0[1] 5
        readpipe pipe0
        unpin g0
        """
        return (try? Program(parsing: text, file: "<benchmark>")) ?? Program(ops: [])
    }()
}
