#!/bin/bash
# bench/deliver/run.sh: delivery throughput against Postfix's smtp-sink on
# loopback, with smtp-source's figure from the same minutes as the baseline.
#
#   bench/deliver/run.sh [--mode transport|pipeline|signed] [-r ROUNDS] [-n MESSAGES]
#                        [-c CONNECTIONS] [-s SIZE_BYTES]
#                        [-k MESSAGES_PER_CONNECTION] [-a ARTICLE_JSON]
#
# Modes (the mailer side of the comparison):
#   transport  the SMTP transport alone (bench_transport.c): C threads, each
#              with its own transport, rendering personalized messages per
#              batch and sending a batch per connection.
#   pipeline   the real thing (pipeline.sh): a database with N envelopes of
#              one share of ARTICLE_JSON (default the one-photo
#              tin-pccc-20211005, about 42 KB a message), then `mailer deliver
#              --once` (claim, plan, render, send, each accepted message in
#              its worker's sent journal before the next leaves its
#              connection, results committed in rounds). SIZE is then the
#              composed message's size, so smtp-source sends the same bytes.
#   signed     the pipeline signed (an RSA-2048 DKIM key; SIGN=both adds an
#              Ed25519 signature), the same unsigned, then smtp-source, in
#              each round: the cost of signing as the ratio signed/unsigned
#              (goal >= 0.85) and as the extra CPU per message.
# Add a mode by writing a run_mailer_<mode> function below that delivers N
# messages of SIZE bytes over C connections to 127.0.0.1:$PORT and prints
# the same "msgs ... seconds ... cpu_s ..." line.
#
# Method (bench/lib/rounds.py): the two sides alternate in ROUNDS rounds
# (default 5): mailer, smtp-source, mailer, smtp-source ..., against the
# same smtp-sink, so background work on a shared machine falls on both.
# Prints each round (msgs/s, CPU per message of the side from its own
# rusage, the sink's CPU per message from /proc/PID/stat, load average),
# the median of each side, the ratio of the medians (goal >= 0.8 at C = 4),
# and the load average before and after. Not part of CTest: no timing in
# tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=transport n=10000 c=4 size=51200 k=100 rounds=5
article=$root/examples/articles/tin-pccc-20211005.json
while [ $# -gt 0 ]; do
  case $1 in
    --mode) mode=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    -c) c=$2; shift 2 ;;
    -s) size=$2; shift 2 ;;
    -k) k=$2; shift 2 ;;
    -a) article=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    *) echo "usage: $0 [--mode transport|pipeline|signed] [-r ROUNDS] [-n N] [-c C] [-s SIZE] [-k PER_CONN]" \
         "[-a ARTICLE_JSON]" >&2; exit 1 ;;
  esac
done
for tool in smtp-sink smtp-source cmake cc; do
  command -v $tool >/dev/null || PATH=$PATH:/usr/sbin
  command -v $tool >/dev/null || { echo "missing $tool (scripts/setup.sh installs it)" >&2; exit 1; }
done

build=${BENCH_BUILD_DIR:-$root/build-bench}
work=$(mktemp -d)
sink_pid=
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A release build of what this mode needs.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ "$mode" = pipeline ] || [ "$mode" = signed ]; then
  cmake --build "$build" --target mailer -j"$(nproc)" >/dev/null
else
  cmake --build "$build" --target transport -j"$(nproc)" >/dev/null
fi

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" 127.0.0.1:"$port" 1000 &
sink_pid=$!
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done

rounds_py=$root/bench/lib/rounds.py

run_mailer_transport() {
  [ -x "$work/bench_transport" ] ||
    cc -O2 -std=c11 -D_GNU_SOURCE -I"$root/mailer/transport" -I"$root/mailer/config" \
      -I"$root/mailer/core" "$here/bench_transport.c" \
      "$build/mailer/transport/libtransport.a" "$build/mailer/config/libconfig.a" \
      "$build/mailer/core/libcore.a" -lesmtp -lssl -lcrypto -linih -lpthread \
      -o "$work/bench_transport"
  local line
  line=$("$rounds_py" measure "$work/transport.ru" -- \
    "$work/bench_transport" 127.0.0.1:"$port" "$n" "$c" "$size" "$k")
  echo "$line cpu_s $(awk '{print $4 + $6}' "$work/transport.ru")"
}

run_mailer_pipeline() {
  "$here/pipeline.sh" "$build/bin/mailer" "$work/pipeline-$1" "$port" "$n" "$c" "$k" "$article"
}

run_mailer_signed() {
  PIPELINE_DKIM=${SIGN:-rsa} "$here/pipeline.sh" "$build/bin/mailer" "$work/signed-$1" "$port" \
    "$n" "$c" "$k" "$article"
}

# the mailer's sides of a round: one, or signed then unsigned
case $mode in
  signed) mailer_sides="signed unsigned" ;;
  *) mailer_sides=$mode ;;
esac
run_side() {
  case $1 in
    unsigned) run_mailer_pipeline "$2" ;;
    *) "run_mailer_$1" "$2" ;;
  esac
}
side_name() {
  case $mode in
    signed) [ "$1" = signed ] && echo "signed-${SIGN:-rsa}" || echo "$1" ;;
    *) echo mailer ;;
  esac
}
declare -F "run_mailer_$mode" >/dev/null || { echo "unknown mode $mode" >&2; exit 1; }
field() { echo "$1" | awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }
sink_cpu() { "$rounds_py" cpu "$sink_pid"; }
sink_runq() { "$rounds_py" runq "$sink_pid"; }
results=$work/rounds.txt
echo "load_before $("$rounds_py" load)" >"$results"
for r in $(seq "$rounds"); do
  for side in $mailer_sides; do
  # the mailer's side
  load=$("$rounds_py" load | cut -d' ' -f1)
  s0=$(sink_cpu) q0=$(sink_runq)
  mailer_line=$(run_side "$side" "$r")
  s1=$(sink_cpu) q1=$(sink_runq)
  # the pipeline's messages are what they are: smtp-source sends the same size
  case $mailer_line in
    *msg_bytes*) size=$(field "$mailer_line" msg_bytes) ;;
  esac
  if [ "$r" = 1 ]; then
    echo "deliver bench: mode $mode, $n messages of $size bytes, $c connections, $k per" \
      "connection, $rounds rounds (mailer, smtp-source, ...)"
  fi
  /usr/bin/python3 - "$mailer_line" "$s0" "$s1" "$r" "$load" "$(side_name "$side")" "$q0" "$q1" \
    >>"$results" <<'PY'
import sys
line, s0, s1, r, load, name, q0, q1 = sys.argv[1:]
f = line.split()
m = {f[i]: f[i + 1] for i in range(0, len(f) - 1, 2)}
n = float(m["msgs"])
text = "%.2f s, peak RSS %s MB, %s failed" % (float(m["seconds"]), m["peak_rss_mb"], m["failed"])
if "commits" in m:
    text += ", writer: %s commits, %s s in result commits, %s s in claims" % (
        m["commits"], m["record_s"], m["claim_s"])
    if "wait_s" in m:
        text += ", workers waited %.0f us/msg for commits" % (
            float(m["wait_s"]) * 1e6 / float(m["msgs"]))
if "runq_worker_s" in m:
    text += ", workers %.0f us/msg on CPU and %.0f us/msg in the run queue" % (
        float(m["cpu_worker_s"]) * 1e6 / n, float(m["runq_worker_s"]) * 1e6 / n)
text += ", sink %.0f us/msg in the run queue" % ((float(q1) - float(q0)) * 1e6 / n)
busy = " busy_cores %s" % m["busy_cores"] if "busy_cores" in m else ""
print("side %s round %s value %s cpu_ms_per_msg %.4f sink_cpu_ms_per_msg %.4f%s load %s text %s"
      % (name, r, m["msgs_per_s"], float(m["cpu_s"]) * 1000 / n,
         (float(s1) - float(s0)) * 1000 / n, busy, load, text))
PY
  done
  # smtp-source: same count, size and connections, connections reused (-d)
  load=$("$rounds_py" load | cut -d' ' -f1)
  s0=$(sink_cpu) q0=$(sink_runq)
  "$rounds_py" measure "$work/source.ru" -- \
    smtp-source -d -s "$c" -m "$n" -l "$size" -f bench@news.example.org -t reader@example.net \
    127.0.0.1:"$port"
  s1=$(sink_cpu) q1=$(sink_runq)
  read -r _ wall _ user _ sys _ rss _ _ _ busy rest <"$work/source.ru"
  /usr/bin/python3 - "$n" "$wall" "$user" "$sys" "$rss" "$s0" "$s1" "$r" "$load" "$busy" \
    "$q0" "$q1" "$rest" >>"$results" <<'PY'
import sys
n, wall, user, sys_, rss, s0, s1, r, load, busy, q0, q1, rest = sys.argv[1:]
n = int(n)
f = rest.split()
threads = {f[i]: float(f[i + 1]) for i in range(0, len(f) - 1, 2)}
runq = ""
if "runq_smtp-source_s" in threads:
    runq = ", smtp-source %.0f us/msg in the run queue" % (threads["runq_smtp-source_s"] * 1e6 / n)
print("side smtp-source round %s value %.1f cpu_ms_per_msg %.4f sink_cpu_ms_per_msg %.4f"
      " busy_cores %s load %s text %.2f s, peak RSS %.1f MB%s, sink %.0f us/msg in the run queue"
      % (r, n / float(wall), (float(user) + float(sys_)) * 1000 / n,
         (float(s1) - float(s0)) * 1000 / n, busy, load, float(wall), float(rss), runq,
         (float(q1) - float(q0)) * 1e6 / n))
PY
  tail -$(($(echo $mailer_sides | wc -w) + 1)) "$results" | sed -n 's/^side \([^ ]*\) round \([0-9]*\) value \([^ ]*\).*/  round \2: \1 \3 msgs\/s/p' >&2
done
echo "load_after $("$rounds_py" load)" >>"$results"
echo "mailer and smtp-source, alternated; CPU = the side's user + system from its rusage, the sink's from /proc:"
"$rounds_py" summary "$results"
if [ "$mode" = signed ]; then
  echo "(goals: signed/unsigned >= 0.85; the pipeline >= 0.8 of smtp-source at C = 4)"
else
  echo "(goal: ratio >= 0.8 at C = 4)"
fi
