#if COWFUZZ_LIBFUZZER
import CLibFuzzerShim

/// The entry point of the fuzzer build. SwiftPM links an executable target's entry
/// point under the name `<module>_main` (so tests can link the module) and renames it to
/// `main` at link time; this is that function, and it hands control to libFuzzer's
/// driver, which parses the libFuzzer flags and calls `LLVMFuzzerTestOneInput`.
@_cdecl("CowLibFuzzer_main")
public func cowLibFuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in cowfuzzTestOneInput(data, size) }
}
#endif
