#!/bin/bash
# bench/digest/run.sh: a weekly digest end to end (enqueue and deliver)
# through Postfix's smtp-sink on loopback, with smtp-source's figure from
# the same minutes as the baseline.
#
#   bench/digest/run.sh [-r ROUNDS] [-n SUBSCRIBERS] [-N BIG] [-c CONNECTIONS]
#                       [-b BATCH] [-t SECONDS] [--full]
#
# 1. ROUNDS rounds (default 5), alternating the two sides against the same
#    sink (bench/lib/rounds.py):
#    - the mailer: a fresh database with N confirmed subscribers (default
#      10,000; made before the rounds), the six sample articles, one
#      digest: `mailer digest send` (one process: enqueue in one
#      transaction, then delivery in-process) over C connections (default
#      4). Its rate is the delivery's (after the enqueue; end to end in the
#      text), its CPU per message the process's user + system from wait4.
#    - smtp-source -d (connections reused) with the same count, the same
#      message size (the mailer's, measured on a preview) and the same
#      connections.
#    Prints each round, the medians, the ratio of medians (goal 0.8), CPU
#    per message of both sides and of the sink, and the load average
#    before and after.
# 2. BIG subscribers (default 1,000,000; -N 0 skips it): enqueue time (goal
#    <= 5 s) and peak RSS (goal < 64 MB) while delivering for SECONDS
#    (default 30) from the full queue; --full delivers all of them (long:
#    about BIG / msgs/s).
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
rounds=5 n=10000 big=1000000 c=4 secs=30 full=0 batch=
while [ $# -gt 0 ]; do
  case $1 in
    -r) rounds=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    -N) big=$2; shift 2 ;;
    -c) c=$2; shift 2 ;;
    -t) secs=$2; shift 2 ;;
    -b) batch=$2; shift 2 ;;
    --full) full=1; shift ;;
    *) echo "usage: $0 [-r ROUNDS] [-n SUBSCRIBERS] [-N BIG] [-c CONNECTIONS] [-b BATCH] [-t SECONDS] [--full]" >&2
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
helo = bench.hagiang.example
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
# rc R cpu_s C" (C: user + system from wait4) (enqueue: until its first stdout line; LIMIT > 0 stops it with SIGTERM
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
print("enqueue_s %.3f total_s %.3f rss_mb %.1f rc %d cpu_s %.4f"
      % (t1 - t0, t2 - t0, ru.ru_maxrss / 1024, p.returncode, ru.ru_utime + ru.ru_stime))
PY
}

field() { echo "$1" | awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }

rounds_py=$root/bench/lib/rounds.py
results=$work/rounds.txt
echo "digest bench: $rounds rounds of $n subscribers (mailer, smtp-source, ...), 6 articles, $c connections, batch ${batch:-100 (default)}, smtp-sink on 127.0.0.1:$port"
for r in $(seq "$rounds"); do setup "$work/a$r" "$n"; done
m="$mailer --config $work/a1/mailer.ini"
$m digest preview --list tin-tuc --since 2021-08-01 -o "$work/preview.eml" 2>/dev/null
size=$(stat -c %s "$work/preview.eml")
echo "message size (preview): $size bytes"
echo "load_before $("$rounds_py" load)" >"$results"
for r in $(seq "$rounds"); do
  load=$("$rounds_py" load | cut -d' ' -f1)
  s0=$("$rounds_py" cpu "$sink_pid")
  line=$(timed "$work/a$r" 0 digest send --list tin-tuc --since 2021-08-01)
  s1=$("$rounds_py" cpu "$sink_pid")
  [ "$(field "$line" rc)" = 0 ] || { cat "$work/a$r/err.txt" >&2; exit 1; }
  sent=$(sqlite3 "$work/a$r/m.db" "SELECT count(*) FROM envelopes WHERE state = 'sent'")
  [ "$sent" = "$n" ] || { echo "round $r: $sent of $n sent" >&2; exit 1; }
  /usr/bin/python3 - "$line" "$n" "$s0" "$s1" "$r" "$load" >>"$results" <<'PY'
import sys
line, n, s0, s1, r, load = sys.argv[1:]
f = line.split()
a = {f[i]: float(f[i + 1]) for i in range(0, len(f) - 1, 2)}
n = int(n)
dlv = a["total_s"] - a["enqueue_s"]
print("side mailer round %s value %.1f cpu_ms_per_msg %.4f sink_cpu_ms_per_msg %.4f load %s"
      " text enqueue %.2f s, delivery %.1f s, %.0f msgs/s end to end, peak RSS %.1f MB"
      % (r, n / dlv, a["cpu_s"] * 1000 / n, (float(s1) - float(s0)) * 1000 / n, load,
         a["enqueue_s"], dlv, n / a["total_s"], a["rss_mb"]))
PY
  load=$("$rounds_py" load | cut -d' ' -f1)
  s0=$("$rounds_py" cpu "$sink_pid")
  "$rounds_py" measure "$work/source.ru" -- \
    smtp-source -d -s "$c" -m "$n" -l "$size" -f bench@hagiang.example -t reader@example.net \
    127.0.0.1:"$port"
  s1=$("$rounds_py" cpu "$sink_pid")
  read -r _ wall _ user _ sys _ rss _ <"$work/source.ru"
  /usr/bin/python3 - "$n" "$wall" "$user" "$sys" "$rss" "$s0" "$s1" "$r" "$load" >>"$results" <<'PY'
import sys
n, wall, user, sys_, rss, s0, s1, r, load = sys.argv[1:]
n = int(n)
print("side smtp-source round %s value %.1f cpu_ms_per_msg %.4f sink_cpu_ms_per_msg %.4f load %s"
      " text %.1f s, peak RSS %.1f MB"
      % (r, n / float(wall), (float(user) + float(sys_)) * 1000 / n,
         (float(s1) - float(s0)) * 1000 / n, load, float(wall), float(rss)))
PY
  tail -2 "$results" | sed -n 's/^side \([^ ]*\) round \([0-9]*\) value \([^ ]*\).*/  round \2: \1 \3 msgs\/s/p' >&2
  rm -rf "$work/a$r"
done
echo "load_after $("$rounds_py" load)" >>"$results"
echo "mailer (delivery after the enqueue) and smtp-source, alternated; CPU = user + system from rusage:"
"$rounds_py" summary "$results"
echo "(goal: ratio >= 0.8)"

[ "$big" -gt 0 ] || exit 0
echo "1M: $big subscribers (inserting)"
setup "$work/b" "$big"
if [ "$full" = 1 ]; then limit=0; else limit=$secs; fi
bigline=$(timed "$work/b" "$limit" digest send --list tin-tuc --since 2021-08-01)
bigsent=$(sqlite3 "$work/b/m.db" "SELECT count(*) FROM envelopes WHERE state = 'sent'")
bigq=$(sqlite3 "$work/b/m.db" "SELECT count(*) FROM envelopes")
/usr/bin/python3 - "$bigline" "$big" "$bigsent" "$bigq" <<'PY'
import sys
bigline, big, bigsent, bigq = sys.argv[1:]
f = bigline.split()
b = {f[i]: float(f[i + 1]) for i in range(0, len(f) - 1, 2)}
big, bigsent, bigq = int(big), int(bigsent), int(bigq)
dl = max(b["total_s"] - b["enqueue_s"], 1e-9)
print("mailer %d: enqueue %.2f s (goal <= 5 s, %d envelopes); delivered %d in %.1f s (%.0f msgs/s);"
      " peak RSS %.1f MB (goal < 64 MB); load %s" % (big, b["enqueue_s"], bigq, bigsent, dl,
                                                    bigsent / dl, b["rss_mb"],
                                                    open("/proc/loadavg").read().split()[0]))
PY
