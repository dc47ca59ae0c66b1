#!/usr/bin/python3
"""The same personalized messages built with Python's email package.

Reads the share.eml and digest.eml that bench_compose wrote (so the texts,
HTML and photos are the very same), then for SECONDS per kind builds a new
message per recipient the way a Python service would: EmailMessage, the
headers (name, address, Message-ID, list headers), set_content(text),
add_alternative(html), add_related(photo bytes, cid=...) for each photo on
the HTML part, as_bytes(). Prints "KIND msgs/s bytes/msg".
"""
import email
import email.policy
import sys
import time
from email.headerregistry import Address
from email.message import EmailMessage


def load(path):
    msg = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    photos = []
    for p in msg.walk():
        if p.get_content_maintype() == "image":
            photos.append((p.get_content(), p.get_content_subtype(), p["Content-ID"],
                           p.get_filename()))
    return msg, text, html, photos


def build(src, text, html, photos, n, listmail):
    m = EmailMessage()
    m["Date"] = src["Date"]
    m["From"] = src["From"]
    m["To"] = Address("Người nhận số %d" % n, "nguoi%d" % n, "example.com")
    if src["Reply-To"]:
        m["Reply-To"] = src["Reply-To"]
    m["Subject"] = str(src["Subject"])
    m["Message-ID"] = "<%d.bench@hagiang.example>" % n
    if listmail:
        m["List-Id"] = "<tin-tuc.hagiang.example>"
        m["List-Unsubscribe"] = ("<https://tin.hagiang.example/unsubscribe/tok%dabcdef>, "
                                 "<mailto:unsubscribe@hagiang.example?subject=unsubscribe>" % n)
        m["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    m.set_content(text, cte="quoted-printable")
    m.add_alternative(html, subtype="html", cte="quoted-printable")
    html_part = m.get_payload()[1]
    for data, subtype, cid, fn in photos:
        html_part.add_related(data, "image", subtype, cid=cid, filename=fn,
                              disposition="inline")
    return m.as_bytes(policy=email.policy.SMTP)


def main():
    work, seconds = sys.argv[1], float(sys.argv[2])
    for kind, listmail in (("share", False), ("digest", True)):
        src, text, html, photos = load("%s/%s.eml" % (work, kind))
        n, size, t0 = 0, 0, time.perf_counter()
        while True:
            size += len(build(src, text, html, photos, n, listmail))
            n += 1
            t = time.perf_counter() - t0
            if t >= seconds:
                break
        print("%s %.0f %d" % (kind, n / t, size // n))


if __name__ == "__main__":
    main()
