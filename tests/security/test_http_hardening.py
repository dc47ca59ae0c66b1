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
  token and with a wrong one, and the counters with it.
"""
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
