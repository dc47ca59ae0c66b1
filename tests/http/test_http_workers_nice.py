"""`mailer serve` runs its delivery workers below the HTTP front.

[delivery] nice = 7 with connections = 3 (idle = no, the default):
exactly three threads of the server (the workers) run at the process's
niceness + 7, every other thread (the HTTP pool, the result writer, the
parent, the scheduler) at the process's own, all under SCHED_OTHER, read
from /proc/PID/task/*/stat (fields 19, nice, and 41, policy). With idle =
yes the three workers run under SCHED_IDLE and every other thread under
SCHED_OTHER. Each time a share posted is still delivered by them (its .eml
in the dir transport). With nice = 0 no thread changes.
"""
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import Mailer, check, sample_id  # noqa: E402

SHARE = "/share/" + urllib.parse.quote(sample_id(), safe="")
SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                      "articles", "tin-pccc-20211005.json")


SCHED_OTHER, SCHED_IDLE = 0, 5


def threads(pid, field):
    """{tid: value} of a numeric stat field of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
        out[int(tid)] = int(rest[field - 3])
    return out


def niceness(pid):
    """{tid: nice} (stat field 19)."""
    return threads(pid, 19)


def policy(pid):
    """{tid: scheduling policy} (stat field 41)."""
    return threads(pid, 41)


def share(m):
    st, _, body = m.post_json(SHARE, {"to": ["ban.doc@example.vn"],
                                      "sender_name": "Nguyễn Văn An",
                                      "sender_email": "an.nguyen@example.vn",
                                      "note": "Bài này hay."})
    check(st == 202, "share: %d %s" % (st, body))


def main():
    with Mailer("http-workers-idle", delivery={"connections": 3, "idle": "yes"}) as m:
        m.cli("article", "add", SAMPLE)
        m.start()
        pid = m.proc.pid

        def workers_idle():
            p = policy(pid)
            return sum(1 for v in p.values() if v == SCHED_IDLE) == 3 and p
        p = m.wait_for(workers_idle, "three threads under SCHED_IDLE")
        others = [v for v in p.values() if v != SCHED_IDLE]
        check(len(others) >= 3 and all(v == SCHED_OTHER for v in others),
              "other threads not under SCHED_OTHER: %s" % p)
        share(m)
        m.wait_for(lambda: len(m.eml_files()) == 1, "the share delivered by the idle workers")
        check(m.stop() == 0, "serve did not stop cleanly")

    with Mailer("http-workers-nice", delivery={"connections": 3, "nice": 7}) as m:
        m.cli("article", "add", SAMPLE)
        m.start()
        pid = m.proc.pid
        base = niceness(pid)[pid]

        def workers_niced():
            n = niceness(pid)
            return sum(1 for v in n.values() if v == base + 7) == 3 and n
        n = m.wait_for(workers_niced, "three threads at nice +7")
        others = [v for v in n.values() if v != base + 7]
        check(len(others) >= 3 and all(v == base for v in others),
              "other threads not at the process's niceness %d: %s" % (base, n))
        check(set(policy(pid).values()) == {SCHED_OTHER}, "idle = no: %s" % policy(pid))
        share(m)
        m.wait_for(lambda: len(m.eml_files()) == 1, "the share delivered by the niced workers")
        check(m.stop() == 0, "serve did not stop cleanly")

    with Mailer("http-workers-nice-0", delivery={"connections": 3, "nice": 0}) as m:
        m.start()
        pid = m.proc.pid
        m.wait_for(lambda: len(niceness(pid)) >= 6, "the server's threads")
        n = niceness(pid)
        check(set(n.values()) == {n[pid]}, "nice = 0 changed a thread: %s" % n)
        check(set(policy(pid).values()) == {SCHED_OTHER}, "idle = no: %s" % policy(pid))
        check(m.stop() == 0, "serve did not stop cleanly")
    print("ok")


if __name__ == "__main__":
    main()
