import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Finds the `CowRealExec` helper: `$COWFUZZ_REAL_EXEC`, else next to the running
/// binary (SwiftPM puts it beside `cowfuzz` and beside the test bundle in
/// `.build/<config>/`), else it is compiled once from the embedded source with the
/// system C compiler into a cache directory keyed by the source's hash.
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

    /// Builds the helper from `CExport.executorSource` with `cc -O2`.
    static func compileFromEmbeddedSource() throws(RealBackendError) -> String {
        let source = CExport.executorSource + "\nint main(int argc, char **argv) { return cf_server_main(argc, argv); }\n"
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in source.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let dir = "\(tmp)/cowfuzz-real-exec-\(String(hash, radix: 16))"
        let bin = dir + "/" + name
        let fm = FileManager.default
        if fm.isExecutableFile(atPath: bin) { return bin }
        do {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let src = dir + "/cowreal-exec.c"
            try source.write(toFile: src, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["cc", "-O2", "-o", bin + ".tmp", src]
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw RealBackendError.executorNotFound("cc failed on \(src)") }
            try? fm.removeItem(atPath: bin)
            try fm.moveItem(atPath: bin + ".tmp", toPath: bin)
            return bin
        } catch let e as RealBackendError {
            throw e
        } catch {
            throw .executorNotFound("\(error)")
        }
    }
}
