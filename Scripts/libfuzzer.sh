#!/usr/bin/env bash
# Builds the cowfuzz libFuzzer target with the toolchain's -sanitize=fuzzer, and runs it.
#
#   Scripts/libfuzzer.sh build            build .build/libfuzzer/cowfuzz-fuzzer
#   Scripts/libfuzzer.sh run [SECONDS] [libFuzzer flags…]
#                                         build, then fuzz for SECONDS (default 60) in
#                                         .build/libfuzzer/run (corpus/ and crashes/ there)
#   Scripts/libfuzzer.sh seeds DIR        write the corpus/ programs as byte seeds into DIR
#
# Environment of the target (libFuzzer passes it no options of its own):
#   COWFUZZ_POLICIES=linux-5.9,linux-6.x  policies to run (default all)
#   COWFUZZ_TRAP=any | POLICY | VERDICT | VERDICT@POLICY,…   what traps (default any)
#   COWFUZZ_KNOWN=corpus                  signatures of these .cow files do not trap
# Swift's own crash handler must be off, or it runs first and libFuzzer writes no
# crash file: this script exports SWIFT_BACKTRACE=enable=no.
#
# Turn a crash file back into a program:  cowfuzz decode .build/libfuzzer/run/crashes/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${COWFUZZ_LIBFUZZER_BUILD:-.build/libfuzzer}"
bin="$scratch/cowfuzz-fuzzer"
export SWIFT_BACKTRACE=enable=no

build() {
    # -parse-as-library: main.swift of the target is empty under COWFUZZ_LIBFUZZER and
    # libFuzzer's main drives LLVMFuzzerTestOneInput. Every module is instrumented.
    swift build -c release --scratch-path "$scratch" --product CowLibFuzzer \
        -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -DCOWFUZZ_LIBFUZZER >&2
    cp "$scratch/release/CowLibFuzzer" "$bin"
    echo "built $bin" >&2
}

case "${1:-build}" in
build)
    build
    ;;
run)
    shift || true
    seconds="${1:-60}"
    shift || true
    build
    work="$scratch/run"
    mkdir -p "$work/corpus" "$work/crashes"
    # -max_len: the decoder reads at most 64 ops of 3 bytes.
    exec "$bin" -max_len=192 -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$work/crashes/" "$@" "$work/corpus"
    ;;
seeds)
    dir="${2:?usage: Scripts/libfuzzer.sh seeds DIR}"
    swift run -c release cowfuzz corpus seeds corpus -o "$dir"
    ;;
*)
    echo "usage: Scripts/libfuzzer.sh build | run [SECONDS] [libFuzzer flags…] | seeds DIR" >&2
    exit 2
    ;;
esac
