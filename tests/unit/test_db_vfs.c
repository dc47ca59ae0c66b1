/*
 * test_db_vfs.c: the "mailer" VFS (db_vfs.c), which writes each
 * transaction's WAL frames in one call: the calls it saves, and that what
 * SQLite relies on still holds: another connection (with the plain unix
 * VFS, as the sqlite3 shell or Python) sees each commit as soon as COMMIT
 * returns, transactions larger than the buffer and than one write call,
 * pages spilled in the middle of a transaction and read back, and a
 * process killed while committing keeps every commit it had returned from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "db_vfs.h"
#include "testutil.h"

static char path[600];

static struct db *fresh(const char *name)
{
    struct db *db;
    snprintf(path, sizeof path, "%s/v.db", test_tmpdir(name));
    assert_int_equal(db_open(path, 5000, &db), MERR_OK);
    assert_int_equal(db_exec(db, "CREATE TABLE t (n INTEGER PRIMARY KEY, b BLOB NOT NULL)"),
                     MERR_OK);
    return db;
}

/* A connection of the plain unix VFS, as another program would open it. */
static sqlite3 *plain(void)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, "unix"), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    return h;
}

static long long plain_int(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st;
    long long v;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void plain_integrity_ok(sqlite3 *h)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* Inserts rows first..first+count-1, each a blob of `size` bytes whose
 * bytes are its number's, in one transaction. */
static void insert_rows(struct db *db, long long first, int count, int size)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE k(i) AS (SELECT %lld UNION ALL SELECT i + 1 FROM k WHERE i < %lld) "
             "INSERT INTO t(n, b) SELECT i, zeroblob(%d) FROM k",
             first, first + count - 1, size);
    assert_int_equal(db_begin(db), MERR_OK);
    assert_int_equal(db_exec(db, sql), MERR_OK);
    snprintf(sql, sizeof sql,
             "UPDATE t SET b = CAST(printf('%%.*c', %d, char(65 + n %% 26)) AS BLOB) "
             "WHERE n BETWEEN %lld AND %lld",
             size, first, first + count - 1);
    assert_int_equal(db_exec(db, sql), MERR_OK);
    assert_int_equal(db_commit(db), MERR_OK);
}

/* what insert_rows wrote, checked through another connection: `count`
 * rows, each of `size` bytes (0: any size) of its number's letter */
static void rows_are_whole(sqlite3 *h, long long count, int size)
{
    char sql[300];
    assert_int_equal(plain_int(h, "SELECT count(*) FROM t"), count);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM t WHERE (%d = 0 OR length(b) = %d) AND "
             "b = CAST(printf('%%.*c', length(b), char(65 + n %% 26)) AS BLOB)",
             size, size);
    assert_int_equal(plain_int(h, sql), count);
}

static void one_write_call_per_commit(void **state)
{
    struct db *db = fresh("vfs-calls");
    unsigned long w0, f0, w1, f1;
    (void)state;
    insert_rows(db, 1, 1, 100); /* the WAL's header and first frames */
    db_vfs_counts(&w0, &f0);
    insert_rows(db, 2, 30, 900); /* about 30 pages of 1 KiB, each page two writes */
    db_vfs_counts(&w1, &f1);
    if (w1 - w0 < 60)
        fail_msg("SQLite wrote %lu times to the WAL", w1 - w0);
    assert_int_equal(f1 - f0, 1);
    db_close(db);
}

static void each_commit_is_seen_by_another_connection(void **state)
{
    struct db *db = fresh("vfs-seen");
    sqlite3 *h = plain();
    (void)state;
    for (int i = 0; i < 300; i++) {
        insert_rows(db, 1 + 3LL * i, 3, 700 + i % 5 * 300);
        /* SQLite reads a frame once the WAL index names it: the frames
         * must be in the file by the time COMMIT returns */
        assert_int_equal(plain_int(h, "SELECT count(*) FROM t WHERE n > 0"), 3LL * (i + 1));
        if (i % 50 == 49) {
            /* and the other way round: a commit of the plain connection,
             * then ours again after it */
            assert_int_equal(sqlite3_exec(h,
                                          "INSERT INTO t(n, b) VALUES (-1 - (SELECT count(*) "
                                          "FROM t WHERE n < 0), x'00')",
                                          NULL, NULL, NULL),
                             SQLITE_OK);
        }
    }
    assert_int_equal(db_exec(db, "DELETE FROM t WHERE n < 0"), MERR_OK);
    rows_are_whole(h, 900, 0);
    plain_integrity_ok(h);
    sqlite3_close(h);
    db_close(db);
}

static void transactions_larger_than_a_write_call(void **state)
{
    struct db *db = fresh("vfs-large");
    sqlite3 *h;
    (void)state;
    /* 150 KiB, over the unix VFS's 128 KiB a call; then 3 MiB, over the
     * buffer's 1 MiB */
    insert_rows(db, 1, 150, 1000);
    insert_rows(db, 151, 3000, 1000);
    h = plain();
    rows_are_whole(h, 3150, 1000);
    plain_integrity_ok(h);
    sqlite3_close(h);
    db_close(db);
}

static void spilled_pages_are_read_back(void **state)
{
    struct db *db = fresh("vfs-spill");
    sqlite3 *h;
    (void)state;
    /* a cache of 8 pages: SQLite writes frames in the middle of the
     * transaction, reads them back and writes pages again */
    assert_int_equal(db_exec(db, "PRAGMA cache_size=8"), MERR_OK);
    assert_int_equal(db_begin(db), MERR_OK);
    for (int pass = 0; pass < 4; pass++)
        assert_int_equal(db_exec(db, "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                                     "FROM k WHERE i < 400) INSERT OR REPLACE INTO t(n, b) "
                                     "SELECT i, CAST(printf('%.*c', 600, char(65 + i % 26)) "
                                     "AS BLOB) FROM k"),
                         MERR_OK);
    assert_int_equal(db_commit(db), MERR_OK);
    h = plain();
    rows_are_whole(h, 400, 600);
    plain_integrity_ok(h);
    sqlite3_close(h);
    db_close(db);
}

/* The child commits one row at a time and reports each commit it has
 * returned from; killed at a random moment, every reported row is there. */
static void kill_keeps_every_returned_commit(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        struct db *db = fresh("vfs-kill");
        int fds[2];
        pid_t pid;
        long long acked = 0, n;
        struct timespec until, now;
        sqlite3 *h;

        db_close(db);
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            if (db_open(path, 5000, &db))
                _exit(2);
            for (long long i = 1;; i++) {
                char sql[160];
                snprintf(sql, sizeof sql, "INSERT INTO t(n, b) VALUES (%lld, zeroblob(%d))", i,
                         2000 + (int)(i % 7) * 1000);
                if (db_begin(db) || db_exec(db, sql) || db_commit(db))
                    _exit(3);
                if (write(fds[1], &i, sizeof i) != (ssize_t)sizeof i)
                    _exit(4);
            }
        }
        close(fds[1]);
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (50 + round * 37) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        do {
            if (read(fds[0], &n, sizeof n) == (ssize_t)sizeof n)
                acked = n;
            clock_gettime(CLOCK_MONOTONIC, &now);
        } while (now.tv_sec < until.tv_sec ||
                 (now.tv_sec == until.tv_sec && now.tv_nsec < until.tv_nsec));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        /* what was still in the pipe was returned from too */
        while (read(fds[0], &n, sizeof n) == (ssize_t)sizeof n)
            acked = n;
        close(fds[0]);
        assert_true(acked > 10);
        h = plain();
        plain_integrity_ok(h);
        n = plain_int(h, "SELECT count(*) FROM t");
        if (n < acked)
            fail_msg("round %d: %lld rows after the kill, %lld commits had returned", round, n,
                     acked);
        assert_int_equal(plain_int(h, "SELECT max(n) FROM t"), n); /* no gap */
        sqlite3_close(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_write_call_per_commit),
        cmocka_unit_test(each_commit_is_seen_by_another_connection),
        cmocka_unit_test(transactions_larger_than_a_write_call),
        cmocka_unit_test(spilled_pages_are_read_back),
        cmocka_unit_test(kill_keeps_every_returned_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
