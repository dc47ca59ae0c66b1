#!/usr/bin/python3
"""`mailer share` + `mailer deliver --once` with the default dir transport.

The share is refused exactly as the web form refuses it (exit codes), an
accepted one becomes one .eml per recipient with the envelope's fixed
Message-ID, the outbox ends all sent and the send done, and `queue`
status/ls/cancel/retry report and change the right rows.
"""
import email
import email.policy
import os
import re

from dlib import ARTICLE, DOMAIN, SECRET, Env, check  # noqa: E402
from mailertest import message_id  # noqa: E402

env = Env("dir")
env.add_article()

# refusals: usage 1, bad data 3, not found 5; nothing written
env.mailer("share", ARTICLE, code=1)
env.mailer("share", ARTICLE, *sum([["--to", "r%d@example.com" % i] for i in range(6)], []),
           code=3)
env.mailer("share", ARTICLE, "--to", "a@example.com", "--from-name", "xem www.spam.example",
           code=3)
env.mailer("share", ARTICLE, "--to", "a@example.com", "--note", "x" * 501, code=3)
env.mailer("share", "khong-co-bai-nay", "--to", "a@example.com", code=5)
check(env.q("SELECT count(*) FROM sends")[0][0] == 0, "a refused share wrote a send")

out = env.mailer("share", ARTICLE, "--to", "an@example.com", "--to", "Binh@Example.COM",
                 "--to", "binh@example.com", "--from-name", "Trần Thị Hoa",
                 "--from-email", "hoa@example.org", "--note", "Bài hay,\nđọc nhé!").stdout
m = re.match(rb"send (\d+): 2 envelopes queued\n$", out)
check(m, "share output: %r" % out)
send_id = int(m.group(1))
st = env.counts()
check(st["queued"] == 2 and st["sent"] == 0, "status before delivery: %r" % st)

out = env.mailer("deliver", "--once").stdout
check(out == b"sent 2, deferred 0, failed 0\n", "deliver output: %r" % out)
files = sorted(os.listdir(env.outdir))
rows = env.q("SELECT id, recipient, state, last_code FROM envelopes ORDER BY id")
check(len(rows) == 2 and all(r[2] == "sent" and r[3] == 250 for r in rows),
      "envelopes: %r" % rows)
check(len([f for f in files if f.endswith(".eml")]) == 2, "files: %r" % files)
for eid, rcpt, _, _ in rows:
    path = os.path.join(env.outdir, "%d.eml" % eid)
    with open(path, "rb") as f:
        raw = f.read()
    check(b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), "not CRLF: " + path)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    check(msg["To"] == rcpt, "To %r for %s" % (msg["To"], rcpt))
    salt = env.q("SELECT s.salt FROM sends s JOIN envelopes e ON e.send_id = s.id "
                 "WHERE e.id = ?", eid)[0][0]
    check(msg["Message-ID"] == "<%s>" % message_id(SECRET, salt, eid, DOMAIN),
          "Message-ID %r" % msg["Message-ID"])
    check(str(msg["Reply-To"]) == "Trần Thị Hoa <hoa@example.org>", "Reply-To %r" % msg["Reply-To"])
    text = msg.get_body(("plain",)).get_content()
    check("đọc nhé!" in text, "the note is not in the text part")
check(env.q("SELECT status FROM sends WHERE id=?", send_id)[0][0] == "done", "send not done")
st = env.counts(send_id)
check(st == {"queued": 0, "sending": 0, "sent": 2, "deferred": 0, "failed": 0, "cancelled": 0},
      "status after: %r" % st)

# nothing due: a second run sends nothing and writes nothing
out = env.mailer("deliver", "--once").stdout
check(out == b"sent 0, deferred 0, failed 0\n", "second deliver: %r" % out)
check(sorted(os.listdir(env.outdir)) == files, "second deliver wrote files")

# queue ls, cancel and retry
ls = env.mailer("queue", "ls", "--state", "sent").stdout.decode().splitlines()
check(len(ls) == 3 and ls[0].startswith("id\tsend\tstate"), "queue ls: %r" % ls)
check(ls[1].split("\t")[2] == "sent" and ls[1].split("\t")[4] == "250", "queue ls row: " + ls[1])
env.mailer("queue", "ls", "--state", "bogus", code=1)
env.mailer("queue", "cancel", send_id, code=3)  # already done
out = env.mailer("share", ARTICLE, "--to", "c@example.com").stdout
second = int(re.match(rb"send (\d+)", out).group(1))
out = env.mailer("queue", "cancel", second).stdout
check(b"1 envelope will not be sent" in out, "cancel: %r" % out)
check(env.counts(second)["cancelled"] == 1, "not cancelled")
env.mailer("queue", "cancel", 9999, code=5)
env.mailer("queue", "retry", rows[0][0], code=3)  # sent: not retryable
env.mailer("queue", "retry", 9999, code=5)
out = env.mailer("queue", "retry", "--all-deferred").stdout
check(out == b"0 deferred envelopes due now\n", "retry --all-deferred: %r" % out)
for args in (["queue"], ["queue", "bogus"], ["deliver", "--bogus"], ["share", "--to"]):
    env.mailer(*args, code=1)
for args in (["share", "--help"], ["deliver", "--help"], ["queue", "--help"],
             ["queue", "ls", "--help"], ["queue", "status", "--help"]):
    check(b"usage: mailer" in env.mailer(*args).stdout, "no help for %r" % args)
print("ok")
