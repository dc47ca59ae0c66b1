/*
 * outbox_store_bounce.c: what mailer/bounce needs from the outbox to tie a bounce
 * to an envelope and to record it there.
 *
 * A bounce arrives after the envelope was sent (the relay accepted it), so
 * recording one turns a `sent` envelope into `failed` with the bounce's
 * code and text, and nothing else: an envelope in another state is left
 * alone. What it was before is handed back, so that an undo can put it
 * back, and only while the envelope still carries the bounce (nobody
 * retried or changed it since).
 *
 * The attribution by address looks for the newest envelope sent to the
 * address since a given time (mailer/bounce passes 30 days), optionally
 * of one list's sends: one indexed lookup on lower(recipient).
 */
#include <stdio.h>
#include <string.h>

#include "outbox.h"

static const char SQL_TARGET[] =
    "SELECT e.send_id, COALESCE(e.subscriber_id, 0), COALESCE(s.list_id, 0), s.kind, e.state, "
    "e.recipient, s.salt, e.created_at, COALESCE(e.sent_at, 0) "
    "FROM envelopes e JOIN sends s ON s.id = e.send_id WHERE e.id = ?1";

enum merr outbox_bounce_target(struct db *db, long long envelope_id,
                               struct outbox_bounce_target *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_TARGET);
    int src;
    memset(out, 0, sizeof *out);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, envelope_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        char state[16];
        out->envelope_id = envelope_id;
        out->send_id = sqlite3_column_int64(st, 0);
        out->subscriber_id = sqlite3_column_int64(st, 1);
        out->list_id = sqlite3_column_int64(st, 2);
        db_col_copy(st, 3, out->kind, sizeof out->kind);
        db_col_copy(st, 4, state, sizeof state);
        out->state = (enum outbox_state)outbox_state_parse(state);
        db_col_copy(st, 5, out->recipient, sizeof out->recipient);
        db_col_copy(st, 6, out->salt, sizeof out->salt);
        out->created_at = (time_t)sqlite3_column_int64(st, 7);
        out->sent_at = (time_t)sqlite3_column_int64(st, 8);
    }
    return db_row_end(db, st, src, MERR_NOTFOUND, "envelope of a bounce");
}

static const char SQL_RECENT[] =
    "SELECT e.id FROM envelopes e JOIN sends s ON s.id = e.send_id "
    "WHERE lower(e.recipient) = ?1 AND e.state IN ('sent', 'failed') AND e.created_at >= ?2 "
    "AND (?3 = 0 OR s.list_id = ?3) ORDER BY e.id DESC LIMIT 1";

enum merr outbox_bounce_recent(struct db *db, const char *recipient_key, long long list_id,
                               time_t since, long long *envelope_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_RECENT);
    int src;
    *envelope_id = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, recipient_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since);
    sqlite3_bind_int64(st, 3, list_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *envelope_id = sqlite3_column_int64(st, 0);
    return db_row_end(db, st, src, MERR_NOTFOUND, "envelopes by recipient");
}

static const char SQL_PREV[] = "SELECT state, last_code, last_text FROM envelopes WHERE id = ?1";
static const char SQL_RECORD[] =
    "UPDATE envelopes SET state = 'failed', last_code = ?2, last_text = ?3, updated_at = ?4 "
    "WHERE id = ?1 AND state = 'sent'";

enum merr outbox_bounce_record(struct db *db, long long envelope_id, int code, const char *text,
                               time_t now, struct outbox_bounce_prev *prev, int *changed)
{
    sqlite3_stmt *st = db_stmt(db, SQL_PREV);
    enum merr rc;
    int src;
    char state[16] = "";

    *changed = 0;
    memset(prev, 0, sizeof *prev);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, envelope_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        db_col_copy(st, 0, state, sizeof state);
        prev->has_code = sqlite3_column_type(st, 1) != SQLITE_NULL;
        prev->last_code = sqlite3_column_int(st, 1);
        prev->has_text = sqlite3_column_type(st, 2) != SQLITE_NULL;
        db_col_copy(st, 2, prev->last_text, sizeof prev->last_text);
    }
    rc = db_row_end(db, st, src, MERR_NOTFOUND, "envelope of a bounce");
    if (rc)
        return rc;
    prev->state = (enum outbox_state)outbox_state_parse(state);
    if (prev->state != OUTBOX_SENT)
        return MERR_OK;
    st = db_stmt(db, SQL_RECORD);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, envelope_id);
    if (code > 0)
        sqlite3_bind_int(st, 2, code);
    sqlite3_bind_text(st, 3, text ? text : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    rc = db_step_done(db, st, "record a bounce on its envelope");
    if (!rc)
        *changed = db_changes(db) > 0;
    return rc;
}

static const char SQL_RESTORE[] =
    "UPDATE envelopes SET state = 'sent', last_code = ?2, last_text = ?3, updated_at = ?4 "
    "WHERE id = ?1 AND state = 'failed' AND last_text = ?5";

enum merr outbox_bounce_restore(struct db *db, long long envelope_id,
                                const struct outbox_bounce_prev *prev, const char *bounce_text,
                                time_t now, int *restored)
{
    sqlite3_stmt *st = db_stmt(db, SQL_RESTORE);
    enum merr rc;
    *restored = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, envelope_id);
    if (prev->has_code)
        sqlite3_bind_int(st, 2, prev->last_code);
    if (prev->has_text)
        sqlite3_bind_text(st, 3, prev->last_text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_text(st, 5, bounce_text ? bounce_text : "", -1, SQLITE_STATIC);
    rc = db_step_done(db, st, "undo a bounce on its envelope");
    if (!rc)
        *restored = db_changes(db) > 0;
    return rc;
}
