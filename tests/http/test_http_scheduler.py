"""`mailer serve` runs the weekly digest scheduler beside the delivery workers.

The server's clock is fixed with MAILER_FAKE_NOW at Monday 2022-01-03 07:05
Asia/Ho_Chi_Minh, five minutes after the default schedule (Monday 07:00).
The list was created a week earlier (its first scheduled digest is the
first occurrence after its creation) and has one confirmed subscriber.
Within a few seconds of the start the scheduler's first tick must create
the digest of 2022-W01 with the articles published in the week before
(not the older one), the delivery thread must send it, and the dir
transport must hold the .eml. /healthz reports the scheduler; SIGTERM
stops it (log line) and the server exits 0. A second start at the same
time creates nothing more.
"""
import email
import email.policy
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import SOURCE, Mailer, check  # noqa: E402

NOW = 1641168300  # Monday 2022-01-03 07:05 +07:00
WEEK = 7 * 86400
LIST = "ban-tin-tuan"
WHO = "doc.gia@example.vn"
ARTICLES = os.path.join(SOURCE, "examples", "articles")


def article_json(m, art_id, title, published):
    path = os.path.join(m.dir, art_id + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"id": art_id, "url": "https://hagiang.gov.vn/" + art_id, "title": title,
                   "category": "Tin tức - Sự kiện", "author": "Ban biên tập",
                   "published_at": published, "summary": "Tóm tắt: " + title,
                   "body_html": "<p>Nội dung " + title + "</p>"}, f, ensure_ascii=False)
    return path


def main():
    with Mailer("http-scheduler", env={"MAILER_FAKE_NOW": str(NOW)}) as m:
        then = {"MAILER_FAKE_NOW": str(NOW - WEEK)}
        m.cli("list", "create", LIST, "--name", "Bản tin tuần", "--optin", "single", env=then)
        m.cli("list", "set", LIST, "--digest-enabled", "yes", env=then)  # a new list's is off
        m.cli("sub", "add", WHO, "--list", LIST, "--name", "Độc Giả", env=then)
        # this week's: the sample article of 2021-12-31 (with photos) and a short one
        m.cli("article", "add", os.path.join(ARTICLES, "ha-giang-tong-ket-thi-dua-2021.json"))
        m.cli("article", "add", article_json(m, "tin-chu-nhat", "Tin Chủ nhật vùng cao",
                                             "2022-01-02T09:30:00+07:00"))
        # an older one (October) is not this week's
        m.cli("article", "add", os.path.join(ARTICLES, "tin-pccc-20211005.json"))
        check(m.sql("SELECT count(*) FROM digests") == [(0,)], "a digest before serve")

        m.start()
        st, _, body = m.request("GET", "/healthz")
        h = json.loads(body)
        check(st == 200 and h["scheduler"] == "running" and h["workers"] == "running",
              "healthz: %s" % body)

        rows = m.wait_for(lambda: m.sql(
            "SELECT d.period, d.articles, d.send_id, s.kind FROM digests d "
            "JOIN sends s ON s.id = d.send_id"), "the scheduler's digest", timeout=10)
        check(rows == [("2022-W01", 2, rows[0][2], "digest")], "digest rows: %s" % rows)
        send_id = rows[0][2]
        env = m.wait_for(lambda: m.sql(
            "SELECT recipient, state FROM envelopes WHERE send_id = ? AND state = 'sent'",
            send_id), "the digest envelope sent", timeout=10)
        check(env == [(WHO, "sent")], "envelopes: %s" % env)
        check(m.sql("SELECT count(*) FROM envelopes WHERE send_id = ?", send_id) == [(1,)],
              "more than one envelope")

        files = m.wait_for(m.eml_files, "the .eml in the dir transport", timeout=5)
        check(len(files) == 1, "eml files: %s" % files)
        with open(files[0], "rb") as f:
            msg = email.message_from_bytes(f.read(), policy=email.policy.default)
        check(WHO in str(msg["To"]), "To: %s" % msg["To"])
        check(str(msg["Subject"]).startswith("Bản tin tuần 1"), "Subject: %s" % msg["Subject"])
        # base_url is http here: no one-click header (RFC 8058 needs https)
        check(msg["List-Unsubscribe-Post"] is None, "one-click header with an http base_url")
        check("/unsubscribe/" in str(msg["List-Unsubscribe"]), "no List-Unsubscribe")
        text = " ".join(msg.get_body(("plain",)).get_content().split())  # lines are wrapped
        with open(os.path.join(ARTICLES, "ha-giang-tong-ket-thi-dua-2021.json"),
                  encoding="utf-8") as f:
            title = json.load(f)["title"]
        with open(os.path.join(ARTICLES, "tin-pccc-20211005.json"), encoding="utf-8") as f:
            old_title = json.load(f)["title"]
        check(" ".join(title.split()) in text and "Tin Chủ nhật vùng cao" in text,
              "this week's articles missing:\n" + text[:2000])
        check(" ".join(old_title.split()) not in text, "an older article is in the digest")
        check("Độc Giả" in text, "the subscriber's name is not in the digest")
        check("digest: scheduler started" in m.log(), "no scheduler start in the log")

        check(m.stop() == 0, "serve did not stop cleanly")
        log = m.log()
        check("digest: scheduler stopped" in log, "the scheduler did not stop:\n" + log[-2000:])
        check(log.index("digest: scheduler stopped") < log.index("serve: delivery workers stopped"),
              "the scheduler must stop before the workers")

        # the same minute again: exactly once per list and period
        m.start()
        st, _, body = m.request("GET", "/healthz")
        check(json.loads(body)["scheduler"] == "running", "healthz after restart: %s" % body)
        m.wait_for(lambda: "digest: scheduler started" in m.log(), "second start")
        time.sleep(1.0)  # its first tick runs right after that line (a tick takes milliseconds)
        check(m.stop() == 0, "second serve did not stop cleanly")
        check(m.sql("SELECT count(*) FROM digests") == [(1,)], "a second digest was created")
        check(m.sql("SELECT count(*) FROM envelopes") == [(1,)], "a second envelope")

    with Mailer("http-scheduler-off", workers=False) as m:
        m.start()
        st, _, body = m.request("GET", "/healthz")
        h = json.loads(body)
        check(st == 200 and h["scheduler"] == "not started" and h["workers"] == "not started",
              "healthz with --no-workers: %s" % body)
        check(m.stop() == 0, "serve --no-workers did not stop cleanly")
        check("digest: scheduler" not in m.log(), "a scheduler ran with --no-workers")
    print("ok")


if __name__ == "__main__":
    main()
