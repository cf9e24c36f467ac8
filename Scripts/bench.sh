#!/usr/bin/env bash
# The fuzzer benchmark on a release build: programs/s and policy-op steps/s on 1 job
# and on all cores, time to first finding and shrunk size per era policy over 10 fixed
# seeds, shrink time and predicate calls, the CVE-2020-29374 class on every seed.
# Usage: Scripts/bench.sh [--quick] [--jobs N]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product cowfuzz >&2
exec .build/release/cowfuzz bench "$@"
