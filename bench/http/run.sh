#!/usr/bin/env bash
# bench/http: how many shares per second `mailer serve` accepts and durably
# enqueues (one send + one envelope + a share_log row in SQLite, WAL), with
# wrk POSTing JSON shares over keep-alive connections on loopback, while
# the delivery workers deliver what was accepted. The rate limits are
# raised so that every request is a full share; the limits are still taken
# (three counters in one transaction) as in production.
#
#   bench/http/run.sh [--transport dir|smtp|none] [-r ROUNDS] [SECONDS] [CONNECTIONS]
#       (default: dir, 5 rounds of 10 s, 16 connections)
# --transport: what the delivery workers deliver to: dir (the default
#   transport: one .eml file per message, fsynced), smtp (Postfix's
#   smtp-sink on loopback), none (`serve --no-workers`: the intake alone).
# Env: BUILD_DIR (default build-bench-http, a Release build made here),
#      HTTP_THREADS (default 2), WRK_THREADS (default 2), DELIVERY_IDLE
#      ([delivery] idle: yes runs the workers SCHED_IDLE; no, the default,
#      uses DELIVERY_NICE), DELIVERY_NICE ([delivery] nice; default 10).
# Method (bench/lib/rounds.py): after a 2 s warm-up, ROUNDS wrk runs of
# SECONDS each against the same server; prints each round (accepted/s,
# p50, p99, max, the server's CPU per accepted share from /proc, load) and
# the medians: the goal is a median p99 under 20 ms. The envelopes in the
# database are checked against wrk's count.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
transport=dir rounds=5
while [ $# -gt 0 ]; do
  case $1 in
    --transport) transport=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    -*) echo "usage: $0 [--transport dir|smtp|none] [-r ROUNDS] [SECONDS] [CONNECTIONS]" >&2; exit 1 ;;
    *) break ;;
  esac
done
secs=${1:-10}
conns=${2:-16}
build=${BUILD_DIR:-$src/build-bench-http}
hthreads=${HTTP_THREADS:-2}
wthreads=${WRK_THREADS:-2}

command -v wrk >/dev/null || { echo "bench/http: wrk is not installed (scripts/setup.sh)" >&2; exit 1; }
if [ ! -x "$build/bin/mailer" ] || [ -z "${NO_BUILD:-}" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target mailer -j"$(nproc)" >/dev/null
fi
mailer=$build/bin/mailer
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-http.XXXXXX")
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

workers=()
case $transport in
  dir) dest="dir:$work/outbox" ;;
  smtp)
    PATH=$PATH:/usr/sbin
    command -v smtp-sink >/dev/null || { echo "bench/http: smtp-sink is not installed" >&2; exit 1; }
    sport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    sink_user=()
    [ "$(id -u)" = 0 ] && sink_user=(-u nobody)
    smtp-sink "${sink_user[@]}" 127.0.0.1:"$sport" 1000 &
    sink_pid=$!
    dest="smtp://127.0.0.1:$sport" ;;
  none) dest="dir:$work/outbox"; workers=(--no-workers) ;;
  *) echo "bench/http: --transport dir|smtp|none" >&2; exit 1 ;;
esac
cat >"$work/mailer.ini" <<INI
[site]
name = Cổng Thông tin điện tử tỉnh Hà Giang
base_url = http://127.0.0.1:$port
[database]
path = $work/mailer.db
[mail]
from_address = tin-tuc@hagiang.example
secret = bench-secret-0123456789abcdef
[delivery]
transport = $dest
${DELIVERY_NICE:+nice = $DELIVERY_NICE}
${DELIVERY_IDLE:+idle = $DELIVERY_IDLE}
[smtp]
tls = none
helo = mailer.hagiang.example
[http]
listen = 127.0.0.1:$port
threads = $hthreads
max_connections = 1024
[limits]
share_per_ip_per_hour = 1000000000
share_per_sender_per_hour = 1000000000
share_global_per_hour = 1000000000
[media]
root = $src/examples/articles
INI
MAILER_LOG=warn "$mailer" --config "$work/mailer.ini" init >/dev/null
MAILER_LOG=warn "$mailer" --config "$work/mailer.ini" article add "$src/examples/articles/tin-pccc-20211005.json" >/dev/null
MAILER_LOG=warn "$mailer" --config "$work/mailer.ini" serve "${workers[@]}" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done

aid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$src/examples/articles/tin-pccc-20211005.json")
export SHARE_PATH="/share/$aid"
# warm-up (page cache, statement cache, WAL)
wrk -t"$wthreads" -c"$conns" -d2s -s "$here/share.lua" "http://127.0.0.1:$port" >/dev/null
rounds_py=$src/bench/lib/rounds.py
# the waits for SQLite's lock so far (/metrics): "WAITS SECONDS"
busy() {
  curl -fs "http://127.0.0.1:$port/metrics" |
    awk '/^mailer_db_busy_waits_total/ {w = $2} /^mailer_db_busy_wait_seconds_total/ {s = $2}
         END {print (w == "" ? "-" : w), (s == "" ? "-" : s)}'
}
count() { /usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from envelopes").fetchone()[0])' "$work/mailer.db"; }
# envelopes the workers have delivered so far
sent() { /usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from envelopes where state = '"'"'sent'"'"'").fetchone()[0])' "$work/mailer.db"; }
results=$work/rounds.txt
echo "bench/http: $(nproc) cores, $hthreads server threads, $conns connections, $rounds rounds of ${secs}s, wrk $wthreads threads, delivery workers: $transport"
echo "load_before $("$rounds_py" load)" >"$results"
for r in $(seq "$rounds"); do
  load=$("$rounds_py" load | cut -d' ' -f1)
  before=$(count)
  sent0=$(sent)
  busy0=$(busy)
  c0=$("$rounds_py" cpu "$pid")
  out=$(wrk -t"$wthreads" -c"$conns" -d"${secs}s" --latency -s "$here/share.lua" "http://127.0.0.1:$port")
  c1=$("$rounds_py" cpu "$pid")
  busy1=$(busy)
  after=$(count)
  sent1=$(sent)
  result=$(grep '^RESULT' <<<"$out")
  accepted=$(sed -E 's/.*accepted=([0-9]+).*/\1/' <<<"$result")
  # requests still in flight when wrk stops are enqueued but not counted by wrk
  if [ "$((after - before))" -lt "$accepted" ] || [ "$((after - before))" -gt "$((accepted + conns))" ]; then
    echo "bench/http: round $r: accepted $accepted but $((after - before)) envelopes in the database" >&2
    exit 1
  fi
  /usr/bin/python3 - "$result" "$c0" "$c1" "$r" "$load" "$((after - before))" "$busy0" "$busy1" "$((sent1 - sent0))" \
    >>"$results" <<'PY'
import sys
result, c0, c1, r, load, enq, busy0, busy1, sent = sys.argv[1:]
d = dict(kv.split("=") for kv in result.split()[1:])
acc = int(d["accepted"])
b0, b1 = busy0.split(), busy1.split()
busy = ""
if "-" not in b0 + b1:
    busy = ", %d waits for the SQLite lock (%.3f s slept)" % (int(b1[0]) - int(b0[0]),
                                                             float(b1[1]) - float(b0[1]))
print("side p99 round %s value %s cpu_ms_per_msg %.4f load %s text %s accepted/s, p50 %s ms, "
      "p99 %s ms, max %s ms, %s refused, %s enqueued, %s delivered meanwhile%s"
      % (r, d["p99_ms"], (float(c1) - float(c0)) * 1000 / max(acc, 1), load, d["accepted_per_s"],
         d["p50_ms"], d["p99_ms"], d["max_ms"], d["refused"], enq, sent, busy))
print("side accepted/s round %s value %s load %s" % (r, d["accepted_per_s"], load))
PY
  echo "  round $r: $(sed -E 's/^RESULT //' <<<"$result")" >&2
done
echo "load_after $("$rounds_py" load)" >>"$results"
grep -v '^side accepted' "$results" | "$rounds_py" summary /dev/stdin --unit ms
grep -v '^side p99' "$results" | "$rounds_py" summary /dev/stdin --unit shares/s | grep '^median'
echo "(CPU: the server's user + system per accepted share, workers included; goal: median p99 < 20 ms, >= 3,000 shares/s)"
