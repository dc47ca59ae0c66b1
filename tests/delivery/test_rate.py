#!/usr/bin/python3
"""Rate limits: [delivery] rate over all connections and per_domain_rate per
recipient domain hold across 4 worker threads (dir transport, timed by the
wall clock and the files' modification times)."""
import json
import os
import time

from dlib import Env, check


def run(name, delivery, recipients):
    env = Env(name, delivery=dict({"connections": "4", "batch_size": "5"}, **delivery))
    art = os.path.join(env.dir, "nho.json")
    with open(art, "w") as f:
        json.dump({"id": "tin-nho", "url": "https://hagiang.gov.vn/tin-nho",
                   "title": "Tin ngắn", "published_at": "2021-10-05T08:00:00+07:00",
                   "body_html": "<p>Sáng nay.</p>", "images": []}, f, ensure_ascii=False)
    env.mailer("article", "add", art)
    now = int(time.time())
    env.x("INSERT INTO sends(id, kind, plan, salt, created_at) VALUES (1, 'share', ?, 'ab', ?)",
          json.dumps({"kind": "share", "article": "tin-nho", "sender_name": "",
                      "sender_email": "hoa@example.org", "note": ""}), now)
    for i, r in enumerate(recipients, 1):
        env.x("INSERT INTO envelopes(id, send_id, recipient, next_attempt_at, created_at, "
              "updated_at) VALUES (?, 1, ?, ?, ?, ?)", i, r, now, now, now)
    t = time.time()
    out = env.mailer("deliver", "--once").stdout
    took = time.time() - t
    check(out == b"sent %d, deferred 0, failed 0\n" % len(recipients), "deliver: %r" % out)
    mtimes = {}
    for eid, rcpt in env.q("SELECT id, recipient FROM envelopes"):
        mtimes[rcpt] = os.stat(os.path.join(env.outdir, "%d.eml" % eid)).st_mtime - t
    return took, mtimes


# global: 10/s with a burst of 10: 30 messages need >= 2 s
took, _ = run("rate-global", {"rate": "10"}, ["r%d@d%d.example" % (i, i) for i in range(30)])
check(1.8 <= took < 8, "30 messages at 10/s took %.2f s" % took)

# per domain: 4/s for slow.example (burst 4), with 12 more to other domains.
# The bucket starts full when `deliver` starts, so slow.example's k-th
# message (k = 0, 1, ...) is due no sooner than (k - 3) / 4 s after that
# start; each file is written no sooner. Timed from the start, not from the
# first file: a slow start (TSan, a loaded machine) delays the first ones
# and once made 12 correctly limited messages look spread over 0.80 s.
rcpts = ["s%d@slow.example" % i for i in range(12)] + ["f%d@f%d.example" % (i, i)
                                                      for i in range(12)]
took, mt = run("rate-domain", {"per_domain_rate": "4"}, rcpts)
slow = sorted(v for k, v in mt.items() if k.endswith("@slow.example"))
early = ["#%d at %.2f s, due at %.2f s" % (k, at, (k - 3) / 4)
         for k, at in enumerate(slow) if at < (k - 3) / 4 - 0.05]
check(not early, "slow.example faster than 4/s after a burst of 4: %s" % "; ".join(early))
check(took < 8, "took %.2f s" % took)
print("ok")
