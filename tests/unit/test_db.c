/*
 * test_db.c: open, pragmas, migrations (fresh and from every earlier
 * version), refusal of a newer schema, settings, statement cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "db.h"
#include "metrics.h"
#include "migrations.h"
#include "testutil.h"

static char path[600];

static struct db *fresh(const char *name)
{
    struct db *db;
    snprintf(path, sizeof path, "%s/sub/dir/m.db", test_tmpdir(name));
    assert_int_equal(db_open(path, 1000, &db), MERR_OK);
    return db;
}

static void open_sets_wal_and_foreign_keys(void **state)
{
    struct db *db = fresh("db-open");
    sqlite3_stmt *st;
    (void)state;
    assert_int_equal(sqlite3_prepare_v2(db_sqlite(db), "PRAGMA journal_mode", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(test_db_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(db_version(db), 0);
    /* a new database's pages are 1 KiB (db.c: the WAL bytes of a commit) */
    assert_int_equal(test_db_int(db, "PRAGMA page_size"), 1024);
    db_close(db);
}

/* A database made before (4 KiB pages, SQLite's default) keeps its pages:
 * WAL mode cannot change them, and it opens, migrates and writes as before. */
static void existing_database_keeps_its_page_size(void **state)
{
    struct db *db;
    sqlite3 *h;
    (void)state;
    snprintf(path, sizeof path, "%s/old.db", test_tmpdir("db-pages"));
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "unix"),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
                                  "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; "
                                  "CREATE TABLE old (x); INSERT INTO old VALUES (1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(db_open(path, 1000, &db), MERR_OK);
    assert_int_equal(test_db_int(db, "PRAGMA page_size"), 4096);
    assert_int_equal(db_migrate(db, 0), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO old VALUES (2)"), MERR_OK);
    assert_int_equal(test_db_int(db, "SELECT sum(x) FROM old"), 3);
    assert_int_equal(test_db_int(db, "PRAGMA page_size"), 4096);
    db_close(db);
}

static void migrate_empty_to_latest(void **state)
{
    struct db *db = fresh("db-migrate");
    (void)state;
    assert_true(db_latest_version() >= 2);
    assert_int_equal(db_migrate(db, 0), MERR_OK);
    assert_int_equal(db_version(db), db_latest_version());
    /* every table of the design exists */
    const char *tables[] = {"articles",    "article_images", "media",        "lists",
                            "subscribers", "subscriptions",  "suppressions", "sends",
                            "envelopes",   "share_log",      "api_tokens",   "schema_version"};
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", tables[i]);
        if (test_db_int(db, sql) != 1)
            fail_msg("table %s missing", tables[i]);
    }
    /* running again is a no-op */
    assert_int_equal(db_migrate(db, 0), MERR_OK);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM schema_version"), db_latest_version());
    db_close(db);
}

static void migrate_from_every_earlier_version(void **state)
{
    (void)state;
    for (int v = 1; v < db_latest_version(); v++) {
        struct db *db = fresh("db-upgrade");
        assert_int_equal(db_migrate(db, v), MERR_OK);
        assert_int_equal(db_version(db), v);
        /* data written at the old version survives the upgrade */
        assert_int_equal(db_setting_set(db, "marker", "kept"), MERR_OK);
        db_close(db);
        assert_int_equal(db_open(path, 1000, &db), MERR_OK);
        assert_int_equal(db_migrate(db, 0), MERR_OK);
        assert_int_equal(db_version(db), db_latest_version());
        char *val = NULL;
        assert_int_equal(db_setting_get(db, "marker", &val), MERR_OK);
        assert_string_equal(val, "kept");
        free(val);
        db_close(db);
    }
}

static int version_of(const char *name)
{
    for (size_t i = 0; i < db_migrations_count; i++)
        if (!strcmp(db_migrations[i].name, name))
            return db_migrations[i].version;
    fail_msg("no migration named %s", name);
    return 0;
}

/*
 * The migration that makes ids never reused (issue 16) rebuilds lists and
 * subscribers: every row and every reference to them survives (the DROP
 * must not cascade to subscriptions or envelopes), the kept rows get an
 * empty token salt (their old links stay valid), new rows 16 random bytes,
 * and the id of a deleted row is not handed out again.
 */
static void ids_never_reused_migration_keeps_rows_and_references(void **state)
{
    int v = version_of("ids_never_reused");
    struct db *db = fresh("db-ids");
    (void)state;
    assert_int_equal(db_migrate(db, v - 1), MERR_OK);
    assert_int_equal(
        db_exec(
            db,
            "INSERT INTO lists(id, slug, name, created_at, updated_at) VALUES (3, 'tin', 'Tin', "
            "1, 1);"
            "INSERT INTO subscribers(id, email, email_ascii, email_key, created_at, updated_at) "
            "VALUES (7, 'a@x.vn', 'a@x.vn', 'a@x.vn', 1, 1), (9, 'b@x.vn', 'b@x.vn', 'b@x.vn', "
            "1, 1);"
            "INSERT INTO subscriptions(list_id, subscriber_id, status, created_at, updated_at) "
            "VALUES (3, 7, 'confirmed', 1, 1), (3, 9, 'confirmed', 1, 1);"
            "INSERT INTO sends(id, kind, list_id, plan, salt, created_at) VALUES (1, 'digest', "
            "3, '{}', 's', 1);"
            "INSERT INTO envelopes(send_id, subscriber_id, recipient, name, next_attempt_at, "
            "created_at, updated_at) VALUES (1, 9, 'b@x.vn', '', 1, 1, 1);"),
        MERR_OK);
    assert_int_equal(db_migrate(db, v), MERR_OK);
    assert_int_equal(test_db_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM subscriptions"), 2);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE subscriber_id = 9"), 1);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM sends WHERE list_id = 3"), 1);
    assert_int_equal(test_db_int(db, "SELECT sum(length(token_salt)) FROM subscribers"), 0);
    /* the references still work both ways: a delete cascades, a dangling insert fails */
    assert_int_equal(db_exec(db, "DELETE FROM subscribers WHERE id = 9"), MERR_OK);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM subscriptions"), 1);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE subscriber_id IS NULL"),
                     1);
    assert_int_not_equal(db_exec(db, "INSERT INTO subscriptions(list_id, subscriber_id, status, "
                                     "created_at, updated_at) VALUES (3, 1234, 'confirmed', 1, 1)"),
                         MERR_OK);
    /* the largest id, now deleted, is not given again; new rows have a salt */
    assert_int_equal(db_exec(db, "INSERT INTO subscribers(email, email_ascii, email_key, "
                                 "created_at, updated_at) VALUES ('c@x.vn', 'c@x.vn', 'c@x.vn', "
                                 "2, 2)"),
                     MERR_OK);
    assert_int_equal(test_db_int(db, "SELECT id FROM subscribers WHERE email_key = 'c@x.vn'"), 10);
    assert_int_equal(
        test_db_int(db, "SELECT length(token_salt) FROM subscribers WHERE email_key = 'c@x.vn'"),
        16);
    assert_int_equal(db_exec(db, "DELETE FROM lists WHERE id = 3"), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO lists(slug, name, created_at, updated_at) VALUES "
                                 "('moi', 'Moi', 2, 2)"),
                     MERR_OK);
    assert_int_equal(test_db_int(db, "SELECT id FROM lists"), 4);
    db_close(db);
}

/* A migration that leaves a dangling reference is rolled back, naming the table. */
static void migration_breaking_a_reference_is_refused(void **state)
{
    struct db *db = fresh("db-fk");
    (void)state;
    assert_int_equal(db_migrate(db, 0), MERR_OK);
    /* what a careless rebuild would do, checked as db_migrate checks it */
    assert_int_equal(db_exec(db, "INSERT INTO lists(slug, name, created_at, updated_at) VALUES "
                                 "('tin', 'Tin', 1, 1);"
                                 "INSERT INTO subscribers(email, email_ascii, email_key, "
                                 "created_at, updated_at) VALUES ('a@x.vn', 'a@x.vn', 'a@x.vn', 1, "
                                 "1);"
                                 "INSERT INTO subscriptions(list_id, subscriber_id, status, "
                                 "created_at, updated_at) VALUES (1, 1, 'confirmed', 1, 1)"),
                     MERR_OK);
    char sql[100];
    int v = version_of("ids_never_reused");
    snprintf(sql, sizeof sql, "DELETE FROM schema_version WHERE version >= %d", v);
    assert_int_equal(db_exec(db, sql), MERR_OK);
    assert_int_equal(db_exec(db, "PRAGMA foreign_keys=OFF; DELETE FROM subscribers; "
                                 "PRAGMA foreign_keys=ON"),
                     MERR_OK);
    /* re-running that migration finds the dangling subscription and refuses */
    assert_int_equal(db_migrate(db, v), MERR_DB);
    assert_non_null(strstr(merr_msg(), "subscriptions"));
    assert_int_equal(test_db_int(db, "PRAGMA foreign_keys"), 1);
    db_close(db);
}

static void newer_schema_is_refused(void **state)
{
    struct db *db = fresh("db-newer");
    (void)state;
    assert_int_equal(db_migrate(db, 0), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO schema_version VALUES (9999, 'future', 0)"), 0);
    assert_int_equal(db_migrate(db, 0), MERR_DB);
    assert_non_null(strstr(merr_msg(), "newer than this program"));
    db_close(db);
}

static void failed_statement_maps_errors(void **state)
{
    struct db *db = fresh("db-errors");
    (void)state;
    assert_int_equal(db_migrate(db, 0), MERR_OK);
    assert_int_equal(db_exec(db, "SELECT * FROM no_such_table"), MERR_DB);
    assert_non_null(strstr(merr_msg(), "no_such_table"));
    assert_int_equal(db_exec(db, "INSERT INTO settings VALUES ('a','1')"), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO settings VALUES ('a','2')"), MERR_EXISTS);
    /* a failed transaction leaves nothing behind */
    assert_int_equal(db_begin(db), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO settings VALUES ('b','1')"), MERR_OK);
    db_rollback(db);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM settings WHERE key='b'"), 0);
    db_close(db);
}

static void settings_and_statement_cache(void **state)
{
    struct db *db = fresh("db-settings");
    char *v = NULL;
    static const char sql[] = "SELECT count(*) FROM settings";
    (void)state;
    assert_int_equal(db_migrate(db, 0), MERR_OK);
    assert_int_equal(db_setting_get(db, "secret", &v), MERR_NOTFOUND);
    assert_int_equal(db_setting_set(db, "secret", "s1"), MERR_OK);
    assert_int_equal(db_setting_set(db, "secret", "s2"), MERR_OK);
    assert_int_equal(db_setting_get(db, "secret", &v), MERR_OK);
    assert_string_equal(v, "s2");
    free(v);
    sqlite3_stmt *a = db_stmt(db, sql), *b;
    assert_non_null(a);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    b = db_stmt(db, sql);
    assert_ptr_equal(a, b); /* reused, and reset */
    assert_int_equal(sqlite3_step(b), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(b, 0), 1);
    assert_null(db_stmt(db, "SELECT nonsense FROM"));
    db_close(db);
}

struct begin_job {
    struct db *db;
    enum merr rc;
};

/*
 * Transactions nest (db.h): an inner db_rollback undoes only the inner
 * writes and the outer transaction goes on; an inner db_commit makes
 * nothing durable until the outer one commits; an outer rollback undoes
 * the committed inner level too. Seen with a second connection, which only
 * sees what the outermost COMMIT wrote.
 */
static void transactions_nest_as_savepoints(void **state)
{
    struct db *db = fresh("db-nest"), *other;
    (void)state;
    assert_int_equal(db_open(path, 1000, &other), MERR_OK);
    assert_int_equal(db_exec(db, "CREATE TABLE t (x INTEGER)"), MERR_OK);

    assert_int_equal(db_begin(db), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO t VALUES (1)"), MERR_OK);
    assert_int_equal(db_begin(db), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO t VALUES (2)"), MERR_OK);
    db_rollback(db); /* the inner level only */
    assert_false(sqlite3_get_autocommit(db_sqlite(db)));
    assert_int_equal(db_begin(db), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO t VALUES (4)"), MERR_OK);
    assert_int_equal(db_commit(db), MERR_OK); /* inner: still one open transaction */
    assert_false(sqlite3_get_autocommit(db_sqlite(db)));
    assert_int_equal(test_db_int(other, "SELECT count(*) FROM t"), 0);
    assert_int_equal(db_commit(db), MERR_OK);
    assert_true(sqlite3_get_autocommit(db_sqlite(db)));
    assert_int_equal(test_db_int(other, "SELECT sum(x) FROM t"), 5);

    /* an inner commit is undone by the outer rollback */
    assert_int_equal(db_begin(db), MERR_OK);
    assert_int_equal(db_begin(db), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO t VALUES (10)"), MERR_OK);
    assert_int_equal(db_commit(db), MERR_OK);
    db_rollback(db);
    assert_true(sqlite3_get_autocommit(db_sqlite(db)));
    assert_int_equal(test_db_int(other, "SELECT sum(x) FROM t"), 5);

    /* and a plain transaction after all that is one again (BEGIN, not SAVEPOINT) */
    assert_int_equal(db_begin(db), MERR_OK);
    assert_int_equal(db_exec(db, "INSERT INTO t VALUES (100)"), MERR_OK);
    assert_int_equal(db_commit(db), MERR_OK);
    assert_int_equal(test_db_int(other, "SELECT sum(x) FROM t"), 105);
    db_close(other);
    db_close(db);
}

/*
 * db_checkpoint keeps the WAL bounded while a writer and a reader never
 * stop (as in `mailer serve` under load). A PASSIVE checkpoint alone
 * cannot finish while frames keep coming and readers hold older snapshots,
 * and the WAL file only starts over after one that finished: it grew
 * without end (bench/http: 209 MB in seconds).
 */
struct churn {
    atomic_int stop;
    atomic_int writes;
    atomic_int reads; /* two readers count here */
    atomic_int ended; /* the writer stopped (an error: rc says which) */
    enum merr rc;
};

static void *keep_writing(void *arg)
{
    struct churn *c = arg;
    struct db *db;
    c->rc = db_open(path, 5000, &db);
    while (!c->rc && !atomic_load(&c->stop)) {
        c->rc = db_begin(db);
        if (!c->rc)
            c->rc = db_exec(db, "INSERT INTO t VALUES (randomblob(1500))");
        if (!c->rc)
            c->rc = db_commit(db);
        atomic_fetch_add(&c->writes, 1);
    }
    db_close(db);
    atomic_store(&c->ended, 1);
    return NULL;
}

static void *keep_reading(void *arg)
{
    struct churn *c = arg;
    struct db *db;
    if (db_open(path, 5000, &db))
        return NULL;
    while (!atomic_load(&c->stop)) {
        /* a read transaction of a millisecond on the snapshot of the moment, then the next:
         * two such readers overlap, so some reader always holds an older snapshot */
        struct timespec ms = {0, 1000 * 1000};
        if (db_exec(db, "BEGIN"))
            break;
        if (test_db_int(db, "SELECT count(*) FROM (SELECT x FROM t ORDER BY rowid DESC LIMIT 20)"))
            atomic_fetch_add(&c->reads, 1);
        nanosleep(&ms, NULL);
        if (db_exec(db, "COMMIT"))
            break;
    }
    db_close(db);
    return NULL;
}

static void checkpoint_keeps_wal_bounded(void **state)
{
    struct db *db = fresh("db-checkpoint");
    struct churn w = {0}, r = {0};
    pthread_t tw, tr, tr2;
    struct timespec nap = {0, 2 * 1000 * 1000}, start, now;
    struct stat st;
    char wal[640];
    int frames = 0, restarts = 0;
    (void)state;
    assert_int_equal(db_exec(db, "CREATE TABLE t (x BLOB)"), MERR_OK);
    assert_int_equal(pthread_create(&tw, NULL, keep_writing, &w), 0);
    assert_int_equal(pthread_create(&tr, NULL, keep_reading, &r), 0);
    assert_int_equal(pthread_create(&tr2, NULL, keep_reading, &r), 0);
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        assert_int_equal(db_checkpoint(db, 200, 50, &frames), MERR_OK);
        restarts += frames == 0;
        nanosleep(&nap, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec < 2 || atomic_load(&w.writes) < 6000) &&
             !atomic_load(&w.ended) && now.tv_sec - start.tv_sec < 120);
    atomic_store(&w.stop, 1);
    atomic_store(&r.stop, 1);
    pthread_join(tw, NULL);
    pthread_join(tr, NULL);
    pthread_join(tr2, NULL);
    assert_int_equal(w.rc, MERR_OK);
    snprintf(wal, sizeof wal, "%s-wal", path);
    assert_int_equal(stat(wal, &st), 0);
    fprintf(stderr, "checkpoint: %d commits, %d reads, %d restarts, WAL file %lld bytes\n",
            atomic_load(&w.writes), atomic_load(&r.reads), restarts, (long long)st.st_size);
    assert_true(atomic_load(&r.reads) > 0);
    assert_true(restarts > 0);
    /* 6,000 commits of two or three 4 KiB frames each: over 24 MB if the WAL never starts
     * over (10-16 MB seen with PASSIVE alone, in 4,200-4,500 commits); 2-5 MB seen here.
     * The file's size is its high-water mark, the longest streak of restarts that found a
     * reader in the way, which grows with the commits of a longer run (a loaded machine
     * runs the full 2 s): 8.75 MB after 12,720 commits once. So the bound is 2,000 frames
     * or a quarter of two frames per commit, whichever is more. */
    long long bound = 2000LL > atomic_load(&w.writes) / 2 ? 2000LL : atomic_load(&w.writes) / 2;
    assert_true(st.st_size < bound * (4096 + 24));
    db_close(db);
}

static void *begin_then_commit(void *arg)
{
    struct begin_job *j = arg;
    j->rc = db_begin(j->db);
    if (j->rc == MERR_OK)
        j->rc = db_commit(j->db);
    return NULL;
}

/* "mailer_db_busy_waits_total N" from /metrics' text. */
static long long busy_waits(void)
{
    struct buf out;
    long long n = -1;
    const char *p;
    buf_init(&out, 0);
    assert_int_equal(metrics_render(&out, NULL, NULL, 0), MERR_OK);
    p = strstr(out.data, "\nmailer_db_busy_waits_total ");
    if (p)
        n = atoll(p + strlen("\nmailer_db_busy_waits_total "));
    buf_free(&out);
    return n;
}

/*
 * A writer that finds the lock taken waits in the busy handler and gets it
 * once the holder commits (counted in /metrics); with the lock never given
 * back it gives up after busy_timeout_ms with a temporary error.
 */
static void busy_writer_waits_then_gives_up(void **state)
{
    struct db *a = fresh("db-busy"), *b, *c;
    struct begin_job job;
    pthread_t th;
    struct timespec pause = {0, 1000000L};
    (void)state;
    assert_int_equal(db_migrate(a, 0), MERR_OK);
    assert_int_equal(db_open(path, 5000, &b), MERR_OK);
    assert_int_equal(db_open(path, 20, &c), MERR_OK);
    metrics_reset();
    assert_int_equal(db_begin(a), MERR_OK);
    job.db = b;
    job.rc = MERR_INTERNAL;
    assert_int_equal(pthread_create(&th, NULL, begin_then_commit, &job), 0);
    /* until b is waiting (its timeout, 5 s, is far) */
    for (int i = 0; i < 4000 && busy_waits() < 1; i++)
        nanosleep(&pause, NULL);
    assert_int_equal(busy_waits(), 1);
    assert_int_equal(db_commit(a), MERR_OK);
    pthread_join(th, NULL);
    assert_int_equal(job.rc, MERR_OK);
    /* held for good: the 20 ms handle gives up */
    assert_int_equal(db_begin(a), MERR_OK);
    assert_int_equal(db_begin(c), MERR_TEMPFAIL);
    assert_non_null(strstr(merr_msg(), "locked"));
    db_rollback(a);
    assert_int_equal(db_begin(c), MERR_OK);
    db_rollback(c);
    db_close(c);
    db_close(b);
    db_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_sets_wal_and_foreign_keys),
        cmocka_unit_test(existing_database_keeps_its_page_size),
        cmocka_unit_test(migrate_empty_to_latest),
        cmocka_unit_test(migrate_from_every_earlier_version),
        cmocka_unit_test(ids_never_reused_migration_keeps_rows_and_references),
        cmocka_unit_test(migration_breaking_a_reference_is_refused),
        cmocka_unit_test(newer_schema_is_refused),
        cmocka_unit_test(failed_statement_maps_errors),
        cmocka_unit_test(settings_and_statement_cache),
        cmocka_unit_test(busy_writer_waits_then_gives_up),
        cmocka_unit_test(transactions_nest_as_savepoints),
        cmocka_unit_test(checkpoint_keeps_wal_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
