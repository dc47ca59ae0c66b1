#!/bin/bash
# bench/compose/run.sh: personalized messages per second on one core, C vs
# Python's email package, in the same run. One command, not part of CTest:
#   bench/compose/run.sh [SECONDS]     (default 3 seconds per measurement)
# Builds a Release tree in build-bench/, the bench program against the
# module libraries, and pins both runs to one CPU with taskset.
set -euo pipefail
SECONDS_PER=${1:-3}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${MAILER_BENCH_BUILD:-$SRC/build-bench}
WORK=$(mktemp -d /tmp/bench-compose.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target bench_compose -j"$(nproc)" >/dev/null
cp "$BUILD/bin/bench_compose" "$WORK/bench_compose"

PIN=""
command -v taskset >/dev/null && PIN="taskset -c 0"
echo "compose benchmark: $SECONDS_PER s per measurement, one core ($(nproc) available)"
C=$(MAILER_LOG=warn $PIN "$WORK/bench_compose" "$SRC" "$WORK" "$SECONDS_PER")
P=$($PIN /usr/bin/python3 "$SRC/bench/compose/baseline.py" "$WORK" "$SECONDS_PER")
printf '%-8s %12s %12s %12s %10s\n' kind "C msgs/s" "Py msgs/s" "ratio" "bytes/msg"
for kind in share digest; do
  c=$(awk -v k=$kind '$1==k{print $2}' <<<"$C"); cb=$(awk -v k=$kind '$1==k{print $3}' <<<"$C")
  p=$(awk -v k=$kind '$1==k{print $2}' <<<"$P")
  printf '%-8s %12s %12s %11.1fx %10s\n' "$kind" "$c" "$p" "$(echo "$c / $p" | bc -l)" "$cb"
done
d=$(awk '$1=="digest"{print $2}' <<<"$C")
echo "goal: >= 20000 personalized digests/s on one core: $([ "$d" -ge 20000 ] && echo met || echo NOT met) ($d)"
