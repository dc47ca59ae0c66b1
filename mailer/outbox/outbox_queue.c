/*
 * outbox_queue.c: the queue as the admin's queue page reads and changes
 * it: envelopes of one state a page at a time, and cancelling one.
 *
 * A page is read along the index envelopes_due(state, next_attempt_at),
 * which ends with the rowid, so "newest first" (next_attempt_at, id)
 * descending is the index's own order walked backwards and a page costs
 * its rows, whatever the size of the queue: for a deferred envelope
 * next_attempt_at is its next try, for a failed one the time it failed.
 * Keyset paging carries both (the last row's next_attempt_at and id).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"

static const char SQL_PAGE[] =
    "SELECT e.id, e.send_id, e.state, e.attempts, coalesce(e.last_code, 0), e.next_attempt_at, "
    "e.updated_at, e.recipient, coalesce(e.last_text, ''), s.kind "
    "FROM envelopes e JOIN sends s ON s.id = e.send_id "
    "WHERE e.state = ?1 AND (e.next_attempt_at, e.id) < (?2, ?3) "
    "ORDER BY e.next_attempt_at DESC, e.id DESC LIMIT ?4";
static const char SQL_CANCEL[] =
    "UPDATE envelopes SET state = 'cancelled', lease_until = NULL, "
    "last_text = 'cancelled by an editor', updated_at = ?2 "
    "WHERE id = ?1 AND state IN ('queued', 'deferred', 'failed') RETURNING send_id";

enum merr outbox_queue_page(struct db *db, enum outbox_state state, time_t before_at,
                            long long before_id, size_t limit, struct outbox_queue_row **out,
                            size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_PAGE);
    struct outbox_queue_row *v;
    size_t count = 0;
    int src = SQLITE_DONE;

    *out = NULL;
    *n = 0;
    if (!st)
        return MERR_DB;
    if (!limit)
        limit = 50;
    v = calloc(limit, sizeof *v);
    if (!v)
        return merr_set(MERR_NOMEM, "out of memory");
    sqlite3_bind_text(st, 1, outbox_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, before_id ? (sqlite3_int64)before_at : INT64_MAX);
    sqlite3_bind_int64(st, 3, before_id ? before_id : INT64_MAX);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
    while (count < limit && (src = sqlite3_step(st)) == SQLITE_ROW) {
        struct outbox_queue_row *r = &v[count++];
        r->row.id = sqlite3_column_int64(st, 0);
        r->row.send_id = sqlite3_column_int64(st, 1);
        r->row.state =
            (enum outbox_state)outbox_state_parse((const char *)sqlite3_column_text(st, 2));
        r->row.attempts = sqlite3_column_int(st, 3);
        r->row.last_code = sqlite3_column_int(st, 4);
        r->row.next_attempt_at = (time_t)sqlite3_column_int64(st, 5);
        r->row.updated_at = (time_t)sqlite3_column_int64(st, 6);
        db_col_copy(st, 7, r->row.recipient, sizeof r->row.recipient);
        db_col_copy(st, 8, r->row.last_text, sizeof r->row.last_text);
        db_col_copy(st, 9, r->kind, sizeof r->kind);
    }
    if (count == limit)
        src = SQLITE_DONE;
    sqlite3_reset(st);
    if (src != SQLITE_DONE) {
        free(v);
        return db_fail(db, src, "queue");
    }
    *out = v;
    *n = count;
    return MERR_OK;
}

enum merr outbox_envelope_cancel(struct db *db, long long envelope_id, time_t now)
{
    sqlite3_stmt *st;
    long long send_id = 0;
    enum merr rc;
    int src;

    rc = db_begin(db);
    if (rc)
        return rc;
    st = db_stmt(db, SQL_CANCEL);
    if (!st) {
        db_rollback(db);
        return MERR_DB;
    }
    sqlite3_bind_int64(st, 1, envelope_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        send_id = sqlite3_column_int64(st, 0);
    rc = db_row_end(db, st, src, MERR_NOTFOUND, "cancel envelope");
    if (rc == MERR_NOTFOUND)
        rc = merr_set(MERR_INVAL, "envelope %lld is not waiting nor failed (or does not exist)",
                      envelope_id);
    if (!rc)
        rc = outbox_send_finish_if_idle(db, send_id, now);
    if (!rc)
        rc = db_commit(db);
    if (rc)
        db_rollback(db);
    return rc;
}
