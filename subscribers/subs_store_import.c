/*
 * subs_store_import.c: the statements of the CSV import (subs_import.c):
 * ids given by us, multi-row inserts of 64 subscribers, their
 * subscriptions by id range, and the import connection's settings.
 *
 * Like every store statement, each is a `static const char SQL_X[]`
 * literal prepared once per connection (db_stmt): a million rows run the
 * same three statements per batch of 64 (next id, a 64-row INSERT, an
 * INSERT ... SELECT of the subscriptions). The import owns its
 * transaction; nothing here begins or commits.
 */
#include "subs_store.h"

#include <stdlib.h>
#include <string.h>

static const char SQL_SUPP_ANY[] = "SELECT EXISTS (SELECT 1 FROM suppressions)";

int subs_store_supp_any(struct db *db)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUPP_ANY);
    int any = 1;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        any = sqlite3_column_int(st, 0);
    if (st)
        sqlite3_reset(st);
    return any;
}

/*
 * The import's connection settings. foreign_keys can only change outside a
 * transaction (inside one the pragma is a silent no-op), so this runs
 * before BEGIN and after COMMIT/ROLLBACK. The import checks its references
 * itself: the list is read inside its transaction and every subscription it
 * writes points at a subscriber it has just found or inserted.
 * temp_store = MEMORY keeps the statement journals of the multi-row
 * statements in memory: with the default they spill to a temporary file
 * past 64 KiB, which tripled the import's writes (strace: 840k pwrite
 * calls for 1M rows, 240k without). They hold the pages one statement
 * changes, so memory stays flat.
 */
enum merr subs_store_import_tuning(struct db *db, int on)
{
    enum merr rc = db_exec(db, on ? "PRAGMA foreign_keys = OFF" : "PRAGMA foreign_keys = ON");
    if (!rc)
        rc = db_exec(db, on ? "PRAGMA temp_store = MEMORY" : "PRAGMA temp_store = DEFAULT");
    if (!rc)
        rc = db_exec(db, on ? "PRAGMA cache_size = -" SUBS_STORE_IMPORT_CACHE_KIB
                            : "PRAGMA cache_size = -2000");
    return rc;
}

/* ---- bulk insert for the import ------------------------------------------ */

/*
 * Never an id that was ever used (issue 16): sqlite_sequence keeps the
 * largest id AUTOINCREMENT handed out, deleted rows included (the import's
 * explicit ids raise it too); max(id) covers a table without its row there.
 */
static const char SQL_SUB_NEXT_ID[] =
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'subscribers'), 0), "
    "coalesce((SELECT max(id) FROM subscribers), 0)) + 1";

enum merr subs_store_sub_next_id(struct db *db, long long *id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUB_NEXT_ID);
    int src;
    if (!st)
        return MERR_DB;
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    return db_row_end(db, st, src, MERR_OK, "subscribers");
}

/* One row of the insert below: id, email, email_ascii, email_key, name, attributes, times,
 * email_hash. */
#define NEW_ROW "(?,?,?,?,?,?,?,?,?)"
#define NEW_2   NEW_ROW "," NEW_ROW
#define NEW_4   NEW_2 "," NEW_2
#define NEW_8   NEW_4 "," NEW_4
#define NEW_16  NEW_8 "," NEW_8
#define NEW_32  NEW_16 "," NEW_16
#define NEW_64  NEW_32 "," NEW_32
#define NEW_INSERT                                                                                 \
    "INSERT INTO subscribers(id, email, email_ascii, email_key, name, attributes, created_at, "    \
    "updated_at, email_hash) VALUES "

static const char SQL_SUB_INSERT_ONE[] = NEW_INSERT NEW_ROW " ON CONFLICT(email_key) DO NOTHING";
static const char SQL_SUB_INSERT_MANY[] = NEW_INSERT NEW_64 " ON CONFLICT(email_key) DO NOTHING";

_Static_assert(SUBS_STORE_BATCH == 64, "SQL_SUB_INSERT_MANY holds 64 rows");

static void bind_new(sqlite3_stmt *st, int p, long long id, const struct subs_store_new *r,
                     time_t now)
{
    sqlite3_bind_int64(st, p + 1, id);
    sqlite3_bind_text(st, p + 2, r->a->unicode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, p + 3, r->a->ascii, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, p + 4, r->a->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, p + 5, r->name ? r->name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, p + 6, r->attrs ? r->attrs : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, p + 7, now);
    sqlite3_bind_int64(st, p + 8, now);
    sqlite3_bind_text(st, p + 9, r->hash, -1, SQLITE_STATIC);
}

enum merr subs_store_sub_insert_many(struct db *db, const struct subs_store_new *v, size_t n,
                                     long long first_id, time_t now, long long *inserted)
{
    sqlite3_stmt *st;
    enum merr rc;

    *inserted = 0;
    if (n == SUBS_STORE_BATCH) {
        st = db_stmt(db, SQL_SUB_INSERT_MANY);
        if (!st)
            return MERR_DB;
        for (size_t k = 0; k < n; k++)
            bind_new(st, (int)k * 9, first_id + (long long)k, &v[k], now);
        rc = db_step_done(db, st, "subscribers");
        if (!rc)
            *inserted = db_changes(db);
        return rc;
    }
    st = db_stmt(db, SQL_SUB_INSERT_ONE);
    if (!st)
        return MERR_DB;
    for (size_t k = 0; k < n; k++) {
        bind_new(st, 0, first_id + (long long)k, &v[k], now);
        rc = db_step_done(db, st, "subscribers");
        if (rc)
            return rc;
        *inserted += db_changes(db);
    }
    return MERR_OK;
}

static const char SQL_SUBN_PUT_RANGE[] =
    "INSERT INTO subscriptions(list_id, subscriber_id, status, optin_at, optin_ip, "
    " confirmed_at, confirmed_ip, created_at, updated_at) "
    "SELECT ?1, id, ?2, ?3, ?4, CASE WHEN ?2 = 'confirmed' THEN ?3 END,"
    " CASE WHEN ?2 = 'confirmed' THEN ?4 END, ?3, ?3 "
    "FROM subscribers WHERE id BETWEEN ?5 AND ?6 ORDER BY id "
    "ON CONFLICT(list_id, subscriber_id) DO NOTHING";

enum merr subs_store_subn_put_range(struct db *db, long long list_id, long long first_id,
                                    long long last_id, enum subs_status status, const char *ip,
                                    time_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SUBN_PUT_RANGE);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, list_id);
    sqlite3_bind_text(st, 2, subs_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, ip ? ip : "cli", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, first_id);
    sqlite3_bind_int64(st, 6, last_id);
    enum merr rc = db_step_done(db, st, "subscriptions");
    if (!rc && db_changes(db) > 0)
        rc = subs_store_count_add(db, list_id, status, db_changes(db));
    return rc;
}
