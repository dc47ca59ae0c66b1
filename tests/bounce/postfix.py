"""A private Postfix for the bounce tests: its own configuration, queue and
log under the test folder, smtpd on a random loopback port, and virtual(8)
delivery, so that its genuine DSNs reach the bounce mailbox:

  - ok@example.test, full@example.test and the `users` given are
    mailboxes (full's is filled past virtual_mailbox_limit: delivery fails
    with 5.2.2; pf.mailbox(user) is what reached one);
  - any other user at example.test is accepted at RCPT and then unknown
    to virtual(8): a 5.1.1 bounce;
  - unreachable.test is routed to a closed loopback port, and messages are
    tried once (maximal_queue_lifetime = 0): a 4.4.1 "expired" bounce;
  - bounces@hagiang.example (and its +extensions: VERP) is delivered into
    the Dovecot user's maildir, where `mailer bounce poll` reads it.

The master runs in the foreground of its own session (master -d), as root
(Postfix's master needs it; its daemons drop to the postfix user), and is
stopped by its pid. Exits the test with 77 when Postfix is not installed or
the tests do not run as root.

`main_extra`, `master_extra` and `transport_extra` are appended to its
main.cf (a later line wins), master.cf and transport table.

    with Postfix("name", maildir=dv.maildir()) as pf: pf.port, pf.wait_idle()
"""
import grp
import os
import pwd
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


class Postfix:
    def __init__(self, name, maildir, mailbox_owner="nobody", users=(), main_extra="",
                 master_extra="", transport_extra=""):
        if not os.path.exists(MASTER):
            print("SKIP: postfix is not installed")
            sys.exit(77)
        if os.getuid() != 0:
            print("SKIP: a private Postfix needs root to start its master")
            sys.exit(77)
        self.dir = os.path.join(build_dir(), "testtmp", "postfix-" + name)
        self.maildir = maildir
        self.owner = mailbox_owner
        self.users = ("ok", "full") + tuple(users)
        self.main_extra, self.master_extra, self.transport_extra = main_extra, master_extra, transport_extra
        self.proc = None

    def __enter__(self):
        d = self.dir
        shutil.rmtree(d, ignore_errors=True)
        conf, queue, vmail = (os.path.join(d, x) for x in ("conf", "queue", "vmail"))
        for x in (conf, vmail, os.path.join(d, "data")):
            os.makedirs(x)
        pw = pwd.getpwnam(self.owner)
        uid, gid = pw.pw_uid, pw.pw_gid
        self.port = free_port()
        # the maildir Dovecot serves: created now, owned by its user
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.maildir, sub), exist_ok=True)
        os.chown(os.path.dirname(self.maildir), uid, gid)  # the user's home
        os.chown(self.maildir, uid, gid)
        for root, dirs, files in os.walk(self.maildir):
            for x in dirs + files:
                os.chown(os.path.join(root, x), uid, gid)
        with open(os.path.join(vmail, "full"), "wb") as f:
            f.write(b"x" * 250000)
        for x in self.users:
            if x != "full":
                open(os.path.join(vmail, x), "wb").close()
            os.chown(os.path.join(vmail, x), uid, gid)
        os.chown(vmail, uid, gid)
        self.vmail = vmail
        with open(os.path.join(conf, "vmailbox"), "w") as f:
            for x in self.users:
                f.write("%s@example.test %s/%s\n" % (x, vmail.lstrip("/"), x))
            f.write("bounces@hagiang.example %s/\n" % self.maildir.lstrip("/"))
        with open(os.path.join(conf, "transport"), "w") as f:
            f.write("unreachable.test smtp:[127.0.0.1]:%d\n" % free_port())
            f.write(self.transport_extra)
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write("""compatibility_level = 3.6
queue_directory = {q}
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test.example
mydomain = test.example
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_reject_unlisted_recipient = no
virtual_mailbox_domains = example.test, hagiang.example
virtual_mailbox_base = /
virtual_mailbox_maps = texthash:{c}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_mailbox_limit = 200000
message_size_limit = 150000
recipient_delimiter = +
transport_maps = texthash:{c}/transport
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
smtputf8_enable = no
""".format(q=queue, d=d, c=conf, uid=uid, gid=gid) + self.main_extra)
        with open("/etc/postfix/master.cf") as f:
            master = f.read()
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.write(master.replace(
                "smtp      inet  n       -       y       -       -       smtpd",
                "127.0.0.1:%d inet n - n - - smtpd" % self.port) + self.master_extra)
        pf_uid = pwd.getpwnam("postfix").pw_uid
        postdrop = grp.getgrnam("postdrop").gr_gid
        for x in QUEUE_DIRS:
            os.makedirs(os.path.join(queue, x), mode=0o700)
            os.chown(os.path.join(queue, x), pf_uid, 0)
        for x, mode in (("maildrop", 0o730), ("public", 0o710)):
            os.makedirs(os.path.join(queue, x))
            os.chmod(os.path.join(queue, x), mode)
            os.chown(os.path.join(queue, x), pf_uid, postdrop)
        os.makedirs(os.path.join(queue, "pid"))
        os.chown(os.path.join(d, "data"), pf_uid, pwd.getpwnam("postfix").pw_gid)
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

    def mailbox(self, user):
        """The mbox file virtual(8) delivered to user@example.test."""
        with open(os.path.join(self.vmail, user), "rb") as f:
            return f.read()

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
            for _, _, files in os.walk(os.path.join(self.dir, "queue", x)):
                n += len(files)
        return n

    def wait_idle(self, timeout=60):
        time.sleep(0.5)
        wait_for(lambda: self.queued() == 0, timeout, "postfix's queue to empty",
                 lambda: self.log()[-3000:])

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # master stops its children
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
