"""Helpers of the bounce integration tests: a test folder with a config that
has [bounce] mailboxes, a digest sent to a few subscribers through the dir
transport (or a real SMTP server), and messages built per RFC 3464 (DSN),
RFC 5965 (ARF) and RFC 3834 (auto-reply) for given envelopes.

    env = Env("name")
    env.digest(["a@example.com", ...])      # one digest, delivered; {addr: envelope id}
    env.ingest(dsn(env, eid, "a@example.com", "5.1.1", "550 5.1.1 user unknown"))
"""
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mailertest  # noqa: E402
from mailertest import CliEnv, SRC, fail, write_ini  # noqa: E402,F401

SECRET = "bounce-test-secret-0123456789"
DOMAIN = "hagiang.example"
NOW = 1641171600  # Monday 2022-01-03 08:00 +07:00, as the digest tests


def verp_token(eid):
    return mailertest.verp_token(SECRET, eid)


def mailto_token(sub_id, list_id, secret=SECRET):
    mac = hmac.new(secret.encode(), b"mailto-unsubscribe:%d:%d" % (sub_id, list_id),
                   hashlib.sha256).digest()
    return "%d.%d.%s" % (sub_id, list_id, mac[:10].hex())


class Env(CliEnv):
    def __init__(self, name, transport=None, mailboxes=None, bounce=None, smtp=None, extra=None):
        super().__init__("bounce-" + name, transport, smtp=smtp,
                         smtp_defaults={"tls": "none", "helo": "mailer.test.example",
                                        "connect_timeout_ms": "5000",
                                        "command_timeout_ms": "10000"})
        sections = [
            ("site", {"name": "Cổng TTĐT Hà Giang", "base_url": "https://tin.hagiang.example",
                      "timezone": "Asia/Ho_Chi_Minh"}),
            ("database", {"path": self.db_path}),
            ("mail", {"from_address": "tin-tuc@" + DOMAIN, "secret": SECRET}),
            ("delivery", self.delivery), ("smtp", self.smtp),
            ("templates", {"dir": os.path.join(SRC, "templates")}),
            ("bounce", bounce or {})]
        for mname, body in (mailboxes or {}).items():
            sections.append(("bounce." + mname, body))
        sections += extra or []
        write_ini(self.config, sections)
        self.mailer("init")
        self.articles = 0

    def env(self, now=None):
        return mailertest.mailer_environ(NOW if now is None else now)

    def add_article(self):
        self.articles += 1
        art = "tin-bounce-%d" % self.articles
        path = os.path.join(self.dir, art + ".json")
        with open(path, "w") as f:
            json.dump({"id": art, "url": "https://hagiang.gov.vn/" + art,
                       "title": "Tin ngắn " + art, "category": "Tin tức - Sự kiện",
                       "author": "Ban biên tập", "published_at": "2021-12-30T08:00:00+07:00",
                       "summary": "Tóm tắt", "body_html": "<p>Nội dung</p>"}, f, ensure_ascii=False)
        self.mailer("article", "add", path)

    def digest(self, addrs, slug="tin-tuc", now=NOW, states=("sent",)):
        """Subscribes addrs (confirmed) to `slug`, sends one digest, delivers it;
        returns {address: envelope id} of that digest. Every envelope must be
        in one of `states` afterwards."""
        if not self.q("SELECT 1 FROM lists WHERE slug = ?", slug):
            self.mailer("list", "create", slug, "--name", "Bản tin " + slug, "--optin", "single")
        for a in addrs:
            self.mailer("sub", "add", a, "--list", slug, "--confirmed", code=None)
        self.add_article()
        self.mailer("digest", "send", "--list", slug, "--since", "2021-08-01", "--enqueue-only",
                    now=now)
        send = self.q("SELECT max(id) FROM sends WHERE kind = 'digest'")[0][0]
        self.mailer("deliver", "--once", now=now)
        rows = self.q("SELECT recipient, id, state, last_code, last_text FROM envelopes "
                      "WHERE send_id = ?", send)
        for r, i, st, code, text in rows:
            if st not in states:
                fail("envelope %d to %s is %s, not %s (%s %s)" % (i, r, st, " or ".join(states),
                                                                  code, text))
        return {r: i for r, i, _, _, _ in rows}

    def ingest(self, data, *args, code=0, now=None):
        if isinstance(data, str):
            data = data.encode()
        p = subprocess.run(self.cmd("bounce", "ingest", *args), input=data,
                           capture_output=True, env=self.env(now), timeout=120)
        if code is not None and p.returncode != code:
            fail("bounce ingest: exit %d, wanted %d\nstdout: %s\nstderr: %s" % (
                p.returncode, code, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace")))
        return p

    def suppressed(self, addr):
        r = self.q("SELECT reason FROM suppressions WHERE email_key = lower(?)", addr)
        return r[0][0] if r else None

    def envelope(self, eid):
        return self.q("SELECT state, last_code, last_text FROM envelopes WHERE id = ?", eid)[0]

    def subscription(self, addr, slug="tin-tuc"):
        r = self.q("SELECT s.status FROM subscriptions s JOIN subscribers p ON p.id = "
                   "s.subscriber_id JOIN lists l ON l.id = s.list_id WHERE p.email_key = lower(?) "
                   "AND l.slug = ?", addr, slug)
        return r[0][0] if r else None

    def ids(self, addr, slug="tin-tuc"):
        """(subscriber id, list id)"""
        return self.q("SELECT p.id, l.id FROM subscribers p, lists l WHERE p.email_key = lower(?) "
                      "AND l.slug = ?", addr, slug)[0]


def dsn(eid, rcpt, status, diag, action="failed", token=None, crlf=True, envid=True):
    """A Postfix-style RFC 3464 DSN about envelope `eid` sent to `rcpt`."""
    tok = token or verp_token(eid)
    verp = "bounces+%s@%s" % (tok, DOMAIN)
    lines = [
        "Return-Path: <>",
        "Delivered-To: " + verp,
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)",
        "To: " + verp,
        "Subject: Undelivered Mail Returned to Sender",
        "Message-Id: <%s.%s@mx.example.net>" % (eid, hashlib.sha1((status + diag + action + tok).encode()).hexdigest()[:12]),
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        "\tboundary=\"dsn-boundary-1\"",
        "",
        "--dsn-boundary-1",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "<%s>: host mx.example.net[192.0.2.1] said: %s (in reply to RCPT TO" % (rcpt, diag),
        "    command)",
        "",
        "--dsn-boundary-1",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.example.net",
    ]
    if envid:
        lines.append("Original-Envelope-Id: " + tok)
    lines += [
        "",
        "Final-Recipient: rfc822; " + rcpt,
        "Action: " + action,
        "Status: " + status,
        "Diagnostic-Code: smtp; " + diag,
        "",
        "--dsn-boundary-1--",
        ""]
    return ("\r\n" if crlf else "\n").join(lines)


def arf(rcpt, message_id=None, return_path=None, feedback_type="abuse"):
    """An RFC 5965 feedback report about our message to `rcpt`."""
    lines = [
        "From: fbl@isp.example",
        "To: complaints@" + DOMAIN,
        "Subject: Abuse report",
        "Message-ID: <arf-%s@isp.example>" % hashlib.sha1((rcpt + str(message_id)).encode()).hexdigest()[:12],
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=feedback-report; boundary=\"arf-b\"",
        "",
        "--arf-b",
        "Content-Type: text/plain",
        "",
        "A complaint.",
        "",
        "--arf-b",
        "Content-Type: message/feedback-report",
        "",
        "Feedback-Type: " + feedback_type,
        "User-Agent: TestFBL/1.0",
        "Version: 1",
        "Original-Rcpt-To: <%s>" % rcpt,
        "",
        "--arf-b",
        "Content-Type: text/rfc822-headers",
        ""]
    if return_path:
        lines.append("Return-Path: <%s>" % return_path)
    if message_id:
        lines.append("Message-ID: <%s>" % message_id)
    lines += ["To: " + rcpt, "Subject: x", "", "--arf-b--", ""]
    return "\r\n".join(lines)


def auto_reply(sender, to, subject="Out of office"):
    return "\r\n".join([
        "From: %s" % sender, "To: %s" % to, "Subject: " + subject,
        "Auto-Submitted: auto-replied", "Message-ID: <ar-%s@x.example>" % hashlib.sha1(sender.encode()).hexdigest()[:10],
        "", "I am away until next week.", ""])
