-- Admin API tokens, the share log, rate-limit counters and used CSRF tokens.
-- Owner: mailer/http (http_store.c).

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,      -- hex SHA-256 of the token; the token itself is never stored
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE share_log (
    id           INTEGER PRIMARY KEY,
    article_id   TEXT NOT NULL,
    send_id      INTEGER REFERENCES sends(id) ON DELETE SET NULL,
    sender_email TEXT NOT NULL,
    sender_name  TEXT NOT NULL DEFAULT '',
    client_ip    TEXT NOT NULL,
    recipients   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX share_log_by_time ON share_log(created_at);

CREATE TABLE rate_counters (
    key          TEXT NOT NULL,             -- e.g. ip:1.2.3.4, sender:a@b, global
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) WITHOUT ROWID;

-- Share-form CSRF tokens already used: a token is accepted once. Rows older
-- than the token lifetime are deleted by the server's housekeeping.
CREATE TABLE csrf_used (
    nonce   TEXT PRIMARY KEY,               -- hex of the token's random part
    used_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX csrf_used_by_time ON csrf_used(used_at);
