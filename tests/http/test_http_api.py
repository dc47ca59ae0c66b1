"""The admin API (bearer tokens, articles, lists, subscribers, sends, queue)
and the subscription pages (subscribe, confirm, unsubscribe incl. RFC 8058
one-click) against a running `mailer serve`, checked in the database and in
the delivered mail.
"""
import email
import email.policy
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import Mailer, SAMPLE, check, fail, sample_id  # noqa: E402

LIST = "ban-tin-tuan"


def api(m, method, path, token, body=None, ctype="application/json", headers=None):
    h = {"Authorization": "Bearer " + token} if token else {}
    h.update(headers or {})
    if body is not None:
        h["Content-Type"] = ctype
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body, ensure_ascii=False)
    st, hd, data = m.request(method, path, body, h)
    return st, hd, data


def test_auth(m):
    st, h, body = api(m, "GET", "/api/lists", None)
    check(st == 401 and h.get("www-authenticate", "").startswith("Bearer"),
          "no token: %d %s" % (st, h))
    check(json.loads(body)["error"]["code"] == "unauthorized", "401 body")
    st, h, _ = api(m, "GET", "/api/lists", "mlr_not-a-real-token")
    check(st == 401 and 'error="invalid_token"' in h.get("www-authenticate", ""),
          "wrong token: %d" % st)
    st, _, _ = m.request("GET", "/api/lists", headers={"Authorization": "Basic YTpi"})
    check(st == 401, "basic auth: %d" % st)
    p = m.cli("token", "create", "cms")
    token = p.stdout.strip()
    check(re.fullmatch(r"mlr_[A-Za-z0-9_-]{43}", token), "token format: %r" % token)
    st, _, _ = api(m, "GET", "/api/lists", token)
    check(st == 200, "good token: %d" % st)
    check(m.sql("SELECT count(*) FROM api_tokens WHERE token_hash = ?", token)[0][0] == 0,
          "the token itself is stored")
    p = m.cli("token", "create", "old")
    old = p.stdout.strip()
    ls = m.cli("token", "ls").stdout
    check("cms" in ls and "old" in ls and old not in ls, "token ls: %s" % ls)
    m.cli("token", "revoke", "old")
    st, _, _ = api(m, "GET", "/api/lists", old)
    check(st == 401, "revoked token: %d" % st)
    check("revoked" in m.cli("token", "ls").stdout, "revoked not shown")
    return token, old


def test_articles(m, token):
    with open(SAMPLE, "rb") as f:
        raw = f.read()
    st, _, body = api(m, "POST", "/api/articles", token, raw)
    check(st == 201 and json.loads(body)["created"] is True, "article upsert: %d %s" % (st, body))
    st, _, body = api(m, "POST", "/api/articles", token, raw)
    check(st == 200 and json.loads(body)["created"] is False, "second upsert: %d" % st)
    check(m.sql("SELECT count(*) FROM articles")[0][0] == 1, "article duplicated")
    st, _, body = api(m, "GET", "/api/articles", token)
    ids = [a["id"] for a in json.loads(body)["articles"]]
    check(st == 200 and sample_id() in ids, "article list: %s" % ids)
    st, _, body = api(m, "GET", "/api/articles/" + urllib.parse.quote(sample_id()), token)
    check(st == 200 and json.loads(body)["title"] == json.load(open(SAMPLE))["title"],
          "article get: %d" % st)
    st, _, body = api(m, "GET", "/api/articles/khong-co", token)
    check(st == 404 and json.loads(body)["error"]["code"] == "not_found", "unknown: %d" % st)
    st, _, body = api(m, "POST", "/api/articles", token, b'{"id": "x", ')
    check(st == 400 and "malformed JSON" in json.loads(body)["error"]["message"], "bad JSON")
    st, _, body = api(m, "POST", "/api/articles", token, "id=x", "application/x-www-form-urlencoded")
    check(st == 415, "articles wrong type: %d" % st)
    bad = json.loads(raw)
    bad["title"] = ""
    st, _, body = api(m, "POST", "/api/articles", token, bad)
    check(st == 400 and "title" in json.loads(body)["error"]["message"], "empty title: %s" % body)


def test_lists_and_subscribers(m, token):
    st, _, body = api(m, "POST", "/api/lists", token,
                      {"slug": LIST, "name": "Bản tin tuần", "optin": "double",
                       "description": "Tin mới trong tuần", "public": True})
    check(st == 201 and json.loads(body)["slug"] == LIST, "list create: %d %s" % (st, body))
    st, _, body = api(m, "POST", "/api/lists", token, {"slug": LIST, "name": "Lặp"})
    check(st == 409, "duplicate list: %d" % st)
    st, _, body = api(m, "POST", "/api/lists", token, {"slug": "Sai Slug", "name": "x"})
    check(st == 400, "bad slug: %d" % st)
    st, _, body = api(m, "GET", "/api/lists", token)
    check([l["slug"] for l in json.loads(body)["lists"]] == [LIST], "list ls")
    st, _, body = api(m, "POST", "/api/subscribers", token,
                      {"email": "doc.gia@example.vn", "name": "Độc Giả", "list": LIST,
                       "confirmed": True})
    check(st == 201 and json.loads(body)["outcome"] == "confirmed", "sub add: %s" % body)
    csv = "email,name\r\nmot@example.vn,Một\r\nhai@example.vn,Hai\r\nkhong-hop-le,Ba\r\n"
    st, _, body = api(m, "POST", "/api/subscribers/import?list=" + LIST, token, csv, "text/csv")
    rep = json.loads(body)
    check(st == 200 and rep["rows"] == 3 and rep["bad"] == 1 and rep["created"] == 2,
          "import: %d %s" % (st, body))
    st, _, body = api(m, "GET", "/api/subscribers?list=%s&q=hai" % LIST, token)
    subs = json.loads(body)["subscribers"]
    check(st == 200 and [s["email"] for s in subs] == ["hai@example.vn"], "search: %s" % body)
    st, h, body = api(m, "GET", "/api/subscribers/export?list=" + LIST, token)
    text = body.decode()
    check(st == 200 and h["content-type"].startswith("text/csv") and
          text.startswith("email,name,status,list,created_at,attributes\r\n") and
          "Độc Giả" in text and text.count("\r\n") == 4, "export: %d %r" % (st, text[:200]))
    st, _, body = api(m, "GET", "/api/subscribers/hai%40example.vn", token)
    check(st == 200 and json.loads(body)["subscriber"] is not None, "show: %d" % st)
    shown = json.loads(body)
    # the same view as `mailer sub show`: envelopes and the shares they sent too
    check(isinstance(shown.get("envelopes"), dict) and
          shown.get("shares", {}).get("total") == 0, "show lacks envelopes/shares: %r" %
          sorted(shown))
    st, _, _ = api(m, "DELETE", "/api/subscribers/hai%40example.vn", token)
    check(st == 204, "delete subscriber: %d" % st)
    check(not m.sql("SELECT 1 FROM subscribers WHERE email_key = 'hai@example.vn'"),
          "subscriber not deleted")
    st, _, _ = api(m, "DELETE", "/api/subscribers/hai%40example.vn", token)
    check(st == 404, "delete again: %d" % st)


def test_sends_and_queue(m, token):
    st, _, body = m.post_json("/share/" + urllib.parse.quote(sample_id()),
                              {"to": ["a@example.vn", "b@example.vn"],
                               "sender_email": "gui@example.vn"})
    check(st == 202, "share for sends: %d %s" % (st, body))
    send_id = json.loads(body)["send_id"]
    st, _, body = api(m, "GET", "/api/sends/%d" % send_id, token)
    s = json.loads(body)
    check(st == 200 and s["kind"] == "share" and sum(s["envelopes"].values()) == 2,
          "send status: %s" % body)
    st, _, body = api(m, "GET", "/api/queue", token)
    check(st == 200 and "queued" in json.loads(body)["envelopes"], "queue: %s" % body)
    st, _, _ = api(m, "GET", "/api/sends/999999", token)
    check(st == 404, "unknown send: %d" % st)


def mails_to(m, addr):
    out = []
    for p in m.eml_files():
        with open(p, "rb") as f:
            data = f.read()
        msg = email.message_from_bytes(data, policy=email.policy.default)
        if addr in str(msg["To"]):
            out.append(msg)
    return out


def link_in(msg, kind):
    text = msg.get_body(("plain",)).get_content()
    mt = re.search(r"http://127\.0\.0\.1:\d+(/%s/[A-Za-z0-9_.~-]+)" % kind, text)
    return mt.group(1) if mt else None


def test_subscription_pages(m, token):
    who = "ban.moi@example.vn"
    st, _, page = m.request("GET", "/subscribe")
    check(st == 200 and "Bản tin tuần" in page.decode(), "subscribe page: %d" % st)
    st, _, page = m.subscribe({"list": LIST, "email": who, "name": "Bạn Mới"})
    check(st == 200 and "Đã nhận yêu cầu đăng ký" in page.decode(), "subscribe: %d" % st)
    st, _, page = m.subscribe({"list": LIST, "email": "sai@@example.vn"})
    check(st == 400, "bad address on the form: %d" % st)
    msg = m.wait_for(lambda: mails_to(m, who), "the confirm mail")[0]
    link = link_in(msg, "confirm")
    check(link, "no confirm link in the mail")
    status = lambda: m.sql("SELECT s.status FROM subscriptions s JOIN subscribers u ON "
                           "u.id = s.subscriber_id WHERE u.email_key = ?", who)[0][0]
    st, _, page = m.request("GET", link)
    check(st == 200 and "<form method=\"post\"" in page.decode(), "confirm page: %d" % st)
    check(status() == "unconfirmed", "GET on the confirm link changed something")
    st, _, page = m.request("POST", link, b"", {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 200 and "Đã xác nhận" in page.decode(), "confirm POST: %d" % st)
    check(status() == "confirmed", "not confirmed: %s" % status())
    st, _, _ = m.request("GET", link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    check(st == 400, "altered confirm link: %d" % st)

    # list mail with its unsubscribe link (a digest of the sample article)
    st, _, body = api(m, "POST", "/api/digests/%s/send" % LIST, token,
                      {"since": "2000-01-01T00:00:00Z"})
    check(st == 201, "digest send: %d %s" % (st, body))
    msg = m.wait_for(lambda: [x for x in mails_to(m, who) if link_in(x, "unsubscribe")],
                     "the list mail")[0]
    # base_url is http here: no one-click header (RFC 8058 needs https); the
    # endpoint still answers a one-click POST (below)
    check(msg["List-Unsubscribe-Post"] is None, "one-click header with an http base_url")
    st, _, _ = m.request("GET", "/unsubscribe/not-a-token")
    check(st == 400, "bad unsubscribe link: %d" % st)
    unsub = re.search(r"<(http://[^>]+/unsubscribe/[^>]+)>", str(msg["List-Unsubscribe"]))
    check(unsub, "List-Unsubscribe: %s" % msg["List-Unsubscribe"])
    path = urllib.parse.urlsplit(unsub.group(1)).path
    st, _, page = m.request("GET", path)
    check(st == 200 and 'name="all"' in page.decode(), "unsubscribe page: %d" % st)
    check(status() == "confirmed", "GET on the unsubscribe link changed something")
    # RFC 8058 one-click: 200, no redirect
    st, h, body = m.request("POST", path, b"List-Unsubscribe=One-Click",
                            {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 200 and "location" not in h, "one-click: %d %s" % (st, h))
    check(status() == "unsubscribed", "one-click did not unsubscribe")
    st, _, page = m.request("GET", path)
    check(st == 200 and "trước đó" in page.decode(), "page after unsubscribing: %d" % st)
    # the page's button with "leave all lists"
    st, _, page = m.post_form(path, "all=1")
    check(st == 200 and "mọi đăng ký" in page.decode(), "leave all: %d" % st)
    check(m.sql("SELECT reason FROM suppressions WHERE email_key = ?", who) ==
          [("unsubscribed_all",)], "no unsubscribed_all suppression")


def test_send_listing(m, token):
    """GET /api/sends against what the database holds (shares, the confirm
    mail and the digest of the tests before)."""
    for i in range(3):
        st, _, _ = m.post_json("/share/" + urllib.parse.quote(sample_id()),
                               {"to": ["page%d@example.vn" % i], "sender_email": "gui@example.vn"})
        check(st == 202, "share %d for the listing: %d" % (i, st))
    # the server's workers deliver meanwhile: compare once they are idle
    m.wait_for(lambda: m.sql("SELECT count(*) FROM envelopes WHERE state IN "
                             "('queued', 'sending') AND recipient LIKE 'page_@example.vn'") ==
               [(0,)], "the shares delivered")
    slug_of = dict(m.sql("SELECT id, slug FROM lists"))
    want = []
    for sid, kind, status, list_id in m.sql(
            "SELECT id, kind, status, list_id FROM sends ORDER BY id DESC"):
        counts = dict(m.sql("SELECT state, count(*) FROM envelopes WHERE send_id = ? "
                            "GROUP BY state", sid))
        want.append({"id": sid, "kind": kind, "status": status, "list": slug_of.get(list_id),
                     "counts": counts})
    check({w["kind"] for w in want} == {"share", "confirm", "digest"},
          "the tests before should have made every kind: %s" % want)

    def same(got, w):
        env = {k: v for k, v in got["envelopes"].items() if v}
        return (got["id"] == w["id"] and got["kind"] == w["kind"] and
                got["status"] == w["status"] and got["list"] == w["list"] and
                env == w["counts"] and got["total"] == sum(w["counts"].values()) and
                set(got["envelopes"]) == {"queued", "sending", "sent", "deferred", "failed",
                                          "cancelled"} and
                re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", got["created_at"]))

    def listing(query=""):
        st, _, body = api(m, "GET", "/api/sends" + query, token)
        check(st == 200, "GET /api/sends%s: %d %s" % (query, st, body))
        return json.loads(body)

    got = listing()
    check(len(got["sends"]) == len(want) and got["next_before"] is None,
          "all sends: %d of %d" % (len(got["sends"]), len(want)))
    for g, w in zip(got["sends"], want):
        check(same(g, w), "send %s: %s, database %s" % (w["id"], g, w))
    # filters, each against the database
    for query, pred in (("?kind=digest", lambda w: w["kind"] == "digest"),
                        ("?kind=confirm", lambda w: w["kind"] == "confirm"),
                        ("?list=" + LIST, lambda w: w["list"] == LIST),
                        ("?status=done", lambda w: w["status"] == "done"),
                        ("?kind=share&status=active",
                         lambda w: w["kind"] == "share" and w["status"] == "active")):
        ids = [g["id"] for g in listing(query)["sends"]]
        check(ids == [w["id"] for w in want if pred(w)], "%s: %s" % (query, ids))
    digest = listing("?kind=digest")["sends"]
    check(len(digest) == 1 and digest[0]["list"] == LIST, "digest: %s" % digest)
    # pages of two shares, newest first
    shares = [w["id"] for w in want if w["kind"] == "share"]
    check(len(shares) >= 4, "shares: %s" % shares)
    seen, before = [], None
    while True:
        page = listing("?kind=share&limit=2" + ("&before=%d" % before if before else ""))
        ids = [g["id"] for g in page["sends"]]
        seen += ids
        if page["next_before"] is None:  # a page that is not full: the last
            check(len(ids) < 2, "a full page without next_before: %s" % page)
            break
        check(len(ids) == 2 and page["next_before"] == ids[-1], "next_before: %s" % page)
        before = page["next_before"]
    check(seen == shares, "pages: %s, database %s" % (seen, shares))
    # one send: the same object
    one = listing()["sends"][0]
    st, _, body = api(m, "GET", "/api/sends/%d" % one["id"], token)
    check(st == 200 and json.loads(body) == one, "GET /api/sends/ID: %s vs %s" % (body, one))
    # refusals in the standard shape
    for query, status, field in (("?kind=spam", 400, "kind"), ("?status=x", 400, "status"),
                                 ("?limit=0", 400, "limit"), ("?limit=1001", 400, "limit"),
                                 ("?limit=abc", 400, "limit"), ("?before=-1", 400, "before"),
                                 ("?list=khong-co", 404, "list")):
        st, _, body = api(m, "GET", "/api/sends" + query, token)
        err = json.loads(body)["error"]
        check(st == status and err["field"] == field and err["message"],
              "%s: %d %s" % (query, st, body))
    st, _, _ = api(m, "POST", "/api/sends", token, {})
    check(st == 405, "POST /api/sends: %d" % st)
    st, _, _ = api(m, "GET", "/api/sends/12abc", token)
    check(st == 404, "GET /api/sends/12abc: %d" % st)
    st, _, _ = api(m, "GET", "/api/sends", None)
    check(st == 401, "sends without a token: %d" % st)


def test_log_has_no_secrets(m, tokens):
    log = m.log()
    for t in tokens:
        check(t not in log, "a bearer token is in the log")
    check("Bearer" not in log, "an Authorization header is in the log")
    for line in log.splitlines():
        if "/confirm/" in line or "/unsubscribe/" in line:
            check(re.search(r"/(confirm|unsubscribe)/… ", line) or "not-a-token" in line,
                  "a link token is in the log: " + line)


def main():
    with Mailer("http-api") as m:
        m.start()
        token, old = test_auth(m)
        test_articles(m, token)
        test_lists_and_subscribers(m, token)
        test_sends_and_queue(m, token)
        test_subscription_pages(m, token)
        test_send_listing(m, token)
        test_log_has_no_secrets(m, [token, old])
        st, _, body = m.request("GET", "/healthz")
        h = json.loads(body)
        check(st == 200 and h["database"] == "ok" and h["workers"] == "running"
              and h["scheduler"] == "running",
              "healthz: %s" % body)
        check(m.stop() == 0, "serve did not stop cleanly")
    print("ok")


if __name__ == "__main__":
    main()
