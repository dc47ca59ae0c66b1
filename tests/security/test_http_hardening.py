"""Issue 16 item 12, the HTTP parts.

- every POST with a fresh CSRF token inserted a row before any rate limit:
  here 12 fresh forms from one client with a limit of 2 leave 2 rows;
- pages sent `frame-ancestors *`: now 'none' (and X-Frame-Options DENY) on
  every page, and /media and every other answer carry `nosniff`;
- rate windows were fixed clock hours (twice the limit across a boundary):
  here 2 shares at hh:59:30 and a third at hh+1:00:10 (another clock hour)
  is refused, with a Retry-After that counts to the moment the first leaves
  the sliding hour;
- /metrics was public: with [http] metrics_token it answers 401 without the
  token and with a wrong one, and the counters with it;
- CSRF tokens were bound to no client and /subscribe had neither token nor
  Origin check: here a token another browser fetched (the attacker's own
  GET), a form without the browser's form cookie, a subscribe without a
  token, and a POST whose Origin is another site (share, subscribe,
  confirm, unsubscribe) are each refused with the reader's message, and
  nothing is written or sent.
"""
import email
import email.policy
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serve import SAMPLE, Mailer, check, sample_id  # noqa: E402

SHARE = "/share/" + urllib.parse.quote(sample_id(), safe="")
TOKEN = "metrics-token-0123456789abcdef"
N = iter(range(1, 1000000))


def form(m, xff):
    st, _, page = m.request("GET", SHARE)
    check(st == 200, "share form: %d" % st)
    tok = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
    body = urllib.parse.urlencode([("csrf", tok), ("to", "ban@example.vn"),
                                   ("sender_name", "An"),
                                   ("sender_email", "an%d@example.vn" % next(N)),
                                   ("note", "Hay"), ("website", "")])
    return m.post_form(SHARE, body, {"X-Forwarded-For": xff})


EVIL = {"Origin": "https://evil.example"}


def check_forms(m):
    m.cli("list", "create", "tin-tuc", "--name", "Bản tin", "--optin", "double", "--public")
    shares = m.sql("SELECT count(*) FROM sends")[0][0]
    # the attacker's own GET gives a token bound to the attacker's cookie
    mine = dict(m.cookies)
    m.cookies.clear()
    stolen = m.form_token(SHARE)
    stolen_sub = m.form_token("/subscribe")
    m.cookies.clear()
    m.cookies.update(mine)  # the victim's browser: its own cookie, the attacker's token
    body = urllib.parse.urlencode([("csrf", stolen), ("to", "ban@example.vn"),
                                   ("sender_email", "nan.nhan@example.vn"), ("website", "")])
    st, _, page = m.post_form(SHARE, body, {"X-Forwarded-For": "198.51.100.8"})
    check(st == 403 and "tải lại trang" in page.decode(), "another browser's token: %d" % st)
    st, _, page = m.post_form("/subscribe", urllib.parse.urlencode(
        [("list", "tin-tuc"), ("email", "nan.nhan@example.vn"), ("csrf", stolen_sub)]))
    check(st == 403 and "tải lại trang" in page.decode(), "another browser's subscribe token: %d"
          % st)
    # no form cookie at all
    tok = m.form_token(SHARE)
    body = urllib.parse.urlencode([("csrf", tok), ("to", "ban@example.vn"),
                                   ("sender_email", "nan.nhan@example.vn"), ("website", "")])
    st, _, page = m.post_form(SHARE, body, {"Cookie": "", "X-Forwarded-For": "198.51.100.8"})
    check(st == 403 and "cookie" in page.decode(), "a form without its cookie: %d" % st)
    # /subscribe without a token
    st, _, page = m.post_form("/subscribe", urllib.parse.urlencode(
        [("list", "tin-tuc"), ("email", "nan.nhan@example.vn")]))
    check(st == 403 and "tải lại trang" in page.decode(), "subscribe without a token: %d" % st)
    # from another site, with a genuine token of this browser: refused everywhere
    body = urllib.parse.urlencode([("csrf", m.form_token(SHARE)), ("to", "ban@example.vn"),
                                   ("sender_email", "nan.nhan@example.vn"), ("website", "")])
    for origin in (EVIL, {"Origin": "null"}):
        st, _, page = m.post_form(SHARE, body, dict(origin, **{"X-Forwarded-For": "198.51.100.9"}))
        check(st == 403 and "trang khác" in page.decode(), "share from %s: %d" % (origin, st))
    st, _, page = m.subscribe({"list": "tin-tuc", "email": "nan.nhan@example.vn"}, EVIL)
    check(st == 403 and "trang khác" in page.decode(), "subscribe from another site: %d" % st)
    check(m.sql("SELECT count(*) FROM sends")[0][0] == shares, "a refused form sent mail")
    check(m.sql("SELECT count(*) FROM subscribers")[0][0] == 0, "a refused form subscribed")
    # the same forms from this site are taken; links' POSTs too, but not from another site
    st, _, page = m.subscribe({"list": "tin-tuc", "email": "ban.that@example.vn"},
                              {"Origin": "http://127.0.0.1:%d" % m.port})
    check(st == 200, "subscribe from this site: %d" % st)
    sid = m.sql("SELECT id FROM subscribers")[0][0]

    def link(kind):
        for path in m.eml_files():
            with open(path, "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            text = msg.get_body(("plain",)).get_content()
            mt = re.search(r"http://127\.0\.0\.1:\d+(/%s/[A-Za-z0-9_.~-]+)" % kind, text)
            if mt:
                return mt.group(1)
        return None
    confirm = m.wait_for(lambda: link("confirm"), "the confirmation mail")
    for path in (confirm, "/unsubscribe/AAAA"):
        st, _, page = m.post_form(path, "all=1", EVIL)
        check(st == 403 and "trang khác" in page.decode(), "%s from another site: %d"
              % (path[:12], st))
    check(m.sql("SELECT status FROM subscriptions WHERE subscriber_id = ?", sid)[0][0]
          == "unconfirmed", "a POST from another site changed the subscription")
    st, _, _ = m.post_form(confirm, "", {"Origin": "http://127.0.0.1:%d" % m.port})
    check(st == 200 and m.sql("SELECT status FROM subscriptions WHERE subscriber_id = ?",
                              sid)[0][0] == "confirmed", "confirm from this site: %d" % st)


def main():
    hh = 1765000000 - 1765000000 % 3600 + 3600  # a clock hour's start
    with Mailer("sec-http-hardening",
                limits={"share_per_ip_per_hour": 2, "share_per_sender_per_hour": 100},
                http={"metrics_token": TOKEN},
                env={"MAILER_FAKE_NOW": str(hh - 30)}) as m:
        m.cli("article", "add", SAMPLE)
        m.start()

        # headers: no framing anywhere, no sniffing anywhere
        st, h, page = m.request("GET", SHARE)
        csp = h.get("content-security-policy", "")
        check("frame-ancestors 'none'" in csp and "frame-ancestors *" not in csp,
              "share page CSP: %s" % csp)
        check(h.get("x-frame-options") == "DENY", "X-Frame-Options: %s" % h.get("x-frame-options"))
        check(h.get("x-content-type-options") == "nosniff", "page without nosniff")
        src = re.search(rb'<img src="(/media/[0-9a-f]{64})"', page).group(1).decode()
        st, h, _ = m.request("GET", src)
        check(st == 200 and h.get("x-content-type-options") == "nosniff",
              "/media: %d nosniff=%s" % (st, h.get("x-content-type-options")))
        check("frame-ancestors 'none'" in h.get("content-security-policy", ""),
              "/media may be framed")
        st, h, _ = m.request("GET", "/healthz")
        check(h.get("x-content-type-options") == "nosniff", "/healthz without nosniff")

        # 12 fresh forms from one client, limit 2: 2 through, 10 refused, 2 nonces stored
        got = [form(m, "198.51.100.7")[0] for _ in range(12)]
        check(got.count(303) == 2 and got.count(429) == 10, "statuses: %s" % got)
        rows = m.sql("SELECT count(*) FROM csrf_used")[0][0]
        check(rows == 2, "%d CSRF rows written for 2 requests let through" % rows)

        # /metrics behind its token
        st, h, _ = m.request("GET", "/metrics")
        check(st == 401 and h.get("www-authenticate", "").startswith("Bearer"),
              "/metrics without the token: %d" % st)
        st, _, _ = m.request("GET", "/metrics", headers={"Authorization": "Bearer wrong"})
        check(st == 401, "/metrics with a wrong token: %d" % st)
        st, _, body = m.request("GET", "/metrics", headers={"Authorization": "Bearer " + TOKEN})
        check(st == 200 and b"mailer_http_requests_total" in body, "/metrics with the token: %d"
              % st)

        # CSRF bound to the browser, and the Origin of every form
        check_forms(m)
        m.stop()

        # a sliding hour: the two shares of hh-0:00:30 still count at hh+0:00:10
        m.env["MAILER_FAKE_NOW"] = str(hh + 10)
        m.start()
        st, h, _ = form(m, "198.51.100.7")
        check(st == 429, "a new clock hour let the client through again: %d" % st)
        check(h.get("retry-after") == str(3600 - 40), "Retry-After %s, want %d"
              % (h.get("retry-after"), 3600 - 40))
        m.stop()
        m.env["MAILER_FAKE_NOW"] = str(hh - 30 + 3600)
        m.start()
        st, _, _ = form(m, "198.51.100.7")
        check(st == 303, "an hour after the first share: %d" % st)
        m.stop()
    print("ok: nonces only for requests let through; no framing; nosniff; sliding hours; "
          "/metrics behind its token")


if __name__ == "__main__":
    main()
