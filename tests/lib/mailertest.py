"""Shared helpers of the Python integration tests (tests/*/).

Import it with
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from mailertest import ...

What is here (one copy for every test folder):
  - SRC, PYTHON, MAILER, build_dir(): where things are (the CTest environment:
    MAILER_SOURCE_DIR, MAILER_BUILD_DIR, MAILER_BIN, PYTHON)
  - fail(msg), check(cond, msg): stop the test at the first failure;
    Checks: collect failures and go on (.check(), .failures)
  - wait_for(pred, timeout, what): poll until pred() is true, return its value
  - free_port(): a free loopback port
  - mailer_environ(now, extra): the environment the `mailer` binary runs in
    (sanitizer options, MAILER_FAKE_NOW)
  - CliEnv: a test folder with a config file and a database; .mailer() runs
    the binary and checks its exit code, .q()/.x() read/write the database
  - write_ini(path, sections): a config file from [(section, {key: value})]
  - SmtpServer, certs(): the test SMTP server tests/smtpd/smtpd.py on a random
    port and the messages it stored; count_received(), received_by_rcpt()
  - verp_token(secret, envelope_id), parse_message(data)
"""
import email
import email.policy
import hashlib
import hmac
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

LIB = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MAILER_SOURCE_DIR") or os.path.dirname(os.path.dirname(LIB))
SMTPD_DIR = os.path.join(os.path.dirname(LIB), "smtpd")
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")


def build_dir():
    return os.environ.get("MAILER_BUILD_DIR", tempfile.gettempdir())


MAILER = os.environ.get("MAILER_BIN") or os.path.join(build_dir(), "bin", "mailer")


# ---- failing -------------------------------------------------------------

def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class Checks:
    """Checks that do not stop the test: every failure is printed and kept
    in .failures; the script reports them at its end."""

    def __init__(self):
        self.failures = []

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
            print("FAIL:", what, file=sys.stderr)


# Timeouts in tests are hang guards, not performance assertions: the suite
# also runs on loaded machines (sanitizers, parallel builds), so every wait is
# stretched by MAILER_TEST_TIMEOUT_SCALE (default 3; tests/CMakeLists.txt
# scales CTest's TIMEOUT the same way).
TIMEOUT_SCALE = float(os.environ.get("MAILER_TEST_TIMEOUT_SCALE", "3"))


def wait_for(pred, timeout, what, detail=None, interval=0.05):
    """Polls pred() until it returns a true value (returned); fails the test
    after `timeout` seconds (times TIMEOUT_SCALE) naming `what` (plus
    detail() if given)."""
    end = time.time() + timeout * TIMEOUT_SCALE
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    fail("timed out waiting for " + what + (detail() if detail else ""))


def free_port():
    """A loopback port free at the moment (bind to 0, read it, close)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raw_http(port, request, src=None, timeout=10):
    """Sends the bytes of one HTTP request (written by hand: repeated header
    lines, odd spellings) from source address `src` to 127.0.0.1:port and
    returns the status of the answer read to the end (0 if none came)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if src:
            s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return int(data.split(b" ", 2)[1]) if data else 0


# ---- the mailer binary ---------------------------------------------------

def mailer_environ(now=None, extra=None):
    """os.environ with the sanitizer options (unless set), MAILER_FAKE_NOW
    removed or set to `now`, then `extra` applied."""
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1")
    e.setdefault("UBSAN_OPTIONS", "halt_on_error=1")
    e.pop("MAILER_FAKE_NOW", None)
    if now is not None:
        e["MAILER_FAKE_NOW"] = str(now)
    e.update(extra or {})
    return e


def write_ini(path, sections):
    """Writes a config file: sections is [(name, {key: value} or [lines])]."""
    lines = []
    for i, (name, body) in enumerate(sections):
        if i:
            lines.append("")
        lines.append("[%s]" % name)
        if isinstance(body, dict):
            lines += ["%s = %s" % kv for kv in body.items()]
        else:
            lines += list(body)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


class CliEnv:
    """A fresh test folder build_dir()/testtmp/<folder> (emptied) holding the
    config (self.config, mailer.ini), the database (self.db_path, m.db) and
    the dir transport's folder (self.outdir). self.delivery and self.smtp are
    the [delivery] and [smtp] sections: the defaults given, the default
    transport dir:<outdir> unless `transport`, then the test's overrides.
    Subclasses write the config, then call self.mailer("init")."""

    def __init__(self, folder, transport=None, delivery=None, smtp=None,
                 delivery_defaults=None, smtp_defaults=None):
        self.dir = os.path.join(build_dir(), "testtmp", folder)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.db_path = os.path.join(self.dir, "m.db")
        self.outdir = os.path.join(self.dir, "out")
        os.makedirs(self.outdir)
        self.config = os.path.join(self.dir, "mailer.ini")
        self.delivery = {"transport": transport or "dir:" + self.outdir}
        self.delivery.update(delivery_defaults or {})
        self.delivery.update(delivery or {})
        self.smtp = dict(smtp_defaults or {})
        self.smtp.update(smtp or {})

    def env(self, now=None):
        return mailer_environ(now)

    def cmd(self, *args):
        return [MAILER, "--config", self.config] + [str(a) for a in args]

    def mailer(self, *args, code=0, now=None, timeout=120):
        """Runs mailer with args; fails the test unless it exits `code`
        (None: any code); `timeout` is a hang guard (times TIMEOUT_SCALE).
        Returns the CompletedProcess (bytes)."""
        p = subprocess.run(self.cmd(*args), capture_output=True, env=self.env(now),
                           timeout=timeout * TIMEOUT_SCALE)
        if code is not None and p.returncode != code:
            fail("mailer %s: exit %d, wanted %d\nstdout: %s\nstderr: %s" % (
                " ".join(map(str, args)), p.returncode, code,
                p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
        return p

    def spawn(self, *args, now=None):
        return subprocess.Popen(self.cmd(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env(now))

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


def verp_token(secret, envelope_id):
    """The VERP token of an envelope: "ID.<first 10 bytes of HMAC-SHA256 hex>"."""
    mac = hmac.new(secret.encode(), b"verp:%d" % envelope_id, hashlib.sha256).digest()
    return "%d.%s" % (envelope_id, mac[:10].hex())


def parse_message(data):
    return email.message_from_bytes(data, policy=email.policy.default)


# ---- the test SMTP server (tests/smtpd/smtpd.py) --------------------------

def certs():
    """Generates (once) the test CA and certificates; returns their folder."""
    out = os.path.join(build_dir(), "testtmp", "certs")
    subprocess.run(["bash", os.path.join(SMTPD_DIR, "make-certs.sh"), out], check=True)
    return out


class SmtpServer:
    """    with SmtpServer(store, "--dsn") as srv:
            ... srv.port, srv.messages(), srv.stats() ...

    Each server gets its own store folder; messages() returns a list of dicts
    (the .json metadata plus "data": the exact bytes received), in order."""

    def __init__(self, store, *flags):
        self.store = store
        self.flags = [str(f) for f in flags]
        self.proc = None
        self.port = None

    def __enter__(self):
        os.makedirs(self.store, exist_ok=True)
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(SMTPD_DIR, "smtpd.py"), "--store", self.store] + self.flags,
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError("smtpd.py did not start: %r" % line)
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def stats(self):
        with open(os.path.join(self.store, "stats.json")) as f:
            return json.load(f)

    def messages(self, prefix=""):
        """prefix "refused-": the messages --data-451-once refused."""
        out = []
        for name in sorted(os.listdir(self.store)):
            if name.endswith(".json") and name.startswith(prefix) and \
                    name[len(prefix):][:1].isdigit():
                base = os.path.join(self.store, name[:-5])
                with open(base + ".json") as f:
                    meta = json.load(f)
                with open(base + ".eml", "rb") as f:
                    meta["data"] = f.read()
                out.append(meta)
        return out


def count_received(store):
    """Messages stored so far (cheap: counts the .json files)."""
    try:
        return sum(1 for n in os.listdir(store) if n.endswith(".json") and n[0].isdigit())
    except FileNotFoundError:
        return 0


def received_by_rcpt(srv):
    """{recipient: [message metadata, ...]} from the server's store."""
    out = {}
    for m in srv.messages():
        for r in m["rcpt_tos"]:
            out.setdefault(r, []).append(m)
    return out
