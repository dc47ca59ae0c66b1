"""Hostile mail for the bounce parser: each message must come out
`unparsed` with a reason that names the problem, exit 0, and nothing on
stderr (the suite runs under ASan/UBSan with abort_on_error: a report would
abort the process). The same messages go through `mailer bounce ingest` in
tests/bounce/test_intake.py, where they must end in the Unparsed folder."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import MAILER, Checks, build_dir, mailer_environ  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from hostile import hostile_messages  # noqa: E402


def main():
    c = Checks()
    tmp = os.path.join(build_dir(), "testtmp", "bounce-hostile")
    os.makedirs(tmp, exist_ok=True)
    names = []
    for name, data, why in hostile_messages():
        path = os.path.join(tmp, name + ".eml")
        with open(path, "wb") as f:
            f.write(data)
        names.append((name, path, why))
    for name, path, why in names:
        p = subprocess.run([MAILER, "bounce", "parse", path], capture_output=True,
                           env=mailer_environ(), timeout=120)
        c.check(p.returncode == 0, "%s: exit %d: %s" % (name, p.returncode, p.stderr.decode(errors="replace")[:2000]))
        c.check(p.stderr == b"", "%s: stderr must be empty (sanitizers silent): %r" % (name, p.stderr[:2000]))
        try:
            o = json.loads(p.stdout)
        except ValueError:
            c.check(False, "%s: not JSON: %r" % (name, p.stdout[:300]))
            continue
        c.check(o.get("kind") == "not-bounce" and o.get("recipients") == [],
                "%s: kind not-bounce, no recipients: %s" % (name, p.stdout[:300]))
        c.check(why in (o.get("unparsed") or ""), "%s: unparsed reason names %r: %r" % (name, why, o.get("unparsed")))
    if c.failures:
        sys.exit(1)
    print("ok: %d hostile messages unparsed" % len(names))


main()
