#!/usr/bin/python3
"""Photos as a camera, a newsroom and an attacker send them, through the built
mailer to a real SMTP server, checked with tools that are not libvips.

Made here (vips and ImageMagick command-line tools, exiftool for the
metadata): a 4000 x 3000 JPEG with EXIF orientation 6, GPS position, camera
serial number, XMP and IPTC; a CMYK JPEG; a grey JPEG; a PNG with
transparency; an animated GIF; a WebP; seven distinct 4000 x 3000 camera JPEGs; a
20,000 x 20,000 PNG (a decompression bomb of a few hundred KB) and a
truncated JPEG.

Checked on the bytes the SMTP server received (every image part decoded from
base64): sizes (body <= 1200 px wide, the digest thumbnail exactly 240 x 160),
the orientation applied (a red block stored top-left shows top-right), sRGB
with 3 channels (4 with alpha), no EXIF, GPS, XMP, IPTC, ICC or maker notes
(exiftool lists only the file's structure), the PNG kept for the
transparent graphic, the GIF's first frame; a share of seven camera photos
<= 2.5 MB and the six-article sample digest <= 80 KB; "see the full photo"
links to /media/SHA of the photo as sent. The bomb and the truncated file
are refused with the image and the reason named and nothing stored.
An upgrade: a database whose derived images are gone (as before migration
6) gets them from `mailer init`, and on first use without it.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import (SRC, Checks, CliEnv, SmtpServer, build_dir, fail,  # noqa: E402
                        parse_message, write_ini)

CONVERT = "/usr/bin/convert"  # ImageMagick itself (a PATH entry may be another program)
IDENTIFY = "/usr/bin/identify"
TOOLS = ["/usr/bin/vips", CONVERT, IDENTIFY, "/usr/bin/exiftool"]
SAMPLES = ["ha-giang-tong-ket-thi-dua-2021", "tin-bac-me-lam-san-20210813",
           "tin-ca-do-bong-da-20210928", "tin-cuu-chien-binh-20211008",
           "tin-nguoi-khuyet-tat-20211020", "tin-pccc-20211005"]
BASE_URL = "https://tin.hagiang.example"
NOW_2022 = 1641171600  # Monday 2022-01-03 08:00 +07:00
# What exiftool may report on an image without metadata: the file's own structure.
ALLOWED_GROUPS = {"ExifTool", "System", "File", "JFIF", "Composite"}
PNG_STRUCTURE = {"ImageWidth", "ImageHeight", "BitDepth", "ColorType", "Compression", "Filter",
                 "Interlace", "PixelsPerUnitX", "PixelsPerUnitY", "PixelUnits",
                 "Background", "Gamma", "SRGBRendering"}

checks = Checks()
check = checks.check


def sh(*args, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True, **kw)
    if p.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(map(str, args)), p.returncode,
                                  p.stderr.decode(errors="replace")))
    return p.stdout


# ---- making the photos -----------------------------------------------------

def camera_texture(d):
    """A 4000 x 3000 float RGB texture with the fine detail of a photo (Perlin
    noise at three scales and sensor noise): its 1200 px JPEG at quality 80
    is about 0.19 bytes per pixel, a little over the 0.17 of the real photos
    measured in bench/media/README.md, so the size limits are not met by a
    texture easier than life; the camera file itself is about 5 MB."""
    d = os.path.join(os.path.dirname(d), "texture")
    t = os.path.join(d, "tex.v")
    if os.path.exists(t):
        return t
    os.makedirs(d, exist_ok=True)
    parts = []
    for i, cell in enumerate((300, 24, 10)):
        p = os.path.join(d, "p%d.v" % i)
        sh("vips", "perlin", p, 4000, 3000, "--cell-size", cell, "--seed", i + 1)
        parts.append(p)
    # three bands from the scales mixed differently, then sensor noise
    sh("vips", "bandjoin", " ".join(parts), os.path.join(d, "pj.v"))
    with open(os.path.join(d, "mix.mat"), "w") as f:
        f.write("3 3\n90 40 25\n40 90 25\n60 30 40\n")
    sh("vips", "recomb", os.path.join(d, "pj.v"), os.path.join(d, "pr.v"),
       os.path.join(d, "mix.mat"))
    sh("vips", "gaussnoise", os.path.join(d, "n.v"), 4000, 3000, "--sigma", 8, "--mean", 0)
    sh("vips", "bandjoin", "%s %s %s" % ((os.path.join(d, "n.v"),) * 3),
       os.path.join(d, "n3.v"))
    sh("vips", "add", os.path.join(d, "pr.v"), os.path.join(d, "n3.v"), os.path.join(d, "s.v"))
    sh("vips", "linear", os.path.join(d, "s.v"), t, 1, 128)
    return t


def camera_jpeg(d, name, shade, red_block=False):
    """A 4000 x 3000 camera-like JPEG (quality 92, as cameras write) from the
    texture, shifted by `shade` so each file has other bytes; with a pure red
    block in the stored top-left corner if `red_block`."""
    tex = camera_texture(d)
    v = os.path.join(os.path.dirname(tex), name + ".v")
    sh("vips", "linear", tex, v, 1, shade, "--uchar")
    out = os.path.join(d, name)
    if red_block:  # drawn into the .v file in place
        sh("vips", "draw_rect", v, "255 0 0", 0, 0, 1000, 750, "--fill")
    sh("vips", "copy", v, out + "[Q=92]")
    os.unlink(v)
    return out


def add_camera_metadata(path, orientation):
    """EXIF orientation (6: rotate 90 clockwise to show), GPS, serial number,
    maker and model, XMP and IPTC, as a phone or camera writes them."""
    sh("exiftool", "-q", "-overwrite_original", "-n", "-Orientation=%d" % orientation,
       "-GPSLatitude=22.8233", "-GPSLatitudeRef=N", "-GPSLongitude=104.9836",
       "-GPSLongitudeRef=E", "-GPSAltitude=312", "-Make=Canon", "-Model=Canon EOS R6",
       "-SerialNumber=093021000123", "-BodySerialNumber=093021000123",
       "-XMP:Creator=Nguyễn Văn Phóng Viên", "-XMP:Rating=5",
       "-IPTC:By-line=Phóng viên", "-IPTC:City=Hà Giang",
       "-Comment=private note", path)
    tags = exif_tags(open(path, "rb").read())
    assert any(k.startswith("GPS:") for k in tags), "test photo has no GPS"
    assert tags.get("IFD0:Orientation") == orientation, tags.get("IFD0:Orientation")


def bomb_png(path, w=20000, h=20000):
    """A valid 1-bit grey PNG of w x h pixels, all black: a few hundred KB
    that would be 1.6 GB as RGBA."""
    def chunk(kind, data):
        c = kind + data
        return len(data).to_bytes(4, "big") + c + zlib.crc32(c).to_bytes(4, "big")
    row = b"\0" * (1 + (w + 7) // 8)
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) +
                chunk(b"IEND", b""))


def make_photos(d):
    img = os.path.join(d, "images")
    os.makedirs(img)
    p = {}
    p["camera"] = camera_jpeg(img, "camera.jpg", 0, red_block=True)
    add_camera_metadata(p["camera"], 6)
    # CMYK: a red and a blue half, converted by ImageMagick (no profile, Adobe-inverted)
    p["cmyk"] = os.path.join(img, "cmyk.jpg")
    sh(CONVERT, "-size", "1600x1200", "xc:#d01010", "-fill", "#1030c0", "-draw",
       "rectangle 800,0 1599,1199", "-colorspace", "CMYK", "-quality", "92", p["cmyk"])
    # a grey photo (one channel): it goes into mail as sRGB like the rest
    p["grey"] = os.path.join(img, "grey.jpg")
    sh(CONVERT, "-size", "1600x1200", "gradient:#202020-#e0e0e0", "-colorspace", "Gray",
       "-quality", "90", p["grey"])
    # a logo with transparency
    p["alpha"] = os.path.join(img, "logo-alpha.png")
    sh(CONVERT, "-size", "800x400", "xc:none", "-fill", "#a30000", "-draw",
       "circle 400,200 400,20", p["alpha"])
    # ... exported with GPS, XMP and a text chunk, which libvips reads and would
    # write again unless told to strip (ImageMagick's own date chunks it drops)
    sh("exiftool", "-q", "-overwrite_original", "-n", "-GPSLatitude=22.8233",
       "-GPSLatitudeRef=N", "-GPSLongitude=104.9836", "-GPSLongitudeRef=E",
       "-XMP:Creator=Nguyễn Văn Phóng Viên", "-PNG:Artist=Phóng viên", p["alpha"])
    tags = exif_tags(open(p["alpha"], "rb").read())
    assert any(k.startswith("GPS:") for k in tags), "test PNG has no GPS: %r" % tags
    # an animated GIF: green, then blue, then red frames
    p["gif"] = os.path.join(img, "anim.gif")
    sh(CONVERT, "-delay", "50", "-size", "640x480", "xc:#00c000", "xc:#0000c0", "xc:#c00000",
       "-loop", "0", p["gif"])
    # a WebP photo
    p["webp"] = os.path.join(img, "photo.webp")
    tex = camera_jpeg(img, "webp-src.jpg", 20)
    sh("vips", "thumbnail", tex, p["webp"] + "[Q=85]", 2000)
    os.unlink(tex)
    # seven camera photos for one share
    p["seven"] = [camera_jpeg(img, "cam%d.jpg" % i, 3 * i + 1) for i in range(7)]
    for f in p["seven"]:  # landscape, as the 18.9 MB share of the issue
        add_camera_metadata(f, 1)
    # the refused ones
    p["bomb"] = os.path.join(img, "bomb.png")
    bomb_png(p["bomb"])
    p["cut"] = os.path.join(img, "cut.jpg")
    with open(p["camera"], "rb") as f:
        data = f.read()
    with open(p["cut"], "wb") as f:
        f.write(data[: len(data) * 6 // 10])
    return p


# ---- looking at images with other tools ------------------------------------

def exif_tags(data):
    """exiftool's view of image bytes: {"Group:Tag": value}."""
    out = sh("exiftool", "-j", "-a", "-G1", "-n", "-", input=data)
    return {k: v for k, v in json.loads(out)[0].items() if k != "SourceFile"}


def metadata_left(data):
    """Every tag exiftool finds that is not the file's own structure."""
    left = []
    for k, v in exif_tags(data).items():
        group, _, tag = k.partition(":")
        if group.startswith("PNG"):  # PNG, PNG-pHYs: the chunks that draw the picture
            if tag not in PNG_STRUCTURE:
                left.append("%s=%s" % (k, v))
        elif group not in ALLOWED_GROUPS:
            left.append("%s=%s" % (k, v))
    for needle in (b"Exif\0\0", b"http://ns.adobe.com/xap", b"Photoshop 3.0", b"ICC_PROFILE",
                   b"093021000123", b"eXIf", b"iTXt", b"tEXt", b"zTXt"):
        if needle in data:
            left.append("bytes contain %r" % needle)
    return left


def identify(data):
    """(format, width, height, colorspace, channels, frames) by ImageMagick."""
    out = sh(IDENTIFY, "-format", "%m %w %h %[colorspace] %[channels]\n", "-", input=data)
    lines = out.decode().split("\n")
    lines = [l for l in lines if l]
    m, w, h, cs, ch = lines[0].split(" ", 4)
    return m, int(w), int(h), cs, ch, len(lines)


def pixel(data, x, y):
    """(r, g, b) at x, y, 0-255, by ImageMagick."""
    fmt = " ".join("%%[fx:int(255*p{%d,%d}.%s)]" % (x, y, c) for c in "rgb")
    out = sh(CONVERT, "-", "-format", fmt, "info:", input=data).decode()
    return tuple(int(v) for v in out.split())


def is_red(rgb):
    return rgb[0] > 180 and rgb[1] < 90 and rgb[2] < 90


def is_blue(rgb):
    return rgb[2] > 120 and rgb[0] < 90


# ---- the mailer ------------------------------------------------------------

class Env(CliEnv):
    def __init__(self, name, port):
        super().__init__("media-" + name, "smtp://127.0.0.1:%d" % port,
                         delivery_defaults={"connections": "1"},
                         smtp_defaults={"tls": "none", "helo": "mailer.test.example"})
        write_ini(self.config, [
            ("site", {"name": "Cổng TTĐT Hà Giang", "base_url": BASE_URL}),
            ("database", {"path": self.db_path}),
            ("mail", {"from_address": "tin-tuc@hagiang.example",
                      "secret": "media-test-secret-0123456789"}),
            ("delivery", self.delivery), ("smtp", self.smtp),
            ("templates", {"dir": os.path.join(SRC, "templates")})])
        self.mailer("init")

    def article(self, art_id, srcs, body_refs=()):
        """Writes and adds an article whose images are `srcs` (relative to
        self.dir); those in `body_refs` are shown in body_html."""
        body = "<p>Nội dung bài %s.</p>" % art_id
        for s in body_refs:
            body += '<figure><img src="%s" alt="Ảnh"><figcaption>Chú thích %s</figcaption>' \
                    "</figure>" % (s, os.path.basename(s))
        doc = {"id": art_id, "url": "https://hagiang.gov.vn/tin/" + art_id,
               "title": "Bài %s" % art_id, "published_at": "2021-06-30T10:00:00+07:00",  # before the digest window
               "summary": "Tóm tắt %s." % art_id, "body_html": body,
               "images": [{"src": s, "caption": "Ảnh %d của bài" % i, "alt": "Ảnh %d" % i}
                          for i, s in enumerate(srcs)]}
        path = os.path.join(self.dir, art_id + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        return path


def rel(env, path):
    return os.path.relpath(path, env.dir)


def images_of(data):
    """[(content type, decoded bytes, Content-ID)] of a received message."""
    msg = parse_message(data)
    out = []
    for part in msg.walk():
        if part.get_content_maintype() == "image":
            out.append((part.get_content_type(), part.get_payload(decode=True),
                        (part["Content-ID"] or "").strip("<>")))
    return msg, out


def counts(env):
    return env.q("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM media), "
                 "(SELECT count(*) FROM media_derived)")[0]


def deliver_share(env, srv, art_id, to):
    env.mailer("share", art_id, "--to", to, "--from-name", "Hoa", "--from-email",
               "hoa@example.vn")
    env.mailer("deliver", "--once")
    got = [m for m in srv.messages() if to in m["rcpt_tos"]]
    if len(got) != 1:
        fail("share %s to %s: %d messages received" % (art_id, to, len(got)))
    return got[0]["data"]


def main():
    for t in TOOLS:
        if not os.access(t, os.X_OK):
            print("SKIP: %s is missing (scripts/setup.sh installs it)" % t)
            sys.exit(77)
    work = os.path.join(build_dir(), "testtmp", "media-made")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    photos = make_photos(work)
    shutil.rmtree(os.path.join(work, "texture"))  # 500 MB of intermediate images
    store = os.path.join(build_dir(), "testtmp", "media-smtpd")
    shutil.rmtree(store, ignore_errors=True)
    with SmtpServer(store) as srv:
        env = Env("photos", srv.port)
        shutil.copytree(os.path.join(work, "images"), os.path.join(env.dir, "images"))
        ph = {k: (os.path.join(env.dir, "images", os.path.basename(v)) if isinstance(v, str)
                  else [os.path.join(env.dir, "images", os.path.basename(x)) for x in v])
              for k, v in photos.items()}
        refusals(env, ph)
        kinds(env, srv, ph)
        seven(env, srv, ph)
        digest(env, srv)
        upgrade(env, srv)
    if checks.failures:
        sys.exit("%d check(s) failed" % len(checks.failures))
    print("media photos: all checks passed")


def refusals(env, ph):
    """The bomb and the truncated photo: named errors, nothing stored."""
    before = counts(env)
    for key, want in (("bomb", "images/bomb.png: 20000x20000 is 400000000 pixels, over the "
                               "limit of 50000000 ([media] max_pixels): refused before decoding"),
                      ("cut", "images/cut.jpg: truncated JPEG, cannot be decoded")):
        path = env.article("hong-" + key, [rel(env, ph["camera"]), rel(env, ph[key])])
        p = env.mailer("article", "add", path, code=3)
        err = p.stderr.decode()
        check(("images[1].src: " + want) in err, "%s refused with a named error: %r" % (key, err))
        check(counts(env) == before, "%s: nothing stored (%r -> %r)" % (key, before, counts(env)))


def kinds(env, srv, ph):
    """One photo of each kind, shared: each part checked by exiftool and ImageMagick."""
    srcs = [ph["camera"], ph["cmyk"], ph["alpha"], ph["gif"], ph["webp"], ph["grey"]]
    env.mailer("article", "add", env.article("cac-loai-anh", [rel(env, s) for s in srcs],
                                             body_refs=[rel(env, ph["camera"])]))
    data = deliver_share(env, srv, "cac-loai-anh", "loai@example.com")
    msg, parts = images_of(data)
    check(len(parts) == 6, "six image parts (got %d)" % len(parts))
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    # the parts follow the order of first use: the body's photo, then the others
    want = {"camera": ("JPEG", 1200, 1600), "cmyk": ("JPEG", 1200, 900),
            "alpha": ("PNG", 800, 400), "gif": ("PNG", 640, 480), "webp": ("JPEG", 1200, 900),
            "grey": ("JPEG", 1200, 900)}
    for (ctype, body, cid), key in zip(parts, ["camera", "cmyk", "alpha", "gif", "webp", "grey"]):
        fmt, w, h, cs, ch, frames = identify(body)
        check((fmt, w, h) == want[key], "%s: %s %dx%d, want %r" % (key, fmt, w, h, want[key]))
        check(ctype == "image/" + fmt.lower(), "%s: Content-Type %s" % (key, ctype))
        check(cs == "sRGB" and ch in ("srgb", "srgba"), "%s: sRGB (%s %s)" % (key, cs, ch))
        check(frames == 1, "%s: one frame (%d)" % (key, frames))
        left = metadata_left(body)
        check(not left, "%s: no metadata in the mail's image: %s" % (key, left))
        if fmt == "JPEG":
            check(b"\xff\xc2" in body, "%s: progressive JPEG (SOF2)" % key)
    cam = parts[0][1]
    check(is_red(pixel(cam, 1150, 50)) and not is_red(pixel(cam, 50, 50)),
          "camera: EXIF orientation 6 applied (the stored top-left red block shows top-right:"
          " %r, top-left %r)" % (pixel(cam, 1150, 50), pixel(cam, 50, 50)))
    cmyk = parts[1][1]
    check(is_red(pixel(cmyk, 100, 450)) and is_blue(pixel(cmyk, 1100, 450)),
          "cmyk: converted to sRGB with its colours (%r, %r)" % (pixel(cmyk, 100, 450),
                                                              pixel(cmyk, 1100, 450)))
    check(identify(parts[2][1])[4] == "srgba", "alpha: transparency kept")
    g = pixel(parts[3][1], 320, 240)
    check(g[1] > 150 and g[0] < 60 and g[2] < 60, "gif: the first (green) frame: %r" % (g,))
    # "see the full photo": the photo as sent, at /media/SHA, for the camera photo
    sha = env.q("SELECT media_sha256 FROM article_images WHERE article_id = 'cac-loai-anh' "
                "AND position = 0")[0][0]
    link = "%s/media/%s" % (BASE_URL, sha)
    check(link in html and "Xem ảnh đầy đủ" in html, "full photo link in the HTML")
    check(link in text, "full photo link in the text part")
    # the stored original is untouched (GPS and all): /media serves what the CMS sent
    orig = env.q("SELECT bytes FROM media WHERE sha256 = ?", sha)[0][0]
    check(orig == open(ph["camera"], "rb").read(), "the photo as sent is kept")


def seven(env, srv, ph):
    """A share of an article with seven 4000 x 3000 camera photos: <= 2.5 MB."""
    env.mailer("article", "add", env.article("bay-anh", [rel(env, s) for s in ph["seven"]]))
    sent = sum(os.path.getsize(s) for s in ph["seven"])
    data = deliver_share(env, srv, "bay-anh", "bay@example.com")
    msg, parts = images_of(data)
    check(len(parts) == 7, "seven photos embedded (%d)" % len(parts))
    for ctype, body, cid in parts:
        fmt, w, h, cs, ch, frames = identify(body)
        check((fmt, w, h) == ("JPEG", 1200, 900), "seven: %s %dx%d" % (fmt, w, h))
        check(not metadata_left(body), "seven: no metadata")
    print("share of seven 4000x3000 photos (%.1f MB as sent): %d bytes" % (sent / 1e6, len(data)))
    check(len(data) <= 2.5 * 1024 * 1024, "seven-photo share %d bytes <= 2.5 MB" % len(data))


def digest(env, srv):
    """The six-article sample digest, through SMTP: thumbnails, <= 80 KB."""
    for s in SAMPLES:
        env.mailer("article", "add", os.path.join(SRC, "examples", "articles", s + ".json"))
    env.mailer("list", "create", "tin-tuc", "--name", "Tin tức Hà Giang", "--optin", "single")
    env.mailer("sub", "add", "doc-gia@example.com", "--list", "tin-tuc", "--name", "Độc Giả")
    env.mailer("digest", "send", "--list", "tin-tuc", "--since", "2021-08-01", now=NOW_2022)
    env.mailer("deliver", "--once", now=NOW_2022)
    got = [m for m in srv.messages() if "doc-gia@example.com" in m["rcpt_tos"]]
    check(len(got) == 1, "one digest received (%d)" % len(got))
    data = got[0]["data"]
    msg, parts = images_of(data)
    check(len(parts) == 6, "six thumbnails (%d)" % len(parts))
    for ctype, body, cid in parts:
        fmt, w, h, cs, ch, frames = identify(body)
        check((w, h) == (240, 160), "thumbnail %dx%d is the 120x80 box at 2x" % (w, h))
        check(not metadata_left(body), "thumbnail: no metadata")
    print("six-article sample digest: %d bytes" % len(data))
    check(len(data) <= 80 * 1024, "sample digest %d bytes <= 80 KB" % len(data))


def upgrade(env, srv):
    """A database from before derived images: `mailer init` makes them; a
    message made without that makes them on first use."""
    total = env.q("SELECT count(*) FROM media_derived")[0][0]
    env.x("DELETE FROM media_derived")
    p = env.mailer("init")
    check(("%d images for mail made from stored photos" % total) in p.stdout.decode(),
          "init after an upgrade makes %d images: %r" % (total, p.stdout))
    check(env.q("SELECT count(*) FROM media_derived")[0][0] == total, "all made again")
    # first use: none stored, a share still carries derived images and stores them
    env.x("DELETE FROM media_derived")
    data = deliver_share(env, srv, "cac-loai-anh", "lan-dau@example.com")
    msg, parts = images_of(data)
    check(len(parts) == 6 and all(not metadata_left(b) for _, b, _ in parts),
          "first use: six derived images, no metadata")
    check(identify(parts[0][1])[1:3] == (1200, 1600), "first use: body size")
    check(env.q("SELECT count(*) FROM media_derived WHERE kind = 'body'")[0][0] == 6,
          "first use: stored")


if __name__ == "__main__":
    main()
