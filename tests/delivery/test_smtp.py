#!/usr/bin/python3
"""Delivery through the real test SMTP server (tests/smtpd/smtpd.py).

    test_smtp.py CASE

share_bytes: a share delivered by `mailer deliver --once` is byte for byte
  the message `mailer compose share` writes for the same inputs at the same
  (fake) time, once the two random parts are set aside (Message-ID and MIME
  boundaries); VERP return path, DSN ENVID and NOTIFY as designed.
digest: a digest to two subscribers equals `mailer compose digest` for the
  same list (decoded parts compared, the personal unsubscribe link set
  aside), with List-Id, List-Unsubscribe (one-click) and the greeting name.
postfix_share_bytes, postfix_digest: the same two, sent through a real
  Postfix relay on loopback (postfix_relay() below), which offers
  CHUNKING, so libESMTP sends them with BDAT (RFC 3030; Postfix's log counts
  the BDAT commands) and Postfix relays them on to the test server: they
  arrive byte for byte as composed, Postfix's Received: line set aside.
two_sends_retry: one connection delivering two sends, one message refused
  with 451 after its data and retried with a third send: every Message-ID is
  its own send's and the same on both attempts.
greeting_421, rcpt_451, rcpt_550, data_552, drop_mid_data, silent_server:
  the envelope's final state, attempts, next attempt, and the SMTP code and
  text recorded; a 5.1.1 on a subscriber's address adds a hard_bounce
  suppression (not for a share's recipient); a deferred envelope past
  max_age fails.
"""
import email
import email.policy
import os
import re
import shutil
import sys

from dlib import ARTICLE, DOMAIN, SECRET, T0, Env, SmtpServer, build_dir, check, fail, verp_token
from mailertest import message_id as make_message_id, parse_message, received_by_rcpt
from private_postfix import PrivatePostfix

CASE = sys.argv[1]
STORE = os.path.join(build_dir(), "testtmp", "delivery-smtpd-" + CASE)
shutil.rmtree(STORE, ignore_errors=True)
SHARE = ["--from-name", "Trần Thị Hoa", "--from-email", "hoa@example.org",
         "--note", "Bài này viết về tỉnh mình.\nĐọc nhé!\n. (một dấu chấm)"]


def normalize(raw):
    """Sets aside what is random per message or per plan: the Message-ID, the
    MIME boundaries and the photos' Content-IDs (which may be cut by a
    quoted-printable soft line break where the HTML cites them), and the send
    id in Feedback-ID (`mailer compose` has no send: 0)."""
    raw = re.sub(rb"\r\nMessage-ID: <[^>]*>\r\n", b"\r\nMessage-ID: <X>\r\n", raw)
    raw = re.sub(rb"\r\nFeedback-ID: [0-9]+:", b"\r\nFeedback-ID: N:", raw)
    seen = []
    for b in re.findall(rb'boundary="([^"]+)"', raw) + re.findall(rb"Content-ID: <([^>]+)>",
                                                                     raw):
        if b not in seen:
            seen.append(b)
    for i, b in enumerate(seen):
        pattern = b"(?:=\r\n)?".join(re.escape(bytes([c])) for c in b)
        tag = b"RANDOM-%03d-" % i
        tag += b"x" * (len(b) - len(tag))
        raw = re.sub(pattern, lambda m: tag[:len(b)], raw)
    return raw


def env_for(srv, **delivery):
    e = Env("smtp-" + CASE, transport="smtp://127.0.0.1:%d" % srv.port, delivery=delivery)
    e.add_article()
    return e


def envelope(e, eid):
    r = e.q("SELECT state, attempts, last_code, last_text, next_attempt_at, subscriber_id "
            "FROM envelopes WHERE id=?", eid)
    check(r, "no envelope %d" % eid)
    return dict(zip(("state", "attempts", "code", "text", "next", "subscriber"), r[0]))


def expect_env(e, eid, state, code, text_re, attempts=1):
    got = envelope(e, eid)
    if got["state"] != state or got["code"] != code or got["attempts"] != attempts or \
            not re.search(text_re, got["text"] or ""):
        fail("envelope %d: %r, wanted %s %r %r attempts %d" % (eid, got, state, code, text_re,
                                                                attempts))
    # `mailer queue ls` shows the same
    for line in e.mailer("queue", "ls").stdout.decode().splitlines()[1:]:
        f = line.split("\t")
        if int(f[0]) == eid:
            check(f[2] == state and int(f[4]) == (code or 0) and f[7] == (got["text"] or ""),
                  "queue ls row %r for %r" % (f, got))
            return got
    fail("envelope %d not in queue ls" % eid)


# libESMTP switches to BDAT (RFC 3030 CHUNKING) whenever the server offers it,
# as Postfix does, and the test SMTP server (tests/smtpd, aiosmtpd) offers no
# CHUNKING: without this relay the path every Postfix smarthost takes would
# never run in the tests (issue 16 item 11). Postfix's smtpd offers CHUNKING
# (its default) and relays everything to the test SMTP server (`relayhost`),
# which stores the bytes as usual.
RELAY_MAIN_CF = """smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{port}
smtp_tls_security_level = none
smtpd_tls_security_level = none
"""


def postfix_relay(name, relay_port):
    """A private Postfix relaying all mail to 127.0.0.1:relay_port:
        with postfix_relay(CASE, srv.port) as pf: ... pf.port ..."""
    return PrivatePostfix("relay-" + name, "relay.test.example",
                          main=RELAY_MAIN_CF.format(port=relay_port))


def without_relay_trace(raw):
    """The message as the relay got it: Postfix prepends one Received: field
    (RFC 5321 §4.4) and changes nothing else."""
    m = re.match(rb"Received: [^\r]*\r\n(?:[ \t][^\r]*\r\n)*", raw)
    check(m, "no Received: line from the relay: %r" % raw[:200])
    return raw[m.end():]


def relayed(srv, pf):
    """The messages the test server got through the relay, its Received: set aside."""
    pf.wait_idle()
    got = srv.messages()
    for g in got:
        g["data"] = without_relay_trace(g["data"])
    return got


def check_bdat(pf, messages):
    """Postfix's smtpd took the mailer's messages with BDAT, none with DATA."""
    sessions = [c for c in pf.commands() if c.get("mail")]
    check(sessions, "no SMTP session in Postfix's log:\n" + pf.log()[-2000:])
    check(all(c.get("bdat", 0) >= 1 and not c.get("data") for c in sessions),
          "not sent with BDAT: %r" % sessions)
    check(sum(c["mail"] for c in sessions) == messages, "sessions: %r" % sessions)


def share_bytes(srv, port, pf=None):
    e = Env("smtp-" + CASE, transport="smtp://127.0.0.1:%d" % port)
    e.add_article()
    rcpt = "doc-gia@example.net"
    e.mailer("share", ARTICLE, "--to", rcpt, *SHARE, now=T0)
    out = e.mailer("deliver", "--once", now=T0).stdout
    check(out == b"sent 1, deferred 0, failed 0\n", "deliver: %r" % out)
    got = relayed(srv, pf) if pf else srv.messages()
    check(len(got) == 1, "server got %d messages" % len(got))
    eid = e.q("SELECT id FROM envelopes")[0][0]
    composed = e.mailer("compose", "share", ARTICLE, "--to", rcpt, *SHARE, now=T0).stdout
    a, b = normalize(got[0]["data"]), normalize(composed)
    if a != b:
        for i, (x, y) in enumerate(zip(a.split(b"\r\n"), b.split(b"\r\n"))):
            if x != y:
                fail("line %d differs:\nsent:     %r\ncomposed: %r" % (i, x, y))
        fail("lengths differ: sent %d, composed %d" % (len(a), len(b)))
    mid = re.search(rb"\r\nMessage-ID: <([0-9a-f]{32}@[^>]+)>\r\n", got[0]["data"])
    check(mid and mid.group(1).decode() == expected_message_id(e, eid)[1:-1],
          "Message-ID not derived from the envelope: %r" % (mid and mid.group(1)))
    tok = verp_token(eid)
    check(got[0]["mail_from"] == "bounces+%s@%s" % (tok, DOMAIN),
          "MAIL FROM %r, wanted VERP with %s" % (got[0]["mail_from"], tok))
    check(got[0]["mail_params"].get("ENVID") == tok, "ENVID %r" % got[0]["mail_params"])
    check(got[0]["rcpt_params"][0].get("NOTIFY") == "FAILURE,DELAY",
          "RCPT params %r" % got[0]["rcpt_params"])
    check(got[0]["rcpt_tos"] == [rcpt], "RCPT %r" % got[0]["rcpt_tos"])
    if pf:
        # Postfix's answer to the last BDAT counts the bytes it took: all of them
        got_env = expect_env(e, eid, "sent", 250, r"^2\.0\.0 Ok: \d+ bytes queued as \w+")
        n = int(re.search(r"Ok: (\d+) bytes", got_env["text"]).group(1))
        check(n == len(got[0]["data"]), "Postfix took %d bytes, relayed %d" % (n, len(got[0]["data"])))
        check_bdat(pf, 1)
    else:
        check(got[0]["rcpt_params"] == [{"NOTIFY": "FAILURE,DELAY"}],
              "RCPT params %r" % got[0]["rcpt_params"])
        expect_env(e, eid, "sent", 250, r"^2\.0\.0 Ok: queued as 000001")


def case_share_bytes():
    with SmtpServer(STORE, "--dsn") as srv:
        share_bytes(srv, srv.port)


def case_postfix_share_bytes():
    with SmtpServer(STORE, "--dsn") as srv, postfix_relay(CASE, srv.port) as pf:
        share_bytes(srv, pf.port, pf)


def parts(raw):
    """The decoded leaf parts, with the personal unsubscribe link and the
    per-plan Content-IDs replaced by placeholders."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    cids = [str(p["Content-ID"]).strip("<>") for p in leaves if p["Content-ID"]]
    out = []
    for p in leaves:
        c = p.get_content()
        if isinstance(c, str):
            c = re.sub(r"https://tin\.hagiang\.example/unsubscribe/[A-Za-z0-9_\-.=]+",
                       "UNSUB", c)
            for i, cid in enumerate(cids):
                c = c.replace(cid, "CID-%d" % i)
        cid = str(p["Content-ID"]).strip("<>") if p["Content-ID"] else None
        out.append((p.get_content_type(), cids.index(cid) if cid else None, c))
    return msg, out


def digest(srv, port, pf=None):
    e = Env("smtp-" + CASE, transport="smtp://127.0.0.1:%d" % port)
    e.add_article()
    e.add_article("tin-pccc-20211005")
    subs = [("ban-doc@example.net", "Nguyễn Văn An"), ("chi@example.org", "Lê Thị Chi")]
    e.add_digest(subs, articles=(ARTICLE, "tin-pccc-20211005"), now=T0)
    out = e.mailer("deliver", "--once", now=T0).stdout
    check(out == b"sent 2, deferred 0, failed 0\n", "deliver: %r" % out)
    got = {m["rcpt_tos"][0]: m for m in (relayed(srv, pf) if pf else srv.messages())}
    check(sorted(got) == sorted(s[0] for s in subs), "received %r" % sorted(got))
    for rcpt, name in subs:
        composed = e.mailer("compose", "digest", "--articles",
                            ARTICLE + ",tin-pccc-20211005", "--list", "tin-tuc", "--to",
                            rcpt, "--to-name", name, now=T0, code=None)
        if composed.returncode != 0:
            fail("compose digest: %s" % composed.stderr.decode())
        sent_msg, sent_parts = parts(got[rcpt]["data"])
        comp_msg, comp_parts = parts(composed.stdout)
        skip = {"message-id", "list-unsubscribe", "feedback-id"}
        check(re.fullmatch(r"[1-9][0-9]*:tin-tuc:digest:" + re.escape(DOMAIN),
                           sent_msg["Feedback-ID"] or ""),
              "Feedback-ID %r" % sent_msg["Feedback-ID"])
        def heads(m):
            return [(k, re.sub(r'boundary="[^"]*"', "", str(v))) for k, v in m.items()
                    if k.lower() not in skip]
        hs, hc = heads(sent_msg), heads(comp_msg)
        check(hs == hc, "headers differ:\n%r\n%r" % (hs, hc))
        check(len(sent_parts) == len(comp_parts) and len(sent_parts) >= 3,
              "parts: %d vs %d" % (len(sent_parts), len(comp_parts)))
        for x, y in zip(sent_parts, comp_parts):
            check(x == y, "part %s differs" % x[0])
        check(sent_msg["List-Id"] == "<tin-tuc.%s>" % DOMAIN, "List-Id %r" % sent_msg["List-Id"])
        lu = str(sent_msg["List-Unsubscribe"])
        check(re.fullmatch(r"<https://tin\.hagiang\.example/unsubscribe/[A-Za-z0-9_\-]+>, "
                           r"<mailto:unsubscribe\+\d+\.\d+\.[0-9a-f]{20}@hagiang\.example"
                           r"\?subject=unsubscribe>", lu),
              "List-Unsubscribe %r" % lu)
        check(sent_msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click",
              "no one-click")
        text = sent_msg.get_body(("plain",)).get_content()
        check(name in text, "greeting without %s" % name)
        url = lu[1:lu.index(">")]
        check(url in text.replace("\n", "") or "UNSUB" in text, "unsubscribe link")
    check(e.q("SELECT status FROM sends WHERE id=100")[0][0] == "done", "send not done")
    if pf:
        check_bdat(pf, 2)


def case_digest():
    with SmtpServer(STORE) as srv:
        digest(srv, srv.port)


def case_postfix_digest():
    with SmtpServer(STORE) as srv, postfix_relay(CASE, srv.port) as pf:
        digest(srv, pf.port, pf)




def share_one(e, rcpt):
    e.mailer("share", ARTICLE, "--to", rcpt, *SHARE, now=T0)
    return e.q("SELECT max(id) FROM envelopes")[0][0]


def deferred_next(e, eid, base):
    got = envelope(e, eid)
    check(got["next"] == T0 + base, "next attempt %r, wanted T0 + %d" % (got["next"], base))


def case_greeting_421():
    with SmtpServer(STORE, "--greeting-421") as srv:
        e = env_for(srv, retry_base="10m", max_age="1h")
        eid = share_one(e, "a@example.net")
        out = e.mailer("deliver", "--once", now=T0).stdout
        check(out == b"sent 0, deferred 1, failed 0\n", "deliver: %r" % out)
        expect_env(e, eid, "deferred", 421, r"^4\.3\.2 Service not available")
        deferred_next(e, eid, 600)
        # not due yet: nothing happens
        out = e.mailer("deliver", "--once", now=T0 + 599).stdout
        check(out == b"sent 0, deferred 0, failed 0\n", "early deliver: %r" % out)
        # second try doubles the wait
        e.mailer("deliver", "--once", now=T0 + 600)
        expect_env(e, eid, "deferred", 421, r"^4\.3\.2", attempts=2)
        check(envelope(e, eid)["next"] == T0 + 600 + 1200, "no doubling")
        # past max_age: failed with the last reply kept
        out = e.mailer("deliver", "--once", now=T0 + 3600).stdout
        check(out == b"sent 0, deferred 0, failed 1\n", "max_age deliver: %r" % out)
        expect_env(e, eid, "failed", 421, r"^4\.3\.2", attempts=3)
        check(e.q("SELECT status FROM sends")[0][0] == "done", "send not done")


def case_rcpt_451():
    with SmtpServer(STORE, "--rcpt-451", "later*@example.net") as srv:
        e = env_for(srv, retry_base="5m")
        later = share_one(e, "later@example.net")
        now_ = share_one(e, "now@example.net")
        out = e.mailer("deliver", "--once", now=T0).stdout
        check(out == b"sent 1, deferred 1, failed 0\n", "deliver: %r" % out)
        expect_env(e, later, "deferred", 451,
                   r"^4\.3\.0 <later@example\.net>: temporary failure")
        deferred_next(e, later, 300)
        expect_env(e, now_, "sent", 250, r"^2\.0\.0")
        check([m["rcpt_tos"] for m in srv.messages()] == [["now@example.net"]], "received")
        # an admin retry makes it due now
        e.mailer("queue", "retry", later, now=T0 + 10)
        check(envelope(e, later)["next"] == T0 + 10, "retry did not make it due")


def case_rcpt_550():
    with SmtpServer(STORE, "--rcpt-550", "gone*") as srv:
        e = env_for(srv)
        e.add_digest([("gone@example.net", "Người Đi"), ("here@example.net", "Người Ở")],
                     now=T0)
        shared = share_one(e, "gone-too@example.net")
        out = e.mailer("deliver", "--once", now=T0).stdout
        check(out == b"sent 1, deferred 0, failed 2\n", "deliver: %r" % out)
        gone = e.q("SELECT id FROM envelopes WHERE recipient='gone@example.net'")[0][0]
        expect_env(e, gone, "failed", 550, r"^5\.1\.1 <gone@example\.net>: user unknown")
        expect_env(e, shared, "failed", 550, r"^5\.1\.1 <gone-too@example\.net>")
        sup = e.q("SELECT email_key, reason FROM suppressions ORDER BY email_key")
        check(sup == [("gone@example.net", "hard_bounce")],
              "suppressions %r (a subscriber's 5.1.1 only)" % sup)
        # the suppressed address is dropped from the next share, silently
        out = e.mailer("share", ARTICLE, "--to", "gone@example.net", "--to", "x@example.net",
                       now=T0).stdout
        check(out.endswith(b": 1 envelope queued\n"), "share after suppression: %r" % out)


def case_data_552():
    with SmtpServer(STORE, "--data-552") as srv:
        e = env_for(srv)
        e.add_digest([("big@example.net", "An")], now=T0)
        eid = e.q("SELECT id FROM envelopes")[0][0]
        out = e.mailer("deliver", "--once", now=T0).stdout
        check(out == b"sent 0, deferred 0, failed 1\n", "deliver: %r" % out)
        expect_env(e, eid, "failed", 552, r"^5\.3\.4 Message too big")
        check(e.q("SELECT count(*) FROM suppressions")[0][0] == 0, "5.3.4 suppressed")


def case_drop_mid_data():
    with SmtpServer(STORE, "--drop-mid-data") as srv:
        e = env_for(srv, retry_base="2m")
        eid = share_one(e, "a@example.net")
        out = e.mailer("deliver", "--once", now=T0).stdout
        check(out == b"sent 0, deferred 1, failed 0\n", "deliver: %r" % out)
        expect_env(e, eid, "deferred", None, r"connection lost")
        deferred_next(e, eid, 120)
        check(srv.messages() == [], "a dropped message was stored")


def expected_message_id(e, eid):
    """RFC 5322 Message-ID of envelope eid: its id and a tag under its own
    send's salt, hidden under [mail] secret (mailer/outbox/outbox.c)."""
    salt = e.q("SELECT s.salt FROM sends s JOIN envelopes e ON e.send_id = s.id "
               "WHERE e.id = ?", eid)[0][0]
    return "<%s>" % make_message_id(SECRET, salt, eid, DOMAIN)


def message_id(m):
    return parse_message(m["data"])["Message-ID"]


def case_two_sends_retry():
    """One connection delivers two sends; the second's message is refused
    after its data (451) and retried later on a connection that then moves on
    to a third send. Each message's Message-ID is the same on every attempt
    and is its own send's (a worker re-keys when it moves to another send)."""
    with SmtpServer(STORE, "--data-451-once", "retry@example.net") as srv:
        e = env_for(srv, connections="1", batch_size="10", retry_base="5m")
        first = share_one(e, "first@example.net")
        retried = share_one(e, "retry@example.net")
        check(len({r[0] for r in e.q("SELECT send_id FROM envelopes")}) == 2, "two sends")
        out = e.mailer("deliver", "--once", now=T0).stdout
        check(out == b"sent 1, deferred 1, failed 0\n", "first run: %r" % out)
        expect_env(e, retried, "deferred", 451, r"^4\.3\.0 Temporary failure after DATA")
        refused = srv.messages("refused-")
        sent = srv.messages()
        check(len(refused) == 1 and len(sent) == 1, "first run: %d refused, %d stored"
              % (len(refused), len(sent)))
        check(sent[0]["connection"] == refused[0]["connection"],
              "the two sends went over %d connections, wanted one"
              % len({sent[0]["connection"], refused[0]["connection"]}))
        check(message_id(sent[0]) == expected_message_id(e, first),
              "first send's Message-ID %s, wanted %s" % (message_id(sent[0]),
                                                          expected_message_id(e, first)))
        check(message_id(refused[0]) == expected_message_id(e, retried),
              "second send's Message-ID on the first attempt is %s, wanted its own send's %s"
              % (message_id(refused[0]), expected_message_id(e, retried)))

        third = share_one(e, "third@example.net")
        out = e.mailer("deliver", "--once", now=T0 + 301).stdout
        check(out == b"sent 2, deferred 0, failed 0\n", "retry run: %r" % out)
        expect_env(e, retried, "sent", 250, r"^2\.0\.0", attempts=2)
        by = received_by_rcpt(srv)
        check(sorted(by) == ["first@example.net", "retry@example.net", "third@example.net"]
              and all(len(v) == 1 for v in by.values()), "received: %r" % {
                  k: len(v) for k, v in by.items()})
        check(by["retry@example.net"][0]["connection"] == by["third@example.net"][0]["connection"],
              "the retry and the third send went over different connections")
        again = message_id(by["retry@example.net"][0])
        check(again == message_id(refused[0]),
              "the retried message's Message-ID changed: %s on the first attempt, %s on the "
              "retry" % (message_id(refused[0]), again))
        check(again == expected_message_id(e, retried), "retry Message-ID %s, wanted %s"
              % (again, expected_message_id(e, retried)))
        check(message_id(by["third@example.net"][0]) == expected_message_id(e, third),
              "third send's Message-ID %s, wanted its own send's %s"
              % (message_id(by["third@example.net"][0]), expected_message_id(e, third)))
        check(len({message_id(m) for v in by.values() for m in v}) == 3,
              "Message-IDs not distinct")


def case_silent_server():
    with SmtpServer(STORE, "--silent") as srv:
        e = Env("smtp-" + CASE, transport="smtp://127.0.0.1:%d" % srv.port,
                smtp={"command_timeout_ms": "700", "connect_timeout_ms": "700"})
        e.add_article()
        eid = share_one(e, "a@example.net")
        out = e.mailer("deliver", "--once", now=T0, timeout=60).stdout
        check(out == b"sent 0, deferred 1, failed 0\n", "deliver: %r" % out)
        expect_env(e, eid, "deferred", None, r"timeout")


globals()["case_" + CASE]()
print("ok")
