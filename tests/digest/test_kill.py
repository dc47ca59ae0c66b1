"""SIGKILL of `mailer digest send` in the middle of a 10,000-subscriber
digest, then `mailer deliver --once` once the leases ran out: every
subscriber received the digest, and at most [delivery] connections of them
twice. Default batch sizes (100 per claim and per connection): delivery
commits each sent message before its connection may end the next one, so
at most one message per connection is sent but unrecorded when the process
dies (mailer/delivery/delivery.c). The test SMTP server stores what it
received.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digestlib import (fresh_store, Env, SmtpServer, check, count_received, digest_id_of,  # noqa: E402
                       received_by_rcpt, wait_for)

N = 10000
CONNECTIONS = 4
LEASE = 10  # the smallest [delivery] lease allowed


def main():
    t0 = time.time()
    store = fresh_store("kill")
    with SmtpServer(store) as srv:
        env = Env("kill", transport="smtp://127.0.0.1:%d" % srv.port,
                  delivery={"connections": str(CONNECTIONS), "lease": "%ds" % LEASE})
        env.add_list()
        emails = env.bulk_subscribers(N)
        env.add_small_article("tin-1", time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                                     time.gmtime(time.time() - 3600)))
        p = env.spawn("digest", "send", "--list", "tin-tuc")
        line = p.stdout.readline().decode()
        did = digest_id_of(line)
        check("%d recipients" % N in line, "enqueue: %r" % line)
        wait_for(lambda: count_received(store) >= N // 3 or p.poll() is not None, 60,
                 "a third of the digest")
        check(p.poll() is None, "the sender finished before it could be killed")
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        p.stderr.close()
        before = count_received(store)
        st = env.status(did)
        check(st["sent"] < N, "all sent before the kill: %r" % st)
        check(st["sending"] > 2 * CONNECTIONS,
              "only %d envelopes in flight at the kill: the test would not tell a "
              "batch-sized duplicate window from the bound" % st["sending"])
        print("killed after %d received (%d recorded sent, %d sending)" % (
            before, st["sent"], st["sending"]))

        # the killed run's leases expire; a new run takes over
        time.sleep(LEASE + 1)
        env.mailer("deliver", "--once", timeout=120)
        st = env.status(did)
        check(st["sent"] == N and st["queued"] == 0 and st["sending"] == 0 and
              st["status"] == "done", "after the restart: %r" % st)

        got = received_by_rcpt(srv)
        missing = [e for e in emails if e not in got]
        check(not missing, "%d subscribers got nothing, e.g. %r" % (len(missing), missing[:3]))
        dups = sum(len(v) - 1 for v in got.values())
        check(set(got) == set(emails), "mail to someone not subscribed")
        check(dups <= CONNECTIONS, "%d duplicates (at most %d allowed)" % (dups, CONNECTIONS))
        print("ok: %d subscribers, %d duplicates, %.1f s" % (N, dups, time.time() - t0))


if __name__ == "__main__":
    main()
