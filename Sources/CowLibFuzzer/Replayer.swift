#if !COWFUZZ_LIBFUZZER
import Foundation

/// In a plain `swift build`, `CowLibFuzzer FILE…` replays libFuzzer inputs like
/// libFuzzer's standalone driver: each FILE goes through `LLVMFuzzerTestOneInput`, which
/// traps on a finding as the fuzzer would. Built by `Scripts/libfuzzer.sh`
/// (`-sanitize=fuzzer -parse-as-library -D COWFUZZ_LIBFUZZER`) this type is compiled
/// out and libFuzzer's own `main` drives the entry point.
@main
enum Replayer {
    static func main() {
        let files = CommandLine.arguments.dropFirst()
        if files.isEmpty || files.contains("-h") || files.contains("--help") {
            print("usage: CowLibFuzzer FILE…  (replays libFuzzer inputs; build the fuzzer with Scripts/libfuzzer.sh)")
            exit(files.isEmpty ? 2 : 0)
        }
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write("CowLibFuzzer: cannot read \(path)\n".data(using: .utf8)!)
                exit(2)
            }
            let bytes = [UInt8](data)
            _ = bytes.withUnsafeBufferPointer { cowfuzzTestOneInput($0.baseAddress, $0.count) }
            print("\(path): no finding")
        }
    }
}
#endif
