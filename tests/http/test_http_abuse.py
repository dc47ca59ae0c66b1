"""Abuse tests of the share endpoint against a running `mailer serve`.

Each refusal is checked for its status and error, and the server is checked
to answer normally after each. Outcomes are read from the database and the
delivered .eml files, not from the answers alone.
"""
import concurrent.futures
import email
import email.policy
import hashlib
import json
import os
import re
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import Mailer, SAMPLE, SOURCE, check, fail, sample_id  # noqa: E402

AID = sample_id()
SHARE = "/share/" + urllib.parse.quote(AID, safe="")


def xff(ip):
    return {"X-Forwarded-For": ip}


SENDERS = iter(range(1, 1000000))


def share_json(m, ip, **fields):
    # a new sender each time unless given: the per-sender limit is tested on its own
    body = {"to": ["ban.doc@example.vn"], "sender_name": "Nguyễn Văn An",
            "sender_email": "an.nguyen%d@example.vn" % next(SENDERS), "note": "Bài này hay."}
    body.update(fields)
    return m.post_json(SHARE, body, xff(ip))


def error_of(body):
    return json.loads(body)["error"]


def still_fine(m, what):
    check(m.healthy(), "server unhealthy after " + what)
    st, _, body = m.request("GET", SHARE)
    check(st == 200 and b'name="csrf"' in body, "share form broken after %s: %d" % (what, st))


def csrf_from(page):
    mt = re.search(rb'name="csrf" value="([^"]+)"', page)
    check(mt, "no csrf token in the form")
    return mt.group(1).decode()


def form_body(pairs):
    return urllib.parse.urlencode(pairs, encoding="utf-8")


def test_form_page(m):
    st, h, page = m.request("GET", SHARE)
    check(st == 200, "GET share form: %d" % st)
    check(h["content-type"].startswith("text/html; charset=utf-8"), h["content-type"])
    text = page.decode("utf-8")
    with open(SAMPLE, encoding="utf-8") as f:
        art = json.load(f)
    check(art["title"].replace("\"", "&quot;") in text or art["title"] in text,
          "title missing in the form")
    check(text.count('name="to"') == 5, "five recipient boxes expected")
    for label in ('for="sender_name"', 'for="sender_email"', 'for="note"', 'for="to1"'):
        check(label in text, "label missing: " + label)
    check('class="hp"' in text and 'name="website"' in text, "honeypot missing")
    mt = re.search(r'<img src="(/media/([0-9a-f]{64}))"', text)
    check(mt, "first photo missing in the form")
    st, h, img = m.request("GET", mt.group(1))
    check(st == 200 and h["content-type"].startswith("image/"), "media: %d %s" % (st, h))
    check(hashlib.sha256(img).hexdigest() == mt.group(2), "media bytes differ from their hash")
    st, _, _ = m.request("GET", "/media/" + "0" * 64)
    check(st == 404, "unknown media: %d" % st)
    st, _, _ = m.request("GET", "/share/khong-co-bai-nay")
    check(st == 404, "unknown article form: %d" % st)


def test_sixth_recipient(m):
    st, _, body = share_json(m, "10.0.0.6", to=["r%d@example.vn" % i for i in range(6)])
    check(st == 400 and error_of(body)["field"] == "to", "6 recipients JSON: %d %s" % (st, body))
    st, _, page = m.request("GET", SHARE)
    pairs = [("csrf", csrf_from(page))] + [("to", "r%d@example.vn" % i) for i in range(6)] + [
        ("sender_email", "an@example.vn"), ("website", "")]
    st, _, body = m.post_form(SHARE, form_body(pairs), xff("10.0.0.6"))
    check(st == 400 and "tối đa 5".encode() in body, "6 recipients form: %d" % st)
    # five are fine
    st, _, body = share_json(m, "10.0.0.6", to=["r%d@example.vn" % i for i in range(5)])
    check(st == 202 and json.loads(body)["accepted"] == 5, "5 recipients: %d %s" % (st, body))
    still_fine(m, "sixth recipient")


def test_crlf_everywhere(m):
    bad = {"to": ["ban@example.vn\r\nBcc: victim@example.org"],
           "sender_name": "An\nBcc: victim@example.org",
           "sender_email": "an@example.vn\r\nBcc: victim@example.org"}
    for field, value in bad.items():
        st, _, body = share_json(m, "10.0.0.7", **{field: value})
        check(st == 400 and error_of(body)["field"] == field,
              "CR/LF in %s JSON: %d %s" % (field, st, body))
    for field, value in (("to", "ban@example.vn\r\nBcc: v@example.org"),
                         ("sender_name", "An\rB"), ("sender_email", "an@example.vn\n")):
        st, _, page = m.request("GET", SHARE)
        pairs = {"csrf": csrf_from(page), "to": "ban@example.vn", "sender_email": "an@example.vn",
                 "sender_name": "An", "website": ""}
        pairs[field] = value
        st, _, body = m.post_form(SHARE, form_body(list(pairs.items())), xff("10.0.0.7"))
        check(st == 400, "CR/LF in %s form: %d" % (field, st))
    still_fine(m, "CR/LF")


def delivered_to(m, addr):
    """The raw bytes of the one delivered .eml addressed to `addr`, or None."""
    for p in m.eml_files():
        with open(p, "rb") as f:
            data = f.read()
        head = data.split(b"\r\n\r\n", 1)[0]
        if re.search(rb"^To:.*" + re.escape(addr.encode()), head, re.M):
            return data
    return None


def test_note_line_breaks(m):
    """A note's line breaks are body text (a textarea sends CRLF): accepted,
    shown as lines in both bodies, and never in a header."""
    # (no address or link in it: a note carries none, tests/security/test_spam_relay.py)
    lines = ["Xin chào <b>bạn</b>,", "Bcc: victim", "Subject: lừa đảo & cuối"]
    st, _, body = share_json(m, "10.0.0.7", to=["note.crlf@example.vn"], note="\r\n".join(lines))
    check(st == 202, "note with CRLF: %d %s" % (st, body))
    # the form (a textarea) too: the thank-you redirect
    st, _, page = m.request("GET", SHARE)
    pairs = [("csrf", csrf_from(page)), ("to", "note.form@example.vn"),
             ("sender_email", "an.form@example.vn"), ("note", "Dòng một\r\nDòng hai"),
             ("website", "")]
    st, h, _ = m.post_form(SHARE, form_body(pairs), xff("10.0.0.7"))
    check(st == 303 and h["location"].endswith("/sent"), "form note with CRLF: %d" % st)
    check(not m.sql("SELECT 1 FROM envelopes WHERE recipient LIKE '%victim%'"),
          "an injected recipient got an envelope")

    data = m.wait_for(lambda: delivered_to(m, "note.crlf@example.vn"), "the CRLF-note share")
    head = data.split(b"\r\n\r\n", 1)[0]
    for needle in (b"victim", "lừa đảo".encode(), b"Xin ch", b"Bcc"):
        check(needle not in head, "the note reached the header block: %r" % needle)
    msg = email.message_from_bytes(data, policy=email.policy.default)
    check(not msg.defects, "message defects: %s" % msg.defects)
    for name, value in msg.items():
        check("victim" not in str(value) and "lừa đảo" not in str(value),
              "header %s carries the note: %s" % (name, value))
    check(msg["Bcc"] is None, "a Bcc header")
    check(str(msg["To"]) == "note.crlf@example.vn", "To: %s" % msg["To"])
    check("lừa đảo" not in str(msg["Subject"]), "Subject: %s" % msg["Subject"])
    text_lines = [l.strip() for l in msg.get_body(("plain",)).get_content().splitlines()]
    for i, line in enumerate(lines):
        check(line in text_lines, "note line %d not a line of the text body: %r" % (i, line))
    at = text_lines.index(lines[0])
    check(text_lines[at:at + 3] == lines, "the note's lines out of order: %s" % text_lines[at:at + 3])
    html = msg.get_body(("html",)).get_content()
    want = ("Xin chào &lt;b&gt;bạn&lt;/b&gt;,<br>", "Bcc: victim<br>",
            "Subject: lừa đảo &amp; cuối")
    pos = [html.find(w) for w in want]
    check(all(p >= 0 for p in pos) and pos == sorted(pos),
          "the note's lines in the HTML body (escaped, <br> between): %s" % pos)
    check("<b>bạn</b>" not in html, "note HTML not escaped")
    still_fine(m, "note line breaks")


def test_note_html_escaped(m):
    note = '<script>alert("x")</script><b>đậm</b> & <a href="#evil">bấm</a>'
    st, _, body = share_json(m, "10.0.0.8", to=["html.test@example.vn"], note=note,
                             sender_email="an.nguyen@example.vn")
    check(st == 202, "share with HTML note: %d %s" % (st, body))

    def delivered():
        for p in m.eml_files():
            with open(p, "rb") as f:
                data = f.read()
            if b"html.test@example.vn" in data:
                return data
        return None
    data = m.wait_for(delivered, "the delivered .eml of the HTML-note share")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    check("tin-tuc@hagiang.example" in str(msg["From"]), "From is not the site: %s" % msg["From"])
    check("an.nguyen@example.vn" in str(msg["Reply-To"]), "Reply-To: %s" % msg["Reply-To"])
    html = msg.get_body(("html",)).get_content()
    check("<script>" not in html and "<b>đậm</b>" not in html, "note HTML not escaped")
    check("&lt;script&gt;" in html and "&lt;b&gt;đậm&lt;/b&gt;" in html,
          "escaped note not found in the HTML part")
    check('<a href="#evil">' not in html, "note markup rendered as a link")
    still_fine(m, "HTML note")


def test_parallel_rate_limit(m):
    ip = "10.9.9.9"

    def one(i):
        return share_json(m, ip, to=["par%d@example.vn" % i],
                          sender_email="sender%d@example.vn" % i)
    with concurrent.futures.ThreadPoolExecutor(100) as ex:
        results = list(ex.map(one, range(100)))
    codes = [r[0] for r in results]
    check(codes.count(202) == 10 and codes.count(429) == 90,
          "100 parallel: %d accepted, %d limited, others %s" % (
              codes.count(202), codes.count(429), sorted(set(codes))))
    for st, h, body in results:
        if st == 429:
            check(int(h.get("retry-after", "0")) > 0, "429 without Retry-After")
            check(error_of(body)["code"] == "rate_limited", "429 body: %s" % body)
    rows = m.sql("SELECT count(*), sum(recipients) FROM share_log WHERE client_ip = ?", ip)
    check(rows[0] == (10, 10), "share_log for the IP: %s" % (rows,))
    n = m.sql("SELECT count(*) FROM envelopes WHERE recipient LIKE 'par%@example.vn'")[0][0]
    check(n == 10, "envelopes enqueued: %d" % n)
    still_fine(m, "parallel rate limit")


def test_csrf(m):
    base = [("to", "csrf@example.vn"), ("sender_email", "csrf.sender@example.vn"),
            ("website", "")]
    st, _, body = m.post_form(SHARE, form_body(base), xff("10.0.0.9"))
    check(st == 403 and "tải lại trang".encode() in body, "missing CSRF: %d" % st)
    st, _, page = m.request("GET", SHARE)
    tok = csrf_from(page)
    st, h, _ = m.post_form(SHARE, form_body([("csrf", tok)] + base), xff("10.0.0.9"))
    check(st == 303 and h["location"].endswith("/sent"), "first use: %d %s" % (st, h))
    taken = m.sql("SELECT count(*) FROM rate_events")[0][0]
    st, _, body = m.post_form(SHARE, form_body([("csrf", tok)] + base), xff("10.0.0.9"))
    # (without the form's one-time id "fid", the second post is not recognised as the same form)
    check(st == 403 and "đã được dùng".encode() in body, "reused CSRF: %d" % st)
    # a refused request costs nothing: the units it took before its token was found used are
    # rolled back with the rest of the share's one transaction
    after = m.sql("SELECT count(*) FROM rate_events")[0][0]
    check(after == taken, "the reused CSRF token took %d rate units" % (after - taken))
    st, _, page = m.request("GET", SHARE)
    forged = csrf_from(page)[:-2] + ("AA" if not csrf_from(page).endswith("AA") else "BB")
    st, _, _ = m.post_form(SHARE, form_body([("csrf", forged)] + base), xff("10.0.0.9"))
    check(st == 403, "forged CSRF: %d" % st)
    # the honeypot filled in: refused
    st, _, page = m.request("GET", SHARE)
    st, _, _ = m.post_form(SHARE, form_body([("csrf", csrf_from(page)), ("to", "x@example.vn"),
                                             ("sender_email", "an@example.vn"),
                                             ("website", "http://spam.example")]),
                           xff("10.0.0.9"))
    check(st == 400, "honeypot: %d" % st)
    n = m.sql("SELECT count(*) FROM envelopes WHERE recipient = 'csrf@example.vn'")[0][0]
    check(n == 1, "exactly one CSRF share enqueued, got %d" % n)
    still_fine(m, "CSRF")


def test_big_body(m):
    # Content-Length of 10 MB: 413 at once, after sending only 64 KiB of it
    s = socket.create_connection(("127.0.0.1", m.port), timeout=10)
    t0 = time.time()
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n\r\n" % (SHARE, 10 * 1024 * 1024)).encode())
    s.sendall(b"x" * 65536)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    check(data.startswith(b"HTTP/1.1 413"), "10 MB body: %r" % data[:80])
    check(time.time() - t0 < 5, "413 took too long")
    # chunked without a length: the connection is cut once past the cap
    s = socket.create_connection(("127.0.0.1", m.port), timeout=10)
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n" % SHARE).encode())
    sent, cut = 0, False
    chunk = b"%x\r\n%s\r\n" % (65536, b"y" * 65536)
    try:
        while sent < 10 * 1024 * 1024:
            s.sendall(chunk)
            sent += 65536
    except OSError:
        cut = True
    s.close()
    check(cut, "a chunked 10 MB body was read whole")
    # a header block past the connection's memory: 431, nothing else read
    s = socket.create_connection(("127.0.0.1", m.port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    data = s.recv(100)
    s.close()
    check(data.startswith(b"HTTP/1.1 431"), "huge header: %r" % data[:60])
    still_fine(m, "10 MB body")


def test_bad_inputs(m):
    st, _, body = m.post_json(SHARE, None, xff("10.0.1.1"), raw=b'{"to": ["a@b.vn"], ')
    check(st == 400 and "malformed JSON" in error_of(body)["detail"], "malformed: %d" % st)
    still_fine(m, "malformed JSON")
    st, h, body = m.request("POST", SHARE, b"to=a@b.vn", {"Content-Type": "text/plain"})
    check(st == 415 and error_of(body)["code"] == "unsupported_media_type", "415: %d" % st)
    st, _, _ = m.request("POST", SHARE, b"to=a@b.vn", {})
    check(st == 415, "no content type: %d" % st)
    still_fine(m, "wrong content type")
    st, _, body = m.post_json("/share/khong-co-bai-nay", {"to": ["a@example.vn"],
                                                         "sender_email": "an@example.vn"},
                              xff("10.0.1.1"))
    check(st == 404 and error_of(body)["code"] == "not_found", "unknown article: %d" % st)
    still_fine(m, "unknown article")
    st, _, body = m.post_json(SHARE, None, xff("10.0.1.1"),
                              raw=b'{"to": ["a@example.vn"], "sender_email": "an@example.vn", '
                                  b'"note": "\xc3\x28"}')
    check(st == 400 and "UTF-8" in error_of(body)["detail"], "bad UTF-8 JSON: %d" % st)
    st, _, page = m.request("GET", SHARE)
    st, _, body = m.post_form(SHARE, "csrf=%s&to=a%%40example.vn&sender_email=an%%40example.vn"
                                     "&note=%%C3%%28" % csrf_from(page), xff("10.0.1.1"))
    check(st == 400 and "ký tự không đọc được".encode() in body, "bad UTF-8 form: %d" % st)
    st, _, body = m.post_json(SHARE, {"to": 5, "sender_email": "an@example.vn"}, xff("10.0.1.1"))
    check(st == 400 and error_of(body)["field"] == "to", "wrong type: %d" % st)
    still_fine(m, "invalid UTF-8")


def test_rate_limit_sender(m):
    for i in range(3):
        st, _, _ = share_json(m, "10.0.2.%d" % i, sender_email="spammer@example.vn",
                              to=["s%d@example.vn" % i])
        check(st == 202, "sender share %d: %d" % (i, st))
    st, h, body = share_json(m, "10.0.2.9", sender_email="spammer@example.vn")
    check(st == 429 and "retry-after" in h, "4th share of one sender: %d" % st)


def test_log_and_metrics(m):
    st, h, body = m.request("GET", "/metrics")
    check(st == 200 and h["content-type"].startswith("text/plain"), "metrics: %d" % st)
    text = body.decode()
    check('mailer_shares_total{outcome="rate_ip"} 90' in text, "rate_ip count in metrics")
    check(re.search(r'mailer_http_requests_total\{route="share_post",status="202"\} \d+', text),
          "share_post 202 in metrics")
    check(re.search(r'mailer_envelopes\{state="(queued|sent)"\} \d+', text), "envelope gauge")
    # messages were delivered (dir transport: 250) by the workers of this server
    mo = re.search(r'mailer_smtp_results_total\{class="2xx"\} (\d+)', text)
    check(mo and int(mo.group(1)) >= 1, "2xx SMTP results in metrics")
    mo = re.search(r'mailer_delivery_latency_seconds_count (\d+)', text)
    check(mo and int(mo.group(1)) >= 1, "delivery latency histogram has observations")
    mo = re.search(r'mailer_delivery_latency_seconds_bucket\{le="\+Inf"\} (\d+)', text)
    check(mo and int(mo.group(1)) >= 1, "latency +Inf bucket")
    log = m.log()
    check(re.search(r"http: POST /share/\S+ 202 [0-9.]+ms", log), "request log line missing")
    check("?" not in "".join(l for l in log.splitlines() if " http: GET " in l),
          "a query string was logged")


def main():
    with Mailer("http-abuse", limits={"share_per_ip_per_hour": 10,
                                      "share_per_sender_per_hour": 3,
                                      "share_global_per_hour": 100000}) as m:
        # the sender limit of 3 would spoil the other tests: they use distinct senders
        m.cli("article", "add", SAMPLE)
        m.start()
        test_form_page(m)
        test_bad_inputs(m)
        test_sixth_recipient(m)
        test_crlf_everywhere(m)
        test_note_line_breaks(m)
        test_csrf(m)
        test_big_body(m)
        test_parallel_rate_limit(m)
        test_rate_limit_sender(m)
        test_note_html_escaped(m)
        test_log_and_metrics(m)
        rc = m.stop()
        check(rc == 0, "serve exit code on SIGTERM: %s" % rc)
        check("http: stopping" in m.log(), "no graceful stop in the log")
    print("ok")


if __name__ == "__main__":
    main()
