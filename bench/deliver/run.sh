#!/bin/bash
# bench/deliver/run.sh: delivery throughput against Postfix's smtp-sink on
# loopback, with smtp-source's figure from the same run as the baseline.
#
#   bench/deliver/run.sh [--mode transport|pipeline] [-n MESSAGES]
#                        [-c CONNECTIONS] [-s SIZE_BYTES]
#                        [-k MESSAGES_PER_CONNECTION] [-a ARTICLE_JSON]
#
# Modes (the mailer side of the comparison):
#   transport  the SMTP transport alone (bench_transport.c): C threads, each
#              with its own transport, rendering personalized messages per
#              batch and sending a batch per connection.
#   pipeline   the real thing (pipeline.sh): a database with N envelopes of
#              one share of ARTICLE_JSON (default the one-photo
#              tin-pccc-20211005, about 50 KB a message), then `mailer deliver
#              --once` (claim, plan, render, send, commit each sent message
#              before the next leaves its connection). SIZE is then the
#              composed message's size, so smtp-source sends the same bytes.
# Add a mode by writing a run_mailer_<mode> function below that delivers N
# messages of SIZE bytes over C connections to 127.0.0.1:$PORT and prints
# the same "msgs ... seconds ... peak_rss_mb ..." line.
#
# Prints msgs/s, MB/s and peak RSS of both, and the ratio mailer/smtp-source
# (goal: >= 0.8 at C = 4). Not part of the CTest suite: no timing in tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=transport n=10000 c=4 size=51200 k=100
article=$root/examples/articles/tin-pccc-20211005.json
while [ $# -gt 0 ]; do
  case $1 in
    --mode) mode=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    -c) c=$2; shift 2 ;;
    -s) size=$2; shift 2 ;;
    -k) k=$2; shift 2 ;;
    -a) article=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    *) echo "usage: $0 [--mode transport|pipeline] [-n N] [-c C] [-s SIZE] [-k PER_CONN]" \
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
if [ "$mode" = pipeline ]; then
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

run_mailer_transport() {
  cc -O2 -std=c11 -D_GNU_SOURCE -I"$root/mailer/transport" -I"$root/mailer/config" \
    -I"$root/mailer/core" "$here/bench_transport.c" \
    "$build/mailer/transport/libtransport.a" "$build/mailer/config/libconfig.a" \
    "$build/mailer/core/libcore.a" -lesmtp -lssl -lcrypto -linih -lpthread \
    -o "$work/bench_transport"
  "$work/bench_transport" 127.0.0.1:"$port" "$n" "$c" "$size" "$k"
}

run_mailer_pipeline() {
  "$here/pipeline.sh" "$build/bin/mailer" "$work" "$port" "$n" "$c" "$k" "$article"
}

declare -F "run_mailer_$mode" >/dev/null || { echo "unknown mode $mode" >&2; exit 1; }
mailer_line=$("run_mailer_$mode")
# the pipeline's messages are what they are: smtp-source sends the same size
case $mailer_line in
  *msg_bytes*) size=${mailer_line##*msg_bytes } ;;
esac
echo "deliver bench: mode $mode, $n messages of $size bytes, $c connections, $k per connection"

# smtp-source: same count, size and connections, connections reused (-d).
t0=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/source.rss" \
  smtp-source -d -s "$c" -m "$n" -l "$size" -f bench@news.example.org -t reader@example.net \
  127.0.0.1:"$port"
t1=$(date +%s.%N)

/usr/bin/python3 - "$mailer_line" "$t0" "$t1" "$n" "$size" "$(cat "$work/source.rss")" <<'PY'
import sys
line, t0, t1, n, size, src_rss = sys.argv[1:]
f = line.split()
m = {f[i]: float(f[i + 1]) for i in range(0, len(f) - 1, 2)}
src_s = float(t1) - float(t0)
src_rate = int(n) / src_s
print("mailer:      %6.0f msgs/s  %6.1f MB/s  peak RSS %5.1f MB  (%d msgs in %.2f s, %d failed%s)"
      % (m["msgs_per_s"], m["mb_per_s"], m["peak_rss_mb"], m["msgs"], m["seconds"], m["failed"],
         ", %.2f s CPU" % m["cpu_s"] if "cpu_s" in m else ""))
if "record_s" in m:
    print("mailer writer: %d commits, %.2f s in result commits, %.2f s in claims"
          % (m["commits"], m["record_s"], m["claim_s"]))
print("smtp-source: %6.0f msgs/s  %6.1f MB/s  peak RSS %5.1f MB  (%d msgs in %.2f s)"
      % (src_rate, src_rate * int(size) / 1e6, int(src_rss) / 1024, int(n), src_s))
print("ratio mailer/smtp-source: %.2f (goal >= 0.8)" % (m["msgs_per_s"] / src_rate))
PY
