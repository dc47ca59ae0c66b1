#!/usr/bin/env bash
# One fuzz test (tests/fuzz/CMakeLists.txt): replays the seed corpus, then
# fuzzes for a bounded time. Any sanitizer report, crash, leak or timeout
# fails it, and the input that caused it is kept in OUT/artifacts/.
# Usage: run.sh FUZZER SEED_DIR OUT MAX_LEN [DICT]
# Environment: MAILER_FUZZ_SECONDS (20; 0 replays only).
set -euo pipefail
bin=$1 seeds=$2 out=$3 max_len=$4 dict=${5:-}
name=$(basename "$bin")
name=${name#fuzz_}
secs=${MAILER_FUZZ_SECONDS:-20}
mkdir -p "$out/artifacts" "$out/corpus/$name"
# libFuzzer's own options; the sanitizers' defaults from scripts/test.sh are fine
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
opts=(-artifact_prefix="$out/artifacts/$name-" -max_len="$max_len" -timeout=25
      -rss_limit_mb=1536 -print_final_stats=1)
[ -n "$dict" ] && opts+=(-dict="$dict")

shopt -s nullglob
seedfiles=("$seeds"/*)
if [ "${#seedfiles[@]}" -eq 0 ]; then
  echo "fuzz $name: no seed corpus in $seeds" >&2
  exit 1
fi
echo "fuzz $name: replaying ${#seedfiles[@]} seeds"
"$bin" "${opts[@]}" "${seedfiles[@]}" >"$out/$name.replay.log" 2>&1 || {
  tail -60 "$out/$name.replay.log"
  echo "FAIL: fuzz $name: a seed input fails (log $out/$name.replay.log)" >&2
  exit 1
}
[ "$secs" -gt 0 ] || exit 0
echo "fuzz $name: fuzzing for ${secs} s (new inputs kept in $out/corpus/$name)"
# the first folder receives new inputs; the seeds are read only
if ! "$bin" "${opts[@]}" -max_total_time="$secs" "$out/corpus/$name" "$seeds" \
    >"$out/$name.log" 2>&1; then
  tail -80 "$out/$name.log"
  echo "FAIL: fuzz $name: see $out/$name.log; reproduce with: $bin $out/artifacts/$name-*" >&2
  exit 1
fi
grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$out/$name.log" || true
