"""Postfix's pipe transport configured exactly as docs/bounces.md says: the
master.cf and transport lines are read from the document (only the paths of
the binary and the configuration and the pipe's user are replaced), so the
document cannot drift from what works. A real Postfix (tests/bounce/
postfix.py) delivers a digest, produces its own DSNs and pipes them into
`mailer bounce ingest`; the reader's mails go in through its SMTP port:

  - the DSNs of an unknown user and a full mailbox reach mailer-bounce: the
    first suppresses, the second is counted soft;
  - a reader mails the List-Unsubscribe mailto of the digest that reached
    their mailbox: mailer-unsub ends that subscription, nothing else; the
    same mail again changes nothing; a forged token changes nothing;
  - a feedback-loop report (ARF) carrying the delivered message reaches
    mailer-fbl while the database is locked: `bounce ingest` exits 75,
    Postfix defers it and delivers it again once the lock is gone: the
    complaint is recorded once, nothing is lost."""
import email
import email.policy
import mailbox
import os
import pwd
import re
import smtplib
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from blib import NOW, SECRET, Env  # noqa: E402,F401
from mailertest import MAILER, SRC, Checks, wait_for  # noqa: E402
from postfix import Postfix  # noqa: E402

BDOM = "bounces.hagiang.example"
OK, READER, OTHER, UNKNOWN, FULL = ("ok@example.test", "reader@example.test", "other@example.test",
                                    "unknown1@example.test", "full@example.test")


def doc_block(doc, title):
    """The code block that follows `title` in docs/bounces.md."""
    m = re.search(re.escape(title) + r".*?\n\n```\n(.*?)```", doc, re.S)
    if not m:
        raise SystemExit("docs/bounces.md has no block after %r" % title)
    return m.group(1)


def delivered(pf, user):
    """The messages virtual(8) delivered to user@example.test, as bytes."""
    box = mailbox.mbox(os.path.join(pf.vmail, user))
    return [box.get_bytes(k) for k in box.keys()]


def parsed(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def send(pf, sender, rcpt, data):
    with smtplib.SMTP("127.0.0.1", pf.port, timeout=30) as s:
        s.sendmail(sender, [rcpt], data.encode() if isinstance(data, str) else data)


def main():
    c = Checks()
    with open(os.path.join(SRC, "docs", "bounces.md"), encoding="utf-8") as f:
        doc = f.read()
    master = doc_block(doc, "`/etc/postfix/master.cf`:")
    transport = doc_block(doc, "`/etc/postfix/transport`")
    main_cf = doc_block(doc, "`/etc/postfix/main.cf`:")
    for s in ("/usr/local/bin/mailer", "/etc/mailer/mailer.ini", "user=mailer", "--role complaints",
              "--role unsubscribe", "--role bounces"):
        c.check(s in master, "the documented master.cf has %r" % s)
    c.check("relay_domains = " + BDOM in main_cf and "recipient_delimiter = +" in main_cf,
            "the documented main.cf lines")

    env = Env("pipe", transport=None, extra=[])
    # the documented [mail] keys
    with open(env.config, encoding="utf-8") as f:
        ini = f.read()
    ini = ini.replace("[mail]\n", "[mail]\nbounce_domain = %s\nunsubscribe_mailto = unsubscribe@%s\n"
                      % (BDOM, BDOM), 1)
    # the pipe runs as nobody: it reads the configuration and writes the
    # database and its folder
    nobody = pwd.getpwnam("nobody")
    master = (master.replace("/usr/local/bin/mailer", MAILER)
              .replace("/etc/mailer/mailer.ini", env.config).replace("user=mailer", "user=nobody"))
    tdir = os.path.join(os.path.dirname(env.dir), "postfix-pipe", "conf", "transport")
    main_extra = "\n".join(l for l in main_cf.splitlines() if not l.startswith("transport_maps")) + "\n"
    main_extra += "transport_maps = texthash:%s\n" % tdir
    # DSNs stay queued when the pipe says EX_TEMPFAIL; the pipe gets the test clock and sanitizer options
    main_extra += ("maximal_queue_lifetime = 1h\nbounce_queue_lifetime = 1h\n"
                   "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C MAILER_FAKE_NOW=%d "
                   "ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1\n"
                   "export_environment = TZ MAIL_CONFIG LANG MAILER_FAKE_NOW ASAN_OPTIONS UBSAN_OPTIONS\n"
                   % NOW)
    for root, dirs, files in os.walk(env.dir):
        for x in [root] + [os.path.join(root, y) for y in files]:
            os.chown(x, nobody.pw_uid, nobody.pw_gid)
    home = os.path.join(env.dir, "home", "Maildir")
    with Postfix("pipe", maildir=home, users=("reader", "other"), main_extra=main_extra,
                 master_extra="\n" + master, transport_extra=transport) as pf:
        ini = re.sub(r"transport = dir:\S+", "transport = smtp://127.0.0.1:%d" % pf.port, ini)
        with open(env.config, "w", encoding="utf-8") as f:
            f.write(ini)
        # the pipe may record a DSN (and fail its envelope) before digest() looks
        sent = env.digest([OK, READER, OTHER, UNKNOWN, FULL], states=("sent", "failed"))
        pf.wait_idle()
        wait_for(lambda: env.q("SELECT count(*) FROM bounces")[0][0] >= 2, 60,
                 "Postfix's two DSNs through mailer-bounce", lambda: pf.log()[-3000:])
        log = pf.log()
        c.check(log.count("status=sent (delivered via mailer-bounce service") == 2,
                "both DSNs delivered by the pipe: %s" % "\n".join(l for l in log.splitlines() if "mailer-" in l))
        rows = dict((a, (cl, act, by)) for a, cl, act, by in env.q(
            "SELECT r.address, r.class, r.action, r.attributed_by FROM bounce_recipients r"))
        c.check(rows.get(UNKNOWN) == ("hard", "suppressed", "verp") and
                rows.get(FULL) == ("soft", "counted", "verp"), "the pipe's DSNs: %r" % rows)
        c.check(env.suppressed(UNKNOWN) == "hard_bounce" and env.suppressed(FULL) is None,
                "only the unknown user suppressed")
        c.check(env.q("SELECT DISTINCT role FROM bounces") == [("bounces",)], "recorded with the role bounces")
        c.check(env.envelope(sent[UNKNOWN])[0] == "failed", "the envelope records the bounce")

        # ---- the reader mails List-Unsubscribe's mailto
        got = delivered(pf, "reader")
        c.check(len(got) == 1, "the digest reached the reader")
        lu = str(parsed(got[0])["List-Unsubscribe"])
        m = re.search(r"<mailto:(unsubscribe\+[^?>]+@" + re.escape(BDOM) + r")\?subject=([^>]*)>", lu)
        c.check(m is not None, "List-Unsubscribe has the signed mailto: %r" % lu)
        addr = m.group(1)
        mail = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <u1@example.test>\r\n\r\nunsubscribe\r\n"
                % (READER, addr, m.group(2)))
        n_eff = env.q("SELECT count(*) FROM bounce_effects")[0][0]
        send(pf, READER, addr, mail)
        wait_for(lambda: env.subscription(READER) == "unsubscribed", 60, "mailer-unsub to end the subscription",
                 lambda: pf.log()[-3000:])
        c.check(env.subscription(OTHER) == "confirmed" and env.suppressed(READER) is None,
                "that subscription only, no suppression")
        c.check(env.q("SELECT role, state FROM bounces ORDER BY id DESC LIMIT 1") == [("unsubscribe", "processed")],
                "recorded as an unsubscribe")
        n_eff2 = env.q("SELECT count(*) FROM bounce_effects")[0][0]
        c.check(n_eff2 == n_eff + 1, "one effect: %d -> %d" % (n_eff, n_eff2))
        n = env.q("SELECT count(*) FROM bounces")[0][0]
        send(pf, READER, addr, mail)  # again: Postfix adds its own Received line, the bytes differ
        wait_for(lambda: env.q("SELECT count(*) FROM bounces")[0][0] == n + 1, 60, "the second unsubscribe")
        c.check(env.q("SELECT count(*) FROM bounce_effects")[0][0] == n_eff2 and
                env.subscription(READER) == "unsubscribed", "the same unsubscribe again changes nothing")
        # a forged token: other's ids with a wrong MAC
        sid, lid = env.ids(OTHER)
        forged = "unsubscribe+%d.%d.%s@%s" % (sid, lid, "0" * 20, BDOM)
        send(pf, OTHER, forged, "From: %s\r\nTo: %s\r\nSubject: unsubscribe\r\n\r\nx\r\n" % (OTHER, forged))
        wait_for(lambda: env.q("SELECT count(*) FROM bounces")[0][0] == n + 2, 60, "the forged unsubscribe")
        c.check(env.subscription(OTHER) == "confirmed" and
                env.q("SELECT state FROM bounces ORDER BY id DESC LIMIT 1") == [("refused",)],
                "a forged mailto token is refused and changes nothing")

        # ---- a complaint while the database is locked: deferred, then delivered
        copy = delivered(pf, "ok")
        c.check(len(copy) == 1 and str(parsed(copy[0])["Return-Path"]).startswith("<bounces+"),
                "the digest reached ok, with our VERP return path")
        arf = "\r\n".join([
            "From: fbl@isp.example", "To: complaints@" + BDOM, "Subject: FW: complaint",
            "Message-ID: <fbl-1@isp.example>", "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=feedback-report; boundary=\"fbl\"", "",
            "--fbl", "Content-Type: text/plain", "", "This is an email abuse report.", "",
            "--fbl", "Content-Type: message/feedback-report", "",
            "Feedback-Type: abuse", "User-Agent: ISP-FBL/2.0", "Version: 1",
            "Original-Rcpt-To: <%s>" % OK, "Arrival-Date: Mon, 03 Jan 2022 09:00:00 +0700", "",
            "--fbl", "Content-Type: message/rfc822", "", ""])
        arf = arf.encode() + copy[0].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n--fbl--\r\n"
        lock = sqlite3.connect(env.db_path, timeout=10, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            send(pf, "fbl@isp.example", "complaints@" + BDOM, arf)
            wait_for(lambda: re.search(r"relay=mailer-fbl.*status=deferred", pf.log()), 60,
                     "mailer-fbl to defer while the database is locked", lambda: pf.log()[-3000:])
            c.check(env.suppressed(OK) is None, "nothing recorded while locked")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_for(lambda: env.suppressed(OK) == "complaint", 60, "Postfix to deliver the complaint again",
                 lambda: pf.log()[-3000:])
        wait_for(lambda: re.search(r"relay=mailer-fbl.*status=sent", pf.log()), 30, "Postfix to log the delivery")
        c.check(env.subscription(OK) == "unsubscribed", "the complainer left the list")
        c.check(env.q("SELECT count(*) FROM bounces WHERE role = 'complaints'")[0][0] == 1,
                "the complaint recorded once")
        r = env.q("SELECT r.class, r.reason, r.attributed_by FROM bounce_recipients r JOIN bounces b ON "
                  "b.id = r.bounce_id WHERE b.role = 'complaints'")
        c.check(r == [("complaint", "abuse", "verp")], "complaint attributed by the returned Return-Path: %r" % r)
        pf.wait_idle()
    if c.failures:
        sys.exit(1)
    print("ok")


main()
