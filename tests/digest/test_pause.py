"""Pause and resume of a running digest: `mailer digest pause ID` from
another shell while `mailer digest send` delivers; the sender finishes its
batches in flight and stops by itself (nothing of the digest can be
claimed); `mailer digest resume ID` delivers the rest. Every subscriber
gets the digest exactly once: no duplicate at all, nobody left out.
Also: cancel stops the rest for good.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digestlib import (Env, SmtpServer, check, count_received, digest_id_of,  # noqa: E402
                       fresh_store, received_by_rcpt, wait_for)

N = 2000


def main():
    store = fresh_store("pause")
    with SmtpServer(store) as srv:
        # a rate limit so that the pause lands in the middle
        env = Env("pause", transport="smtp://127.0.0.1:%d" % srv.port,
                  delivery={"connections": "4", "rate": "300", "batch_size": "20"})
        env.add_list()
        emails = env.bulk_subscribers(N)
        env.add_small_article("tin-1", time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                                     time.gmtime(time.time() - 3600)))
        p = env.spawn("digest", "send", "--list", "tin-tuc")
        did = digest_id_of(p.stdout.readline().decode())
        wait_for(lambda: count_received(store) >= N // 5 or p.poll() is not None, 60,
                 "a fifth of the digest")
        check(p.poll() is None, "the digest was sent before it could be paused")
        out = env.mailer("digest", "pause", did).stdout.decode()
        check(out.strip() == "digest %d: paused" % did, "pause said %r" % out)
        try:
            rest, err = p.communicate(timeout=30)
        except Exception:
            p.kill()
            raise
        check(p.returncode == 0, "the sender exited %d: %s" % (p.returncode, err.decode()))
        summary = rest.decode()
        check("paused: `mailer digest resume %d` continues" % did in summary,
              "summary: %r" % summary)
        st = env.status(did)
        at_pause = count_received(store)
        check(st["status"] == "paused" and st["sending"] == 0 and st["queued"] > 0 and
              st["sent"] == at_pause, "after the pause: %r, %d received" % (st, at_pause))
        # nothing moves while paused, even for another deliverer
        env.mailer("deliver", "--once")
        time.sleep(0.5)
        check(count_received(store) == at_pause, "mail went out while paused")
        check(env.status(did)["queued"] == st["queued"], "envelopes moved while paused")
        print("paused after %d of %d" % (at_pause, N))

        out = env.mailer("digest", "resume", did, timeout=120).stdout.decode()
        check(out.startswith("digest %d: resumed\n" % did), "resume said %r" % out)
        check("sent %d, deferred 0, failed 0, cancelled 0, queued 0" % N in out,
              "resume summary %r" % out)
        st = env.status(did)
        check(st["status"] == "done" and st["sent"] == N, "after resume: %r" % st)
        got = received_by_rcpt(srv)
        dups = {k: len(v) for k, v in got.items() if len(v) > 1}
        check(not dups, "duplicates: %r" % list(dups.items())[:5])
        check(sorted(got) == sorted(emails), "%d of %d received" % (len(got), N))

        # pausing or resuming a finished digest is refused; cancel of a paused one
        env.mailer("digest", "pause", did, code=3)
        out = env.mailer("digest", "send", "--list", "tin-tuc", "--period", "2030-W01",
                         "--since", "2020-01-01", "--enqueue-only").stdout.decode()
        d2 = digest_id_of(out)
        env.mailer("digest", "pause", d2)
        out = env.mailer("digest", "cancel", d2).stdout.decode()
        check(out.strip() == "digest %d: cancelled" % d2, "cancel said %r" % out)
        env.mailer("digest", "resume", d2, code=3)
        env.mailer("deliver", "--once")
        st = env.status(d2)
        check(st["status"] == "cancelled" and st["cancelled"] == N and st["sent"] == 0,
              "cancelled digest: %r" % st)
        check(count_received(store) == N, "a cancelled digest was delivered")
    print("ok")


if __name__ == "__main__":
    main()
