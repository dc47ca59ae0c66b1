"""Helpers for tests that need the test SMTP server (smtpd.py).

    with SmtpServer(tmpdir, "--dsn") as srv:
        ... srv.port, srv.messages(), srv.stats() ...

Each server gets its own store folder; messages() returns a list of dicts
(the .json metadata plus "data": the exact bytes received), in order.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")


def build_dir():
    return os.environ.get("MAILER_BUILD_DIR", tempfile.gettempdir())


def certs():
    """Generates (once) the test CA and certificates; returns their folder."""
    out = os.path.join(build_dir(), "testtmp", "certs")
    subprocess.run(["bash", os.path.join(HERE, "make-certs.sh"), out], check=True)
    return out


class SmtpServer:
    def __init__(self, store, *flags):
        self.store = store
        self.flags = [str(f) for f in flags]
        self.proc = None
        self.port = None

    def __enter__(self):
        os.makedirs(self.store, exist_ok=True)
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "smtpd.py"), "--store", self.store] + self.flags,
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

    def messages(self):
        out = []
        for name in sorted(os.listdir(self.store)):
            if name.endswith(".json") and name[0].isdigit():
                base = os.path.join(self.store, name[:-5])
                with open(base + ".json") as f:
                    meta = json.load(f)
                with open(base + ".eml", "rb") as f:
                    meta["data"] = f.read()
                out.append(meta)
        return out


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)
