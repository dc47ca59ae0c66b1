#!/usr/bin/python3
"""A CSV import that fails after about 1,000 good rows leaves the database as
it was and says why.

The import reads in chunks of 256 rows and writes each chunk as soon as the
reader hands it over, all inside one transaction; these cases fail it after
three chunks (768 rows) are written, where a commit on the error path would
keep them:

read_error   `sub import -` reading a TCP connection: the sender sends a
             header and 1,000 good rows, waits until the mailer has read them
             all, and resets the connection (ECONNRESET, as when ssh or a
             network file system dies midway). Unconfirmed mode, so the
             confirmation send and its envelopes must vanish too.
bad_row      a file whose row 1,001 (line 1,002) has an attribute of 400,000
             control characters: its JSON form passes the import's limit and
             the import stops there, naming the line.

In both: the exit code says what kind of failure, stderr says why, no summary
is printed, and every table is exactly as before (two people subscribed
earlier stay as they were).
"""
import fcntl
import os
import socket
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import CliEnv, Checks, fail, write_ini  # noqa: E402

_checks = Checks()
check = _checks.check
TABLES = ("subscribers", "subscriptions", "sends", "envelopes", "suppressions")


class Env(CliEnv):
    def __init__(self, name):
        super().__init__("subs-import-fails-" + name)
        write_ini(self.config, [
            ("site", {"base_url": "https://tin.hagiang.example"}),
            ("database", {"path": self.db_path}),
            ("mail", {"from_address": "tin-tuc@hagiang.example",
                      "secret": "import-test-secret-0123456789"})])
        self.mailer("init")
        self.mailer("list", "create", "tuan", "--name", "Bản tin tuần", "--optin", "double")
        self.mailer("sub", "add", "co.san@example.vn", "--list", "tuan", "--name", "Có Sẵn",
                    "--confirmed")
        self.mailer("sub", "add", "cho.xac.nhan@example.vn", "--list", "tuan")

    def snapshot(self):
        return {t: self.q("SELECT * FROM %s ORDER BY 1, 2" % t) for t in TABLES}


def rows(n, start=1):
    return "".join("nguoi%d@example.vn,Người đọc %d,Hà Giang\r\n" % (i, i)
                   for i in range(start, start + n))


def expect_unchanged(e, before, what):
    after = e.snapshot()
    for t in TABLES:
        check(after[t] == before[t], "%s: table %s changed: %d rows before, %d after"
              % (what, t, len(before[t]), len(after[t])))
    check(e.q("SELECT count(*) FROM subscribers WHERE email_key LIKE 'nguoi%'")[0][0] == 0,
          "%s: new subscribers kept" % what)


def read_error():
    e = Env("read-error")
    before = e.snapshot()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    sender = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    srv.close()
    p = subprocess.Popen(e.cmd("sub", "import", "-", "--list", "tuan", "--mode", "unconfirmed"),
                         stdin=conn, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=e.env())
    data = ("email,name,tinh\r\n" + rows(1000)).encode()
    sender.sendall(data)
    # Until the mailer has read every byte (the receive queue it shares with
    # our copy of the socket is empty), then the reset.
    deadline = time.time() + 60
    while True:
        queued = struct.unpack("i", fcntl.ioctl(conn, termios.FIONREAD, b"\0" * 4))[0]
        if queued == 0:
            break
        if p.poll() is not None or time.time() > deadline:
            fail("the import did not read its input: %d bytes left, exit %s"
                 % (queued, p.poll()))
        time.sleep(0.01)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sender.close()
    conn.close()
    out, err = p.communicate(timeout=60)
    out, err = out.decode(), err.decode()
    check(p.returncode == 7, "read error: exit %d, wanted 7 (I/O): %s" % (p.returncode, err))
    check("read error: Connection reset by peer" in err,
          "read error: stderr does not say why: %r" % err)
    check(out == "", "read error: a summary was printed: %r" % out)
    expect_unchanged(e, before, "read error")


def bad_row():
    e = Env("bad-row")
    before = e.snapshot()
    path = os.path.join(e.dir, "readers.csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("email,name,tinh\r\n")
        f.write(rows(1000))
        f.write("to.qua@example.vn,Dòng quá lớn,\"%s\"\r\n" % ("\x01" * 400000))
        f.write(rows(50, 1001))
    p = e.mailer("sub", "import", path, "--list", "tuan", code=None)
    out, err = p.stdout.decode(), p.stderr.decode()
    check(p.returncode == 3, "bad row: exit %d, wanted 3 (bad data): %s" % (p.returncode, err))
    check("line 1002:" in err, "bad row: stderr does not name line 1002: %r" % err[-500:])
    check(out == "", "bad row: a summary was printed: %r" % out)
    expect_unchanged(e, before, "bad row")
    # the same file without that row goes in whole
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("email,name,tinh\r\n" + rows(1050))
    p = e.mailer("sub", "import", path, "--list", "tuan")
    check("1050 new subscribers" in p.stdout.decode(), "clean file: %r" % p.stdout)


def main():
    read_error()
    bad_row()
    if _checks.failures:
        print("%d check(s) failed" % len(_checks.failures), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
