#!/usr/bin/python3
"""bench/admin/gen.py DB [SUBSCRIBERS] [SENDS]: fills a database made by
`mailer init` with SUBSCRIBERS (default 1,000,000) subscribers on one list
(a third of them on a second list, 1 in 20 unsubscribed, 1 in 17
unconfirmed), SENDS (default 5) finished digests with one envelope per
subscriber each (5,000,000 envelopes; 1 in 1,000 failed), 100,000 shares of
articles and 200 suppressions, written with SQL in large transactions.

The maintained counters that the mailer writes as it inserts (per send, per
list, per day) are filled once at the end from counts, and the names are
put into the search index up to the last id, as `mailer serve` does in the
background (subs_search_index): the pages then read what they read in
production."""
import random
import sqlite3
import sys
import time

db_path = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
SENDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
random.seed(13)
FAM = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
       "Hồ", "Ngô", "Dương", "Lý", "Giàng", "Sùng", "Vàng", "Lò"]
MID = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quang", "A", "Mí"]
GIV = ["An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Lan", "Linh",
       "Long", "Mai", "Nam", "Phong", "Phương", "Quân", "Sơn", "Thảo", "Trang", "Tuấn", "Vy", "Yến",
       "Chớ", "Dình", "Pà", "Súa"]
DOMS = ["gmail.com", "yahoo.com", "hagiang.gov.vn", "outlook.com", "vnn.vn", "fpt.vn", "viettel.vn"]
NOW = int(time.time())

db = sqlite3.connect(db_path, isolation_level=None)
db.execute("PRAGMA synchronous=OFF")
db.execute("PRAGMA cache_size=-200000")
t0 = time.time()
db.execute("BEGIN")
db.execute("INSERT INTO lists(id, slug, name, created_at, updated_at) VALUES "
           "(1, 'ban-tin', 'Bản tin Hà Giang', ?1, ?1), (2, 'tin-nong', 'Tin nóng', ?1, ?1)", (NOW,))


def people():
    for i in range(1, N + 1):
        e = "%s.%s%d@%s" % (random.choice(["an", "hoa", "lan", "nam", "binh", "minh"]),
                            random.choice(["nguyen", "tran", "le", "pham", "vu"]), i,
                            random.choice(DOMS))
        yield (i, e, e, e, "%s %s %s" % (random.choice(FAM), random.choice(MID), random.choice(GIV)),
               NOW - N + i, NOW - N + i)


db.executemany("INSERT INTO subscribers(id, email, email_ascii, email_key, name, created_at, "
               "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", people())
db.execute("INSERT INTO subscriptions(list_id, subscriber_id, status, optin_at, optin_ip, "
           "created_at, updated_at) SELECT 1, id, CASE WHEN id % 20 = 0 THEN 'unsubscribed' "
           "WHEN id % 17 = 0 THEN 'unconfirmed' ELSE 'confirmed' END, created_at, '203.0.113.9', "
           "created_at, created_at FROM subscribers")
db.execute("INSERT INTO subscriptions(list_id, subscriber_id, status, created_at, updated_at) "
           "SELECT 2, id, 'confirmed', created_at, created_at FROM subscribers WHERE id % 3 = 0")
db.execute("COMMIT")
print("subscribers: %.1f s" % (time.time() - t0), flush=True)
for s in range(1, SENDS + 1):
    at = NOW - (SENDS - s + 1) * 7 * 86400
    db.execute("BEGIN")
    db.execute("INSERT INTO sends(id, kind, status, list_id, plan, salt, created_at, finished_at) "
               "VALUES (?, 'digest', 'done', 1, '{}', 'salt', ?, ?)", (s, at, at + 3600))
    db.execute("INSERT INTO envelopes(send_id, subscriber_id, recipient, name, state, attempts, "
               "next_attempt_at, created_at, updated_at, sent_at, last_code, last_text) "
               "SELECT ?1, id, email_ascii, name, CASE WHEN id % 1000 = 0 THEN 'failed' ELSE "
               "'sent' END, 1, ?2, ?2, ?2, ?2, CASE WHEN id % 1000 = 0 THEN 550 ELSE 250 END, "
               "CASE WHEN id % 1000 = 0 THEN '550 5.1.1 user unknown' ELSE '250 2.0.0 ok' END "
               "FROM subscribers", (s, at))
    db.execute("COMMIT")
    print("send %d: %.1f s" % (s, time.time() - t0), flush=True)
db.execute("BEGIN")
arts = [r[0] for r in db.execute("SELECT id FROM articles")] or ["tin-mau"]
db.executemany("INSERT INTO share_log(article_id, sender_email, sender_name, client_ip, "
               "recipients, created_at) VALUES (?, ?, ?, ?, ?, ?)",
               ((random.choice(arts), "nguoi.gui%d@gmail.com" % (i % 5000), "Người gửi",
                 "203.0.113.%d" % (i % 250), 1 + i % 5, NOW - random.randrange(30 * 86400))
                for i in range(100000)))
db.executemany("INSERT INTO suppressions(email_hash, email_key, reason, created_at) VALUES "
               "(hex(randomblob(32)), ?, 'hard_bounce', ?)",
               ((db.execute("SELECT email_key FROM subscribers WHERE id = ?", (i * 4999,))
                 .fetchone()[0], NOW) for i in range(1, 201)))
# the counters the mailer keeps as it inserts (one-time fill, from counts)
db.execute("UPDATE send_counts SET sent = (SELECT count(*) FROM envelopes e WHERE e.send_id = "
           "send_counts.send_id AND e.state = 'sent'), failed = (SELECT count(*) FROM envelopes e "
           "WHERE e.send_id = send_counts.send_id AND e.state = 'failed')")
db.execute("UPDATE list_counts SET confirmed = (SELECT count(*) FROM subscriptions s WHERE "
           "s.list_id = list_counts.list_id AND s.status = 'confirmed'), unconfirmed = (SELECT "
           "count(*) FROM subscriptions s WHERE s.list_id = list_counts.list_id AND s.status = "
           "'unconfirmed'), unsubscribed = (SELECT count(*) FROM subscriptions s WHERE s.list_id = "
           "list_counts.list_id AND s.status = 'unsubscribed')")
db.execute("INSERT INTO daily_counts(day, sent, failed) SELECT date(sent_at, 'unixepoch', "
           "'localtime'), sum(state = 'sent'), sum(state = 'failed') FROM envelopes GROUP BY 1")
db.execute("COMMIT")
# the names into the search index, as serve's housekeeping does in batches
db.execute("BEGIN")
db.execute("INSERT INTO subs_names(rowid, name) SELECT id, replace(replace(name, 'đ', 'd'), 'Đ', "
           "'D') FROM subscribers WHERE name <> ''")
db.execute("UPDATE subs_names_state SET indexed_to = (SELECT max(id) FROM subscribers)")
db.execute("COMMIT")
print("done: %.1f s, %d subscribers, %d envelopes" % (
    time.time() - t0, db.execute("SELECT count(*) FROM subscribers").fetchone()[0],
    db.execute("SELECT count(*) FROM envelopes").fetchone()[0]), flush=True)
