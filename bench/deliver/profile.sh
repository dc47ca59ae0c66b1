#!/bin/bash
# bench/deliver/profile.sh: where the CPU of the pipeline goes, per message.
#
#   bench/deliver/profile.sh [-n MESSAGES] [-c CONNECTIONS] [-k PER_CONN] [-F HZ] [-v]
#
# Runs the pipeline of run.sh (pipeline.sh: a fresh database with N
# envelopes of one share of the one-photo sample article, `mailer deliver
# --once` to smtp-sink) under `perf record` (user and kernel, DWARF call
# chains, F samples per second and thread), records smtp-sink at the same
# time, and prints (profile.py) the share of each part of the work:
# rendering, encoding, HMACs, libESMTP's copy and dot-stuffing scan, the
# socket writes, the reads and polls, claims, result commits, thread
# hand-offs, the sink. Microseconds per message are the shares times the
# mailer's CPU per message, which this run prints too (taken from a run
# without perf, as perf's own unwinding inflates the profiled one). -v
# lists the largest system calls and functions under each part.
# Needs perf (linux-perf) and root or kernel.perf_event_paranoid <= 1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=10000 c=4 k=100 hz=1999 verbose=
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; shift 2 ;;
    -c) c=$2; shift 2 ;;
    -k) k=$2; shift 2 ;;
    -F) hz=$2; shift 2 ;;
    -v) verbose=-v; shift ;;
    *) echo "usage: $0 [-n N] [-c C] [-k PER_CONN] [-F HZ] [-v]" >&2; exit 1 ;;
  esac
done
PATH=$PATH:/usr/sbin
for tool in perf smtp-sink cmake; do
  command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
build=${BENCH_BUILD_DIR:-$root/build-bench}
work=$(mktemp -d)
sink_pid= perf_sink=
cleanup() {
  [ -n "$perf_sink" ] && kill -INT "$perf_sink" 2>/dev/null
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target mailer -j"$(nproc)" >/dev/null
article=$root/examples/articles/tin-pccc-20211005.json
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" 127.0.0.1:"$port" 1000 &
sink_pid=$!
sleep 0.3
echo "load before: $("$root/bench/lib/rounds.py" load)"
# the mailer's CPU per message, without perf
s0=$("$root/bench/lib/rounds.py" cpu "$sink_pid")
line=$("$here/pipeline.sh" "$build/bin/mailer" "$work/plain" "$port" "$n" "$c" "$k" "$article")
s1=$("$root/bench/lib/rounds.py" cpu "$sink_pid")
line="$line sink_cpu_s $(/usr/bin/python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$s0" "$s1")"
echo "without perf: $line"
perf record -q -F "$hz" -g -p "$sink_pid" -o "$work/sink.data" 2>/dev/null &
perf_sink=$!
sleep 0.2
PIPELINE_WRAP="perf record -q -F $hz --call-graph dwarf,16384 -o $work/mailer.data --" \
  "$here/pipeline.sh" "$build/bin/mailer" "$work/perf" "$port" "$n" "$c" "$k" "$article" >/dev/null
kill -INT "$perf_sink"
wait "$perf_sink" 2>/dev/null || true
perf_sink=
echo "load after: $("$root/bench/lib/rounds.py" load)"
perf script -i "$work/mailer.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$work/mailer.txt"
perf script -i "$work/sink.data" -F comm,ip,sym,dso 2>/dev/null >"$work/sink.txt"
/usr/bin/python3 "$here/profile.py" "$work/mailer.txt" "$work/sink.txt" "$line" "$n" $verbose
