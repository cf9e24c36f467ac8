import CowFuzz
import Foundation

/// The libFuzzer entry of cowfuzz: decodes any input into a program (`ByteDecoder`),
/// checks it on the policies, and on a finding prints the reproducer and traps, so
/// libFuzzer writes the input to a `crash-…` file (`cowfuzz decode` reads it back).
/// libFuzzer calls it from one thread, so the lazily made entry needs no lock.
nonisolated(unsafe) private var entry: LibFuzzerEntry?
/// `COWFUZZ_ON_FINDING=exit`: end with `exit(1)` instead of a trap. libFuzzer treats an
/// exit inside the target as a crash and writes the input too, and this works where
/// Swift's crash handler cannot be switched off (`SWIFT_BACKTRACE=enable=no`), such as
/// OSS-Fuzz (`cowfuzz_fuzzer.conf`).
nonisolated(unsafe) private var exitOnFinding = false

@_cdecl("LLVMFuzzerTestOneInput")
public func cowfuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if entry == nil {
        do {
            let conf = LibFuzzerEntry.configuration(file: CommandLine.arguments[0] + ".conf")
            let env = conf.merging(ProcessInfo.processInfo.environment) { $1 }
            entry = try LibFuzzerEntry(environment: env)
            exitOnFinding = env["COWFUZZ_ON_FINDING"] == "exit"
        } catch {
            FileHandle.standardError.write("cowfuzz libFuzzer target: \(error.description)\n".data(using: .utf8)!)
            exit(2)
        }
    }
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
    guard let trap = entry!.test(bytes) else { return 0 }
    FileHandle.standardError.write("\n==cowfuzz== finding: \(trap.signature.text)\n\(trap.text)==cowfuzz== end\n".data(using: .utf8)!)
    if exitOnFinding { exit(1) }
    fatalError("cowfuzz finding: \(trap.signature.text)")
}
