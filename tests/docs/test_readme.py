#!/usr/bin/python3
"""The README's "Using it" block, run as a new user would type it.

The block is read from README.md itself (the first ```sh block under
"## Using it"), continuation lines joined, and each command is run by bash
in a fresh folder holding only the repository's examples/ (a link) and a
mailer.ini that moves [http] listen to a free port (so that `mailer serve`
does not collide with anything on 8080); everything else is the built-in
default: var/mailer.db, the dir transport under var/outbox. `mailer` is
found on PATH where the install target put it (`cmake --install BUILD
--prefix FOLDER`, as `scripts/run.sh` does with /usr/local). Every command must exit 0;
`mailer serve` must answer /healthz and the share form of the sample
article, then stop on SIGTERM with exit 0. Afterwards the database and the
outbox folder hold what the walk-through promises: the share delivered,
the readers imported with their Vietnamese names, a digest sent to them.
"""
import http.client
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import SRC, Checks, build_dir, free_port, mailer_environ  # noqa: E402

_c = Checks()
check = _c.check


def readme_block():
    with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
        text = f.read()
    sec = text.split("\n## Using it", 1)[1]
    m = re.search(r"```sh\n(.*?)```", sec, re.S)
    lines, cur = [], ""
    for raw in m.group(1).splitlines():
        cur += raw.rstrip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        if cur.strip():
            lines.append(cur.strip())
        cur = ""
    return lines


def main():
    work = os.path.join(build_dir(), "testtmp", "readme")
    subprocess.run(["rm", "-rf", work], check=True)
    os.makedirs(work)
    os.symlink(os.path.join(SRC, "examples"), os.path.join(work, "examples"))
    port = free_port()
    with open(os.path.join(work, "mailer.ini"), "w", encoding="utf-8") as f:
        f.write("[http]\nlisten = 127.0.0.1:%d\n" % port)
    # the install target, as scripts/run.sh uses it, into a prefix of our own
    prefix = os.path.join(work, "prefix")
    p = subprocess.run(["cmake", "--install", build_dir(), "--prefix", prefix],
                       capture_output=True, text=True)
    check(p.returncode == 0 and os.access(os.path.join(prefix, "bin", "mailer"), os.X_OK),
          "cmake --install: %d %s %s" % (p.returncode, p.stdout, p.stderr))
    env = mailer_environ(extra={"PATH": os.path.join(prefix, "bin") + ":" + os.environ["PATH"]})
    p = subprocess.run(["bash", "-c", "command -v mailer"], env=env, capture_output=True,
                       text=True)
    check(p.stdout.strip() == os.path.join(prefix, "bin", "mailer"), "mailer on PATH: %r" %
          p.stdout)
    env.pop("MAILER_CONFIG", None)
    cmds = readme_block()
    check(len(cmds) >= 15 and all(c.startswith("mailer ") for c in cmds),
          "the block is mailer commands: %r" % cmds)
    for c in cmds:
        if c.split("#")[0].strip() == "mailer serve":
            serve(c, work, env, port)
            continue
        p = subprocess.run(["bash", "-c", c], cwd=work, env=env, capture_output=True, timeout=300)
        check(p.returncode == 0, "%s\n  exit %d\n  stdout: %s\n  stderr: %s" % (
            c, p.returncode, p.stdout.decode(errors="replace")[-800:],
            p.stderr.decode(errors="replace")[-800:]))

    db = os.path.join(work, "var", "mailer.db")
    con = sqlite3.connect(db)
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    check(q("SELECT count(*) FROM articles")[0][0] == 6, "six sample articles")
    check(q("SELECT count(*) FROM envelopes e JOIN sends s ON s.id = e.send_id "
            "WHERE s.kind = 'share' AND e.state = 'sent'") == [(1,)], "the share was delivered")
    names = dict(q("SELECT email, name FROM subscribers"))
    check(names.get("an.nguyen@example.vn") == "Nguyễn Văn An", "readers imported with names: %r"
          % names)
    check(q("SELECT count(*) FROM digests WHERE articles > 0") == [(1,)], "one digest made")
    check(q("SELECT count(*) FROM envelopes e JOIN sends s ON s.id = e.send_id "
            "WHERE s.kind = 'digest' AND e.state = 'sent'")[0][0] == len(names),
          "the digest reached every reader")
    check(os.path.exists(os.path.join(work, "preview.eml")), "the preview was written")
    with open(os.path.join(work, "readers-export.csv"), "rb") as f:
        check(f.read(3) == b"\xef\xbb\xbf", "the export opens with a BOM")
    con.close()
    if _c.failures:
        sys.exit(1)
    print("ok: %d commands of the README ran" % len(cmds))


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def serve(c, work, env, port):
    proc = subprocess.Popen(["bash", "-c", "exec " + c.split("#")[0]], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        end = time.time() + 30
        st = None
        while time.time() < end and st is None:
            try:
                st, _ = get(port, "/healthz")
            except OSError:
                time.sleep(0.1)
        check(st == 200, "mailer serve answers /healthz: %r" % st)
        st, body = get(port, "/share/ha-giang-tong-ket-thi-dua-2021")
        check(st == 200 and "Gửi" in body.decode(), "the share form of the sample: %d" % st)
        st, body = get(port, "/subscribe")
        check(st == 200 and "Bản tin Hà Giang" in body.decode(), "the public list is offered")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    check(rc == 0, "mailer serve stopped with %d: %s" % (rc, proc.stdout.read()[-2000:]))


main()
