/*
 * subs_store.c: all SQL on lists, subscribers, subscriptions, suppressions.
 *
 * Every statement is a `static const char SQL_X[]` literal handed to
 * db_stmt(), so it is prepared once per connection and reused: the import
 * of a million rows runs the same three statements per batch of 64 rows
 * (next id, a 64-row INSERT, an INSERT ... SELECT of the subscriptions).
 * Functions here never begin or commit: the flows own their transactions.
 * Suppressions are looked up by the hash of the email key (the primary
 * key), so an erased person, whose key is gone, is still found. The
 * import's own statements (bulk insert, connection tuning) are
 * subs_store_import.c's.
 */
#include "subs_store.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

/* ---- lists ---------------------------------------------------------- */

/* A new list is private and its digest off until an editor says otherwise (migration
 * list_visibility). */
static const char SQL_LIST_INSERT[] =
    "INSERT INTO lists(slug, name, description, optin, created_at, updated_at, public, "
    "digest_enabled) VALUES (?, ?, ?, ?, ?, ?, 0, 0)";

enum merr subs_store_list_insert(struct db *db, const char *slug, const char *name,
                                 const char *description, int double_optin, time_t now,
                                 long long *id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST_INSERT);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, description ? description : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, double_optin ? "double" : "single", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, now);
    rc = db_step_done(db, st, "lists");
    if (rc == MERR_EXISTS)
        return merr_set(MERR_EXISTS, "list \"%s\" exists already", slug);
    if (rc)
        return rc;
    *id = sqlite3_last_insert_rowid(db_sqlite(db));
    return MERR_OK;
}

#define LIST_COLS                                                                                  \
    "l.id, l.slug, l.name, l.description, l.optin, l.digest_weekday, l.digest_time, "              \
    "l.digest_category, l.digest_max_articles, l.digest_subject, l.digest_template, "              \
    "l.digest_enabled, l.created_at, l.updated_at, "                                               \
    "coalesce(c.confirmed, 0), coalesce(c.unconfirmed, 0), coalesce(c.unsubscribed, 0), "          \
    "l.public "

/* The counts are the maintained counters (list_counts, the counters migration), not a count. */
#define LIST_FROM "FROM lists l LEFT JOIN list_counts c ON c.list_id = l.id "
static const char SQL_LIST_BY_SLUG[] = "SELECT " LIST_COLS LIST_FROM "WHERE l.slug = ?";
static const char SQL_LIST_BY_ID[] = "SELECT " LIST_COLS LIST_FROM "WHERE l.id = ?";
static const char SQL_LIST_ALL[] = "SELECT " LIST_COLS LIST_FROM "ORDER BY l.slug";

/*
 * New subscriptions are counted by the code that inserts them (one UPDATE
 * per INSERT, also for an import's range of rows); the triggers of
 * the counters migration follow status changes and deletions.
 */
static const char SQL_COUNT_ADD[] =
    "UPDATE list_counts SET unconfirmed = unconfirmed + (?2 = 'unconfirmed') * ?3, "
    "confirmed = confirmed + (?2 = 'confirmed') * ?3, "
    "unsubscribed = unsubscribed + (?2 = 'unsubscribed') * ?3 WHERE list_id = ?1";
static const char SQL_SUBN_EXISTS[] =
    "SELECT 1 FROM subscriptions WHERE list_id = ?1 AND subscriber_id = ?2";

enum merr subs_store_count_add(struct db *db, long long list_id, enum subs_status status,
                               long long n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_COUNT_ADD);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_text(st, 2, subs_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, n);
    return db_step_done(db, st, "list counts");
}

static enum merr list_row(sqlite3_stmt *st, struct subs_list *l)
{
    memset(l, 0, sizeof *l);
    l->id = sqlite3_column_int64(st, 0);
    db_col_copy(st, 1, l->slug, sizeof l->slug);
    l->name = db_col_dup_null(st, 2);
    l->description = db_col_dup_null(st, 3);
    const unsigned char *optin = sqlite3_column_text(st, 4);
    l->double_optin = optin && !strcmp((const char *)optin, "double");
    l->digest_weekday = sqlite3_column_int(st, 5);
    db_col_copy(st, 6, l->digest_time, sizeof l->digest_time);
    l->digest_category = db_col_dup_null(st, 7);
    l->digest_max_articles = sqlite3_column_int(st, 8);
    l->digest_subject = db_col_dup_null(st, 9);
    l->digest_template = db_col_dup_null(st, 10);
    l->digest_enabled = sqlite3_column_int(st, 11);
    l->created_at = (time_t)sqlite3_column_int64(st, 12);
    l->updated_at = (time_t)sqlite3_column_int64(st, 13);
    l->n_confirmed = sqlite3_column_int64(st, 14);
    l->n_unconfirmed = sqlite3_column_int64(st, 15);
    l->n_unsubscribed = sqlite3_column_int64(st, 16);
    l->is_public = sqlite3_column_int(st, 17);
    if (!l->name || !l->description || !l->digest_subject || !l->digest_template ||
        (sqlite3_column_type(st, 7) != SQLITE_NULL && !l->digest_category)) {
        subs_list_clear(l);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    return MERR_OK;
}

static enum merr list_one(struct db *db, sqlite3_stmt *st, struct subs_list *out, const char *what)
{
    int src = sqlite3_step(st);
    enum merr rc;
    if (src == SQLITE_ROW) {
        rc = list_row(st, out);
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    if (src == SQLITE_DONE)
        return merr_setr(MERR_NOTFOUND, "list.not_found", "no list %s", what);
    return db_fail(db, src, "lists");
}

enum merr subs_store_list_by_slug(struct db *db, const char *slug, struct subs_list *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST_BY_SLUG);
    char what[100];
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
    snprintf(what, sizeof what, "\"%.64s\"", slug);
    return list_one(db, st, out, what);
}

enum merr subs_store_list_by_id(struct db *db, long long id, struct subs_list *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST_BY_ID);
    char what[40];
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, id);
    snprintf(what, sizeof what, "with id %lld", id);
    return list_one(db, st, out, what);
}

enum merr subs_store_list_all(struct db *db, struct subs_list **out, size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST_ALL);
    struct subs_list *v = NULL;
    size_t len = 0, cap = 0;
    enum merr rc = MERR_OK;
    int src;

    *out = NULL;
    *n = 0;
    if (!st)
        return MERR_DB;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct subs_list *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = merr_set(MERR_NOMEM, "out of memory");
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        rc = list_row(st, &v[len]);
        if (rc)
            goto fail;
        len++;
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE) {
        rc = db_fail(db, src, "lists");
        goto fail;
    }
    *out = v;
    *n = len;
    return MERR_OK;
fail:
    sqlite3_reset(st);
    subs_lists_free(v, len);
    return rc;
}

static const char SQL_LIST_DELETE[] = "DELETE FROM lists WHERE id = ?";

enum merr subs_store_list_delete(struct db *db, long long id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST_DELETE);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, id);
    return db_step_done(db, st, "lists");
}

/* ---- subscribers ------------------------------------------------------ */

static const char SQL_SUB_FIND[] = "SELECT id FROM subscribers WHERE email_key = ?";

enum merr subs_store_sub_find(struct db *db, const char *key, long long *id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUB_FIND);
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    *id = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    return db_row_end(db, st, src, MERR_NOTFOUND, "subscribers");
}

static const char SQL_SUB_GET[] = "SELECT id, email, email_ascii, email_key, name, created_at, "
                                  "token_salt FROM subscribers WHERE id = ?";

/* Copies a salt column (a BLOB of at most SUBS_SALT_MAX bytes; longer is cut, never overrun). */
static void salt_copy(sqlite3_stmt *st, int col, unsigned char *salt, size_t *len)
{
    const void *p = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (n > SUBS_SALT_MAX)
        n = SUBS_SALT_MAX;
    if (n)
        memcpy(salt, p, n);
    *len = n;
}

enum merr subs_store_sub_get(struct db *db, long long id, struct subs_store_sub *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUB_GET);
    enum merr rc;
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        db_col_copy(st, 1, out->email, sizeof out->email);
        db_col_copy(st, 2, out->email_ascii, sizeof out->email_ascii);
        db_col_copy(st, 3, out->email_key, sizeof out->email_key);
        db_col_copy(st, 4, out->name, sizeof out->name);
        out->created_at = (time_t)sqlite3_column_int64(st, 5);
        salt_copy(st, 6, out->salt, &out->salt_len);
    }
    rc = db_row_end(db, st, src, MERR_NOTFOUND, "subscribers");
    if (rc == MERR_NOTFOUND)
        return merr_set(MERR_NOTFOUND, "no subscriber with id %lld", id);
    return rc;
}

static const char SQL_SUB_INSERT[] =
    "INSERT INTO subscribers(email, email_ascii, email_key, name, attributes, created_at, "
    "updated_at, email_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(email_key) DO NOTHING";

enum merr subs_store_sub_insert(struct db *db, const struct addr *a, const char *name,
                                const char *attrs_json, time_t now, long long *id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUB_INSERT);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, a->unicode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->ascii, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, attrs_json ? attrs_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_int64(st, 7, now);
    char hash[65];
    subs_store_key_hash(a->key, hash);
    sqlite3_bind_text(st, 8, hash, -1, SQLITE_TRANSIENT);
    rc = db_step_done(db, st, "subscribers");
    if (rc)
        return rc;
    if (db_changes(db) == 0)
        return subs_store_sub_find(db, a->key, id) == MERR_OK
                   ? MERR_EXISTS
                   : merr_set(MERR_DB, "subscribers: insert lost");
    *id = sqlite3_last_insert_rowid(db_sqlite(db));
    return MERR_OK;
}

static const char SQL_SUB_MERGE[] =
    "UPDATE subscribers SET "
    " name = CASE WHEN name = '' THEN ?2 ELSE name END,"
    " attributes = CASE WHEN ?3 IS NULL THEN attributes ELSE json_patch(attributes, ?3) END,"
    " updated_at = ?4 "
    "WHERE id = ?1 AND ((name = '' AND ?2 <> '') OR"
    " (?3 IS NOT NULL AND json_patch(attributes, ?3) <> attributes))";

enum merr subs_store_sub_merge(struct db *db, long long id, const char *name,
                               const char *attrs_json, time_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUB_MERGE);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
    if (attrs_json && strcmp(attrs_json, "{}") != 0)
        sqlite3_bind_text(st, 3, attrs_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    return db_step_done(db, st, "subscribers");
}

static const char SQL_SUB_DELETE[] = "DELETE FROM subscribers WHERE id = ?";

enum merr subs_store_sub_delete(struct db *db, long long id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUB_DELETE);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, id);
    return db_step_done(db, st, "subscribers");
}

static const char SQL_SUB_JSON[] =
    "SELECT id, email, email_ascii, email_key, name, attributes, created_at, updated_at "
    "FROM subscribers WHERE id = ?";

enum merr subs_store_sub_json(struct db *db, long long id, json_t **out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUB_JSON);
    json_t *o = NULL, *attrs;
    int src;
    *out = NULL;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, id);
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        sqlite3_reset(st);
        return src == SQLITE_DONE ? merr_set(MERR_NOTFOUND, "no subscriber %lld", id)
                                  : db_fail(db, src, "subscribers");
    }
    attrs = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
    o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:o, s:I, s:I}", "id", (json_int_t)sqlite3_column_int64(st, 0),
        "email", (const char *)sqlite3_column_text(st, 1), "email_ascii",
        (const char *)sqlite3_column_text(st, 2), "email_key",
        (const char *)sqlite3_column_text(st, 3), "name", (const char *)sqlite3_column_text(st, 4),
        "attributes", attrs ? attrs : json_object(), "created_at",
        (json_int_t)sqlite3_column_int64(st, 6), "updated_at",
        (json_int_t)sqlite3_column_int64(st, 7));
    sqlite3_reset(st);
    if (!o)
        return merr_set(MERR_NOMEM, "out of memory");
    *out = o;
    return MERR_OK;
}

/* ---- subscriptions ----------------------------------------------------- */

static enum subs_status status_of(const unsigned char *t)
{
    int s = t ? subs_status_parse((const char *)t) : -1;
    return s < 0 ? SUBS_NONE : (enum subs_status)s;
}

static const char SQL_SUBN_GET[] = "SELECT status, optin_at, pending_name FROM subscriptions "
                                   "WHERE list_id = ? AND subscriber_id = ?";

enum merr subs_store_subn_get(struct db *db, long long list_id, long long sub_id,
                              struct subs_store_subscription *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_GET);
    int src;
    memset(out, 0, sizeof *out);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_int64(st, 2, sub_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        out->status = status_of(sqlite3_column_text(st, 0));
        out->optin_at = (time_t)sqlite3_column_int64(st, 1);
        db_col_copy(st, 2, out->pending_name, sizeof out->pending_name);
    }
    return db_row_end(db, st, src, MERR_OK, "subscriptions");
}

static const char SQL_SUBN_PENDING_NAME[] =
    "UPDATE subscriptions SET pending_name = ?3 WHERE list_id = ?1 AND subscriber_id = ?2";

enum merr subs_store_subn_pending_name(struct db *db, long long list_id, long long sub_id,
                                       const char *name)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_PENDING_NAME);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_int64(st, 2, sub_id);
    sqlite3_bind_text(st, 3, name ? name : "", -1, SQLITE_STATIC);
    return db_step_done(db, st, "subscriptions");
}

static const char SQL_SUBN_PUT[] =
    "INSERT INTO subscriptions(list_id, subscriber_id, status, optin_at, optin_ip, "
    " confirmed_at, confirmed_ip, unsubscribed_at, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?3 = 'confirmed' THEN ?4 END,"
    " CASE WHEN ?3 = 'confirmed' THEN ?5 END, NULL, ?4, ?4) "
    "ON CONFLICT(list_id, subscriber_id) DO UPDATE SET status = excluded.status,"
    " optin_at = excluded.optin_at, optin_ip = excluded.optin_ip,"
    " confirmed_at = excluded.confirmed_at, confirmed_ip = excluded.confirmed_ip,"
    " unsubscribed_at = NULL, updated_at = excluded.updated_at";

enum merr subs_store_subn_put(struct db *db, long long list_id, long long sub_id,
                              enum subs_status status, const char *ip, time_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_EXISTS);
    enum merr rc;
    int src, is_new;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_int64(st, 2, sub_id);
    src = sqlite3_step(st);
    is_new = src == SQLITE_DONE;
    rc = db_row_end(db, st, src, MERR_OK, "subscriptions");
    if (rc)
        return rc;
    st = db_stmt(db, SQL_SUBN_PUT);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_int64(st, 2, sub_id);
    sqlite3_bind_text(st, 3, subs_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_text(st, 5, ip ? ip : "cli", -1, SQLITE_STATIC);
    rc = db_step_done(db, st, "subscriptions");
    if (!rc && is_new) /* an update of an existing row is counted by its trigger */
        rc = subs_store_count_add(db, list_id, status, 1);
    return rc;
}

static const char SQL_SUBN_CONFIRM[] =
    "UPDATE subscriptions SET status = 'confirmed', confirmed_at = ?3, confirmed_ip = ?4,"
    " updated_at = ?3 WHERE list_id = ?1 AND subscriber_id = ?2 AND status = 'unconfirmed'";

enum merr subs_store_subn_confirm(struct db *db, long long list_id, long long sub_id,
                                  const char *ip, time_t now, int *changed)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_CONFIRM);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_int64(st, 2, sub_id);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, ip ? ip : "cli", -1, SQLITE_STATIC);
    rc = db_step_done(db, st, "subscriptions");
    *changed = !rc && db_changes(db) > 0;
    return rc;
}

static const char SQL_SUBN_UNSUB[] =
    "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = ?3, updated_at = ?3 "
    "WHERE list_id = ?1 AND subscriber_id = ?2 AND status <> 'unsubscribed'";
static const char SQL_SUBN_UNSUB_ALL[] =
    "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = ?2, updated_at = ?2 "
    "WHERE subscriber_id = ?1 AND status <> 'unsubscribed'";

enum merr subs_store_subn_unsub(struct db *db, long long list_id, long long sub_id, time_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_UNSUB);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_int64(st, 2, sub_id);
    sqlite3_bind_int64(st, 3, now);
    return db_step_done(db, st, "subscriptions");
}

enum merr subs_store_subn_unsub_all(struct db *db, long long sub_id, time_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_UNSUB_ALL);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, sub_id);
    sqlite3_bind_int64(st, 2, now);
    return db_step_done(db, st, "subscriptions");
}

/* the subscriptions a person has not left, for a bounce or complaint to end */
static const char SQL_SUBN_ACTIVE[] = "SELECT list_id, status FROM subscriptions "
                                      "WHERE subscriber_id = ? AND status <> 'unsubscribed' "
                                      "ORDER BY list_id";

enum merr subs_store_subn_active(struct db *db, long long sub_id, long long *list_ids,
                                 enum subs_status *statuses, size_t max, size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_ACTIVE);
    int src;
    *n = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, sub_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n < max) {
            list_ids[*n] = sqlite3_column_int64(st, 0);
            statuses[*n] =
                (enum subs_status)subs_status_parse((const char *)sqlite3_column_text(st, 1));
            (*n)++;
        }
    }
    sqlite3_reset(st);
    return src == SQLITE_DONE ? MERR_OK : db_fail(db, src, "subscriptions");
}

/* undoing a bounce's unsubscribe: only if nobody changed it since */
static const char SQL_SUBN_REJOIN[] =
    "UPDATE subscriptions SET status = ?3, unsubscribed_at = NULL, updated_at = ?4 "
    "WHERE list_id = ?1 AND subscriber_id = ?2 AND status = 'unsubscribed' "
    "AND unsubscribed_at = ?5";

enum merr subs_store_subn_rejoin(struct db *db, long long list_id, long long sub_id,
                                 enum subs_status status, time_t left_at, time_t now, int *changed)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_REJOIN);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_int64(st, 2, sub_id);
    sqlite3_bind_text(st, 3, subs_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, left_at);
    rc = db_step_done(db, st, "subscriptions");
    *changed = !rc && db_changes(db) > 0;
    return rc;
}

static const char SQL_SUBN_DELETE[] =
    "DELETE FROM subscriptions WHERE list_id = ? AND subscriber_id = ?";

enum merr subs_store_subn_delete(struct db *db, long long list_id, long long sub_id, int *deleted)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_DELETE);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_int64(st, 2, sub_id);
    rc = db_step_done(db, st, "subscriptions");
    *deleted = rc ? 0 : db_changes(db);
    return rc;
}

static const char SQL_SUBN_COUNT[] =
    "SELECT count(*), count(*) FILTER (WHERE status = 'unsubscribed') FROM subscriptions "
    "WHERE subscriber_id = ?";

enum merr subs_store_subn_count(struct db *db, long long sub_id, int *total, int *unsubscribed)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_COUNT);
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, sub_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *total = sqlite3_column_int(st, 0);
        *unsubscribed = sqlite3_column_int(st, 1);
    }
    return db_row_end(db, st, src, MERR_OK, "subscriptions");
}

static const char SQL_SUBN_JSON[] =
    "SELECT l.slug, l.name, s.status, s.optin_at, s.optin_ip, s.confirmed_at, s.confirmed_ip,"
    " s.unsubscribed_at, s.created_at, s.updated_at "
    "FROM subscriptions s JOIN lists l ON l.id = s.list_id WHERE s.subscriber_id = ? "
    "ORDER BY l.slug";

static json_t *int_or_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? json_null()
               : json_integer((json_int_t)sqlite3_column_int64(st, i));
}

static json_t *text_or_null(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? json_string((const char *)t) : json_null();
}

enum merr subs_store_subn_json(struct db *db, long long sub_id, json_t **out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_JSON);
    json_t *arr = json_array();
    int src;
    *out = NULL;
    if (!st || !arr) {
        json_decref(arr);
        return st ? merr_set(MERR_NOMEM, "out of memory") : MERR_DB;
    }
    sqlite3_bind_int64(st, 1, sub_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack(
            "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "list", text_or_null(st, 0),
            "list_name", text_or_null(st, 1), "status", text_or_null(st, 2), "optin_at",
            int_or_null(st, 3), "optin_ip", text_or_null(st, 4), "confirmed_at", int_or_null(st, 5),
            "confirmed_ip", text_or_null(st, 6), "unsubscribed_at", int_or_null(st, 7),
            "created_at", int_or_null(st, 8), "updated_at", int_or_null(st, 9));
        if (!o || json_array_append_new(arr, o)) {
            sqlite3_reset(st);
            json_decref(arr);
            return merr_set(MERR_NOMEM, "out of memory");
        }
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE) {
        json_decref(arr);
        return db_fail(db, src, "subscriptions");
    }
    *out = arr;
    return MERR_OK;
}

/* ---- suppressions -------------------------------------------------------- */

void subs_store_key_hash(const char *key, char hash[65])
{
    crypto_sha256_hex(hash, key, strlen(key));
}

void subs_store_key_of(const char *address, char key[ADDR_MAX], char hash[65])
{
    size_t i = 0;
    for (; address && address[i] && i < ADDR_MAX - 1; i++)
        key[i] = (char)tolower((unsigned char)address[i]);
    key[i] = '\0';
    subs_store_key_hash(key, hash);
}

static const char SQL_SUPP_GET[] = "SELECT reason FROM suppressions WHERE email_hash = ?";

enum merr subs_store_supp_get(struct db *db, const char *hash, char reason[32])
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUPP_GET);
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW && reason)
        db_col_copy(st, 0, reason, 32);
    return db_row_end(db, st, src, MERR_NOTFOUND, "suppressions");
}

static const char SQL_SUPP_INSERT[] =
    "INSERT INTO suppressions(email_hash, email_key, reason, detail, created_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";

enum merr subs_store_supp_insert(struct db *db, const char *hash, const char *key,
                                 const char *reason, const char *detail, time_t now, int *added)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUPP_INSERT);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    if (key)
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, detail ? detail : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    rc = db_step_done(db, st, "suppressions");
    if (added)
        *added = !rc && db_changes(db) > 0;
    return rc;
}

static const char SQL_SUPP_DELETE_IF[] =
    "DELETE FROM suppressions WHERE email_hash = ? AND reason = ?";

enum merr subs_store_supp_delete_if(struct db *db, const char *hash, const char *reason)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUPP_DELETE_IF);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    return db_step_done(db, st, "suppressions");
}

static const char SQL_SUPP_ANON[] =
    "UPDATE suppressions SET email_key = NULL, detail = '' WHERE email_hash = ?";

enum merr subs_store_supp_anonymise(struct db *db, const char *hash)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUPP_ANON);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    return db_step_done(db, st, "suppressions");
}

static const char SQL_SUPP_JSON[] = "SELECT email_hash, email_key, reason, detail, created_at "
                                    "FROM suppressions WHERE email_hash = ?";

enum merr subs_store_supp_json(struct db *db, const char *hash, json_t **out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUPP_JSON);
    enum merr rc;
    int src;
    *out = NULL;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = json_pack("{s:o, s:o, s:o, s:o, s:o}", "email_hash", text_or_null(st, 0),
                         "email_key", text_or_null(st, 1), "reason", text_or_null(st, 2), "detail",
                         text_or_null(st, 3), "created_at", int_or_null(st, 4));
    rc = db_row_end(db, st, src, MERR_NOTFOUND, "suppressions");
    if (!rc && !*out)
        return merr_set(MERR_NOMEM, "out of memory");
    return rc;
}

/* ---- iteration ------------------------------------------------------------ */

/*
 * One list: walk its subscriptions in primary-key order (list_id,
 * subscriber_id), so no sort is needed and memory stays constant however
 * long the list. All lists: walk subscribers by id and their subscriptions.
 */
static const char SQL_EACH_LIST[] =
    "SELECT s.id, s.email, s.email_ascii, s.name, s.attributes, l.slug, sn.status,"
    " s.created_at, sn.optin_at, sn.confirmed_at "
    "FROM subscriptions sn JOIN subscribers s ON s.id = sn.subscriber_id"
    " JOIN lists l ON l.id = sn.list_id "
    "WHERE sn.list_id = ?1 AND (?2 IS NULL OR sn.status = ?2)"
    " AND (?3 IS NULL OR s.email LIKE ?3 ESCAPE '\\' OR s.name LIKE ?3 ESCAPE '\\')"
    " AND sn.subscriber_id > ?4 "
    "ORDER BY sn.subscriber_id";
static const char SQL_EACH_ALL[] =
    "SELECT s.id, s.email, s.email_ascii, s.name, s.attributes, l.slug, sn.status,"
    " s.created_at, sn.optin_at, sn.confirmed_at "
    "FROM subscribers s LEFT JOIN subscriptions sn ON sn.subscriber_id = s.id"
    " LEFT JOIN lists l ON l.id = sn.list_id "
    "WHERE (?2 IS NULL OR sn.status = ?2)"
    " AND (?3 IS NULL OR s.email LIKE ?3 ESCAPE '\\' OR s.name LIKE ?3 ESCAPE '\\')"
    " AND s.id > ?4 "
    "ORDER BY s.id, l.slug";

enum merr subs_store_each(struct db *db, long long list_id, const struct subs_filter *f,
                          enum merr (*fn)(void *arg, const struct subs_row *row), void *arg)
{
    sqlite3_stmt *st = db_stmt(db, list_id ? SQL_EACH_LIST : SQL_EACH_ALL);
    char *pattern = NULL;
    enum merr rc = MERR_OK;
    int src;

    if (!st)
        return MERR_DB;
    if (list_id)
        sqlite3_bind_int64(st, 1, list_id);
    if (f && f->status > 0)
        sqlite3_bind_text(st, 2, subs_status_name((enum subs_status)f->status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, f && f->after_id > 0 ? f->after_id : 0);
    if (f && f->search && f->search[0]) {
        size_t n = strlen(f->search), o = 0;
        pattern = malloc(2 * n + 3);
        if (!pattern)
            return merr_set(MERR_NOMEM, "out of memory");
        pattern[o++] = '%';
        for (size_t i = 0; i < n; i++) {
            char c = f->search[i];
            if (c == '%' || c == '_' || c == '\\')
                pattern[o++] = '\\';
            pattern[o++] = c;
        }
        pattern[o++] = '%';
        pattern[o] = '\0';
        sqlite3_bind_text(st, 3, pattern, -1, SQLITE_STATIC);
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct subs_row r;
        r.subscriber_id = sqlite3_column_int64(st, 0);
        r.email = (const char *)sqlite3_column_text(st, 1);
        r.email_ascii = (const char *)sqlite3_column_text(st, 2);
        r.name = (const char *)sqlite3_column_text(st, 3);
        r.attributes = (const char *)sqlite3_column_text(st, 4);
        r.list_slug = (const char *)sqlite3_column_text(st, 5);
        r.status = status_of(sqlite3_column_text(st, 6));
        r.created_at = (time_t)sqlite3_column_int64(st, 7);
        r.optin_at = (time_t)sqlite3_column_int64(st, 8);
        r.confirmed_at = (time_t)sqlite3_column_int64(st, 9);
        rc = fn(arg, &r);
        if (rc)
            break;
    }
    sqlite3_reset(st);
    free(pattern);
    if (rc)
        return rc;
    return src == SQLITE_DONE ? MERR_OK : db_fail(db, src, "subscribers");
}

/* ---- changing a list's settings ----------------------------------------- */

static const char SQL_LIST_UPDATE[] =
    "UPDATE lists SET name = coalesce(?2, name), description = coalesce(?3, description), "
    "optin = coalesce(?4, optin), digest_weekday = coalesce(?5, digest_weekday), "
    "digest_time = coalesce(?6, digest_time), "
    "digest_category = CASE WHEN ?7 IS NULL THEN digest_category WHEN ?7 = '' THEN NULL "
    " ELSE ?7 END, "
    "digest_max_articles = coalesce(?8, digest_max_articles), "
    "digest_subject = coalesce(?9, digest_subject), "
    "digest_template = coalesce(?10, digest_template), "
    "digest_enabled = coalesce(?11, digest_enabled), updated_at = ?12, "
    "public = coalesce(?13, public) WHERE slug = ?1";

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_int_or_null(sqlite3_stmt *st, int i, int v)
{
    if (v == SUBS_UNCHANGED)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int(st, i, v);
}

enum merr subs_store_list_update(struct db *db, const char *slug, const struct subs_list_update *u,
                                 time_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST_UPDATE);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, u->name);
    bind_text_or_null(st, 3, u->description);
    bind_text_or_null(st, 4, u->optin);
    bind_int_or_null(st, 5, u->digest_weekday);
    bind_text_or_null(st, 6, u->digest_time);
    bind_text_or_null(st, 7, u->digest_category);
    bind_int_or_null(st, 8, u->digest_max_articles);
    bind_text_or_null(st, 9, u->digest_subject);
    bind_text_or_null(st, 10, u->digest_template);
    bind_int_or_null(st, 11, u->digest_enabled);
    sqlite3_bind_int64(st, 12, now);
    bind_int_or_null(st, 13, u->is_public);
    rc = db_step_done(db, st, "lists");
    if (rc)
        return rc;
    if (db_changes(db) == 0)
        return merr_set(MERR_NOTFOUND, "no list \"%.64s\"", slug);
    return MERR_OK;
}
