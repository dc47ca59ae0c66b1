"""Issue 16 item 2: an old link acts on another person.

Subscriber ids were reused (INTEGER PRIMARY KEY without AUTOINCREMENT, and
the CSV import took MAX(id)+1) and the confirm and unsubscribe tokens
authenticated only kind, subscriber id, list id and expiry. So:
  1. after `sub erase` of A (a privacy request), the next person B got A's
     id, and A's old unsubscribe link (they never expire) showed B's
     address and unsubscribed B;
  2. after `sub rm` of A with a confirmation pending, B got A's id and A's
     old confirm link confirmed B: double opt-in bypassed;
  3. the import's MAX(id)+1 gave an erased person's id to an imported row.
Now ids are never reused, and each token's MAC covers a random salt of its
subscriber that dies with them; 4. checks the salt alone by giving a new
row an old id by hand. The old links answer the pages a reader should see:
"not on the list any more" (404) or "link not valid" (400); B is untouched.
"""
import email
import email.policy
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serve import Mailer, SAMPLE, check  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def unsubscribe_link(m, who, tag):
    """A's real unsubscribe link, from the digest preview addressed to them."""
    out = os.path.join(m.dir, "preview-%s.eml" % tag)
    m.cli("digest", "preview", "--list", "tin-tuc", "--to", who, "--since",
          "2000-01-01T00:00:00Z", "-o", out)
    with open(out, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    mt = re.search(r"<https?://[^/>]+(/unsubscribe/[^>]+)>", str(msg["List-Unsubscribe"]))
    check(mt, "no unsubscribe link in the preview: %s" % msg["List-Unsubscribe"])
    return mt.group(1)


def confirm_link(m, who):
    """The confirm link of the last confirmation mail delivered to `who`."""
    def found():
        links = []
        for p in m.eml_files():
            with open(p, "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            if who in str(msg["To"]):
                text = msg.get_body(("plain",)).get_content()
                mt = re.search(r"https?://[^/\s]+(/confirm/[A-Za-z0-9_-]+)", text)
                if mt:
                    links.append((p, mt.group(1)))
        return sorted(links)
    return m.wait_for(found, "the confirmation mail to " + who)[-1][1]


def sub_id(m, who):
    rows = m.sql("SELECT id FROM subscribers WHERE email_key = ?", who)
    return rows[0][0] if rows else None


def status(m, who, slug="tin-tuc"):
    rows = m.sql("SELECT t.status FROM subscriptions t JOIN subscribers s ON s.id = "
                 "t.subscriber_id JOIN lists l ON l.id = t.list_id WHERE s.email_key = ? "
                 "AND l.slug = ?", who, slug)
    return rows[0][0] if rows else None


def gone_or_invalid(m, path, who_else):
    """GET and POST of an old link: refused, and nothing of the other person shown."""
    st, _, page = m.request("GET", path)
    text = page.decode("utf-8")
    check(st in (400, 404), "GET %s: %d (the other person's page?)" % (path[:20], st))
    check(who_else not in text, "the old link shows the new person's address")
    check("Liên kết không hợp lệ" in text or "không còn" in text,
          "the old link's page does not say why:\n" + text[-1500:])
    st, _, page = m.request("POST", path, b"", FORM)
    check(st in (400, 404), "POST %s: %d" % (path[:20], st))
    check(who_else not in page.decode("utf-8"), "the POST shows the new person's address")
    st, _, _ = m.request("POST", path, b"List-Unsubscribe=One-Click", FORM)
    check(st in (200, 400, 404), "one-click POST: %d" % st)


def test_erase_then_unsubscribe_link(m):
    a, b = "an.erased@example.vn", "binh.new@example.vn"
    m.cli("sub", "add", a, "--list", "tin-tuc", "--confirmed")
    link = unsubscribe_link(m, a, "a")
    old = sub_id(m, a)
    m.cli("sub", "erase", a)
    m.cli("sub", "add", b, "--list", "tin-tuc", "--confirmed")
    check(sub_id(m, b) != old, "B got the erased person's id %d" % old)
    gone_or_invalid(m, link, b)
    check(status(m, b) == "confirmed", "A's old link unsubscribed B: %s" % status(m, b))


def test_rm_then_confirm_link(m):
    a, b = "an.removed@example.vn", "binh.pending@example.vn"
    m.cli("sub", "add", a, "--list", "ban-tin-kep")
    link = confirm_link(m, a)
    old = sub_id(m, a)
    m.cli("sub", "rm", a)
    m.cli("sub", "add", b, "--list", "ban-tin-kep")
    check(sub_id(m, b) != old, "B got the removed person's id %d" % old)
    gone_or_invalid(m, link, b)
    check(status(m, b, "ban-tin-kep") == "unconfirmed",
          "A's old confirm link confirmed B: %s" % status(m, b, "ban-tin-kep"))
    # B's own link still works
    st, _, page = m.request("POST", confirm_link(m, b), b"", FORM)
    check(st == 200 and status(m, b, "ban-tin-kep") == "confirmed", "B's own link: %d" % st)


def test_import_after_erase(m):
    a, c = "an.last@example.vn", "chi.imported@example.vn"
    m.cli("sub", "add", a, "--list", "tin-tuc", "--confirmed")
    link = unsubscribe_link(m, a, "last")
    old = sub_id(m, a)
    check(old == m.sql("SELECT max(id) FROM subscribers")[0][0], "A is not the newest row")
    m.cli("sub", "erase", a)
    csv = os.path.join(m.dir, "import.csv")
    with open(csv, "w", encoding="utf-8") as f:
        f.write("email,name\r\n%s,Chi\r\n" % c)
    m.cli("sub", "import", csv, "--list", "tin-tuc", "--mode", "confirmed")
    check(sub_id(m, c) > old, "the import gave the erased person's id %d to %s (%s)"
          % (old, c, sub_id(m, c)))
    gone_or_invalid(m, link, c)
    check(status(m, c) == "confirmed", "A's old link unsubscribed the imported C")


def test_salt_alone(m):
    """Even with the id reused (done by hand here), the old link fails: the salt differs."""
    a, b = "an.salted@example.vn", "binh.sameid@example.vn"
    m.cli("sub", "add", a, "--list", "tin-tuc", "--confirmed")
    link = unsubscribe_link(m, a, "salt")
    old = sub_id(m, a)
    m.cli("sub", "erase", a)
    m.cli("sub", "add", b, "--list", "tin-tuc", "--confirmed")
    # (this connection has foreign keys off: move the subscription along by hand)
    m.sql_exec("UPDATE subscriptions SET subscriber_id = ? WHERE subscriber_id = "
               "(SELECT id FROM subscribers WHERE email_key = ?)", old, b)
    m.sql_exec("UPDATE subscribers SET id = ? WHERE email_key = ?", old, b)
    check(sub_id(m, b) == old, "could not give B the old id")
    gone_or_invalid(m, link, b)
    check(status(m, b) == "confirmed", "A's old link unsubscribed B with A's old id")
    # B's own link (made with B's salt) works
    st, _, page = m.request("GET", unsubscribe_link(m, b, "b"))
    check(st == 200 and b in page.decode("utf-8"), "B's own unsubscribe page: %d" % st)


def main():
    with Mailer("sec-old-links") as m:
        m.cli("article", "add", SAMPLE)
        m.cli("list", "create", "tin-tuc", "--name", "Bản tin", "--optin", "single")
        m.cli("list", "create", "ban-tin-kep", "--name", "Bản tin kép", "--optin", "double")
        m.start()
        test_erase_then_unsubscribe_link(m)
        test_rm_then_confirm_link(m)
        test_import_after_erase(m)
        test_salt_alone(m)
        check(m.stop() == 0, "serve did not stop cleanly")
    print("ok")


if __name__ == "__main__":
    main()
