#!/usr/bin/python3
"""Crash safety: SIGKILL `mailer deliver` in the middle of 5,000 envelopes.

The server is the real test SMTP server; the mailer runs 8 connections with
the default batch_size (100) and messages_per_connection (100), and a 10 s
lease. Once the server holds 1,000 messages the mailer is killed with
SIGKILL (no chance to clean up); a new `mailer deliver --once`, run after the
lease expired (MAILER_FAKE_NOW moves its clock past it), must return the dead
run's leases to the queue and finish.

Checked: every envelope ends sent; the server received every envelope's
message (by its Message-ID, derived from the send's salt and the envelope
id) at least once; and the duplicates are no more than the number of
connections, although at the kill far more envelopes than that were claimed
and not recorded (a whole batch per connection), and far more messages were
accepted by the server than the outbox said were sent: the transport
reports each message before starting the next on its connection, and the
worker appends each accepted one to its sent journal (one write(2)) at
once, so at most one message per connection is sent but unrecorded. The
killed run's journals are there after the kill, and gone once the next run
has recorded what they say.

To make that a test of the mechanism rather than of a fast disk, another
process (this script) holds the database's write lock for 200 ms out of
every 250 ms during the last 300 messages before the kill, as a busy
`mailer serve` enqueuing shares would, and the kill falls 150 ms into such
a hold: commits are then slow, and a sender that kept no journal would
leave dozens of accepted messages unrecorded at the kill.
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time

from dlib import DOMAIN, MAILER, SECRET, Env, SmtpServer, build_dir, check, fail  # noqa: E402
from mailertest import message_id  # noqa: E402

N = 5000
KILL_AT = 1000
CONNECTIONS = 8
SALT = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

store = os.path.join(build_dir(), "testtmp", "delivery-crash-smtpd")
subprocess.run(["rm", "-rf", store], check=True)

with SmtpServer(store) as srv:
    env = Env("crash", transport="smtp://127.0.0.1:%d" % srv.port,
              delivery={"connections": str(CONNECTIONS), "lease": "10s"})
    # a small article without photos: the test is about the outbox, not bytes
    art = os.path.join(env.dir, "nho.json")
    with open(art, "w") as f:
        json.dump({"id": "tin-nho", "url": "https://hagiang.gov.vn/tin-nho",
                   "title": "Tin ngắn: Hà Giang đón đoàn công tác",
                   "published_at": "2021-10-05T08:00:00+07:00",
                   "summary": "Sáng nay, tỉnh Hà Giang đón đoàn công tác.",
                   "body_html": "<p>Sáng nay, tỉnh Hà Giang đón đoàn công tác của Bộ.</p>",
                   "images": []}, f, ensure_ascii=False)
    env.mailer("article", "add", art)
    now = int(time.time())
    env.x("INSERT INTO sends(id, kind, plan, salt, created_at) VALUES (1, 'share', ?, ?, ?)",
          json.dumps({"kind": "share", "article": "tin-nho", "sender_name": "Hoa",
                      "sender_email": "hoa@example.org", "note": ""}), SALT, now)
    c = sqlite3.connect(env.db_path)
    c.executemany("INSERT INTO envelopes(id, send_id, recipient, next_attempt_at, created_at, "
                  "updated_at) VALUES (?, 1, ?, ?, ?, ?)",
                  [(i, "doc-gia-%d@example.net" % i, now, now, now) for i in range(1, N + 1)])
    c.commit()
    c.close()

    penv = dict(os.environ, ASAN_OPTIONS="abort_on_error=1:detect_leaks=0",
                MAILER_LOG="warn")
    stop_holding = threading.Event()

    def hold_write_lock():
        """Slow commits: hold the write lock most of the time near the kill."""
        while srv.stats()["messages"] < KILL_AT - 300 and not stop_holding.is_set():
            time.sleep(0.005)
        h = sqlite3.connect(env.db_path, timeout=30, isolation_level=None)
        while not stop_holding.is_set():
            h.execute("BEGIN IMMEDIATE")
            holding[0] = time.monotonic()
            stop_holding.wait(0.2)
            holding[0] = None
            h.execute("COMMIT")
            time.sleep(0.05)
        h.close()

    holding = [None]  # since when the lock is held, or None

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    started = time.time()
    p = subprocess.Popen([MAILER, "--config", env.config, "deliver", "--once"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=penv)
    while srv.stats()["messages"] < KILL_AT:
        if p.poll() is not None:
            fail("mailer ended before the kill: %s" % p.stderr.read().decode())
        if time.time() - started > 60:
            p.kill()
            fail("only %d messages after 60 s" % srv.stats()["messages"])
        time.sleep(0.01)
    # the kill falls 150 ms into a hold of the lock: no commit for that long
    while True:
        since = holding[0]
        if since is not None and time.monotonic() - since >= 0.15:
            break
        if time.time() - started > 60:
            p.kill()
            fail("the lock was never held at the kill")
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait()
    p.stderr.close()
    stop_holding.set()
    holder.join()
    killed_at = srv.stats()["messages"]
    states = dict(env.q("SELECT state, count(*) FROM envelopes GROUP BY state"))
    check(states.get("sent", 0) < N, "everything was sent before the kill: %r" % states)
    # the bound must come from the per-message commit, not from small batches
    check(states.get("sending", 0) > 2 * CONNECTIONS,
          "only %d envelopes in flight at the kill: %r" % (states.get("sending", 0), states))
    # the commits lagged behind the server: the journals carry the bound
    check(killed_at - states.get("sent", 0) > 2 * CONNECTIONS,
          "only %d accepted messages unrecorded at the kill" % (killed_at - states.get("sent", 0)))
    dbdir, dbname = os.path.split(env.db_path)

    def journals():
        return [os.path.join(dbdir, n) for n in os.listdir(dbdir) if n.startswith(dbname + "-sent-")]
    left = journals()
    check(left, "the killed run left no sent journal")
    journaled = sum((os.path.getsize(j) - 16) // 280 for j in left)
    print("killed after %d messages received; outbox then: %r; %d journals, %d records" %
          (killed_at, states, len(left), journaled))

    # a restart before the lease expired leaves the dead run's envelopes alone
    # (another live worker might hold them); after it, they are reclaimed
    out = env.mailer("deliver", "--once", now=int(time.time()) + 11, timeout=120).stdout
    m = re.match(rb"sent (\d+), deferred 0, failed 0\n$", out)
    check(m, "second run: %r" % out)
    states = dict(env.q("SELECT state, count(*) FROM envelopes GROUP BY state"))
    check(states == {"sent": N}, "after the restart: %r" % states)
    check(not journals(), "sent journals left after the restart: %r" % journals())
    check(env.q("SELECT status FROM sends WHERE id=1")[0][0] == "done", "send not done")

    # what the server received, by Message-ID
    want = {}
    for i in range(1, N + 1):
        want[message_id(SECRET, SALT, i, DOMAIN)] = 0
    total = 0
    for name in os.listdir(store):
        if not name.endswith(".eml"):
            continue
        with open(os.path.join(store, name), "rb") as f:
            mid = re.search(rb"\r\nMessage-ID: <([^>]+)>\r\n", f.read(4096))
        check(mid, "no Message-ID in " + name)
        mid = mid.group(1).decode()
        check(mid in want, "unknown Message-ID %s" % mid)
        want[mid] += 1
        total += 1
    missing = [k for k, v in want.items() if v == 0]
    dups = total - (N - len(missing))
    check(not missing, "%d messages never received, e.g. %s" % (len(missing), missing[:3]))
    check(dups <= CONNECTIONS, "%d duplicates for %d connections" % (dups, CONNECTIONS))
    print("ok: %d envelopes sent, %d messages received, %d duplicate(s), %.1f s" %
          (N, total, dups, time.time() - started))
