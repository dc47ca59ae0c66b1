-- One digest per list and period, made impossible to create twice.
-- Owner: mailer/digest (digest_store.c).

CREATE TABLE digests (
    id         INTEGER PRIMARY KEY,
    list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    period     TEXT NOT NULL,               -- ISO week of the scheduled time, e.g. 2026-W48
    send_id    INTEGER REFERENCES sends(id) ON DELETE SET NULL,
    since      INTEGER NOT NULL,            -- articles published after this
    until      INTEGER NOT NULL,
    articles   INTEGER NOT NULL,            -- how many were included (0 = skipped)
    created_at INTEGER NOT NULL,
    UNIQUE (list_id, period)
);
