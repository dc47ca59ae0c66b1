"""Helpers for tests that run `mailer serve` (tests/http, bench/http).

    with Mailer(tmpdir, limits={"share_per_ip_per_hour": 10}) as m:
        m.cli("article", "add", path)
        status, headers, body = m.request("GET", "/healthz")

The server gets a fresh database, a config file naming a free loopback port
(found by binding port 0 and closing: `listen = 127.0.0.1:0` would not tell
us the port), and by default the dir transport under the test folder.
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import (TIMEOUT_SCALE, check, fail, free_port, mailer_environ,  # noqa: E402,F401
                        wait_for)

MAILER = os.environ.get("MAILER_BIN")
SOURCE = os.environ.get("MAILER_SOURCE_DIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("MAILER_BUILD_DIR", "/tmp")
SAMPLE = os.path.join(SOURCE, "examples", "articles", "tin-pccc-20211005.json")
SAMPLE_ID = None  # filled from the JSON


def sample_id():
    with open(SAMPLE, encoding="utf-8") as f:
        return json.load(f)["id"]


class Mailer:
    def __init__(self, name, limits=None, http=None, delivery=None, smtp=None, workers=True,
                 extra="", env=None):
        self.dir = os.path.join(BUILD, "testtmp", "%s.%d" % (name, os.getpid()))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = free_port()
        self.outbox = os.path.join(self.dir, "outbox")
        self.limits = {"share_per_ip_per_hour": 1000, "share_per_sender_per_hour": 1000,
                       "share_global_per_hour": 100000}
        self.limits.update(limits or {})
        self.http = {"listen": "127.0.0.1:%d" % self.port, "threads": 4,
                     "trusted_proxies": "127.0.0.1"}
        self.http.update(http or {})
        self.delivery = {"transport": "dir:" + self.outbox}
        self.delivery.update(delivery or {})
        self.smtp = smtp or {}
        self.workers = workers
        self.extra = extra
        self.env = env or {}  # extra environment of the server and the CLI (MAILER_FAKE_NOW)
        self.proc = None
        self.cookies = {}  # what the server set (Set-Cookie), sent back like a browser
        self.log_path = os.path.join(self.dir, "serve.log")
        self.config = os.path.join(self.dir, "mailer.ini")
        self.db = os.path.join(self.dir, "mailer.db")

    def write_config(self):
        def section(name, d):
            return "[%s]\n%s\n" % (name, "".join("%s = %s\n" % kv for kv in d.items()))
        text = (
            section("site", {"name": "Cổng Thông tin điện tử tỉnh Hà Giang",
                             "base_url": "http://127.0.0.1:%d" % self.port,
                             "timezone": "Asia/Ho_Chi_Minh"})
            + section("database", {"path": self.db})
            + section("mail", {"from_address": "tin-tuc@hagiang.example",
                               "from_name": "Cổng TTĐT Hà Giang",
                               "secret": "test-secret-0123456789abcdef"})
            + section("delivery", self.delivery)
            + (section("smtp", self.smtp) if self.smtp else "")
            + section("http", self.http)
            + section("limits", self.limits)
            + section("media", {"root": os.path.join(SOURCE, "examples", "articles")})
            + self.extra)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)

    def environ(self, extra=None):
        e = dict(self.env)
        e.update(extra or {})
        return mailer_environ(extra=e)

    def cli(self, *args, check_rc=True, env=None):
        p = subprocess.run([MAILER, "--config", self.config] + list(args), capture_output=True,
                           text=True, env=self.environ(env))
        if check_rc and p.returncode != 0:
            fail("mailer %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def __enter__(self):
        if not MAILER:
            print("MAILER_BIN not set", file=sys.stderr)
            sys.exit(77)
        self.write_config()
        self.cli("init")
        return self

    def start(self):
        self.logf = open(self.log_path, "w")
        args = [MAILER, "--config", self.config, "serve"]
        if not self.workers:
            args.append("--no-workers")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=self.environ())
        # a hang guard like the others: stretched on a loaded machine
        deadline = time.time() + 15 * TIMEOUT_SCALE
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail("mailer serve exited %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                st, _, _ = self.request("GET", "/healthz")
                if st in (200, 503):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        fail("mailer serve did not answer in %.0f s:\n%s" % (15 * TIMEOUT_SCALE, self.log()))

    def stop(self, timeout=20):
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("mailer serve did not stop on SIGTERM:\n" + self.log())
        self.proc = None
        self.logf.close()
        return rc

    def __exit__(self, *exc):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.logf.close()

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request; the cookies the server set before are sent back as a
        browser would (unless `headers` has its own Cookie), and the ones it
        sets now are kept."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if self.cookies and not any(k.lower() == "cookie" for k in h):
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        try:
            if isinstance(body, str):
                body = body.encode("utf-8")
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            for k, v in r.getheaders():
                if k.lower() == "set-cookie":
                    name, _, rest = v.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def post_json(self, path, obj, headers=None, raw=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        body = raw if raw is not None else json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return self.request("POST", path, body, h)

    def form_token(self, path):
        """The CSRF token of the form on page `path` (GET), bound to this
        client's form cookie."""
        import re
        st, _, page = self.request("GET", path)
        check(st == 200, "GET %s: %d" % (path, st))
        mt = re.search(rb'name="csrf" value="([^"]+)"', page)
        check(mt, "no CSRF token in the form at %s" % path)
        return mt.group(1).decode()

    def subscribe(self, fields, headers=None):
        """POSTs the subscribe form as a browser would: a fresh token from
        GET /subscribe, then `fields` ({"list", "email", "name"})."""
        import urllib.parse
        pairs = list(fields.items()) + [("csrf", self.form_token("/subscribe"))]
        return self.post_form("/subscribe", urllib.parse.urlencode(pairs), headers)

    def post_form(self, path, body, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path, body, h)

    def healthy(self):
        st, _, body = self.request("GET", "/healthz")
        return st == 200 and json.loads(body)["status"] == "ok"

    def sql(self, query, *args):
        import sqlite3
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def sql_exec(self, query, *args):
        import sqlite3
        con = sqlite3.connect(self.db, timeout=10)
        try:
            con.execute(query, args)
            con.commit()
        finally:
            con.close()

    def eml_files(self):
        out = []
        for root, _, files in os.walk(self.outbox):
            for n in files:
                # .tmp-* files are the dir transport's writes in progress:
                # they are renamed (or gone) a moment later.
                if n.endswith(".eml") and not n.startswith("."):
                    out.append(os.path.join(root, n))
        return sorted(out)

    def wait_for(self, pred, what, timeout=20):
        return wait_for(pred, timeout, what, interval=0.1,
                        detail=lambda: "\n" + self.log()[-3000:])
