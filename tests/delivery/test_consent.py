"""An address that was blocked and then erased is never claimed, whichever
path queued mail for it (issue 14: one key, one check).

"May we mail this person" is subscribers' question, asked by the claim
right before an envelope is handed to a worker, with one key: the hash of
the lower-cased address, all an erased person's suppression keeps. The
person is a confirmed subscriber of a weekly list and gets mail queued by
every path: a reader's share, the list's digest, and the confirmation of a
second (double opt-in) list their address was imported into. They are then
blocked (`sub import --mode blocklist`) and erased (`sub erase`), which
cancels and anonymises those envelopes. The test then puts them back to
queued with the address, as a path that forgot its own check, or a race
with the erase, would leave them, and runs `mailer deliver --once` against
the test SMTP server: nothing reaches the server for that address, and each
envelope ends cancelled with the claim's reason. A second person on the
same paths, neither blocked nor erased, gets all three messages.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dlib import ARTICLE, Env, SmtpServer, build_dir, check  # noqa: E402

GONE = "Nguyen.Van.An@Example.VN"
STAYS = "tran.binh@example.vn"


def main():
    store = os.path.join(build_dir(), "testtmp", "delivery-consent-smtpd")
    shutil.rmtree(store, ignore_errors=True)  # a run before this one left its messages
    with SmtpServer(store) as srv:
        env = Env("consent", transport="smtp://127.0.0.1:%d" % srv.port)
        env.add_article()
        env.mailer("list", "create", "tin-tuc", "--name", "Tin tức", "--optin", "single")
        env.mailer("list", "create", "thong-bao", "--name", "Thông báo", "--optin", "double")
        csv = os.path.join(env.dir, "people.csv")
        with open(csv, "w") as f:
            f.write("email,name\n%s,An\n%s,Bình\n" % (GONE, STAYS))
        # every path: the digest of tin-tuc, a share, the import's confirmation
        for who in (GONE, STAYS):
            env.mailer("sub", "add", who, "--list", "tin-tuc", "--confirmed")
            env.mailer("share", ARTICLE, "--to", who, "--from-email", "ban.doc@example.vn",
                       "--from-name", "Bạn đọc")
        env.mailer("sub", "import", csv, "--list", "thong-bao", "--mode", "unconfirmed")
        env.mailer("digest", "send", "--list", "tin-tuc", "--since", "2021-01-01",
                   "--enqueue-only")
        kinds = env.q("SELECT s.kind FROM envelopes e JOIN sends s ON s.id = e.send_id "
                      "WHERE lower(e.recipient) = lower(?) ORDER BY s.kind", GONE)
        check([k for (k,) in kinds] == ["confirm", "digest", "share"],
              "queued for the person by: %r" % kinds)
        ids = [i for (i,) in env.q("SELECT id FROM envelopes WHERE lower(recipient) = lower(?)",
                                   GONE)]

        # blocked, then erased: only the hash of the address stays
        block = os.path.join(env.dir, "block.csv")
        with open(block, "w") as f:
            f.write("email\n%s\n" % GONE)
        env.mailer("sub", "import", block, "--mode", "blocklist")
        env.mailer("sub", "erase", GONE)
        check(env.q("SELECT count(*) FROM suppressions WHERE email_key IS NULL") == [(1,)],
              "the erase did not keep a hashed suppression")
        # the queue as a path that skipped its own check would leave it
        for i in ids:
            env.x("UPDATE envelopes SET state = 'queued', recipient = ?, last_text = NULL "
                  "WHERE id = ?", GONE, i)
            env.x("UPDATE sends SET status = 'active', finished_at = NULL "
                  "WHERE id = (SELECT send_id FROM envelopes WHERE id = ?)", i)

        env.mailer("deliver", "--once")
        got = {}
        for m in srv.messages():
            for r in m["rcpt_tos"]:
                got.setdefault(r.lower(), []).append(m)
        check(GONE.lower() not in got, "the blocked and erased person was mailed %d time(s)" % (
            len(got.get(GONE.lower(), []))))
        check(len(got.get(STAYS, [])) == 3, "the other person got %d of 3 messages" % (
            len(got.get(STAYS, []))))
        rows = env.q("SELECT state, attempts, last_text FROM envelopes WHERE id IN (%s)" %
                     ",".join(str(i) for i in ids))
        check(all(r == ("cancelled", 0, "address is on the suppression list") for r in rows),
              "the person's envelopes: %r" % rows)
    print("ok: a blocked and erased address queued by share, digest and confirmation was "
          "never claimed")


if __name__ == "__main__":
    main()
