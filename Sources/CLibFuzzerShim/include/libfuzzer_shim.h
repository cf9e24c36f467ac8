#ifndef COWFUZZ_LIBFUZZER_SHIM_H
#define COWFUZZ_LIBFUZZER_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (FuzzerDriver.cpp, LLVM 11+): parses the libFuzzer flags in argv
/// and fuzzes `callback`. Defined only when linked with -sanitize=fuzzer; the Swift side
/// calls it only in that build (COWFUZZ_LIBFUZZER), so a plain build never needs it.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
