#!/usr/bin/python3
"""The delivery writer's checkpointer: WAL checkpoints run beside the
result commits, on a thread and handle of their own, while a run delivers.

600 envelopes of one share go out through the dir transport at [delivery]
rate = 300 (about two seconds, long enough for the checkpointer's 100 ms
turns in every build). While `mailer deliver --once` runs, the test watches
the database file: it must be written again and again during the run
(the checkpointer copies committed pages into it while the workers send), and the run's summary
must count the checkpointer's checkpoints and the workers' wait for
commits; its threads carry their names (dlv-writer, dlv-checkpoint,
dlv-worker-N). At the end everything is sent and recorded once.
"""
import os
import re
import time

from dlib import ARTICLE, Env, check  # noqa: E402
from mailertest import mailer_environ  # noqa: E402

N = 600
env = Env("checkpoint", delivery={"connections": "2", "batch_size": "50", "rate": "300"})
env.add_article()
env.mailer("share", ARTICLE, "--to", "doc-gia-0@example.net")
env.x("INSERT INTO envelopes(send_id, recipient, name, next_attempt_at, created_at, updated_at) "
      "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?) "
      "SELECT e.send_id, 'doc-gia-' || k.i || '@example.net', e.name, e.next_attempt_at, "
      "e.created_at, e.updated_at FROM k, (SELECT * FROM envelopes ORDER BY id LIMIT 1) e",
      N - 1)
env.x("UPDATE send_counts SET queued = queued + ?", N - 1)
env.env = lambda now=None: mailer_environ(now, {"MAILER_LOG": "info"})

mtime0 = os.stat(env.db_path).st_mtime_ns
p = env.spawn("deliver", "--once")
mtimes, names = [], set()
while p.poll() is None:
    mtimes.append(os.stat(env.db_path).st_mtime_ns)
    try:
        for tid in os.listdir("/proc/%d/task" % p.pid):
            with open("/proc/%d/task/%s/comm" % (p.pid, tid)) as f:
                names.add(f.read().strip())
    except OSError:
        pass  # it ended meanwhile
    time.sleep(0.02)
out, err = p.communicate()
check(p.returncode == 0, "deliver: exit %d\n%s" % (p.returncode, err.decode(errors="replace")))
check(out == b"sent %d, deferred 0, failed 0\n" % N, "deliver output: %r" % out)
# the threads are named as top and bench/deliver's run-queue figures show them
want = {"dlv-writer", "dlv-checkpoint", "dlv-worker-0", "dlv-worker-1"}
check(want <= names, "thread names while delivering: %r" % sorted(names))
written = len(set(mtimes) - {mtime0})
check(written >= 2,
      "the database file was written %d times in %d looks while delivering: nothing was "
      "checkpointed during the run" % (written, len(mtimes)))
m = re.search(rb"workers waited ([0-9.]+) s for commits; (\d+) checkpoints\)", err)
check(m, "no writer summary in the log:\n%s" % err.decode(errors="replace"))
check(int(m.group(2)) >= 1, "the checkpointer ran no checkpoint: %r" % m.group(0))
st = env.counts()
check(st == {"queued": 0, "sending": 0, "sent": N, "deferred": 0, "failed": 0, "cancelled": 0},
      "status after: %r" % st)
files = [f for f in os.listdir(env.outdir) if f.endswith(".eml")]
check(len(files) == N, "%d .eml files for %d envelopes" % (len(files), N))
print("ok")
