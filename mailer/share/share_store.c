/*
 * share_store.c: the SQL of the share feature (share_log). The table is
 * created by migration 0004; its rows are written only here, in the same
 * transaction as the share's send and envelopes.
 */
#include "share_store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "outbox.h"
#include "share.h"

static const char SQL_LOG[] =
    "INSERT INTO share_log(article_id, send_id, sender_email, sender_name, client_ip, "
    "recipients, created_at, form_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_BY_FORM[] = "SELECT coalesce(send_id, 0) FROM share_log WHERE form_key = ?1";

enum merr share_store_by_form(struct db *db, const char *form_key, long long *send_id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_BY_FORM);
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, form_key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *send_id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return MERR_OK;
    }
    sqlite3_reset(st);
    if (src == SQLITE_DONE)
        return MERR_NOTFOUND;
    return db_fail(db, src, "share log");
}

enum merr share_store_log(struct db *db, const char *article_id, long long send_id,
                          const char *sender_email, const char *sender_name, const char *client_ip,
                          size_t recipients, const char *form_key)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LOG);

    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, article_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, send_id);
    sqlite3_bind_text(st, 3, sender_email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sender_name ? sender_name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, client_ip ? client_ip : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)recipients);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)date_now());
    if (form_key)
        sqlite3_bind_text(st, 8, form_key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    return db_step_done(db, st, "share log");
}

/* ---- erasing a sender (mailer sub erase) and showing their shares ---- */

/*
 * The share_log rows of one sender are found by lower(sender_email), the
 * key the address was stored under (sender.ascii, domain lower-cased).
 * Their sends lose the sender's name, address and note from the plan (the
 * article stays) and whatever of them is not sent yet is withdrawn: a
 * message presenting someone who asked to be erased is not sent on.
 */
static const char SQL_SENDER_SENDS[] =
    "SELECT DISTINCT send_id FROM share_log WHERE lower(sender_email) = ?1 AND send_id IS NOT NULL";
static const char SQL_ERASE_SENDER[] =
    "UPDATE share_log SET sender_email = 'erased', sender_name = '', client_ip = '' "
    "WHERE lower(sender_email) = ?1";

static enum merr withdraw_share(struct db *db, long long send_id)
{
    struct outbox_send s;
    json_t *plan = NULL, *anon = NULL;
    char *text = NULL;
    long long cancelled;
    enum merr rc = outbox_send_get(db, send_id, &s);

    if (rc == MERR_NOTFOUND)
        return MERR_OK; /* the send was deleted; share_log keeps send_id NULL or stale */
    if (rc)
        return rc;
    plan = json_loads(s.plan_json, 0, NULL);
    anon = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", outbox_kind_name(OUTBOX_SHARE), "article",
                     json_string_value(json_object_get(plan, "article"))
                         ? json_string_value(json_object_get(plan, "article"))
                         : "",
                     "sender_name", "", "sender_email", "erased", "note", "");
    text = anon ? json_dumps(anon, JSON_COMPACT) : NULL;
    if (!text)
        rc = merr_set(MERR_NOMEM, "out of memory");
    else
        rc = outbox_send_withdraw(db, send_id, text, &cancelled);
    free(text);
    json_decref(anon);
    json_decref(plan);
    outbox_send_clear(&s);
    return rc;
}

enum merr share_erase_sender(struct db *db, const char *email_key, long long *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SENDER_SENDS);
    long long *ids = NULL;
    size_t nids = 0, cap = 0;
    enum merr rc = MERR_OK;
    int src;

    *n = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, email_key, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (nids == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            long long *p = realloc(ids, ncap * sizeof *p);
            if (!p) {
                rc = merr_set(MERR_NOMEM, "out of memory");
                break;
            }
            ids = p;
            cap = ncap;
        }
        ids[nids++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (!rc && src != SQLITE_DONE)
        rc = db_fail(db, src, "share log");
    for (size_t i = 0; !rc && i < nids; i++)
        rc = withdraw_share(db, ids[i]);
    free(ids);
    if (rc)
        return rc;
    st = db_stmt(db, SQL_ERASE_SENDER);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, email_key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return db_fail(db, src, "share log");
    *n = db_changes(db);
    return MERR_OK;
}

static const char SQL_SENDER_COUNT[] =
    "SELECT count(*) FROM share_log WHERE lower(sender_email) = ?1";
static const char SQL_SENDER_LOG[] =
    "SELECT id, article_id, send_id, sender_name, client_ip, recipients, created_at "
    "FROM share_log WHERE lower(sender_email) = ?1 ORDER BY id DESC LIMIT ?2";

enum merr share_person_summary(struct db *db, const char *email_key, struct share_person *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SENDER_LOG);
    int src;

    memset(out, 0, sizeof *out);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, email_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, SHARE_PERSON_LAST);
    while ((src = sqlite3_step(st)) == SQLITE_ROW && out->n < SHARE_PERSON_LAST) {
        struct share_person_row *r = &out->last[out->n++];
        const unsigned char *t;
        r->id = sqlite3_column_int64(st, 0);
        t = sqlite3_column_text(st, 1);
        snprintf(r->article_id, sizeof r->article_id, "%s", t ? (const char *)t : "");
        r->send_id = sqlite3_column_int64(st, 2);
        t = sqlite3_column_text(st, 3);
        snprintf(r->sender_name, sizeof r->sender_name, "%s", t ? (const char *)t : "");
        t = sqlite3_column_text(st, 4);
        snprintf(r->client_ip, sizeof r->client_ip, "%s", t ? (const char *)t : "");
        r->recipients = sqlite3_column_int64(st, 5);
        r->created_at = (time_t)sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        return db_fail(db, src, "share log");
    st = db_stmt(db, SQL_SENDER_COUNT);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, email_key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        out->total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return src == SQLITE_ROW ? MERR_OK : db_fail(db, src, "share log");
}

static const char SQL_TOP[] =
    "SELECT article_id, sum(shares), sum(recipients) FROM share_counts WHERE day >= ?1 "
    "GROUP BY article_id ORDER BY 2 DESC, 3 DESC, article_id LIMIT ?2";

enum merr share_top(struct db *db, time_t now, int days, struct share_top_row *out, size_t max,
                    size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_TOP);
    char first[11];
    struct tm tm;
    int src;

    *n = 0;
    if (!st)
        return MERR_DB;
    localtime_r(&now, &tm);
    tm.tm_mday -= days - 1;
    tm.tm_hour = 12;
    tm.tm_isdst = -1;
    outbox_day_key(mktime(&tm), first);
    sqlite3_bind_text(st, 1, first, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    while ((src = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
        struct share_top_row *r = &out[(*n)++];
        db_col_copy(st, 0, r->article_id, sizeof r->article_id);
        r->shares = sqlite3_column_int64(st, 1);
        r->recipients = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return src == SQLITE_ROW ? MERR_OK : db_fail(db, src, "share counts");
}
