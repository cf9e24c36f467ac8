#!/usr/bin/env bash
# Nightly fuzzing on all cores.
#
#   Scripts/nightly.sh [DURATION]        DURATION: the argument, else $NIGHTLY_TIME, else 1h
#
# Writes into $NIGHTLY_OUT (default nightly/<date>/): report.json (versioned), junit.xml
# (one test case per signature; new ones fail), summary.md (findings, the policy ×
# verdict matrix, efficiency per policy), fuzz.txt (the closing table) and crashes/
# (minimized reproducers of the new signatures). The seed is $NIGHTLY_SEED, else the
# date, so every night explores new programs and any night can be re-run exactly.
#
# Exit status: 0 when every signature found is already in corpus/; 1 when a signature
# is new (triage: replay and explain the files in crashes/, promote the keepers into
# corpus/ with their @expect lines); anything else is an error of the run itself.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-${NIGHTLY_TIME:-1h}}"
DAY="$(date -u +%Y%m%d)"
SEED="${NIGHTLY_SEED:-$DAY}"
OUT="${NIGHTLY_OUT:-nightly/$DAY}"
mkdir -p "$OUT"
swift build -c release --product cowfuzz >&2
status=0
# Deduplicate against corpus/ only: a signature not in corpus/ is news every night
# until someone promotes it.
.build/release/cowfuzz fuzz --time "$DURATION" --seed "$SEED" --corpus corpus --crashes "$OUT/crashes" \
    --report "$OUT/report.json" --junit "$OUT/junit.xml" --summary "$OUT/summary.md" --quiet \
    > "$OUT/fuzz.txt" || status=$?
cat "$OUT/fuzz.txt"
# The night's root causes: catalogued historic bugs, known to the corpus, or new.
if [ -d "$OUT/crashes" ] && ls "$OUT/crashes"/*.cow > /dev/null 2>&1; then
    .build/release/cowfuzz triage "$OUT/crashes" --corpus corpus > "$OUT/triage.txt" || true
    echo "nightly: root causes by catalogue in $OUT/triage.txt"
fi
case $status in
    0) echo "nightly: nothing new (summary: $OUT/summary.md)" ;;
    1) echo "nightly: NEW signatures: see $OUT/summary.md and $OUT/crashes/" ;;
    *) echo "nightly: the run failed with status $status" >&2 ;;
esac
exit $status
