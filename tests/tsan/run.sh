#!/bin/sh
# Runs one test of a ThreadSanitizer build (MAILER_TSAN: the tsan.* tests)
# and fails it on any report, from any process the test started.
# Usage: run.sh REPORT_DIR COMMAND [ARG...]
#
# Every process writes its reports to REPORT_DIR/report.<pid> (TSAN_OPTIONS
# log_path), so a report is seen even from a `mailer` that the test kills
# on purpose (the crash tests) or whose exit status it does not look at; the
# test's own status counts as well. tests/tsan/suppressions.txt names what
# is not ours to fix, each entry with its reason.
dir=$1
shift
rm -rf "$dir"
mkdir -p "$dir"
here=$(cd "$(dirname "$0")" && pwd)
TSAN_OPTIONS="log_path=$dir/report:second_deadlock_stack=1:history_size=4:suppressions=$here/suppressions.txt${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export TSAN_OPTIONS
"$@"
rc=$?
if ls "$dir"/report.* >/dev/null 2>&1; then
  cat "$dir"/report.*
  echo "FAIL: ThreadSanitizer reported $(cat "$dir"/report.* | grep -c '^WARNING: ThreadSanitizer') problem(s)"
  exit 1
fi
exit $rc
