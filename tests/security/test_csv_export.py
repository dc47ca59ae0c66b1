"""Issue 16 item 10: CSV formula injection.

A name typed on the public subscribe form that a spreadsheet reads as a
formula (=HYPERLINK(...), a DDE call, +, -, @) was exported unchanged and
ran when an editor opened the export in Excel or LibreOffice. Now every
such cell of the export (CLI and admin API) starts with an apostrophe, which
the spreadsheet shows as text; and the export imports back unchanged.
"""
import csv
import io
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serve import Mailer, check  # noqa: E402

NAMES = {
    "formula.hyperlink@example.vn": '=HYPERLINK("#A1","Nhấn vào đây")',
    "formula.dde@example.vn": "@SUM(1+1)*cmd|' /C calc'!A0",
    "formula.plus@example.vn": "+84 912 345 678",
    "formula.minus@example.vn": "-2+3",
    "-dash@example.vn": "Trần Văn Bình",
}


def cells(text):
    return {row["email"]: row for row in csv.DictReader(io.StringIO(text))}


def check_export(text, where):
    rows = cells(text)
    for email, name in NAMES.items():
        key = "'" + email if email[0] in "=+-@" else email
        check(key in rows, "%s: %s missing: %s" % (where, email, list(rows)))
        got = rows[key]["name"]
        want = "'" + name if name[0] in "=+-@" else name
        check(got == want, "%s: %s name %r, want %r" % (where, email, got, want))
        # what a spreadsheet sees first: never a formula character
        check(rows[key]["email"][0] not in "=+-@\t\r" and got[0] not in "=+-@\t\r",
              "%s: a cell starts with a formula character: %r" % (where, rows[key]))


def main():
    with Mailer("sec-csv-export") as m:
        m.cli("list", "create", "tin-tuc", "--name", "Bản tin", "--optin", "single", "--public")
        m.start()
        origin = {"Origin": "http://127.0.0.1:%d" % m.port}
        for email, name in NAMES.items():
            st, _, page = m.subscribe({"list": "tin-tuc", "email": email, "name": name},
                                      origin)
            check(st == 200, "subscribe %s: %d %s" % (email, st, page[-300:]))
        out = os.path.join(m.dir, "export.csv")
        m.cli("sub", "export", "--output", out)
        with open(out, encoding="utf-8", newline="") as f:
            text = f.read()
        check(text.startswith("\ufeff"), "sub export: no UTF-8 BOM for Excel")
        text = text[1:]
        check_export(text, "sub export")
        token = m.cli("token", "create", "cms").stdout.strip()
        st, h, body = m.request("GET", "/api/subscribers/export",
                                headers={"Authorization": "Bearer " + token})
        check(st == 200 and h["content-type"].startswith("text/csv"), "API export: %d" % st)
        check_export(body.decode("utf-8-sig"), "API export")
        # the export imports back: nobody new, every name as typed
        m.cli("sub", "import", out, "--list", "tin-tuc", "--mode", "confirmed")
        check(m.sql("SELECT count(*) FROM subscribers")[0][0] == len(NAMES), "import added rows")
        for email, name in NAMES.items():
            got = m.sql("SELECT name FROM subscribers WHERE email_key = ?", email)[0][0]
            check(got == name, "%s: name %r after the round trip, want %r" % (email, got, name))
        check(m.stop() == 0, "serve did not stop cleanly")
    print("ok")


if __name__ == "__main__":
    main()
