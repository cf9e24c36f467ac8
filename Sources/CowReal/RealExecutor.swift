import CRealKernel
import CowModel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One `CowRealExec` helper process and the programs it runs, one at a time.
///
/// A class because its identity is a live child process with its pipes; the state sits
/// in a `Mutex`, so a shared executor may be used from any thread (runs serialise, as
/// the machine-wide tiers require). The helper forks the process trees, never Swift:
/// this process may be multi-threaded (swift test is). The helper is started lazily,
/// pinned to one CPU, and restarted after a crash or a time-out.
public final class RealExecutor: Sendable {
    struct Child {
        var pid: pid_t = 0
        var stdinFD: Int32 = -1
        var stdoutFD: Int32 = -1
        var buffer: [UInt8] = []
        var start = 0
        var features = RealFeatures()
    }

    let cpu: Int?
    let child = Mutex<Child>(Child())

    /// `cpu`: the CPU every tree is pinned to (nil: the CPU the helper starts on).
    /// Parallel workers use one executor per CPU.
    public init(cpu: Int? = nil) { self.cpu = cpu }

    deinit { child.withLock { stop(&$0) } }

    /// The features the helper's start-up self-test found (starts it if needed).
    public func features() throws(RealBackendError) -> RealFeatures {
        try child.withLock { c throws(RealBackendError) in
            try ensureStarted(&c)
            return c.features
        }
    }

    /// Stops the helper process (it restarts on the next run).
    public func shutdown() { child.withLock { stop(&$0) } }

    /// Runs one program on the real kernel in a fresh process tree.
    ///
    /// `timeout` bounds the whole program; on expiry the helper kills the tree and
    /// reports `timedOut`. `hangAtOp` is a test hook: the process of that op sleeps
    /// forever instead of running it.
    public func run(_ program: Program, tiers: RealTiers = [], timeout: Duration = .seconds(5),
                    hangAtOp: Int? = nil) throws(RealBackendError) -> RealRun {
        let ms = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        if let why = RealExecutor.overLimit(program) { throw .inputTooLarge(why) }
        guard !tiers.isEmpty else { return try runLocked(program, tiers: tiers, ms: ms, hangAtOp: hangAtOp) }
        // Tier ops change machine-wide knobs: one process at a time, originals recorded
        // and restored under the machine-wide lock.
        return try RealKnobs.withMachineLock { () throws(RealBackendError) -> RealRun in
            RealKnobs.recordOnce()
            return try runLocked(program, tiers: tiers, ms: ms, hangAtOp: hangAtOp)
        }
    }

    private func runLocked(_ program: Program, tiers: RealTiers, ms: Int, hangAtOp: Int?) throws(RealBackendError) -> RealRun {
        try child.withLock { c throws(RealBackendError) in
            try ensureStarted(&c)
            let text = program.realProtocolText(tiers: tiers, timeoutMs: max(ms, 1), hangOp: hangAtOp ?? -1)
            let deadline = Date().addingTimeInterval(Double(ms) / 1000 + 5)
            do throws(RealBackendError) {
                try writeAll(&c, text, deadline: deadline)
                return try readRun(&c, program: program, deadline: deadline)
            } catch {
                stop(&c)
                throw error
            }
        }
    }

    /// The most ops one program may have (the helper's `CF_MAX_OPS`).
    public static let maxOps = Int(CF_MAX_OPS)

    /// Why the helper would reject this program (its limits, from `cowreal.h`), or nil.
    /// Checked before anything is sent.
    public static func overLimit(_ program: Program) -> String? {
        if program.ops.count > maxOps {
            return "\(program.ops.count) ops: the real-kernel helper takes at most \(CF_MAX_OPS) ops per program"
        }
        return nil
    }

    /// The helper's process id while it runs (0 when none): for tests that kill it.
    public var helperPID: Int32 { child.withLock { $0.pid } }

    // MARK: - the helper process

    func ensureStarted(_ c: inout Child) throws(RealBackendError) {
        #if os(Linux)
        if c.pid > 0 {
            var st: Int32 = 0
            if waitpid(c.pid, &st, WNOHANG) == 0 { return }
            c.pid = 0
            stop(&c)
        }
        RealKnobs.repairFromJournalOnce()
        let path = try RealExecutable.locate()
        // stdin is a socket so that writes can say MSG_NOSIGNAL: a dead helper must not SIGPIPE us.
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &inPipe) == 0,
              pipe(&outPipe) == 0 else {
            throw .executorFailed("pipe: \(String(cString: strerror(errno)))")
        }
        // dup2 in the child clears FD_CLOEXEC on 0 and 1; nothing else may inherit these.
        _ = fcntl(outPipe[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(outPipe[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var args = [path]
        if let cpu { args += ["--cpu", String(cpu)] }
        let cargs = args.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, cargs, environ)
        close(inPipe[0])
        close(outPipe[1])
        guard rc == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            throw .executorFailed("posix_spawn \(path): \(String(cString: strerror(rc)))")
        }
        c.pid = pid
        c.stdinFD = inPipe[1]
        c.stdoutFD = outPipe[0]
        c.buffer.removeAll()
        c.start = 0
        do throws(RealBackendError) {
            guard let version = try readLine(&c, deadline: Date().addingTimeInterval(10)) else {
                throw RealBackendError.timedOut("the helper printed no start-up line in 10 s")
            }
            guard version == "V cowfuzz-real \(CF_PROTOCOL_VERSION)" else {
                throw RealBackendError.protocolError("expected 'V cowfuzz-real \(CF_PROTOCOL_VERSION)', got '\(version.prefix(60))' (a helper from another version?)")
            }
            guard let line = try readLine(&c, deadline: Date().addingTimeInterval(10)), line.hasPrefix("R ") else {
                throw RealBackendError.executorFailed("no feature line")
            }
            c.features = RealExecutor.parseFeatures(line)
        } catch {
            stop(&c)
            throw error
        }
        #else
        throw .unsupportedPlatform
        #endif
    }

    func stop(_ c: inout Child) {
        #if os(Linux)
        if c.stdinFD >= 0 { close(c.stdinFD) }
        if c.stdoutFD >= 0 { close(c.stdoutFD) }
        c.stdinFD = -1
        c.stdoutFD = -1
        if c.pid > 0 {
            // SIGTERM first: the helper kills its tree and restores the knobs it changed.
            kill(c.pid, SIGTERM)
            var st: Int32 = 0
            var reaped = false
            for _ in 0..<200 {
                if waitpid(c.pid, &st, WNOHANG) == c.pid { reaped = true; break }
                usleep(5000)
            }
            if !reaped {
                kill(c.pid, SIGKILL)
                waitpid(c.pid, &st, 0)
            }
        }
        c.pid = 0
        // A helper that died (or was stopped) mid-pass may have left KSM driven or huge
        // pages reserved; it cannot restore them any more, so we do, before a new one
        // starts and reads them as "the originals".
        RealKnobs.restore()
        #endif
    }

    static func parseFeatures(_ line: String) -> RealFeatures {
        var f = RealFeatures()
        for word in line.split(separator: " ").dropFirst() {
            let kv = word.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let v = String(kv[1])
            let on = v == "1"
            switch kv[0] {
            case "root": f.root = on
            case "pfn": f.pfns = on
            case "kpageflags": f.kpageflags = on
            case "ae": f.anonExclusive = on
            case "uring": f.ioUring = on
            case "thp": f.thp = on
            case "ksm": f.ksm = on
            case "swap": f.swap = on
            case "hugetlb": f.hugetlb = on
            case "cpu": f.cpu = Int(v) ?? -1
            case "ae_selftest": f.selfTest = v.replacingOccurrences(of: "_", with: " ")
            default: break
            }
        }
        return f
    }

    // MARK: - the protocol

    func readRun(_ c: inout Child, program: Program, deadline: Date) throws(RealBackendError) -> RealRun {
        let n = program.ops.count
        var steps = (0..<n).map { _ in RealStep(status: .skipped(.realUnsupported), observed: -1, detail: "not reported", pages: []) }
        var pgid: Int32 = 0
        var errors: [String] = []
        while true {
            guard let line = try readLine(&c, deadline: deadline) else {
                if pgid > 0 { kill(-pgid, SIGKILL) }
                throw .timedOut("no answer from the helper before the deadline (the helper was killed)")
            }
            let w = line.split(separator: " ", omittingEmptySubsequences: false)
            guard let tag = w.first else { continue }
            switch tag {
            case "B":
                pgid = w.count > 1 ? Int32(w[1]) ?? 0 : 0
            case "S":
                guard w.count >= 5, let i = Int(w[1]), i >= 0, i < n, let obs = Int16(w[4]) else {
                    throw .protocolError(line)
                }
                let reason = RealExecutor.reasons[String(w[3])] ?? .notApplicable
                let status: OpStatus = switch w[2] {
                case "X": .executed
                case "F": .failed(reason)
                default: .skipped(reason)
                }
                steps[i].status = status
                steps[i].observed = obs
                steps[i].detail = w.count > 5 ? w[5...].joined(separator: " ") : ""
            case "P":
                let v = w.dropFirst().compactMap { Int($0) }
                guard v.count == 10, v[0] >= 0, v[0] < n else { throw .protocolError(line) }
                let flags = UInt32(truncatingIfNeeded: v[9])
                let aeKnown = flags & UInt32(CF_PF_AE_UNKNOWN) == 0 && flags & UInt32(CF_PF_FLAGS_UNKNOWN) == 0
                let state = RealPageState(
                    process: v[1], region: v[2], page: v[3], present: v[4] != 0, swapped: v[5] != 0, frame: v[6],
                    exclusivelyMapped: v[7] != 0, mapcount: v[8] >= 0 ? v[8] : nil,
                    anonExclusive: aeKnown && v[4] != 0 ? flags & UInt32(CF_PF_AE) != 0 : nil,
                    flags: RealPageFlags(rawValue: flags & ~UInt32(CF_PF_AE | CF_PF_AE_UNKNOWN | CF_PF_FLAGS_UNKNOWN)))
                steps[v[0]].pages.append(state)
            case "E":
                errors.append(w.dropFirst().joined(separator: " "))
            case "D":
                guard w.count >= 4 else { throw .protocolError(line) }
                if !errors.isEmpty && steps.allSatisfy({ $0.detail == "not reported" }) && n > 0 {
                    throw .executorFailed(errors.joined(separator: "; "))
                }
                let trace = Trace(statuses: steps.map(\.status), observed: steps.map(\.observed))
                var skips: [RealSkip] = []
                for (i, s) in steps.enumerated() {
                    switch s.status {
                    case let .skipped(r) where r == .realUnsupported || r == .timedOut,
                         let .failed(r) where r == .realUnsupported || r == .timedOut:
                        skips.append(RealSkip(op: i, reason: r, detail: s.detail))
                    default: break
                    }
                }
                return RealRun(trace: trace, steps: steps, partial: w[1] == "1" || !skips.isEmpty, skips: skips,
                               timedOut: w[2] == "1", processGroup: pgid, microseconds: Int(w[3]) ?? 0,
                               features: c.features)
            default:
                break
            }
        }
    }

    /// SkipReason by its case name, as the executor prints it.
    static let reasons: [String: SkipReason] = {
        var d: [String: SkipReason] = [:]
        for r in SkipReason.allCases { d[String(describing: r)] = r }
        return d
    }()

    func readLine(_ c: inout Child, deadline: Date) throws(RealBackendError) -> String? {
        #if os(Linux)
        while true {
            if let nl = c.buffer[c.start...].firstIndex(of: 10) {
                let line = String(decoding: c.buffer[c.start..<nl], as: UTF8.self)
                c.start = nl + 1
                if c.start == c.buffer.count {
                    c.buffer.removeAll(keepingCapacity: true)
                    c.start = 0
                }
                return line
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            var pfd = pollfd(fd: c.stdoutFD, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, Int32(min(left * 1000 + 1, 1_000_000)))
            if r < 0 {
                if errno == EINTR { continue }
                throw .executorFailed("poll: \(String(cString: strerror(errno)))")
            }
            if r == 0 { continue }
            if c.start > 0 {
                c.buffer.removeSubrange(..<c.start)
                c.start = 0
            }
            let old = c.buffer.count
            c.buffer.append(contentsOf: repeatElement(0, count: 65536))
            let k = c.buffer.withUnsafeMutableBytes { read(c.stdoutFD, $0.baseAddress! + old, 65536) }
            c.buffer.removeLast(65536 - max(k, 0))
            if k < 0 {
                if errno == EINTR { continue }
                throw .executorFailed("read: \(String(cString: strerror(errno)))")
            }
            if k == 0 { throw .helperDied(RealExecutor.exitText(c.pid)) }
        }
        #else
        throw .unsupportedPlatform
        #endif
    }

    /// How the helper ended, for messages (reaps it if it is gone).
    static func exitText(_ pid: pid_t) -> String {
        #if os(Linux)
        var st: Int32 = 0
        guard pid > 0, waitpid(pid, &st, WNOHANG) == pid else { return "the helper closed its output" }
        let sig = st & 0x7f
        return sig != 0 ? "the helper was killed by signal \(sig)" : "the helper exited with status \((st >> 8) & 0xff)"
        #else
        return "the helper exited"
        #endif
    }

    /// Sends `text` before `deadline`, reading the helper's output meanwhile: an `E`
    /// answer (the helper refused the program) ends the send with that error, so a
    /// helper that stops reading can never block us.
    func writeAll(_ c: inout Child, _ text: String, deadline: Date) throws(RealBackendError) {
        #if os(Linux)
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            if let refusal = refusalInBuffer(c) { throw .executorFailed("the helper refused the program: \(refusal)") }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw .timedOut("the helper did not take the program before the deadline (\(off) of \(bytes.count) bytes sent)") }
            var fds = [pollfd(fd: c.stdinFD, events: Int16(POLLOUT), revents: 0), pollfd(fd: c.stdoutFD, events: Int16(POLLIN), revents: 0)]
            let r = poll(&fds, 2, Int32(min(left * 1000 + 1, 1_000_000)))
            if r < 0 {
                if errno == EINTR { continue }
                throw .executorFailed("poll: \(String(cString: strerror(errno)))")
            }
            if fds[1].revents != 0 {
                try readAvailable(&c)
                continue
            }
            if fds[0].revents & Int16(POLLOUT) == 0 {
                if fds[0].revents != 0 { throw .helperDied(RealExecutor.exitText(c.pid)) }
                continue
            }
            let n = bytes.withUnsafeBytes { send(c.stdinFD, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if errno == EPIPE || errno == ECONNRESET { throw .helperDied(RealExecutor.exitText(c.pid)) }
                throw .executorFailed("write: \(String(cString: strerror(errno)))")
            }
            off += n
        }
        if let refusal = refusalInBuffer(c) { throw .executorFailed("the helper refused the program: \(refusal)") }
        #endif
    }

    /// The first `E …` line already received, if any (the helper rejects a header or op).
    func refusalInBuffer(_ c: Child) -> String? {
        var start = c.start
        while let nl = c.buffer[start...].firstIndex(of: 10) {
            let line = c.buffer[start..<nl]
            if line.starts(with: [69, 32]) { return String(decoding: line.dropFirst(2).prefix(200), as: UTF8.self) }
            start = nl + 1
        }
        return nil
    }

    /// Reads what the helper has written so far into the buffer (one read).
    func readAvailable(_ c: inout Child) throws(RealBackendError) {
        #if os(Linux)
        if c.start > 0 {
            c.buffer.removeSubrange(..<c.start)
            c.start = 0
        }
        let old = c.buffer.count
        c.buffer.append(contentsOf: repeatElement(0, count: 65536))
        let k = c.buffer.withUnsafeMutableBytes { read(c.stdoutFD, $0.baseAddress! + old, 65536) }
        c.buffer.removeLast(65536 - max(k, 0))
        if k < 0 && errno != EINTR && errno != EAGAIN { throw .executorFailed("read: \(String(cString: strerror(errno)))") }
        if k == 0 { throw .helperDied(RealExecutor.exitText(c.pid)) }
        #endif
    }
}
