#!/usr/bin/python3
"""DKIM signatures and the bulk-sender rules on messages as delivered.

A share, a weekly digest and a subscription confirmation go through the real
delivery (`mailer share` / `digest send` / `sub add` + `deliver --once`) to
the test SMTP server (tests/smtpd), with an RSA and an Ed25519 key. The bytes
the server received are then checked:

  python3 test_delivered.py dkimpy     dkimpy verifies both signatures of
      each message, also after a relay adds Return-Path and Received; a
      changed signed header, a changed body byte, or a second From makes
      it fail. Then every rule of issue 11 is read back from the delivered
      header: d= is the From domain and h= over-signs From and covers the
      List-Unsubscribe fields; a From per kind; one-click only with https;
      Auto-Submitted on the confirmation only; the EHLO name; encoded words
      cut between words, 76-character lines; UTF-8 photo file names.
  python3 test_delivered.py opendkim   the same verdicts from OpenDKIM's
      opendkim-testmsg, each signature alone (exit 77 when it cannot run
      here: it needs a private mount namespace for its resolv.conf).
"""
import email
import email.policy
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mailertest import (SRC, Checks, CliEnv, SmtpServer, dkim_record,  # noqa: E402
                        dkim_verify_dkimpy, dkim_verify_opendkim, opendkim_can_run, write_ini)

DOMAIN = "hagiang.example"
FROMS = {"share": "chia-se@" + DOMAIN, "digest": "ban-tin@" + DOMAIN,
         "confirm": "xac-nhan@" + DOMAIN}
RCPT = {"share": "dong.nghiep@example.vn", "digest": "an@example.com",
        "confirm": "ban.doc@example.net"}
LONG_NAME = "Sở Thông tin và Truyền thông tỉnh Hà Giang gửi bạn đọc của Cổng thông tin"
_c = Checks()
check = _c.check


class Env(CliEnv):
    def __init__(self, port, mode):
        super().__init__("dkim-delivered-" + mode, transport="smtp://127.0.0.1:%d" % port)
        self.keys = os.path.join(self.dir, "dkim")
        write_ini(self.config, [
            ("site", {"base_url": "https://tin.hagiang.example"}),
            ("database", {"path": self.db_path}),
            ("mail", {"from_address": "tin-tuc@" + DOMAIN, "digest_from": FROMS["digest"],
                      "confirm_from": FROMS["confirm"], "share_from": FROMS["share"],
                      "secret": "delivered-secret-0123456789"}),
            ("delivery", self.delivery),
            ("smtp", {"tls": "none", "helo": "mail.hagiang.example",
                      "command_timeout_ms": "10000"}),
            ("dkim", {"selector": "s2026", "ed25519_selector": "e2026", "keys_dir": self.keys}),
            ("templates", {"dir": os.path.join(SRC, "templates")}),
        ])


def deliver_all(store, mode):
    """Delivers one message of each kind, each refused once after its data
    (451) and delivered on the retry; returns ({kind: bytes delivered},
    records, {kind: server meta}, {kind: bytes of the refused attempt})."""
    with SmtpServer(store, "--data-451-once", "*") as srv:
        env = Env(srv.port, mode)
        env.mailer("dkim", "keygen", "--domain", DOMAIN, "--selector", "s2026")
        env.mailer("dkim", "keygen", "--domain", DOMAIN, "--selector", "e2026",
                   "--algorithm", "ed25519")
        records = {"s2026._domainkey." + DOMAIN: dkim_record(env, DOMAIN, "s2026"),
                   "e2026._domainkey." + DOMAIN: dkim_record(env, DOMAIN, "e2026")}
        env.mailer("init")
        arts = os.path.join(SRC, "examples", "articles")
        env.mailer("article", "add", os.path.join(arts, "ha-giang-tong-ket-thi-dua-2021.json"),
                   os.path.join(arts, "tin-pccc-20211005.json"))
        env.mailer("list", "create", "tin-tuc", "--name", "Tin tức Hà Giang", "--optin", "double")
        env.mailer("sub", "add", RCPT["confirm"], "--list", "tin-tuc", "--name", LONG_NAME)
        env.mailer("sub", "add", RCPT["digest"], "--list", "tin-tuc", "--name", "Nguyễn Thị An",
                   "--confirmed")
        env.mailer("share", "ha-giang-tong-ket-thi-dua-2021", "--to", RCPT["share"],
                   "--from-name", LONG_NAME, "--from-email", "hoa@example.vn",
                   "--note", "Chị xem nhé")
        out = env.mailer("deliver", "--once", code=None).stdout
        check(out == b"sent 0, deferred 2, failed 0\n", "first attempt: %r" % out)
        env.mailer("digest", "send", "--list", "tin-tuc", "--since", "2000-01-01", code=None)
        # the retry: the same envelopes rendered and signed again
        env.mailer("queue", "retry", "--all-deferred")
        out = env.mailer("deliver", "--once", code=None).stdout
        check(out == b"sent 3, deferred 0, failed 0\n", "retry: %r" % out)
        got, refused = {}, {}
        for into, msgs in ((got, srv.messages()), (refused, srv.messages("refused-"))):
            for m in msgs:
                for kind, rcpt in RCPT.items():
                    if m["rcpt_tos"] == [rcpt]:
                        into.setdefault(kind, []).append(m)
    for kind in RCPT:
        check(len(got.get(kind, [])) == 1 and len(refused.get(kind, [])) == 1,
              "%s: %d messages delivered, %d refused, want 1 and 1" % (
                  kind, len(got.get(kind, [])), len(refused.get(kind, []))))
    return ({k: v[0]["data"] for k, v in got.items()}, records, {k: v[0] for k, v in got.items()},
            {k: v[0]["data"] for k, v in refused.items()})


def check_retry(msgs, refused, records):
    """The refused first attempt and the retry: both verify, one Message-ID,
    one body hash (the same bytes re-signed), each with its own signature."""
    for kind, data in msgs.items():
        if kind not in refused:
            continue
        first = refused[kind]
        v = dkim_verify_dkimpy(first, records)
        check(v == [("ed25519-sha256", True), ("rsa-sha256", True)],
              "%s: dkimpy on the refused first attempt: %s" % (kind, v))
        a = email.message_from_bytes(first)
        b = email.message_from_bytes(data)
        check(a["Message-ID"] == b["Message-ID"], "%s: the retry's Message-ID changed: %s, %s"
              % (kind, a["Message-ID"], b["Message-ID"]))
        bh = [[tags(b"x:" + f.encode())["bh"] for f in m.get_all("DKIM-Signature")]
              for m in (a, b)]
        check(bh[0] == bh[1], "%s: the retry's body hash changed: %s" % (kind, bh))
        check(first.split(b"\r\n\r\n", 1)[1] == data.split(b"\r\n\r\n", 1)[1],
              "%s: the retry's body bytes changed" % kind)


def only_signature(data, algo):
    """The message with only the DKIM-Signature field of `algo` (a= value)."""
    head, body = data.split(b"\r\n\r\n", 1)
    fields = re.split(rb"\r\n(?![ \t])", head)
    keep = [f for f in fields if not f.lower().startswith(b"dkim-signature:") or
            (b"a=" + algo.encode() + b";") in f]
    return b"\r\n".join(keep) + b"\r\n\r\n" + body


def relayed(data):
    return (b"Return-Path: <bounces+1.abc@hagiang.example>\r\n"
            b"Received: from mail.hagiang.example (mail.hagiang.example [192.0.2.25])\r\n"
            b"\tby mx.example.net with ESMTPS id 4XyZ; Sun, 6 Dec 2026 11:02:03 +0700\r\n" + data)


def tampered(data):
    """(what, message) pairs that must fail verification."""
    head, body = data.split(b"\r\n\r\n", 1)
    subj = re.search(rb"\r\nSubject: ([^\r]*)", head)
    changed_subject = head[:subj.start(1)] + b"=?UTF-8?Q?Tin_gi=E1=BA=A3?=" + head[subj.end(1):]
    i = len(body) // 2
    while body[i:i + 1] in (b"\r", b"\n", b" ", b"="):
        i += 1
    flipped = body[:i] + (b"A" if body[i:i + 1] != b"A" else b"B") + body[i + 1:]
    return [("a changed Subject", changed_subject + b"\r\n\r\n" + body),
            ("a changed body byte", head + b"\r\n\r\n" + flipped),
            ("a second From", b"From: Ke gian <admin@hagiang.example>\r\n" + data)]


def check_dkimpy(msgs, records):
    for kind, data in msgs.items():
        v = dkim_verify_dkimpy(data, records)
        check(v == [("ed25519-sha256", True), ("rsa-sha256", True)],
              "%s: dkimpy on the delivered bytes: %s" % (kind, v))
        v = dkim_verify_dkimpy(relayed(data), records)
        check(v == [("ed25519-sha256", True), ("rsa-sha256", True)],
              "%s: dkimpy after a relay added Return-Path and Received: %s" % (kind, v))
        for what, bad in tampered(data):
            try:
                v = dkim_verify_dkimpy(bad, records)
            except Exception as e:  # dkimpy refuses some forms outright: a failure too
                v = [("refused: %s" % e, False)]
            check(v and not any(ok for _, ok in v), "%s: %s still verifies: %s" % (kind, what, v))


def check_opendkim(msgs, records):
    for kind, data in msgs.items():
        for algo in ("rsa-sha256", "ed25519-sha256"):
            one = only_signature(data, algo)
            check(one.count(b"DKIM-Signature:") == 1, "%s: one %s signature" % (kind, algo))
            rc, err = dkim_verify_opendkim(one, records)
            check(rc == 0, "%s %s: opendkim-testmsg: %d %s" % (kind, algo, rc, err))
            rc, err = dkim_verify_opendkim(relayed(one), records)
            check(rc == 0, "%s %s relayed: opendkim-testmsg: %d %s" % (kind, algo, rc, err))
            for what, bad in tampered(one):
                rc, err = dkim_verify_opendkim(bad, records)
                check(rc != 0, "%s %s: %s still verifies for OpenDKIM" % (kind, algo, what))


def tags(field):
    v = re.sub(rb"\s+", b"", field.split(b":", 1)[1]).decode()
    return dict(t.split("=", 1) for t in v.split(";") if t)


def check_rules(msgs, meta):
    for kind, data in msgs.items():
        head = data.split(b"\r\n\r\n", 1)[0]
        fields = re.split(rb"\r\n(?![ \t])", head)
        msg = email.message_from_bytes(data, policy=email.policy.default)
        sigs = [tags(f) for f in fields if f.lower().startswith(b"dkim-signature:")]
        check([s["a"] for s in sigs] == ["ed25519-sha256", "rsa-sha256"], kind + ": two signatures")
        frm = msg["From"].addresses[0].addr_spec
        check(frm == FROMS[kind], "%s: From %s, want %s" % (kind, frm, FROMS[kind]))
        for s in sigs:
            h = s["h"].lower().split(":")
            check(s["d"] == frm.split("@")[1], "%s: d=%s is the From domain" % (kind, s["d"]))
            check(s["c"] == "relaxed/relaxed", kind + ": relaxed/relaxed")
            check(h.count("from") == 2, "%s: From over-signed: %s" % (kind, h))
            for name in ("to", "subject", "date", "message-id", "mime-version", "content-type"):
                check(name in h, "%s: %s signed" % (kind, name))
            for name in ("list-unsubscribe", "list-unsubscribe-post", "list-id", "reply-to",
                         "feedback-id"):
                if msg[name] is not None:
                    check(h.count(name) >= 2, "%s: %s signed and over-signed" % (kind, name))
        # one-click only with https, list mail only
        if kind == "digest":
            check(msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click",
                  "digest: one-click")
            check(re.search(r"<https://tin\.hagiang\.example/unsubscribe/[^>]+>",
                            msg["List-Unsubscribe"] or ""), "digest: https List-Unsubscribe")
        else:
            check(msg["List-Unsubscribe-Post"] is None, kind + ": no one-click header")
        # Feedback-ID: send:list:kind:sender, the send's own id, signed (above)
        fb = re.fullmatch(r"([1-9][0-9]*):([a-z0-9-]+):([a-z]+):hagiang\.example",
                          msg["Feedback-ID"] or "")
        check(fb and fb.group(2) == ("none" if kind == "share" else "tin-tuc") and
              fb.group(3) == kind, "%s: Feedback-ID %r" % (kind, msg["Feedback-ID"]))
        check(any(s["h"].lower().split(":").count("feedback-id") == 2 for s in sigs),
              kind + ": Feedback-ID signed")
        # a Message-ID that reveals no internal id: 32 hex digits on the From domain
        check(re.fullmatch(r"<[0-9a-f]{32}@hagiang\.example>", msg["Message-ID"] or ""),
              "%s: Message-ID %r shows more than 32 hex digits" % (kind, msg["Message-ID"]))
        # Auto-Submitted (RFC 3834) on the confirmation only
        check((msg["Auto-Submitted"] == "auto-generated") == (kind == "confirm"),
              "%s: Auto-Submitted %r" % (kind, msg["Auto-Submitted"]))
        # EHLO as configured
        check(meta[kind]["helo"] == "mail.hagiang.example", "%s: EHLO %r" % (kind,
                                                                           meta[kind]["helo"]))
        # lines: <= 76 with an encoded word, <= 78 otherwise (the signature too)
        for line in head.split(b"\r\n"):
            if b"=?" in line:
                check(len(line) <= 76, "%s: encoded-word line of %d: %r" % (kind, len(line), line))
            elif not line.startswith((b"List-Unsubscribe:", b" <")):
                check(len(line) <= 78, "%s: header line of %d: %r" % (kind, len(line), line))
    # names cut only between words (Python keeps the space between encoded words)
    for kind, field in (("share", "Reply-To"), ("confirm", "To")):
        msg = email.message_from_bytes(msgs[kind], policy=email.policy.default)
        shown = msg[field].addresses[0].display_name
        check(not shown or shown.split() == LONG_NAME.split(),
              "%s: %s name words intact: %r" % (kind, field, shown))
    # photo file names in UTF-8 (RFC 2231) where the article has them
    msg = email.message_from_bytes(msgs["share"], policy=email.policy.default)
    names = [p.get_filename() for p in msg.walk() if p.get_content_maintype() == "image"]
    check(names and all(n and "_nh" not in n for n in names), "share: file names %s" % names)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "dkimpy"
    if mode == "opendkim":
        why = opendkim_can_run()
        if why:
            print("SKIP: " + why)
            sys.exit(77)
    t0 = time.time()
    store = os.path.join(CliEnv("dkim-delivered-smtp-" + mode).dir, "smtp")
    msgs, records, meta, refused = deliver_all(store, mode)
    if len(msgs) == 3:
        if mode == "opendkim":
            check_opendkim(msgs, records)
        else:
            check_dkimpy(msgs, records)
            check_retry(msgs, refused, records)
            check_rules(msgs, meta)
    if _c.failures:
        sys.exit("%d check(s) failed" % len(_c.failures))
    print("delivered (%s): all checks passed in %.1f s" % (mode, time.time() - t0))


if __name__ == "__main__":
    main()
