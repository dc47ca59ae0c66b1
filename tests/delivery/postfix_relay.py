"""A private Postfix relay for the delivery tests (issue 16 item 11).

libESMTP switches to BDAT (RFC 3030 CHUNKING) whenever the server offers it,
as Postfix does, and the test SMTP server (tests/smtpd, aiosmtpd) offers no
CHUNKING: without this relay the path every Postfix smarthost takes would
never run in the tests. Here Postfix's smtpd listens on a random loopback
port with CHUNKING (its default) and relays everything to the test SMTP
server (`relayhost`), which stores the bytes as usual.

Its configuration, queue and log live under the test folder; the master runs
in the foreground of its own session (`master -d`) and is stopped by its pid.
It must start as root (Postfix's master needs it; its daemons drop to the
postfix user): the test exits 77 when Postfix is not installed or the tests
do not run as root.

    with PostfixRelay("name", next_port) as pf:
        ... smtp://127.0.0.1:pf.port ...; pf.wait_idle(); pf.commands()
"""
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import build_dir, free_port, wait_for  # noqa: E402

MASTER = "/usr/lib/postfix/sbin/master"
QUEUE_DIRS = ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
              "private", "saved", "trace")


class PostfixRelay:
    def __init__(self, name, relay_port):
        if not os.path.exists(MASTER):
            print("SKIP: postfix is not installed")
            sys.exit(77)
        if os.getuid() != 0:
            print("SKIP: a private Postfix needs root to start its master")
            sys.exit(77)
        self.dir = os.path.join(build_dir(), "testtmp", "postfix-relay-" + name)
        self.relay_port = relay_port
        self.proc = None
        self.port = None

    def __enter__(self):
        d = self.dir
        shutil.rmtree(d, ignore_errors=True)
        conf, queue, data = (os.path.join(d, x) for x in ("conf", "queue", "data"))
        os.makedirs(conf)
        os.makedirs(data)
        self.port = free_port()
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write("""compatibility_level = 3.6
queue_directory = {q}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.test.example
mydomain = test.example
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{relay}
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtputf8_enable = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
""".format(q=queue, data=data, d=d, relay=self.relay_port))
        with open("/etc/postfix/master.cf") as f:
            master = f.read()
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.write(master.replace(
                "smtp      inet  n       -       y       -       -       smtpd",
                "127.0.0.1:%d inet n - n - - smtpd" % self.port))
        pf = pwd.getpwnam("postfix")
        postdrop = grp.getgrnam("postdrop").gr_gid
        for x in QUEUE_DIRS:
            os.makedirs(os.path.join(queue, x), mode=0o700)
            os.chown(os.path.join(queue, x), pf.pw_uid, 0)
        for x, mode in (("maildrop", 0o730), ("public", 0o710)):
            os.makedirs(os.path.join(queue, x))
            os.chmod(os.path.join(queue, x), mode)
            os.chown(os.path.join(queue, x), pf.pw_uid, postdrop)
        os.makedirs(os.path.join(queue, "pid"))
        os.chown(data, pf.pw_uid, pf.pw_gid)
        self.proc = subprocess.Popen([MASTER, "-c", conf, "-d"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self._ready, 30, "postfix to listen", lambda: self.log()[-2000:])
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("postfix master exited: " + self.log()[-2000:])
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", self.port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log(self):
        try:
            with open(os.path.join(self.dir, "maillog"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def queued(self):
        n = 0
        for x in ("incoming", "active", "deferred", "maildrop", "hold"):
            for _, _, files in os.walk(os.path.join(self.dir, "queue", x)):
                n += len(files)
        return n

    def wait_idle(self, timeout=60):
        time.sleep(0.5)
        wait_for(lambda: self.queued() == 0, timeout, "postfix's queue to empty",
                 lambda: self.log()[-3000:])

    def commands(self):
        """The SMTP commands of each client session smtpd served, as Postfix
        logs them at disconnect: [{"ehlo": 1, "mail": 1, "bdat": 6, ...}]."""
        out = []
        for line in self.log().splitlines():
            m = re.search(r"postfix/smtpd\[\d+\]: disconnect from \S+ (.*)$", line)
            if m:
                out.append({k: int(v.split("/")[-1]) for k, v in
                            (x.split("=", 1) for x in m.group(1).split() if "=" in x)})
        return out

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # master stops its children
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
