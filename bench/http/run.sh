#!/usr/bin/env bash
# bench/http: how many shares per second `mailer serve` accepts and durably
# enqueues (one send + one envelope + a share_log row in SQLite, WAL), with
# wrk POSTing JSON shares over keep-alive connections on loopback. The rate
# limits are raised so that every request is a full share; the limits are
# still taken (three counters in one transaction) as in production.
# Delivery workers are not started (--no-workers): this measures the intake.
#
#   bench/http/run.sh [SECONDS] [CONNECTIONS]   (default 10 s, 16 connections)
# Env: BUILD_DIR (default build-bench-http, a Release build made here),
#      HTTP_THREADS (default 2), WRK_THREADS (default 2).
# Prints: accepted requests/s, latency p50/p90/p99, envelopes in the DB.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
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
  rm -rf "$work"
}
trap cleanup EXIT

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
transport = dir:$work/outbox
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
MAILER_LOG=warn "$mailer" --config "$work/mailer.ini" serve --no-workers 2>"$work/serve.log" &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done

aid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$src/examples/articles/tin-pccc-20211005.json")
export SHARE_PATH="/share/$aid"
# warm-up (page cache, statement cache, WAL)
wrk -t"$wthreads" -c"$conns" -d2s -s "$here/share.lua" "http://127.0.0.1:$port" >/dev/null
before=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from envelopes").fetchone()[0])' "$work/mailer.db")
out=$(wrk -t"$wthreads" -c"$conns" -d"${secs}s" --latency -s "$here/share.lua" "http://127.0.0.1:$port")
after=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from envelopes").fetchone()[0])' "$work/mailer.db")
result=$(grep '^RESULT' <<<"$out")
accepted=$(sed -E 's/.*accepted=([0-9]+).*/\1/' <<<"$result")

echo "bench/http: $(nproc) cores, $hthreads server threads, $conns connections, ${secs}s, wrk $wthreads threads"
sed -E 's/^RESULT //; s/ /\n/g' <<<"$result" | sed 's/^/  /'
echo "  envelopes_enqueued=$((after - before))"
# requests still in flight when wrk stops are enqueued but not counted by wrk
if [ "$((after - before))" -lt "$accepted" ] || [ "$((after - before))" -gt "$((accepted + conns))" ]; then
  echo "bench/http: accepted $accepted but $((after - before)) envelopes in the database" >&2
  exit 1
fi
