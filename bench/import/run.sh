#!/bin/bash
# bench/import/run.sh [ROWS]: generate a CSV of ROWS subscribers (default
# 1,000,000), import it with a Release build of `mailer` into a fresh
# database, and print rows/s and peak RSS. Goal (issue 5): <= 5 s for 1M
# rows, memory flat. See README.md here.
set -euo pipefail
ROWS=${1:-1000000}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${MAILER_BENCH_BUILD:-$SRC/build-bench}
WORK=$(mktemp -d /tmp/mailer-bench-import.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [ -n "${MAILER_BIN:-}" ]; then
  BIN=$MAILER_BIN
else
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target mailer -j"$(nproc)" >/dev/null
  BIN=$BUILD/bin/mailer
fi

cat >"$WORK/m.ini" <<INI
[database]
path = $WORK/m.db
INI
export MAILER_CONFIG=$WORK/m.ini MAILER_SECRET=bench-secret-0123456789abcdef MAILER_LOG=warn
/usr/bin/python3 "$SRC/bench/import/gen.py" "$ROWS" "$WORK/subs.csv"
"$BIN" init >/dev/null
"$BIN" list create bench --name "Bản tin" --optin single >/dev/null

# Peak RSS: /usr/bin/time -v (Debian package `time`) if present, else VmHWM
# polled from /proc while the import runs.
load=$(cut -d" " -f1 /proc/loadavg)
start=$(date +%s.%N)
if [ -x /usr/bin/time ]; then
  /usr/bin/time -v -o "$WORK/time.txt" "$BIN" sub import "$WORK/subs.csv" --list bench >"$WORK/out.txt"
  rss_kb=$(awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}' "$WORK/time.txt")
  cpu=$(awk -F: '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$WORK/time.txt")
else
  "$BIN" sub import "$WORK/subs.csv" --list bench >"$WORK/out.txt" &
  pid=$! rss_kb=0 cpu=
  while kill -0 $pid 2>/dev/null; do
    v=$(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$rss_kb" ] && rss_kb=$v
    sleep 0.05
  done
  wait $pid
fi
end=$(date +%s.%N)
cat "$WORK/out.txt"
count=$(/usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from subscriptions').fetchone()[0])" "$WORK/m.db")
awk -v r="$ROWS" -v s="$start" -v e="$end" -v k="$rss_kb" -v c="$count" -v u="${cpu:-}" -v l="$load" -v b="$(stat -c %s "$WORK/subs.csv")" 'BEGIN {
  t = e - s
  printf "import: %d rows (%.1f MB CSV) in %.2f s = %.0f rows/s; peak RSS %.1f MB; %d subscriptions in the database\n", r, b / 1048576, t, r / t, k / 1024, c
  if (u != "")
    printf "cpu: %.2f s user+sys; load average before the run %s\n", u, l
  printf "goal: <= 5 s for 1,000,000 rows: %s\n", (r >= 1000000 ? (t <= 5 ? "met" : "NOT met") : "n/a (fewer rows)")
}'
