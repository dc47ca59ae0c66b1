-- The share form's one-time id (issue 15 item 2): a second submit of the
-- same form (a double tap, the back button and "send" again, a retry after
-- a slow answer) finds the share the first one made and gets the same
-- thank-you page instead of a second share. NULL for shares from the CLI
-- and the JSON API.
-- Owner: mailer/share (share_store.c).
ALTER TABLE share_log ADD COLUMN form_key TEXT;
CREATE UNIQUE INDEX share_log_by_form_key ON share_log(form_key) WHERE form_key IS NOT NULL;
