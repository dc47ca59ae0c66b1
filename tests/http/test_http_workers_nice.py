"""`mailer serve` runs its delivery workers nicer than the HTTP front.

[delivery] nice = 7 with connections = 3: exactly three threads of the
server (the workers) run at the process's niceness + 7, every other thread
(the HTTP pool, the result writer, the parent, the scheduler) at the
process's own, read from /proc/PID/task/*/stat. A share posted then is
still delivered by them (its .eml in the dir transport). With nice = 0 no
thread changes.
"""
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import Mailer, check, sample_id  # noqa: E402

SHARE = "/share/" + urllib.parse.quote(sample_id(), safe="")
SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                      "articles", "tin-pccc-20211005.json")


def niceness(pid):
    """{tid: nice} of every thread of pid (stat field 19)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
        out[int(tid)] = int(rest[16])
    return out


def main():
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
        st, _, body = m.post_json(SHARE, {"to": ["ban.doc@example.vn"],
                                          "sender_name": "Nguyễn Văn An",
                                          "sender_email": "an.nguyen@example.vn",
                                          "note": "Bài này hay."})
        check(st == 202, "share: %d %s" % (st, body))
        m.wait_for(lambda: len(m.eml_files()) == 1, "the share delivered by the niced workers")
        check(m.stop() == 0, "serve did not stop cleanly")

    with Mailer("http-workers-nice-0", delivery={"connections": 3, "nice": 0}) as m:
        m.start()
        pid = m.proc.pid
        m.wait_for(lambda: len(niceness(pid)) >= 6, "the server's threads")
        n = niceness(pid)
        check(set(n.values()) == {n[pid]}, "nice = 0 changed a thread: %s" % n)
        check(m.stop() == 0, "serve did not stop cleanly")
    print("ok")


if __name__ == "__main__":
    main()
