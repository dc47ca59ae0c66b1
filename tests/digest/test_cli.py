"""`mailer digest` from the command line: the scheduler step (`tick`) under
a fixed clock (due once, skipped week, no repeat), exit codes scripts rely
on, `ls` and `status`, `preview -o` (a parseable message, database
unchanged), and the progress bar: drawn on a terminal, absent otherwise.
"""
import os
import pty
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digestlib import (NOW_2022, SITE, Env, check, digest_id_of, parse)  # noqa: E402
from mailertest import TIMEOUT_SCALE  # noqa: E402

WEEK = 7 * 86400


def snapshot(env):
    return env.q("SELECT (SELECT count(*) FROM digests), (SELECT count(*) FROM sends), "
                 "(SELECT count(*) FROM envelopes), "
                 "(SELECT count(*) FROM media WHERE b64 IS NOT NULL)")[0]


def main():
    env = Env("cli", delivery={"rate": "150"})
    env.add_articles()
    created = NOW_2022 - 14 * 86400
    env.mailer("list", "create", "tin-tuc", "--name", "Tin tức Hà Giang", "--optin", "single",
               now=created)
    # a new list has no weekly digest: the scheduler leaves it alone until an editor asks
    out = env.mailer("digest", "tick", now=NOW_2022).stdout.decode()
    check(out == "created 0\n", "tick on a new list: %r" % out)
    env.mailer("list", "set", "tin-tuc", "--digest-enabled", "yes", now=created)
    env.mailer("sub", "add", "an@example.com", "--list", "tin-tuc", "--name", "Nguyễn Văn An",
               "--confirmed", now=created)

    # the scheduler: Monday 07:00 has passed at NOW_2022 (08:00): one digest, once
    out = env.mailer("digest", "tick", now=NOW_2022).stdout.decode()
    check(out == "created 1\n", "first tick: %r" % out)
    out = env.mailer("digest", "tick", now=NOW_2022 + 60).stdout.decode()
    check(out == "created 0\n", "second tick: %r" % out)
    out = env.mailer("digest", "tick", now=NOW_2022 + WEEK).stdout.decode()
    check(out == "created 1\n", "next week: %r" % out)  # recorded as skipped
    out = env.mailer("digest", "tick", now=NOW_2022 + WEEK + 3600).stdout.decode()
    check(out == "created 0\n", "skipped week retried: %r" % out)
    rows = [line.split("\t") for line in
            env.mailer("digest", "ls").stdout.decode().splitlines()]
    check([(r[2], r[3], r[4]) for r in rows] == [("2022-W02", "skipped", "0"),
                                                 ("2022-W01", "active", "1")],
          "digest ls: %r" % rows)
    first = int(rows[1][0])
    st = env.status(first)
    check(st["period"] == "2022-W01" and st["articles"] == 1 and st["queued"] == 1 and
          st["recipients"] == 1 and st["since"] == "2021-12-27T08:00:00+07:00" and
          st["until"] == "2022-01-03T08:00:00+07:00", "status: %r" % st)

    # exit codes
    p = env.mailer("digest", "send", "--list", "tin-tuc", code=3, now=NOW_2022 + 3600)
    check(b"already has the digest of 2022-W01" in p.stderr, p.stderr)
    p = env.mailer("digest", "send", "--list", "tin-tuc", "--period", "2022-W09", code=5,
                   now=NOW_2022 + 3600)
    check(b"no new articles since" in p.stderr, p.stderr)
    # ... and says what to do: the newest article's date and --since
    check(re.search(rb"the newest is from 20\d\d-\d\d-\d\dT.*give --since DATE", p.stderr),
          "the refusal says how to reach older articles: %r" % p.stderr)
    env.mailer("digest", "send", "--list", "khong-co", code=5)
    env.mailer("digest", "send", "--list", "tin-tuc", "--period", "2022-48", code=3)
    env.mailer("digest", "send", "--list", "tin-tuc", "--since", "hôm qua", code=3)
    env.mailer("digest", "send", code=1)
    env.mailer("digest", "status", "999", code=5)
    env.mailer("digest", "status", "abc", code=1)
    env.mailer("digest", "frobnicate", code=1)
    env.mailer("digest", "pause", rows[0][0], code=3)  # skipped: nothing to pause
    check(b"preview" in env.mailer("digest", "--help").stdout, "help")

    # preview: a message on disk, nothing in the database
    before = snapshot(env)
    path = os.path.join(env.dir, "preview.eml")
    env.mailer("digest", "preview", "--list", "tin-tuc", "--to", "an@example.com",
               "--since", "2021-08-01", "-o", path, now=NOW_2022 + WEEK + 7200)
    check(snapshot(env) == before, "preview wrote to the database: %r -> %r" % (
        before, snapshot(env)))
    with open(path, "rb") as f:
        msg = parse(f.read())
    check(str(msg["Subject"]) == "Bản tin tuần 2 – " + SITE, "preview subject %r" %
          str(msg["Subject"]))
    check(msg["To"].addresses[0].display_name == "Nguyễn Văn An", "preview To %s" % msg["To"])
    html = msg.get_body(("html",)).get_content()
    check(html.count("hagiang.gov.vn") >= 6, "preview lacks the six articles")
    check(len([p for p in msg.walk() if p.get_content_maintype() == "image"]) >= 6,
          "preview lacks the photos")
    env.mailer("digest", "preview", "--list", "tin-tuc", code=5, now=NOW_2022 + WEEK + 7200)

    # progress: 300 more subscribers, a rate limit; on a terminal a bar is drawn
    env.bulk_subscribers(300)
    master, slave = pty.openpty()
    p = subprocess.Popen(env.cmd("digest", "send", "--list", "tin-tuc", "--period", "2022-W05",
                                 "--since", "2021-08-01"),
                         stdin=slave, stdout=subprocess.PIPE, stderr=slave,
                         env=env.env(NOW_2022 + 2 * WEEK))
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    p.wait(timeout=60)
    os.close(master)
    out = p.stdout.read().decode()
    p.stdout.close()
    check(p.returncode == 0, "send on a terminal exited %d: %r" % (p.returncode, tty))
    did = digest_id_of(out)
    check("sent 301, deferred 0, failed 0, cancelled 0, queued 0" in out, "summary %r" % out)
    check(b"\r" in tty and b"/s ETA" in tty and b"sent " in tty, "no progress bar: %r" % tty[-300:])
    check(env.status(did)["sent"] == 301, "sent")

    # not a terminal: no bar, the same summary
    p = env.mailer("digest", "send", "--list", "tin-tuc", "--period", "2022-W06", "--since",
                   "2021-08-01", now=NOW_2022 + 2 * WEEK)
    check(b"\r" not in p.stderr and b"ETA" not in p.stderr, "progress without a terminal")
    check(b"sent 301, deferred 0" in p.stdout, p.stdout)

    # the end of the delivery ends the command, not the next redraw: with the bar redrawn
    # every ten minutes, the send still returns as soon as its 301 are delivered (the old
    # poll slept out its period first: up to 250 ms on every send)
    e = env.env(NOW_2022 + 2 * WEEK)
    e["MAILER_PROGRESS_MS"] = "600000"
    try:
        p = subprocess.run(env.cmd("digest", "send", "--list", "tin-tuc", "--period", "2022-W07",
                                   "--since", "2021-08-01"), env=e, capture_output=True,
                           timeout=60 * TIMEOUT_SCALE)
    except subprocess.TimeoutExpired:
        check(False, "digest send waited for its next redraw after its delivery had ended")
    check(p.returncode == 0 and b"sent 301, deferred 0" in p.stdout, (p.stdout, p.stderr))
    print("ok")


if __name__ == "__main__":
    main()
