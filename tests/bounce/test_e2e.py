"""End to end, with real servers only: a digest goes out through a real
Postfix (tests/bounce/postfix.py), which accepts every recipient and then
produces its own DSNs (an unknown user twice, a full mailbox, an
unreachable domain) into a real Dovecot's mailbox (tests/bounce/dovecot.py);
`mailer bounce poll` reads them over IMAPS:

  - exactly the two unknown users are suppressed (the full mailbox and the
    unreachable domain are soft: counted), the envelopes record the
    bounces, every DSN moves to Processed;
  - the next digest skips the two; `bounce undo` restores one, and the digest
    after that mails it again;
  - a poll killed with SIGKILL halfway through 60 messages, run again, loses
    nothing and counts nothing twice (each message once in the database and
    once in Processed, none left in INBOX);
  - a DSN with a forged VERP token changes nothing."""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from blib import NOW, Env, dsn, verp_token  # noqa: E402
from dovecot import Dovecot  # noqa: E402
from mailertest import Checks, wait_for  # noqa: E402
from postfix import Postfix  # noqa: E402

OK, U1, U2, FULL, FAR = ("ok@example.test", "unknown1@example.test", "unknown2@example.test",
                         "full@example.test", "someone@unreachable.test")
WEEK = 7 * 86400


def main():
    c = Checks()
    with Dovecot("e2e") as dv, Postfix("e2e", maildir=dv.maildir()) as pf:
        env = Env("e2e", transport="smtp://127.0.0.1:%d" % pf.port,
                  smtp={"tls": "none", "ca_file": dv.ca},
                  mailboxes={"imap": dv.mailbox("imaps")})
        sent = env.digest([OK, U1, U2, FULL, FAR])
        pf.wait_idle()
        wait_for(lambda: len(dv.messages("INBOX")) >= 4, 60, "Postfix's four DSNs in Dovecot",
                 lambda: pf.log()[-3000:])
        c.check(len(dv.messages("INBOX")) == 4, "four DSNs, one per failed envelope")
        out = env.mailer("bounce", "poll").stdout.decode()
        c.check("4 messages: 4 processed" in out, "poll: %r" % out)
        supp = sorted(r[0] for r in env.q("SELECT email_key FROM suppressions"))
        c.check(supp == [U1, U2], "exactly the two unknown users suppressed: %r" % supp)
        rows = dict((a, (cl, act)) for a, cl, act in env.q(
            "SELECT address, class, action FROM bounce_recipients"))
        c.check(rows.get(FULL) == ("soft", "counted") and rows.get(FAR) == ("soft", "counted") and
                rows.get(U1) == ("hard", "suppressed"), "classes from Postfix's DSNs: %r" % rows)
        c.check(env.envelope(sent[U1])[0] == "failed" and env.envelope(sent[OK])[0] == "sent",
                "envelopes record the bounce")
        c.check(dv.messages("INBOX") == [] and len(dv.messages("Processed")) == 4, "DSNs in Processed")
        by = set(r[0] for r in env.q("SELECT attributed_by FROM bounce_recipients"))
        c.check(by == {"verp"}, "Postfix's DSNs attributed by VERP: %r" % by)

        # the next digest skips them; undo restores one
        sent2 = env.digest([], now=NOW + WEEK)
        c.check(U1 not in sent2 and U2 not in sent2 and OK in sent2, "next digest skips: %r" % sorted(sent2))
        pf.wait_idle()
        wait_for(lambda: len(dv.messages("INBOX")) >= 2, 60, "the second digest's DSNs")
        env.mailer("bounce", "poll", now=NOW + WEEK)
        bid = env.q("SELECT bounce_id FROM bounce_recipients WHERE address = ? AND class = 'hard'", U1)[0][0]
        out = env.mailer("bounce", "undo", bid, now=NOW + WEEK).stdout.decode()
        c.check("2 changes lifted" in out and env.suppressed(U1) is None and env.suppressed(U2),
                "undo restores exactly one: %r" % out)
        sent3 = env.digest([], now=NOW + 2 * WEEK)
        c.check(U1 in sent3 and U2 not in sent3, "the digest after the undo mails it again")
        pf.wait_idle()
        wait_for(lambda: len(dv.messages("INBOX")) >= 2, 60, "the third digest's DSNs")
        env.mailer("bounce", "poll", now=NOW + 2 * WEEK)

        # SIGKILL halfway through 60 messages, then again
        n_db = env.q("SELECT count(*) FROM bounces")[0][0]
        n_done = len(dv.messages("Processed")) + len(dv.messages("Unparsed"))
        for i in range(60):
            dv.append(dsn(sent3[OK], OK, "4.4.1", "connection timed out %d" % i, action="delayed"))
        p = subprocess.Popen(env.cmd("bounce", "poll"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env.env(NOW + 2 * WEEK))
        wait_for(lambda: env.q("SELECT count(*) FROM bounces")[0][0] >= n_db + 8 or p.poll() is not None,
                 60, "the poll to get going")
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        p.stderr.close()
        mid = env.q("SELECT count(*) FROM bounces")[0][0] - n_db
        c.check(0 < mid < 60, "killed halfway: %d of 60 recorded" % mid)
        print("poll killed after %d of 60 messages" % mid)
        out = env.mailer("bounce", "poll", now=NOW + 2 * WEEK).stdout.decode()
        total = env.q("SELECT count(*) FROM bounces")[0][0] - n_db
        c.check(total == 60, "after the re-run: 60 recorded, no more, no fewer (%d): %r" % (total, out))
        c.check(env.q("SELECT count(*), count(DISTINCT sha256) FROM bounces")[0] ==
                (n_db + 60, n_db + 60), "each message once")
        done = len(dv.messages("Processed")) + len(dv.messages("Unparsed"))
        c.check(dv.messages("INBOX") == [] and done == n_done + 60,
                "each message moved once: %d -> %d" % (n_done, done))

        # a forged VERP token changes nothing
        tok = verp_token(sent3[OK])
        forged = tok[:-2] + ("00" if tok[-2:] != "00" else "11")
        before = env.q("SELECT count(*) FROM suppressions")[0][0]
        dv.append(dsn(sent3[OK], OK, "5.1.1", "550 5.1.1 user unknown", token=forged))
        env.mailer("bounce", "poll", now=NOW + 2 * WEEK)
        c.check(env.suppressed(OK) is None and env.q("SELECT count(*) FROM suppressions")[0][0] == before,
                "forged VERP: nothing changes")
        c.check(env.q("SELECT state FROM bounces ORDER BY id DESC LIMIT 1")[0][0] == "refused", "refused")
    if c.failures:
        sys.exit(1)
    print("ok")


main()
