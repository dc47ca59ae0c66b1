"""Reads the test SMTP server's store for the browser test (Python's email
parser is stricter and better known than anything in npm).

    mailtool.py STORE RECIPIENT  ->  JSON list, one object per message to RECIPIENT:
    {subject, from, reply_to, to, inline_images: [{cid, type, bytes, referenced}],
     confirm_url, unsubscribe_url, list_unsubscribe, list_unsubscribe_post,
     html (the decoded text/html part, as is), html_view (the same with its cid:
     photos as data: URLs, for showing it in a browser), text (the text/plain part)}
"""
import base64
import email
import email.policy
import json
import os
import re
import sys


def describe(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    html_part = msg.get_body(("html",))
    html = html_part.get_content() if html_part else ""
    text_part = msg.get_body(("plain",))
    text = text_part.get_content() if text_part else ""
    images = []
    view = html
    for part in msg.walk():
        if part.get_content_maintype() == "image":
            cid = (part["Content-ID"] or "").strip("<>")
            if cid:
                view = view.replace("cid:" + cid, "data:%s;base64,%s" % (
                    part.get_content_type(),
                    base64.b64encode(part.get_payload(decode=True) or b"").decode()))
            images.append({"cid": cid, "type": part.get_content_type(),
                           "bytes": len(part.get_payload(decode=True) or b""),
                           "inline": (part.get_content_disposition() or "inline") == "inline",
                           "referenced": bool(cid) and ("cid:" + cid) in html})
    def link(kind):
        mt = re.search(r"https?://[^\s\"'<>]+/%s/[A-Za-z0-9_.~%%-]+" % kind, text + " " + html)
        return mt.group(0) if mt else None
    return {"subject": str(msg["Subject"]), "from": str(msg["From"]),
            "reply_to": str(msg["Reply-To"] or ""), "to": str(msg["To"]),
            "inline_images": images, "confirm_url": link("confirm"),
            "unsubscribe_url": link("unsubscribe"),
            "list_unsubscribe": str(msg["List-Unsubscribe"] or ""),
            "list_unsubscribe_post": str(msg["List-Unsubscribe-Post"] or ""),
            "html": html, "html_view": view, "text": text}


def main():
    store, rcpt = sys.argv[1], sys.argv[2].lower()
    out = []
    for name in sorted(os.listdir(store)):
        if not (name.endswith(".json") and name[0].isdigit()):
            continue
        with open(os.path.join(store, name)) as f:
            meta = json.load(f)
        if rcpt not in [r.lower() for r in meta["rcpt_tos"]]:
            continue
        with open(os.path.join(store, name[:-5] + ".eml"), "rb") as f:
            out.append(describe(f.read()))
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
