"""Issue 16 item 6: world-readable secrets.

The database (the HMAC secret, every address, the token hashes) and its
-wal and -shm were created 0644 unless the mailer made the folder, and
`sub export --output` and `digest preview -o` wrote 0644. Run here with the
usual umask 022 in an admin-made folder (0755): every file holding data is
0600 and every folder the mailer makes 0700, checked with stat; a database
and an export file left 0644 by an older version or by `touch` are narrowed
(with a warning for the database).
"""
import os
import stat
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serve import Mailer, SAMPLE, check, sample_id  # noqa: E402

SHARE = "/share/" + urllib.parse.quote(sample_id(), safe="")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def private(path, want=0o600):
    check(os.path.exists(path), "%s was not written" % path)
    check(mode(path) == want, "%s is %04o, want %04o" % (path, mode(path), want))


def main():
    os.umask(0o022)
    with Mailer("sec-file-modes") as m:
        os.chmod(m.dir, 0o755)  # the admin's folder, made before the mailer ran
        private(m.db)
        m.cli("article", "add", SAMPLE)
        m.cli("list", "create", "tin-tuc", "--name", "Bản tin", "--optin", "single")
        m.cli("sub", "add", "an@example.vn", "--list", "tin-tuc", "--name", "An")
        m.start()
        st, _, _ = m.post_json(SHARE, {"to": ["ban@example.vn"], "sender_name": "An",
                                       "sender_email": "an@example.vn", "note": "Bí mật"})
        check(st == 202, "share: %d" % st)
        m.wait_for(lambda: m.eml_files(), "the share's .eml")
        # the server is running: its -wal and -shm exist now
        for f in (m.db, m.db + "-wal", m.db + "-shm"):
            private(f)
        private(m.outbox, 0o700)
        for f in m.eml_files():
            private(f)
        check(m.stop() == 0, "serve did not stop cleanly")

        out = os.path.join(m.dir, "export.csv")
        m.cli("sub", "export", "--output", out)
        private(out)
        os.chmod(out, 0o644)  # written again over a file someone made readable
        m.cli("sub", "export", "--list", "tin-tuc", "--output", out)
        private(out)
        with open(out, encoding="utf-8") as f:
            check("an@example.vn" in f.read(), "the export lost its rows")
        prev = os.path.join(m.dir, "preview.eml")
        m.cli("digest", "preview", "--list", "tin-tuc", "--to", "an@example.vn", "--since",
              "2000-01-01T00:00:00Z", "-o", prev)
        private(prev)
        comp = os.path.join(m.dir, "compose.eml")
        m.cli("compose", "share", sample_id(), "--to", "ban@example.vn", "-o", comp)
        private(comp)

        # a database left 0644 (with its -wal) by an older version: narrowed, with a warning
        os.chmod(m.db, 0o644)
        p = m.cli("queue", "status")
        private(m.db)
        check("readable by other users" in p.stderr, "no warning: %r" % p.stderr)

    # a new database in a folder the mailer makes
    with Mailer("sec-file-modes-new") as m:
        pass
    nested = os.path.join(os.path.dirname(m.db), "var", "lib", "m.db")
    cfg = os.path.join(os.path.dirname(m.db), "nested.ini")
    with open(m.config, encoding="utf-8") as f:
        text = f.read().replace("path = " + m.db, "path = " + nested)
    with open(cfg, "w", encoding="utf-8") as f:
        f.write(text)
    p = subprocess.run([os.environ["MAILER_BIN"], "--config", cfg, "init"], capture_output=True,
                       text=True, env=m.environ())
    check(p.returncode == 0, "init: %s" % p.stderr)
    private(nested)
    private(os.path.dirname(nested), 0o700)
    private(os.path.dirname(os.path.dirname(nested)), 0o700)
    print("ok")


if __name__ == "__main__":
    main()
