/*
 * outbox_store.c: the statements of delivery on `sends` and `envelopes`:
 * creating and enqueueing, claims and leases, results, and erasing a
 * person. The outbox's SQL is only in its store files (this one,
 * outbox_store_admin.c, outbox_store_bounce.c), so another store can
 * stand behind outbox.h.
 *
 * Claims are one UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING
 * inside BEGIN IMMEDIATE: the row locks SQLite lacks are replaced by its
 * single writer, so two workers (threads or processes) can never claim the
 * same envelope. The SELECT walks the (state, next_attempt_at) index with
 * no ORDER BY, so a claim costs the same with ten or a million envelopes
 * queued. A claimed envelope carries lease_until, which the process that
 * holds it renews while it does (outbox_lease_renew); a crashed worker's
 * envelopes return to queued once it passes (outbox_reclaim_expired).
 *
 * outbox_record applies a batch of results inside the caller's transaction
 * (the group commit of the delivery writer, through outcome_apply) and then
 * closes the sends left without work. A result never turns a `sent` envelope back into something
 * else: if a lease expired and the message went out twice, the first success stands.
 *
 * outbox_enqueue_list copies a list's audience (the view list_audience,
 * which subscribers' migration owns) into envelopes with a single INSERT
 * ... SELECT; UNIQUE(send_id, subscriber_id) with ON CONFLICT DO NOTHING
 * makes a second run add nothing. Consent is not the outbox's: no
 * statement here names a table of subscribers', and the check right before
 * sending is the claim's gate (subscribers answers it), so that a person
 * who left or was suppressed since the enqueue is not mailed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "outbox.h"
#include "outbox_store_int.h"
#include "rnd.h"

/* sends_by_kind_time narrows to the recent sends of the kind; their envelopes by send */
static const char SQL_COUNT_SINCE[] =
    "SELECT count(*) FROM sends s JOIN envelopes e ON e.send_id = s.id "
    "WHERE s.kind = ?1 AND s.created_at >= ?2 AND (?3 IS NULL OR lower(e.recipient) = lower(?3))";

enum merr outbox_count_since(struct db *db, enum outbox_kind kind, const char *recipient,
                             time_t since, long long *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_COUNT_SINCE);
    int src;
    *n = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, outbox_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
    if (recipient)
        sqlite3_bind_text(st, 3, recipient, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    return db_row_end(db, st, src, MERR_OK, "envelopes");
}

static const char SQL_SEND_CREATE[] =
    "INSERT INTO sends(kind, list_id, plan, salt, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";

static const char SQL_ENVELOPE_ADD[] =
    "INSERT INTO envelopes(send_id, subscriber_id, recipient, name, next_attempt_at, "
    "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5)";

static const char SQL_ENQUEUE_LIST[] =
    "INSERT INTO envelopes(send_id, subscriber_id, recipient, name, next_attempt_at, "
    "created_at, updated_at) "
    "SELECT ?1, subscriber_id, recipient, name, ?3, ?3, ?3 FROM list_audience "
    "WHERE list_id = ?2 "
    "ON CONFLICT (send_id, subscriber_id) DO NOTHING";

static const char SQL_CLAIM[] =
    "UPDATE envelopes SET state = 'sending', lease_until = ?1 + ?2, attempts = attempts + 1, "
    "updated_at = ?1 "
    "WHERE id IN (SELECT e.id FROM envelopes e JOIN sends s ON s.id = e.send_id "
    "WHERE e.state IN ('deferred', 'queued') AND e.next_attempt_at <= ?1 "
    "AND s.status = 'active' LIMIT ?3) "
    "RETURNING id, send_id, subscriber_id, recipient, name, attempts, created_at, "
    "(SELECT kind FROM sends s WHERE s.id = envelopes.send_id), "
    "coalesce((SELECT list_id FROM sends s WHERE s.id = envelopes.send_id), 0)";

static const char SQL_CANCEL_ONE[] =
    "UPDATE envelopes SET state = 'cancelled', lease_until = NULL, attempts = attempts - 1, "
    "last_code = NULL, last_text = ?2, updated_at = ?3 WHERE id = ?1";

static const char SQL_RECLAIM[] =
    "UPDATE envelopes SET state = 'queued', lease_until = NULL, updated_at = ?1 "
    "WHERE state = 'sending' AND lease_until < ?1";

/* Up to RENEW_IDS envelopes by id (rowid lookups), ?1 the new lease end; unused ids are NULL. */
#define RENEW_IDS 32
static const char SQL_RENEW[] =
    "UPDATE envelopes SET lease_until = ?1 WHERE state = 'sending' AND id IN ("
    "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
    "?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)";

/*
 * Records up to RECORD_ROWS results at once: rows (id, state, code, text,
 * next_attempt_at) in ?1..?40, now in ?41; unused rows keep NULL ids and
 * match nothing. An envelope in a final state is never changed again: a sent
 * one, and one that a bounce failed meanwhile (results are committed in
 * rounds, after the message left; the DSN may come first); sent_at is set
 * when the new state is 'sent'; RETURNING gives the sends to finish. One execution per commit
 * instead of one per result (a commit carries ~3 results). Each envelope is looked up by rowid
 * (SCAN v, SEARCH envelopes USING INTEGER PRIMARY KEY). Ids must be distinct within one execution
 * (UPDATE ... FROM leaves it undefined which row of v applies): outbox_record starts a new
 * execution at a repeated id, so results still apply in order.
 */
#define RECORD_ROWS 8
static const char SQL_RECORD_MANY[] =
    "UPDATE envelopes SET state = v.column2, lease_until = NULL, last_code = v.column3, "
    "last_text = v.column4, next_attempt_at = v.column5, updated_at = ?41, "
    "sent_at = CASE WHEN v.column2 = 'sent' THEN ?41 ELSE sent_at END FROM (VALUES "
    "(?1, ?2, ?3, ?4, ?5), "
    "(?6, ?7, ?8, ?9, ?10), "
    "(?11, ?12, ?13, ?14, ?15), "
    "(?16, ?17, ?18, ?19, ?20), "
    "(?21, ?22, ?23, ?24, ?25), "
    "(?26, ?27, ?28, ?29, ?30), "
    "(?31, ?32, ?33, ?34, ?35), "
    "(?36, ?37, ?38, ?39, ?40)"
    ") AS v WHERE envelopes.id = v.column1 AND envelopes.state NOT IN ('sent', 'failed', "
    "'cancelled') RETURNING send_id, state";

/* New envelopes are counted by the code that inserts them (one UPDATE per INSERT ... SELECT). */
static const char SQL_COUNTS_ADD_QUEUED[] =
    "UPDATE send_counts SET queued = queued + ?2 WHERE send_id = ?1";

static const char SQL_SEND_FINISH[] =
    "UPDATE sends SET status = 'done', finished_at = ?2 WHERE id = ?1 AND status = 'active' "
    "AND NOT EXISTS (SELECT 1 FROM envelopes WHERE send_id = ?1 "
    "AND state IN ('queued', 'sending', 'deferred'))";

const char OUTBOX_SQL_CANCEL_SEND_ENVELOPES[] =
    "UPDATE envelopes SET state = 'cancelled', lease_until = NULL, "
    "last_text = 'send cancelled', updated_at = ?2 "
    "WHERE send_id = ?1 AND state IN ('queued', 'deferred')";

static const char SQL_CANCEL_SUBSCRIBER[] =
    "UPDATE envelopes SET state = 'cancelled', lease_until = NULL, "
    "last_text = 'subscriber left', updated_at = ?3 "
    "WHERE subscriber_id = ?1 AND state IN ('queued', 'deferred') AND send_id IN "
    "(SELECT id FROM sends WHERE status IN ('active', 'paused') "
    "AND (?2 = 0 OR list_id = ?2)) RETURNING send_id";

enum merr outbox_store_run_ints(struct db *db, const char *sql, long long a, long long b,
                                const char *what)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, b);
    return db_step_done(db, st, what);
}

enum merr outbox_send_create(struct db *db, enum outbox_kind kind, long long list_id,
                             const char *plan_json, long long *send_id)
{
    sqlite3_stmt *st;
    char salt[33];
    enum merr rc;

    *send_id = 0;
    if (outbox_kind_parse(outbox_kind_name(kind)) < 0)
        return merr_set(MERR_INVAL, "send: kind %d is not a kind of send", (int)kind);
    st = db_stmt(db, SQL_SEND_CREATE);
    if (!st)
        return MERR_DB;
    rnd_hex(salt, 16);
    sqlite3_bind_text(st, 1, outbox_kind_name(kind), -1, SQLITE_STATIC);
    if (list_id > 0)
        sqlite3_bind_int64(st, 2, list_id);
    sqlite3_bind_text(st, 3, plan_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, salt, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)date_now());
    rc = db_step_done(db, st, "create send");
    if (rc == MERR_EXISTS)
        return merr_set(MERR_INVAL, "send: kind \"%s\" or list %lld refused",
                        outbox_kind_name(kind), list_id);
    if (!rc)
        *send_id = sqlite3_last_insert_rowid(db_sqlite(db));
    return rc;
}

enum merr outbox_envelope_add(struct db *db, long long send_id, long long subscriber_id,
                              const char *recipient, const char *name, long long *envelope_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ENVELOPE_ADD);
    enum merr rc;

    if (envelope_id)
        *envelope_id = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, send_id);
    if (subscriber_id > 0)
        sqlite3_bind_int64(st, 2, subscriber_id);
    sqlite3_bind_text(st, 3, recipient, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)date_now());
    rc = db_step_done(db, st, "add envelope");
    if (rc == MERR_EXISTS)
        return merr_set(MERR_EXISTS, "subscriber %lld already has an envelope in send %lld",
                        subscriber_id, send_id);
    if (!rc && envelope_id)
        *envelope_id = sqlite3_last_insert_rowid(db_sqlite(db));
    if (!rc)
        rc = outbox_store_run_ints(db, SQL_COUNTS_ADD_QUEUED, send_id, 1, "count envelope");
    return rc;
}

enum merr outbox_enqueue_list(struct db *db, long long send_id, long long list_id, long long *added)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ENQUEUE_LIST);
    enum merr rc;

    *added = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, send_id);
    sqlite3_bind_int64(st, 2, list_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)date_now());
    rc = db_step_done(db, st, "enqueue list");
    if (!rc)
        *added = db_changes(db);
    if (!rc && *added)
        rc = outbox_store_run_ints(db, SQL_COUNTS_ADD_QUEUED, send_id, *added, "count envelopes");
    return rc;
}

static const char SQL_ENVELOPE_OF[] =
    "SELECT id, coalesce(subscriber_id, 0), recipient, name, attempts, created_at FROM envelopes "
    "WHERE send_id = ?1 AND lower(recipient) = ?2 ORDER BY id LIMIT 1";

enum merr outbox_envelope_of(struct db *db, long long send_id, const char *email_key,
                             struct outbox_envelope *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ENVELOPE_OF);
    enum merr rc = MERR_OK;
    int src;

    memset(out, 0, sizeof *out);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, send_id);
    sqlite3_bind_text(st, 2, email_key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->send_id = send_id;
        out->subscriber_id = sqlite3_column_int64(st, 1);
        out->recipient = db_col_dup(st, 2);
        out->name = db_col_dup(st, 3);
        out->attempts = sqlite3_column_int(st, 4);
        out->created_at = (time_t)sqlite3_column_int64(st, 5);
        if (!out->recipient || !out->name)
            rc = merr_set(MERR_NOMEM, "out of memory");
    }
    enum merr end = db_row_end(db, st, src, MERR_NOTFOUND, "envelope of a send");
    if (!rc)
        rc = end;
    if (rc) {
        free(out->recipient);
        free(out->name);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

void outbox_envelopes_free(struct outbox_envelope *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].recipient);
        free(v[i].name);
    }
    free(v);
}

/*
 * Drops the envelopes the gate refuses (cancelled with its reason); runs
 * inside the claim. On an error `*n` still counts every envelope not freed,
 * so the caller frees them all.
 */
static enum merr claim_check(struct db *db, time_t now, const struct outbox_gate *gate,
                             struct outbox_envelope *v, size_t *n, long long *cancelled)
{
    size_t kept = 0, i = 0;
    long long last_send = 0;
    enum merr rc = MERR_OK;

    for (; i < *n; i++) {
        sqlite3_stmt *st;
        char reason[128] = "";
        if (gate && (rc = gate->check(gate->arg, db, &v[i], reason, sizeof reason)))
            break;
        if (!reason[0]) {
            v[kept++] = v[i];
            continue;
        }
        st = db_stmt(db, SQL_CANCEL_ONE);
        if (!st) {
            rc = MERR_DB;
            break;
        }
        sqlite3_bind_int64(st, 1, v[i].id);
        sqlite3_bind_text(st, 2, reason, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
        rc = db_step_done(db, st, "cancel envelope");
        if (!rc && cancelled)
            (*cancelled)++;
        if (!rc && v[i].send_id != last_send) {
            last_send = v[i].send_id;
            rc = outbox_send_finish_if_idle(db, v[i].send_id, now);
        }
        free(v[i].recipient);
        free(v[i].name);
        if (rc) {
            i++;
            break;
        }
    }
    for (; i < *n; i++)
        v[kept++] = v[i];
    *n = kept;
    return rc;
}

enum merr outbox_claim(struct db *db, time_t now, int lease_seconds, size_t max,
                       const struct outbox_gate *gate, struct outbox_envelope **out, size_t *n,
                       long long *cancelled)
{
    struct outbox_envelope *v = NULL;
    size_t count = 0;
    sqlite3_stmt *st;
    enum merr rc;
    int src;

    *out = NULL;
    *n = 0;
    if (cancelled)
        *cancelled = 0;
    if (max == 0)
        return MERR_OK;
    v = calloc(max, sizeof *v);
    if (!v)
        return merr_set(MERR_NOMEM, "out of memory");
    rc = db_begin(db);
    if (rc)
        goto out;
    st = db_stmt(db, SQL_CLAIM);
    if (!st) {
        rc = MERR_DB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    sqlite3_bind_int(st, 2, lease_seconds);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct outbox_envelope *e;
        if (count == max)
            continue; /* cannot happen: LIMIT; step to the end all the same */
        e = &v[count++];
        e->id = sqlite3_column_int64(st, 0);
        e->send_id = sqlite3_column_int64(st, 1);
        e->subscriber_id = sqlite3_column_int64(st, 2);
        e->recipient = db_col_dup(st, 3);
        e->name = db_col_dup(st, 4);
        e->attempts = sqlite3_column_int(st, 5);
        e->created_at = (time_t)sqlite3_column_int64(st, 6);
        int kind = outbox_kind_parse((const char *)sqlite3_column_text(st, 7));
        e->kind = kind < 0 ? OUTBOX_SHARE : (enum outbox_kind)kind;
        e->list_id = sqlite3_column_int64(st, 8);
        if (!e->recipient || !e->name) {
            sqlite3_reset(st);
            rc = merr_set(MERR_NOMEM, "out of memory");
            goto out;
        }
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE) {
        rc = db_fail(db, src, "claim envelopes");
        goto out;
    }
    rc = claim_check(db, now, gate, v, &count, cancelled);
    if (rc)
        goto out;
    rc = db_commit(db);
out:
    if (rc) {
        db_rollback(db);
        outbox_envelopes_free(v, count);
        if (cancelled)
            *cancelled = 0;
        return rc;
    }
    if (count == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = count;
    return MERR_OK;
}

enum merr outbox_reclaim_expired(struct db *db, time_t now, long long *reclaimed)
{
    enum merr rc;

    if (reclaimed)
        *reclaimed = 0;
    rc = outbox_store_run_ints(db, SQL_RECLAIM, now, 0, "reclaim leases");
    if (!rc && reclaimed)
        *reclaimed = db_changes(db);
    return rc;
}

enum merr outbox_lease_renew(struct db *db, const long long *ids, size_t n, time_t until,
                             long long *renewed)
{
    long long count = 0;
    enum merr rc;

    if (renewed)
        *renewed = 0;
    if (n == 0)
        return MERR_OK;
    rc = db_begin(db);
    for (size_t i = 0; !rc && i < n; i += RENEW_IDS) {
        sqlite3_stmt *st = db_stmt(db, SQL_RENEW);
        if (!st) {
            rc = MERR_DB;
            break;
        }
        sqlite3_bind_int64(st, 1, (sqlite3_int64)until);
        for (size_t k = 0; k < RENEW_IDS; k++) {
            if (i + k < n)
                sqlite3_bind_int64(st, (int)k + 2, ids[i + k]);
            else
                sqlite3_bind_null(st, (int)k + 2);
        }
        rc = db_step_done(db, st, "renew leases");
        if (!rc)
            count += db_changes(db);
    }
    if (!rc)
        rc = db_commit(db);
    if (rc) {
        db_rollback(db);
        return rc;
    }
    if (renewed)
        *renewed = count;
    return MERR_OK;
}

enum merr outbox_send_finish_if_idle(struct db *db, long long send_id, time_t now)
{
    return outbox_store_run_ints(db, SQL_SEND_FINISH, send_id, now, "finish send");
}

static int has_id(const long long *v, size_t n, long long id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

/*
 * Steps `st`, a bound UPDATE ... RETURNING send_id, to its end, then closes
 * each send it touched that is left without work. *rows (unless NULL) gets
 * the number of rows it returned.
 */
static enum merr finish_returned_sends(struct db *db, sqlite3_stmt *st, time_t now,
                                       const char *what, long long *rows)
{
    long long *sends = NULL, count = 0;
    size_t nsends = 0, cap = 0;
    enum merr rc = MERR_OK;
    int src;

    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        long long sid = sqlite3_column_int64(st, 0);
        count++;
        if (has_id(sends, nsends, sid))
            continue;
        if (nsends == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            long long *p = realloc(sends, ncap * sizeof *p);
            if (!p) {
                rc = merr_set(MERR_NOMEM, "out of memory");
                break;
            }
            sends = p;
            cap = ncap;
        }
        sends[nsends++] = sid;
    }
    sqlite3_reset(st);
    if (!rc && src != SQLITE_DONE)
        rc = db_fail(db, src, what);
    for (size_t i = 0; !rc && i < nsends; i++)
        rc = outbox_send_finish_if_idle(db, sends[i], now);
    free(sends);
    if (!rc && rows)
        *rows = count;
    return rc;
}

enum merr outbox_record(struct db *db, const struct outbox_result *r, size_t n, time_t now)
{
    long long *sends = NULL, day[OUTBOX_DAILY_KINDS] = {0};
    size_t nsends = 0;
    enum merr rc = MERR_OK;

    if (n == 0)
        return MERR_OK;
    sends = calloc(n, sizeof *sends);
    if (!sends)
        return merr_set(MERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n;) {
        sqlite3_stmt *st = db_stmt(db, SQL_RECORD_MANY);
        long long ids[RECORD_ROWS];
        size_t k = 0;
        int src;
        if (!st) {
            rc = MERR_DB;
            goto out;
        }
        /* a chunk ends before a repeated id, so results apply in order */
        for (; i < n && k < RECORD_ROWS && !has_id(ids, k, r[i].envelope_id); i++, k++) {
            int p = (int)k * 5;
            ids[k] = r[i].envelope_id;
            sqlite3_bind_int64(st, p + 1, r[i].envelope_id);
            sqlite3_bind_text(st, p + 2, outbox_state_name(r[i].state), -1, SQLITE_STATIC);
            if (r[i].code)
                sqlite3_bind_int(st, p + 3, r[i].code);
            sqlite3_bind_text(st, p + 4, r[i].text, (int)strnlen(r[i].text, sizeof r[i].text),
                              SQLITE_STATIC);
            sqlite3_bind_int64(
                st, p + 5,
                (sqlite3_int64)(r[i].state == OUTBOX_DEFERRED ? r[i].next_attempt_at : now));
        }
        sqlite3_bind_int64(st, 5 * RECORD_ROWS + 1, (sqlite3_int64)now);
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            long long sid = sqlite3_column_int64(st, 0);
            int state = outbox_state_parse((const char *)sqlite3_column_text(st, 1));
            if (!has_id(sends, nsends, sid))
                sends[nsends++] = sid;
            if (state == OUTBOX_SENT)
                day[OUTBOX_DAY_SENT]++;
            else if (state == OUTBOX_DEFERRED)
                day[OUTBOX_DAY_DEFERRED]++;
            else if (state == OUTBOX_FAILED)
                day[OUTBOX_DAY_FAILED]++;
        }
        sqlite3_reset(st);
        if (src != SQLITE_DONE) {
            rc = db_fail(db, src, "record results");
            goto out;
        }
    }
    for (size_t i = 0; i < nsends; i++) {
        rc = outbox_send_finish_if_idle(db, sends[i], now);
        if (rc)
            goto out;
    }
    /* the dashboard's counters of the day, in the same transaction as the outcomes */
    rc = outbox_daily_add_all(db, now, day);
out:
    free(sends);
    return rc;
}

static const char SQL_IS_SENDING[] = "SELECT 1 FROM envelopes WHERE id = ?1 AND state = 'sending'";

enum merr outbox_record_sending(struct db *db, const struct outbox_result *r, size_t n, time_t now,
                                long long *recorded)
{
    struct outbox_result *keep = calloc(n ? n : 1, sizeof *keep);
    size_t k = 0;
    enum merr rc = MERR_OK;

    *recorded = 0;
    if (!keep)
        return merr_set(MERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_stmt *st = db_stmt(db, SQL_IS_SENDING);
        if (!st) {
            rc = MERR_DB;
            break;
        }
        sqlite3_bind_int64(st, 1, r[i].envelope_id);
        int src = sqlite3_step(st);
        rc = db_row_end(db, st, src, MERR_NOTFOUND, "is it sending");
        if (!rc)
            keep[k++] = r[i];
        else if (rc == MERR_NOTFOUND)
            rc = MERR_OK;
    }
    if (!rc)
        rc = outbox_record(db, keep, k, now);
    if (!rc)
        *recorded = (long long)k;
    free(keep);
    return rc;
}

enum merr outbox_cancel_subscriber(struct db *db, long long subscriber_id, long long list_id,
                                   long long *cancelled)
{
    sqlite3_stmt *st = db_stmt(db, SQL_CANCEL_SUBSCRIBER);
    time_t now = date_now();

    if (cancelled)
        *cancelled = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, subscriber_id);
    sqlite3_bind_int64(st, 2, list_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    return finish_returned_sends(db, st, now, "cancel subscriber's envelopes", cancelled);
}

/* ---- erasing a person (mailer sub erase) and showing what is kept ---- */

/*
 * Their envelopes are found by subscriber id or by address: a share to
 * them has no subscriber id. Not-yet-sent ones are cancelled first (any
 * send status: an erased person gets nothing more), then every one of them
 * loses the address, the name, and a reply text that quotes the address.
 * An envelope being sent right now finishes; its result is recorded on the
 * anonymised row. lower(recipient) is looked up in envelopes_by_recipient, which
 * holds only envelopes without a subscriber id (shares).
 */
static const char SQL_ERASE_CANCEL[] =
    "UPDATE envelopes SET state = 'cancelled', lease_until = NULL, "
    "last_text = 'recipient erased', updated_at = ?3 "
    "WHERE (subscriber_id = ?1 OR (subscriber_id IS NULL AND lower(recipient) = ?2)) "
    "AND state IN ('queued', 'deferred') "
    "RETURNING send_id";
static const char SQL_ERASE_ANON[] =
    "UPDATE envelopes SET recipient = 'erased', name = '', "
    "last_text = CASE WHEN instr(lower(last_text), ?2) > 0 THEN 'erased' ELSE last_text END, "
    "updated_at = ?3 WHERE subscriber_id = ?1 OR (subscriber_id IS NULL AND lower(recipient) = ?2)";

enum merr outbox_erase_recipient(struct db *db, long long subscriber_id, const char *email_key,
                                 long long *n)
{
    sqlite3_stmt *st;
    time_t now = date_now();
    enum merr rc;

    *n = 0;
    st = db_stmt(db, SQL_ERASE_CANCEL);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, subscriber_id);
    sqlite3_bind_text(st, 2, email_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    rc = finish_returned_sends(db, st, now, "cancel an erased person's envelopes", NULL);
    if (rc)
        return rc;
    st = db_stmt(db, SQL_ERASE_ANON);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, subscriber_id);
    sqlite3_bind_text(st, 2, email_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    rc = db_step_done(db, st, "anonymise an erased person's envelopes");
    if (!rc)
        *n = db_changes(db);
    return rc;
}

static const char SQL_WITHDRAW_SEND[] =
    "UPDATE sends SET plan = ?2, status = CASE WHEN status IN ('active', 'paused') "
    "THEN 'cancelled' ELSE status END, finished_at = coalesce(finished_at, ?3) WHERE id = ?1";

enum merr outbox_send_withdraw(struct db *db, long long send_id, const char *plan_json,
                               long long *cancelled)
{
    sqlite3_stmt *st;
    time_t now = date_now();
    enum merr rc;

    *cancelled = 0;
    rc = outbox_store_run_ints(db, OUTBOX_SQL_CANCEL_SEND_ENVELOPES, send_id, now,
                               "cancel envelopes");
    if (rc)
        return rc;
    *cancelled = db_changes(db);
    st = db_stmt(db, SQL_WITHDRAW_SEND);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, send_id);
    sqlite3_bind_text(st, 2, plan_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    rc = db_step_done(db, st, "withdraw send");
    if (!rc && db_changes(db) == 0)
        rc = merr_set(MERR_NOTFOUND, "no send %lld", send_id);
    return rc;
}

static const char SQL_PERSON_COUNTS[] =
    "SELECT state, count(*) FROM envelopes "
    "WHERE subscriber_id = ?1 OR (subscriber_id IS NULL AND lower(recipient) = ?2) GROUP BY state";
static const char SQL_PERSON_LAST[] =
    "SELECT e.id, e.send_id, s.kind, e.state, e.attempts, e.last_code, e.created_at, "
    "e.updated_at, e.sent_at FROM envelopes e JOIN sends s ON s.id = e.send_id "
    "WHERE e.subscriber_id = ?1 OR (e.subscriber_id IS NULL AND lower(e.recipient) = ?2) "
    "ORDER BY e.id DESC LIMIT ?3";

enum merr outbox_person_summary(struct db *db, long long subscriber_id, const char *email_key,
                                struct outbox_person *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_PERSON_COUNTS);
    int src;

    memset(out, 0, sizeof *out);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, subscriber_id);
    sqlite3_bind_text(st, 2, email_key, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int s = outbox_state_parse((const char *)sqlite3_column_text(st, 0));
        if (s >= 0)
            out->counts.by_state[s] = sqlite3_column_int64(st, 1);
        out->total += sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return db_fail(db, src, "a person's envelopes");
    st = db_stmt(db, SQL_PERSON_LAST);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, subscriber_id);
    sqlite3_bind_text(st, 2, email_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, OUTBOX_PERSON_LAST);
    while ((src = sqlite3_step(st)) == SQLITE_ROW && out->n < OUTBOX_PERSON_LAST) {
        struct outbox_person_envelope *e = &out->last[out->n++];
        int s = outbox_state_parse((const char *)sqlite3_column_text(st, 3));
        e->id = sqlite3_column_int64(st, 0);
        e->send_id = sqlite3_column_int64(st, 1);
        db_col_copy(st, 2, e->kind, sizeof e->kind);
        e->state = s < 0 ? OUTBOX_QUEUED : (enum outbox_state)s;
        e->attempts = sqlite3_column_int(st, 4);
        e->last_code = sqlite3_column_int(st, 5);
        e->created_at = (time_t)sqlite3_column_int64(st, 6);
        e->updated_at = (time_t)sqlite3_column_int64(st, 7);
        e->sent_at = (time_t)sqlite3_column_int64(st, 8);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        return db_fail(db, src, "a person's envelopes");
    return MERR_OK;
}
