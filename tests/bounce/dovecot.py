"""A private Dovecot for the bounce tests: IMAP, IMAPS, POP3 and POP3S on
random loopback ports, one test user in a passwd-file, the test CA's
certificate for "localhost" (tests/smtpd/make-certs.sh), plus two more
listeners whose certificates must be refused: 127.0.0.2 serves a
certificate of the test CA for another name, 127.0.0.3 a self-signed one.
Run unprivileged: as the current user, or as nobody when the tests run as
root.

    with Dovecot("name") as dv:
        dv.imap_url(tls="imaps"), dv.append(folder, bytes), dv.messages("Processed")

Exits the test with 77 if Dovecot is not installed."""
import imaplib
import os
import pwd
import grp
import shutil
import signal
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import build_dir, certs, free_port, wait_for  # noqa: E402

USER = "bounces@hagiang.example"
PASSWORD = "Mật-khẩu thử 1"  # non-ASCII on purpose: AUTHENTICATE PLAIN carries UTF-8
DOVECOT = "/usr/sbin/dovecot"


def _sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


class Dovecot:
    def __init__(self, name, extra_conf="", password=PASSWORD):
        if not os.path.exists(DOVECOT):
            print("SKIP: dovecot not installed (dovecot-imapd, dovecot-pop3d)")
            sys.exit(77)
        self.dir = os.path.join(build_dir(), "testtmp", "dovecot-" + name)
        self.extra = extra_conf
        self.password = password
        self.proc = None

    def __enter__(self):
        d = self.dir
        shutil.rmtree(d, ignore_errors=True)
        for sub in ("run", "state", "home"):
            os.makedirs(os.path.join(d, sub))
        c = certs()
        # a CA-signed certificate for another name, and the untrusted one
        if not os.path.exists(os.path.join(c, "wrongname.pem")):
            _sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=wrong.example",
                 "-keyout", os.path.join(c, "wrongname.key"), "-out", os.path.join(c, "wrongname.csr")])
            ext = os.path.join(c, "wrongname.ext")
            with open(ext, "w") as f:
                f.write("subjectAltName=DNS:wrong.example\n")
            _sh(["openssl", "x509", "-req", "-in", os.path.join(c, "wrongname.csr"), "-CA",
                 os.path.join(c, "ca.pem"), "-CAkey", os.path.join(c, "ca.key"), "-CAcreateserial",
                 "-days", "30", "-extfile", ext, "-out", os.path.join(c, "wrongname.pem")])
        for n in ("server", "wrongname", "untrusted"):
            for ext in ("pem", "key"):
                shutil.copy(os.path.join(c, "%s.%s" % (n, ext)), os.path.join(d, "%s.%s" % (n, ext)))
        self.ca = os.path.join(c, "ca.pem")
        self.ports = {k: free_port() for k in ("imap", "imaps", "pop3", "pop3s")}
        if os.getuid() == 0:
            run_as, group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
        else:
            run_as, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        with open(os.path.join(d, "passwd"), "w") as f:
            f.write("%s:{PLAIN}%s\n" % (USER, self.password))
        p = self.ports
        conf = """
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1, 127.0.0.2, 127.0.0.3
ssl = yes
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.key
local 127.0.0.2 {{
  ssl_cert = <{d}/wrongname.pem
  ssl_key = <{d}/wrongname.key
}}
local 127.0.0.3 {{
  ssl_cert = <{d}/untrusted.pem
  ssl_key = <{d}/untrusted.key
}}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {u}
default_internal_group = {g}
default_login_user = {u}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={u} gid={g} home={d}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
protocol pop3 {{
  pop3_uidl_format = %08Xu%08Xv
}}
{extra}
""".format(d=d, u=run_as, g=group, extra=self.extra, **p)
        with open(os.path.join(d, "dovecot.conf"), "w") as f:
            f.write(conf)
        cmd = [DOVECOT, "-F", "-c", os.path.join(d, "dovecot.conf")]
        if os.getuid() == 0:
            _sh(["chown", "-R", "%s:%s" % (run_as, group), d])
            os.chmod(d, 0o755)
            cmd = ["setpriv", "--reuid=" + run_as, "--regid=" + group, "--clear-groups"] + cmd
        self.log = open(os.path.join(d, "stdout.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_for(self._ready, 20, "dovecot to listen", lambda: self._log_tail())
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("dovecot exited: " + self._log_tail())
        import socket
        tls_off = "ssl = no" in self.extra  # then only the plain listeners open
        for name, port in self.ports.items():
            if tls_off and name.endswith("s"):
                continue
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                return False
            finally:
                s.close()
        return True

    def _log_tail(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    # ---- for the tests

    def maildir(self):
        """The user's maildir (Postfix's virtual(8) delivers into it in the e2e test)."""
        return os.path.join(self.dir, "home", USER, "Maildir")

    def url(self, scheme, host="localhost", folder=""):
        port = self.ports[{"imaps": "imaps", "imap": "imap", "pop3s": "pop3s", "pop3": "pop3"}[scheme]]
        return "%s://%s:%d%s" % (scheme, host, port, ("/" + folder) if folder else "")

    def mailbox(self, scheme="imaps", host="localhost", **extra):
        """A [bounce.NAME] section body for this server."""
        m = {"role": "bounces", "url": self.url(scheme, host), "username": USER, "password": self.password}
        m.update(extra)
        return m

    def client(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        c = imaplib.IMAP4_SSL("localhost", self.ports["imaps"], ssl_context=ctx)
        if "AUTH=PLAIN" in c.capabilities:
            c.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (USER, self.password)).encode())
        else:
            c.login(USER, self.password)
        return c

    def logins(self):
        """Successful logins so far, from Dovecot's log."""
        with open(os.path.join(self.dir, "dovecot.log"), errors="replace") as f:
            return f.read().count("Login: user=")

    def append(self, data, folder="INBOX"):
        c = self.client()
        try:
            typ, _ = c.append(folder, None, None, data if isinstance(data, bytes) else data.encode())
            if typ != "OK":
                raise RuntimeError("APPEND failed")
        finally:
            c.logout()

    def messages(self, folder="INBOX"):
        """The messages in `folder` (bytes each), [] if it does not exist."""
        c = self.client()
        try:
            typ, _ = c.select('"%s"' % folder, readonly=True)
            if typ != "OK":
                return []
            typ, data = c.uid("SEARCH", None, "UNDELETED")
            out = []
            for uid in data[0].split():
                typ, d = c.uid("FETCH", uid, "(BODY.PEEK[])")
                out.append(d[0][1])
            return out
        finally:
            c.logout()
