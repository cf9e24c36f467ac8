#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build of the cowfuzz libFuzzer target.
# Copy to projects/cowfuzz/build.sh of an oss-fuzz checkout (or .clusterfuzzlite/build.sh).
#
# precompile_swift (base-builder-swift) sets SWIFTFLAGS: -parse-as-library, a static
# stdlib, and -sanitize=fuzzer plus the sanitizer of this build (address, thread, or
# coverage instrumentation).
. precompile_swift

cd "$SRC/cowfuzz"
swift build -c release --product CowLibFuzzer $SWIFTFLAGS -Xswiftc -DCOWFUZZ_LIBFUZZER
cp .build/release/CowLibFuzzer "$OUT/cowfuzz_fuzzer"

# The fuzzer cannot be given environment variables here, so it reads
# cowfuzz_fuzzer.conf beside itself: trap only on signatures that the committed corpus
# does not already show (the known era bugs), on any policy; and end with exit(1), not
# a trap, because Swift's crash handler cannot be switched off there.
mkdir -p "$OUT/cowfuzz_known"
cp corpus/*.cow "$OUT/cowfuzz_known/"
cat > "$OUT/cowfuzz_fuzzer.conf" <<CONF
COWFUZZ_TRAP=any
COWFUZZ_ON_FINDING=exit
COWFUZZ_KNOWN=cowfuzz_known
CONF
cat > "$OUT/cowfuzz_fuzzer.options" <<OPTIONS
[libfuzzer]
max_len = 192
OPTIONS

# Seeds: the corpus programs as fuzzer inputs, made by an uninstrumented cowfuzz.
swift build -c release --scratch-path /tmp/cowfuzz-tool --product cowfuzz
/tmp/cowfuzz-tool/release/cowfuzz corpus seeds corpus -o /tmp/cowfuzz-seeds
(cd /tmp/cowfuzz-seeds && zip -q "$OUT/cowfuzz_fuzzer_seed_corpus.zip" ./*)
