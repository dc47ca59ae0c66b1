/*
 * outbox_store_admin.c: the statements of what an admin asks of the outbox
 * and does to it (`mailer queue`, the API): counts, a send, cancelling,
 * retrying, listing envelopes and sends, pausing and resuming a send.
 *
 * Pausing and resuming. A send's status gates its envelopes: outbox_claim
 * only takes envelopes of sends that are `active`, so pausing is one UPDATE
 * of the send row and nothing else. Envelopes already claimed (state
 * `sending`) finish and keep their outcome; the queued and deferred ones
 * stay where they are until the send is resumed, and then only they are
 * claimed: an envelope that is `sent` is never claimed again, so a resume
 * cannot mail anyone twice. Only the expected transitions are made (active
 * -> paused, paused -> active), each guarded in its WHERE clause so two
 * admins racing cannot revive a cancelled or finished send. Asking for the
 * state a send is already in succeeds (idempotent). A send resumed after
 * its last envelopes finished while it was paused is closed at once
 * (outbox_send_finish_if_idle).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "outbox.h"
#include "outbox_store_int.h"

/* The maintained counters (send_counts, migration admin counters), in enum outbox_state's order. */
static const char SQL_COUNTS_ALL[] =
    "SELECT sum(queued), sum(sending), sum(sent), sum(deferred), sum(failed), sum(cancelled) "
    "FROM send_counts";
static const char SQL_COUNTS_SEND[] =
    "SELECT queued, sending, sent, deferred, failed, cancelled FROM send_counts WHERE send_id = ?1";
static const char SQL_SEND_GET[] =
    "SELECT kind, status, list_id, plan, salt, created_at FROM sends WHERE id = ?1";
static const char SQL_SEND_STATUS[] = "SELECT status FROM sends WHERE id = ?1";
static const char SQL_SEND_CANCEL[] =
    "UPDATE sends SET status = 'cancelled', finished_at = ?2 WHERE id = ?1";
static const char SQL_ENVELOPE_STATE[] = "SELECT state, send_id FROM envelopes WHERE id = ?1";
static const char SQL_RETRY_ONE[] =
    "UPDATE envelopes SET state = CASE state WHEN 'failed' THEN 'queued' ELSE state END, "
    "next_attempt_at = ?2, updated_at = ?2 WHERE id = ?1";
static const char SQL_SEND_REOPEN[] =
    "UPDATE sends SET status = 'active', finished_at = NULL WHERE id = ?1 AND status = 'done'";
static const char SQL_RETRY_DEFERRED[] =
    "UPDATE envelopes SET next_attempt_at = ?1, updated_at = ?1 WHERE state = 'deferred'";
static const char SQL_LIST[] =
    "SELECT id, send_id, state, attempts, coalesce(last_code, 0), next_attempt_at, updated_at, "
    "recipient, coalesce(last_text, '') FROM envelopes "
    "WHERE (?1 IS NULL OR state = ?1) AND (?2 = 0 OR send_id = ?2) ORDER BY id LIMIT ?3";

enum merr outbox_counts(struct db *db, long long send_id, struct outbox_counts *out)
{
    sqlite3_stmt *st = db_stmt(db, send_id ? SQL_COUNTS_SEND : SQL_COUNTS_ALL);
    int src;

    memset(out, 0, sizeof *out);
    if (!st)
        return MERR_DB;
    if (send_id)
        sqlite3_bind_int64(st, 1, send_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        for (int s = 0; s <= OUTBOX_CANCELLED; s++)
            out->by_state[s] = sqlite3_column_int64(st, s);
    return db_row_end(db, st, src, MERR_OK, "count envelopes");
}

enum merr outbox_send_get(struct db *db, long long send_id, struct outbox_send *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SEND_GET);
    enum merr rc = MERR_OK;
    int src;

    memset(out, 0, sizeof *out);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, send_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        out->id = send_id;
        int kind = outbox_kind_parse((const char *)sqlite3_column_text(st, 0));
        out->kind = kind < 0 ? OUTBOX_SHARE : (enum outbox_kind)kind;
        db_col_copy(st, 1, out->status, sizeof out->status);
        out->list_id = sqlite3_column_int64(st, 2);
        out->plan_json = db_col_dup(st, 3);
        out->salt = db_col_dup(st, 4);
        out->created_at = (time_t)sqlite3_column_int64(st, 5);
        if (!out->plan_json || !out->salt)
            rc = merr_set(MERR_NOMEM, "out of memory");
    } else if (src == SQLITE_DONE) {
        rc = merr_set(MERR_NOTFOUND, "no send %lld", send_id);
    } else {
        rc = db_fail(db, src, "load send");
    }
    sqlite3_reset(st);
    if (rc)
        outbox_send_clear(out);
    return rc;
}

void outbox_send_clear(struct outbox_send *s)
{
    if (!s)
        return;
    free(s->plan_json);
    free(s->salt);
    s->plan_json = NULL;
    s->salt = NULL;
}

/*
 * Reads the state (text column 0) and, when `send_id` is not NULL, the send
 * (column 1) of the row `sql` finds for ?1 = id: a send or an envelope, as
 * `what` says. MERR_NOTFOUND ("no WHAT ID") if there is none.
 */
static enum merr load_state(struct db *db, const char *sql, long long id, const char *what,
                            char *state, size_t size, long long *send_id)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    char where[32];
    enum merr rc;
    int src;

    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        db_col_copy(st, 0, state, size);
        if (send_id)
            *send_id = sqlite3_column_int64(st, 1);
    }
    snprintf(where, sizeof where, "load %s", what);
    rc = db_row_end(db, st, src, MERR_NOTFOUND, where);
    if (rc == MERR_NOTFOUND)
        return merr_set(MERR_NOTFOUND, "no %s %lld", what, id);
    return rc;
}

enum merr outbox_send_cancel(struct db *db, long long send_id, time_t now, long long *cancelled)
{
    char status[16] = "";
    enum merr rc;

    if (cancelled)
        *cancelled = 0;
    rc = db_begin(db);
    if (rc)
        return rc;
    rc = load_state(db, SQL_SEND_STATUS, send_id, "send", status, sizeof status, NULL);
    if (!rc && (!strcmp(status, "done") || !strcmp(status, "cancelled")))
        rc = merr_set(MERR_INVAL, "send %lld is already %s", send_id, status);
    if (!rc)
        rc = outbox_store_run_ints(db, SQL_SEND_CANCEL, send_id, now, "cancel send");
    if (!rc)
        rc = outbox_store_run_ints(db, OUTBOX_SQL_CANCEL_SEND_ENVELOPES, send_id, now,
                                   "cancel envelopes");
    if (rc)
        goto out;
    if (cancelled)
        *cancelled = db_changes(db);
    rc = db_commit(db);
out:
    if (rc)
        db_rollback(db);
    return rc;
}

enum merr outbox_retry(struct db *db, long long envelope_id, time_t now)
{
    char state[16] = "";
    long long send_id = 0;
    enum merr rc;

    rc = db_begin(db);
    if (rc)
        return rc;
    rc = load_state(db, SQL_ENVELOPE_STATE, envelope_id, "envelope", state, sizeof state, &send_id);
    if (!rc && strcmp(state, "deferred") != 0 && strcmp(state, "failed") != 0)
        rc = merr_set(MERR_INVAL, "envelope %lld is %s: only deferred or failed ones are retried",
                      envelope_id, state);
    if (!rc)
        rc = outbox_store_run_ints(db, SQL_RETRY_ONE, envelope_id, now, "retry envelope");
    if (!rc)
        rc = outbox_store_run_ints(db, SQL_SEND_REOPEN, send_id, 0, "reopen send");
    if (rc)
        goto out;
    rc = db_commit(db);
out:
    if (rc)
        db_rollback(db);
    return rc;
}

enum merr outbox_retry_all_deferred(struct db *db, time_t now, long long *n)
{
    enum merr rc;

    *n = 0;
    rc = outbox_store_run_ints(db, SQL_RETRY_DEFERRED, now, 0, "retry deferred");
    if (!rc)
        *n = db_changes(db);
    return rc;
}

enum merr outbox_list(struct db *db, int state, long long send_id, size_t limit,
                      struct outbox_row **out, size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST);
    struct outbox_row *v;
    size_t count = 0;
    int src;

    *out = NULL;
    *n = 0;
    if (!st)
        return MERR_DB;
    if (limit == 0)
        limit = 100;
    v = calloc(limit, sizeof *v);
    if (!v)
        return merr_set(MERR_NOMEM, "out of memory");
    if (state >= 0)
        sqlite3_bind_text(st, 1, outbox_state_name((enum outbox_state)state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, send_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    while ((src = sqlite3_step(st)) == SQLITE_ROW && count < limit) {
        struct outbox_row *r = &v[count++];
        r->id = sqlite3_column_int64(st, 0);
        r->send_id = sqlite3_column_int64(st, 1);
        r->state = (enum outbox_state)outbox_state_parse((const char *)sqlite3_column_text(st, 2));
        r->attempts = sqlite3_column_int(st, 3);
        r->last_code = sqlite3_column_int(st, 4);
        r->next_attempt_at = (time_t)sqlite3_column_int64(st, 5);
        r->updated_at = (time_t)sqlite3_column_int64(st, 6);
        db_col_copy(st, 7, r->recipient, sizeof r->recipient);
        db_col_copy(st, 8, r->last_text, sizeof r->last_text);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE && src != SQLITE_ROW) {
        free(v);
        return db_fail(db, src, "list envelopes");
    }
    *out = v;
    *n = count;
    return MERR_OK;
}

/* ---- listing sends ---- */

/*
 * The page of sends first (newest first by id: a backwards walk of the
 * rowid, no sort), then for each send its row of the maintained counters
 * (send_counts): a million-envelope send costs one lookup.
 * The count columns follow enum outbox_state.
 */
static const char SQL_SEND_LIST[] =
    "WITH page AS (SELECT id, kind, status, list_id, created_at, finished_at FROM sends "
    " WHERE (?1 = 0 OR id = ?1) AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR status = ?3) "
    " AND (?4 = 0 OR list_id = ?4) AND (?5 = 0 OR id < ?5) ORDER BY id DESC LIMIT ?6) "
    "SELECT p.id, p.kind, p.status, coalesce(p.list_id, 0), p.created_at, "
    " coalesce(p.finished_at, 0), "
    " coalesce(c.queued, 0), coalesce(c.sending, 0), coalesce(c.sent, 0), "
    " coalesce(c.deferred, 0), coalesce(c.failed, 0), coalesce(c.cancelled, 0) "
    "FROM page p LEFT JOIN send_counts c ON c.send_id = p.id ORDER BY p.id DESC";

static int one_of(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(s, *names) == 0)
            return 1;
    return 0;
}

enum merr outbox_send_list(struct db *db, const struct outbox_send_filter *f,
                           struct outbox_send_row **out, size_t *n)
{
    static const char *const statuses[] = {"active", "paused", "done", "cancelled", NULL};
    size_t limit = f->limit ? f->limit : OUTBOX_SEND_LIST_DEFAULT, len = 0;
    struct outbox_send_row *v = NULL;
    sqlite3_stmt *st;
    enum merr rc = MERR_OK;
    int src = SQLITE_DONE;

    *out = NULL;
    *n = 0;
    if (f->kind && outbox_kind_parse(f->kind) < 0)
        return merr_set(MERR_INVAL, "kind \"%.40s\": share, digest, confirm, breaking or test",
                        f->kind);
    if (f->status && !one_of(f->status, statuses))
        return merr_set(MERR_INVAL, "status \"%.40s\": active, paused, done or cancelled",
                        f->status);
    if (limit > OUTBOX_SEND_LIST_MAX)
        return merr_set(MERR_INVAL, "limit %zu: at most %d", limit, OUTBOX_SEND_LIST_MAX);
    v = calloc(limit, sizeof *v);
    if (!v)
        return merr_set(MERR_NOMEM, "out of memory");
    st = db_stmt(db, SQL_SEND_LIST);
    if (!st) {
        free(v);
        return MERR_DB;
    }
    sqlite3_bind_int64(st, 1, f->id);
    if (f->kind)
        sqlite3_bind_text(st, 2, f->kind, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    if (f->status)
        sqlite3_bind_text(st, 3, f->status, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, f->list_id);
    sqlite3_bind_int64(st, 5, f->before);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)limit);
    while (len < limit && (src = sqlite3_step(st)) == SQLITE_ROW) {
        struct outbox_send_row *r = &v[len++];
        r->id = sqlite3_column_int64(st, 0);
        db_col_copy(st, 1, r->kind, sizeof r->kind);
        db_col_copy(st, 2, r->status, sizeof r->status);
        r->list_id = sqlite3_column_int64(st, 3);
        r->created_at = (time_t)sqlite3_column_int64(st, 4);
        r->finished_at = (time_t)sqlite3_column_int64(st, 5);
        for (int k = 0; k <= OUTBOX_CANCELLED; k++) {
            r->counts.by_state[k] = sqlite3_column_int64(st, 6 + k);
            r->total += r->counts.by_state[k];
        }
    }
    if (len < limit && src != SQLITE_DONE)
        rc = db_fail(db, src, "list sends");
    sqlite3_reset(st);
    if (rc || !len) {
        free(v);
        return rc;
    }
    *out = v;
    *n = len;
    return MERR_OK;
}

static const char SQL_PAUSE[] =
    "UPDATE sends SET status = 'paused' WHERE id = ?1 AND status = 'active'";
static const char SQL_RESUME[] =
    "UPDATE sends SET status = 'active' WHERE id = ?1 AND status = 'paused'";

/* Runs the guarded transition `sql` on send `send_id`; *changed: it applied. */
static enum merr transition(struct db *db, const char *sql, long long send_id, int *changed)
{
    enum merr rc = outbox_store_run_ints(db, sql, send_id, 0, "send status");
    *changed = !rc && db_changes(db) > 0;
    return rc;
}

enum merr outbox_send_pause(struct db *db, long long send_id)
{
    char status[16];
    int changed;
    enum merr rc = transition(db, SQL_PAUSE, send_id, &changed);
    if (rc || changed)
        return rc;
    rc = load_state(db, SQL_SEND_STATUS, send_id, "send", status, sizeof status, NULL);
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
    enum merr rc = transition(db, SQL_RESUME, send_id, &changed);
    if (rc)
        return rc;
    if (!changed) {
        rc = load_state(db, SQL_SEND_STATUS, send_id, "send", status, sizeof status, NULL);
        if (rc)
            return rc;
        if (strcmp(status, "active") != 0)
            return merr_set(MERR_INVAL, "send %lld is %s: only a paused send can be resumed",
                            send_id, status);
    }
    return outbox_send_finish_if_idle(db, send_id, now);
}
