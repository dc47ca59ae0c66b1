/*
 * outbox_send_status.c: pausing and resuming a send.
 *
 * A send's status gates its envelopes: outbox_claim only takes envelopes of
 * sends that are `active`, so pausing is one UPDATE of the send row and
 * nothing else. Envelopes already claimed (state `sending`) finish and keep
 * their outcome; the queued and deferred ones stay where they are until the
 * send is resumed, and then only they are claimed: an envelope that is
 * `sent` is never claimed again, so a resume cannot mail anyone twice.
 *
 * Only the expected transitions are made (active -> paused, paused ->
 * active), each guarded in its WHERE clause so two admins racing cannot
 * revive a cancelled or finished send. Asking for the state a send is
 * already in succeeds (idempotent). A send resumed after its last envelopes
 * finished while it was paused is closed at once (outbox_send_finish_if_idle).
 */
#include <stdio.h>
#include <string.h>

#include "outbox.h"

static const char SQL_PAUSE[] =
    "UPDATE sends SET status = 'paused' WHERE id = ?1 AND status = 'active'";
static const char SQL_RESUME[] =
    "UPDATE sends SET status = 'active' WHERE id = ?1 AND status = 'paused'";
static const char SQL_STATUS[] = "SELECT status FROM sends WHERE id = ?1";

static enum merr run_update(struct db *db, const char *sql, long long send_id, int *changed)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    int src;

    *changed = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, send_id);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return db_fail(db, src, "send status");
    *changed = db_changes(db) > 0;
    return MERR_OK;
}

static enum merr send_status(struct db *db, long long send_id, char out[16])
{
    sqlite3_stmt *st = db_stmt(db, SQL_STATUS);
    int src;

    out[0] = '\0';
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, send_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, 16, "%s", t ? t : "");
    }
    sqlite3_reset(st);
    if (src == SQLITE_DONE)
        return merr_set(MERR_NOTFOUND, "send %lld: not found", send_id);
    if (src != SQLITE_ROW)
        return db_fail(db, src, "send status");
    return MERR_OK;
}

enum merr outbox_send_pause(struct db *db, long long send_id)
{
    char status[16];
    int changed;
    enum merr rc = run_update(db, SQL_PAUSE, send_id, &changed);
    if (rc || changed)
        return rc;
    rc = send_status(db, send_id, status);
    if (rc)
        return rc;
    if (!strcmp(status, "paused"))
        return MERR_OK;
    return merr_set(MERR_INVAL, "send %lld is %s: only an active send can be paused", send_id,
                    status);
}

enum merr outbox_send_resume(struct db *db, long long send_id, time_t now)
{
    char status[16];
    int changed;
    enum merr rc = run_update(db, SQL_RESUME, send_id, &changed);
    if (rc)
        return rc;
    if (!changed) {
        rc = send_status(db, send_id, status);
        if (rc)
            return rc;
        if (strcmp(status, "active") != 0)
            return merr_set(MERR_INVAL, "send %lld is %s: only a paused send can be resumed",
                            send_id, status);
    }
    return outbox_send_finish_if_idle(db, send_id, now);
}
