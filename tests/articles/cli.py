#!/usr/bin/python3
"""`mailer article add|ls|show` end to end, through the built binary.

Checks what a CMS script relies on: the printed lines, the exit codes, the
error text naming file and field, and the database (row counts and a hash of
every stored value) unchanged by each refused file. Image URLs are served by
a small HTTP server on a random loopback port started here (a redirect, an
endless body without Content-Length, a text file posing as a photo).
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import Checks  # noqa: E402

MAILER = os.environ["MAILER_BIN"]
SRC = os.environ["MAILER_SOURCE_DIR"]
EXAMPLES = os.path.join(SRC, "examples", "articles")
BUILD = os.environ.get("MAILER_BUILD_DIR", tempfile.gettempdir())

_checks = Checks()
check = _checks.check
failures = _checks.failures


def run(args, cfg, stdin=None, cwd=None):
    env = dict(os.environ)
    env.pop("MAILER_CONFIG", None)
    env["ASAN_OPTIONS"] = "abort_on_error=1:detect_leaks=1"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    env["MAILER_LOG"] = "warn"
    p = subprocess.run([MAILER, "--config", cfg] + args, input=stdin, capture_output=True,
                       cwd=cwd or TMP, env=env, timeout=60)
    out, err = p.stdout.decode(), p.stderr.decode()
    if "Sanitizer" in err or "runtime error" in err:
        check(False, f"sanitizer report for {args}:\n{err}")
    return p.returncode, out, err


def snapshot(db):
    """(articles, article images, photos as sent), and a hash over every row of
    the four tables (derived images for mail included)."""
    con = sqlite3.connect(db)
    h = hashlib.sha256()
    counts = []
    for table, order in (("articles", "id"), ("article_images", "article_id, position"),
                         ("media", "sha256"), ("media_derived", "source_sha256, kind")):
        rows = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
        h.update(repr(rows).encode())
        if table == "media":
            rows = con.execute("SELECT sha256 FROM media WHERE sha256 NOT IN "
                               "(SELECT derived_sha256 FROM media_derived)").fetchall()
        if table != "media_derived":
            counts.append(len(rows))
    con.close()
    return tuple(counts), h.hexdigest()


def write(path, text):
    with open(path, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
    return path


def article(id_, title="Tiêu đề", images=(), date="2021-10-05T19:18:00+07:00", **extra):
    d = {"id": id_, "url": f"https://hagiang.gov.vn/{id_}", "published_at": date,
         "body_html": "<p>Nội dung bài viết</p>", "images": [{"src": s} for s in images]}
    if title is not None:
        d["title"] = title
    d.update(extra)
    return json.dumps(d, ensure_ascii=False, indent=2)


# ---- a tiny HTTP server for image URLs ----------------------------------------

PHOTO = open(os.path.join(EXAMPLES, "images", "pccc.jpg"), "rb").read()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/photo.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            self.wfile.write(PHOTO)
        elif self.path == "/old-place":
            self.send_response(301)
            self.send_header("Location", "/photo.jpg")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(PHOTO[:64])
                for _ in range(1000):  # 64 MB unless the client hangs up first
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                pass
        elif self.path == "/text.jpg":
            body = b"<html>not a photo</html>"
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


def main():
    global TMP
    os.makedirs(os.path.join(BUILD, "testtmp"), exist_ok=True)
    TMP = tempfile.mkdtemp(prefix="articles-cli.", dir=os.path.join(BUILD, "testtmp"))
    db = os.path.join(TMP, "m.db")
    cfg = write(os.path.join(TMP, "mailer.ini"),
                f"[database]\npath = {db}\n[limits]\nimage_max_bytes = 100KB\n"
                "fetch_timeout = 10\nfetch_max_redirects = 2\n"
                "[media]\nfetch_allow_nets = 127.0.0.1\n")
    small = write(os.path.join(TMP, "small.ini"),
                  f"[database]\npath = {db}\n[limits]\nimage_max_bytes = 20KB\n"
                  "[media]\nfetch_allow_nets = 127.0.0.1\n")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"

    rc, out, err = run(["init"], cfg)
    check(rc == 0, f"init: {rc} {err}")

    # --help at every level; usage errors are exit 1
    for args in (["article", "--help"], ["article", "add", "--help"], ["article", "ls", "-h"],
                 ["article", "show", "--help"]):
        rc, out, err = run(args, cfg)
        check(rc == 0 and out.startswith("usage: mailer article"), f"{args}: {rc} {out!r}")
    rc, out, _ = run(["article", "add", "--help"], cfg)
    check("own transaction" in out, "add --help says each file is its own transaction")
    for args in (["article"], ["article", "frob"], ["article", "show"], ["article", "add"],
                 ["article", "add", "--frob"], ["article", "add", "-", "-"],
                 ["article", "ls", "--limit", "x"]):
        rc, out, err = run(args, cfg)
        check(rc == 1, f"{args}: want usage exit 1, got {rc} {err!r}")

    # the six examples, twice: six articles
    files = sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES) if f.endswith(".json"))
    check(len(files) == 6, "six example files")
    ids = [json.load(open(f))["id"] for f in files]
    rc, out, err = run(["article", "add"] + files, cfg)
    check(rc == 0, f"add examples: {rc} {err}")
    check(out.splitlines() == [f"added {i}" for i in ids], f"added lines: {out!r}")
    first = snapshot(db)
    check(first[0] == (6, 12, 12), f"counts after first add: {first[0]}")
    rc, out, err = run(["article", "add"] + files, cfg)
    check(rc == 0, f"add examples again: {rc} {err}")
    check(out.splitlines() == [f"updated {i}" for i in ids], f"updated lines: {out!r}")
    check(snapshot(db)[0] == (6, 12, 12), "six articles after adding twice")

    # ls: newest first, date in the site's zone, image count
    rc, out, err = run(["article", "ls"], cfg)
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 6, f"ls: {rc} {out!r}")
    check(lines[0].startswith("ha-giang-tong-ket-thi-dua-2021 ") and "31/12/2021 14:15" in lines[0]
          and "[7 images]" in lines[0], f"ls first line: {lines[0]!r}")
    check(lines[-1].startswith("tin-bac-me-lam-san-20210813 ") and "13/08/2021 10:29" in lines[-1]
          and "[1 image]" in lines[-1], f"ls last line: {lines[-1]!r}")
    rc, out, err = run(["article", "ls", "--limit", "2"], cfg)
    check(rc == 0 and len(out.splitlines()) == 2, f"ls --limit 2: {out!r}")

    # show: the JSON as given plus the media facts
    rc, out, err = run(["article", "show", "tin-pccc-20211005"], cfg)
    check(rc == 0, f"show: {rc} {err}")
    shown = json.loads(out)
    given = json.load(open(os.path.join(EXAMPLES, "tin-pccc-20211005.json")))
    for k in ("id", "url", "title", "category", "author", "published_at", "summary", "body_html"):
        check(shown[k] == given[k], f"show {k}: {shown[k]!r} != {given[k]!r}")
    img = shown["images"][0]
    photo = open(os.path.join(EXAMPLES, "images", "pccc.jpg"), "rb").read()
    check(img["sha256"] == hashlib.sha256(photo).hexdigest(), "show sha256")
    check(img["content_type"] == "image/jpeg" and img["size"] == len(photo)
          and (img["width"], img["height"]) == (600, 400) and img["filename"] == "pccc.jpg",
          f"show image facts: {img}")
    rc, out, err = run(["article", "show", "no-such-id"], cfg)
    check(rc == 5 and "not found" in err, f"show missing: {rc} {err!r}")

    # bad files: exit 3, "mailer: FILE: field: reason", nothing changed
    bad = os.path.join(TMP, "bad")
    os.makedirs(os.path.join(bad, "images"))
    shutil.copy(os.path.join(EXAMPLES, "images", "pccc.jpg"), os.path.join(bad, "images"))
    write(os.path.join(bad, "images", "fake.jpg"), "just text, renamed .jpg\n")
    existing = "tin-pccc-20211005"  # the bad versions would overwrite this one
    cases = [
        ("no-title.json", article(existing, title=None), cfg, "title: missing"),
        ("utf8.json", b'{\n  "id": "tin-pccc-20211005",\n  "title": "Kh\xc3\x28n"\n}\n', cfg,
         "invalid UTF-8 at line 3"),
        ("date.json", article(existing, date="05/10/2021 19:18"), cfg, "published_at: "),
        ("escape.json", article(existing, images=["../../etc/passwd"]), cfg,
         'images[0].src: "../../etc/passwd" escapes its folder'),
        ("absolute.json", article(existing, images=["/etc/passwd"]), cfg,
         'images[0].src: "/etc/passwd": absolute paths are refused'),
        ("fake.json", article(existing, images=["images/fake.jpg"]), cfg,
         "images[0].src: images/fake.jpg: not an image"),
        ("missing.json", article(existing, images=["images/none.jpg"]), cfg,
         "images[0].src: images/none.jpg: no such file"),
        ("big.json", article(existing, images=["images/pccc.jpg"]), small,
         "images[0].src: images/pccc.jpg: 25519 bytes is over the image size limit of 20480"),
        ("url.json", article(existing, url="javascript:alert(1)"), cfg,
         'url: "javascript:alert(1)" is not an absolute http'),
        ("unknown.json", article(existing, titel="x"), cfg, "titel: unknown field"),
        ("http-text.json", article(existing, images=[f"{base}/text.jpg"]), cfg,
         f"images[0].src: {base}/text.jpg: not an image"),
        ("http-endless.json", article(existing, images=[f"{base}/endless"]), cfg,
         f"images[0].src: {base}/endless: response is over the image size limit of 102400"),
        ("http-404.json", article(existing, images=[f"{base}/gone.jpg"]), cfg,
         f"images[0].src: {base}/gone.jpg: HTTP status 404"),
    ]
    for name, text, conf, msg in cases:
        path = write(os.path.join(bad, name), text)
        before = snapshot(db)
        rc, out, err = run(["article", "add", path], conf)
        check(rc == 3, f"{name}: exit {rc}, want 3 ({err!r})")
        check(f"mailer: {path}: {msg}" in err, f"{name}: stderr {err!r} lacks {msg!r}")
        check(out == "", f"{name}: stdout {out!r}")
        check(snapshot(db) == before, f"{name}: database changed")
    rc, out, err = run(["article", "show", existing], cfg)
    check(json.loads(out)["title"] == given["title"], "existing article kept its title")

    # several files: each its own transaction; the bad one reported, exit 3
    g1 = write(os.path.join(bad, "g1.json"), article("moi-1", images=["images/pccc.jpg"]))
    g2 = write(os.path.join(bad, "g2.json"), article("moi-2", date="2022-01-01T08:00:00+07:00"))
    b1 = os.path.join(bad, "no-title.json")
    before = snapshot(db)
    rc, out, err = run(["article", "add", g1, b1, g2], cfg)
    check(rc == 3, f"mixed: exit {rc}")
    check(out.splitlines() == ["added moi-1", "added moi-2"], f"mixed stdout {out!r}")
    check(err.count("mailer: ") == 1 and f"mailer: {b1}: title: missing" in err,
          f"mixed stderr {err!r}")
    after = snapshot(db)
    check(after[0] == (before[0][0] + 2, before[0][1] + 1, before[0][2]),
          f"mixed counts {before[0]} -> {after[0]} (photo already stored: media unchanged)")

    # standard input: image paths relative to the current folder
    rc, out, err = run(["article", "add", "-"], cfg,
                       stdin=article("tu-stdin", images=["images/pccc.jpg"]).encode(), cwd=bad)
    check(rc == 0 and out == "added tu-stdin\n", f"stdin: {rc} {out!r} {err!r}")
    rc, out, err = run(["article", "add", "-"], cfg, stdin=b'{"id": "x"}', cwd=bad)
    check(rc == 3 and "mailer: <stdin>: url: missing" in err, f"stdin bad: {rc} {err!r}")

    # by URL, through a redirect: stored as the bytes say, shared with the file copy
    before = snapshot(db)
    u = write(os.path.join(bad, "u.json"), article("qua-url", images=[f"{base}/old-place"]))
    rc, out, err = run(["article", "add", u], cfg)
    check(rc == 0 and out == "added qua-url\n", f"url add: {rc} {out!r} {err!r}")
    rc, out, err = run(["article", "show", "qua-url"], cfg)
    img = json.loads(out)["images"][0]
    check(img["sha256"] == hashlib.sha256(PHOTO).hexdigest() and img["content_type"] ==
          "image/jpeg" and img["filename"] == "old-place.jpg", f"url image: {img}")
    check(snapshot(db)[0] == (before[0][0] + 1, before[0][1] + 1, before[0][2]),
          "url photo deduplicated against the same file")

    srv.shutdown()
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    shutil.rmtree(TMP, ignore_errors=True)
    print("articles cli: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
