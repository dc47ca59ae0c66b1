/*
 * db.c: open, configure, migrate, and cache statements.
 *
 * The statement cache is a small open-addressed table keyed by the SQL
 * string's address: store files pass literals, so the pointer identifies the
 * statement and no hashing of text is needed on the hot path.
 *
 * Every handle has the SQL function sha256_hex(text): the hex SHA-256 of
 * its UTF-8 bytes (NULL for NULL), deterministic, the key subscribers'
 * suppressions and views match addresses by (migration 0008).
 *
 * Waiting for the lock. When another connection holds SQLite's write lock
 * (in `mailer serve`: the delivery writer's commit, a request thread's
 * share, the digest scheduler), SQLite calls a busy handler. Its own
 * (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, 15, 20, 25 ... 100 ms between
 * tries: a request that finds the lock held for the 0.2 ms of a delivery
 * commit comes back after 1 ms, and if it misses again after 3, 8 and 18
 * ms in all; with the delivery workers committing a thousand times a
 * second, those sleeps were stalls of the HTTP front's requests
 * (bench/http). busy_wait() tries again after 50 us, doubling up to 2 ms,
 * until busy_timeout_ms; each wait and the time slept are counted
 * (/metrics: mailer_db_busy_wait*).
 */
#include "db.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crypto.h"
#include "db_vfs.h"
#include "fs.h"
#include "log.h"
#include "metrics.h"
#include "migrations.h"

#define STMT_SLOTS 256

struct stmt_slot {
    const char *sql;
    sqlite3_stmt *stmt;
};

#define BUSY_FIRST_US 50
#define BUSY_MAX_US   2000

struct db {
    sqlite3 *h;
    char *path;
    int busy_timeout_ms;
    struct timespec busy_since; /* the current wait's first try */
    int depth;                  /* open db_begin levels: 1 = the transaction, more = savepoints */
    struct stmt_slot slots[STMT_SLOTS];
};

/* SQLite's busy handler (see the top): 1 to try again, 0 to give up. */
static int busy_wait(void *arg, int tries)
{
    struct db *db = arg;
    struct timespec now, nap;
    long long waited_us;
    long us = BUSY_FIRST_US;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (tries == 0)
        db->busy_since = now;
    waited_us = (now.tv_sec - db->busy_since.tv_sec) * 1000000LL +
                (now.tv_nsec - db->busy_since.tv_nsec) / 1000;
    if (waited_us >= db->busy_timeout_ms * 1000LL)
        return 0;
    for (int i = 0; i < tries && us < BUSY_MAX_US; i++)
        us *= 2;
    if (us > BUSY_MAX_US)
        us = BUSY_MAX_US;
    nap.tv_sec = 0;
    nap.tv_nsec = us * 1000L;
    metrics_db_busy(tries == 0, us / 1e6);
    nanosleep(&nap, NULL);
    return 1;
}

/* busy_wait as the handle's busy handler, giving up after `ms` (none when 0). */
static void set_busy_timeout(struct db *db, int ms)
{
    db->busy_timeout_ms = ms;
    sqlite3_busy_handler(db->h, ms > 0 ? busy_wait : NULL, db);
}

enum merr db_fail(struct db *db, int src, const char *what)
{
    int base = src & 0xff;
    const char *msg = db && db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(src);
    if (src == SQLITE_OK || src == SQLITE_DONE || src == SQLITE_ROW)
        return MERR_OK;
    if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
        return merr_set(MERR_TEMPFAIL, "%s: database busy: %s", what, msg);
    if (base == SQLITE_CONSTRAINT)
        return merr_set(MERR_EXISTS, "%s: %s", what, msg);
    if (base == SQLITE_NOMEM)
        return merr_set(MERR_NOMEM, "%s: %s", what, msg);
    return merr_set(MERR_DB, "%s: %s", what, msg);
}

/*
 * The database holds the HMAC secret, every address and the token hashes:
 * it and its -wal and -shm are 0600 (SQLite creates the last two with the
 * database's mode, so narrowing the database first covers new ones).
 */
static enum merr make_private(const char *path)
{
    static const char *const ext[] = {"", "-wal", "-shm"};
    char f[4096];
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        int r;
        if ((size_t)snprintf(f, sizeof f, "%s%s", path, ext[i]) >= sizeof f)
            return merr_set(MERR_INVAL, "database path too long");
        r = fs_make_private(f);
        if (r < 0)
            return merr_set(MERR_IO, "cannot make %s private (mode 0600): %s", f, strerror(errno));
        if (r > 0)
            log_warn("db: %s was readable by other users: now mode 0600", f);
    }
    return MERR_OK;
}

/* sha256_hex(text): the hex SHA-256 of the text's bytes; NULL for NULL. */
static void sql_sha256_hex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    const unsigned char *t;
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    t = sqlite3_value_text(argv[0]);
    if (!t) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    crypto_sha256_hex(hex, t, (size_t)sqlite3_value_bytes(argv[0]));
    sqlite3_result_text(ctx, hex, -1, SQLITE_TRANSIENT);
}

enum merr db_open(const char *path, int busy_timeout_ms, struct db **out)
{
    struct db *db;
    enum merr rc;
    int src;

    *out = NULL;
    if (strcmp(path, ":memory:") != 0) {
        rc = fs_mkdirs(path, 0);
        if (!rc)
            rc = make_private(path);
        if (rc)
            return rc;
    }
    db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    src = sqlite3_open_v2(path, &db->h,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                          db_vfs_init() == SQLITE_OK ? DB_VFS_NAME : NULL);
    if (src != SQLITE_OK) {
        rc = db_fail(db, src, path);
        db_close(db);
        return rc;
    }
    set_busy_timeout(db, busy_timeout_ms);
    sqlite3_extended_result_codes(db->h, 1);
    src = sqlite3_create_function_v2(db->h, "sha256_hex", 1,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                     sql_sha256_hex, NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = db_fail(db, src, "sha256_hex");
        db_close(db);
        return rc;
    }
    rc = strcmp(path, ":memory:") != 0 ? make_private(path) : MERR_OK; /* a new file */
    /* a new database's pages are 1 KiB (an existing one keeps its own:
     * the size cannot change in WAL mode): a commit writes each page it
     * changed whole, and the share's 20 pages as 4 KiB pages were 80 KiB
     * of WAL per share (bench/http: 10 % of the front's CPU) */
    if (!rc)
        rc = db_exec(db, "PRAGMA page_size=1024");
    if (!rc)
        rc = db_exec(db, "PRAGMA journal_mode=WAL");
    if (!rc)
        rc = db_exec(db, "PRAGMA foreign_keys=ON");
    if (!rc)
        rc = db_exec(db, "PRAGMA synchronous=NORMAL");
    if (rc) {
        merr_wrap(rc, "%s", path);
        db_close(db);
        return rc;
    }
    *out = db;
    return MERR_OK;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    for (int i = 0; i < STMT_SLOTS; i++)
        sqlite3_finalize(db->slots[i].stmt);
    sqlite3_close(db->h);
    free(db->path);
    free(db);
}

sqlite3 *db_sqlite(struct db *db)
{
    return db->h;
}

sqlite3_stmt *db_stmt(struct db *db, const char *sql)
{
    size_t h = ((uintptr_t)sql >> 3) % STMT_SLOTS;
    for (int i = 0; i < STMT_SLOTS; i++) {
        struct stmt_slot *s = &db->slots[(h + (size_t)i) % STMT_SLOTS];
        if (s->sql == sql) {
            sqlite3_reset(s->stmt);
            sqlite3_clear_bindings(s->stmt);
            return s->stmt;
        }
        if (!s->sql) {
            int src = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt, NULL);
            if (src != SQLITE_OK) {
                db_fail(db, src, "prepare");
                s->stmt = NULL;
                return NULL;
            }
            s->sql = sql;
            return s->stmt;
        }
    }
    merr_set(MERR_INTERNAL, "statement cache full");
    return NULL;
}

enum merr db_exec(struct db *db, const char *sql)
{
    char *err = NULL;
    int src = sqlite3_exec(db->h, sql, NULL, NULL, &err);
    enum merr rc = MERR_OK;
    if (src != SQLITE_OK) {
        rc = db_fail(db, src, "exec");
        if (err)
            merr_set(rc, "%s", err);
    }
    sqlite3_free(err);
    return rc;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_SAVEPOINT[] = "SAVEPOINT nest";
static const char SQL_RELEASE[] = "RELEASE nest";
static const char SQL_COMMIT[] = "COMMIT";

/*
 * Runs one of the transaction statements above from the handle's cache: a
 * share's step begins and ends a transaction and two savepoints, and
 * sqlite3_exec compiled each of them every time (4 % of the front's CPU).
 */
static enum merr tx_step(struct db *db, const char *sql)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    enum merr rc;
    if (!st)
        return db_exec(db, sql);
    rc = db_fail(db, sqlite3_step(st), sql);
    sqlite3_reset(st);
    return rc;
}

enum merr db_begin(struct db *db)
{
    enum merr rc;
    if (db->depth > 0 && sqlite3_get_autocommit(db->h))
        db->depth = 0; /* SQLite ended it (an I/O error, out of memory): start afresh */
    rc = tx_step(db, db->depth ? SQL_SAVEPOINT : SQL_BEGIN);
    if (!rc)
        db->depth++;
    return rc;
}

enum merr db_commit(struct db *db)
{
    enum merr rc = tx_step(db, db->depth > 1 ? SQL_RELEASE : SQL_COMMIT);
    if (!rc && db->depth > 0)
        db->depth--; /* a COMMIT that failed leaves the transaction open for db_rollback */
    return rc;
}

void db_rollback(struct db *db)
{
    if (db->depth > 1 && !sqlite3_get_autocommit(db->h)) {
        /* only this level's writes: the caller's transaction goes on */
        sqlite3_exec(db->h, "ROLLBACK TO nest; RELEASE nest", NULL, NULL, NULL);
        db->depth--;
        return;
    }
    db->depth = 0;
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

enum merr db_checkpoint(struct db *db, int restart_frames, int wait_ms, int *frames)
{
    int log = 0, done = 0, src, timeout = db->busy_timeout_ms;
    if (frames)
        *frames = 0;
    src = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if ((src & 0xff) == SQLITE_BUSY) {
        /* another connection is checkpointing (a commit's wal_autocheckpoint): its turn */
        if (frames)
            *frames = -1;
        return MERR_OK;
    }
    if (src != SQLITE_OK)
        return db_fail(db, src, "checkpoint");
    if (log >= restart_frames && log > 0) {
        /* busy_wait gives up after busy_timeout_ms: the readers' wait, not the handle's */
        set_busy_timeout(db, wait_ms);
        src = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_RESTART, &log, &done);
        set_busy_timeout(db, timeout);
        if (src == SQLITE_OK)
            log = 0; /* every frame is in the database and no reader needs the WAL */
        else if ((src & 0xff) != SQLITE_BUSY)
            return db_fail(db, src, "checkpoint (restart)");
    }
    if (frames)
        *frames = log;
    return MERR_OK;
}

int db_changes(struct db *db)
{
    return sqlite3_changes(db->h);
}

int db_latest_version(void)
{
    int v = 0;
    for (size_t i = 0; i < db_migrations_count; i++)
        if (db_migrations[i].version > v)
            v = db_migrations[i].version;
    return v;
}

int db_version(struct db *db)
{
    sqlite3_stmt *st;
    int v = 0;
    if (sqlite3_prepare_v2(
            db->h, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'", -1,
            &st, NULL) != SQLITE_OK)
        return -1;
    int exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!exists)
        return 0;
    if (sqlite3_prepare_v2(db->h, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The first dangling reference after a migration, as MERR_DB; MERR_OK if none. */
static enum merr foreign_keys_hold(struct db *db, const struct db_migration *m)
{
    sqlite3_stmt *st;
    enum merr rc = MERR_OK;
    int src;
    if (sqlite3_prepare_v2(db->h, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, SQLITE_ERROR, "foreign_key_check");
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = merr_set(MERR_DB,
                      "migration %04d_%s leaves a row of %s (rowid %lld) pointing at "
                      "no row of %s",
                      m->version, m->name, (const char *)sqlite3_column_text(st, 0),
                      (long long)sqlite3_column_int64(st, 1),
                      (const char *)sqlite3_column_text(st, 2));
    else if (src != SQLITE_DONE)
        rc = db_fail(db, src, "foreign_key_check");
    sqlite3_finalize(st);
    return rc;
}

static enum merr migrate_steps(struct db *db, int cur, int target)
{
    enum merr rc;
    for (int v = cur + 1; v <= target; v++) {
        const struct db_migration *m = NULL;
        sqlite3_stmt *st;
        for (size_t i = 0; i < db_migrations_count; i++)
            if (db_migrations[i].version == v)
                m = &db_migrations[i];
        if (!m)
            return merr_set(MERR_INTERNAL, "migration %d is missing", v);
        rc = db_begin(db);
        if (rc)
            return rc;
        rc = db_exec(db, m->sql);
        if (rc)
            merr_wrap(rc, "migration %04d_%s", m->version, m->name);
        else
            rc = foreign_keys_hold(db, m);
        if (rc) {
            db_rollback(db);
            return rc;
        }
        if (sqlite3_prepare_v2(db->h,
                               "INSERT INTO schema_version(version, name, applied_at) VALUES "
                               "(?, ?, strftime('%s','now'))",
                               -1, &st, NULL) != SQLITE_OK) {
            rc = db_fail(db, SQLITE_ERROR, "schema_version");
            db_rollback(db);
            return rc;
        }
        sqlite3_bind_int(st, 1, m->version);
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        int src = sqlite3_step(st);
        sqlite3_finalize(st);
        if (src != SQLITE_DONE) {
            rc = db_fail(db, src, "schema_version");
            db_rollback(db);
            return rc;
        }
        rc = db_commit(db);
        if (rc) {
            db_rollback(db);
            return rc;
        }
    }
    return MERR_OK;
}

enum merr db_migrate(struct db *db, int target)
{
    int cur, latest = db_latest_version();
    enum merr rc;

    if (target <= 0 || target > latest)
        target = latest;
    rc = db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT "
                     "NULL)");
    if (rc)
        return rc;
    cur = db_version(db);
    if (cur < 0)
        return merr_set(MERR_DB, "cannot read schema_version: %s", sqlite3_errmsg(db->h));
    if (cur > latest)
        return merr_set(MERR_DB,
                        "database schema version %d is newer than this program (%d): upgrade "
                        "the program",
                        cur, latest);
    if (cur == target)
        return MERR_OK;
    /* outside a transaction: inside one the pragma is a silent no-op */
    rc = db_exec(db, "PRAGMA foreign_keys=OFF");
    if (rc)
        return rc;
    /* a table rebuild (create, copy, drop, rename) must not stop at a view
     * that names the table: with the legacy rename the view's text is left
     * as it is and names the rebuilt table once the rename is done */
    rc = db_exec(db, "PRAGMA legacy_alter_table=ON");
    if (!rc)
        rc = migrate_steps(db, cur, target);
    if (db_exec(db, "PRAGMA legacy_alter_table=OFF") && !rc)
        rc = MERR_DB;
    if (db_exec(db, "PRAGMA foreign_keys=ON") && !rc)
        rc = MERR_DB;
    return rc;
}

static const char SQL_SETTING_GET[] = "SELECT value FROM settings WHERE key = ?";
static const char SQL_SETTING_SET[] = "INSERT INTO settings(key, value) VALUES (?, ?) "
                                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value";

enum merr db_setting_get(struct db *db, const char *key, char **out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SETTING_GET);
    int src;
    *out = NULL;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *out = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return *out ? MERR_OK : merr_set(MERR_NOMEM, "out of memory");
    }
    sqlite3_reset(st);
    if (src == SQLITE_DONE)
        return merr_set(MERR_NOTFOUND, "setting %s not set", key);
    return db_fail(db, src, "settings");
}

enum merr db_setting_set(struct db *db, const char *key, const char *value)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SETTING_SET);
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    return src == SQLITE_DONE ? MERR_OK : db_fail(db, src, "settings");
}

enum merr db_step_done(struct db *db, sqlite3_stmt *st, const char *what)
{
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src == SQLITE_DONE || src == SQLITE_ROW)
        return MERR_OK;
    return db_fail(db, src, what);
}

enum merr db_row_end(struct db *db, sqlite3_stmt *st, int src, enum merr none, const char *what)
{
    sqlite3_reset(st);
    if (src == SQLITE_ROW)
        return MERR_OK;
    return src == SQLITE_DONE ? none : db_fail(db, src, what);
}

char *db_col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

char *db_col_dup_null(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

void db_col_copy(sqlite3_stmt *st, int i, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}
