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

It is the shared private Postfix (tests/lib/private_postfix.py) with
these maps and main.cf lines; it exits the test with 77 when Postfix is not
installed or the tests do not run as root.

`main_extra`, `master_extra` and `transport_extra` are appended to its
main.cf (a later line wins), master.cf and transport table.

    with Postfix("name", maildir=dv.maildir()) as pf: pf.port, pf.wait_idle()
"""
import os
import pwd
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import free_port  # noqa: E402
from private_postfix import PrivatePostfix  # noqa: E402

MAIN_CF = """smtpd_reject_unlisted_recipient = no
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
"""


class Postfix(PrivatePostfix):
    def __init__(self, name, maildir, mailbox_owner="nobody", users=(), main_extra="",
                 master_extra="", transport_extra=""):
        super().__init__(name, "mx.test.example", master_extra=master_extra)
        pw = pwd.getpwnam(mailbox_owner)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.main = MAIN_CF.format(c=self.conf, uid=self.uid, gid=self.gid) + main_extra
        self.maildir = maildir
        self.users = ("ok", "full") + tuple(users)
        self.transport_extra = transport_extra
        self.vmail = os.path.join(self.dir, "vmail")

    def setup(self):
        uid, gid, vmail = self.uid, self.gid, self.vmail
        os.makedirs(vmail)
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
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            for x in self.users:
                f.write("%s@example.test %s/%s\n" % (x, vmail.lstrip("/"), x))
            f.write("bounces@hagiang.example %s/\n" % self.maildir.lstrip("/"))
        with open(os.path.join(self.conf, "transport"), "w") as f:
            f.write("unreachable.test smtp:[127.0.0.1]:%d\n" % free_port())
            f.write(self.transport_extra)

    def mailbox(self, user):
        """The mbox file virtual(8) delivered to user@example.test."""
        with open(os.path.join(self.vmail, user), "rb") as f:
            return f.read()
