#!/bin/bash
# bench/admin/run.sh [SUBSCRIBERS] [SENDS] [N]: server time per page of the
# web admin (dashboard, subscriber search, person page) with SUBSCRIBERS
# (default 1,000,000) subscribers and SENDS x SUBSCRIBERS envelopes (default
# 5: 5,000,000), N requests of each kind (default 200), p50 and p99 from the
# server's own log. Goal (issue 13): p99 < 50 ms. A Release build; the
# database is made once under bench/out/admin-SUBSCRIBERS-SENDS.db and reused
# (delete it to start over). See README.md here.
set -euo pipefail
SUBS=${1:-1000000}
SENDS=${2:-5}
N=${3:-200}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${MAILER_BENCH_BUILD:-$SRC/build-bench}
OUT=$SRC/bench/out
DB=$OUT/admin-$SUBS-$SENDS.db
WORK=$(mktemp -d /tmp/mailer-bench-admin.XXXXXX)
trap 'kill $(cat "$WORK/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

if [ -n "${MAILER_BIN:-}" ]; then
  BIN=$MAILER_BIN
else
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target mailer -j"$(nproc)" >/dev/null
  BIN=$BUILD/bin/mailer
fi
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/m.ini" <<INI
[site]
base_url = http://127.0.0.1:$PORT
[database]
path = $DB
[mail]
secret = bench-secret-0123456789abcdef
[http]
listen = 127.0.0.1:$PORT
threads = 2
[admin]
login_per_minute = 1000
INI
export MAILER_CONFIG=$WORK/m.ini MAILER_LOG=info
if [ ! -f "$DB" ]; then
  "$BIN" init >/dev/null
  "$BIN" article add "$SRC"/examples/articles/*.json >/dev/null
  /usr/bin/python3 "$SRC/bench/admin/gen.py" "$DB" "$SUBS" "$SENDS"
  printf 'bench admin password\n' | "$BIN" user add bench@hagiang.example.vn --role admin >/dev/null
fi
"$BIN" serve --no-workers >"$WORK/serve.log" 2>&1 &
echo $! >"$WORK/pid"
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "database: $(du -h "$DB" | cut -f1), $SUBS subscribers, $((SUBS * SENDS)) envelopes; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$SRC/bench/admin/measure.py" "http://127.0.0.1:$PORT" "$WORK/serve.log" \
  bench@hagiang.example.vn 'bench admin password' "$N" "$(cat "$WORK/pid")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
