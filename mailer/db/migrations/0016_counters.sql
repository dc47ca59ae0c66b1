-- Counters kept up to date as things happen, so the admin's dashboard and
-- lists read a few rows instead of counting millions (issue 13: "counts
-- come from maintained counters, not scans"), and the indexes the admin's
-- person page needs at millions of envelopes.
--
-- Each counter is written in the same transaction as the change it counts.
-- Inserts of many rows at once (a digest's envelopes, an import's
-- subscriptions) add their count explicitly with one UPDATE after the
-- INSERT ... SELECT: a trigger per row would add about 1.4 us to each of a
-- million rows. Changes of one row at a time (a delivery result, a claim,
-- an unsubscribe) are counted by the triggers below, whatever code path
-- makes them. A test compares every counter with a count of the rows.

-- Envelopes per send and state. Owner: mailer/outbox (outbox_store.c adds
-- the new envelopes; the triggers move them between states).
CREATE TABLE send_counts (
    send_id   INTEGER PRIMARY KEY REFERENCES sends(id) ON DELETE CASCADE,
    queued    INTEGER NOT NULL DEFAULT 0,
    sending   INTEGER NOT NULL DEFAULT 0,
    sent      INTEGER NOT NULL DEFAULT 0,
    deferred  INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0
);
INSERT INTO send_counts(send_id) SELECT id FROM sends;
UPDATE send_counts SET
    queued    = (SELECT count(*) FROM envelopes e WHERE e.send_id = send_counts.send_id AND e.state = 'queued'),
    sending   = (SELECT count(*) FROM envelopes e WHERE e.send_id = send_counts.send_id AND e.state = 'sending'),
    sent      = (SELECT count(*) FROM envelopes e WHERE e.send_id = send_counts.send_id AND e.state = 'sent'),
    deferred  = (SELECT count(*) FROM envelopes e WHERE e.send_id = send_counts.send_id AND e.state = 'deferred'),
    failed    = (SELECT count(*) FROM envelopes e WHERE e.send_id = send_counts.send_id AND e.state = 'failed'),
    cancelled = (SELECT count(*) FROM envelopes e WHERE e.send_id = send_counts.send_id AND e.state = 'cancelled');

CREATE TRIGGER send_counts_new AFTER INSERT ON sends BEGIN
    INSERT INTO send_counts(send_id) VALUES (new.id);
END;
CREATE TRIGGER send_counts_move AFTER UPDATE OF state ON envelopes
WHEN old.state IS NOT new.state BEGIN
    UPDATE send_counts SET
        queued    = queued    + (new.state = 'queued')    - (old.state = 'queued'),
        sending   = sending   + (new.state = 'sending')   - (old.state = 'sending'),
        sent      = sent      + (new.state = 'sent')      - (old.state = 'sent'),
        deferred  = deferred  + (new.state = 'deferred')  - (old.state = 'deferred'),
        failed    = failed    + (new.state = 'failed')    - (old.state = 'failed'),
        cancelled = cancelled + (new.state = 'cancelled') - (old.state = 'cancelled')
    WHERE send_id = new.send_id;
END;
CREATE TRIGGER send_counts_gone AFTER DELETE ON envelopes BEGIN
    UPDATE send_counts SET
        queued    = queued    - (old.state = 'queued'),
        sending   = sending   - (old.state = 'sending'),
        sent      = sent      - (old.state = 'sent'),
        deferred  = deferred  - (old.state = 'deferred'),
        failed    = failed    - (old.state = 'failed'),
        cancelled = cancelled - (old.state = 'cancelled')
    WHERE send_id = old.send_id;
END;

-- Delivery outcomes per local day (the [site] timezone), for the
-- dashboard's 30-day chart. Owner: mailer/outbox (outbox_daily.c): written
-- where outcomes are applied, in the same transaction; bounces and
-- complaints by the code that records them.
CREATE TABLE daily_counts (
    day        TEXT PRIMARY KEY,            -- YYYY-MM-DD, local
    sent       INTEGER NOT NULL DEFAULT 0,
    deferred   INTEGER NOT NULL DEFAULT 0,  -- temporary failures (each attempt)
    failed     INTEGER NOT NULL DEFAULT 0,
    bounced    INTEGER NOT NULL DEFAULT 0,
    complaints INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO daily_counts(day, sent)
SELECT date(sent_at, 'unixepoch', 'localtime'), count(*) FROM envelopes
WHERE state = 'sent' AND sent_at IS NOT NULL GROUP BY 1;
INSERT INTO daily_counts(day, failed)
SELECT date(updated_at, 'unixepoch', 'localtime'), count(*) FROM envelopes
WHERE state = 'failed' GROUP BY 1 ON CONFLICT(day) DO UPDATE SET failed = excluded.failed;

-- Subscriptions per list and status. Owner: subscribers/ (subs_store.c adds
-- the new subscriptions; the triggers follow status changes and deletions,
-- including those of a list or a person deleted with their subscriptions).
CREATE TABLE list_counts (
    list_id      INTEGER PRIMARY KEY REFERENCES lists(id) ON DELETE CASCADE,
    unconfirmed  INTEGER NOT NULL DEFAULT 0,
    confirmed    INTEGER NOT NULL DEFAULT 0,
    unsubscribed INTEGER NOT NULL DEFAULT 0
);
INSERT INTO list_counts(list_id, unconfirmed, confirmed, unsubscribed)
SELECT l.id,
    (SELECT count(*) FROM subscriptions s WHERE s.list_id = l.id AND s.status = 'unconfirmed'),
    (SELECT count(*) FROM subscriptions s WHERE s.list_id = l.id AND s.status = 'confirmed'),
    (SELECT count(*) FROM subscriptions s WHERE s.list_id = l.id AND s.status = 'unsubscribed')
FROM lists l;
CREATE TRIGGER list_counts_new AFTER INSERT ON lists BEGIN
    INSERT INTO list_counts(list_id) VALUES (new.id);
END;
CREATE TRIGGER list_counts_move AFTER UPDATE OF status ON subscriptions
WHEN old.status IS NOT new.status BEGIN
    UPDATE list_counts SET
        unconfirmed  = unconfirmed  + (new.status = 'unconfirmed')  - (old.status = 'unconfirmed'),
        confirmed    = confirmed    + (new.status = 'confirmed')    - (old.status = 'confirmed'),
        unsubscribed = unsubscribed + (new.status = 'unsubscribed') - (old.status = 'unsubscribed')
    WHERE list_id = new.list_id;
END;
CREATE TRIGGER list_counts_gone AFTER DELETE ON subscriptions BEGIN
    UPDATE list_counts SET
        unconfirmed  = unconfirmed  - (old.status = 'unconfirmed'),
        confirmed    = confirmed    - (old.status = 'confirmed'),
        unsubscribed = unsubscribed - (old.status = 'unsubscribed')
    WHERE list_id = old.list_id;
END;

-- Shares per article and local day, for "most shared this week". Owner:
-- mailer/share. Shares come one at a time (rate-limited), so a trigger
-- counts them.
CREATE TABLE share_counts (
    day        TEXT NOT NULL,               -- YYYY-MM-DD, local
    article_id TEXT NOT NULL,
    shares     INTEGER NOT NULL DEFAULT 0,
    recipients INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, article_id)
) WITHOUT ROWID;
INSERT INTO share_counts(day, article_id, shares, recipients)
SELECT date(created_at, 'unixepoch', 'localtime'), article_id, count(*), sum(recipients)
FROM share_log GROUP BY 1, 2;
CREATE TRIGGER share_counts_new AFTER INSERT ON share_log BEGIN
    INSERT INTO share_counts(day, article_id, shares, recipients)
    VALUES (date(new.created_at, 'unixepoch', 'localtime'), new.article_id, 1, new.recipients)
    ON CONFLICT(day, article_id) DO UPDATE SET shares = shares + 1,
        recipients = recipients + excluded.recipients;
END;

-- The admin's person page finds a person's envelopes by subscriber id, or
-- by address for the shares sent to them (which have no subscriber id):
-- only those are in the second index, so a digest's million envelopes do
-- not pay for it. And the shares a person sent, by address.
CREATE INDEX envelopes_by_subscriber ON envelopes(subscriber_id);
CREATE INDEX envelopes_by_recipient ON envelopes(lower(recipient)) WHERE subscriber_id IS NULL;
CREATE INDEX share_log_by_sender ON share_log(lower(sender_email));

-- Searching subscribers by name (the admin's subscriber search). Owner:
-- subscribers/ (subs_search.c). An FTS5 index of the names, case- and
-- accent-folded (unicode61 remove_diacritics 2, and đ made d, which has no
-- decomposition), keyed by subscriber id. It is filled in the background,
-- in batches, by the serve parent's housekeeping (subs_search_index) up to
-- `indexed_to`: an import of a million rows does not wait for it. A search
-- looks rows above `indexed_to` up by a scan of that short tail, so results
-- are complete at any moment. Below it, the triggers keep the index in step
-- with renames and deletions.
CREATE VIRTUAL TABLE subs_names USING fts5(name, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE subs_names_state (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    indexed_to INTEGER NOT NULL
);
INSERT INTO subs_names_state(one, indexed_to) VALUES (1, 0);
CREATE TRIGGER subs_names_rename AFTER UPDATE OF name ON subscribers
WHEN old.name IS NOT new.name AND new.id <= (SELECT indexed_to FROM subs_names_state) BEGIN
    DELETE FROM subs_names WHERE rowid = new.id;
    INSERT INTO subs_names(rowid, name)
    SELECT new.id, replace(replace(new.name, 'đ', 'd'), 'Đ', 'D') WHERE new.name <> '';
END;
CREATE TRIGGER subs_names_gone AFTER DELETE ON subscribers
WHEN old.id <= (SELECT indexed_to FROM subs_names_state) BEGIN
    DELETE FROM subs_names WHERE rowid = old.id;
END;
