-- Bounces, complaints, automatic replies and mailed unsubscribes read from
-- the bounce mailboxes, what each did, and the mailboxes' state.
-- Owner: mailer/bounce (bounce_store.c).

-- One row per message read, whatever it was. sha256 is of the message with
-- its line ends folded to LF: the same message read twice (by IMAP and by
-- the pipe, or by a poll killed before its move) is one row, and the
-- second reading changes nothing.
CREATE TABLE bounces (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    mailbox     TEXT NOT NULL,              -- [bounce.NAME], or ingest / maildir / mbox
    role        TEXT NOT NULL CHECK (role IN ('bounces', 'complaints', 'unsubscribe')),
    kind        TEXT NOT NULL,              -- dsn, arf, auto-reply, report, not-bounce, unsubscribe
    state       TEXT NOT NULL CHECK (state IN ('processed', 'unparsed', 'refused')),
    note        TEXT NOT NULL DEFAULT '',   -- why unparsed or refused, what was done
    message_id  TEXT,
    from_addr   TEXT,
    subject     TEXT,
    size        INTEGER NOT NULL,
    raw         BLOB NOT NULL,              -- the message, cut at [bounce] keep_raw bytes
    received_at INTEGER NOT NULL,
    undone_at   INTEGER
);
CREATE INDEX bounces_by_time ON bounces(received_at);

-- One row per recipient the message speaks about, in its order.
CREATE TABLE bounce_recipients (
    id             INTEGER PRIMARY KEY,
    bounce_id      INTEGER NOT NULL REFERENCES bounces(id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    address        TEXT NOT NULL,           -- as the report gives it
    class          TEXT NOT NULL,
    reason         TEXT NOT NULL,
    status         TEXT,
    reply_code     TEXT,
    diagnostic     TEXT,
    envelope_id    INTEGER,                 -- the envelope it was attributed to (no FK: envelopes may be purged)
    send_id        INTEGER,
    subscriber_id  INTEGER,
    address_key    TEXT,                    -- lower-cased address of the envelope (or the report)
    attributed_by  TEXT CHECK (attributed_by IN ('verp', 'envid', 'message_id', 'list_id', 'recipient', 'token')),
    action         TEXT NOT NULL DEFAULT 'none'
);
CREATE INDEX bounce_recipients_by_bounce ON bounce_recipients(bounce_id, position);
CREATE INDEX bounce_recipients_by_address ON bounce_recipients(address_key, class);

-- What each bounce changed, so that `undo` lifts exactly that.
CREATE TABLE bounce_effects (
    bounce_id  INTEGER NOT NULL REFERENCES bounces(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('suppression', 'subscription', 'envelope')),
    target     TEXT NOT NULL,               -- email key / "subscriber:list" / envelope id
    detail     TEXT NOT NULL,               -- JSON: what it was before
    undone_at  INTEGER,
    PRIMARY KEY (bounce_id, seq)
) WITHOUT ROWID;

-- Per mailbox: the last poll and the last one that succeeded (for /healthz).
CREATE TABLE bounce_mailboxes (
    name         TEXT PRIMARY KEY,
    last_poll_at INTEGER,
    last_ok_at   INTEGER,
    last_error   TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- POP3 messages left on the server (leave_on_server), by UIDL: read once.
CREATE TABLE bounce_pop3_seen (
    mailbox TEXT NOT NULL,
    uidl    TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uidl)
) WITHOUT ROWID;
