"""Issue 16 item 1: the address parser's stack overflow, from the public forms.

`a@` + 600 x `b` + `.vn` posted to /subscribe and /share (form and JSON) used
to overflow a 271-byte stack array (the sanitizer build died). Now each gets
a clear refusal naming the length, the form shown again, and the server goes
on answering. The same for a domain IDNA maps to nothing (`a@` + U+200B),
which read before the start of that array. And the same pattern in the
share form's CSRF token: a token of 62..64 characters was decoded into a
44-byte stack array.
"""
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serve import Mailer, SAMPLE, check, sample_id  # noqa: E402

SHARE = "/share/" + urllib.parse.quote(sample_id(), safe="")
LONG = "a@" + "b" * 600 + ".vn"
ZWSP = "a@\u200b"


def csrf(m, path):
    st, _, page = m.request("GET", path)
    check(st == 200, "GET %s: %d" % (path, st))
    mt = re.search(rb'name="csrf" value="([^"]+)"', page)
    return mt.group(1).decode() if mt else None


def subscribe(m, email):
    pairs = [("list", "tin-tuc"), ("email", email), ("name", "")]
    tok = csrf(m, "/subscribe")
    if tok:
        pairs.append(("csrf", tok))
    return m.post_form("/subscribe", urllib.parse.urlencode(pairs),
                       {"Origin": "http://127.0.0.1:%d" % m.port})


def main():
    with Mailer("sec-addr-overflow") as m:
        m.cli("article", "add", SAMPLE)
        m.cli("list", "create", "tin-tuc", "--name", "Bản tin", "--optin", "double", "--public")
        m.start()
        # the reason as the reader reads it (the message catalogue, http_msg.c) on the
        # pages, and as the technical detail plus its machine name in JSON
        for addr, why, words in ((LONG, "longer than 253 octets (603)", "quá dài"),
                                 (ZWSP, "nothing is left", "Tên miền sau dấu @ không đúng")):
            st, _, body = subscribe(m, addr)
            page = body.decode("utf-8")
            check(st == 400, "subscribe %r: %d" % (addr[:12], st))
            check("Chưa đăng ký được" in page and words in page,
                  "subscribe %r: the reason is not shown:\n%s" % (addr[:12], page[-2000:]))
            check('name="email"' in page, "the form is not shown again")
            check(m.healthy(), "server unhealthy after subscribing %r" % addr[:12])
            # the JSON share
            st, _, body = m.post_json(SHARE, {"to": [addr], "sender_name": "An",
                                              "sender_email": "an@example.vn"})
            err = json.loads(body)["error"]
            check(st == 400 and err["field"] == "to" and why in err["detail"] and
                  words in err["message"], "share JSON to %r: %d %s" % (addr[:12], st, err))
            st, _, body = m.post_json(SHARE, {"to": ["ban@example.vn"], "sender_name": "An",
                                              "sender_email": addr})
            err = json.loads(body)["error"]
            check(st == 400 and err["field"] == "sender_email" and why in err["detail"] and
                  words in err["message"], "share JSON from %r: %d %s" % (addr[:12], st, err))
            # the share form
            tok = csrf(m, SHARE)
            st, _, body = m.post_form(SHARE, urllib.parse.urlencode(
                [("csrf", tok), ("to", addr), ("sender_email", "an@example.vn"),
                 ("website", "")]), {"Origin": "http://127.0.0.1:%d" % m.port})
            check(st == 400 and words in body.decode("utf-8"),
                  "share form to %r: %d" % (addr[:12], st))
            check(m.healthy(), "server unhealthy after sharing to %r" % addr[:12])
        # the same pattern in the CSRF token: 61..64 characters decoded into 40 bytes
        for n in (62, 63, 64):
            st, _, body = m.post_form(SHARE, urllib.parse.urlencode(
                [("csrf", "A" * n), ("to", "ban@example.vn"), ("sender_email", "an@example.vn"),
                 ("website", "")]), {"Origin": "http://127.0.0.1:%d" % m.port})
            check(st == 403 and "tải lại trang".encode() in body, "CSRF of %d characters: %d" % (n, st))
            check(m.healthy(), "server unhealthy after a CSRF token of %d characters" % n)
        check(m.sql("SELECT count(*) FROM subscribers")[0][0] == 0, "a subscriber was stored")
        check(m.sql("SELECT count(*) FROM envelopes")[0][0] == 0, "a share was enqueued")
        check(m.stop() == 0, "serve did not stop cleanly")
    print("ok")


if __name__ == "__main__":
    main()
