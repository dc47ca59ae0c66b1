/*
 * breaking_store.c: every SQL statement on breaking_news. The recipients
 * of a row are its send's envelopes, read from the maintained counters
 * (send_counts), not counted.
 */
#include <string.h>

#include "breaking_store.h"

#define COLS                                                                                       \
    "b.id, b.list_id, coalesce(l.slug, ''), b.article_id, coalesce(b.send_id, 0), b.created_at, "  \
    "coalesce(c.queued + c.sending + c.sent + c.deferred + c.failed + c.cancelled, 0) "            \
    "FROM breaking_news b LEFT JOIN lists l ON l.id = b.list_id "                                  \
    "LEFT JOIN send_counts c ON c.send_id = b.send_id "
static const char SQL_FIND[] = "SELECT " COLS "WHERE b.list_id = ?1 AND b.article_id = ?2";
static const char SQL_LIST[] = "SELECT " COLS "ORDER BY b.id DESC LIMIT ?1";
static const char SQL_INSERT[] = "INSERT INTO breaking_news(list_id, article_id, send_id, "
                                 "created_at) VALUES (?1, ?2, ?3, ?4)";

static void row(sqlite3_stmt *st, struct breaking_info *b)
{
    memset(b, 0, sizeof *b);
    b->id = sqlite3_column_int64(st, 0);
    b->list_id = sqlite3_column_int64(st, 1);
    db_col_copy(st, 2, b->list_slug, sizeof b->list_slug);
    db_col_copy(st, 3, b->article_id, sizeof b->article_id);
    b->send_id = sqlite3_column_int64(st, 4);
    b->created_at = (time_t)sqlite3_column_int64(st, 5);
    b->recipients = sqlite3_column_int64(st, 6);
}

enum merr breaking_store_find(struct db *db, long long list_id, const char *article_id,
                              struct breaking_info *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_FIND);
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_text(st, 2, article_id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        row(st, out);
    return db_row_end(db, st, src, MERR_NOTFOUND, "breaking news");
}

enum merr breaking_store_insert(struct db *db, long long list_id, const char *article_id,
                                long long send_id, time_t now, long long *id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_INSERT);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_text(st, 2, article_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, send_id);
    sqlite3_bind_int64(st, 4, now);
    rc = db_step_done(db, st, "breaking news");
    if (!rc)
        *id = sqlite3_last_insert_rowid(db_sqlite(db));
    return rc;
}

enum merr breaking_store_list(struct db *db, struct breaking_info *out, size_t max, size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST);
    int src = SQLITE_DONE;
    *n = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
    while (*n < max && (src = sqlite3_step(st)) == SQLITE_ROW)
        row(st, &out[(*n)++]);
    if (*n == max)
        src = SQLITE_DONE;
    sqlite3_reset(st);
    return db_fail(db, src, "breaking news");
}
