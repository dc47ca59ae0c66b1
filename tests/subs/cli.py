#!/usr/bin/python3
"""`mailer list ...` and `mailer sub ...` end to end, checking the database.

Every case runs the built binary against a fresh SQLite file and checks
rows with Python's sqlite3 module, the exit code and the message. The kill
case starts an import of a large file, waits until its progress bar shows
it is well under way, SIGKILLs it and checks nothing changed.
"""
import csv
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import Checks  # noqa: E402

MAILER = os.environ["MAILER_BIN"]
_checks = Checks()
check = _checks.check
FAILS = _checks.failures


class Env:
    def __init__(self, extra=""):
        self.dir = tempfile.mkdtemp(prefix="subs-cli-")
        self.db = os.path.join(self.dir, "m.db")
        self.ini = os.path.join(self.dir, "m.ini")
        with open(self.ini, "w") as f:
            f.write(f"[database]\npath = {self.db}\n[site]\nbase_url = https://tin.example.vn\n")
            f.write(extra.format(dir=self.dir))
        self.env = dict(os.environ, MAILER_CONFIG=self.ini, MAILER_SECRET="s" * 32,
                        MAILER_LOG="warn")
        r = self.run("init")
        assert r.returncode == 0, r.stderr

    def run(self, *args, stdin=None):
        r = subprocess.run([MAILER, *args], env=self.env, capture_output=True, input=stdin,
                           timeout=120)
        r.stdout = r.stdout.decode("utf-8")
        r.stderr = r.stderr.decode("utf-8")
        return r

    def q(self, sql):
        c = sqlite3.connect(self.db)
        try:
            return c.execute(sql).fetchone()[0]
        finally:
            c.close()


def thousand(path):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\ufeffemail,name,city\r\n")
        for i in range(1, 1001):
            if i == 17:
                f.write("no-at-sign.vn,Bad,X\r\n")
            elif i == 500:
                f.write(f"u{i}@x..vn,Bad,X\r\n")
            elif i == 998:
                f.write(f"\"a b\"@x.vn,Bad,X\r\n")
            else:
                f.write(f"u{i}@Example.VN,\"Nguyễn, Văn {i}\",\"Hà Nội\"\r\n")


def test_help_and_lists(e):
    for args in (["list", "--help"], ["sub", "--help"], ["list", "create", "--help"],
                 ["list", "ls", "--help"], ["list", "show", "--help"], ["list", "rm", "--help"],
                 ["sub", "add", "--help"], ["sub", "ls", "--help"], ["sub", "rm", "--help"],
                 ["sub", "import", "--help"], ["sub", "export", "--help"],
                 ["sub", "show", "--help"], ["sub", "erase", "--help"]):
        r = e.run(*args)
        check(r.returncode == 0 and "usage: mailer" in r.stdout, f"help {args}")
    r = e.run("list", "create", "Bad_Slug", "--name", "x")
    check(r.returncode == 3 and "slug" in r.stderr, "bad slug refused with reason")
    r = e.run("list", "create", "tin-tuc", "--name", "Tin tức", "--optin", "single")
    check(r.returncode == 0, "list create single")
    r = e.run("list", "create", "tuan", "--name", "Bản tin tuần", "--description", "Mỗi thứ Hai")
    check(r.returncode == 0, "list create double")
    r = e.run("list", "create", "tuan", "--name", "again")
    check(r.returncode != 0 and "exists" in r.stderr, "duplicate list refused")
    r = e.run("list", "create", "x", "--name")
    check(r.returncode == 1, "missing option value is a usage error")
    r = e.run("list", "ls")
    check(r.returncode == 0 and "tin-tuc" in r.stdout and "Bản tin tuần" in r.stdout, "list ls")
    r = e.run("list", "show", "tuan")
    check(r.returncode == 0 and "double" in r.stdout and "Mỗi thứ Hai" in r.stdout, "list show")
    r = e.run("list", "show", "nope")
    check(r.returncode == 5, "unknown list exits 5")
    check(e.q("SELECT optin FROM lists WHERE slug='tin-tuc'") == "single", "optin stored")


def test_add_rm(e):
    r = e.run("sub", "add", "người-dùng@bưuđiện.vn", "--list", "tin-tuc")
    check(r.returncode == 3 and "SMTPUTF8" in r.stderr, f"non-ASCII local part refused: {r.stderr}")
    r = e.run("sub", "add", "a@b", "--list", "tin-tuc")
    check(r.returncode == 3 and "no dot" in r.stderr, "TLD-only refused")
    r = e.run("sub", "add", "Joe <joe@x.vn>", "--list", "tin-tuc")
    check(r.returncode == 3 and "display name" in r.stderr, "display name refused")
    r = e.run("sub", "add", "x@x.vn", "--list", "nope")
    check(r.returncode == 5, "unknown list: exit 5")
    check(e.q("SELECT count(*) FROM subscribers") == 0, "nothing written by refusals")
    r = e.run("sub", "add", "An@BưuĐiện.VN", "--list", "tin-tuc", "--name", "Nguyễn An")
    check(r.returncode == 0 and "confirmed" in r.stdout, "add single opt-in")
    check(e.q("SELECT email_ascii FROM subscribers") == "An@xn--buin-1ua66gr30m.vn", "punycode")
    r = e.run("sub", "add", "an@bưuđiện.vn", "--list", "tuan")
    check(r.returncode == 0 and "confirmation mail queued" in r.stdout, "add double opt-in")
    check(e.q("SELECT count(*) FROM envelopes e JOIN sends s ON s.id=e.send_id "
              "WHERE s.kind='confirm' AND e.recipient='An@xn--buin-1ua66gr30m.vn'") == 1,
          "confirm envelope queued")
    check(e.q("SELECT count(*) FROM subscribers") == 1, "same person, one row")
    r = e.run("sub", "ls", "--status", "unconfirmed")
    check(r.returncode == 0 and "tuan" in r.stdout and "tin-tuc" not in r.stdout, "ls --status")
    r = e.run("sub", "ls", "--search", "bưu")
    check(r.returncode == 0 and r.stdout.count("An@bưuđiện.vn") == 2, "ls --search")
    r = e.run("sub", "ls", "--status", "maybe")
    check(r.returncode == 1, "bad status is a usage error")
    r = e.run("sub", "rm", "an@bưuđiện.vn", "--list", "tuan")
    check(r.returncode == 0, "rm from one list")
    check(e.q("SELECT count(*) FROM envelopes WHERE state='cancelled'") == 1,
          "rm cancels queued confirm mail")
    r = e.run("sub", "rm", "an@bưuđiện.vn", "--list", "tuan")
    check(r.returncode == 5, "rm again: not found")
    r = e.run("sub", "rm", "an@bưuđiện.vn")
    check(r.returncode == 0 and e.q("SELECT count(*) FROM subscribers") == 0, "rm entirely")


def test_import(e):
    path = os.path.join(e.dir, "thousand.csv")
    thousand(path)
    r = e.run("sub", "import", path, "--list", "tuan", "--dry-run")
    check(r.returncode == 0 and "dry run" in r.stdout, "dry run reports")
    check("997 new subscribers" in r.stdout, f"dry run counts: {r.stdout}")
    check(e.q("SELECT count(*) FROM subscribers") == 0, "dry run writes nothing")
    r = e.run("sub", "import", path, "--list", "tuan")
    check(r.returncode == 0, f"import ok: {r.stderr}")
    lines = sorted(int(m) for m in re.findall(r"^line (\d+):", r.stderr, re.M))
    check(lines == [18, 501, 999], f"bad lines named: {lines} {r.stderr}")
    check("no @" in r.stderr and "empty label" in r.stderr and "closing quote" in r.stderr,
          "bad rows have reasons")
    check(e.q("SELECT count(*) FROM subscribers") == 997, "997 imported")
    check(e.q("SELECT count(*) FROM subscriptions WHERE status='confirmed'") == 997, "confirmed")
    check(e.q("SELECT name FROM subscribers WHERE email_key='u5@example.vn'") == "Nguyễn, Văn 5",
          "quoted name with comma")
    check(json.loads(e.q("SELECT attributes FROM subscribers WHERE email_key='u5@example.vn'"))
          == {"city": "Hà Nội"}, "other columns into attributes")
    before = e.q("SELECT group_concat(id || updated_at) FROM subscribers")
    r = e.run("sub", "import", path, "--list", "tuan")
    check(r.returncode == 0 and "0 new subscribers" in r.stdout and "997 already there" in r.stdout,
          f"second import adds nobody: {r.stdout}")
    check(e.q("SELECT count(*) FROM subscribers") == 997
          and e.q("SELECT count(*) FROM subscriptions") == 997, "twice adds nobody twice")
    check(e.q("SELECT group_concat(id || updated_at) FROM subscribers") == before,
          "second import changes nothing")
    # unconfirmed mode into another list queues one confirm send, one envelope each
    r = e.run("sub", "import", path, "--list", "tin-tuc", "--mode", "unconfirmed")
    check(r.returncode == 0 and "997 confirmation mails queued" in r.stdout, "unconfirmed mode")
    check(e.q("SELECT count(*) FROM sends WHERE kind='confirm'") >= 1 and
          e.q("SELECT count(*) FROM envelopes e JOIN sends s ON s.id=e.send_id WHERE "
              "s.kind='confirm' AND e.state='queued'") == 997, "confirm envelopes")
    # blocklist
    bl = os.path.join(e.dir, "block.csv")
    with open(bl, "w") as f:
        f.write("email\r\nu2@example.vn\r\nspam@bad.example\r\n")
    r = e.run("sub", "import", bl, "--mode", "blocklist")
    check(r.returncode == 0 and "2 added to the suppression list" in r.stdout, "blocklist")
    r = e.run("sub", "add", "spam@bad.example", "--list", "tuan")
    check(r.returncode != 0 and "suppression" in r.stderr, "blocked address not added")
    r = e.run("sub", "import", os.path.join(e.dir, "missing.csv"), "--list", "tuan")
    check(r.returncode == 7, "missing file: I/O error")
    nohdr = os.path.join(e.dir, "nohdr.csv")
    with open(nohdr, "w") as f:
        f.write("phone,name\r\n0912,A\r\n")
    r = e.run("sub", "import", nohdr, "--list", "tuan")
    check(r.returncode == 3 and "email" in r.stderr, "no email column refused")


def test_export_show_erase(e):
    r = e.run("sub", "export", "--list", "tuan")
    check(r.returncode == 0, "export")
    check(r.stdout.startswith("\ufeff"), "export opens with a UTF-8 BOM")
    rows = list(csv.reader(io.StringIO(r.stdout[1:], newline="")))
    check(not any("\r" in f for row in rows for f in row), "no stray CR in fields")
    check(rows[0] == ["email", "name", "status", "list", "created_at", "attributes"], "header")
    check(len(rows) == 998, f"export rows {len(rows)}")
    byemail = {x[0]: x for x in rows[1:]}
    check(byemail["u5@example.vn"][1] == "Nguyễn, Văn 5", "export quotes commas")
    check(json.loads(byemail["u5@example.vn"][5]) == {"city": "Hà Nội"}, "attributes column")
    raw = subprocess.run([MAILER, "sub", "export", "--list", "tuan"], env=e.env,
                         capture_output=True).stdout
    check(raw.count(b"\r\n") == 998 and raw.count(b"\n") == 998, "CRLF line ends")
    r = e.run("sub", "show", "U5@example.vn")
    check(r.returncode == 0, "show")
    o = json.loads(r.stdout)
    check(o["subscriber"]["name"] == "Nguyễn, Văn 5" and len(o["subscriptions"]) == 2,
          "show has the person and their subscriptions")
    check(o["subscriptions"][0]["optin_ip"] == "import", "opt-in IP recorded")
    r = e.run("sub", "show", "u2@example.vn")
    check(r.returncode == 0 and json.loads(r.stdout)["suppression"]["reason"] == "manual",
          "show has the suppression")
    r = e.run("sub", "erase", "u5@example.vn")
    check(r.returncode == 0 and "hashed" not in r.stdout, "erase without suppression")
    check(e.q("SELECT count(*) FROM subscribers WHERE email_key='u5@example.vn'") == 0, "gone")
    r = e.run("sub", "show", "u5@example.vn")
    check(r.returncode == 5, "nothing left to show")
    r = e.run("sub", "erase", "u2@example.vn")
    check(r.returncode == 0 and "hashed suppression" in r.stdout, "erase keeps hash")
    check(e.q("SELECT count(*) FROM suppressions WHERE email_key='u2@example.vn'") == 0 and
          e.q("SELECT count(*) FROM suppressions WHERE email_key IS NULL") == 1, "only the hash")
    r = e.run("sub", "add", "u2@example.vn", "--list", "tuan")
    check(r.returncode != 0, "erased+suppressed address stays unmailable")


def test_killed_import(e):
    big = os.path.join(e.dir, "big.csv")
    subprocess.run([sys.executable, os.path.join(os.environ["MAILER_SOURCE_DIR"], "bench",
                                                 "import", "gen.py"), "400000", big], check=True)
    before = [e.q(f"SELECT count(*) FROM {t}") for t in ("subscribers", "subscriptions")]
    p = subprocess.Popen([MAILER, "sub", "import", big, "--list", "tuan", "--progress"],
                         env=e.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = {"pct": 0.0}

    def reader():
        buf = b""
        while True:
            chunk = p.stderr.read1(4096)
            if not chunk:
                return
            buf = (buf + chunk)[-4096:]
            m = re.findall(rb"(\d+)/(\d+) ", buf)
            if m:
                d, t = m[-1]
                seen["pct"] = int(d) / max(1, int(t))

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.time() + 120
    while seen["pct"] < 0.4 and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    killed_at = seen["pct"]
    alive = p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.wait()
    check(alive and 0.4 <= killed_at < 1.0, f"killed midway (at {killed_at:.0%})")
    after = [e.q(f"SELECT count(*) FROM {t}") for t in ("subscribers", "subscriptions")]
    check(after == before, f"killed import left the database as before: {before} -> {after}")
    check(e.q("PRAGMA integrity_check") == "ok", "integrity ok after kill")
    r = e.run("sub", "import", big, "--list", "tuan")
    check(r.returncode == 0 and "400000 new subscribers" in r.stdout,
          f"the import then runs to the end: {r.stdout} {r.stderr[-300:]}")


def scan(db, needles):
    """(table, column, value) for every text value of every table holding a needle."""
    c = sqlite3.connect(db)
    hits = []
    try:
        for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            cur = c.execute(f'SELECT * FROM "{t}"')
            cols = [d[0] for d in cur.description]
            for row in cur:
                for col, v in zip(cols, row):
                    if isinstance(v, bytes):
                        v = v.decode("utf-8", "replace")
                    if isinstance(v, str) and any(n.lower() in v.lower() for n in needles):
                        hits.append((t, col, v[:80]))
    finally:
        c.close()
    return hits


def test_erase_everywhere():
    """A person who subscribed, was mailed, received a share, shared an article and then
    was blocked: after `sub erase` no text in any table holds their address or name."""
    e = Env(extra="[delivery]\ntransport = dir:{dir}/outbox\n")
    src = os.environ["MAILER_SOURCE_DIR"]
    addr, name, note = "Loan.Xoa@Example.VN", "Trịnh Thị Loan Xoá", "Gửi Loan Xoá đọc"
    r = e.run("article", "add", os.path.join(src, "examples", "articles", "tin-pccc-20211005.json"))
    check(r.returncode == 0, f"article add: {r.stderr}")
    e.run("list", "create", "tuan", "--name", "Bản tin tuần", "--optin", "double")
    e.run("list", "create", "tin", "--name", "Tin", "--optin", "single")
    r = e.run("sub", "add", addr, "--list", "tuan", "--name", name)
    check(r.returncode == 0 and "confirmation mail queued" in r.stdout, "erase: subscribed")
    e.run("sub", "add", addr, "--list", "tin")
    r = e.run("share", "tin-pccc-20211005", "--to", "loan.xoa@example.vn", "--to", "ban@x.vn",
              "--from-name", "Người Khác", "--from-email", "khac@x.vn")
    check(r.returncode == 0, f"erase: share to them: {r.stderr}")
    r = e.run("deliver", "--once")
    check(r.returncode == 0 and e.q("SELECT count(*) FROM envelopes WHERE state='sent'") == 3,
          f"erase: delivered: {r.stdout} {r.stderr}")
    r = e.run("share", "tin-pccc-20211005", "--to", "ban2@x.vn", "--from-name", name,
              "--from-email", "LOAN.xoa@example.vn", "--note", note)
    check(r.returncode == 0, f"erase: share by them: {r.stderr}")
    r = e.run("sub", "show", addr)
    o = json.loads(r.stdout) if r.returncode == 0 else {}
    env = o.get("envelopes", {})
    check(env.get("total") == 2 and env.get("by_state") == {"sent": 2}
          and sorted(x["kind"] for x in env.get("last", [])) == ["confirm", "share"]
          and all(x["sent_at"] for x in env.get("last", [])),
          f"show lists their envelopes with kind, state and dates: {env}")
    check(o.get("shares", {}).get("total") == 1
          and o["shares"]["last"][0]["article"] == "tin-pccc-20211005",
          f"show lists the shares they sent: {o.get('shares')}")
    bl = os.path.join(e.dir, "block.csv")
    with open(bl, "w") as f:
        f.write(f"email\r\n{addr}\r\n")
    r = e.run("sub", "import", bl, "--mode", "blocklist")
    check(r.returncode == 0, "erase: blocked")
    needles = ["loan.xoa@example.vn", name, note]
    check(len(scan(e.db, needles)) >= 6, "their data is in several tables before")
    r = e.run("sub", "erase", addr)
    check(r.returncode == 0 and "hashed suppression" in r.stdout and "1 share" in r.stdout,
          f"erase: {r.stdout} {r.stderr}")
    hits = scan(e.db, needles)
    check(hits == [], f"after erase no row holds their address, name or note: {hits}")
    check(e.q("SELECT count(*) FROM suppressions WHERE email_key IS NULL AND reason='manual'")
          == 1, "the hashed suppression stays")
    check(e.q("SELECT count(*) FROM envelopes WHERE recipient='ban2@x.vn' AND state='cancelled'")
          == 1, "their unsent share is withdrawn")
    check(e.q("SELECT count(*) FROM envelopes WHERE recipient IN ('ban@x.vn', 'erased')") == 3,
          "other recipients keep their envelopes")
    r = e.run("sub", "add", addr, "--list", "tin")
    check(r.returncode != 0 and "suppression" in r.stderr, "still never mailed again")
    r = e.run("sub", "erase", "nobody@x.vn")
    check(r.returncode == 5, "erase of an unknown address: exit 5")


def main():
    e = Env()
    test_help_and_lists(e)
    test_add_rm(e)
    test_import(e)
    test_export_show_erase(e)
    test_killed_import(e)
    test_erase_everywhere()
    if FAILS:
        print(f"{len(FAILS)} check(s) failed", file=sys.stderr)
        return 1
    print("subs cli: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
