-- Issue 16 items 9 and 12. Owner: subscribers/ (subs_store.c) and
-- mailer/outbox (outbox_store.c) for the index.
--
-- A name typed with a subscription that is not confirmed yet waits on the
-- subscription and reaches the subscriber only when the subscription is
-- confirmed from the mailbox: an anonymous form can no longer set the
-- display name of someone else (a name that then greets them in every
-- digest).
ALTER TABLE subscriptions ADD COLUMN pending_name TEXT NOT NULL DEFAULT '';

-- The caps on confirmation mails (per address per day, in all per hour)
-- count the recent confirm sends.
CREATE INDEX sends_by_kind_time ON sends(kind, created_at);
