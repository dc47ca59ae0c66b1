/*
 * digest_store.c: every SQL statement on `digests`.
 *
 * UNIQUE(list_id, period) is what makes a digest impossible to create twice
 * for one list and week, whoever tries (the scheduler of two `mailer serve`
 * processes, an editor by hand, a retry after a crash): the insert runs in
 * the same transaction as the send and its envelopes, so either all of them
 * exist or none. A skipped week is a row with articles = 0 and no send, so
 * the scheduler does not look at that week again; a manual send may later
 * fill it in (digest_store_fill_skipped, guarded on it still being empty).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest_store.h"

#define COLS "id, list_id, period, coalesce(send_id, 0), since, until, articles, created_at"

static const char SQL_FIND[] = "SELECT " COLS " FROM digests WHERE list_id = ?1 AND period = ?2";
static const char SQL_GET[] = "SELECT " COLS " FROM digests WHERE id = ?1";
static const char SQL_LAST_UNTIL[] = "SELECT max(until) FROM digests WHERE list_id = ?1";
static const char SQL_INSERT[] =
    "INSERT INTO digests(list_id, period, send_id, since, until, articles, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_FILL[] =
    "UPDATE digests SET send_id = ?2, since = ?3, until = ?4, articles = ?5 "
    "WHERE id = ?1 AND send_id IS NULL AND articles = 0";
static const char SQL_LIST[] = "SELECT " COLS " FROM digests "
                               "WHERE ?1 = 0 OR list_id = ?1 ORDER BY id DESC LIMIT ?2";

static void read_row(sqlite3_stmt *st, struct digest_row *r)
{
    const char *period = (const char *)sqlite3_column_text(st, 2);
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->list_id = sqlite3_column_int64(st, 1);
    snprintf(r->period, sizeof r->period, "%s", period ? period : "");
    r->send_id = sqlite3_column_int64(st, 3);
    r->since = (time_t)sqlite3_column_int64(st, 4);
    r->until = (time_t)sqlite3_column_int64(st, 5);
    r->articles = sqlite3_column_int(st, 6);
    r->created_at = (time_t)sqlite3_column_int64(st, 7);
}

/* Steps a one-row query: MERR_NOTFOUND without a row. */
static enum merr one_row(struct db *db, sqlite3_stmt *st, struct digest_row *out, const char *what)
{
    int src = sqlite3_step(st);
    enum merr rc = MERR_OK;
    if (src == SQLITE_ROW)
        read_row(st, out);
    else if (src == SQLITE_DONE)
        rc = MERR_NOTFOUND;
    else
        rc = db_fail(db, src, what);
    sqlite3_reset(st);
    return rc;
}

enum merr digest_store_find(struct db *db, long long list_id, const char *period,
                            struct digest_row *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_FIND);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
    return one_row(db, st, out, "find digest");
}

enum merr digest_store_get(struct db *db, long long id, struct digest_row *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_GET);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, id);
    rc = one_row(db, st, out, "get digest");
    if (rc == MERR_NOTFOUND)
        return merr_set(rc, "digest %lld: not found", id);
    return rc;
}

enum merr digest_store_last_until(struct db *db, long long list_id, time_t *until, int *found)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LAST_UNTIL);
    int src;

    *until = 0;
    *found = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *until = (time_t)sqlite3_column_int64(st, 0);
        *found = 1;
    }
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return db_fail(db, src, "last digest");
    return MERR_OK;
}

enum merr digest_store_insert(struct db *db, struct digest_row *row)
{
    sqlite3_stmt *st = db_stmt(db, SQL_INSERT);
    int src;

    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, row->list_id);
    sqlite3_bind_text(st, 2, row->period, -1, SQLITE_STATIC);
    if (row->send_id > 0)
        sqlite3_bind_int64(st, 3, row->send_id);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)row->since);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)row->until);
    sqlite3_bind_int(st, 6, row->articles);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)row->created_at);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return db_fail(db, src, "insert digest");
    row->id = sqlite3_last_insert_rowid(db_sqlite(db));
    return MERR_OK;
}

enum merr digest_store_fill_skipped(struct db *db, const struct digest_row *row)
{
    sqlite3_stmt *st = db_stmt(db, SQL_FILL);
    int src;

    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, row->id);
    sqlite3_bind_int64(st, 2, row->send_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)row->since);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)row->until);
    sqlite3_bind_int(st, 5, row->articles);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return db_fail(db, src, "fill digest");
    if (db_changes(db) != 1)
        return merr_set(MERR_EXISTS, "digest %lld was created meanwhile", row->id);
    return MERR_OK;
}

enum merr digest_store_list(struct db *db, long long list_id, size_t limit, struct digest_row **out,
                            size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST);
    struct digest_row *v;
    size_t k = 0;
    int src = SQLITE_DONE;

    *out = NULL;
    *n = 0;
    if (!st)
        return MERR_DB;
    if (limit == 0)
        limit = 100;
    v = calloc(limit, sizeof *v);
    if (!v)
        return merr_set(MERR_NOMEM, "out of memory");
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    while (k < limit && (src = sqlite3_step(st)) == SQLITE_ROW)
        read_row(st, &v[k++]);
    sqlite3_reset(st);
    if (k < limit && src != SQLITE_DONE) {
        free(v);
        return db_fail(db, src, "list digests");
    }
    *out = v;
    *n = k;
    return MERR_OK;
}
