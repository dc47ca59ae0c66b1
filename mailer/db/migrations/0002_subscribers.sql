-- Lists, subscribers, subscriptions and the suppression list.
-- Owner: subscribers/ (subs_store.c).

CREATE TABLE lists (
    id                  INTEGER PRIMARY KEY,
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

CREATE TABLE subscribers (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL,              -- local part as typed, domain lower-cased (Unicode form)
    email_ascii TEXT NOT NULL,              -- the same with the domain in punycode: what SMTP gets
    email_key   TEXT NOT NULL UNIQUE,       -- lower-cased email_ascii: finds duplicates
    name        TEXT NOT NULL DEFAULT '',
    attributes  TEXT NOT NULL DEFAULT '{}', -- JSON object
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE subscriptions (
    list_id         INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    subscriber_id   INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('unconfirmed', 'confirmed', 'unsubscribed')),
    optin_at        INTEGER,
    optin_ip        TEXT,
    confirmed_at    INTEGER,
    confirmed_ip    TEXT,
    unsubscribed_at INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (list_id, subscriber_id)
) WITHOUT ROWID;
CREATE INDEX subscriptions_by_subscriber ON subscriptions(subscriber_id);

-- Addresses never to mail. email_key is cleared by `sub erase`, which keeps
-- only the hash so the person stays unmailed without their address stored.
CREATE TABLE suppressions (
    email_hash TEXT PRIMARY KEY,            -- hex SHA-256 of email_key
    email_key  TEXT UNIQUE,
    reason     TEXT NOT NULL CHECK (reason IN ('hard_bounce', 'complaint', 'manual', 'unsubscribed_all')),
    detail     TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
