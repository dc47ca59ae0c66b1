"""A digest's preview is the delivered message: the same bytes but for the
Date header.

Message-ID, List-Id, List-Unsubscribe (URL and mailto), the greeting's
name, the visible unsubscribe link and the MIME boundaries are a
recipient's personal parts, made by one function (compose_personal) for
delivery and for the preview, and the boundaries derive from the
Message-ID. So `mailer digest preview --digest ID --to ADDR` written before
delivery must equal, byte for byte once the Date line is set aside, what
the test SMTP server received for ADDR: for each of three subscribers (a
Vietnamese name, one with quotes and angle brackets), with the six sample
articles and their photos. A preview for an address that is not a
recipient is refused (exit 5).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digestlib import PEOPLE, Env, SmtpServer, check, fresh_store, received_by_rcpt  # noqa: E402


def without_date(data):
    """The message with its Date header line removed (one line: RFC 5322 date-time)."""
    out, n = re.subn(rb"(^|\r\n)Date: [^\r\n]*\r\n", rb"\1", data, count=1)
    check(n == 1, "no Date header in %r" % data[:300])
    return out


def main():
    store = fresh_store("preview-delivered")
    with SmtpServer(store) as srv:
        env = Env("preview-delivered", transport="smtp://127.0.0.1:%d" % srv.port)
        did, _ = env.enqueue_sample_digest(PEOPLE)
        previews = {}
        for addr, _ in PEOPLE:
            path = os.path.join(env.dir, addr + ".eml")
            env.mailer("digest", "preview", "--digest", did, "--to", addr, "-o", path)
            with open(path, "rb") as f:
                previews[addr] = f.read()
        env.mailer("digest", "preview", "--digest", did, "--to", "nobody@example.com", code=5)

        env.mailer("deliver", "--once")
        got = received_by_rcpt(srv)
        check(sorted(got) == sorted(a for a, _ in PEOPLE), "received for %r" % sorted(got))
        for addr, _ in PEOPLE:
            check(len(got[addr]) == 1, "%s got %d messages" % (addr, len(got[addr])))
            delivered = got[addr][0]["data"]
            check(b"Content-Type: image/" in delivered, "no photo part for %s" % addr)
            p, d = without_date(previews[addr]), without_date(delivered)
            if p != d:
                pl, dl = p.split(b"\r\n"), d.split(b"\r\n")
                first = next((i for i, (a, b) in enumerate(zip(pl, dl)) if a != b),
                             min(len(pl), len(dl)))
                check(False, "%s: the preview differs from the delivered message at line %d:"
                      "\n  preview:   %r\n  delivered: %r" % (
                          addr, first + 1, pl[first] if first < len(pl) else b"(end)",
                          dl[first] if first < len(dl) else b"(end)"))
    print("ok: %d previews equal the delivered messages but for Date" % len(PEOPLE))


if __name__ == "__main__":
    main()
