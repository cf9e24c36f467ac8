import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Finds the `CowRealExec` helper: `$COWFUZZ_REAL_EXEC`, else next to the running
/// binary (SwiftPM puts it beside `cowfuzz` and beside the test bundle in
/// `.build/<config>/`), else it is compiled from the embedded source with the system C
/// compiler into a directory nobody else can have written (see `compileFromEmbeddedSource`).
///
/// The real backend runs as root, so the helper must never come from a path another
/// user could have prepared: a predictable directory in `/tmp` that someone else
/// created first would otherwise be code run as root.
public enum RealExecutable {
    static let cache = Mutex<String?>(nil)

    public static let name = "CowRealExec"

    public static func locate() throws(RealBackendError) -> String {
        if let p = cache.withLock({ $0 }) { return p }
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["COWFUZZ_REAL_EXEC"], !env.isEmpty {
            guard fm.isExecutableFile(atPath: env) else { throw .executorNotFound("COWFUZZ_REAL_EXEC=\(env) is not executable") }
            return remember(env)
        }
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let dir = (exe as NSString).deletingLastPathComponent
            for candidate in [dir + "/" + name, (dir as NSString).deletingLastPathComponent + "/" + name] where fm.isExecutableFile(atPath: candidate) {
                return remember(candidate)
            }
        }
        return remember(try compileFromEmbeddedSource())
    }

    static func remember(_ p: String) -> String {
        cache.withLock { $0 = p }
        return p
    }

    /// The per-user cache directory: `$XDG_CACHE_HOME/cowfuzz`, else `$HOME/.cache/cowfuzz`,
    /// else `$TMPDIR/cowfuzz-<euid>`; nil when none of them is trustworthy (see `trustedDirectory`).
    /// Created with mode 0700 when missing. The helper binary and the knob journal live here.
    public static func userCacheDirectory() -> String? {
        let env = ProcessInfo.processInfo.environment
        var bases: [(String, String)] = []
        if let x = env["XDG_CACHE_HOME"], x.hasPrefix("/") { bases.append((x, "cowfuzz")) }
        if let h = env["HOME"], h.hasPrefix("/") { bases.append((h + "/.cache", "cowfuzz")) }
        let tmp = env["TMPDIR"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
        bases.append((tmp, "cowfuzz-\(geteuid())"))
        for (base, leaf) in bases {
            if let d = privateDirectory(base: base, leaf: leaf) { return d }
        }
        return nil
    }

    /// `base/leaf`, created with mode 0700 if missing, when `base` is trusted and the
    /// directory is ours with no group or other access; nil otherwise (never "fixed up").
    static func privateDirectory(base: String, leaf: String) -> String? {
        guard trustedDirectory(base) == nil else { return nil }
        let dir = base + "/" + leaf
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { return nil }
        guard privateDirectoryProblem(dir) == nil else { return nil }
        return dir
    }

    /// Why `path` cannot be relied on, or nil: every component from `/` is a real
    /// directory (lstat, no symlink), owned by root or by us, and writable by nobody
    /// else, except a root-owned sticky directory such as `/tmp` (there others cannot
    /// rename or remove what we own).
    public static func trustedDirectory(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "\(path): not absolute" }
        var prefix = ""
        let parts = path.split(separator: "/")
        for (k, part) in ([""] + parts.map(String.init)).enumerated() {
            if k > 0 { prefix += "/" + part }
            let at = prefix.isEmpty ? "/" : prefix
            var st = stat()
            guard lstat(at, &st) == 0 else { return "\(at): \(String(cString: strerror(errno)))" }
            guard st.st_mode & S_IFMT == S_IFDIR else { return "\(at): not a directory (or a symlink)" }
            guard st.st_uid == 0 || st.st_uid == geteuid() else { return "\(at): owned by uid \(st.st_uid)" }
            let othersWrite = st.st_mode & (S_IWGRP | S_IWOTH) != 0
            let stickyRoot = st.st_mode & S_ISVTX != 0 && st.st_uid == 0
            if othersWrite && !stickyRoot { return "\(at): writable by group or others" }
        }
        return nil
    }

    /// Why the directory we build in is not private, or nil: ours (euid), mode 0700 or
    /// stricter, not a symlink.
    public static func privateDirectoryProblem(_ dir: String) -> String? {
        var st = stat()
        guard lstat(dir, &st) == 0 else { return "\(dir): \(String(cString: strerror(errno)))" }
        guard st.st_mode & S_IFMT == S_IFDIR else { return "\(dir): not a directory (or a symlink)" }
        guard st.st_uid == geteuid() else { return "\(dir): owned by uid \(st.st_uid), not \(geteuid())" }
        guard st.st_mode & 0o077 == 0 else { return "\(dir): mode \(String(st.st_mode & 0o777, radix: 8)), not 0700" }
        return nil
    }

    /// Whether `bin` is a regular file we own that nobody else may write.
    static func ownedRegularFile(_ bin: String) -> Bool {
        var st = stat()
        guard lstat(bin, &st) == 0 else { return false }
        return st.st_mode & S_IFMT == S_IFREG && st.st_uid == geteuid() && st.st_mode & (S_IWGRP | S_IWOTH) == 0
    }

    /// Builds the helper from `CExport.executorSource` with `cc -O2`.
    ///
    /// Into `cacheDir` (default: `userCacheDirectory()`) as `CowRealExec-<source hash>`
    /// when that directory is private (ours, 0700, every parent trusted); a binary found
    /// there is reused only if it is a regular file we own. Otherwise into a fresh
    /// `mkdtemp` directory, never into or from a directory someone else could write.
    static func compileFromEmbeddedSource(cacheDir: String?? = nil) throws(RealBackendError) -> String {
        let source = serverSource
        let stem = expectedName()
        var dir: String
        if let d = cacheDir ?? userCacheDirectory(), trustedDirectory((d as NSString).deletingLastPathComponent) == nil,
           privateDirectoryProblem(d) == nil {
            dir = d
            if ownedRegularFile(dir + "/" + stem), access(dir + "/" + stem, X_OK) == 0 { return dir + "/" + stem }
        } else {
            dir = try freshDirectory()
        }
        let bin = dir + "/" + stem
        do {
            let src = dir + "/\(stem).c"
            try? FileManager.default.removeItem(atPath: src)
            guard FileManager.default.createFile(atPath: src, contents: Data(source.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw RealBackendError.executorNotFound("cannot write \(src)")
            }
            let tmpBin = bin + ".tmp\(getpid())"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["cc", "-O2", "-o", tmpBin, src]
            try p.run()
            p.waitUntilExit()
            try? FileManager.default.removeItem(atPath: src)
            guard p.terminationStatus == 0 else { throw RealBackendError.executorNotFound("cc failed on \(src)") }
            guard rename(tmpBin, bin) == 0 else { throw RealBackendError.executorNotFound("rename \(tmpBin): \(String(cString: strerror(errno)))") }
            return bin
        } catch let e as RealBackendError {
            throw e
        } catch {
            throw .executorNotFound("\(error)")
        }
    }

    /// The embedded executor with a `main` that serves the protocol.
    static var serverSource: String {
        CExport.executorSource + "\nint main(int argc, char **argv) { return cf_server_main(argc, argv); }\n"
    }

    /// `CowRealExec-<FNV-1a of the source>`: the name a built helper has in the cache.
    static func expectedName() -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in serverSource.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "\(name)-\(String(hash, radix: 16))"
    }

    /// A new directory from `mkdtemp` (mode 0700, a name nobody can predict) under a
    /// trusted `$TMPDIR` or `/tmp`.
    static func freshDirectory() throws(RealBackendError) -> String {
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
        let base = trustedDirectory(tmp) == nil ? tmp : "/tmp"
        var template = Array("\(base)/cowfuzz-real-exec-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw .executorNotFound("mkdtemp in \(base): \(String(cString: strerror(errno)))")
        }
        let dir = String(cString: p)
        if let why = privateDirectoryProblem(dir) { throw .executorNotFound(why) }
        return dir
    }
}
