"""Helpers for the delivery tests: a fresh folder, config and database per
test, running the `mailer` binary, reading the outbox with sqlite3.

    env = Env("name", transport="smtp://127.0.0.1:PORT", delivery={...})
    env.mailer("share", ...)            # CompletedProcess; fails the test on
                                        # a wrong exit code
    env.q("SELECT ...")                 # rows from the test's database
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mailertest  # noqa: E402
from mailertest import (MAILER, SRC, CliEnv, SmtpServer, build_dir, check,  # noqa: E402,F401
                        fail, write_ini)

SECRET = "delivery-test-secret-0123456789"
DOMAIN = "hagiang.example"
ARTICLE = "ha-giang-tong-ket-thi-dua-2021"
T0 = 1795000000  # a fixed "now" (MAILER_FAKE_NOW) where a test needs one


class Env(CliEnv):
    def __init__(self, name, transport=None, delivery=None, smtp=None):
        super().__init__("delivery-" + name, transport, delivery, smtp,
                         delivery_defaults={"connections": "2", "retry_base": "5m",
                                            "retry_max": "6h", "max_age": "3d"},
                         smtp_defaults={"tls": "none", "helo": "mailer.test.example",
                                        "connect_timeout_ms": "2000",
                                        "command_timeout_ms": "2000"})
        write_ini(self.config, [
            ("site", {"base_url": "https://tin.hagiang.example"}),
            ("database", {"path": self.db_path}),
            ("mail", {"from_address": "tin-tuc@" + DOMAIN, "secret": SECRET,
                      "unsubscribe_mailto": "unsubscribe@" + DOMAIN}),
            ("delivery", self.delivery), ("smtp", self.smtp),
            ("templates", {"dir": os.path.join(SRC, "templates")})])
        self.mailer("init")

    def add_article(self, name=ARTICLE):
        self.mailer("article", "add", os.path.join(SRC, "examples", "articles", name + ".json"))

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
    return mailertest.verp_token(SECRET, envelope_id)
