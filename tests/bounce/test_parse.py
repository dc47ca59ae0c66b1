"""`mailer bounce parse` on the project's own sample bounces: the exact JSON
line of each (tests/bounce/expected.jsonl), the format docs/bounces.md
promises, and no database touched (the config names a database path that
does not exist and must still not exist afterwards)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import MAILER, Checks, build_dir, mailer_environ, write_ini  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "samples")


def main():
    c = Checks()
    tmp = os.path.join(build_dir(), "testtmp", "bounce-parse")
    os.makedirs(tmp, exist_ok=True)
    db = os.path.join(tmp, "never", "m.db")
    ini = os.path.join(tmp, "mailer.ini")
    write_ini(ini, [("database", {"path": db})])
    want = {}
    with open(os.path.join(HERE, "expected.jsonl"), encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            want[o["file"]] = o
    names = sorted(n for n in os.listdir(SAMPLES) if n.endswith(".eml"))
    c.check(sorted(want) == names, "expected.jsonl lists every sample: %s vs %s" % (sorted(want), names))
    p = subprocess.run([MAILER, "--config", ini, "bounce", "parse"] + names, cwd=SAMPLES,
                       capture_output=True, env=mailer_environ())
    c.check(p.returncode == 0, "exit 0, got %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    c.check(p.stderr == b"", "nothing on stderr: %r" % p.stderr[:500])
    lines = p.stdout.decode("utf-8").splitlines()
    c.check(len(lines) == len(names), "one line per file: %d lines for %d files" % (len(lines), len(names)))
    for name, line in zip(names, lines):
        got = json.loads(line)
        c.check(list(got) == [k for k in ["file", "kind", "recipients", "unparsed"] if k in got],
                "%s: keys in the documented order: %s" % (name, list(got)))
        for r in got["recipients"]:
            c.check(list(r) == ["address", "class", "reason", "status", "reply_code", "diagnostic"],
                    "%s: recipient keys: %s" % (name, list(r)))
        c.check(got == want.get(name), "%s:\n got  %s\n want %s" % (name, line, json.dumps(want.get(name), ensure_ascii=False)))
    c.check(not os.path.exists(os.path.dirname(db)), "parse created no database folder")
    # a file that cannot be read: exit 3, the other files still printed
    p = subprocess.run([MAILER, "--config", ini, "bounce", "parse", "no-such.eml", names[0]],
                       cwd=SAMPLES, capture_output=True, env=mailer_environ())
    c.check(p.returncode == 3 and b"no-such.eml" in p.stderr and len(p.stdout.splitlines()) == 1,
            "unreadable file: exit 3 and the rest parsed (%d, %r)" % (p.returncode, p.stderr))
    if c.failures:
        sys.exit(1)
    print("ok: %d samples" % len(names))


main()
