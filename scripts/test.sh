#!/usr/bin/env bash
# Builds the mailer with AddressSanitizer + UndefinedBehaviorSanitizer and
# warnings as errors, builds the libFuzzer targets with clang (tests/fuzz,
# in build-fuzz/), and runs the whole test suite through CTest: the fuzz
# tests (label `fuzz`: replay each seed corpus, then fuzz for
# MAILER_FUZZ_SECONDS, default 20) run in the same CTest run. So do the
# tsan.* tests: the unit tests and the delivery and digest integration tests
# of a ThreadSanitizer build (in build-tsan/; any report fails the test).
# Usage: scripts/test.sh [ctest options, e.g. -L unit or -R smtp]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh
build=${MAILER_TEST_BUILD:-build-test}
fuzz=${MAILER_FUZZ_BUILD:-build-fuzz}
case "$fuzz" in /*) ;; *) fuzz="$here/$fuzz" ;; esac
cmake -S . -B "$fuzz" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DMAILER_FUZZ=ON >/dev/null
cmake --build "$fuzz" -j"$(nproc)"
tsan=${MAILER_TSAN_BUILD:-build-tsan}
case "$tsan" in /*) ;; *) tsan="$here/$tsan" ;; esac
cmake -S . -B "$tsan" -DCMAKE_BUILD_TYPE=Debug -DMAILER_TSAN=ON -DMAILER_WERROR=ON >/dev/null
cmake --build "$tsan" -j"$(nproc)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DMAILER_SANITIZE=ON -DMAILER_WERROR=ON \
  -DMAILER_FUZZ_BUILD_DIR="$fuzz" -DMAILER_TSAN_BUILD_DIR="$tsan" >/dev/null
cmake --build "$build" -j"$(nproc)"
# Any sanitizer report fails the run: ASan aborts, UBSan halts on the first error.
# (No strict_string_checks: it flags libESMTP's strncasecmp on short NUL-terminated
# strings, which is valid C: strncasecmp stops at the NUL.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
cd "$build"
ctest --output-on-failure --no-tests=error -j"$(nproc)" "$@"
