#!/bin/bash
# bench/digest/run.sh: a weekly digest end to end (enqueue and deliver)
# through Postfix's smtp-sink on loopback, with smtp-source's figure from
# the same run as the baseline.
#
#   bench/digest/run.sh [-n SUBSCRIBERS] [-N BIG] [-c CONNECTIONS] [-b BATCH] [-t SECONDS]
#                       [--full]
#
# 1. N subscribers (default 100,000), the six sample articles, one digest:
#    `mailer digest send` (one process: enqueue in one transaction, then
#    delivery in-process) over C connections (default 4) to smtp-sink.
#    Prints the enqueue time, msgs/s end to end and of the delivery alone,
#    and the peak RSS (VmHWM, from wait4's ru_maxrss).
# 2. smtp-source -d (connections reused) with the same count, the same
#    message size (the mailer's average, measured on a preview) and the
#    same connections: msgs/s, and the ratio mailer/smtp-source (goal 0.8).
# 3. BIG subscribers (default 1,000,000): enqueue time (goal <= 5 s) and peak
#    RSS (goal < 64 MB) while delivering for SECONDS (default 30) from the
#    full queue; --full delivers all of them (long: about BIG / msgs/s).
#
# Memory: each worker renders a message when the transport needs its data
# and holds one at a time, so peak RSS does not grow with the batch:
# [delivery] batch_size is the default (100) unless -b BATCH is given.
#
# Release build in $BENCH_BUILD_DIR (default build-bench-digest). Not part of
# CTest: no timing in tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=100000 big=1000000 c=4 secs=30 full=0 batch=
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; shift 2 ;;
    -N) big=$2; shift 2 ;;
    -c) c=$2; shift 2 ;;
    -t) secs=$2; shift 2 ;;
    -b) batch=$2; shift 2 ;;
    --full) full=1; shift ;;
    *) echo "usage: $0 [-n SUBSCRIBERS] [-N BIG] [-c CONNECTIONS] [-b BATCH] [-t SECONDS] [--full]" >&2
       exit 1 ;;
  esac
done
PATH=$PATH:/usr/sbin
for tool in smtp-sink smtp-source sqlite3 cmake; do
  command -v $tool >/dev/null || { echo "missing $tool (scripts/setup.sh installs it)" >&2; exit 1; }
done

build=${BENCH_BUILD_DIR:-$root/build-bench-digest}
work=$(mktemp -d)
sink_pid=
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target mailer -j"$(nproc)" >/dev/null
mailer=$build/bin/mailer

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" -c 127.0.0.1:"$port" 1000 >/dev/null &
sink_pid=$!
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done

# setup DIR SUBSCRIBERS: config, schema, the six articles, a list with
# SUBSCRIBERS confirmed subscribers (inserted with sqlite3 in one transaction).
setup() {
  local dir=$1 count=$2
  mkdir -p "$dir"
  cat >"$dir/mailer.ini" <<INI
[site]
name = Cổng Thông tin điện tử tỉnh Hà Giang
base_url = https://tin.hagiang.example
timezone = Asia/Ho_Chi_Minh
[database]
path = $dir/m.db
[mail]
from_address = tin-tuc@hagiang.example
secret = bench-digest-secret-0123456789
[delivery]
transport = smtp://127.0.0.1:$port
connections = $c
${batch:+batch_size = $batch}
[smtp]
tls = none
[templates]
dir = $root/templates
INI
  local m="$mailer --config $dir/mailer.ini"
  $m init >/dev/null
  for f in "$root"/examples/articles/*.json; do $m article add "$f" >/dev/null 2>&1; done
  $m list create tin-tuc --name "Tin tức Hà Giang" --optin single >/dev/null
  sqlite3 "$dir/m.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $count)
INSERT INTO subscribers(email, email_ascii, email_key, name, created_at, updated_at)
SELECT 'doc.gia' || i || '@example.net', 'doc.gia' || i || '@example.net',
       'doc.gia' || i || '@example.net', 'Độc giả số ' || i, 0, 0 FROM c;
INSERT INTO subscriptions(list_id, subscriber_id, status, created_at, updated_at)
SELECT 1, id, 'confirmed', 0, 0 FROM subscribers;
COMMIT;
SQL
}

# timed DIR LIMIT ARGS...: runs the mailer, prints "enqueue_s X total_s Y rss_mb Z
# rc R" (enqueue: until its first stdout line; LIMIT > 0 stops it with SIGTERM
# after LIMIT seconds) and keeps its stdout in DIR/out.txt.
timed() {
  local dir=$1 limit=$2; shift 2
  /usr/bin/python3 - "$dir" "$limit" "$mailer" --config "$dir/mailer.ini" "$@" <<'PY'
import os, signal, subprocess, sys, threading, time
d, limit, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(os.path.join(d, "err.txt"), "w"))
if limit > 0:
    threading.Timer(limit, lambda: p.send_signal(signal.SIGTERM)).start()
first = p.stdout.readline()
t1 = time.monotonic()
rest = p.stdout.read()
_, status, ru = os.wait4(p.pid, 0)
t2 = time.monotonic()
p.returncode = os.waitstatus_to_exitcode(status)
open(os.path.join(d, "out.txt"), "wb").write(first + rest)
print("enqueue_s %.3f total_s %.3f rss_mb %.1f rc %d" % (t1 - t0, t2 - t0, ru.ru_maxrss / 1024,
                                                         p.returncode))
PY
}

field() { echo "$1" | awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }

echo "digest bench: $n subscribers, 6 articles, $c connections, batch ${batch:-100 (default)}, smtp-sink on 127.0.0.1:$port"
setup "$work/a" "$n"
m="$mailer --config $work/a/mailer.ini"
$m digest preview --list tin-tuc --since 2021-08-01 -o "$work/preview.eml" 2>/dev/null
size=$(stat -c %s "$work/preview.eml")
line=$(timed "$work/a" 0 digest send --list tin-tuc --since 2021-08-01)
[ "$(field "$line" rc)" = 0 ] || { cat "$work/a/err.txt" >&2; exit 1; }
sent=$(sqlite3 "$work/a/m.db" "SELECT count(*) FROM envelopes WHERE state = 'sent'")
summary=$(tail -1 "$work/a/out.txt")

t0=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/source.rss" \
  smtp-source -d -s "$c" -m "$n" -l "$size" -f bench@hagiang.example -t reader@example.net \
  127.0.0.1:"$port"
t1=$(date +%s.%N)

echo "1M: $big subscribers (inserting)"
setup "$work/b" "$big"
if [ "$full" = 1 ]; then limit=0; else limit=$secs; fi
bigline=$(timed "$work/b" "$limit" digest send --list tin-tuc --since 2021-08-01)
bigsent=$(sqlite3 "$work/b/m.db" "SELECT count(*) FROM envelopes WHERE state = 'sent'")
bigq=$(sqlite3 "$work/b/m.db" "SELECT count(*) FROM envelopes")

/usr/bin/python3 - "$line" "$n" "$sent" "$size" "$t0" "$t1" "$(cat "$work/source.rss")" \
  "$bigline" "$big" "$bigsent" "$bigq" "$summary" <<'PY'
import sys
(line, n, sent, size, t0, t1, src_rss, bigline, big, bigsent, bigq, summary) = sys.argv[1:]
def kv(s):
    f = s.split()
    return {f[i]: float(f[i + 1]) for i in range(0, len(f) - 1, 2)}
a, b = kv(line), kv(bigline)
n, sent, size, big, bigsent, bigq = map(int, (n, sent, size, big, bigsent, bigq))
deliver_s = a["total_s"] - a["enqueue_s"]
e2e = sent / a["total_s"]
dlv = sent / deliver_s
src_s = float(t1) - float(t0)
src = n / src_s
print("message size (preview): %d bytes" % size)
print("mailer %d: enqueue %.2f s, delivered %d in %.1f s: %.0f msgs/s end to end, "
      "%.0f msgs/s delivery alone; peak RSS %.1f MB" % (n, a["enqueue_s"], sent, deliver_s, e2e,
                                                        dlv, a["rss_mb"]))
print("  (%s)" % summary)
print("smtp-source -d: %.0f msgs/s (%d msgs of %d bytes in %.1f s), peak RSS %.1f MB"
      % (src, n, size, src_s, int(src_rss) / 1024))
print("ratio mailer/smtp-source: %.2f end to end, %.2f delivery alone (goal >= 0.8)"
      % (e2e / src, dlv / src))
print("mailer %d: enqueue %.2f s (goal <= 5 s, %d envelopes); delivered %d in %.1f s (%.0f msgs/s);"
      " peak RSS %.1f MB (goal < 64 MB)" % (big, b["enqueue_s"], bigq, bigsent,
                                            b["total_s"] - b["enqueue_s"],
                                            bigsent / max(b["total_s"] - b["enqueue_s"], 1e-9),
                                            b["rss_mb"]))
PY
