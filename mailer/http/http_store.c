/*
 * http_store.c: every SQL statement on the HTTP module's tables
 * (api_tokens, rate_events, csrf_used; migrations 0004, 0010, 0012).
 *
 * API tokens are stored only as the hex SHA-256 of the token: a leaked
 * database does not leak working tokens. Rate limits are sliding windows
 * (a log of the requests let through, keyed by text: "ip:1.2.3.4",
 * "sender:a@b", "global"): a request is let through when fewer than the
 * limit were let through under each of its keys in the `window` seconds
 * before it, so no hour whatever its start holds more than the limit
 * (fixed clock-hour windows let twice the limit through across a
 * boundary). The check costs O(log n) whatever the count: each key's
 * requests are numbered without gaps (seq 1, 2, 3 ...), a take first
 * deletes its key's requests that left the window (an index seek that
 * usually finds none or one: each request is deleted once, so this
 * pruning is O(1) per request amortised, and never a scan), so what the
 * key holds is its window and the count is max(seq) - min(seq) + 1, two
 * seeks on the primary key; when full, Retry-After is when min(at), the
 * oldest, leaves. (Counting the rows in the window read every request of
 * the last hour: for the global key every share, 136 ms p99 in
 * bench/http.) Numbers stay gapless because only the oldest (pruning,
 * housekeeping) or the newest (give back) are ever deleted, and a
 * request's time is never before the one numbered before it. Should the
 * clock step back, it can be: pruning by time may then take a request out
 * of the middle, and the gap is counted as a request until the older
 * numbers leave too (a window plus the step at most). max - min + 1 is
 * never less than the rows held, so the count errs high: a step back
 * refuses early, never late. The prunes, counts and inserts of all keys run in one BEGIN
 * IMMEDIATE transaction, so the check and the take cannot be separated by
 * another request, in this process or another one; a refused request
 * records nothing (its prunes are kept: they only removed what had left
 * the window), so a key never holds more rows than its limit. The
 * housekeeping deletes what keys no longer asked for leave behind. Used
 * CSRF nonces are a primary key: the second INSERT of the same nonce fails
 * with a constraint error, which is how reuse is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static const char SQL_TOKEN_INSERT[] =
    "INSERT INTO api_tokens(name, token_hash, created_at, scope) VALUES (?, ?, ?, ?)";
static const char SQL_TOKEN_FIND[] =
    "UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL "
    "RETURNING id, scope = 'read'";
static const char SQL_TOKEN_LIST[] =
    "SELECT id, name, created_at, last_used_at, revoked_at, scope = 'read' FROM api_tokens "
    "ORDER BY id";
static const char SQL_TOKEN_REVOKE_ID[] =
    "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";
static const char SQL_TOKEN_REVOKE_NAME[] =
    "UPDATE api_tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL";
/* this key's requests that left the window (an index seek on (key, at)) */
static const char SQL_RATE_PRUNE[] = "DELETE FROM rate_events WHERE key = ?1 AND at <= ?2";
/* the key's first and last number and its oldest request: three seeks, no scan */
static const char SQL_RATE_SPAN[] = "SELECT (SELECT min(seq) FROM rate_events WHERE key = ?1), "
                                    "(SELECT max(seq) FROM rate_events WHERE key = ?1), "
                                    "(SELECT min(at) FROM rate_events WHERE key = ?1)";
static const char SQL_RATE_TAKE[] = "INSERT INTO rate_events(key, seq, at) VALUES (?1, ?2, ?3)";
static const char SQL_RATE_GIVE_BACK[] =
    "DELETE FROM rate_events WHERE key = ?1 "
    "AND seq = (SELECT max(seq) FROM rate_events WHERE key = ?1)";
static const char SQL_CSRF_USE[] = "INSERT INTO csrf_used(nonce, used_at) VALUES (?, ?)";
static const char SQL_RATE_OLD[] = "DELETE FROM rate_events WHERE at < ?";
static const char SQL_CSRF_OLD[] = "DELETE FROM csrf_used WHERE used_at < ?";

static sqlite3_stmt *stmt(struct db *db, const char *sql, enum merr *rc)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    *rc = st ? MERR_OK : MERR_DB;
    return st;
}

enum merr http_store_token_create(struct db *db, const char *name, int read_only,
                                  const char *hash_hex, time_t now, long long *id)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_TOKEN_INSERT, &rc);
    if (!st)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, read_only ? "read" : "full", -1, SQLITE_STATIC);
    rc = db_fail(db, sqlite3_step(st), "token create");
    if (!rc)
        *id = sqlite3_last_insert_rowid(db_sqlite(db));
    sqlite3_reset(st);
    return rc;
}

enum merr http_store_token_find(struct db *db, const char *hash_hex, time_t now, long long *id,
                                int *read_only)
{
    enum merr rc;
    int src;
    sqlite3_stmt *st = stmt(db, SQL_TOKEN_FIND, &rc);
    if (!st)
        return rc;
    sqlite3_bind_text(st, 1, hash_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *read_only = sqlite3_column_int(st, 1);
        src = sqlite3_step(st);
        rc = db_fail(db, src, "token check");
    } else if (src == SQLITE_DONE) {
        rc = merr_set(MERR_NOTFOUND, "no such token");
    } else {
        rc = db_fail(db, src, "token check");
    }
    sqlite3_reset(st);
    return rc;
}

enum merr http_store_token_list(struct db *db, struct http_token **out, size_t *n)
{
    enum merr rc;
    int src;
    struct http_token *v = NULL, *nv;
    size_t cnt = 0, cap = 0;
    sqlite3_stmt *st = stmt(db, SQL_TOKEN_LIST, &rc);

    *out = NULL;
    *n = 0;
    if (!st)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = merr_set(MERR_NOMEM, "out of memory");
                goto out;
            }
            v = nv;
        }
        memset(&v[cnt], 0, sizeof v[cnt]);
        v[cnt].id = sqlite3_column_int64(st, 0);
        snprintf(v[cnt].name, sizeof v[cnt].name, "%s", (const char *)sqlite3_column_text(st, 1));
        v[cnt].created_at = (time_t)sqlite3_column_int64(st, 2);
        v[cnt].last_used_at = (time_t)sqlite3_column_int64(st, 3);
        v[cnt].revoked_at = (time_t)sqlite3_column_int64(st, 4);
        v[cnt].read_only = sqlite3_column_int(st, 5);
        cnt++;
    }
    rc = db_fail(db, src, "token list");
out:
    sqlite3_reset(st);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return MERR_OK;
}

enum merr http_store_token_revoke(struct db *db, const char *id_or_name, time_t now, int *revoked)
{
    enum merr rc;
    sqlite3_stmt *st;
    int numeric = *id_or_name != '\0' && strspn(id_or_name, "0123456789") == strlen(id_or_name);

    *revoked = 0;
    st = stmt(db, numeric ? SQL_TOKEN_REVOKE_ID : SQL_TOKEN_REVOKE_NAME, &rc);
    if (!st)
        return rc;
    if (numeric)
        sqlite3_bind_int64(st, 1, strtoll(id_or_name, NULL, 10));
    else
        sqlite3_bind_text(st, 1, id_or_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    rc = db_fail(db, sqlite3_step(st), "token revoke");
    sqlite3_reset(st);
    if (rc)
        return rc;
    *revoked = db_changes(db);
    if (*revoked == 0)
        return merr_set(MERR_NOTFOUND, "no active token %s", id_or_name);
    return MERR_OK;
}

/* the most keys one request is counted under (http_share takes 3) */
enum { RATE_KEYS_MAX = 8 };

/* Deletes key's requests at or before `cutoff`, then reads how many it holds and the next number.
 */
static enum merr rate_span(struct db *db, const char *key, time_t cutoff, long long *count,
                           long long *next, long long *oldest)
{
    enum merr rc;
    int src;
    sqlite3_stmt *st = stmt(db, SQL_RATE_PRUNE, &rc);
    if (!st)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cutoff);
    rc = db_fail(db, sqlite3_step(st), "rate limit");
    sqlite3_reset(st);
    if (rc)
        return rc;
    st = stmt(db, SQL_RATE_SPAN, &rc);
    if (!st)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_fail(db, src, "rate limit");
        sqlite3_reset(st);
        return rc;
    }
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
        *count = 0;
        *next = 1;
        *oldest = 0;
    } else {
        long long first = sqlite3_column_int64(st, 0), last = sqlite3_column_int64(st, 1);
        *count = last - first + 1;
        *next = last + 1;
        *oldest = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return MERR_OK;
}

enum merr http_store_rate_take(struct db *db, const char *const *keys, const int *limits, size_t n,
                               time_t now, int window, size_t *refused, int *retry_after)
{
    enum merr rc;
    sqlite3_stmt *st;
    long long next[RATE_KEYS_MAX];

    *retry_after = window;
    if (n > RATE_KEYS_MAX)
        return merr_set(MERR_INTERNAL, "%zu rate limit keys, at most %d", n, RATE_KEYS_MAX);
    for (size_t i = 0; i < n; i++) {
        if (limits[i] <= 0) {
            *refused = i;
            return merr_set(MERR_LIMIT, "%s: no requests allowed", keys[i]);
        }
    }
    rc = db_begin(db);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        long long count = 0, oldest = 0;
        rc = rate_span(db, keys[i], now - window, &count, &next[i], &oldest);
        if (rc)
            goto fail;
        if (count >= limits[i]) {
            *refused = i;
            /* the oldest request leaves the window first: then one more fits */
            *retry_after = (int)(oldest + window - now);
            if (*retry_after < 1)
                *retry_after = 1;
            /* nothing recorded; keep the prunes (they removed only what had left) */
            rc = db_commit(db);
            if (rc)
                return rc;
            return merr_set(MERR_LIMIT, "%s: %d requests in the last %d s", keys[i], limits[i],
                            window);
        }
    }
    for (size_t i = 0; i < n; i++) {
        st = stmt(db, SQL_RATE_TAKE, &rc);
        if (!st)
            goto fail;
        sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)next[i]);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
        rc = db_fail(db, sqlite3_step(st), "rate limit");
        sqlite3_reset(st);
        if (rc)
            goto fail;
    }
    return db_commit(db);
fail:
    db_rollback(db);
    return rc;
}

enum merr http_store_rate_give_back(struct db *db, const char *const *keys, size_t n)
{
    enum merr rc = db_begin(db);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = stmt(db, SQL_RATE_GIVE_BACK, &rc);
        if (!st)
            goto fail;
        sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
        rc = db_fail(db, sqlite3_step(st), "rate give back");
        sqlite3_reset(st);
        if (rc)
            goto fail;
    }
    return db_commit(db);
fail:
    db_rollback(db);
    return rc;
}

enum merr http_store_csrf_use(struct db *db, const char *nonce_hex, time_t now)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_CSRF_USE, &rc);
    if (!st)
        return rc;
    sqlite3_bind_text(st, 1, nonce_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    rc = db_fail(db, sqlite3_step(st), "csrf");
    sqlite3_reset(st);
    if (rc == MERR_EXISTS)
        return merr_set(MERR_EXISTS, "the form was already sent once");
    return rc;
}

enum merr http_store_housekeep(struct db *db, time_t before)
{
    enum merr rc;
    const char *sqls[] = {SQL_RATE_OLD, SQL_CSRF_OLD};
    for (size_t i = 0; i < 2; i++) {
        sqlite3_stmt *st = stmt(db, sqls[i], &rc);
        if (!st)
            return rc;
        sqlite3_bind_int64(st, 1, before);
        rc = db_fail(db, sqlite3_step(st), "housekeeping");
        sqlite3_reset(st);
        if (rc)
            return rc;
    }
    return MERR_OK;
}
