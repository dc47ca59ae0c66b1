"""Turns a message (.eml) into an HTML file a browser can open, as a mail
client shows it: the text/html part, with every cid: reference pointing at
the image part of that Content-ID, written beside it.

    mail2html.py MESSAGE.eml OUTDIR NAME  ->  OUTDIR/NAME.html, OUTDIR/NAME-N.EXT
    prints JSON: {"html": path, "images": [{"cid", "file", "type", "bytes"}],
                  "unresolved": [cid...], "unused": [cid...]}
"""
import email
import email.policy
import json
import os
import re
import sys


def main():
    eml, outdir, name = sys.argv[1:4]
    with open(eml, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    html = msg.get_body(("html",)).get_content()
    images = {}
    for i, part in enumerate(p for p in msg.walk() if p.get_content_maintype() == "image"):
        cid = (part["Content-ID"] or "").strip().strip("<>")
        ext = part.get_content_subtype().replace("jpeg", "jpg")
        fname = "%s-%d.%s" % (name, i, ext)
        data = part.get_payload(decode=True)
        with open(os.path.join(outdir, fname), "wb") as f:
            f.write(data)
        images[cid] = {"cid": cid, "file": fname, "type": part.get_content_type(),
                       "bytes": len(data)}
    refs = set(re.findall(r"cid:([^\"'\s>)]+)", html))
    html = re.sub(r"cid:([^\"'\s>)]+)",
                  lambda m: images[m.group(1)]["file"] if m.group(1) in images else m.group(0),
                  html)
    path = os.path.join(outdir, name + ".html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)
    json.dump({"html": path, "images": list(images.values()),
               "unresolved": sorted(refs - set(images)), "unused": sorted(set(images) - refs)},
              sys.stdout)


if __name__ == "__main__":
    main()
