"""Breaking news from the CLI and the API (issue 13): one article to a list,
once; preview and test; what the subscribers receive.

- `mailer breaking preview` writes the message a subscriber gets, with the
  list's headers, and changes nothing;
- `mailer breaking test --to` sends that message to one address only;
- `mailer breaking send` enqueues one envelope per confirmed subscriber (not
  the unconfirmed, not the suppressed) and delivers them; a second send of
  the same article to the same list is refused (exit 3) naming the first;
- POST /api/breaking sends another article (201), the same again is 409
  with the first send's id, a read-only token is 403, an unknown list 404;
- every message delivered has List-Id, a one-click List-Unsubscribe of its
  own subscriber, the article's title in the subject, and each subscriber
  got it exactly once.
"""
import email
import email.policy
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from adminlib import REQUEST_TIMEOUT, Mailer, check, fail, post_json  # noqa: E402

SRC = os.environ["MAILER_SOURCE_DIR"]
ARTICLES = os.path.join(SRC, "examples", "articles")


def messages(m):
    out = []
    for path in m.eml_files():
        with open(path, "rb") as f:
            out.append(email.message_from_binary_file(f, policy=email.policy.default))
    return out


def main():
    with Mailer("admin-breaking") as m:
        m.cli("article", "add", *[os.path.join(ARTICLES, f) for f in sorted(os.listdir(ARTICLES))
                                   if f.endswith(".json")])
        first, second = [r[0] for r in m.sql("SELECT id FROM articles ORDER BY id LIMIT 2")]
        title = m.sql("SELECT title FROM articles WHERE id = ?", first)[0][0]
        m.cli("list", "create", "tin-nong", "--name", "Tin nóng Hà Giang", "--optin", "double")
        for i in range(5):
            m.cli("sub", "add", "doc.gia%d@example.vn" % i, "--list", "tin-nong", "--confirmed",
                  "--name", "Độc giả %d" % i)
        m.cli("sub", "add", "chua.xac.nhan@example.vn", "--list", "tin-nong")  # unconfirmed
        m.cli("sub", "add", "bi.chan@example.vn", "--list", "tin-nong", "--confirmed")
        import sqlite3
        con = sqlite3.connect(m.db)
        # suppressions are found by the hex SHA-256 of the lower-cased address
        con.execute("INSERT INTO suppressions(email_hash, email_key, reason, created_at) VALUES "
                    "(?, 'bi.chan@example.vn', 'manual', 1)",
                    (hashlib.sha256(b"bi.chan@example.vn").hexdigest(),))
        con.commit()
        con.close()
        m.cli("deliver", "--once")  # the confirmation mail of the unconfirmed one
        before = len(m.eml_files())

        # preview: the message, nothing written
        out = os.path.join(m.dir, "preview.eml")
        m.cli("breaking", "preview", "--list", "tin-nong", "--article", first,
              "--to", "doc.gia1@example.vn", "-o", out)
        with open(out, "rb") as f:
            pv = email.message_from_binary_file(f, policy=email.policy.default)
        check(str(pv["Subject"]) == "Tin nóng: " + title, "preview subject: %s" % pv["Subject"])
        check("doc.gia1@example.vn" in str(pv["To"]) and "Độc giả 1" in str(pv["To"]),
              "preview To: %s" % pv["To"])
        check(pv["List-Id"] and "tin-nong" in str(pv["List-Id"]), "preview List-Id")
        check(m.sql("SELECT count(*) FROM sends WHERE kind IN ('breaking', 'test')") == [(0,)],
              "the preview wrote a send")

        # test: one address only
        p = m.cli("breaking", "test", "--list", "tin-nong", "--article", first,
                  "--to", "bien.tap@hagiang.example")
        check("send" in p.stdout, p.stdout)
        m.cli("deliver", "--once")
        got = messages(m)[before:]
        check(len(got) == 1 and "bien.tap@hagiang.example" in str(got[0]["To"]),
              "the test: %r" % [str(x["To"]) for x in got])
        check(got[0]["List-Unsubscribe"] is not None, "the test lacks the list's headers")
        before += 1

        # send, then the second time refused
        p = m.cli("breaking", "send", "--list", "tin-nong", "--article", first)
        check("5 recipients" in p.stdout and "sent 5" in p.stdout, p.stdout)
        p = m.cli("breaking", "send", "--list", "tin-nong", "--article", first, check_rc=False)
        check(p.returncode == 3 and "already" in p.stderr, "second send: %d %s" %
              (p.returncode, p.stderr))
        got = messages(m)[before:]
        to = sorted(str(x["To"]) for x in got)
        check(len(got) == 5 and all("doc.gia" in t for t in to), "recipients: %r" % to)
        for x in got:
            check(str(x["Subject"]) == "Tin nóng: " + title, "subject %s" % x["Subject"])
            check(x["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" or
                  "http://" in str(x["List-Unsubscribe"]), "no List-Unsubscribe")
            body = x.get_body(("plain",)).get_content()
            check("TIN NÓNG" in body and "Hủy đăng ký:" in body, "text part: %s" % body[:200])
        before += 5

        # the API
        tok = m.cli("token", "create", "cms").stdout.strip()
        ro = m.cli("token", "create", "doc", "--scope", "read").stdout.strip()
        m.start()
        auth = {"Authorization": "Bearer " + tok}
        st, _, body = post_json(m, "/api/breaking", {"list": "tin-nong", "article": second},
                                  headers=auth)
        check(st == 201, "API send: %d %s" % (st, body))
        sent = json.loads(body)
        check(sent["recipients"] == 5 and sent["send_id"] > 0, "API answer: %s" % body)
        st, _, body = post_json(m, "/api/breaking", {"list": "tin-nong", "article": second},
                                  headers=auth)
        err = json.loads(body)["error"]
        check(st == 409 and err["code"] == "exists" and err["send_id"] == sent["send_id"],
              "API second send: %d %s" % (st, body))
        st, _, body = post_json(m, "/api/breaking", {"list": "khong-co", "article": second},
                                  headers=auth)
        check(st == 404, "unknown list: %d %s" % (st, body))
        st, _, _ = post_json(m, "/api/breaking", {"list": "tin-nong", "article": first},
                               headers={"Authorization": "Bearer " + ro})
        check(st == 403, "read-only token sent breaking news: %d" % st)
        st, _, body = m.request("GET", "/api/breaking", headers=auth, timeout=REQUEST_TIMEOUT)
        rows = json.loads(body)["breaking"]
        check(st == 200 and len(rows) == 2 and rows[0]["article"] == second, "list: %s" % body)
        m.wait_for(lambda: len(m.eml_files()) >= before + 5, "the API's breaking news delivered")
        m.stop()
        # exactly once each, over both sends
        per = {}
        for x in messages(m)[before:]:
            per[str(x["To"])] = per.get(str(x["To"]), 0) + 1
        check(len(per) == 5 and set(per.values()) == {1}, "deliveries: %r" % per)
        check(m.sql("SELECT count(*) FROM envelopes e JOIN sends s ON s.id = e.send_id WHERE "
                    "s.kind = 'breaking'") == [(10,)], "envelopes of breaking news")
    print("ok")


if __name__ == "__main__":
    main()
