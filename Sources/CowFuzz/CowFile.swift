import CowModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reading one `.cow` file from disk: the checks every reader shares (size, file type,
/// UTF-8, the version header), with errors that say what is wrong in words.
public enum CowFile {
    /// The largest file read (`--max-file-size`, default 16 MiB). Set once, by the
    /// command line tool, before any thread starts.
    nonisolated(unsafe) public static var maxBytes = 16 << 20

    /// Why a file is not a program. `description` is one line naming the file.
    public enum LoadError: Error, Hashable, Sendable, CustomStringConvertible {
        case notFound(String)
        case symlinkLoop(String)
        case notAFile(String, String)
        case tooLarge(String, Int, Int)
        case unreadable(String, String)
        case notUTF8(String, line: Int, column: Int)
        case parse(ParseError)

        public var description: String {
            switch self {
            case let .notFound(p): "\(p): no such file or directory"
            case let .symlinkLoop(p): "\(p): a symlink loop (too many levels of symbolic links)"
            case let .notAFile(p, what): "\(p): \(what), not a .cow file"
            case let .tooLarge(p, size, max):
                "\(p): \(size) bytes, more than the limit of \(max) bytes (raise it with --max-file-size)"
            case let .unreadable(p, why): "\(p): cannot read the file: \(why)"
            case let .notUTF8(p, line, column): "\(p):\(line):\(column): not UTF-8"
            case let .parse(e): e.description
            }
        }
    }

    /// Reads and parses the file at `path` (the header is required).
    public static func load(_ path: String, maxBytes: Int = CowFile.maxBytes) throws(LoadError) -> Program {
        let text = try read(path, maxBytes: maxBytes)
        do { return try Program(parsing: text, file: path, requireHeader: true) } catch { throw .parse(error) }
    }

    /// The text of the file at `path`, checked but not parsed.
    public static func read(_ path: String, maxBytes: Int = CowFile.maxBytes) throws(LoadError) -> String {
        var st = stat()
        if stat(path, &st) != 0 {
            switch errno {
            case ENOENT, ENOTDIR: throw .notFound(path)
            case ELOOP: throw .symlinkLoop(path)
            default: throw .unreadable(path, String(cString: strerror(errno)))
            }
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw .notAFile(path, "a directory")
        case S_IFIFO, S_IFCHR: break  // read through, up to the limit
        default: throw .notAFile(path, "not a regular file")
        }
        if st.st_mode & S_IFMT == S_IFREG, Int(st.st_size) > maxBytes { throw .tooLarge(path, Int(st.st_size), maxBytes) }
        guard let fh = FileHandle(forReadingAtPath: path) else { throw .unreadable(path, String(cString: strerror(errno))) }
        defer { try? fh.close() }
        let data: Data
        do { data = try fh.read(upToCount: maxBytes + 1) ?? Data() } catch { throw .unreadable(path, "\(error.localizedDescription)") }
        if data.count > maxBytes { throw .tooLarge(path, data.count, maxBytes) }
        let bytes = [UInt8](data)
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        let (line, column) = firstInvalidUTF8(bytes)
        throw .notUTF8(path, line: line, column: column)
    }

    /// The line and column (in characters) of the first byte that is not valid UTF-8.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> (Int, Int) {
        var line = 1, lineStart = 0, i = 0
        while i < bytes.count {
            let b = bytes[i]
            let n = b < 0x80 ? 1 : b & 0xE0 == 0xC0 ? 2 : b & 0xF0 == 0xE0 ? 3 : b & 0xF8 == 0xF0 ? 4 : 0
            guard n > 0, i + n <= bytes.count,
                  String(validating: bytes[i..<(i + n)], as: UTF8.self) != nil else { break }
            if b == 0x0A { line += 1; lineStart = i + 1 }
            i += n
        }
        let column = (String(validating: bytes[lineStart..<i], as: UTF8.self)?.count ?? 0) + 1
        return (line, column)
    }
}
