#!/bin/sh
# Real-kernel programs per second on this machine, measured on the C helper alone
# (no Swift in the loop): builds CowRealExec from Sources/CRealKernel with cc, feeds it
# N copies of the benchmark program (16 ops: fork, write, read, io_uring pin, vmsplice,
# exit; the same program RealBackend.benchmark uses) and reports the rate and the
# helper's own median time per program. `cowfuzz bench` prints the figure through
# the Swift backend (realBenchmarkLine). Needs root for the page frames; no system
# setting is changed.
# usage: Scripts/real-bench.sh [N]   (default 500)
set -eu
n=${1:-500}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "cowreal.h"\nint main(int c, char **v) { return cf_server_main(c, v); }\n' > "$tmp/main.c"
cc -O2 -I"$root/Sources/CRealKernel/include" -o "$tmp/exec" "$tmp/main.c" "$root/Sources/CRealKernel/cowreal.c"
# op KIND P R PAGE PAGES ARG VAL FROM COUNT FLAGS (kinds and flags: cowreal.h)
cat > "$tmp/prog" <<'PROG'
prog 16 0 5000 -1 9
op 1 0 0 0 4 -1 0 0 -1 0
op 6 0 0 0 0 -1 1 0 -1 0
op 6 0 0 1 0 -1 2 0 -1 0
op 8 0 -1 0 0 1 0 0 -1 0
op 6 1 0 0 0 -1 3 0 -1 0
op 7 0 0 0 0 -1 0 0 -1 0
op 14 1 0 1 0 0 0 0 -1 0
op 10 0 0 2 0 0 0 0 -1 3
op 8 0 -1 0 0 2 0 0 -1 0
op 13 -1 -1 0 0 0 4 0 -1 0
op 7 2 0 2 0 -1 0 0 -1 0
op 12 -1 -1 0 0 0 0 0 -1 0
op 9 1 -1 0 0 -1 0 0 -1 0
op 6 0 0 1 0 -1 5 0 -1 0
op 15 -1 -1 0 0 0 0 0 -1 0
op 11 -1 -1 0 0 0 0 0 -1 0
PROG
i=0
while [ $i -lt "$n" ]; do cat "$tmp/prog"; i=$((i + 1)); done > "$tmp/in"
t0=$(date +%s%N)
timeout 300 "$tmp/exec" < "$tmp/in" > "$tmp/out"
t1=$(date +%s%N)
done_n=$(grep -c '^D ' "$tmp/out" || true)
med=$(grep '^D ' "$tmp/out" | awk '{print $4}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
head -1 "$tmp/out" | sed 's/^R /# helper: /'
awk -v n="$done_n" -v ns="$((t1 - t0))" -v med="$med" 'BEGIN {
	printf "real kernel: %.0f programs/s (%d programs of 16 ops, fresh process tree each, one CPU; median %d us in the helper)\n",
	       n / (ns / 1e9), n, med }'
