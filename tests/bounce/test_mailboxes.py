"""Bounce mailboxes on a real Dovecot (tests/bounce/dovecot.py: unprivileged,
random loopback ports, passwd-file user, the test CA's certificate):

  - IMAPS and IMAP+STARTTLS: `bounce poll` records each message and moves it
    to Processed or Unparsed (hostile mail) after the commit, by the
    mailbox's role (bounces, complaints: ARF, unsubscribe: a mail to the
    signed List-Unsubscribe mailto); AUTHENTICATE
    PLAIN when offered (a non-ASCII password), the LOGIN command with
    auth = login;
  - the certificate is verified by us: a certificate of the trusted CA for
    another name, and a self-signed one, are refused before any login, and
    the mailbox keeps its messages; a plain-text server when tls = required
    is refused too;
  - POP3S with leave_on_server: read once (UIDL remembered), a new message
    next time; POP3+STLS with delete: DELE after the commit;
  - `mailer serve`: the IMAP mailbox idles (IDLE) and a message appended
    is recorded within seconds although poll_interval is an hour; with
    idle = false it logs in anew every poll_interval instead; /healthz
    shows the mailbox's last successful poll, /metrics the counters by
    class and mailbox, /api/bounces lists, shows and undoes."""
import http.client
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from blib import DOMAIN, Env, arf, dsn, mailto_token  # noqa: E402
from dovecot import Dovecot  # noqa: E402
from hostile import hostile_messages  # noqa: E402
from mailertest import Checks, free_port, wait_for  # noqa: E402


def bounces(env):
    return env.q("SELECT count(*) FROM bounces")[0][0]


def stop(proc):
    """Stops `mailer serve` with SIGTERM: (its exit code, -1 if it had to be
    killed; its stderr)."""
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=30)
    except Exception:
        proc.kill()
        rc = -1
    err = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    return rc, err


def main():
    c = Checks()
    with Dovecot("mailboxes") as dv:
        boxes = {"imaps": dv.mailbox("imaps"),
                 "starttls": dv.mailbox("imap", role="complaints"),
                 "unsub": dv.mailbox("imaps", role="unsubscribe"),
                 "pop3s": dv.mailbox("pop3s"),
                 "stls": dv.mailbox("pop3", delete="true"),
                 "wrongname": dv.mailbox("imaps", host="127.0.0.2"),
                 "selfsigned": dv.mailbox("imaps", host="127.0.0.3"),
                 "plainpop": dv.mailbox("pop3s", host="127.0.0.3")}
        env = Env("mailboxes", mailboxes=boxes, smtp={"ca_file": dv.ca})
        sent = env.digest(["an@example.com", "binh@example.com", "chi@example.com", "dung@example.com"])

        # ---- certificates refused: nothing read, nothing logged in
        dv.append(dsn(sent["an@example.com"], "an@example.com", "5.1.1", "550 5.1.1 user unknown"))
        logins = dv.logins()
        for name, why in (("wrongname", "certificate not accepted"), ("selfsigned", "certificate not accepted"),
                          ("plainpop", "certificate not accepted")):
            p = env.mailer("bounce", "poll", "--mailbox", name, code=None)
            c.check(p.returncode != 0 and why in p.stderr.decode(), "%s refused: %r" % (name, p.stderr[-400:]))
        c.check(dv.logins() == logins, "no login happened over a refused certificate")
        c.check(len(dv.messages("INBOX")) == 1 and bounces(env) == 0, "refused certificates read nothing")
        health = env.q("SELECT name, last_ok_at IS NULL, last_error FROM bounce_mailboxes ORDER BY name")
        c.check(all(r[1] == 1 and "certificate" in r[2] for r in health) and len(health) == 3,
                "failed polls recorded: %r" % health)

        # ---- IMAPS: one DSN and hostile mail
        hostile = [h for h in hostile_messages() if h[0] in ("boundary-quote", "invalid-utf8", "two-hundred-levels")]
        for _, data, _ in hostile:
            dv.append(data)
        out = env.mailer("bounce", "poll", "--mailbox", "imaps").stdout.decode()
        c.check("4 messages: 1 processed, 3 unparsed" in out, "imaps poll: %r" % out)
        c.check(dv.messages("INBOX") == [], "INBOX emptied")
        c.check(len(dv.messages("Processed")) == 1 and len(dv.messages("Unparsed")) == 3,
                "moved to Processed / Unparsed")
        c.check(env.suppressed("an@example.com") == "hard_bounce", "IMAP DSN applied")
        with open(os.path.join(dv.dir, "dovecot.log")) as f:
            c.check("method=PLAIN" in f.read(), "AUTHENTICATE PLAIN used when offered")

        # ---- IMAP + STARTTLS (complaints role)
        dv.append(arf("binh@example.com"))
        out = env.mailer("bounce", "poll", "--mailbox", "starttls").stdout.decode()
        c.check("1 messages: 1 processed" in out and env.suppressed("binh@example.com") == "complaint",
                "STARTTLS mailbox: %r" % out)
        c.check(env.q("SELECT mailbox, role FROM bounces ORDER BY id DESC LIMIT 1") == [("starttls", "complaints")],
                "recorded with its mailbox and role")

        # ---- an unsubscribe mailbox: a reader's mail to the List-Unsubscribe mailto
        sid, lid = env.ids("dung@example.com")
        to = "unsubscribe+%s@%s" % (mailto_token(sid, lid), DOMAIN)
        dv.append("From: dung@example.com\r\nTo: <%s>\r\nSubject: unsubscribe\r\n"
                  "Message-ID: <u-1@example.com>\r\n\r\nunsubscribe\r\n" % to)
        out = env.mailer("bounce", "poll", "--mailbox", "unsub").stdout.decode()
        c.check("1 messages: 1 processed" in out and env.subscription("dung@example.com") == "unsubscribed" and
                env.suppressed("dung@example.com") is None, "unsubscribe mailbox: %r" % out)
        c.check(env.q("SELECT mailbox, role, kind FROM bounces ORDER BY id DESC LIMIT 1") ==
                [("unsub", "unsubscribe", "unsubscribe")], "recorded with its mailbox and role")

        # ---- POP3S, leave_on_server: read once
        dv.append(dsn(sent["chi@example.com"], "chi@example.com", "4.2.2", "452 4.2.2 full"))
        dv.append(dsn(sent["chi@example.com"], "chi@example.com", "4.2.2", "452 4.2.2 still full"))
        n0 = bounces(env)
        out = env.mailer("bounce", "poll", "--mailbox", "pop3s").stdout.decode()
        c.check("2 messages: 2 processed" in out and bounces(env) == n0 + 2, "pop3s first poll: %r" % out)
        out = env.mailer("bounce", "poll", "--mailbox", "pop3s").stdout.decode()
        c.check("0 messages" in out, "pop3s second poll reads nothing (UIDL): %r" % out)
        c.check(len(dv.messages("INBOX")) == 2, "left on the server")
        dv.append(dsn(sent["dung@example.com"], "dung@example.com", "5.1.1", "550 5.1.1 no such user"))
        out = env.mailer("bounce", "poll", "--mailbox", "pop3s").stdout.decode()
        c.check("1 messages: 1 processed" in out, "pop3s: the new one only: %r" % out)
        c.check(env.q("SELECT count(*) FROM bounce_pop3_seen WHERE mailbox = 'pop3s'")[0][0] == 3, "3 UIDLs")

        # ---- POP3 + STLS with delete: the same three messages are seen before, then deleted
        out = env.mailer("bounce", "poll", "--mailbox", "stls").stdout.decode()
        c.check("3 messages" in out and "3 seen before" in out, "stls: %r" % out)
        c.check(dv.messages("INBOX") == [], "DELE after the commit")

        # ---- the LOGIN command (auth = login)
    with Dovecot("mailboxes-login", password="login-pw-42") as dv2:
        env2 = Env("mailboxes-login", mailboxes={"m": dv2.mailbox("imaps", auth="login")},
                   smtp={"ca_file": dv2.ca})
        dv2.append("From: x@y.example\r\nTo: bounces@%s\r\nSubject: Automatic reply: hi\r\n"
                   "Auto-Submitted: auto-replied\r\n\r\naway\r\n" % DOMAIN)
        out = env2.mailer("bounce", "poll").stdout.decode()
        c.check("1 messages: 1 processed" in out, "LOGIN server: %r" % out)
        # plain text refused when tls = required: an imap:// server without STARTTLS
    with Dovecot("mailboxes-nossl", extra_conf="ssl = no") as dv3:
        env3 = Env("mailboxes-nossl", mailboxes={"m": dv3.mailbox("imap")}, smtp={"ca_file": dv3.ca})
        p = env3.mailer("bounce", "poll", code=None)
        c.check(p.returncode != 0 and "offers no STARTTLS" in p.stderr.decode(),
                "no STARTTLS, tls = required: refused (%r)" % p.stderr[-300:])

    # ---- serve: IDLE, /healthz, /metrics, /api/bounces
    with Dovecot("mailboxes-serve") as dv:
        port = free_port()
        env = Env("mailboxes-serve", mailboxes={"idle": dv.mailbox("imaps")}, smtp={"ca_file": dv.ca},
                  bounce={"poll_interval": "1h"}, extra=[("http", {"listen": "127.0.0.1:%d" % port})])
        sent = env.digest(["em@example.com", "giang@example.com"])
        token = env.mailer("token", "create", "bounces-test").stdout.decode().split()[-1]
        proc = env.spawn("serve")
        try:
            def get(path):
                h = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                h.request("GET", path, headers={"Authorization": "Bearer " + token})
                r = h.getresponse()
                return r.status, r.read()
            wait_for(lambda: env.q("SELECT last_ok_at FROM bounce_mailboxes WHERE name = 'idle'") and
                     env.q("SELECT last_ok_at FROM bounce_mailboxes WHERE name = 'idle'")[0][0], 30,
                     "the first drain")
            time.sleep(1)  # the poller is idling now
            t0 = time.time()
            dv.append(dsn(sent["em@example.com"], "em@example.com", "5.1.1", "550 5.1.1 user unknown"))
            wait_for(lambda: env.suppressed("em@example.com"), 30, "IDLE to bring the DSN")
            c.check(time.time() - t0 < 30, "recorded through IDLE, poll_interval being an hour")
            st, body = get("/healthz")
            h = json.loads(body)
            mb = h.get("bounce_mailboxes") or [{}]
            c.check(st == 200 and h.get("bounces") == "running" and mb[0].get("name") == "idle" and
                    mb[0].get("last_ok_at"), "healthz: %r" % h)
            st, body = get("/metrics")
            text = body.decode()
            c.check('mailer_bounce_recipients_total{mailbox="idle",class="hard",attributed="yes"} 1' in text and
                    'mailer_bounce_messages_total{mailbox="idle",state="processed"} 1' in text,
                    "metrics: %s" % "\n".join(l for l in text.splitlines() if "bounce" in l))
            st, body = get("/api/bounces")
            lst = json.loads(body)
            c.check(st == 200 and len(lst["bounces"]) == 1 and lst["next_before"] is None, "api list: %r" % lst)
            bid = lst["bounces"][0]["id"]
            st, body = get("/api/bounces/%d?raw=1" % bid)
            one = json.loads(body)
            c.check(st == 200 and one["recipients"][0]["attributed_by"] == "verp" and "5.1.1" in one["raw"],
                    "api show: %r" % str(one)[:300])
            hc = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            hc.request("POST", "/api/bounces/%d/undo" % bid, headers={"Authorization": "Bearer " + token})
            r = hc.getresponse()
            res = json.loads(r.read())
            c.check(r.status == 200 and res == {"id": bid, "lifted": 2}, "api undo: %r" % res)
            c.check(env.suppressed("em@example.com") is None, "api undo lifted the suppression")
            st, _ = get("/api/bounces/99999")
            c.check(st == 404, "unknown bounce: 404")
        finally:
            rc, err = stop(proc)
        c.check(rc == 0, "serve stops cleanly: %d\n%s" % (rc, err[-2000:]))
    # ---- serve, idle = false: a new session every poll_interval
    with Dovecot("mailboxes-poll") as dv:
        port = free_port()
        env = Env("mailboxes-poll", mailboxes={"polled": dv.mailbox("imaps", idle="false")},
                  smtp={"ca_file": dv.ca}, bounce={"poll_interval": "5s"},
                  extra=[("http", {"listen": "127.0.0.1:%d" % port})])
        sent = env.digest(["hai@example.com"])
        logins = dv.logins()
        proc = env.spawn("serve")
        try:
            wait_for(lambda: dv.logins() >= logins + 2, 60, "two polls, one poll_interval apart")
            dv.append(dsn(sent["hai@example.com"], "hai@example.com", "5.1.1", "550 5.1.1 user unknown"))
            wait_for(lambda: env.suppressed("hai@example.com"), 60, "a later poll to bring the DSN")
            c.check(dv.messages("INBOX") == [] and len(dv.messages("Processed")) == 1,
                    "polled, recorded, moved to Processed")
        finally:
            rc, err = stop(proc)
        c.check(rc == 0, "serve stops cleanly: %d\n%s" % (rc, err[-2000:]))
    if c.failures:
        sys.exit(1)
    print("ok")


main()
