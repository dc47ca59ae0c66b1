#!/usr/bin/python3
"""Every command answers -h/--help before doing anything, names that read as
options are refused, and no command but `init` creates a database.

The commands are read from the program's own help (`mailer --help` and each
group's "commands:" section), so a new command is walked without touching
this file; each is run with plausible arguments that WOULD act (create a
token, revoke one, remove a subscriber, send a digest...) followed by
--help or -h, and the whole database must be byte-for-byte the same
afterwards (an SQL dump of every table) while stdout shows the command's
usage. Then the refusals: `token create -x`, `list create x --name --optin
single`, `sub add -a@x.vn`, ... each exits 1 and writes nothing; and with
no database every command but init exits 2 with "no database at PATH; run
`mailer init`" and leaves no file behind.
"""
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import SRC, Checks, CliEnv, write_ini  # noqa: E402

_c = Checks()
check = _c.check

ARTICLE = os.path.join(SRC, "examples", "articles", "ha-giang-tong-ket-thi-dua-2021.json")
AID = "ha-giang-tong-ket-thi-dua-2021"

# Arguments that would act if the help were not honoured first. Every
# command the help lists must be here (checked below).
ACTING = {
    "init": [],
    "serve": [],
    "share": [AID, "--to", "b@example.vn", "--from-name", "An"],
    "deliver": ["--once"],
    "article add": [ARTICLE],
    "article ls": [],
    "article show": [AID],
    "compose share": [AID, "--to", "b@example.vn", "-o", "OUT/x.eml"],
    "compose digest": ["--articles", AID, "-o", "OUT/y.eml"],
    "queue status": [],
    "queue ls": [],
    "queue retry": ["--all-deferred"],
    "queue cancel": ["1"],
    "list create": ["moi", "--name", "Mới"],
    "list set": ["tin-tuc", "--name", "Đổi tên"],
    "list ls": [],
    "list show": ["tin-tuc"],
    "list rm": ["tin-tuc"],
    "sub add": ["c@example.vn", "--list", "tin-tuc"],
    "sub ls": [],
    "sub rm": ["a@example.vn"],
    "sub import": ["OUT/in.csv", "--list", "tin-tuc"],
    "sub export": ["--output", "OUT/out.csv"],
    "sub show": ["a@example.vn"],
    "sub erase": ["a@example.vn"],
    "digest send": ["--list", "tin-tuc", "--since", "2021-01-01"],
    "digest preview": ["--list", "tin-tuc", "-o", "OUT/p.eml"],
    "digest status": ["1"],
    "digest ls": [],
    "digest pause": ["1"],
    "digest resume": ["1"],
    "digest cancel": ["1"],
    "digest tick": [],
    "token create": ["cms"],
    "token ls": [],
    "token revoke": ["cms"],
    "bounce parse": ["OUT/in.csv"],
    "bounce poll": ["--mailbox", "retour"],
    "bounce ingest": ["--maildir", "OUT"],
    "bounce ls": [],
    "bounce show": ["1"],
    "bounce undo": ["1"],
    "dkim keygen": ["--domain", "tin.example.vn", "--selector", "s1"],
    "dkim record": ["--domain", "tin.example.vn", "--selector", "s1"],
    "dkim sign": ["OUT/in.csv"],
    "doctor": ["--offline"],
    "user add": ["ed@example.vn", "--role", "editor"],
    "user ls": [],
    "user passwd": ["ed@example.vn"],
    "user rm": ["ed@example.vn"],
    "breaking send": ["--list", "tin", "--article", "a1"],
    "breaking preview": ["--list", "tin", "--article", "a1"],
    "breaking test": ["--list", "tin", "--article", "a1", "--to", "d@example.vn"],
    "breaking ls": [],
}
# commands that never open the database (files and DNS only, by design)
NO_DB = ("init", "bounce parse", "dkim keygen", "dkim record", "dkim sign", "doctor")


def commands_section(text):
    """The command words of a usage text's "commands:" section."""
    out, on = [], False
    for line in text.splitlines():
        if line.strip() == "commands:":
            on = True
            continue
        if on:
            if not line.strip():
                break
            m = re.match(r"^  ([a-z]+)\b", line)
            if m:
                out.append(m.group(1))
    return out


def dump(path):
    c = sqlite3.connect(path)
    try:
        return "\n".join(c.iterdump())
    finally:
        c.close()


def main():
    env = CliEnv("cli-help")
    write_ini(env.config, [("database", {"path": env.db_path}),
                           ("site", {"base_url": "https://tin.example.vn"}),
                           ("delivery", env.delivery)])
    out = env.outdir
    with open(os.path.join(out, "in.csv"), "w", encoding="utf-8") as f:
        f.write("email,name\nd@example.vn,Dũng\n")

    # the tree, from the program's own help
    top = env.mailer("--help").stdout.decode()
    names = commands_section(top)
    check(len(names) >= 11, "top-level commands read from --help: %r" % names)
    paths = []
    for n in names:
        h = env.mailer(n, "--help").stdout.decode()
        check(h.startswith("usage: mailer " + n), "%s --help: %r" % (n, h[:80]))
        subs = commands_section(h)
        paths += [n + " " + s for s in subs] if subs else [n]
    check(sorted(paths) == sorted(ACTING), "the commands walked are the commands the help lists: "
          "missing %r, unknown %r" % (sorted(set(paths) - set(ACTING)),
                                      sorted(set(ACTING) - set(paths))))

    # help with no database at all: nothing is created, not even the folder's file
    for p in paths:
        for h in ("--help", "-h"):
            r = env.mailer(*p.split(), *[a.replace("OUT", out) for a in ACTING.get(p, [])], h)
            check(r.stdout.decode().startswith("usage: mailer " + p),
                  "%s ... %s prints its usage: %r" % (p, h, r.stdout[:80]))
            check(not os.path.exists(env.db_path), "%s %s created the database" % (p, h))

    # a database with something in each table the commands would change
    env.mailer("init")
    env.mailer("article", "add", ARTICLE)
    env.mailer("list", "create", "tin-tuc", "--name", "Bản tin", "--optin", "single")
    env.mailer("sub", "add", "a@example.vn", "--list", "tin-tuc", "--name", "An")
    env.mailer("token", "create", "cms")
    env.mailer("share", AID, "--to", "b@example.vn")
    before = dump(env.db_path)
    files_before = sorted(os.listdir(out))
    for p in paths:
        args = [a.replace("OUT", out) for a in ACTING.get(p, [])]
        # help last, first and in the middle: it wins wherever it stands
        for words in (args + ["--help"], ["-h"] + args, args[:1] + ["--help"] + args[1:]):
            r = env.mailer(*p.split(), *words, code=None)
            check(r.returncode == 0 and r.stdout.decode().startswith("usage: mailer " + p),
                  "mailer %s %s: exit %d, stdout %r" % (p, " ".join(words), r.returncode,
                                                       r.stdout[:80]))
            check(dump(env.db_path) == before, "mailer %s %s changed the database" % (
                p, " ".join(words)))
    check(sorted(os.listdir(out)) == files_before, "help wrote files: %r" % os.listdir(out))
    check(env.q("SELECT count(*) FROM api_tokens WHERE name LIKE '-%'")[0][0] == 0,
          "no token named like an option")

    # after "--" a -h is a file name, not a request for help
    r = env.mailer("article", "add", "--", "-h", code=None)
    check(r.returncode != 0 and b"usage:" not in r.stdout, "article add -- -h reads a file -h")

    # names and values that read as options are refused, nothing written
    refused = [
        ["token", "create", "-x"],
        ["token", "create", "--name"],
        ["token", "revoke", "--all"],
        ["token", "create", "cms", "extra"],
        ["list", "create", "-moi", "--name", "Mới"],
        ["list", "create", "moi", "--name", "--optin", "single"],
        ["list", "create", "moi", "--name"],
        ["list", "show", "-x"],
        ["list", "rm", "--tin-tuc"],
        ["list", "set", "tin-tuc", "--name", "--digest-max", "3"],
        ["sub", "add", "-c@example.vn", "--list", "tin-tuc"],
        ["sub", "add", "c@example.vn", "--list", "--confirmed"],
        ["sub", "rm", "-a@example.vn"],
        ["sub", "show", "--all"],
        ["sub", "erase", "-a@example.vn"],
        ["sub", "import", os.path.join(out, "in.csv"), "--list", "--dry-run"],
        ["article", "show", "-x"],
        ["share", AID, "--to", "--from-name", "An"],
        ["digest", "send", "--list", "--enqueue-only"],
        ["compose", "share", "-x", "--to", "b@example.vn"],
    ]
    for args in refused:
        r = env.mailer(*args, code=None)
        err = r.stderr.decode()
        check(r.returncode == 1 and ("unknown option" in err or "needs a value" in err or
                                     "only" in err),
              "mailer %s: exit %d, %r" % (" ".join(args), r.returncode, err))
        check(dump(env.db_path) == before, "mailer %s changed the database" % " ".join(args))
    r = env.mailer("list", "create", "x", "--name", "--optin", code=1)
    check(b"--name needs a value" in r.stderr, "the forgotten value is named: %r" % r.stderr)
    # on purpose, NAME=VALUE takes a value beginning with "-"
    env.mailer("list", "create", "gach", "--name=- gạch đầu dòng")
    check(env.q("SELECT name FROM lists WHERE slug='gach'") == [("- gạch đầu dòng",)],
          "--name=VALUE keeps a leading dash")

    # no database: every command but init refuses, names the path, creates nothing
    missing = os.path.join(env.dir, "elsewhere", "none.db")
    cfg2 = os.path.join(env.dir, "missing.ini")
    write_ini(cfg2, [("database", {"path": missing}), ("delivery", env.delivery)])
    for p in paths:
        if p in NO_DB:
            continue
        args = [a.replace("OUT", out) for a in ACTING.get(p, [])]
        r = env.mailer("--config", cfg2, *p.split(), *args, code=None)
        err = r.stderr.decode()
        if r.returncode == 1:  # a usage error before the database (e.g. queue cancel's id)
            continue
        check(r.returncode == 2 and "no database at %s; run `mailer init`" % missing in err,
              "mailer %s without a database: exit %d %r" % (p, r.returncode, err))
        check(not os.path.exists(missing), "mailer %s created %s" % (p, missing))
    r = env.mailer("--config", cfg2, "init")
    check(os.path.exists(missing), "init creates the database")

    if _c.failures:
        sys.exit(1)
    print("ok: %d commands, help honoured first everywhere" % len(paths))


main()
