-- "May we mail this person" is subscribers' question, asked with one key: the
-- hex SHA-256 of the lower-cased ASCII address (email_hash), the key of a
-- suppression (an erased person's suppression keeps only it). Owner:
-- subscribers/ (subs_store.c, subs_consent.c).
--
-- subscribers.email_hash: that key for a stored subscriber, set by subs_store
-- (sha256_hex is the SQL function every handle of db_open has).
ALTER TABLE subscribers ADD COLUMN email_hash TEXT;
UPDATE subscribers SET email_hash = sha256_hex(email_key);

-- list_audience: whom a list's mail goes to: its confirmed subscribers whose
-- address is not suppressed (a row stored without its hash is hashed here). The
-- outbox enqueues a digest from this view and names no table of subscribers';
-- right before sending it asks subs_consent_check again.
CREATE VIEW list_audience AS
SELECT t.list_id, s.id AS subscriber_id, s.email_ascii AS recipient, s.name
FROM subscriptions t JOIN subscribers s ON s.id = t.subscriber_id
WHERE t.status = 'confirmed'
  AND NOT EXISTS (SELECT 1 FROM suppressions p
                  WHERE p.email_hash = coalesce(s.email_hash, sha256_hex(s.email_key)));
