"""`mailer bounce ingest` (stdin, --maildir, --mbox), the policy and undo,
against a database with a digest really sent (dir transport):

  - a hard bounce (VERP token) suppresses the address and marks its
    envelope failed; the same message again (and with LF instead of CRLF)
    changes nothing; undo lifts both, a second undo lifts nothing;
  - a forged or altered VERP token, a forged ENVID: refused, counted,
    nothing changes;
  - soft bounces: counted; three over two sends suppress, three of one
    send do not; a delay notice never counts;
  - a complaint (ARF, attributed by the returned Message-ID): every list
    left and the address suppressed; undo restores both lists;
  - a mailed unsubscribe with a valid token ends that subscription only;
    without one (forged, missing) nothing changes;
  - an unattributable bounce is kept and counted, an auto-reply changes
    nothing; the address alone attributes only within 30 days;
  - a maildir: every message recorded and moved to .Processed / .Unparsed
    (hostile mail there), a second run finds nothing; an mbox: read twice,
    recorded once;
  - `ls`, `show` (raw message kept, capped), exit codes."""
import email
import email.policy
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from blib import DOMAIN, NOW, SECRET, Env, arf, auto_reply, dsn, mailto_token, verp_token  # noqa: E402,F401
from hostile import hostile_messages  # noqa: E402
from mailertest import Checks, message_id  # noqa: E402


def main():
    c = Checks()
    env = Env("intake", bounce={"keep_raw": "2KB"})
    a, b, d, e = "an@example.com", "binh@example.com", "dung@example.com", "em@example.com"
    sent1 = env.digest([a, b, d, e])
    count = lambda: env.q("SELECT count(*) FROM bounces")[0][0]  # noqa: E731

    # ---- hard bounce, duplicate, undo
    msg = dsn(sent1[a], a, "5.1.1", "550 5.1.1 <%s>: Recipient address rejected: User unknown" % a)
    out = env.ingest(msg).stdout.decode()
    c.check("dsn processed" in out and "1 suppressed" in out, "hard bounce reported: %r" % out)
    c.check(env.suppressed(a) == "hard_bounce", "hard bounce suppresses %s" % a)
    st, code, text = env.envelope(sent1[a])
    c.check(st == "failed" and code == 550 and "user_unknown" in text, "envelope failed: %r" % ((st, code, text),))
    bid = env.q("SELECT id FROM bounces ORDER BY id DESC LIMIT 1")[0][0]
    c.check(env.q("SELECT attributed_by, action FROM bounce_recipients WHERE bounce_id = ?", bid)
            == [("verp", "suppressed")], "attributed by VERP, action suppressed")
    n = count()
    out = env.ingest(msg).stdout.decode()
    c.check("seen before" in out and count() == n, "same message again: nothing changes (%r)" % out)
    env.ingest(msg.replace("\r\n", "\n"))
    c.check(count() == n, "LF line ends: the same message")
    out = env.mailer("bounce", "undo", bid).stdout.decode()
    c.check("2 changes lifted" in out, "undo lifts suppression and envelope: %r" % out)
    c.check(env.suppressed(a) is None and env.envelope(sent1[a])[0] == "sent", "undo restores")
    out = env.mailer("bounce", "undo", bid).stdout.decode()
    c.check("0 changes lifted" in out, "second undo lifts nothing: %r" % out)
    env.mailer("bounce", "undo", "99999", code=5)

    # ---- forged VERP token, altered token, forged ENVID
    tok = verp_token(sent1[b])
    forged = tok[:-1] + ("0" if tok[-1] != "0" else "1")
    env.ingest(dsn(sent1[b], b, "5.1.1", "550 5.1.1 unknown", token=forged))
    other = verp_token(sent1[d]).split(".")[1]
    env.ingest(dsn(sent1[b], b, "5.1.1", "550 5.1.1 no such user", token="%d.%s" % (sent1[b], other)))
    c.check(env.suppressed(b) is None, "forged VERP changes nothing")
    c.check(env.q("SELECT count(*) FROM bounces WHERE state = 'refused'")[0][0] == 2,
            "forged tokens refused and counted")
    c.check(env.envelope(sent1[b])[0] == "sent", "forged VERP leaves the envelope")
    # a message without VERP but a forged ENVID
    m = dsn(sent1[b], b, "5.1.1", "550 5.1.1 gone", token=forged).replace(
        "Delivered-To: bounces+%s@%s\r\n" % (forged, DOMAIN), "").replace(
        "To: bounces+%s@%s" % (forged, DOMAIN), "To: bounces@" + DOMAIN)
    env.ingest(m)
    c.check(env.suppressed(b) is None and env.q("SELECT count(*) FROM bounces WHERE state = 'refused'")[0][0] == 3,
            "forged ENVID refused")
    # a forged VERP token and nothing else that names the envelope: refused,
    # never attributed by the recipient's address instead
    env.ingest(dsn(sent1[b], b, "5.1.1", "550 5.1.1 unknown user", token=forged, envid=False))
    c.check(env.suppressed(b) is None and env.q("SELECT count(*) FROM bounces WHERE state = 'refused'")[0][0] == 4,
            "forged VERP without an ENVID refused, not matched by address")
    metrics_refused = env.q("SELECT note FROM bounces WHERE state = 'refused'")
    c.check(all("forged" in r[0] for r in metrics_refused), "refusals say why: %r" % metrics_refused)

    # ---- soft bounces: 3 of one send do not suppress; over two sends they do
    for i in range(3):
        env.ingest(dsn(sent1[b], b, "4.2.2", "452 4.2.2 mailbox full %d" % i))
    c.check(env.suppressed(b) is None, "three soft bounces of one send do not suppress")
    c.check(env.q("SELECT count(*) FROM bounce_recipients WHERE action = 'counted'")[0][0] == 3, "counted")
    env.ingest(dsn(sent1[d], d, "4.4.1", "connection timed out", action="delayed"))
    c.check(env.q("SELECT action FROM bounce_recipients ORDER BY id DESC LIMIT 1")[0][0] == "none",
            "a delay notice is not counted")
    sent2 = env.digest([], now=NOW + 7 * 86400)
    env.ingest(dsn(sent2[b], b, "4.2.2", "452 4.2.2 mailbox full again"), now=NOW + 7 * 86400)
    c.check(env.suppressed(b) == "hard_bounce", "4 soft bounces over 2 sends suppress")
    c.check("soft bounces over 2 sends" in env.q("SELECT detail FROM suppressions WHERE email_key = ?", b)[0][0],
            "suppression says why")

    # ---- complaint: attributed by the returned Message-ID; two lists left
    env.digest([d], slug="su-kien")
    env.mailer("list", "show", "su-kien")
    salt = env.q("SELECT s.salt FROM sends s JOIN envelopes e ON e.send_id = s.id WHERE e.id = ?", sent1[d])[0][0]
    msgid = message_id(SECRET, salt, sent1[d], DOMAIN)
    env.ingest(arf(d, message_id=msgid), "--role", "complaints")
    c.check(env.suppressed(d) == "complaint", "complaint suppresses")
    c.check(env.subscription(d) == "unsubscribed" and env.subscription(d, "su-kien") == "unsubscribed",
            "complaint leaves every list")
    cid = env.q("SELECT id FROM bounces ORDER BY id DESC LIMIT 1")[0][0]
    c.check(env.q("SELECT attributed_by, action FROM bounce_recipients WHERE bounce_id = ?", cid) ==
            [("message_id", "unsubscribed")], "attributed by Message-ID")
    env.mailer("bounce", "undo", cid)
    c.check(env.suppressed(d) is None and env.subscription(d) == "confirmed" and
            env.subscription(d, "su-kien") == "confirmed", "undo restores both lists")
    # an altered Message-ID attributes nothing by itself: the address still finds the envelope
    # (it names the envelope under [mail] secret but its tag is not of that envelope's send)
    env.ingest(arf(d, message_id=message_id(SECRET, "not-the-send-salt", sent1[d], DOMAIN)),
               "--role", "complaints")
    c.check(env.q("SELECT attributed_by FROM bounce_recipients ORDER BY id DESC LIMIT 1")[0][0] == "recipient",
            "altered Message-ID: attributed by address instead")

    # ---- attribution by address only within attribution_days (30)
    for days, want in ((29, "recipient"), (38, None)):  # d had mail at +0 and +7 days
        m = dsn(sent1[d], d, "4.4.1", "timed out after %d days" % days, action="delayed",
                envid=False).replace("bounces+" + verp_token(sent1[d]), "bounces")
        env.ingest(m, now=NOW + days * 86400)
        r = env.q("SELECT attributed_by FROM bounce_recipients ORDER BY id DESC LIMIT 1")[0][0]
        c.check(r == want, "address match after %d days: %r, want %r" % (days, r, want))

    # ---- mailed unsubscribe
    sid, lid = env.ids(e)
    addr = "unsubscribe+%s@%s" % (mailto_token(sid, lid), DOMAIN)
    # the address is the one the delivered digest carries in List-Unsubscribe
    heads = []
    for name in os.listdir(env.outdir):
        with open(os.path.join(env.outdir, name), "rb") as f:
            sent = email.message_from_bytes(f.read(), policy=email.policy.default)
        if e in str(sent["To"]):
            heads.append(str(sent["List-Unsubscribe"]))
    c.check(heads and all("<mailto:%s?subject=unsubscribe>" % addr in h for h in heads),
            "the digest's List-Unsubscribe carries the signed mailto: %r" % heads[:1])
    mail = "From: %s\r\nTo: %s\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n" % (e, addr)
    env.ingest(mail, "--role", "unsubscribe", "--recipient", addr.upper())
    c.check(env.subscription(e) == "unsubscribed", "mailed unsubscribe with a valid token (any case)")
    c.check(env.suppressed(e) is None, "a mailed unsubscribe is not a suppression")
    sid_b, lid_b = env.ids(b, "tin-tuc")
    bad = "unsubscribe+%d.%d.%s@%s" % (sid_b, lid_b, "ab" * 10, DOMAIN)
    env.ingest("From: x@y.example\r\nTo: %s\r\nSubject: unsubscribe\r\n\r\nx\r\n" % bad, "--role", "unsubscribe")
    env.ingest("From: x@y.example\r\nTo: unsubscribe@%s\r\nSubject: unsubscribe me\r\n\r\nplease\r\n" % DOMAIN,
               "--role", "unsubscribe")
    c.check(env.subscription(b) == "confirmed", "no valid token: nothing changes")
    c.check(env.q("SELECT kind, state FROM bounces ORDER BY id DESC LIMIT 3") ==
            [("unsubscribe", "refused"), ("unsubscribe", "refused"), ("unsubscribe", "processed")],
            "forged token and no token refused, the valid one processed")

    # ---- unattributable, auto-reply
    env.ingest(dsn(999999, "nobody@nowhere.example", "5.1.1", "550 user unknown", envid=False).replace(
        "bounces+" + verp_token(999999), "bounces"))
    r = env.q("SELECT envelope_id, class FROM bounce_recipients ORDER BY id DESC LIMIT 1")[0]
    c.check(r == (None, "hard"), "unattributable kept, not guessed: %r" % (r,))
    env.ingest(auto_reply(e, "bounces+%s@%s" % (verp_token(sent1[e]), DOMAIN)))
    r = env.q("SELECT b.kind, r.class, r.action FROM bounces b JOIN bounce_recipients r ON r.bounce_id = b.id "
              "ORDER BY r.id DESC LIMIT 1")[0]
    c.check(r == ("auto-reply", "auto-reply", "none"), "auto-reply recorded, nothing done: %r" % (r,))

    # ---- maildir with hostile mail; mbox twice
    md = os.path.join(env.dir, "Maildir")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, sub))
    hostile = list(hostile_messages())
    for i, (name, data, why) in enumerate(hostile):
        with open(os.path.join(md, "new", "%02d.%s" % (i, name)), "wb") as f:
            f.write(data)
    with open(os.path.join(md, "cur", "zz.dsn:2,S"), "w") as f:
        f.write(dsn(sent1[e], e, "5.1.1", "550 5.1.1 user unknown", crlf=False))
    out = env.mailer("bounce", "ingest", "--maildir", md).stdout.decode()
    c.check("%d messages: 1 processed, %d unparsed" % (len(hostile) + 1, len(hostile)) in out,
            "maildir counts: %r" % out)
    c.check(sorted(os.listdir(os.path.join(md, ".Unparsed", "cur"))) ==
            sorted("%02d.%s:2,S" % (i, n) for i, (n, _, _) in enumerate(hostile)), "hostile mail in .Unparsed")
    c.check(os.listdir(os.path.join(md, ".Processed", "cur")) == ["zz.dsn:2,S"], "the DSN in .Processed")
    c.check(os.listdir(os.path.join(md, "new")) == [] and os.listdir(os.path.join(md, "cur")) == [], "inbox emptied")
    c.check(env.suppressed(e) == "hard_bounce", "maildir DSN applied")
    notes = [r[0] for r in env.q("SELECT note FROM bounces WHERE state = 'unparsed'")]
    for name, _, why in hostile:
        c.check(any(why in n for n in notes), "hostile %s unparsed with its reason" % name)
    out = env.mailer("bounce", "ingest", "--maildir", md).stdout.decode()
    c.check("0 messages" in out, "second maildir run finds nothing: %r" % out)
    mbox = os.path.join(env.dir, "bounces.mbox")
    with open(mbox, "w") as f:
        f.write("From MAILER-DAEMON Mon Jan  3 08:00:00 2022\n" + dsn(sent2[b], b, "5.2.2", "552 full", crlf=False) +
                "\nFrom MAILER-DAEMON Mon Jan  3 08:00:01 2022\n>From the desk of\n" +
                auto_reply("x@y.example", "bounces@" + DOMAIN, "Automatic reply: hi") + "\n")
    out1 = env.mailer("bounce", "ingest", "--mbox", mbox).stdout.decode()
    out2 = env.mailer("bounce", "ingest", "--mbox", mbox).stdout.decode()
    c.check("2 messages: 2 processed" in out1 and "2 seen before" in out2, "mbox: %r / %r" % (out1, out2))

    # ---- ls, show
    out = env.mailer("bounce", "ls", "--match", "hard").stdout.decode()
    c.check(e in out and "suppressed" in out, "ls --match hard: %r" % out[:500])
    out = env.mailer("bounce", "ls", "--state", "refused", "--json").stdout.decode()
    import json
    c.check(len(json.loads(out)) == 6, "ls --state refused --json")
    raw = env.mailer("bounce", "show", bid, "--raw").stdout
    c.check(raw == msg.encode()[:2048], "show --raw: the message cut at keep_raw (2 KB): %d bytes" % len(raw))
    o = json.loads(env.mailer("bounce", "show", bid).stdout)
    c.check(o["state"] == "processed" and o["undone_at"] and len(o["effects"]) == 2 and
            all(x["undone_at"] for x in o["effects"]), "show: effects undone")
    env.mailer("bounce", "show", "123456", code=5)
    env.ingest(b"x", "--role", "nope", code=1)
    if c.failures:
        sys.exit(1)
    print("ok")


main()
