import CowFuzz
import Foundation

/// The libFuzzer entry of cowfuzz: decodes any input into a program (`ByteDecoder`),
/// checks it on the policies, and on a finding prints the reproducer and traps, so
/// libFuzzer writes the input to a `crash-…` file (`cowfuzz decode` reads it back).
/// libFuzzer calls it from one thread, so the lazily made entry needs no lock.
nonisolated(unsafe) private var entry: LibFuzzerEntry?

@_cdecl("LLVMFuzzerTestOneInput")
public func cowfuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if entry == nil {
        do {
            let conf = LibFuzzerEntry.configuration(file: CommandLine.arguments[0] + ".conf")
            entry = try LibFuzzerEntry(environment: conf.merging(ProcessInfo.processInfo.environment) { $1 })
        } catch {
            FileHandle.standardError.write("cowfuzz libFuzzer target: \(error.description)\n".data(using: .utf8)!)
            exit(2)
        }
    }
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
    guard let trap = entry!.test(bytes) else { return 0 }
    FileHandle.standardError.write("\n==cowfuzz== finding: \(trap.signature.text)\n\(trap.text)==cowfuzz== end\n".data(using: .utf8)!)
    fatalError("cowfuzz finding: \(trap.signature.text)")
}
