import CRealKernel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The machine-wide knobs the real backend's tiers change, guarded from the Swift side.
///
/// The helper restores what it changes itself, but a helper killed with SIGKILL
/// mid-pass cannot, and a restarted helper would then take the driven values for the
/// originals. So this process records the originals once, before its first tier op
/// (`recordOnce`), and writes them back whenever a helper is gone (`restore`, from
/// `RealExecutor.stop`), at exit and on SIGINT/SIGTERM/SIGHUP (`cowknobs.c`, signal-safe).
/// The originals also go to a journal in the user's cache directory; if cowfuzz itself
/// dies, the next start repairs the knobs from it (`repairFromJournalOnce`).
public enum RealKnobs {
    /// The KSM switch first (it is turned off first and restored last), then the rest.
    public static let paths = [
        "/sys/kernel/mm/ksm/run", "/sys/kernel/mm/ksm/sleep_millisecs", "/sys/kernel/mm/ksm/pages_to_scan",
        "/sys/kernel/mm/ksm/smart_scan", "/proc/sys/vm/nr_hugepages",
    ]

    static let state = Mutex<(recorded: Bool, repaired: Bool)>((false, false))

    /// `<user cache>/knobs.journal`, or nil when no private cache directory exists.
    public static var journalPath: String? {
        RealExecutable.userCacheDirectory().map { $0 + "/knobs.journal" }
    }

    /// Records the current knobs as the originals (once per process), after repairing
    /// them from a journal a crashed cowfuzz left behind.
    public static func recordOnce() {
        state.withLock { s in
            guard !s.recorded else { return }
            if !s.repaired { repair(); s.repaired = true }
            let journal = journalPath
            let cpaths = paths.map { strdup($0) }
            defer { for p in cpaths { free(p) } }
            var ptrs: [UnsafePointer<CChar>?] = cpaths.map { UnsafePointer($0) }
            _ = ptrs.withUnsafeMutableBufferPointer { buf in
                if let j = journal {
                    return j.withCString { cf_knobs_record(buf.baseAddress, Int32(paths.count), $0) }
                }
                return cf_knobs_record(buf.baseAddress, Int32(paths.count), nil)
            }
            s.recorded = true
        }
    }

    /// Runs `body` holding the machine-wide knob lock: an exclusive `flock` on the KSM
    /// switch itself (`/sys/kernel/mm/ksm/run`, else `nr_hugepages`), root-owned and the
    /// same file for every process, so nothing has to be created in a shared directory.
    /// Every run with tiers holds it from before the originals are recorded until the
    /// knobs are restored: another cowfuzz process (a second suite, a nightly beside a
    /// replay) then never sees driven values and takes them for the originals. Each call
    /// opens its own descriptor, so threads of one process exclude each other too.
    /// Without any of the files (not Linux, no KSM, no hugetlb) `body` runs unlocked.
    public static func withMachineLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        var fd: Int32 = -1
        for p in paths where fd < 0 { fd = open(p, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return try body() }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Writes the recorded originals back (nothing when none were recorded).
    public static func restore() { cf_knobs_restore(0) }

    /// Repairs the knobs from a journal whose process is gone (once per process).
    static func repairFromJournalOnce() {
        state.withLock { s in
            guard !s.repaired else { return }
            repair()
            s.repaired = true
        }
    }

    /// Reads `path` (default `journalPath`); when its writer is dead, writes every
    /// value back (the switch off first and restored last) and removes the journal.
    /// Returns the knobs repaired; empty when there was nothing to do.
    @discardableResult
    public static func repair(journal path: String? = nil) -> [(String, String)] {
        guard let path = path ?? journalPath, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        var lines = text.split(separator: "\n").map(String.init)
        guard lines.first == "cowfuzz-knobs 1", lines.count >= 2, lines[1].hasPrefix("pid "),
              let pid = Int32(lines[1].dropFirst(4)) else { return [] }
        if pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM) { return [] }
        lines.removeFirst(2)
        var knobs: [(String, String)] = []
        for l in lines {
            let kv = l.split(separator: " ", maxSplits: 1).map(String.init)
            guard kv.count == 2, paths.contains(kv[0]) else { continue }
            knobs.append((kv[0], kv[1]))
        }
        let run = knobs.first { $0.0 == paths[0] }
        if run != nil { write(paths[0], "0") }
        for (p, v) in knobs where p != paths[0] { write(p, v) }
        if let run { write(run.0, run.1) }
        unlink(path)
        return knobs
    }

    static func write(_ path: String, _ value: String) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = value.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }

    /// The current values, for reports and tests.
    public static func current() -> [String: String] {
        var d: [String: String] = [:]
        for p in paths {
            d[p] = (try? String(contentsOfFile: p, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return d
    }
}
