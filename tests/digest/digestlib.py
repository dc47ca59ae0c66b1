"""Helpers for the digest integration tests: a fresh folder, config and
database per test, the `mailer` binary, subscribers inserted in bulk,
messages received by the test SMTP server (tests/smtpd) parsed.

    env = Env("name", transport="smtp://127.0.0.1:PORT", delivery={...})
    env.mailer("digest", "send", "--list", "tin-tuc")
    env.q("SELECT ...")
"""
import json
import os
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mailertest  # noqa: E402
from mailertest import (MAILER, SRC, CliEnv, SmtpServer, build_dir, check,  # noqa: E402,F401
                        count_received, fail, received_by_rcpt, wait_for, write_ini)
from mailertest import parse_message as parse  # noqa: E402,F401

SECRET = "digest-test-secret-0123456789"
DOMAIN = "hagiang.example"
SITE = "Cổng TTĐT Hà Giang"
BASE_URL = "https://tin.hagiang.example"
# Monday 2022-01-03 08:00 +07:00: the six sample articles (Aug-Dec 2021)
# are all within `--since 2021-08-01` of it.
NOW_2022 = 1641171600
# Subscribers whose names must survive composing: Vietnamese, quotes and
# angle brackets.
PEOPLE = [("an@example.com", "Nguyễn Văn An"), ("binh@example.com", "Trần Thị Bình"),
          ("chi@example.com", "Lê \"Chi\" <Hà>")]


def fresh_store(name):
    """An empty folder for the test SMTP server's messages."""
    path = os.path.join(build_dir(), "testtmp", "digest-%s-smtpd" % name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def verp_token(envelope_id):
    return mailertest.verp_token(SECRET, envelope_id)


class Env(CliEnv):
    def __init__(self, name, transport=None, delivery=None, smtp=None):
        super().__init__("digest-" + name, transport, delivery, smtp,
                         delivery_defaults={"connections": "4", "retry_base": "5m",
                                            "retry_max": "6h", "max_age": "3d"},
                         smtp_defaults={"tls": "none", "helo": "mailer.test.example",
                                        "connect_timeout_ms": "5000",
                                        "command_timeout_ms": "10000"})
        write_ini(self.config, [
            ("site", {"name": SITE, "base_url": BASE_URL, "timezone": "Asia/Ho_Chi_Minh"}),
            ("database", {"path": self.db_path}),
            ("mail", {"from_address": "tin-tuc@" + DOMAIN, "secret": SECRET}),
            ("delivery", self.delivery), ("smtp", self.smtp),
            ("templates", {"dir": os.path.join(SRC, "templates")})])
        self.mailer("init")

    def add_articles(self, names=None):
        folder = os.path.join(SRC, "examples", "articles")
        for n in sorted(os.listdir(folder)):
            if n.endswith(".json") and (names is None or n[:-5] in names):
                self.mailer("article", "add", os.path.join(folder, n))

    def add_small_article(self, art_id, published):
        """An article without photos (small messages for the many-recipient tests)."""
        path = os.path.join(self.dir, art_id + ".json")
        with open(path, "w") as f:
            json.dump({"id": art_id, "url": "https://hagiang.gov.vn/" + art_id,
                       "title": "Tin ngắn " + art_id, "category": "Tin tức - Sự kiện",
                       "author": "Ban biên tập", "published_at": published,
                       "summary": "Tóm tắt tin " + art_id,
                       "body_html": "<p>Nội dung tin " + art_id + "</p>"}, f,
                      ensure_ascii=False)
        self.mailer("article", "add", path)

    def add_list(self, slug="tin-tuc", name="Tin tức Hà Giang"):
        self.mailer("list", "create", slug, "--name", name, "--optin", "single")

    def enqueue_sample_digest(self, people):
        """The six sample articles, the list tin-tuc with `people` [(address,
        name)] confirmed, and its digest since 2021-08-01 enqueued at
        NOW_2022. Returns (the digest's id, the enqueue's output)."""
        self.add_articles()
        self.add_list()
        for addr, name in people:
            self.mailer("sub", "add", addr, "--list", "tin-tuc", "--name", name, "--confirmed")
        out = self.mailer("digest", "send", "--list", "tin-tuc", "--since", "2021-08-01",
                          "--enqueue-only", now=NOW_2022).stdout.decode()
        return digest_id_of(out), out

    def bulk_subscribers(self, n, slug="tin-tuc", fmt="r%05d@example.com"):
        """n confirmed subscribers of the list, inserted directly (fast)."""
        c = sqlite3.connect(self.db_path, timeout=10)
        try:
            (list_id,) = c.execute("SELECT id FROM lists WHERE slug = ?", (slug,)).fetchone()
            rows = [(fmt % i, "Người đọc %d" % i) for i in range(n)]
            c.executemany("INSERT INTO subscribers(email, email_ascii, email_key, name, "
                          "created_at, updated_at) VALUES (?1, ?1, lower(?1), ?2, 0, 0)", rows)
            c.execute("INSERT OR IGNORE INTO subscriptions(list_id, subscriber_id, status, created_at, "
                      "updated_at) SELECT ?, id, 'confirmed', 0, 0 FROM subscribers", (list_id,))
            c.commit()
        finally:
            c.close()
        return [r[0] for r in rows]

    def status(self, digest_id):
        """`mailer digest status ID` parsed: {key: value}."""
        out = self.mailer("digest", "status", digest_id).stdout.decode()
        res = {}
        for line in out.splitlines():
            k, v = line.split(" ", 1)
            res[k] = int(v) if v.lstrip("-").isdigit() else v
        return res


def digest_id_of(stdout_line):
    """'digest 3: list ...' -> 3"""
    check(stdout_line.startswith("digest "), "unexpected output %r" % stdout_line)
    return int(stdout_line.split()[1].rstrip(":"))

