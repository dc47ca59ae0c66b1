#!/usr/bin/python3
"""Composes share and digest messages with the built mailer and checks them.

Every message must parse with Python's email package (policy=default) with
no defect on the message or any part; the decoded Subject, From display name,
Reply-To name and body text must equal the input exactly (names too long for
one encoded word: cut only between words, which Python's address parser shows
with a doubled space but never "S ở" for "Sở"); every cid: in the
HTML resolves to exactly one image part and every image part is referenced;
embedded photos decode to the original bytes; only CRLF line ends and no line
over 998 octets. Edge cases: 1- and 300-character Vietnamese titles, names
with quotes, commas and emoji, an article without images, a photo whose bytes
are missing, a 10 MB photo (linked over the embed limit, embedded under a
raised one), and header injection through CR/LF (refused, nothing written).
"""
import email
import email.policy
import hashlib
import html
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import Checks  # noqa: E402

MAILER = os.environ.get("MAILER_BIN")
SRC = os.environ.get("MAILER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLES = ["ha-giang-tong-ket-thi-dua-2021", "tin-bac-me-lam-san-20210813",
           "tin-ca-do-bong-da-20210928", "tin-cuu-chien-binh-20211008",
           "tin-nguoi-khuyet-tat-20211020", "tin-pccc-20211005"]
BASE_URL = "https://tin.hagiang.example"
# A photo file name in Vietnamese, long enough for RFC 2231 continuations.
UTF8_PHOTO = "Ảnh toàn cảnh hội nghị tổng kết thi đua năm 2021 của tỉnh Hà Giang.jpg"
_checks = Checks()
check = _checks.check
FAILS = _checks.failures


def run(cfg, *args, ok=True):
    p = subprocess.run([MAILER, "--config", cfg, *args], capture_output=True)
    if ok and p.returncode != 0:
        sys.exit("mailer %s failed (%d): %s" % (" ".join(args), p.returncode,
                                               p.stderr.decode(errors="replace")))
    return p


def write_config(d, name, from_name, embed="2MB"):
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("[site]\nbase_url = %s\n[database]\npath = %s\n[mail]\nfrom_name = %s\n"
                "from_address = tin-tuc@hagiang.example\n[limits]\nimage_max_bytes = 16MB\n"
                "embed_max_bytes = %s\n" % (BASE_URL, os.path.join(d, "mailer.db"), from_name,
                                            embed))
    return path


def raw_checks(data, label):
    check(b"\r\n" in data, label + ": CRLF line ends")
    check(re.search(rb"(?<!\r)\n", data) is None, label + ": no bare LF")
    check(re.search(rb"\r(?!\n)", data) is None, label + ": no bare CR")
    longest = max(len(l) for l in data.split(b"\r\n"))
    check(longest <= 998, label + ": no line over 998 octets (longest %d)" % longest)
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        check(len(line) <= 78 or b"<https://" in line or b"<mailto:" in line,
              label + ": header line over 78: %r" % line[:90])
    check(all(b < 0x80 for b in head), label + ": header is ASCII")


def parse(data, label):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    check(not msg.defects, label + ": message defects %r" % msg.defects)
    for part in msg.walk():
        check(not part.defects, label + ": part %s defects %r" % (part.get_content_type(),
                                                                  part.defects))
    return msg


def parts_of(msg, label):
    """(plain text, html, {cid: image part}) with the structure checked."""
    images = {}
    if msg.get_content_type() == "multipart/related":
        kids = list(msg.iter_parts())
        alt = kids[0]
        check(alt.get_content_type() == "multipart/alternative", label + ": related[0] alt")
        for p in kids[1:]:
            check(p.get_content_maintype() == "image", label + ": related part is an image")
            cid = p["Content-ID"].strip()[1:-1]
            check(cid not in images, label + ": Content-ID unique")
            check(p.get_content_disposition() == "inline", label + ": image inline")
            fn = p.get_filename()
            check(fn and "/" not in fn and "_nh" not in fn, label + ": a file name, not mangled")
            check(p["Content-Transfer-Encoding"] == "base64", label + ": image base64")
            images[cid] = p
    else:
        alt = msg
        check(msg.get_content_type() == "multipart/alternative", label + ": root alternative")
    sub = list(alt.iter_parts())
    check([p.get_content_type() for p in sub] == ["text/plain", "text/html"],
          label + ": alternative is text/plain then text/html")
    for p in sub:
        check(p.get_content_charset() == "utf-8", label + ": charset UTF-8")
        check(p["Content-Transfer-Encoding"] == "quoted-printable", label + ": QP")
    text = sub[0].get_content().replace("\r\n", "\n")
    htm = sub[1].get_content().replace("\r\n", "\n")
    refs = set(re.findall(r'cid:([^"\'\s>]+)', htm))
    check(refs == set(images), label + ": cid references %r == parts %r" % (refs, set(images)))
    check("<script" not in htm.lower(), label + ": no script")
    check('<html lang="vi"' in htm and "<meta charset" in htm.lower(), label + ": lang, charset")
    check(re.search(r'<!--\[if mso\]>\s*<table[^>]* width="600"', htm) is not None,
          label + ": a 600 px table for Outlook only")
    outside = re.sub(r"<!--\[if mso\]>.*?<!\[endif\]-->", "", htm, flags=re.S)
    check(re.search(r'(?<!max-)width:\s*600px|width="600"', outside) is None,
          label + ": no fixed 600 px width outside Outlook's comments")
    check("max-width:600px" in htm, label + ": fluid layout up to 600 px")
    check("<link" not in htm.lower(), label + ": no external CSS")
    for img in re.findall(r"<img\b[^>]*>", htm):
        check(" width=" in img and " alt=" in img, label + ": img has width and alt: " + img)
    return text, htm, images


def main():
    if not MAILER or not os.access(MAILER, os.X_OK):
        sys.exit("MAILER_BIN is not set to the built mailer")
    d = tempfile.mkdtemp(prefix="compose-test-")
    try:
        run_all(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if FAILS:
        sys.exit("%d check(s) failed" % len(FAILS))
    print("compose messages: all checks passed")


CAPTIONED = [
    {"src": "images/c1.jpg", "alt": "Hội trường",
     "caption": "Quang cảnh hội nghị tổng kết công tác thi đua năm 2021 tại Hà Giang"},
    {"src": "images/c2.jpg", "alt": "Trao thưởng",
     "caption": "Lãnh đạo tỉnh trao Bằng khen cho các tập thể & cá nhân tiêu biểu"},
    {"src": "images/c3.jpg", "alt": "Ảnh tập thể",
     "caption": "Các điển hình tiên tiến chụp ảnh lưu niệm sau lễ khen thưởng"}]


def make_articles(d):
    """Edge-case articles next to copies of the sample photos."""
    img_dir = os.path.join(d, "art", "images")
    os.makedirs(img_dir)
    sample = os.path.join(SRC, "examples", "articles", "images", "pccc.jpg")
    shutil.copy(sample, os.path.join(img_dir, "a.jpg"))
    shutil.copy(sample, os.path.join(img_dir, "a-copy.jpg"))  # same bytes: one part
    shutil.copy(sample, os.path.join(img_dir, UTF8_PHOTO))
    shutil.copy(os.path.join(SRC, "examples", "articles", "images", "logo.png"),
                os.path.join(img_dir, "gone.png"))
    with open(sample, "rb") as f:
        big = f.read()
    big += os.urandom(10 * 1024 * 1024 - len(big))  # a 10 MB JPEG (trailing data)
    with open(os.path.join(img_dir, "big.jpg"), "wb") as f:
        f.write(big)
    unit = "Tỉnh Hà Giang tổ chức hội nghị tổng kết thi đua khen thưởng năm 2021 "
    title300 = (unit * 10)[:300]
    assert len(title300) == 300
    arts = {
        "mot-ky-tu": dict(title="Á", images=[]),
        "dai-300": dict(title=title300, images=[
            {"src": "images/a.jpg", "caption": "Ảnh một", "alt": "Ảnh một"},
            {"src": "images/a-copy.jpg", "caption": "Ảnh hai", "alt": "Ảnh hai"}]),
        "khong-anh": dict(title="Bài viết không có ảnh: \"trích dẫn\", dấu phẩy & <thẻ>",
                          images=[]),
        "anh-thieu": dict(title="Ảnh bị thiếu", images=[
            {"src": "images/gone.png", "caption": "Ảnh thiếu", "alt": "Ảnh thiếu"}]),
        "ten-anh-utf8": dict(title="Tên ảnh tiếng Việt", images=[
            {"src": "images/" + UTF8_PHOTO, "caption": "Toàn cảnh", "alt": "Toàn cảnh"}]),
        "anh-10mb": dict(title="Ảnh 10 MB", images=[
            {"src": "images/big.jpg", "caption": "Ảnh lớn", "alt": "Ảnh lớn"}]),
    }
    paths = []
    # Captions that differ from the alt texts and appear nowhere in the body:
    # a photo in a paragraph, one in a <figure> without <figcaption>, one
    # not in the body at all (issue 18: the text part lost such captions).
    with open(sample, "rb") as f:
        jpeg = f.read()
    for i, name in enumerate(("c1.jpg", "c2.jpg", "c3.jpg")):
        with open(os.path.join(img_dir, name), "wb") as f:
            f.write(jpeg + b"\0" * (i + 1))  # three photos, not one photo three times
    cap = {"id": "chu-thich-rieng", "url": "https://hagiang.gov.vn/tin/chu-thich-rieng",
           "title": "Chú thích khác lời mô tả", "category": "Tin tức", "author": "Như Quỳnh",
           "published_at": "2021-12-31T14:15:00+07:00", "summary": "Ba ảnh, ba chú thích.",
           "body_html": '<p>Đoạn mở đầu.</p>\n<p><img src="images/c1.jpg" alt="%s"></p>\n'
                        '<figure><img src="images/c2.jpg" alt="%s"></figure>\n'
                        '<p>Đoạn kết.</p>\n' % (CAPTIONED[0]["alt"], CAPTIONED[1]["alt"]),
           "images": CAPTIONED}
    p = os.path.join(d, "art", cap["id"] + ".json")
    with open(p, "w", encoding="utf-8") as f:
        json.dump(cap, f, ensure_ascii=False)
    paths.append(p)
    for aid, a in arts.items():
        body = "<p>Đoạn một của bài %s.</p>\n" % aid
        for im in a["images"]:
            body += '<figure><img src="%s" alt="%s"><figcaption>%s</figcaption></figure>\n' % (
                im["src"], im["alt"], im["caption"])
        if aid == "dai-300":  # the same photo referenced twice
            body += '<p><img src="images/a.jpg" alt="lại"></p>\n'
        doc = {"id": aid, "url": "https://hagiang.gov.vn/tin/%s" % aid, "title": a["title"],
               "category": "Tin tức", "author": "Như Quỳnh",
               "published_at": "2021-12-31T14:15:00+07:00",
               "summary": "Tóm tắt của bài %s." % aid, "body_html": body, "images": a["images"]}
        p = os.path.join(d, "art", aid + ".json")
        with open(p, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        paths.append(p)
    return paths, title300, hashlib.sha256(big).hexdigest(), big


def derived(d, originals, kind):
    """SHA-256 of the images derived for `kind` from the photos `originals`."""
    db = sqlite3.connect(os.path.join(d, "mailer.db"))
    rows = db.execute("SELECT source_sha256, derived_sha256 FROM media_derived WHERE kind = ?",
                      (kind,)).fetchall()
    db.close()
    return {dv for src, dv in rows if src in originals}


def compose(cfg, out, *args):
    run(cfg, "compose", *args, "-o", out)
    with open(out, "rb") as f:
        return f.read()


def run_all(d):
    from_name = 'Tòa soạn "Hà Giang", tin nóng 😀'
    cfg = write_config(d, "a.ini", from_name)
    run(cfg, "init")
    run(cfg, "article", "add", *[os.path.join(SRC, "examples", "articles", s + ".json")
                                 for s in SAMPLES])
    paths, title300, big_sha, big = make_articles(d)
    run(cfg, "article", "add", *paths)
    # A photo whose bytes are gone (missing on disk when fetched / pruned).
    db = sqlite3.connect(os.path.join(d, "mailer.db"))
    sha = db.execute("SELECT media_sha256 FROM article_images WHERE article_id='anh-thieu'"
                     ).fetchone()[0]
    db.execute("DELETE FROM media WHERE sha256=?", (sha,))
    db.execute("DELETE FROM media_derived WHERE source_sha256=?", (sha,))
    db.commit()
    db.close()
    out = os.path.join(d, "m.eml")

    sender = 'Nguyễn Văn "Bình", 😀 phóng viên'
    note = "Anh xem bài này nhé <b>quan trọng</b> & hay!\nDòng thứ hai của lời nhắn."
    samples = {s: json.load(open(os.path.join(SRC, "examples", "articles", s + ".json"),
                                 encoding="utf-8")) for s in SAMPLES}

    # Share of every sample: exact headers and text, photos once each, bytes intact.
    for s in SAMPLES:
        label = "share " + s
        data = compose(cfg, out, "share", s, "--to", "an@example.com", "--to-name",
                       "Trần An, 🇻🇳", "--from-name", sender, "--from-email",
                       "binh@example.org", "--note", note)
        raw_checks(data, label)
        msg = parse(data, label)
        check(str(msg["Subject"]) == samples[s]["title"], label + ": Subject exact")
        check(msg["From"].addresses[0].display_name == from_name, label + ": From name exact")
        check(msg["From"].addresses[0].addr_spec == "tin-tuc@hagiang.example", label + ": From")
        check(msg["To"].addresses[0].display_name == "Trần An, 🇻🇳", label + ": To name exact")
        check(msg["Reply-To"].addresses[0].display_name == sender, label + ": Reply-To name")
        check(msg["Reply-To"].addresses[0].addr_spec == "binh@example.org", label + ": Reply-To")
        check(msg["MIME-Version"] == "1.0", label + ": MIME-Version")
        check(re.fullmatch(r"<[0-9a-f]{32}@hagiang\.example>", msg["Message-ID"]) is not None,
              label + ": Message-ID on the sending domain")
        check(re.search(r"[+-]\d{4}$", msg["Date"]) and "+0700" in msg["Date"],
              label + ": Date with +0700")
        check(msg["List-Unsubscribe"] is None, label + ": a share is not list mail")
        text, htm, images = parts_of(msg, label)
        srcs = {im["src"] for im in samples[s]["images"]}
        check(len(images) == len(srcs), label + ": one part per photo (%d)" % len(images))
        originals = {hashlib.sha256(open(os.path.join(SRC, "examples", "articles", p), "rb")
                                    .read()).hexdigest() for p in srcs}
        want = derived(d, originals, "body")
        got = {hashlib.sha256(p.get_content()).hexdigest() for p in images.values()}
        check(len(want) == len(srcs) and want == got,
              label + ": photos are their derived body images, not the bytes as sent")
        plain = html.unescape(htm)
        check(samples[s]["title"] in plain, label + ": title in HTML")
        check("Anh xem bài này nhé &lt;b&gt;quan trọng&lt;/b&gt; &amp; hay!<br>" in htm,
              label + ": note escaped, line break kept")
        check(note.split("\n")[0] in text and note.split("\n")[1] in text,
              label + ": note in the text part")
        check("Đọc bài gốc" in htm and samples[s]["url"] in htm, label + ": link to the article")
        check("<figure>" not in htm and ("<figure" not in htm or
                                         '<figure style="margin:16px 0;padding:0;">' in htm),
              label + ": figures without side margins, inline (clients that drop <style>)")
        check("31/12/2021" in text or "/20" in text, label + ": date shown")
        check(samples[s]["author"] in text, label + ": author")
        check("Bạn nhận được thư này vì " + sender + " đã chia sẻ bài viết từ" in plain,
              label + ": why-you-got-it footer")
        for im in samples[s]["images"]:
            cap = im["caption"].split("\xa0")[0]
            check(cap in plain and cap in text.replace("\n", " "), label + ": caption kept")

    # Names too long for one encoded word are cut only between words: Python's
    # address parser keeps the whitespace between encoded words (so a cut
    # inside "Sở" shows "S ở"), and every line with an encoded word is <= 76
    # characters (RFC 2047 §2).
    long_name = "Sở Thông tin và Truyền thông tỉnh Hà Giang gửi bạn đọc của Cổng thông tin"
    data = compose(cfg, out, "share", SAMPLES[0], "--to", "an@example.com", "--to-name",
                   long_name, "--from-name", long_name, "--from-email", "so@example.org")
    label = "long names"
    raw_checks(data, label)
    msg = parse(data, label)
    for field in ("To", "Reply-To"):
        shown = msg[field].addresses[0].display_name
        check(shown.split() == long_name.split(),
              label + ": %s words intact in Python: %r" % (field, shown))
    check(str(msg["Subject"]) == samples[SAMPLES[0]]["title"], label + ": Subject exact")
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        check(b"=?" not in line or len(line) <= 76,
              label + ": line with an encoded word over 76: %r" % line)

    # Photo file names stay in UTF-8 (RFC 2231 filename*=utf-8''...), as a reader saves them.
    data = compose(cfg, out, "share", "ten-anh-utf8", "--to", "an@example.com")
    label = "utf-8 file name"
    raw_checks(data, label)
    text, htm, images = parts_of(parse(data, label), label)
    names = [p.get_filename() for p in images.values()]
    check(names == [UTF8_PHOTO], label + ": %r" % names)
    check(b"filename*0*=utf-8''%E1%BA%A2nh" in data, label + ": RFC 2231 with continuations")

    # Digest of the six samples.
    data = compose(cfg, out, "digest", "--articles", ",".join(SAMPLES), "--to",
                   "an@example.com", "--to-name", 'Lê "Út" Ba')
    label = "digest"
    raw_checks(data, label)
    msg = parse(data, label)
    text, htm, images = parts_of(msg, label)
    check(len(images) == 6, label + ": six thumbnails")
    firsts = {hashlib.sha256(open(os.path.join(SRC, "examples", "articles",
                                               samples[s]["images"][0]["src"]), "rb").read())
              .hexdigest() for s in SAMPLES}
    got = {hashlib.sha256(p.get_content()).hexdigest() for p in images.values()}
    check(got == derived(d, firsts, "thumb"), label + ": the photos are their thumbnails")
    lu = msg["List-Unsubscribe"]
    check(lu is not None and re.search(r"<https://[^>]+/unsubscribe/[^>]+>", lu)
          and "<mailto:" in lu, label + ": List-Unsubscribe https and mailto")
    check(msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", label + ": one-click")
    check(msg["List-Id"] is not None, label + ": List-Id")
    check(msg["To"].addresses[0].display_name == 'Lê "Út" Ba', label + ": To name exact")
    plain = html.unescape(htm)
    check("Tin mới trong tuần" in plain and "Hủy đăng ký" in plain, label + ": heading, unsub")
    url = re.search(r"<(https://[^>]+)>", lu).group(1)
    check(url in htm and url in text, label + ": unsubscribe link in both parts")
    check('Chào Lê "Út" Ba' in plain, label + ": greeting by name")
    for s in SAMPLES:
        check(samples[s]["title"] in plain, label + ": title of " + s)
        check(samples[s]["url"] in htm, label + ": link of " + s)

    # Edge cases.
    for aid, title, nimg in [("mot-ky-tu", "Á", 0), ("dai-300", title300, 1),
                             ("khong-anh", None, 0), ("anh-thieu", "Ảnh bị thiếu", 0),
                             ("anh-10mb", "Ảnh 10 MB", 1)]:
        label = "share " + aid
        data = compose(cfg, out, "share", aid, "--to", "an@example.com", "--from-name",
                       'Smith, "JJ"', "--from-email", "jj@example.org")
        raw_checks(data, label)
        msg = parse(data, label)
        if title:
            check(str(msg["Subject"]) == title, label + ": Subject exact")
        check(msg["Reply-To"].addresses[0].display_name == 'Smith, "JJ"', label + ": ASCII name")
        text, htm, images = parts_of(msg, label)
        check(len(images) == nimg, label + ": %d image part(s), got %d" % (nimg, len(images)))
        if aid == "khong-anh":
            check(msg.get_content_type() == "multipart/alternative", label + ": no related")
            check(str(msg["Subject"]) ==
                  "Bài viết không có ảnh: \"trích dẫn\", dấu phẩy & <thẻ>", label + ": Subject")
        if aid == "dai-300":
            check(len(re.findall(r"cid:", htm)) >= 3, label + ": photo referenced three times")
        if aid == "anh-10mb":  # 10 MB as sent, 600 x 400: its derived image goes into mail
            part = list(images.values())[0].get_content()
            check(len(part) < 100 * 1024 and part != big,
                  label + ": the derived image, not the 10 MB as sent (%d bytes)" % len(part))
    # Every caption in both parts, once, though it is neither an alt nor in the body.
    label = "share chu-thich-rieng"
    data = compose(cfg, out, "share", "chu-thich-rieng", "--to", "an@example.com")
    raw_checks(data, label)
    text, htm, images = parts_of(parse(data, label), label)
    shown = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", htm)).split())
    flat = " ".join(text.split())
    for im in CAPTIONED:
        check(shown.count(im["caption"]) == 1, label + ": caption %r in the HTML part %d "
              "time(s), wanted once" % (im["caption"], shown.count(im["caption"])))
        check(flat.count(im["caption"]) == 1, label + ": caption %r in the text part %d "
              "time(s), wanted once" % (im["caption"], flat.count(im["caption"])))
        check('alt="%s"' % im["alt"] in htm, label + ": alt %r kept" % im["alt"])

    # The subject's encoded words and folding for the 300-character title.
    data = compose(cfg, out, "share", "dai-300", "--to", "an@example.com")
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    subj = re.search(r"\r\nSubject:(.*?)\r\n(?! )", head, re.S).group(1)
    for w in re.findall(r"=\?[^?]+\?[BQ]\?[^?]*\?=", subj):
        check(len(w) <= 75, "300: encoded word <= 75")
    check(len(("Subject:" + subj).split("\r\n")) > 3, "300: subject folded")

    # Under a lowered embed limit the photo is linked to the bytes as sent.
    cfg2 = write_config(d, "b.ini", "Smith, \"JJ\"", embed="4KB")
    data = compose(cfg2, out, "share", "anh-10mb", "--to", "an@example.com")
    raw_checks(data, "10mb linked")
    msg = parse(data, "10mb linked")
    check(msg["From"].addresses[0].display_name == 'Smith, "JJ"', "10mb: ASCII From name")
    text, htm, images = parts_of(msg, "10mb linked")
    check(len(images) == 0 and "%s/media/%s" % (BASE_URL, big_sha) in htm,
          "10mb: over embed_max_bytes, linked to /media/SHA")

    # Header injection: refused with the field named, nothing written.
    os.unlink(out)
    for args, field in [(["--from-name", "Evil\r\nBcc: victim@example.net"], "sender_name"),
                        (["--to-name", "Evil\nBcc: victim@example.net"], "name"),
                        (["--from-email", "a@b.example\r\nBcc: v@x.example"], "")]:
        p = run(cfg, "compose", "share", "tin-pccc-20211005", "--to", "an@example.com", *args,
                "-o", out, ok=False)
        check(p.returncode == 3, "injection %r: exit 3 (got %d)" % (args, p.returncode))
        check(field in p.stderr.decode(), "injection %r: names the field" % (args,))
        check(not os.path.exists(out), "injection %r: nothing written" % (args,))
    p = run(cfg, "compose", "share", "tin-pccc-20211005", "--to", "an@example.com\r\nBcc: x@y.z",
            ok=False)
    check(p.returncode == 3 and not p.stdout, "injection in --to refused")
    p = run(cfg, "compose", "share", "no-such", "--to", "an@example.com", ok=False)
    check(p.returncode == 5, "unknown article: exit 5")


if __name__ == "__main__":
    main()
