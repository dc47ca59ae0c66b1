/*
 * testutil.h: small helpers shared by the unit tests (header-only).
 */
#ifndef MAILER_TESTS_TESTUTIL_H
#define MAILER_TESTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A fresh empty directory for one test, under $MAILER_TEST_TMP (set by CTest)
 * or /tmp. Returns a static buffer: copy it if you need two.
 */
static inline const char *test_tmpdir(const char *name)
{
    static char path[512];
    const char *base = getenv("MAILER_TEST_TMP");
    char cmd[700];
    if (!base)
        base = "/tmp/mailer-tests";
    mkdir(base, 0755);
    snprintf(path, sizeof path, "%s/%s.%d", base, name, (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        abort();
    if (mkdir(path, 0755) != 0)
        abort();
    return path;
}

/* The source tree (for fixtures): $MAILER_SOURCE_DIR or the compile-time path. */
static inline const char *test_source_dir(void)
{
    const char *s = getenv("MAILER_SOURCE_DIR");
    return s ? s : MAILER_SOURCE_DIR;
}

/* Writes `text` to `path`; aborts on failure. */
static inline void test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

/* Replaces the malloc'd string *field (a config value) with a copy of `value`. */
static inline void test_set_str(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
    if (!*field)
        abort();
}

/*
 * Database fixtures, for the test programs that include db.h (and cmocka.h)
 * before this header. Each fails the test on an error.
 */
#ifdef MAILER_DB_DB_H

/*
 * Opens a new database file `dir`/m.db (dir: a folder from test_tmpdir) and
 * migrates it to the latest schema. Writes the file's path to `path` (size
 * bytes) unless path is NULL, for a second connection. Close with db_close().
 */
static inline struct db *test_db_fresh(const char *dir, char *path, size_t size)
{
    struct db *db;
    char p[700];
    snprintf(p, sizeof p, "%s/m.db", dir);
    if (path)
        snprintf(path, size, "%s", p);
    assert_int_equal(db_open(p, 5000, &db), MERR_OK);
    assert_int_equal(db_migrate(db, 0), MERR_OK);
    return db;
}

/* Prepares `sql` on db's connection; fails the test with SQLite's message if it does not. */
static inline sqlite3_stmt *test_db_prepare(struct db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db_sqlite(db)));
    return st;
}

/* The first column of the first row of `sql` as an integer; -1 if there is no row. */
static inline long long test_db_int(struct db *db, const char *sql)
{
    sqlite3_stmt *st = test_db_prepare(db, sql);
    long long v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/*
 * The first column of the first row of `sql` as text the caller frees; NULL
 * if there is no row or the value is NULL.
 */
static inline char *test_db_strdup(struct db *db, const char *sql)
{
    sqlite3_stmt *st = test_db_prepare(db, sql);
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        v = strdup((const char *)sqlite3_column_text(st, 0));
        assert_non_null(v);
    }
    sqlite3_finalize(st);
    return v;
}

/* test_db_strdup copied into `out` (size bytes, truncated); "" for no row or NULL. */
static inline void test_db_text(struct db *db, const char *sql, char *out, size_t size)
{
    char *v = test_db_strdup(db, sql);
    snprintf(out, size, "%s", v ? v : "");
    free(v);
}

#endif /* MAILER_DB_DB_H */

#endif
