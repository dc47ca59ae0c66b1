/*
 * test_http.c: the parts of the HTTP module that need no socket: form and
 * JSON body parsing, the single-use CSRF token, the rate counters (exact
 * under 100 threads), API token storage, the Prometheus text and the
 * error answers of the router.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "http_int.h"
#include "migrations.h"
#include "http_msg.h"
#include "testutil.h"
#include "utf8.h"
#include "tpl.h"

static char dbpath[600];

static struct db *fresh_db(const char *name)
{
    return test_db_fresh(test_tmpdir(name), dbpath, sizeof dbpath);
}

static void form_decodes_pairs_in_order(void **state)
{
    struct http_form f;
    const char body[] = "to=a%40b.vn&to=&to=c%40d.vn&sender_name=Nguy%E1%BB%85n+V%C4%83n+A&x";
    (void)state;
    assert_int_equal(http_form_parse(body, strlen(body), &f), MERR_OK);
    assert_int_equal(f.n, 5);
    assert_string_equal(f.v[0].value, "a@b.vn");
    assert_string_equal(f.v[1].value, "");
    assert_string_equal(f.v[2].value, "c@d.vn");
    assert_string_equal(http_form_get(&f, "sender_name"), "Nguyễn Văn A");
    assert_string_equal(http_form_get(&f, "x"), "");
    assert_null(http_form_get(&f, "note"));
    http_form_free(&f);
}

static void form_refuses_bad_utf8_nul_and_escapes(void **state)
{
    struct http_form f;
    (void)state;
    assert_int_equal(http_form_parse("note=%C3%28", 11, &f), MERR_INVAL);
    assert_string_equal(merr_field(), "note");
    assert_non_null(strstr(merr_msg(), "UTF-8"));
    assert_int_equal(http_form_parse("sender_name=a%00b", 17, &f), MERR_INVAL);
    assert_string_equal(merr_field(), "sender_name");
    assert_int_equal(http_form_parse("note=%4", 7, &f), MERR_INVAL);
    assert_int_equal(http_form_parse("note=%zz", 8, &f), MERR_INVAL);
    /* raw invalid bytes, not escaped */
    assert_int_equal(http_form_parse("note=\xff", 6, &f), MERR_INVAL);
}

static void json_body_errors_name_the_problem(void **state)
{
    json_t *j = NULL;
    (void)state;
    assert_int_equal(http_form_json("{\"a\": 1,", 8, &j), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "malformed JSON"));
    assert_int_equal(http_form_json("{\"a\": \"\xc3\x28\"}", 11, &j), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "not valid UTF-8 at byte 7"));
    assert_int_equal(http_form_json("{\"a\": \"Hà Giang\"}", strlen("{\"a\": \"Hà Giang\"}"), &j),
                     MERR_OK);
    assert_string_equal(json_string_value(json_object_get(j, "a")), "Hà Giang");
    json_decref(j);
}

static void escape_and_unescape_segments(void **state)
{
    struct buf b;
    char seg[] = "tin%20m%E1%BB%9Bi";
    char bad[] = "a%ff";
    (void)state;
    buf_init(&b, 0);
    assert_int_equal(http_form_escape(&b, "tin mới/1"), MERR_OK);
    assert_string_equal(b.data, "tin%20m%E1%BB%9Bi%2F1");
    buf_free(&b);
    assert_int_equal(http_form_unescape_segment(seg), MERR_OK);
    assert_string_equal(seg, "tin mới");
    assert_int_equal(http_form_unescape_segment(bad), MERR_INVAL);
}

static const char SECRET[] = "0123456789abcdef0123456789abcdef";

static const char BIND[] = "AAAAAAAAAAAAAAAAAAAAAA"; /* a browser's form cookie */

static void csrf_token_is_single_use(void **state)
{
    struct db *db = fresh_db("http-csrf");
    struct buf t;
    time_t now = 1700000000;
    (void)state;
    buf_init(&t, 0);
    assert_int_equal(http_csrf_make(SECRET, BIND, now, &t), MERR_OK);
    assert_int_equal(http_csrf_check(db, SECRET, BIND, t.data, now + 5), MERR_OK);
    /* the same token again: refused */
    assert_int_equal(http_csrf_check(db, SECRET, BIND, t.data, now + 6), MERR_EXISTS);
    buf_free(&t);
    db_close(db);
}

static void csrf_token_refuses_missing_forged_expired(void **state)
{
    struct db *db = fresh_db("http-csrf2");
    struct buf t;
    time_t now = 1700000000;
    (void)state;
    buf_init(&t, 0);
    assert_int_equal(http_csrf_check(db, SECRET, BIND, NULL, now), MERR_INVAL);
    assert_int_equal(http_csrf_check(db, SECRET, BIND, "", now), MERR_INVAL);
    assert_int_equal(http_csrf_check(db, SECRET, BIND, "abc", now), MERR_INVAL);
    assert_int_equal(http_csrf_make(SECRET, BIND, now, &t), MERR_OK);
    /* another secret: not genuine */
    assert_int_equal(http_csrf_check(db, "another-secret-of-16+", BIND, t.data, now), MERR_INVAL);
    /* another browser's cookie, or none (issue 16 item 12: bound to the client) */
    assert_int_equal(http_csrf_check(db, SECRET, "BBBBBBBBBBBBBBBBBBBBBB", t.data, now),
                     MERR_INVAL);
    assert_int_equal(http_csrf_check(db, SECRET, NULL, t.data, now), MERR_INVAL);
    /* one character changed */
    t.data[3] = t.data[3] == 'A' ? 'B' : 'A';
    assert_int_equal(http_csrf_check(db, SECRET, BIND, t.data, now), MERR_INVAL);
    buf_reset(&t);
    assert_int_equal(http_csrf_make(SECRET, BIND, now, &t), MERR_OK);
    assert_int_equal(http_csrf_check(db, SECRET, BIND, t.data, now + HTTP_CSRF_TTL + 1),
                     MERR_LIMIT);
    /* expired is refused before being marked: still unused when in time */
    assert_int_equal(http_csrf_check(db, SECRET, BIND, t.data, now + 10), MERR_OK);
    buf_free(&t);
    db_close(db);
}

struct racer {
    pthread_barrier_t *go;
    int ok;
    int limited;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct db *db;
    const char *keys[] = {"ip:10.0.0.1", "sender:a@b.vn", "global"};
    int limits[] = {10, 1000, 1000};
    size_t refused;
    enum merr rc;
    if (db_open(dbpath, 10000, &db))
        return NULL;
    pthread_barrier_wait(r->go);
    int retry;
    rc = http_store_rate_take(db, keys, limits, 3, 100000, 3600, &refused, &retry);
    if (rc == MERR_OK)
        r->ok = 1;
    else if (rc == MERR_LIMIT && refused == 0)
        r->limited = 1;
    db_close(db);
    return NULL;
}

static void rate_limit_is_exact_under_100_threads(void **state)
{
    enum { N = 100 };
    struct db *db = fresh_db("http-rate");
    pthread_t th[N];
    struct racer rs[N];
    pthread_barrier_t go;
    int ok = 0, limited = 0;
    (void)state;
    pthread_barrier_init(&go, NULL, N);
    for (int i = 0; i < N; i++) {
        rs[i] = (struct racer){&go, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += rs[i].ok;
        limited += rs[i].limited;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 10);
    assert_int_equal(limited, 90);
    /* a refusal takes nothing: the other counters moved only for the 10 */
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM rate_events WHERE key='ip:10.0.0.1'"),
                     10);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM rate_events WHERE key='global'"), 10);
    db_close(db);
}

static void rate_give_back_and_zero_limit(void **state)
{
    struct db *db = fresh_db("http-rate2");
    const char *keys[] = {"ip:1.2.3.4"};
    int one[] = {1}, zero[] = {0}, retry = 0;
    size_t refused = 99;
    (void)state;
    assert_int_equal(http_store_rate_take(db, keys, one, 1, 10000, 3600, &refused, &retry),
                     MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, one, 1, 10000, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(refused, 0);
    assert_int_equal(http_store_rate_give_back(db, keys, 1), MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, one, 1, 10000, 3600, &refused, &retry),
                     MERR_OK);
    /* an hour later the request has left the window */
    assert_int_equal(http_store_rate_take(db, keys, one, 1, 13600, 3600, &refused, &retry),
                     MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, zero, 1, 17200, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(http_store_housekeep(db, 13600), MERR_OK);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM rate_events"), 1);
    db_close(db);
}

/*
 * Issue 16 item 12: a window slides. With 10 an hour, 10 at 10:59 and 10
 * more at 11:00 were both let through by clock-hour windows (20 within two
 * minutes); here the second 10 wait until the first leave, and
 * Retry-After says exactly when.
 */
static void rate_window_slides(void **state)
{
    struct db *db = fresh_db("http-rate3");
    const char *keys[] = {"ip:2001:db8:1:2::/64"};
    int ten[] = {10}, retry = 0;
    size_t refused;
    time_t t0 = 1700000000 - 1700000000 % 3600 + 3599; /* hh:59:59 */
    (void)state;
    for (int i = 0; i < 10; i++)
        assert_int_equal(http_store_rate_take(db, keys, ten, 1, t0, 3600, &refused, &retry),
                         MERR_OK);
    /* past the clock hour: still the same sliding hour */
    assert_int_equal(http_store_rate_take(db, keys, ten, 1, t0 + 2, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(retry, 3598);
    assert_int_equal(http_store_rate_take(db, keys, ten, 1, t0 + 3599, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(retry, 1);
    /* an hour after the first ten, one more fits, and then it is full again */
    assert_int_equal(http_store_rate_take(db, keys, ten, 1, t0 + 3600, 3600, &refused, &retry),
                     MERR_OK);
    /* the take deleted the ten that left: the key holds its window, numbered without gaps */
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM rate_events"), 1);
    /* nine more fit in the hour from t0 + 3600, the tenth after them does not */
    for (int i = 0; i < 9; i++)
        assert_int_equal(http_store_rate_take(db, keys, ten, 1, t0 + 3601, 3600, &refused, &retry),
                         MERR_OK);
    assert_int_equal(http_store_rate_give_back(db, keys, 1), MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, ten, 1, t0 + 3602, 3600, &refused, &retry),
                     MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, ten, 1, t0 + 3603, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(retry, 3597);
    assert_int_equal(test_db_int(db, "SELECT max(seq) - min(seq) + 1 FROM rate_events"), 10);
    /* the first of them leaves: one fits, and the key still counts ten */
    assert_int_equal(http_store_rate_take(db, keys, ten, 1, t0 + 7200, 3600, &refused, &retry),
                     MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, ten, 1, t0 + 7200, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(retry, 1);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM rate_events"), 10);
    db_close(db);
}

/*
 * The clock steps back 100 s between two requests: the later one carries
 * the earlier time. Pruning by time then takes it out of the middle of the
 * numbers; the gap still counts, so the key refuses early (two requests in
 * the window, limit three), never lets a fourth through, and is exact
 * again once the older numbers have left.
 */
static void rate_clock_step_back_refuses_early_never_late(void **state)
{
    struct db *db = fresh_db("http-rate4");
    const char *keys[] = {"ip:10.9.8.7"};
    int three[] = {3}, retry = 0;
    size_t refused;
    time_t t0 = 1700000000;
    (void)state;
    assert_int_equal(http_store_rate_take(db, keys, three, 1, t0 + 100, 3600, &refused, &retry),
                     MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, three, 1, t0, 3600, &refused, &retry), MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, three, 1, t0 + 50, 3600, &refused, &retry),
                     MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, three, 1, t0 + 100, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(retry, 3500);
    /* t0 left the window: numbers 1 and 3 remain, the gap at 2 still counts */
    assert_int_equal(http_store_rate_take(db, keys, three, 1, t0 + 3600, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM rate_events"), 2);
    assert_int_equal(retry, 50);
    /* t0 + 50 left too: only number 1 remains, one of three */
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            http_store_rate_take(db, keys, three, 1, t0 + 3650, 3600, &refused, &retry), MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, three, 1, t0 + 3650, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(retry, 50);
    db_close(db);
}

/* SQLite's virtual machine steps of every statement of the handle so far */
static long long vm_steps(struct db *db)
{
    long long n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(db_sqlite(db), NULL); st;
         st = sqlite3_next_stmt(db_sqlite(db), st))
        n += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
    return n;
}

/*
 * A take reads what it deletes and a few rows more, whatever the window
 * holds: with 20,000 requests of the global key in the window, it steps
 * SQLite's machine about as often as with one (a count of the window
 * reads all 20,000: migration 0012's regression). And when 999 of them
 * leave at once, it reads about those.
 */
static void rate_take_reads_no_window(void **state)
{
    struct db *db = fresh_db("http-rate5");
    const char *keys[] = {"global"};
    int many[] = {1000000}, retry = 0;
    size_t refused;
    time_t t0 = 1700000000;
    long long before, steps;
    (void)state;
    assert_int_equal(db_exec(db, "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k "
                                 "WHERE i < 20000) INSERT INTO rate_events(key, seq, at) "
                                 "SELECT 'global', i, 1700000000 + i / 4 FROM k"),
                     MERR_OK);
    assert_int_equal(db_exec(db, "ANALYZE"), MERR_OK); /* the planner sees the real sizes */
    assert_int_equal(http_store_rate_take(db, keys, many, 1, t0 + 3000, 3600, &refused, &retry),
                     MERR_OK);
    before = vm_steps(db);
    assert_int_equal(http_store_rate_take(db, keys, many, 1, t0 + 3000, 3600, &refused, &retry),
                     MERR_OK);
    steps = vm_steps(db) - before;
    if (steps > 300)
        fail_msg("one take of a full window: %lld steps", steps);
    /* requests 1 .. 999 are at or before t0 + 249: at t0 + 3849 they have left */
    before = vm_steps(db);
    assert_int_equal(http_store_rate_take(db, keys, many, 1, t0 + 3849, 3600, &refused, &retry),
                     MERR_OK);
    steps = vm_steps(db) - before;
    assert_int_equal(test_db_int(db, "SELECT min(seq) FROM rate_events"), 1000);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM rate_events"), 20000 - 999 + 3);
    if (steps > 999 * 20 + 300)
        fail_msg("pruning 999 requests: %lld steps", steps);
    db_close(db);
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
 * A database upgraded from the unnumbered log (migration rate_events)
 * keeps counting its requests: numbered by time, the ones that left the
 * window are pruned on the next take, the rest still count.
 */
static void rate_windows_survive_the_upgrade(void **state)
{
    int v = version_of("rate_events_numbered");
    struct db *db;
    const char *keys[] = {"ip:10.0.0.9", "global"};
    int limits[] = {3, 5}, retry = 0;
    size_t refused = 99;
    time_t now = 1700000000;
    char sql[600];
    (void)state;
    snprintf(dbpath, sizeof dbpath, "%s/m.db", test_tmpdir("http-rate5"));
    assert_int_equal(db_open(dbpath, 5000, &db), MERR_OK);
    assert_int_equal(db_migrate(db, v - 1), MERR_OK);
    /* ids out of time order, as two processes write them; one request already out */
    snprintf(sql, sizeof sql,
             "INSERT INTO rate_events(id, key, at) VALUES (3, 'ip:10.0.0.9', %lld), "
             "(4, 'ip:10.0.0.9', %lld), (5, 'global', %lld), (6, 'global', %lld), "
             "(7, 'ip:10.0.0.9', %lld), (8, 'global', %lld)",
             (long long)now - 10, (long long)now - 4000, (long long)now - 20, (long long)now - 4000,
             (long long)now - 20, (long long)now - 10);
    assert_int_equal(db_exec(db, sql), MERR_OK);
    assert_int_equal(db_migrate(db, 0), MERR_OK);
    /* numbered per key by time: the oldest is 1 */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM rate_events WHERE (key, seq, at) IN (VALUES "
             "('ip:10.0.0.9', 1, %lld), ('ip:10.0.0.9', 2, %lld), ('ip:10.0.0.9', 3, %lld), "
             "('global', 1, %lld), ('global', 2, %lld), ('global', 3, %lld))",
             (long long)now - 4000, (long long)now - 20, (long long)now - 10, (long long)now - 4000,
             (long long)now - 20, (long long)now - 10);
    assert_int_equal(test_db_int(db, sql), 6);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM rate_events"), 6);
    /* two of the ip's three are in the window: one more fits, then it is full */
    assert_int_equal(http_store_rate_take(db, keys, limits, 2, now, 3600, &refused, &retry),
                     MERR_OK);
    assert_int_equal(http_store_rate_take(db, keys, limits, 2, now, 3600, &refused, &retry),
                     MERR_LIMIT);
    assert_int_equal(refused, 0);
    assert_int_equal(retry, 3580);
    assert_int_equal(test_db_int(db, "SELECT max(seq) FROM rate_events WHERE key = 'global'"), 4);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM rate_events WHERE key = 'global'"), 3);
    db_close(db);
}

static void tokens_are_stored_hashed_and_revocable(void **state)
{
    struct db *db = fresh_db("http-token");
    char h1[65], h2[65];
    long long id1, id2, found;
    struct http_token *v;
    size_t n;
    int revoked, ro = -1;
    (void)state;
    crypto_sha256_hex(h1, "mlr_one", 7);
    crypto_sha256_hex(h2, "mlr_two", 7);
    assert_int_equal(http_store_token_create(db, "cms", 0, h1, 100, &id1), MERR_OK);
    assert_int_equal(http_store_token_create(db, "editor", 0, h2, 100, &id2), MERR_OK);
    assert_int_equal(
        test_db_int(db, "SELECT count(*) FROM api_tokens WHERE token_hash LIKE 'mlr%'"), 0);
    assert_int_equal(http_store_token_find(db, h1, 200, &found, &ro), MERR_OK);
    assert_int_equal(found, id1);
    assert_int_equal(ro, 0);
    assert_int_equal(http_store_token_revoke(db, "cms", 300, &revoked), MERR_OK);
    assert_int_equal(revoked, 1);
    assert_int_equal(http_store_token_find(db, h1, 400, &found, &ro), MERR_NOTFOUND);
    assert_int_equal(http_store_token_revoke(db, "cms", 300, &revoked), MERR_NOTFOUND);
    char idtxt[32];
    snprintf(idtxt, sizeof idtxt, "%lld", id2);
    assert_int_equal(http_store_token_revoke(db, idtxt, 500, &revoked), MERR_OK);
    assert_int_equal(http_store_token_list(db, &v, &n), MERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "cms");
    assert_int_equal(v[0].last_used_at, 200);
    assert_int_equal(v[0].revoked_at, 300);
    assert_int_equal(v[1].revoked_at, 500);
    free(v);
    db_close(db);
}

static void token_create_check_revoke_through_the_public_api(void **state)
{
    struct db *db = fresh_db("http-token-public");
    struct buf tok, other;
    struct http_token *v;
    long long id = 0, found = 0;
    size_t n;
    int revoked = 0;
    char hash[65], q[160];
    (void)state;
    buf_init(&tok, 128);
    buf_init(&other, 128);
    assert_int_equal(buf_puts(&tok, "kept:"), MERR_OK);
    /* a bad name: refused, nothing appended, nothing stored */
    assert_int_equal(http_token_create(db, "", 0, 10, &tok, &id), MERR_INVAL);
    assert_int_equal(http_token_create(db, "a\r\nb", 0, 10, &tok, &id), MERR_INVAL);
    assert_string_equal(tok.data, "kept:");
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM api_tokens"), 0);
    assert_int_equal(http_token_create(db, "cms Hà Giang", 0, 10, &tok, &id), MERR_OK);
    const char *t = tok.data + 5;
    assert_int_equal(strlen(t), 4 + 43);
    assert_memory_equal(t, HTTP_TOKEN_PREFIX, 4);
    for (const char *c = t + 4; *c; c++)
        assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *c));
    /* only the hash is stored */
    crypto_sha256_hex(hash, t, strlen(t));
    snprintf(q, sizeof q, "SELECT count(*) FROM api_tokens WHERE token_hash = '%s'", hash);
    assert_int_equal(test_db_int(db, q), 1);
    assert_int_equal(
        test_db_int(db, "SELECT count(*) FROM api_tokens WHERE token_hash LIKE 'mlr_%'"), 0);
    /* two tokens differ; the second is read-only */
    assert_int_equal(http_token_create(db, "cms Hà Giang", 1, 11, &other, NULL), MERR_OK);
    assert_string_not_equal(other.data, t);
    int ro = -1;
    assert_int_equal(http_token_check(db, t, 20, &found, &ro), MERR_OK);
    assert_int_equal(found, id);
    assert_int_equal(ro, 0);
    assert_int_equal(http_token_check(db, other.data, 21, NULL, &ro), MERR_OK);
    assert_int_equal(ro, 1);
    assert_int_equal(http_token_check(db, "mlr_wrong", 20, &found, NULL), MERR_NOTFOUND);
    assert_int_equal(http_token_check(db, "", 20, NULL, NULL), MERR_NOTFOUND);
    assert_int_equal(http_token_list(db, &v, &n), MERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "cms Hà Giang");
    assert_int_equal(v[0].last_used_at, 20);
    assert_int_equal(v[0].read_only, 0);
    assert_int_equal(v[1].last_used_at, 21);
    assert_int_equal(v[1].read_only, 1);
    free(v);
    /* revoking by name revokes both; a revoked token no longer checks */
    assert_int_equal(http_token_revoke(db, "cms Hà Giang", 30, &revoked), MERR_OK);
    assert_int_equal(revoked, 2);
    assert_int_equal(http_token_check(db, t, 40, NULL, NULL), MERR_NOTFOUND);
    assert_int_equal(http_token_check(db, other.data, 40, NULL, NULL), MERR_NOTFOUND);
    assert_int_equal(http_token_revoke(db, "cms Hà Giang", 50, NULL), MERR_NOTFOUND);
    buf_free(&tok);
    buf_free(&other);
    db_close(db);
}

/* Router answers that need templates but no database. */
static struct config cfg;
static struct http_ctx ctx;

static int setup_ctx(void **state)
{
    char tdir[700];
    (void)state;
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    snprintf(tdir, sizeof tdir, "%s/templates", test_source_dir());
    memset(&ctx, 0, sizeof ctx);
    ctx.cfg = &cfg;
    pthread_mutex_init(&ctx.write_lock, NULL);
    assert_int_equal(tpl_set_open(tdir, NULL, &ctx.tpl), MERR_OK);
    return 0;
}

static int teardown_ctx(void **state)
{
    (void)state;
    tpl_set_free(ctx.tpl);
    pthread_mutex_destroy(&ctx.write_lock);
    cfg_free(&cfg);
    return 0;
}

static void router_answers_errors(void **state)
{
    struct http_req r;
    (void)state;

    http_req_init(&r, &ctx, "GET", "/nowhere");
    http_route(&r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.out.data, "Không tìm thấy trang"));
    assert_non_null(strstr(r.out.data, "<html lang=\"vi\">"));
    http_req_free(&r);

    http_req_init(&r, &ctx, "DELETE", "/share/abc");
    http_route(&r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.hname[0], "Allow");
    http_req_free(&r);

    /* wrong content type on the share POST: 415 before anything else */
    http_req_init(&r, &ctx, "POST", "/share/abc");
    r.content_type = strdup("text/plain");
    http_route(&r);
    assert_int_equal(r.status, 415);
    assert_non_null(strstr(r.out.data, "\"code\":\"unsupported_media_type\""));
    http_req_free(&r);

    /* a body over the cap, flagged by the reader */
    http_req_init(&r, &ctx, "POST", "/share/abc");
    r.too_big = 1;
    http_route(&r);
    assert_int_equal(r.status, 413);
    http_req_free(&r);

    /* link tokens never reach the log path */
    http_req_init(&r, &ctx, "POST", "/unsubscribe/SECRET-TOKEN");
    r.too_big = 1;
    http_route(&r);
    assert_null(strstr(r.logpath, "SECRET"));
    assert_string_equal(r.logpath, "/unsubscribe/…");
    http_req_free(&r);
}

static void message_catalogue_speaks_vietnamese(void **state)
{
    static const char *const needed[] = {"field.invalid",    "page.error", "page.not_found",
                                         "page.unavailable", "addr.no_at", "to.too_many"};
    json_t *vars = json_pack("{s:i, s:i}", "max", 5, "note_max", 500);
    struct buf b;
    (void)state;
    buf_init(&b, 0);
    for (const struct http_msg *m = http_msgs; m->reason; m++) {
        /* names are unique, texts Vietnamese, valid UTF-8, and render */
        for (const struct http_msg *k = http_msgs; k < m; k++)
            assert_string_not_equal(k->reason, m->reason);
        assert_true(utf8_valid(m->text, strlen(m->text), NULL));
        assert_non_null(strpbrk(m->text, "\xc3\xc4\xc6\xe1")); /* bytes of Vietnamese letters */
        buf_reset(&b);
        assert_int_equal(http_msg_text(m->reason, "field.invalid", vars, &b), MERR_OK);
        assert_true(b.len > 10);
        assert_null(strstr(b.data, "{{"));
        if (!strncmp(m->reason, "page.", 5) || !strncmp(m->reason, "link.", 5))
            assert_non_null(m->title);
    }
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        assert_non_null(http_msg_get(needed[i]));
    buf_reset(&b);
    assert_int_equal(http_msg_text("to.too_many", "field.invalid", vars, &b), MERR_OK);
    assert_string_equal(b.data, "Mỗi lần chỉ gửi được tới tối đa 5 người nhận.");
    /* a reason the catalogue lacks falls back, never shows its name */
    buf_reset(&b);
    assert_int_equal(http_msg_text("name.unknown_rule", "field.invalid", NULL, &b), MERR_OK);
    assert_string_equal(b.data, http_msg_get("field.invalid")->text);
    assert_ptr_equal(http_msg_or(NULL, "nothing.here"), http_msg_get("page.error"));
    buf_free(&b);
    json_decref(vars);
}

static void every_page_template_renders(void **state)
{
    static const char *const pages[] = {"share",      "share_sent", "error",      "subscribe",
                                        "subscribed", "confirm",    "unsubscribe"};
    struct http_req r;
    json_t *d = json_pack("{s:{s:s, s:s, s:{s:s, s:s}}, s:s, s:s, s:b}", "article", "title",
                          "Hà Giang <b>", "id", "x", "image", "src", "/media/ab", "alt", "ảnh",
                          "csrf", "tok", "email", "a@b.vn", "ask", 1);
    (void)state;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        http_req_init(&r, &ctx, "GET", "/");
        http_page(&r, 200, pages[i], d);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.out.data, "</html>"));
        assert_non_null(strstr(r.out.data, cfg.site_name));
        assert_null(strstr(r.out.data, "<b>"));
        http_req_free(&r);
    }
    json_decref(d);
}

/* ---- the web admin's request bodies and CSRF ---- */

static void multipart_fields_and_files(void **state)
{
    static const char body[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"csv\"; filename=\"đọc giả.csv\"\r\n"
        "Content-Type: text/csv\r\n\r\nemail\r\na@b.vn\r\n\0x\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"list\"\r\n\r\ntin-tuc\r\n"
        "--XyZ--\r\nepilogue";
    struct http_form f;
    const struct http_field *csv;
    (void)state;
    assert_int_equal(
        http_form_multipart(body, sizeof body - 1, "multipart/form-data; boundary=XyZ", &f),
        MERR_OK);
    assert_int_equal(f.n, 3);
    assert_string_equal(http_form_get(&f, "csrf"), "tok");
    assert_string_equal(http_form_get(&f, "list"), "tin-tuc");
    csv = http_form_field(&f, "csv");
    assert_non_null(csv);
    assert_string_equal(csv->filename, "đọc giả.csv");
    /* a file keeps its bytes, NUL included; the CRLF before a boundary is the boundary's */
    assert_int_equal(csv->len, 17);
    assert_memory_equal(csv->value, "email\r\na@b.vn\r\n\0x", 17);
    http_form_free(&f);
    /* a quoted boundary, and the body opening without a preamble */
    {
        const char *q = "--a b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a b--";
        assert_int_equal(
            http_form_multipart(q, strlen(q), "multipart/form-data; boundary=\"a b\"", &f),
            MERR_OK);
    }
    assert_string_equal(http_form_get(&f, "x"), "1");
    http_form_free(&f);
}

static void multipart_refusals(void **state)
{
    struct http_form f;
    static const char *const bad[] = {
        "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
        "--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--",                  /* no disposition */
        "--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--",            /* no name */
        "--B\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--B--",  /* open quote */
        "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n\xff\r\n--B--", /* not UTF-8 */
        "no boundary here",
        "--Bjunk",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            http_form_multipart(bad[i], strlen(bad[i]), "multipart/form-data; boundary=B", &f),
            MERR_INVAL);
    assert_int_equal(http_form_multipart("x", 1, "multipart/form-data", &f), MERR_INVAL);
    assert_int_equal(http_form_multipart("x", 1, NULL, &f), MERR_INVAL);
    /* more than 64 parts */
    {
        struct buf b;
        buf_init(&b, 0);
        for (int i = 0; i < 65; i++)
            buf_printf(&b, "--B\r\nContent-Disposition: form-data; name=p%d\r\n\r\nv\r\n", i);
        buf_puts(&b, "--B--");
        assert_int_equal(http_form_multipart(b.data, b.len, "multipart/form-data; boundary=B", &f),
                         MERR_INVAL);
        buf_free(&b);
    }
}

static void admin_csrf_is_bound_to_the_session(void **state)
{
    char a[HTTP_CSRF_SESSION_LEN + 1], b[HTTP_CSRF_SESSION_LEN + 1];
    struct http_req r;
    (void)state;
    http_csrf_session("secret-0123456789", "session-one", a);
    http_csrf_session("secret-0123456789", "session-two", b);
    assert_int_equal(strlen(a), HTTP_CSRF_SESSION_LEN);
    assert_string_not_equal(a, b);
    assert_true(http_csrf_session_ok("secret-0123456789", "session-one", a));
    assert_false(http_csrf_session_ok("secret-0123456789", "session-two", a));
    assert_false(http_csrf_session_ok("other-secret-0123", "session-one", a));
    assert_false(http_csrf_session_ok("secret-0123456789", "session-one", NULL));
    assert_false(http_csrf_session_ok("secret-0123456789", "session-one", ""));
    a[5] ^= 1;
    assert_false(http_csrf_session_ok("secret-0123456789", "session-one", a));

    /* the Origin: absent, ours (base_url or Host), another, null */
    http_req_init(&r, &ctx, "POST", "/admin/lists/new");
    assert_true(http_csrf_origin_ok(&r));
    r.origin = strdup(cfg.site_base_url); /* "http://127.0.0.1:8080" by default */
    assert_true(http_csrf_origin_ok(&r));
    free(r.origin);
    r.origin = strdup("http://evil.example");
    assert_false(http_csrf_origin_ok(&r));
    r.host = strdup("evil.example");
    assert_true(http_csrf_origin_ok(&r)); /* the request's own Host: same origin */
    free(r.host);
    r.host = strdup("admin.hagiang.example");
    assert_false(http_csrf_origin_ok(&r));
    free(r.origin);
    r.origin = strdup("null");
    assert_false(http_csrf_origin_ok(&r));
    http_req_free(&r);
}

static void admin_without_a_session(void **state)
{
    struct http_req r;
    char path[700];
    (void)state;
    snprintf(path, sizeof path, "%s/m.db", test_tmpdir("http-admin"));
    test_set_str(&cfg.db_path, path);
    http_req_init(&r, &ctx, "GET", "/admin/lists");
    http_route(&r);
    assert_int_equal(r.status, 303);
    assert_string_equal(r.hvalue[0], "/admin/login?next=%2Fadmin%2Flists");
    http_req_free(&r);
    http_req_init(&r, &ctx, "POST", "/admin/lists/new");
    r.content_type = strdup("application/x-www-form-urlencoded");
    http_route(&r);
    assert_int_equal(r.status, 403);
    http_req_free(&r);
    http_req_init(&r, &ctx, "GET", "/admin");
    http_route(&r);
    assert_int_equal(r.status, 303);
    http_req_free(&r);
    http_db_close_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(multipart_fields_and_files),
        cmocka_unit_test(multipart_refusals),
        cmocka_unit_test_setup_teardown(admin_csrf_is_bound_to_the_session, setup_ctx,
                                        teardown_ctx),
        cmocka_unit_test_setup_teardown(admin_without_a_session, setup_ctx, teardown_ctx),
        cmocka_unit_test(form_decodes_pairs_in_order),
        cmocka_unit_test(form_refuses_bad_utf8_nul_and_escapes),
        cmocka_unit_test(json_body_errors_name_the_problem),
        cmocka_unit_test(escape_and_unescape_segments),
        cmocka_unit_test(csrf_token_is_single_use),
        cmocka_unit_test(csrf_token_refuses_missing_forged_expired),
        cmocka_unit_test(rate_limit_is_exact_under_100_threads),
        cmocka_unit_test(rate_give_back_and_zero_limit),
        cmocka_unit_test(rate_window_slides),
        cmocka_unit_test(rate_clock_step_back_refuses_early_never_late),
        cmocka_unit_test(rate_take_reads_no_window),
        cmocka_unit_test(rate_windows_survive_the_upgrade),
        cmocka_unit_test(tokens_are_stored_hashed_and_revocable),
        cmocka_unit_test(token_create_check_revoke_through_the_public_api),
        cmocka_unit_test_setup_teardown(router_answers_errors, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(every_page_template_renders, setup_ctx, teardown_ctx),
        cmocka_unit_test(message_catalogue_speaks_vietnamese),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
