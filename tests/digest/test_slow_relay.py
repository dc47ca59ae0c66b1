"""A long-running `mailer deliver` against a slow relay sends every
recipient of a digest exactly once (issue 16 item 3).

The relay answers each RCPT after 0.5 s (a content-scanning smarthost under
load, a tarpit) and the lease is 10 s, the smallest allowed. The digest is
enqueued while the service already runs, idle, as a scheduled digest is:
one worker claims the whole batch of 60 (default batch size) and takes
about 30 s to send it, three times the lease, while the others keep
looking for work and the service returns expired leases to the queue
every few seconds. Leases of envelopes a process still holds (in flight,
or claimed ahead) must be renewed, so that return never hands them to
another worker: before the fix, when the batch was not the one worker's
that also returned expired leases (7 times in 8 with 8 connections), about
half of the recipients got the digest twice. The count is taken at the
server, from the messages it stored, after `mailer deliver` stopped on
SIGTERM.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digestlib import (fresh_store, Env, SmtpServer, check, digest_id_of,  # noqa: E402
                       received_by_rcpt, wait_for)

N = 60
LEASE = 10


def main():
    store = fresh_store("slow-relay")
    with SmtpServer(store, "--rcpt-delay", "0.5") as srv:
        env = Env("slow-relay", transport="smtp://127.0.0.1:%d" % srv.port,
                  delivery={"lease": "%ds" % LEASE, "connections": "8"})
        env.add_list()
        emails = env.bulk_subscribers(N)
        env.add_small_article("tin-1", time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                                     time.gmtime(time.time() - 3600)))
        p = env.spawn("deliver")
        try:
            time.sleep(2)  # the workers are up and idle
            out = env.mailer("digest", "send", "--list", "tin-tuc",
                             "--enqueue-only").stdout.decode()
            did = digest_id_of(out)
            wait_for(lambda: env.status(did)["sent"] == N or p.poll() is not None, 240,
                     "every envelope sent", interval=1.0)
        finally:
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=60)
        check(p.returncode == 0, "mailer deliver exited %d:\n%s" % (
            p.returncode, err.decode(errors="replace")[-3000:]))
        st = env.status(did)
        check(st["sent"] == N and st["status"] == "done", "status: %r" % st)
        got = received_by_rcpt(srv)
        twice = sorted(r for r, msgs in got.items() if len(msgs) > 1)
        missing = sorted(set(emails) - set(got))
        check(not missing, "%d recipients never received the digest: %s" % (
            len(missing), missing[:5]))
        check(not twice, "%d of %d recipients received the digest more than once: %s" % (
            len(twice), N, twice[:5]))
        check(sum(len(m) for m in got.values()) == N, "messages at the server: %d" % (
            sum(len(m) for m in got.values())))
    print("ok: %d recipients, each exactly once, through a relay taking 0.5 s per RCPT "
          "with a %d s lease" % (N, LEASE))


if __name__ == "__main__":
    main()
