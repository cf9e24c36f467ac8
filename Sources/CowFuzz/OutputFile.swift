import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writing an output file (`--report`, `--junit`, `--summary`, `-o`, crash files)
/// without clobbering what stands at its path.
///
/// - nothing there, or a regular file: a temporary file in the same directory, then
///   `rename` over the path, so a reader never sees a half-written file;
/// - a symlink to a regular file (or to nothing): the same, at the link's target, so the
///   link stays a link;
/// - a character device or a FIFO (`/dev/null`, `/dev/stdout`, a pipe to `jq`): written
///   through the path itself, never replaced;
/// - a directory, a block device, a socket, a symlink loop: refused.
///
/// Errors name the path the user gave, never the temporary file.
public enum OutputFile {
    /// Why an output could not be written; the command line tool exits 2.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot write \(path): \(reason)" }
    }

    /// What stands at an output path.
    enum Target: Equatable {
        /// Nothing, or a regular file: written by rename at `at` (the path, or a symlink's target).
        case renameable(at: String)
        /// A character device or a FIFO: written through the path.
        case stream
        /// Refused, with the reason.
        case refused(String)
    }

    /// The prefix of every temporary file this type creates: `.<name>.tmp.<pid>`.
    static func temporaryName(for path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        return (dir.isEmpty ? "." : dir) + "/." + (path as NSString).lastPathComponent + ".tmp.\(getpid())"
    }

    static func describeMode(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFDIR: "it is a directory"
        case S_IFBLK: "it is a block device (refusing to overwrite it)"
        case S_IFSOCK: "it is a socket"
        case S_IFREG, S_IFCHR, S_IFIFO: nil
        default: "it is not a regular file, character device or FIFO"
        }
    }

    static func target(_ path: String) -> Target {
        var st = stat()
        if lstat(path, &st) != 0 {
            return errno == ENOENT ? .renameable(at: path) : .refused(String(cString: strerror(errno)))
        }
        var mode = st.st_mode
        var at = path
        if mode & S_IFMT == S_IFLNK {
            if stat(path, &st) != 0 {
                switch errno {
                case ELOOP: return .refused("a symlink loop")
                case ENOENT:
                    // A dangling link: create its target through the link.
                    return .stream
                default: return .refused(String(cString: strerror(errno)))
                }
            }
            mode = st.st_mode
            guard let resolved = realpath(path, nil) else { return .refused(String(cString: strerror(errno))) }
            at = String(cString: resolved)
            free(resolved)
        }
        if let why = describeMode(mode) { return .refused(why) }
        switch mode & S_IFMT {
        case S_IFCHR, S_IFIFO: return .stream
        default: return .renameable(at: at)
        }
    }

    /// Writes `data` to `path` as the type's documentation says.
    public static func write(_ data: Data, to path: String) throws(Failure) {
        switch target(path) {
        case let .refused(why):
            throw Failure(path: path, reason: why)
        case .stream:
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
            defer { close(fd) }
            try writeAll(fd, data, path: path)
        case let .renameable(at):
            let tmp = temporaryName(for: at)
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
            do {
                try writeAll(fd, data, path: path)
            } catch {
                close(fd)
                unlink(tmp)
                throw error
            }
            close(fd)
            if rename(tmp, at) != 0 {
                let why = String(cString: strerror(errno))
                unlink(tmp)
                throw Failure(path: path, reason: why)
            }
        }
    }

    static func writeAll(_ fd: Int32, _ data: Data, path: String) throws(Failure) {
        let failure: Failure? = data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) -> Failure? in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    return Failure(path: path, reason: String(cString: strerror(errno)))
                }
                off += n
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Checks, before any work, that `write(_:to:)` can succeed at `path`: what stands
    /// there is accepted, and a temporary file can be created where the rename happens.
    /// Creates nothing that stays.
    public static func check(_ path: String) throws(Failure) {
        guard !path.isEmpty else { throw Failure(path: path, reason: "an empty path") }
        switch target(path) {
        case let .refused(why):
            throw Failure(path: path, reason: why)
        case .stream:
            if access(path, W_OK) != 0, errno != ENOENT { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        case let .renameable(at):
            try probe(temporaryName(for: at), path: path)
        }
    }

    /// Checks that files can be created in directory `dir`, or that it can be created:
    /// its nearest existing ancestor is a directory where a file can be created.
    public static func checkDirectory(_ dir: String) throws(Failure) {
        guard !dir.isEmpty else { throw Failure(path: dir, reason: "an empty path") }
        var probeDir = dir
        while true {
            var st = stat()
            if stat(probeDir, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFDIR else {
                    throw Failure(path: dir, reason: probeDir == dir ? "not a directory" : "\(probeDir) is not a directory")
                }
                break
            }
            guard errno == ENOENT else { throw Failure(path: dir, reason: String(cString: strerror(errno))) }
            let parent = (probeDir as NSString).deletingLastPathComponent
            probeDir = parent.isEmpty ? "." : parent
            if probeDir == "/" || probeDir == "." { break }
        }
        try probe((probeDir as NSString).appendingPathComponent(".cowfuzz-probe.tmp.\(getpid())"), path: dir)
    }

    static func probe(_ tmp: String, path: String) throws(Failure) {
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            // A probe left behind by this very process (same pid) is no obstacle.
            if errno == EEXIST { return }
            throw Failure(path: path, reason: String(cString: strerror(errno)))
        }
        close(fd)
        unlink(tmp)
    }
}
