-- Sliding windows for the HTTP rate limits (issue 16 item 12): one row per
-- request a limit let through, so "at most N in any hour" holds for every
-- hour, not per clock hour (fixed windows let 2N through across a boundary).
-- A refused request writes no row, so a key holds at most its limit of rows
-- per window. Owner: mailer/http (http_store.c).

DROP TABLE rate_counters;

CREATE TABLE rate_events (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL,                      -- e.g. ip:1.2.3.4, ip:2001:db8:1:2::/64, sender:a@b, global
    at  INTEGER NOT NULL                    -- when the request was let through (seconds)
);
CREATE INDEX rate_events_by_key ON rate_events(key, at);
CREATE INDEX rate_events_by_time ON rate_events(at);
