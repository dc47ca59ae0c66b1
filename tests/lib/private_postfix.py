"""A private Postfix for the integration tests: its own configuration, queue
and log under build_dir()/testtmp/postfix-<name>, smtpd on a random loopback
port (self.port), everything else as /etc/postfix/master.cf has it.

The master runs in the foreground of its own session (master -d), as root
(Postfix's master needs it; its daemons drop to the postfix user), and is
stopped by its pid. Exits the test with 77 when Postfix is not installed or
the tests do not run as root.

What differs between tests is given as parameters: `hostname` (myhostname),
`main` (main.cf lines after the common ones: a later line wins) and
`master_extra` (appended to master.cf). A subclass that needs files in place
before the start (maps named by `main`) writes them in setup(), which runs
once the folders exist and self.port is chosen.

    with PrivatePostfix("name", "relay.test.example", main="relayhost = ...\\n") as pf:
        ... smtp://127.0.0.1:pf.port ...; pf.wait_idle(); pf.log(); pf.commands()

Users: tests/bounce/postfix.py (virtual(8) delivery and genuine DSNs) and
tests/delivery/test_smtp.py (a relay that offers CHUNKING).
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

from mailertest import TIMEOUT_SCALE, build_dir, free_port, wait_for

MASTER = "/usr/lib/postfix/sbin/master"
QUEUE_DIRS = ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
              "private", "saved", "trace")

# The main.cf lines every test's Postfix has: its own folders, loopback IPv4
# only, no local delivery, relaying for 127.0.0.0/8 only, quick retries, and
# its log in a file of its own.
MAIN_CF = """compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = {hostname}
mydomain = test.example
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
smtpd_recipient_restrictions = permit_mynetworks, reject
smtputf8_enable = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
"""


# A master greets within a second or two on an idle machine.
START_WAIT = 20
START_ATTEMPTS = 4


class MasterExited(Exception):
    pass


class PrivatePostfix:
    def __init__(self, name, hostname, main="", master_extra=""):
        if not os.path.exists(MASTER):
            print("SKIP: postfix is not installed")
            sys.exit(77)
        if os.getuid() != 0:
            print("SKIP: a private Postfix needs root to start its master")
            sys.exit(77)
        self.dir = os.path.join(build_dir(), "testtmp", "postfix-" + name)
        self.conf, self.queue, self.data = (os.path.join(self.dir, x)
                                            for x in ("conf", "queue", "data"))
        self.hostname, self.main, self.master_extra = hostname, main, master_extra
        self.proc = None
        self.port = None

    def setup(self):
        """Writes what main.cf names before the start (nothing here)."""

    def __enter__(self):
        # free_port() only says the port was free a moment ago: another test
        # may bind it before the master does. Then the master exits ("bind
        # ... Address already in use") and what answers on the port is not
        # Postfix (bounce.pipe once delivered into another test's server:
        # "no reply within 10000 ms", and no maillog). So the start is taken
        # only when smtpd greets with our own name. A master that exits, or
        # that has not greeted within START_WAIT seconds (a CI run once saw a
        # master alive, silent and with no maillog for 180 s, beside four
        # browser tests), is stopped, told on stderr with what could be seen
        # of it, and started again on another port.
        why = []
        for attempt in range(START_ATTEMPTS):
            self._start()
            try:
                end = time.time() + START_WAIT * TIMEOUT_SCALE
                while time.time() < end:
                    if self._ready():
                        return self
                    time.sleep(0.05)
                reason = "no greeting from %s within %g s" % (self.hostname, START_WAIT * TIMEOUT_SCALE)
            except MasterExited as e:
                reason = "the master exited: %s" % e
            why.append("attempt %d, port %d: %s\n%s" % (attempt + 1, self.port, reason, self._seen()))
            print("postfix did not start, " + why[-1], file=sys.stderr)
            self._stop()
        raise RuntimeError("postfix did not start in %d attempts:\n%s" % (START_ATTEMPTS, "\n".join(why)))

    def _start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.conf)
        os.makedirs(self.data)
        self.port = free_port()
        self.setup()
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(queue=self.queue, data=self.data, dir=self.dir,
                                   hostname=self.hostname) + self.main)
        with open("/etc/postfix/master.cf") as f:
            master = f.read()
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master.replace(
                "smtp      inet  n       -       y       -       -       smtpd",
                "127.0.0.1:%d inet n - n - - smtpd" % self.port) + self.master_extra)
        # Postfix reads a file written less than two seconds ago again and
        # again until it is that old (load_file(3): "let it cool down"), in
        # the master and in every daemon it starts: written in the past, the
        # configuration and the maps are read at once.
        past = time.time() - 10
        for x in os.listdir(self.conf):
            os.utime(os.path.join(self.conf, x), (past, past))
        pf = pwd.getpwnam("postfix")
        postdrop = grp.getgrnam("postdrop").gr_gid
        for x in QUEUE_DIRS:
            os.makedirs(os.path.join(self.queue, x), mode=0o700)
            os.chown(os.path.join(self.queue, x), pf.pw_uid, 0)
        for x, mode in (("maildrop", 0o730), ("public", 0o710)):
            os.makedirs(os.path.join(self.queue, x))
            os.chmod(os.path.join(self.queue, x), mode)
            os.chown(os.path.join(self.queue, x), pf.pw_uid, postdrop)
        os.makedirs(os.path.join(self.queue, "pid"))
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        with open(os.path.join(self.dir, "master.stderr"), "wb") as err:
            self.proc = subprocess.Popen([MASTER, "-c", self.conf, "-d"],
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True)

    def _ready(self):
        """True once smtpd greets with this Postfix's own name; what the
        last probe saw is kept for _seen()."""
        if self.proc.poll() is not None:
            with open(os.path.join(self.dir, "master.stderr"), errors="replace") as f:
                err = f.read().strip()
            raise MasterExited(err or self.log()[-2000:] or "exit %d" % self.proc.returncode)
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", self.port))
            greeting = s.recv(512)
            s.sendall(b"QUIT\r\n")
            self.probe = "greeted %r" % greeting[:120]
            return greeting.startswith(("220 %s " % self.hostname).encode())
        except OSError as e:
            self.probe = "%s: %s" % (type(e).__name__, e)
            return False
        finally:
            s.close()

    def _seen(self):
        """What can be seen of a master that did not start: the last probe,
        the master's processes and their states, its stderr and the log."""
        out = ["last probe of port %d: %s" % (self.port, getattr(self, "probe", "none"))]
        ps = subprocess.run(["ps", "-o", "pid,ppid,stat,wchan:20,etime,args", "-s", str(self.proc.pid)],
                            capture_output=True, text=True)
        out.append("processes of the master's session:\n" + ps.stdout.rstrip())
        try:
            with open(os.path.join(self.dir, "master.stderr"), errors="replace") as f:
                out.append("master stderr: " + (f.read().strip()[-2000:] or "(empty)"))
        except OSError as e:
            out.append("master stderr: %s" % e)
        out.append("maillog: " + (self.log()[-2000:] or "(empty)"))
        return "\n".join(out)

    def _stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # master stops its children
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log(self):
        try:
            with open(os.path.join(self.dir, "maillog"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def queued(self):
        """Messages still in Postfix's queue."""
        n = 0
        for x in ("incoming", "active", "deferred", "maildrop", "hold"):
            for _, _, files in os.walk(os.path.join(self.queue, x)):
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
        self._stop()
