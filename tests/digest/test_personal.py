"""A digest through the real test SMTP server: each message carries its
subscriber's name, their own one-click List-Unsubscribe (RFC 8058) and a
visible unsubscribe link with the same URL, the list's subject rendered
(Vietnamese, RFC 2047), and the envelope's VERP return path. A subscriber
removed after the enqueue gets nothing and their envelope is cancelled.
"""
import base64
import hashlib
import hmac
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digestlib  # noqa: E402
from digestlib import (fresh_store, DOMAIN, PEOPLE, SITE, BASE_URL, Env, SmtpServer, check,  # noqa: E402
                       parse, received_by_rcpt, verp_token)


def main():
    store = fresh_store("personal")
    with SmtpServer(store) as srv:
        env = Env("personal", transport="smtp://127.0.0.1:%d" % srv.port)
        did, out = env.enqueue_sample_digest(PEOPLE)
        check("6 articles, 3 recipients" in out, "enqueue output: %r" % out)
        st = env.status(did)
        check(st["queued"] == 3 and st["period"] == "2022-W01" and st["articles"] == 6,
              "status after enqueue: %r" % st)

        # Bình leaves while the digest is queued
        env.mailer("sub", "rm", "binh@example.com", "--list", "tin-tuc")
        (state,) = env.q("SELECT e.state FROM envelopes e JOIN sends s ON s.id = e.send_id "
                         "WHERE s.kind = 'digest' AND e.recipient = 'binh@example.com'")[0]
        check(state == "cancelled", "Bình's envelope is %s" % state)

        env.mailer("deliver", "--once")
        got = received_by_rcpt(srv)
        check(sorted(got) == ["an@example.com", "chi@example.com"],
              "received for %r" % sorted(got))
        st = env.status(did)
        check(st["sent"] == 2 and st["cancelled"] == 1 and st["queued"] == 0 and
              st["status"] == "done", "status after delivery: %r" % st)

        urls = set()
        for addr, name in PEOPLE:
            if addr not in got:
                continue
            check(len(got[addr]) == 1, "%s got %d messages" % (addr, len(got[addr])))
            meta = got[addr][0]
            (env_id,) = env.q("SELECT id FROM envelopes WHERE recipient = ?", addr)[0]
            check(meta["mail_from"] == "bounces+%s@%s" % (verp_token(env_id), DOMAIN),
                  "VERP of %s: %s" % (addr, meta["mail_from"]))
            msg = parse(meta["data"])
            check(msg["To"].addresses[0].display_name == name,
                  "To name %r, wanted %r" % (msg["To"].addresses[0].display_name, name))
            check(msg["To"].addresses[0].addr_spec == addr, "To address %s" % msg["To"])
            check(str(msg["Subject"]) == "Bản tin tuần 1 – " + SITE,
                  "Subject %r" % str(msg["Subject"]))
            check(msg["List-Id"] == "<tin-tuc.%s>" % DOMAIN, "List-Id %r" % msg["List-Id"])
            check(msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click",
                  "List-Unsubscribe-Post %r" % msg["List-Unsubscribe-Post"])
            lu = str(msg["List-Unsubscribe"])
            m = re.match(r"<(%s/unsubscribe/[A-Za-z0-9_-]+)>, <mailto:unsubscribe\+(\d+)\.(\d+)\."
                         r"([0-9a-f]{20})@%s\?subject=unsubscribe>$" % (re.escape(BASE_URL),
                                                                      re.escape(DOMAIN)),
                         lu)
            check(m, "List-Unsubscribe %r" % lu)
            # the mailto's token names this subscriber and list, signed (mailer/bounce reads it)
            (sub_id,) = env.q("SELECT id FROM subscribers WHERE email = ?", addr)[0]
            (lid,) = env.q("SELECT id FROM lists WHERE slug = 'tin-tuc'")[0]
            mac = hmac.new(digestlib.SECRET.encode(), b"mailto-unsubscribe:%d:%d" % (sub_id, lid),
                           hashlib.sha256).digest()[:10].hex()
            check((int(m.group(2)), int(m.group(3)), m.group(4)) == (sub_id, lid, mac),
                  "mailto token of %s: %r" % (addr, m.groups()[1:]))
            url = m.group(1)
            urls.add(url)
            html = msg.get_body(("html",)).get_content()
            text = msg.get_body(("plain",)).get_content()
            check('href="%s"' % url in html, "the HTML has no link to %s" % url)
            check(url in text, "the text has no %s" % url)
            check(name.split()[-1].replace("<", "&lt;").replace(">", "&gt;") in html or
                  name.split()[-1] in html, "the HTML does not greet %s" % name)
            check(name in text, "the text does not greet %s" % name)
            # the week's six articles, each with its link
            for (link,) in env.q("SELECT url FROM articles"):
                check(link in html, "article %s missing from the HTML" % link)
        check(len(urls) == 2, "unsubscribe links are not personal: %r" % urls)

        # each token names its own subscriber and the list (subs_token_make:
        # kind | subscriber id | list id | expiry, big-endian, then the MAC)
        (list_id,) = env.q("SELECT id FROM lists WHERE slug = 'tin-tuc'")[0]
        for addr in got:
            (sub_id,) = env.q("SELECT id FROM subscribers WHERE email = ?", addr)[0]
            lu = str(parse(got[addr][0]["data"])["List-Unsubscribe"])
            tok = re.search(r"/unsubscribe/([A-Za-z0-9_-]+)>", lu).group(1)
            raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
            check(raw[0] == 2 and int.from_bytes(raw[1:9], "big") == sub_id and
                  int.from_bytes(raw[9:17], "big") == list_id,
                  "token of %s names %r" % (addr, raw[:17].hex()))
    print("ok")


if __name__ == "__main__":
    main()
