"""Helpers for the delivery tests: a fresh folder, config and database per
test, running the `mailer` binary, reading the outbox with sqlite3.

    env = Env("name", transport="smtp://127.0.0.1:PORT", delivery={...})
    env.mailer("share", ...)            # CompletedProcess; fails the test on
                                        # a wrong exit code
    env.q("SELECT ...")                 # rows from the test's database
"""
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import sys

SRC = os.environ.get("MAILER_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "tests", "smtpd"))
from harness import SmtpServer, build_dir, fail  # noqa: E402,F401

MAILER = os.environ.get("MAILER_BIN") or os.path.join(build_dir(), "bin", "mailer")
SECRET = "delivery-test-secret-0123456789"
DOMAIN = "hagiang.example"
ARTICLE = "ha-giang-tong-ket-thi-dua-2021"
T0 = 1795000000  # a fixed "now" (MAILER_FAKE_NOW) where a test needs one


class Env:
    def __init__(self, name, transport=None, delivery=None, smtp=None):
        self.dir = os.path.join(build_dir(), "testtmp", "delivery-" + name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.db_path = os.path.join(self.dir, "m.db")
        self.outdir = os.path.join(self.dir, "out")
        os.makedirs(self.outdir)
        d = {"transport": transport or "dir:" + self.outdir, "connections": "2",
             "retry_base": "5m", "retry_max": "6h", "max_age": "3d"}
        d.update(delivery or {})
        s = {"tls": "none", "connect_timeout_ms": "2000", "command_timeout_ms": "2000"}
        s.update(smtp or {})
        lines = ["[site]", "base_url = https://tin.hagiang.example", "",
                 "[database]", "path = " + self.db_path, "",
                 "[mail]", "from_address = tin-tuc@" + DOMAIN, "secret = " + SECRET,
                 "unsubscribe_mailto = unsubscribe@" + DOMAIN, "",
                 "[delivery]"] + ["%s = %s" % kv for kv in d.items()] + \
                ["", "[smtp]"] + ["%s = %s" % kv for kv in s.items()] + \
                ["", "[templates]", "dir = " + os.path.join(SRC, "templates")]
        self.config = os.path.join(self.dir, "mailer.ini")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.mailer("init")

    def mailer(self, *args, code=0, now=None, timeout=120):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "halt_on_error=1")
        env.pop("MAILER_FAKE_NOW", None)
        if now is not None:
            env["MAILER_FAKE_NOW"] = str(now)
        p = subprocess.run([MAILER, "--config", self.config] + [str(a) for a in args],
                           capture_output=True, env=env, timeout=timeout)
        if code is not None and p.returncode != code:
            fail("mailer %s: exit %d, wanted %d\nstdout: %s\nstderr: %s" % (
                " ".join(map(str, args)), p.returncode, code,
                p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
        return p

    def add_article(self, name=ARTICLE):
        self.mailer("article", "add", os.path.join(SRC, "examples", "articles", name + ".json"))

    def q(self, sql, *params):
        c = sqlite3.connect(self.db_path, timeout=10)
        try:
            return c.execute(sql, params).fetchall()
        finally:
            c.close()

    def x(self, sql, *params):
        c = sqlite3.connect(self.db_path, timeout=10)
        try:
            c.execute(sql, params)
            c.commit()
        finally:
            c.close()

    def add_digest(self, subscribers, articles=(ARTICLE,), now=0):
        """A list 'tin-tuc' with `subscribers` [(email, name)], all confirmed, and a
        digest send with one envelope each (as outbox_enqueue_list makes them)."""
        self.x("INSERT INTO lists(id, slug, name, created_at, updated_at) "
               "VALUES (1, 'tin-tuc', 'Tin tức Hà Giang', 0, 0)")
        for i, (email, name) in enumerate(subscribers, 1):
            self.x("INSERT INTO subscribers(id, email, email_ascii, email_key, name, "
                   "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, 0)",
                   i, email, email, email.lower(), name)
            self.x("INSERT INTO subscriptions(list_id, subscriber_id, status, created_at, "
                   "updated_at) VALUES (1, ?, 'confirmed', 0, 0)", i)
        subject, template = self.q("SELECT digest_subject, digest_template FROM lists")[0]
        plan = json.dumps({"kind": "digest", "articles": list(articles),
                           "list": {"id": 1, "slug": "tin-tuc", "name": "Tin tức Hà Giang"},
                           "subject": subject, "template": template}, ensure_ascii=False)
        self.x("INSERT INTO sends(id, kind, list_id, plan, salt, created_at) "
               "VALUES (100, 'digest', 1, ?, 'a1b2c3d4e5f60718293a4b5c6d7e8f90', ?)", plan, now)
        self.x("INSERT INTO envelopes(send_id, subscriber_id, recipient, name, "
               "next_attempt_at, created_at, updated_at) SELECT 100, s.id, s.email_ascii, "
               "s.name, ?, ?, ? FROM subscribers s ORDER BY s.id", now, now, now)

    def counts(self, *send):
        """`mailer queue status` parsed: {state: n}."""
        out = self.mailer("queue", "status", *send).stdout.decode()
        res = {}
        for line in out.splitlines():
            k, v = line.split()
            res[k] = int(v)
        return res


def verp_token(envelope_id):
    mac = hmac.new(SECRET.encode(), b"verp:%d" % envelope_id, hashlib.sha256).digest()
    return "%d.%s" % (envelope_id, mac[:10].hex())


def check(cond, msg):
    if not cond:
        fail(msg)
