#!/usr/bin/env bash
# Builds the mailer with AddressSanitizer + UndefinedBehaviorSanitizer and
# warnings as errors, and runs the whole test suite through CTest.
# Usage: scripts/test.sh [ctest options, e.g. -L unit or -R smtp]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh
build=${MAILER_TEST_BUILD:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DMAILER_SANITIZE=ON -DMAILER_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
# Any sanitizer report fails the run: ASan aborts, UBSan halts on the first error.
# (No strict_string_checks: it flags libESMTP's strncasecmp on short NUL-terminated
# strings, which is valid C: strncasecmp stops at the NUL.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
cd "$build"
ctest --output-on-failure --no-tests=error -j"$(nproc)" "$@"
