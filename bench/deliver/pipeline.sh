#!/bin/bash
# bench/deliver/pipeline.sh: the whole delivery pipeline, as run.sh's
# `pipeline` mode uses it (not meant to be run alone).
#
#   pipeline.sh MAILER WORK PORT N C PER_CONN ARTICLE_JSON
#
# Makes a fresh database in WORK, adds ARTICLE_JSON, enqueues one share of
# it (`mailer share`, as the web form does) and copies its envelope to N
# distinct recipients with one INSERT ... SELECT (direct outbox inserts:
# share_max_recipients is small, a list send is what digests do), then
# times `mailer deliver --once` against smtp://127.0.0.1:PORT with
# C connections and PER_CONN messages per connection and batch. Each message
# is rendered per recipient (To, Message-ID, VERP return path) from the
# send's plan, and each accepted one is written to its worker's sent journal
# before the next leaves its connection (results committed in rounds). Checks that `mailer queue status` says "sent N" and nothing
# else, and prints on stdout, for run.sh:
#   msgs N seconds S msgs_per_s R mb_per_s M peak_rss_mb P failed F cpu_s C busy_cores U
#   [...] msg_bytes B
# (S: the wall time of `mailer deliver --once`, C: its user + system CPU
# seconds from wait4's rusage, steadier than the rate on a shared
# machine; U: the whole machine's busy CPU meanwhile, in cores), then, if the mailer logged its summary at info level:
#   commits K record_s W claim_s L wait_s T [cpu_worker_s Q runq_worker_s R]
#   msg_bytes B   (msg_bytes stays last)
# (the writer's commit rounds, its seconds in result commits and claims, and
# the workers' seconds waiting for commits, summed over the workers)
set -euo pipefail
mailer=$1 work=$2 port=$3 n=$4 c=$5 k=$6 article=$7
mkdir -p "$work"
# PIPELINE_DKIM=rsa signs every message with an RSA-2048 key, =both adds an
# Ed25519 signature too (run.sh's `signed` mode); unset: no signing.
dkim=${PIPELINE_DKIM:-}
cfg=$work/pipeline.ini
src=$(cd "$(dirname "$0")/../.." && pwd)
cat >"$cfg" <<INI
[site]
base_url = https://tin.hagiang.example

[database]
path = $work/pipeline.db

[mail]
from_address = tin-tuc@hagiang.example
secret = bench-deliver-secret-0123456789

[delivery]
transport = smtp://127.0.0.1:$port
connections = $c
batch_size = $k

[smtp]
tls = none
helo = bench.hagiang.example
messages_per_connection = $k

[templates]
dir = $src/templates
INI
if [ -n "$dkim" ]; then
  printf '[dkim]\nkeys_dir = %s/dkim\nselector = r1\n' "$work" >>"$cfg"
  [ "$dkim" = both ] && printf 'ed25519_selector = e1\n' >>"$cfg"
fi
m() { MAILER_LOG=warn "$mailer" --config "$cfg" "$@"; }
if [ -n "$dkim" ]; then
  m dkim keygen --domain hagiang.example --selector r1 >/dev/null
  [ "$dkim" = both ] && m dkim keygen --domain hagiang.example --selector e1 \
    --algorithm ed25519 >/dev/null
fi
m init >/dev/null
m article add "$article" >/dev/null
id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$article")
m share "$id" --to doc-gia-0@example.net --from-name "Hoa" >/dev/null
m compose share "$id" --to doc-gia-0@example.net >"$work/one.eml"
bytes=$(stat -c %s "$work/one.eml")
/usr/bin/python3 - "$work/pipeline.db" "$n" <<'PY'
import sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
c.execute("""INSERT INTO envelopes(send_id, recipient, name, next_attempt_at, created_at,
             updated_at)
             WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)
             SELECT e.send_id, 'doc-gia-' || k.i || '@example.net', e.name,
                    e.next_attempt_at, e.created_at, e.updated_at
             FROM k, (SELECT * FROM envelopes ORDER BY id LIMIT 1) e""", (n - 1,))
# the per-send counters (migration 0016) are kept by the outbox's own inserts
c.execute("UPDATE send_counts SET queued = queued + ? "
          "WHERE send_id = (SELECT send_id FROM envelopes ORDER BY id LIMIT 1)", (n - 1,))
c.commit()
PY
# PIPELINE_WRAP: a command put before the mailer's (profile.sh: perf record)
# shellcheck disable=SC2086
"$src/bench/lib/rounds.py" measure "$work/pipeline.ru" -- ${PIPELINE_WRAP:-} \
  "$mailer" --config "$cfg" deliver --once >"$work/deliver.out" 2>"$work/deliver.err" ||
  { cat "$work/deliver.err" >&2; exit 1; }
status=$(m queue status)
if [ "$(echo "$status" | grep -v ' 0$' | tr -s ' ')" != "sent $n" ]; then
  echo "pipeline: queue status after delivery:" >&2
  echo "$status" >&2
  exit 1
fi
/usr/bin/python3 - "$n" "$bytes" "$work/pipeline.ru" "$work/deliver.err" <<'PY'
import re, sys
n, b = int(sys.argv[1]), int(sys.argv[2])
f = open(sys.argv[3]).read().split()
ru = {f[i]: float(f[i + 1]) for i in range(0, len(f) - 1, 2)}
s, cpu = ru["wall_s"], ru["user_s"] + ru["sys_s"]
# the writer's summary ("(C commits, S s; claims S s; workers waited S s for commits; ...)")
w = re.search(r"\((\d+) commits, ([0-9.]+) s; claims ([0-9.]+) s; workers waited ([0-9.]+) s",
              open(sys.argv[4]).read())
print("msgs %d seconds %.3f msgs_per_s %.0f mb_per_s %.1f peak_rss_mb %.1f failed 0 cpu_s %.4f "
      "busy_cores %.2f " % (n, s, n / s, n * b / s / 1e6, ru["rss_mb"], cpu, ru["busy_cores"])
      + ("commits %s record_s %s claim_s %s wait_s %s " % w.groups() if w else "")
      # the workers' threads (dlv-worker-N): CPU and run-queue seconds, summed
      + "".join("%s_worker_s %.4f " % (k, ru["%s_dlv-worker_s" % k]) for k in ("cpu", "runq")
                if "%s_dlv-worker_s" % k in ru)
      + "msg_bytes %d" % b)
PY
