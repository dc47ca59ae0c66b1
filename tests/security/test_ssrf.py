"""Issue 16 item 4: SSRF through article image URLs.

Any host and port was fetched, loopback and link-local metadata addresses
(http://0x7f000001:...) too, the bytes were republished at the public
/media/..., and the distinct error texts made it a port scanner. Here a
"secret" server listens on loopback, as an internal service or a cloud
metadata endpoint would, and the CMS (the admin API with its token) sends
articles whose images point at it under many spellings, through a redirect
from an allowed host, and at a closed port. Each is refused with one text
(the same for the open and the closed port), the article is not stored, the
secret server receives nothing, and nothing of it is at /media. Then
[media] fetch_allow_nets opens exactly the listed network: the image is
fetched and served.
"""
import hashlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from serve import SOURCE, Mailer, check, free_port  # noqa: E402

PNG = open(os.path.join(SOURCE, "examples", "articles", "images", "logo.png"), "rb").read()
HITS = []


class Secret(BaseHTTPRequestHandler):
    def do_GET(self):
        HITS.append(self.path)
        if self.path.startswith("/to-inside"):
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%d/photo.png" % self.server.server_port)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *a):
        pass


def article(src, n):
    return {"id": "ssrf-%d" % n, "url": "https://hagiang.example/ssrf-%d" % n,
            "title": "Bài %d" % n, "body_html": "<p>Nội dung</p>",
            "published_at": "2021-10-05T19:18:00+07:00", "images": [{"src": src}]}


def post(m, token, obj):
    st, _, body = m.request("POST", "/api/articles",
                            json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                            {"Authorization": "Bearer " + token,
                             "Content-Type": "application/json"})
    return st, json.loads(body)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Secret)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    closed = free_port()
    spellings = ["127.0.0.1", "0x7f000001", "2130706433", "127.1", "0177.0.0.1",
                 "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost", "0.0.0.0"]
    urls = ["http://%s:%d/photo.png" % (h, port) for h in spellings]
    urls += ["http://169.254.169.254/latest/meta-data/iam/a.png",
             "http://[fe80::1]:%d/a.png" % port, "http://10.1.2.3:%d/a.png" % port,
             "http://100.64.0.1/a.png", "http://192.168.0.1/a.png"]
    try:
        with Mailer("sec-ssrf") as m:
            m.start()
            token = m.cli("token", "create", "cms").stdout.strip()
            texts = set()
            for n, url in enumerate(urls):
                st, body = post(m, token, article(url, n))
                msg = body.get("error", {}).get("message", "")
                check(st == 400 and "not fetched: images are fetched only from public addresses"
                      in msg, "%s: %d %s" % (url, st, body))
                texts.add(msg.replace(url, "URL"))
            # the open port and a closed one answer alike
            st, body = post(m, token, article("http://127.0.0.1:%d/a.png" % closed, 99))
            texts.add(body["error"]["message"].replace("http://127.0.0.1:%d/a.png" % closed, "URL"))
            check(len(texts) == 1, "refusals differ (a port scanner): %s" % texts)
            check(HITS == [], "the inside server was asked: %s" % HITS)
            check(m.sql("SELECT count(*) FROM articles WHERE id LIKE 'ssrf-%'")[0][0] == 0,
                  "a refused article was stored")
            check(m.sql("SELECT count(*) FROM media")[0][0] == 0, "media stored")
            st, _, _ = m.request("GET", "/media/" + hashlib.sha256(PNG).hexdigest())
            check(st == 404, "the inside bytes are served at /media: %d" % st)
            m.stop()

        # a CMS inside, on purpose: fetch_allow_nets opens that network, and only it
        with Mailer("sec-ssrf-allow",
                    extra="[media]\nfetch_allow_nets = 127.0.0.1/32\n") as m:
            m.start()
            token = m.cli("token", "create", "cms").stdout.strip()
            st, body = post(m, token, article("http://127.0.0.2:%d/photo.png" % port, 100))
            check(st == 400, "127.0.0.2 is not in 127.0.0.1/32: %d %s" % (st, body))
            st, body = post(m, token, article("http://127.0.0.1:%d/photo.png" % port, 101))
            check(st in (200, 201), "allowed network: %d %s" % (st, body))
            st, _, data = m.request("GET", "/media/" + hashlib.sha256(PNG).hexdigest())
            check(st == 200 and data == PNG, "allowed image not served: %d" % st)
            m.stop()
    finally:
        srv.shutdown()
    print("ok: %d spellings of inside addresses refused with one text; the allowed "
          "network fetched" % len(urls))


if __name__ == "__main__":
    main()
