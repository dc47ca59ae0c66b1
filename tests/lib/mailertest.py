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
  - verp_token(secret, envelope_id), message_id(secret, salt, envelope_id,
    domain), parse_message(data)
  - DnsServer: TXT records served on a loopback UDP port (dnspython), for
    `mailer doctor` and the DKIM verifiers
  - dkim_record(env, domain, selector), dkim_verify_dkimpy(data, records),
    dkim_verify_opendkim(data, records): DKIM keys' records and two
    independent verifiers (dkimpy; OpenDKIM's opendkim-testmsg)
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


def message_id(secret, salt, envelope_id, domain):
    """The Message-ID of an envelope (without angle brackets), as
    mailer/outbox/outbox.c makes it: the envelope id and a 64-bit tag under
    the send's salt through a 4-round Feistel network keyed by [mail] secret."""
    tag = hmac.new(salt.encode(), b"message-id:%d" % envelope_id, hashlib.sha256).digest()[:8]
    left, right = envelope_id.to_bytes(8, "big"), tag
    for rnd in range(4):
        f = hmac.new(secret.encode(), b"message-id:%d:" % rnd + right, hashlib.sha256).digest()
        left, right = right, bytes(a ^ b for a, b in zip(left, f[:8]))
    return "%s@%s" % ((left + right).hex(), domain)


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


# ---- DNS and DKIM ----------------------------------------------------------

class DnsServer:
    """    with DnsServer({"s1._domainkey.example.org": ["v=DKIM1; k=rsa; p=..."]}) as dns:
            ... dns.address ("127.0.0.1:PORT"), dns.queries (names asked) ...

    Answers TXT queries from `records` (name -> list of texts, each record
    cut into 255-byte strings as a zone would), NXDOMAIN for names it does
    not know, nothing at all (a timeout) when `silent`. `host`/`port` bind
    elsewhere: port 53 on a 127.x address for resolvers that take no port
    (opendkim-testmsg). Serves from a thread of the test."""

    def __init__(self, records, host="127.0.0.1", port=0, silent=False):
        self.records = {k.lower().rstrip("."): [v] if isinstance(v, str) else list(v)
                        for k, v in records.items()}
        self.host, self.port, self.silent = host, port, silent
        self.queries = []
        self.sock = None
        self.thread = None

    def __enter__(self):
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.host, self.port))
        self.sock.settimeout(0.1)  # the loop looks at self.stop this often
        self.stop = False
        self.port = self.sock.getsockname()[1]
        self.address = "%s:%d" % (self.host, self.port)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def _serve(self):
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            name = q.question[0].name.to_text().lower().rstrip(".")
            self.queries.append(name)
            if self.silent:
                continue
            r = dns.message.make_response(q)
            if name not in self.records:
                r.set_rcode(dns.rcode.NXDOMAIN)
            elif q.question[0].rdtype == dns.rdatatype.TXT and self.records[name]:
                texts = []
                for v in self.records[name]:
                    b = v.encode()
                    texts.append(" ".join('"%s"' % b[i:i + 255].decode().replace('"', '\\"')
                                          for i in range(0, len(b), 255)))
                r.answer.append(dns.rrset.from_text_list(q.question[0].name, 300, "IN", "TXT",
                                                         texts))
            self.sock.sendto(r.to_wire(), peer)

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join(timeout=5)
        self.sock.close()


def dkim_record(env, domain, selector):
    """The TXT text `mailer dkim record` prints for a key of `env` (a CliEnv)."""
    import re
    out = env.mailer("dkim", "record", "--domain", domain, "--selector", selector).stdout.decode()
    line = [l for l in out.splitlines() if l and not l.startswith(";")][0]
    return "".join(re.findall(r'"([^"]*)"', line))


def dkim_verify_dkimpy(data, records):
    """dkimpy's verdict on each DKIM-Signature of `data`, top first: a list
    of (a= value, True/False). `records` maps key names to TXT texts."""
    import dkim
    recs = {k.lower().rstrip("."): v for k, v in records.items()}

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return recs.get(name.lower().rstrip("."), "").encode() or None

    out = []
    n = len(email.message_from_bytes(data).get_all("DKIM-Signature") or [])
    for i in range(n):
        d = dkim.DKIM(data)
        ok = d.verify(idx=i, dnsfunc=dnsfunc)
        out.append(((d.signature_fields or {}).get(b"a", b"?").decode(), bool(ok)))
    return out


def opendkim_can_run():
    """None if opendkim-testmsg can be run with a test DNS (it reads
    /etc/resolv.conf, so it runs in a private mount namespace with its own:
    root and unshare needed), else the reason."""
    if not shutil.which("opendkim-testmsg") and not os.path.exists("/usr/sbin/opendkim-testmsg"):
        return "opendkim-testmsg is not installed (Debian opendkim-tools)"
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                       capture_output=True)
    if p.returncode != 0:
        return "cannot make a mount namespace (unshare --mount): %s" % p.stderr.decode().strip()
    return None


def dkim_verify_opendkim(data, records):
    """OpenDKIM's verdict (opendkim-testmsg, libopendkim) on `data`: (exit
    code, stderr); 0 = the signature verifies. opendkim-testmsg asks the DNS
    through /etc/resolv.conf, so it runs in its own mount namespace where
    that file names a DnsServer on port 53 of a random 127.x address."""
    import random
    testmsg = shutil.which("opendkim-testmsg") or "/usr/sbin/opendkim-testmsg"
    for _ in range(20):
        host = "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 254),
                                 random.randint(1, 254))
        try:
            srv = DnsServer({k: [v] if isinstance(v, str) else v for k, v in records.items()},
                            host=host, port=53).__enter__()
            break
        except OSError:
            continue
    else:
        raise RuntimeError("no free port 53 on a 127.x address")
    try:
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "resolv.conf")
            with open(conf, "w") as f:
                f.write("nameserver %s\noptions timeout:2 attempts:1\n" % host)
            script = 'mount --bind "$1" /etc/resolv.conf && exec "$2"'
            p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                script, "sh", conf, testmsg], input=data, capture_output=True,
                               timeout=60)
            return p.returncode, p.stderr.decode(errors="replace")
    finally:
        srv.__exit__(None, None, None)
