-- Two more kinds of send (issue 13): `breaking` (breaking news, "tin nóng":
-- one article to a list now, at most once per list and article) and `test`
-- (a digest or breaking news sent to one editor's address to look at).
-- Owner: mailer/outbox (sends), mailer/breaking (breaking_news).
--
-- SQLite cannot change a CHECK constraint: `sends` is rebuilt (the
-- procedure of https://sqlite.org/lang_altertable.html#otheralter; db.c
-- runs migrations with foreign keys off and checks them before COMMIT, so
-- the DROP does not cascade to envelopes, digests, share_log, bounces and
-- send_counts, which keep pointing at the same ids). The trigger that
-- gives each new send its counters and the index the confirmation caps
-- count with go with the old table and are made again. The kinds are
-- enum outbox_kind's names (mailer/outbox/outbox.h).

CREATE TABLE sends_new (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('share', 'digest', 'confirm', 'breaking', 'test')),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'done', 'cancelled')),
    list_id     INTEGER REFERENCES lists(id) ON DELETE SET NULL,
    plan        TEXT NOT NULL,              -- JSON: the plan's inputs (articles, template, sender, note)
    salt        TEXT NOT NULL,              -- random per send: Message-IDs and VERP tokens derive from it
    created_at  INTEGER NOT NULL,
    finished_at INTEGER
);
INSERT INTO sends_new(id, kind, status, list_id, plan, salt, created_at, finished_at)
SELECT id, kind, status, list_id, plan, salt, created_at, finished_at FROM sends;
DROP TABLE sends;
ALTER TABLE sends_new RENAME TO sends;

CREATE INDEX sends_by_kind_time ON sends(kind, created_at);
CREATE TRIGGER send_counts_new AFTER INSERT ON sends BEGIN
    INSERT INTO send_counts(send_id) VALUES (new.id);
END;

-- Breaking news sent: one row per list and article, made impossible to
-- create twice (a second click, a resubmitted form, two editors at once).
CREATE TABLE breaking_news (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    send_id    INTEGER REFERENCES sends(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (list_id, article_id)
);
