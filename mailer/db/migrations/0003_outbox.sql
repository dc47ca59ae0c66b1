-- The outbox: one send per share/digest/confirmation, one envelope per recipient.
-- Owner: mailer/outbox (outbox_store.c).

CREATE TABLE sends (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('share', 'digest', 'confirm')),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'done', 'cancelled')),
    list_id     INTEGER REFERENCES lists(id) ON DELETE SET NULL,
    plan        TEXT NOT NULL,              -- JSON: the plan's inputs (articles, template, sender, note)
    salt        TEXT NOT NULL,              -- random per send: Message-IDs and VERP tokens derive from it
    created_at  INTEGER NOT NULL,
    finished_at INTEGER
);

CREATE TABLE envelopes (
    id              INTEGER PRIMARY KEY,
    send_id         INTEGER NOT NULL REFERENCES sends(id) ON DELETE CASCADE,
    subscriber_id   INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
    recipient       TEXT NOT NULL,          -- ASCII address (punycode domain)
    name            TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_code       INTEGER,
    last_text       TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    UNIQUE (send_id, subscriber_id)
);
CREATE INDEX envelopes_due ON envelopes(state, next_attempt_at);
CREATE INDEX envelopes_by_send ON envelopes(send_id, state);
