"""Issue 16 item 8: per-IP limits defeated behind a proxy.

Only the first X-Forwarded-For line was read, so a client's own line chose
its IP (HAProxy adds a second line rather than extending the client's);
addresses were not canonicalised (six spellings of one IPv4 address gave six
buckets); IPv6 was limited per /128; one client could then spend the global
share budget and deny service to everyone.

Here the server trusts 127.0.0.1 (the proxy) and 10.0.0.0/8 (a second hop),
with 3 shares per client an hour and 15 in all. A client that forges a new
first line each time, respells its address, or walks its /64 gets exactly 3
shares through, the share log names it in one spelling, and other clients
still share afterwards (the global budget was not spent by one). A garbage
entry cannot give a client a fresh bucket.
"""
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serve import SAMPLE, Mailer, check, sample_id  # noqa: E402
from mailertest import raw_http  # noqa: E402

SHARE = "/share/" + urllib.parse.quote(sample_id(), safe="")
N = iter(range(1, 1000000))


def share(m, xff_lines):
    """POSTs a JSON share with one X-Forwarded-For header line per entry of
    xff_lines (http.client cannot repeat a header, so the request is written
    by hand). Returns the status."""
    body = json.dumps({"to": ["ban.doc@example.vn"], "sender_name": "An",
                       "sender_email": "an%d@example.vn" % next(N),
                       "note": "Bài này hay."}).encode()
    head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n" \
           "Content-Length: %d\r\nConnection: close\r\n" % (SHARE, m.port, len(body))
    for line in xff_lines:
        head += "X-Forwarded-For: %s\r\n" % line
    return raw_http(m.port, head.encode() + b"\r\n" + body)


def through(m, variants):
    return [share(m, v) for v in variants].count(202)


def main():
    with Mailer("sec-proxy-ip", limits={"share_per_ip_per_hour": 3,
                                        "share_per_sender_per_hour": 100,
                                        "share_global_per_hour": 15},
                http={"trusted_proxies": "127.0.0.1, 10.0.0.0/8"}) as m:
        m.cli("article", "add", SAMPLE)
        m.start()
        # 1. the client's own line first, the proxy's line (the real client) second
        forged = [["1.1.1.%d" % i, "203.0.113.10"] for i in range(1, 9)]
        got = through(m, forged)
        check(got == 3, "forged first lines: %d shares through, want 3" % got)
        ips = {r[0] for r in m.sql("SELECT client_ip FROM share_log")}
        check(ips == {"203.0.113.10"}, "the share log names %s" % ips)

        # 2. six spellings of one address are one client
        spell = ["203.0.113.20", "::ffff:203.0.113.20", "[::ffff:203.0.113.20]:4711",
                 "203.0.113.20:80", "::FFFF:cb00:7114", "0:0:0:0:0:ffff:203.0.113.20"]
        got = through(m, [[s] for s in spell])
        check(got == 3, "six spellings: %d shares through, want 3" % got)
        ips = {r[0] for r in m.sql("SELECT client_ip FROM share_log WHERE client_ip LIKE "
                                   "'%203.0.113.20%' OR client_ip LIKE '%cb00%'")}
        check(ips == {"203.0.113.20"}, "spellings logged as %s" % ips)

        # 3. an IPv6 client walking its /64
        got = through(m, [["2001:db8:aa:1::%x" % i] for i in range(1, 9)])
        check(got == 3, "one /64: %d shares through, want 3" % got)

        # 4. a chain through a second trusted hop: the right-most untrusted entry;
        #    a forged entry further left is never read, nor a garbage one
        chain = [["9.9.9.%d, 198.51.100.30, 10.1.2.3" % i] for i in range(1, 6)]
        got = through(m, chain)
        check(got == 3, "behind two proxies: %d through, want 3" % got)
        ips = {r[0] for r in m.sql("SELECT client_ip FROM share_log WHERE id > 9")}
        check("198.51.100.30" in ips and not any(ip.startswith("9.9.9.") for ip in ips),
              "chain client logged as %s" % ips)

        # 5. those four clients took 12 of the global 15: others still share, up to 15
        check(share(m, ["203.0.113.99"]) == 202, "a new client refused: the budget is spent")
        rest = through(m, [["198.51.100.%d" % i] for i in range(40, 60)])
        check(rest == 2, "global budget: %d more through, want 2" % rest)
        total = m.sql("SELECT count(*) FROM share_log")[0][0]
        check(total == 15, "shares logged: %d, want the global 15" % total)
        m.stop()

    # garbage cannot buy a fresh bucket: it leaves the request to the trusted hop
    with Mailer("sec-proxy-ip2", limits={"share_per_ip_per_hour": 2,
                                         "share_per_sender_per_hour": 100,
                                         "share_global_per_hour": 100},
                http={"trusted_proxies": "127.0.0.1"}) as m:
        m.cli("article", "add", SAMPLE)
        m.start()
        got = through(m, [["unknown"], ["_hidden"], ["1.2.3.4, garbage"], ["0x7f000001"],
                          ["999.1.1.1"], [" , "]])
        check(got == 2, "garbage entries: %d through, want 2 (one bucket: the proxy's)" % got)
        ips = {r[0] for r in m.sql("SELECT client_ip FROM share_log")}
        check(ips == {"127.0.0.1"}, "garbage attributed to %s" % ips)
        m.stop()
    print("ok: forged lines, six spellings, a /64, a proxy chain and garbage: "
          "3 per client, the global budget intact")


if __name__ == "__main__":
    main()
