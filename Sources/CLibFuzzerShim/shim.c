// Declarations only (include/libfuzzer_shim.h): libFuzzer's driver comes from the
// -sanitize=fuzzer runtime. SwiftPM needs one source file per C target.
#include "libfuzzer_shim.h"
