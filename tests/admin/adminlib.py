"""Helpers for the web admin's tests (tests/admin): a browser-like client
with a cookie, signing in, and the CSRF token of the pages.

    with Mailer("admin-x") as m:
        admin_user(m, "hoa@x.vn", PASSWORD, "admin")
        m.start()
        c = Client(m)
        c.login("hoa@x.vn", PASSWORD)
        st, h, body = c.get("/admin/lists")
        st, h, body = c.post("/admin/lists/new", {"slug": "tin", "name": "Tin"})  # csrf added
"""
import html
import json
import os
import re
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serve import Mailer, check, fail  # noqa: E402,F401
from mailertest import TIMEOUT_SCALE  # noqa: E402

# A request's hang guard, stretched like every wait of the suite (mailertest).
REQUEST_TIMEOUT = 10 * TIMEOUT_SCALE

PASSWORD = "mật khẩu dài đây 123"


def admin_user(m, email, password=PASSWORD, role="admin", name=None):
    args = [os.environ["MAILER_BIN"], "--config", m.config, "user", "add", email, "--role", role]
    if name is not None:
        args += ["--name", name]
    p = subprocess.run(args, input=password + "\n", capture_output=True, text=True,
                       env=m.environ(), timeout=60 * TIMEOUT_SCALE)
    if p.returncode != 0:
        fail("user add %s: %s" % (email, p.stderr))


def post_json(m, path, obj, headers=None):
    """m.post_json with the request's hang guard stretched (REQUEST_TIMEOUT)."""
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return m.request("POST", path, json.dumps(obj, ensure_ascii=False).encode("utf-8"), h,
                     timeout=REQUEST_TIMEOUT)


def field(body, name):
    """The value of the first <input name=NAME> in a page."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    mo = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), text)
    return html.unescape(mo.group(1)) if mo else None


class Client:
    """One browser: its own cookie jar (the admin's session cookie
    `mailer_admin`, kept also as .cookie, which a test may set or clear, and
    the public forms' cookie that the login form's token is bound to), and
    an IP it claims through X-Forwarded-For (the test server trusts
    127.0.0.1 as a proxy)."""

    def __init__(self, m, ip=None):
        self.m = m
        self.cookie = None
        self.jar = {}
        self.ip = ip
        self.csrf = None

    def headers(self, extra=None):
        h = {}
        if self.ip:
            h["X-Forwarded-For"] = self.ip
        h.update(extra or {})
        return h

    def send(self, method, path, body=None, headers=None):
        """One request with this browser's cookies (the Mailer's jar swapped
        for ours while it runs, so every Set-Cookie lands in ours)."""
        if self.cookie is None:
            self.jar.pop("mailer_admin", None)
        else:
            self.jar["mailer_admin"] = self.cookie
        saved, self.m.cookies = self.m.cookies, self.jar
        try:
            st, h, data = self.m.request(method, path, body, headers=headers,
                                         timeout=REQUEST_TIMEOUT)
        finally:
            self.m.cookies = saved
        self.cookie = self.jar.get("mailer_admin") or None
        return st, h, data

    def keep(self, hdrs):
        pass  # send() keeps every cookie

    def get(self, path, headers=None):
        st, h, body = self.send("GET", path, headers=self.headers(headers))
        if st == 200 and b'name="csrf"' in body and "/admin/login" not in path:
            self.csrf = field(body, "csrf")
        return st, h, body

    def post(self, path, fields, csrf=True, headers=None, raw=None, ctype=None):
        f = dict(fields)
        if csrf and "csrf" not in f:
            if self.csrf is None:
                self.get("/admin/")
            f["csrf"] = self.csrf
        body = raw if raw is not None else urllib.parse.urlencode(f).encode()
        h = {"Content-Type": ctype or "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.send("POST", path, body, self.headers(h))

    def login(self, email, password=PASSWORD, expect=303):
        st, _, body = self.get("/admin/login")
        check(st == 200, "login page: %d" % st)
        token = field(body, "csrf")
        st, h, body = self.post("/admin/login", {"csrf": token, "email": email,
                                                 "password": password, "next": "/admin/"},
                                csrf=False)
        check(st == expect, "login as %s: %d (expected %d): %s" % (email, st, expect,
                                                                   body[-400:]))
        if st == 303:
            self.csrf = None
            self.get("/admin/")
        return st, h, body
