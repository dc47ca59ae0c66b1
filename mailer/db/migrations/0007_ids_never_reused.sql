-- Subscriber and list ids are never reused, and every subscriber has a
-- random salt that their confirm and unsubscribe tokens' MAC covers
-- (issue 16 item 2). Before this, the id of an erased or removed person
-- went to the next one to sign up, and that person's old links (an
-- unsubscribe link never expires) acted on the newcomer.
-- Owner: subscribers/ (subs_store.c, subs_token.c).
--
-- SQLite cannot add AUTOINCREMENT to a table: both are rebuilt (the
-- procedure of https://sqlite.org/lang_altertable.html#otheralter; db.c
-- runs migrations with foreign keys off and checks them before COMMIT, so
-- the DROP does not cascade to subscriptions, envelopes, sends, digests).
-- sqlite_sequence starts at the largest id kept. Rows kept get an empty
-- salt: their tokens, already in mailboxes, stay valid as they were made;
-- every row inserted from now on gets 16 random bytes.

CREATE TABLE lists_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    slug                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    optin               TEXT NOT NULL DEFAULT 'double' CHECK (optin IN ('single', 'double')),
    -- digest settings (used by mailer/digest)
    digest_weekday      INTEGER NOT NULL DEFAULT 1 CHECK (digest_weekday BETWEEN 0 AND 6), -- 0 = Sunday
    digest_time         TEXT NOT NULL DEFAULT '07:00',  -- HH:MM local time
    digest_category     TEXT,                           -- NULL: all categories
    digest_max_articles INTEGER NOT NULL DEFAULT 10,
    digest_subject      TEXT NOT NULL DEFAULT 'Bản tin tuần {{week}} – {{site}}',
    digest_template     TEXT NOT NULL DEFAULT 'digest',
    digest_enabled      INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
INSERT INTO lists_new(id, slug, name, description, optin, digest_weekday, digest_time,
                      digest_category, digest_max_articles, digest_subject, digest_template,
                      digest_enabled, created_at, updated_at)
SELECT id, slug, name, description, optin, digest_weekday, digest_time, digest_category,
       digest_max_articles, digest_subject, digest_template, digest_enabled, created_at,
       updated_at FROM lists;
DROP TABLE lists;
ALTER TABLE lists_new RENAME TO lists;

CREATE TABLE subscribers_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    email       TEXT NOT NULL,              -- local part as typed, domain lower-cased (Unicode form)
    email_ascii TEXT NOT NULL,              -- the same with the domain in punycode: what SMTP gets
    email_key   TEXT NOT NULL UNIQUE,       -- lower-cased email_ascii: finds duplicates
    name        TEXT NOT NULL DEFAULT '',
    attributes  TEXT NOT NULL DEFAULT '{}', -- JSON object
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    token_salt  BLOB NOT NULL DEFAULT (randomblob(16)) -- in every token's MAC; X'' for rows
                                                       -- older than this migration
);
INSERT INTO subscribers_new(id, email, email_ascii, email_key, name, attributes, created_at,
                            updated_at, token_salt)
SELECT id, email, email_ascii, email_key, name, attributes, created_at, updated_at, X''
FROM subscribers;
DROP TABLE subscribers;
ALTER TABLE subscribers_new RENAME TO subscribers;
