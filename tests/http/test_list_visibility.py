#!/usr/bin/python3
"""Lists are public or private, and a new list's digest is off.

- A list made with `list create` (or POST /api/lists) is private: the
  subscribe page does not offer it and a hand-made POST /subscribe to it
  answers exactly as for a list that does not exist (404, nothing written).
  `--public` at creation, or `list set --public` later, puts it on the page;
  `list set --private` takes it off again.
- Its weekly digest is off: `digest tick` at the scheduled time creates
  nothing until `list set --digest-enabled yes`.
- A database from before (the schema just below list_visibility) keeps its lists public and their
  digests on after `mailer init` upgrades it: an upgrade hides nothing.
"""
import hashlib
import json
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import SOURCE, Mailer, check  # noqa: E402

# Monday 2022-01-03 08:00 +07:00: past a Monday 07:00 schedule
MONDAY = 1641171600


def offered(m):
    st, _, body = m.request("GET", "/subscribe")
    check(st == 200, "subscribe page: %d" % st)
    return set(re.findall(r'name="list" value="([a-z0-9-]+)"', body.decode()))


def subscribe(m, slug, email):
    # as a browser: the form's token (from a page that shows at least one public list)
    return m.subscribe({"list": slug, "email": email, "name": ""})


def test_visibility(m):
    m.cli("list", "create", "noi-bo", "--name", "Danh sách thử nghiệm", "--optin", "single")
    p = m.cli("list", "create", "tin-tuc", "--name", "Bản tin Hà Giang", "--optin", "single",
              "--public")
    check("public: on the subscribe page" in p.stdout, "create --public says so: %r" % p.stdout)
    check(m.sql("SELECT slug, public, digest_enabled FROM lists ORDER BY slug") ==
          [("noi-bo", 0, 0), ("tin-tuc", 1, 0)], "stored: %r" % m.sql("SELECT * FROM lists"))
    ls = m.cli("list", "ls").stdout
    check(re.search(r"noi-bo\s+private", ls) and re.search(r"tin-tuc\s+public", ls),
          "list ls shows it: %r" % ls)
    check("private (not on the subscribe page" in m.cli("list", "show", "noi-bo").stdout,
          "list show says private")
    m.start()
    check(offered(m) == {"tin-tuc"}, "only the public list is offered: %r" % offered(m))
    st, _, body = subscribe(m, "noi-bo", "an@example.vn")
    check(st == 404, "POST to a private list: %d" % st)
    st2, _, body2 = subscribe(m, "khong-co", "an@example.vn")
    def same(b, slug):  # the page but its fresh form token
        return re.sub(rb'name="csrf" value="[^"]*"', b"", b.replace(slug, b""))
    check(st2 == 404 and same(body, b"noi-bo") == same(body2, b"khong-co"),
          "a private list answers as a missing one")
    check(m.sql("SELECT count(*) FROM subscribers") == [(0,)], "nothing written")
    st, _, _ = subscribe(m, "tin-tuc", "an@example.vn")
    check(st == 200, "POST to the public list: %d" % st)
    check(m.sql("SELECT count(*) FROM subscriptions") == [(1,)], "subscribed")

    m.cli("list", "set", "noi-bo", "--public")
    m.cli("list", "set", "tin-tuc", "--private")
    check(offered(m) == {"noi-bo"}, "after set: %r" % offered(m))
    check(m.cli("list", "set", "noi-bo", "--private", "--public", check_rc=False).returncode == 1,
          "--private and --public together refused")
    # the API: "public" in and out
    tok = m.cli("token", "create", "cms").stdout.strip()
    auth = {"Authorization": "Bearer " + tok}
    st, _, body = m.post_json("/api/lists", {"slug": "api-moi", "name": "Từ API"}, auth)
    check(st == 201 and json.loads(body)["public"] is False,
          "API create is private: %d %r" % (st, body))
    st, _, body = m.post_json("/api/lists", {"slug": "api-cong-khai", "name": "Công khai",
                                             "public": True}, auth)
    check(st == 201, "API create public: %d %r" % (st, body))
    st, _, body = m.request("PATCH", "/api/lists/api-moi", b'{"public": "yes"}',
                            dict(auth, **{"Content-Type": "application/json"}))
    check(st == 400 and b"public" in body, "PATCH public: wrong type refused: %d" % st)
    check(offered(m) == {"noi-bo", "api-cong-khai"}, "API lists: %r" % offered(m))
    m.stop()


def test_digest_off(m):
    then = {"MAILER_FAKE_NOW": str(MONDAY - 14 * 86400)}
    m.cli("list", "create", "tuan", "--name", "Bản tin tuần", "--optin", "single", env=then)
    check("digest:          disabled" in m.cli("list", "show", "tuan").stdout,
          "list show: digest disabled")
    p = m.cli("digest", "tick", env={"MAILER_FAKE_NOW": str(MONDAY)})
    check(p.stdout == "created 0\n" and m.sql("SELECT count(*) FROM digests") == [(0,)],
          "no digest for a new list: %r" % p.stdout)
    m.cli("list", "set", "tuan", "--digest-enabled", "yes", env=then)
    m.cli("digest", "tick", env={"MAILER_FAKE_NOW": str(MONDAY)})
    check(m.sql("SELECT count(*) FROM digests") == [(1,)], "once turned on, the week is handled")


def test_upgrade_keeps_lists_public(name):
    m = Mailer(name)
    m.write_config()
    con = sqlite3.connect(m.db)
    # what every handle of the mailer has (mailer/db/db.c): the older migrations use it
    con.create_function("sha256_hex", 1, lambda t: None if t is None else
                        hashlib.sha256(str(t).encode("utf-8")).hexdigest(), deterministic=True)
    mig = os.path.join(SOURCE, "mailer", "db", "migrations")
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at INTEGER NOT NULL)")
    for f in sorted(os.listdir(mig)):
        v = int(f[:4])
        if f.endswith("_list_visibility.sql"):
            break
        with open(os.path.join(mig, f), encoding="utf-8") as fh:
            con.executescript(fh.read())
        con.execute("INSERT INTO schema_version VALUES (?, ?, 0)", (v, f[5:-4]))
    con.execute("INSERT INTO lists(slug, name, created_at, updated_at) "
                "VALUES ('cu', 'Danh sách cũ', 0, 0)")
    con.commit()
    con.close()
    m.cli("init")
    check(m.sql("SELECT public, digest_enabled FROM lists WHERE slug = 'cu'") == [(1, 1)],
          "an old list stays public with its digest on: %r" % m.sql("SELECT * FROM lists"))


def main():
    with Mailer("list-visibility") as m:
        test_visibility(m)
    with Mailer("list-digest-off") as m:
        test_digest_off(m)
    test_upgrade_keeps_lists_public("list-upgrade")
    print("ok")


main()
