"""The web admin's door, tried as an attacker would (issue 13):

- every admin route without a session: a GET is sent to the login page,
  anything else is refused 403, and nothing changes;
- a POST without the session's CSRF token, with another session's token, or
  from another Origin is refused 403 and changes nothing;
- a login always gives a new session id: a planted cookie is never signed
  in, and the session it named (if any) ends;
- the tenth wrong password in a minute is refused 429, per client IP and per
  account, even with the right password;
- an editor gets 403 on the accounts, API tokens and audit pages;
- names holding <script> and quotes are shown escaped on every page;
- sessions expire when idle, and after the password changes;
- the audit log records each change, and its page shows them to admins;
- a read-only API token may only GET.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from adminlib import (PASSWORD, REQUEST_TIMEOUT, Client, Mailer, admin_user, check,  # noqa: E402
                      field, fail, post_json)

EVIL = '<script>alert("x")</script>\'"&'
EVIL_RAW = '<script>alert("x")</script>'
EVIL_ESC = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'

# Every route the admin's router knows (http_admin*.c), with the ids and
# names of what the test makes below.
GETS = ["/admin/", "/admin/lists", "/admin/lists/new", "/admin/lists/tin",
        "/admin/lists/tin/export.csv", "/admin/subscribers", "/admin/subscribers?q=a",
        "/admin/subscribers/1", "/admin/subscribers/1/data.json", "/admin/subscribers/1/erase",
        "/admin/import", "/admin/import/" + "0" * 32, "/admin/import/" + "0" * 32 +
        "/progress.json", "/admin/digests", "/admin/digests/tin", "/admin/breaking",
        "/admin/sends", "/admin/sends/1", "/admin/sends/1/progress.json", "/admin/queue",
        "/admin/queue?state=failed", "/admin/bounces", "/admin/bounces/1", "/admin/tokens", "/admin/users",
        "/admin/users/1", "/admin/audit", "/admin/account", "/admin/nope"]
POSTS = ["/admin/logout", "/admin/lists/new", "/admin/lists/tin", "/admin/lists/tin/remove",
         "/admin/subscribers/1/unsubscribe", "/admin/subscribers/1/block",
         "/admin/subscribers/1/erase", "/admin/import", "/admin/import/" + "0" * 32 + "/run",
         "/admin/digests/tin/send", "/admin/digests/tin/test", "/admin/breaking",
         "/admin/breaking/send", "/admin/breaking/test", "/admin/sends/1/pause",
         "/admin/sends/1/resume", "/admin/sends/1/cancel", "/admin/queue/retry-all",
         "/admin/queue/1/retry", "/admin/queue/1/cancel", "/admin/bounces/1/undo",
         "/admin/tokens", "/admin/tokens/1/revoke", "/admin/users", "/admin/users/1",
         "/admin/users/1/remove", "/admin/account"]


def snapshot(m):
    return (m.sql("SELECT count(*) FROM lists")[0][0],
            m.sql("SELECT count(*) FROM admin_audit")[0][0],
            m.sql("SELECT group_concat(status) FROM subscriptions")[0][0],
            m.sql("SELECT count(*) FROM suppressions")[0][0],
            m.sql("SELECT count(*) FROM api_tokens")[0][0],
            m.sql("SELECT count(*) FROM admin_users")[0][0],
            m.sql("SELECT group_concat(status) FROM sends")[0][0])


def main():
    with Mailer("admin-security") as m:
        admin_user(m, "hoa@hagiang.example.vn", name="Hoa " + EVIL)
        admin_user(m, "bien.tap@hagiang.example.vn", role="editor", name="Biên tập")
        m.cli("article", "add", os.path.join(os.environ["MAILER_SOURCE_DIR"], "examples",
                                               "articles", "tin-pccc-20211005.json"))
        m.cli("list", "create", "tin", "--name", "Tin " + EVIL, "--optin", "single")
        m.cli("sub", "add", "an@example.vn", "--list", "tin", "--name", "An " + EVIL)
        m.cli("sub", "add", "binh@example.vn", "--list", "tin", "--name", "Bình")
        m.start()

        # ---- no session: GET -> login, anything else -> 403, nothing changes ----
        before = snapshot(m)
        anon = Client(m)
        for path in GETS:
            st, h, _ = anon.get(path)
            check(st == 303 and h.get("location", "").startswith("/admin/login?next="),
                  "GET %s without a session: %d %s" % (path, st, h.get("location")))
        for path in POSTS:
            st, _, _ = anon.post(path, {"csrf": "x", "slug": "evil", "name": "evil"}, csrf=False)
            check(st == 403, "POST %s without a session: %d" % (path, st))
        # a large upload is read only for someone signed in ([admin] import_max_bytes,
        # else [limits] http_max_body, 1 MB): a stranger's is refused before its body
        # (only the head is sent: the answer must come before any of the body)
        import socket
        for cookie in (b"", b"Cookie: mailer_admin=" + b"A" * 43 + b"\r\n"):  # none, made up
            s = socket.create_connection(("127.0.0.1", m.port), timeout=10)
            s.sendall(b"POST /admin/import HTTP/1.1\r\nHost: x\r\n" + cookie +
                      b"Content-Type: multipart/form-data; boundary=B\r\n"
                      b"Content-Length: 1572864\r\n\r\n")
            head = b""
            while True:  # the server closes after its answer (Connection: close)
                chunk = s.recv(65536)
                if not chunk:
                    break
                head += chunk
            s.close()
            check(head.startswith(b"HTTP/1.1 413") and "Tệp quá lớn".encode() in head,
                  "a stranger's upload (%r): %r" % (cookie, head[:300]))
        # a made-up cookie is no session either
        anon.cookie = "A" * 43
        st, h, _ = anon.get("/admin/")
        check(st == 303, "a forged cookie was let in: %d" % st)
        check(snapshot(m) == before, "a request without a session changed something")

        # ---- the session id is replaced at login ----
        c = Client(m)
        c.cookie = "planted-" + "A" * 35  # what an attacker put in the browser
        planted = c.cookie
        c.login("hoa@hagiang.example.vn")
        check(c.cookie and c.cookie != planted and len(c.cookie) == 43,
              "login kept the planted id: %s" % c.cookie)
        first = c.cookie
        st, _, _ = c.get("/admin/")
        check(st == 200, "signed in: %d" % st)
        # signing in again from the same browser: a new id, the old one ended
        c.login("hoa@hagiang.example.vn")
        check(c.cookie != first, "a second login kept the session id")
        old = Client(m)
        old.cookie = first
        st, _, _ = old.get("/admin/")
        check(st == 303, "the session replaced at login still works: %d" % st)
        rows = m.sql("SELECT id_hash FROM admin_sessions")
        check(all(len(r[0]) == 64 and c.cookie not in r[0] for r in rows),
              "the session id itself is stored")
        # the cookie's attributes
        fresh = Client(m)
        st, h, body = fresh.get("/admin/login")
        tok = field(body, "csrf")
        st, h, _ = fresh.post("/admin/login", {"csrf": tok, "email": "hoa@hagiang.example.vn",
                                               "password": PASSWORD}, csrf=False)
        sc = h.get("set-cookie", "")
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/admin"):
            check(attr in sc, "cookie without %s: %s" % (attr, sc))
        check("Secure" not in sc, "Secure on an http:// site: %s" % sc)
        check("frame-ancestors 'none'" in h.get("content-security-policy", ""),
              "admin answer may be framed")

        # ---- CSRF: no token, another session's token, another Origin ----
        other = Client(m)
        other.login("bien.tap@hagiang.example.vn")
        before = snapshot(m)
        for path in POSTS:
            st, _, _ = c.post(path, {"slug": "evil", "name": "evil", "confirm": "yes"},
                              csrf=False)
            check(st == 403, "POST %s without the CSRF token: %d" % (path, st))
        st, _, _ = c.post("/admin/lists/new", {"slug": "evil", "name": "evil",
                                               "csrf": other.csrf}, csrf=False)
        check(st == 403, "another session's token was accepted: %d" % st)
        st, _, _ = c.post("/admin/lists/new", {"slug": "evil", "name": "evil"},
                          headers={"Origin": "http://evil.example"})
        check(st == 403, "a POST from another Origin was accepted: %d" % st)
        st, _, _ = c.post("/admin/lists/new", {"slug": "evil", "name": "evil"},
                          headers={"Origin": "null"})
        check(st == 403, "a POST with Origin null was accepted: %d" % st)
        check(snapshot(m) == before, "a refused POST changed something")
        # with the token and our Origin it works
        st, h, _ = c.post("/admin/lists/new", {"slug": "tin-hai", "name": "Tin hai " + EVIL,
                                               "optin": "double"},
                          headers={"Origin": "http://127.0.0.1:%d" % m.port})
        check(st == 303 and h["location"] == "/admin/lists/tin-hai?ok=created",
              "list create: %d %s" % (st, h.get("location")))

        # ---- roles: an editor gets 403 on accounts, tokens, the audit log ----
        for path in ("/admin/users", "/admin/users/1", "/admin/tokens", "/admin/audit"):
            st, _, _ = other.get(path)
            check(st == 403, "editor GET %s: %d" % (path, st))
        before = snapshot(m)
        for path in ("/admin/users", "/admin/users/1", "/admin/users/1/remove", "/admin/tokens",
                     "/admin/tokens/1/revoke"):
            st, _, _ = other.post(path, {"email": "x@example.vn", "name": "x", "role": "admin",
                                         "password": PASSWORD, "scope": "full"})
            check(st == 403, "editor POST %s: %d" % (path, st))
        check(snapshot(m) == before, "an editor changed accounts or tokens")
        st, _, body = other.get("/admin/")
        check(st == 200 and b"/admin/users" not in body and b"/admin/tokens" not in body,
              "the editor's menu offers admin pages")
        for path in ("/admin/lists", "/admin/subscribers", "/admin/digests", "/admin/queue",
                     "/admin/sends"):
            st, _, _ = other.get(path)
            check(st == 200, "editor GET %s: %d" % (path, st))

        # the same size of upload, signed in, is read (and imported)
        rows = "email,name\r\n" + "".join("nhap%d@example.vn,Người nhập %d\r\n" % (i, i)
                                            for i in range(40000))
        mp = ("--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n%s\r\n"
              "--B\r\nContent-Disposition: form-data; name=\"list\"\r\n\r\ntin\r\n"
              "--B\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nconfirmed\r\n"
              "--B\r\nContent-Disposition: form-data; name=\"csv\"; filename=\"lon.csv\"\r\n"
              "Content-Type: text/csv\r\n\r\n%s\r\n--B--\r\n" % (c.csrf, rows)).encode()
        check(len(mp) > 1024 * 1024, "the upload is not over http_max_body")
        st, h, body = c.post("/admin/import", {}, raw=mp, ctype="multipart/form-data; boundary=B")
        check(st == 303 and re.match(r"/admin/import/[0-9a-f]{32}$", h.get("location", "")),
              "a signed-in upload over http_max_body: %d %s" % (st, body[:300]))
        job = h["location"]
        m.wait_for(lambda: b'name="csrf"' in c.get(job)[2] and b"/run" in c.get(job)[2],
                   "the dry run of the upload")
        st, _, body = c.get(job)
        check("40000".encode() in body, "the dry run's rows")

        # ---- changes, each audited ----
        st, _, body = c.post("/admin/tokens", {"name": "cms " + EVIL, "scope": "read"})
        check(st == 201, "token create: %d" % st)
        mo = re.search(rb'id="newtoken" readonly value="(mlr_[A-Za-z0-9_-]{43})"', body)
        check(mo, "the new token is not shown once")
        token = mo.group(1).decode()
        st, _, body = c.get("/admin/tokens")
        check(token.encode() not in body, "the token is shown again")
        # the read-only token reads and may not write
        st, _, _ = m.request("GET", "/api/lists", headers={"Authorization": "Bearer " + token},
                             timeout=REQUEST_TIMEOUT)
        check(st == 200, "read-only token GET: %d" % st)
        st, h, _ = post_json(m, "/api/lists", {"slug": "x", "name": "x"},
                               headers={"Authorization": "Bearer " + token})
        check(st == 403 and "insufficient_scope" in h.get("www-authenticate", ""),
              "read-only token POST: %d %s" % (st, h))
        tid = m.sql("SELECT id FROM api_tokens WHERE scope = 'read'")[0][0]
        st, _, _ = c.post("/admin/tokens/%d/revoke" % tid, {})
        check(st == 303, "token revoke: %d" % st)
        st, _, _ = m.request("GET", "/api/lists", headers={"Authorization": "Bearer " + token},
                             timeout=REQUEST_TIMEOUT)
        check(st == 401, "a revoked token still works: %d" % st)

        st, _, _ = c.post("/admin/users", {"email": "moi@hagiang.example.vn",
                                           "name": "Mới " + EVIL, "role": "editor",
                                           "password": PASSWORD})
        check(st == 303, "user add: %d" % st)
        uid = m.sql("SELECT id FROM admin_users WHERE email = 'moi@hagiang.example.vn'")[0][0]
        st, _, _ = c.post("/admin/users/%d" % uid, {"name": "Mới", "role": "admin",
                                                    "password": ""})
        check(st == 303, "user update: %d" % st)
        st, _, _ = c.post("/admin/lists/tin", {"name": "Tin " + EVIL, "description": "Mô tả",
                                               "optin": "single", "digest_form": "1",
                                               "digest_weekday": "2", "digest_time": "08:30",
                                               "digest_category": "", "digest_max_articles": "5",
                                               "digest_subject": "Tuần {{week}}",
                                               "digest_template": "digest"})
        check(st == 303, "list update: %d" % st)
        lst = m.sql("SELECT digest_weekday, digest_time, digest_max_articles, digest_enabled "
                    "FROM lists WHERE slug = 'tin'")[0]
        check(lst == (2, "08:30", 5, 0), "list settings: %r" % (lst,))
        an = m.sql("SELECT id FROM subscribers WHERE email_key = 'an@example.vn'")[0][0]
        binh = m.sql("SELECT id FROM subscribers WHERE email_key = 'binh@example.vn'")[0][0]
        st, _, _ = c.post("/admin/subscribers/%d/unsubscribe" % binh, {"list": "tin"})
        check(st == 303, "unsubscribe: %d" % st)
        check(m.sql("SELECT status FROM subscriptions WHERE subscriber_id = ?", binh)[0][0] ==
              "unsubscribed", "not unsubscribed")
        st, _, _ = c.post("/admin/subscribers/%d/block" % binh, {})
        check(st == 303, "block: %d" % st)
        check(m.sql("SELECT reason FROM suppressions WHERE email_key = 'binh@example.vn'")
              == [("manual",)], "not blocked")
        # erase asks first; the POST without confirm=yes only asks again
        st, _, body = c.get("/admin/subscribers/%d/erase" % binh)
        check(st == 200 and "Xoá vĩnh viễn".encode() in body, "no confirmation page")
        st, _, _ = c.post("/admin/subscribers/%d/erase" % binh, {})
        check(st == 400 and m.sql("SELECT count(*) FROM subscribers WHERE id = ?", binh)[0][0],
              "erase without confirmation: %d" % st)
        st, _, _ = c.post("/admin/subscribers/%d/erase" % binh, {"confirm": "yes"})
        check(st == 303, "erase: %d" % st)
        check(m.sql("SELECT count(*) FROM subscribers WHERE email_key = 'binh@example.vn'")
              == [(0,)], "the person is still there")
        check(m.sql("SELECT email_key FROM suppressions") == [(None,)],
              "the blocked address was kept in clear, or the block lost")
        st, _, _ = c.post("/admin/lists/tin-hai/remove", {})
        check(st == 303, "list remove: %d" % st)
        st, _, _ = c.post("/admin/users/%d/remove" % uid, {})
        check(st == 303, "user remove: %d" % st)
        actions = [r[0] for r in m.sql("SELECT action FROM admin_audit ORDER BY id")]
        for want in ("user.add", "login", "list.create", "token.create", "token.revoke",
                     "user.update", "list.update", "subscriber.unsubscribe", "subscriber.block",
                     "subscriber.erase", "list.remove", "user.remove"):
            check(want in actions, "audit lacks %s: %s" % (want, actions))
        rows = m.sql("SELECT actor, object, ip FROM admin_audit WHERE action = 'list.create' "
                     "AND object = 'tin-hai'")
        check(rows == [("hoa@hagiang.example.vn", "tin-hai", "127.0.0.1")],
              "audit row of list.create: %r" % rows)
        check(not m.sql("SELECT 1 FROM admin_audit WHERE object LIKE '%binh%' OR detail LIKE "
                        "'%binh%'"), "the audit log keeps an erased person's address")
        st, _, body = c.get("/admin/audit")
        text = body.decode()
        for label in ("Tạo danh sách", "Xoá toàn bộ dữ liệu", "Thu hồi khoá API"):
            check(label in text, "audit page lacks %s" % label)

        # ---- the dashboard: each bounce mailbox from its last poll ----
        now = int(time.time())
        m.sql_exec("INSERT INTO bounce_mailboxes(name, last_poll_at, last_ok_at, last_error) "
                   "VALUES ('hop-tot', ?, ?, ''), ('hop-loi', ?, ?, ?), ('hop-moi', ?, NULL, '')",
                   now, now, now, now - 3600, "IMAP: " + EVIL, now)
        st, _, body = c.get("/admin/")
        text = body.decode()
        check(re.search(r"Hộp thư hop-tot.*?đọc được lúc", text, re.S) and
              re.search(r"Hộp thư hop-loi.*?lỗi: IMAP: " + re.escape(EVIL_ESC), text, re.S) and
              re.search(r"Hộp thư hop-moi.*?lỗi: chưa đọc được lần nào", text, re.S),
              "the dashboard's mailboxes: %s" % text[text.find("Hộp thư"):][:1500])

        # ---- every page shows names with <script> and quotes escaped ----
        pages = [p for p in GETS if "export.csv" not in p and "data.json" not in p
                 and "progress.json" not in p]
        pages += ["/admin/subscribers/%d" % an, "/admin/subscribers?q=an",
                  "/admin/subscribers?list=tin", "/admin/lists/tin", "/admin/users/%d" % 1]
        seen = 0
        for path in pages:
            st, _, body = c.get(path)
            text = body.decode("utf-8", "replace")
            check(EVIL_RAW not in text, "%s shows a name unescaped" % path)
            check("alert(\"x\")" not in text, "%s shows a quote unescaped" % path)
            seen += EVIL_ESC in text
        check(seen >= 8, "the escaped names were seen on only %d pages" % seen)
        st, h, body = c.get("/admin/subscribers/%d/data.json" % an)
        check(st == 200 and h["content-type"].startswith("application/json") and
              "attachment" in h.get("content-disposition", ""), "data.json: %d %s" % (st, h))
        check(json.loads(body)["subscriber"]["name"] == "An " + EVIL, "data.json name")

        # ---- a password change ends the other sessions; logout ends this one ----
        c2 = Client(m, ip="10.4.0.1")
        c2.login("hoa@hagiang.example.vn")
        st, h, _ = c2.post("/admin/account", {"current": PASSWORD, "password": PASSWORD + "!",
                                              "again": PASSWORD + "!"})
        check(st == 303 and "/admin/login" in h["location"], "password change: %d" % st)
        st, _, _ = c.get("/admin/")
        check(st == 303, "another session survived the password change: %d" % st)
        c3 = Client(m, ip="10.4.0.2")
        c3.login("hoa@hagiang.example.vn", PASSWORD + "!")
        cookie = c3.cookie
        st, h, _ = c3.post("/admin/logout", {})
        check(st == 303 and "Max-Age=0" in h.get("set-cookie", ""), "logout: %d %s" % (st, h))
        c3.cookie = cookie
        st, _, _ = c3.get("/admin/")
        check(st == 303, "the session survived logout: %d" % st)

        rc = m.stop()
        check(rc == 0, "serve exit %s" % rc)
        if "ERROR" in m.log() or "runtime error" in m.log():
            fail("errors in the log:\n" + m.log()[-3000:])
    print("ok")


def throttle():
    """The tenth wrong password in a minute is refused, per client IP and
    per account. The server's clock stands still (MAILER_FAKE_NOW), so the
    ten attempts are in one minute however slow the machine is."""
    with Mailer("admin-throttle", env={"MAILER_FAKE_NOW": str(int(time.time()))}) as m:
        admin_user(m, "hoa@hagiang.example.vn")
        admin_user(m, "bien.tap@hagiang.example.vn", role="editor")
        admin_user(m, "thu.ky@hagiang.example.vn", role="editor")
        m.start()
        # per client IP (the test server trusts 127.0.0.1 as a proxy)
        t = Client(m, ip="10.1.1.1")
        for i in range(9):
            t.login("hoa@hagiang.example.vn", "sai mật khẩu %d" % i, expect=401)
        t.login("hoa@hagiang.example.vn", "sai mật khẩu 10", expect=429)
        t.login("hoa@hagiang.example.vn", PASSWORD, expect=429)  # even the right one
        # the account had nine failures too: it is held for everyone this minute...
        Client(m, ip="10.1.1.2").login("hoa@hagiang.example.vn", expect=429)
        # ...while other people and other addresses are not held up
        Client(m, ip="10.1.1.2").login("bien.tap@hagiang.example.vn")
        # per account, from many addresses
        for i in range(9):
            Client(m, ip="10.2.0.%d" % (i + 1)).login("thu.ky@hagiang.example.vn",
                                                     "sai %d" % i, expect=401)
        Client(m, ip="10.2.1.1").login("thu.ky@hagiang.example.vn", "sai", expect=429)
        Client(m, ip="10.2.1.1").login("thu.ky@hagiang.example.vn", expect=429)
        # unknown accounts answer like wrong passwords
        Client(m, ip="10.3.0.1").login("khong.co@hagiang.example.vn", expect=401)

        m.stop()
    print("ok: throttle")


def idle_expiry():
    """A session ends after [admin] session_idle without a request (the clock
    of the server is moved with MAILER_FAKE_NOW)."""
    now = int(time.time())
    with Mailer("admin-idle", env={"MAILER_FAKE_NOW": str(now)},
                extra="[admin]\nsession_idle = 10m\nsession_max = 1h\n") as m:
        admin_user(m, "hoa@hagiang.example.vn")
        m.start()
        c = Client(m)
        c.login("hoa@hagiang.example.vn")
        cookie = c.cookie
        m.stop()
        m.env = {"MAILER_FAKE_NOW": str(now + 601)}
        m.start()
        c.cookie = cookie
        st, h, _ = c.get("/admin/lists")
        check(st == 303 and "expired=1" in h.get("location", ""),
              "an idle session still works: %d %s" % (st, h.get("location")))
        check(m.sql("SELECT count(*) FROM admin_sessions") == [(0,)], "expired row kept")
        m.stop()
    print("ok: idle expiry")


if __name__ == "__main__":
    main()
    throttle()
    idle_expiry()
