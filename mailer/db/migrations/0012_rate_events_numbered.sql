-- Rate windows checked in O(log n) per request (the benchmark's regression
-- after 0010: `count(*) ... WHERE key = ? AND at > ?` read every request of
-- the last hour, for the global key every share). Each key's requests are
-- numbered 1, 2, 3 ... in `seq`; a take first deletes its key's requests
-- that left the window, so the key holds only its window and the count is
-- max(seq) - min(seq) + 1: two seeks on the primary key, whatever the
-- count. Rows already stored keep their order (by time, then id).
-- Owner: mailer/http (http_store.c).

CREATE TABLE rate_events_new (
    key TEXT NOT NULL,                      -- e.g. ip:1.2.3.4, ip:2001:db8:1:2::/64, sender:a@b, global
    seq INTEGER NOT NULL,                   -- this key's requests numbered without gaps
    at  INTEGER NOT NULL,                   -- when the request was let through (seconds)
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;

INSERT INTO rate_events_new(key, seq, at)
    SELECT key, row_number() OVER (PARTITION BY key ORDER BY at, id), at FROM rate_events;

DROP TABLE rate_events;
ALTER TABLE rate_events_new RENAME TO rate_events;
CREATE INDEX rate_events_by_key ON rate_events(key, at);
CREATE INDEX rate_events_by_time ON rate_events(at);
