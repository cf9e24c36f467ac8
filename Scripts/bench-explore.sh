#!/bin/sh
# Builds cowfuzz in release mode and prints the state-space exploration figures of
# Documentation/exploring.md (issue 11): states, time, states/s, peak memory and the
# shortest counterexample per universe, linux-5.7 against linux-6.x.
# Usage: Scripts/bench-explore.sh [--quick] [--time D] [--jobs N] [--json FILE]
set -eu
cd "$(dirname "$0")/.."
swift build -c release --product cowfuzz >/dev/null
exec .build/release/cowfuzz bench-explore "$@"
