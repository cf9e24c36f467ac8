import CowFuzz
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Outputs never clobber what stands at their path (issue 15 item 1).
@Suite struct OutputFileTests {
    func fileType(_ path: String) -> mode_t {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        return st.st_mode & S_IFMT
    }

    @Test func aFIFOStaysAFIFOAndReceivesTheBytes() throws {
        let dir = try temporaryDirectory().path
        let fifo = dir + "/out.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        // Holding the FIFO open for reading and writing lets the writer open it at once.
        let fd = open(fifo, O_RDWR | O_NONBLOCK)
        #expect(fd >= 0)
        defer { close(fd) }
        try CrashWriter.atomicWrite(Data("{\"report\": 1}\n".utf8), to: fifo)
        #expect(fileType(fifo) == S_IFIFO, "the FIFO was replaced")
        var buf = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buf, buf.count)
        #expect(n > 0 && String(decoding: buf[0..<max(0, n)], as: UTF8.self) == "{\"report\": 1}\n")
    }

    @Test func aCharacterDeviceIsWrittenThroughNotReplaced() throws {
        let dir = try temporaryDirectory().path
        let node = dir + "/null"
        // A private copy of /dev/null (needs CAP_MKNOD); never the system's own.
        guard mknod(node, S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0 else { return }
        try CrashWriter.atomicWrite(Data("report".utf8), to: node)
        #expect(fileType(node) == S_IFCHR, "the device node was replaced by a regular file")
    }

    @Test func aSymlinkStaysALinkAndItsTargetIsReplaced() throws {
        let dir = try temporaryDirectory().path
        let target = dir + "/real.json", link = dir + "/link.json"
        try "old".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try CrashWriter.atomicWrite(Data("new".utf8), to: link)
        #expect(fileType(link) == S_IFLNK, "the symlink was replaced")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new")
        // No temporary file is left beside either.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["link.json", "real.json"])
    }

    @Test func aRegularFileIsReplacedAtomically() throws {
        let dir = try temporaryDirectory().path
        let f = dir + "/r.json"
        try "old".write(toFile: f, atomically: false, encoding: .utf8)
        try CrashWriter.atomicWrite(Data("new".utf8), to: f)
        #expect(try String(contentsOfFile: f, encoding: .utf8) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["r.json"])
    }

    @Test func aDirectoryOrASymlinkLoopIsRefusedNamingThePathGiven() throws {
        let dir = try temporaryDirectory().path
        try FileManager.default.createDirectory(atPath: dir + "/d", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: dir + "/a", withDestinationPath: dir + "/b")
        try FileManager.default.createSymbolicLink(atPath: dir + "/b", withDestinationPath: dir + "/a")
        for (path, why) in [(dir + "/d", "directory"), (dir + "/a", "symlink loop")] {
            do {
                try OutputFile.write(Data("x".utf8), to: path)
                Issue.record("\(path) was written")
            } catch {
                #expect(error.description.contains(path) && error.description.contains(why), "\(error)")
                #expect(!error.description.contains(".tmp."), "\(error)")
            }
            #expect(throws: OutputFile.Failure.self) { try OutputFile.check(path) }
        }
        #expect(fileType(dir + "/d") == S_IFDIR)
    }
}
