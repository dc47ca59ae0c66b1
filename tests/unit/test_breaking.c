/*
 * test_breaking.c: breaking news goes once per list and article (a second
 * send is refused and names the first; each confirmed subscriber gets one
 * envelope, the unconfirmed and the suppressed none), its preview writes
 * nothing and shows the article in full with the list's headers, a test
 * goes to one address as a send of kind "test", and the maintained
 * counters of the sends agree with a count of the envelopes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles.h"
#include "breaking.h"
#include "compose.h"
#include "config.h"
#include "date.h"
#include "db.h"
#include "digest.h"
#include "outbox.h"
#include "subs.h"
#include "testutil.h"

static struct config cfg;
static struct db *db;

static int setup(void **state)
{
    char path[600];
    (void)state;
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    snprintf(path, sizeof path, "%s/templates", test_source_dir());
    test_set_str(&cfg.templates_dir, path);
    test_set_str(&cfg.secret, "breaking-unit-test-secret-0123456789");
    test_set_str(&cfg.site_base_url, "https://tin.hagiang.example");
    test_set_str(&cfg.from_address, "tin-tuc@hagiang.example");
    assert_int_equal(date_set_zone("Asia/Ho_Chi_Minh"), MERR_OK);
    db = test_db_fresh(test_tmpdir("breaking"), NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    cfg_free(&cfg);
    return 0;
}

static long long count(const char *sql)
{
    sqlite3_stmt *st;
    long long n = -1;
    assert_int_equal(sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void fixtures(void)
{
    const char *json = "{\"id\":\"tin-nong-1\",\"url\":\"https://hagiang.gov.vn/tin-nong-1\","
                       "\"title\":\"Lũ quét ở Hoàng Su Phì\",\"category\":\"Thời sự\","
                       "\"published_at\":\"2026-06-01T08:00:00+07:00\",\"summary\":\"Tóm tắt\","
                       "\"body_html\":\"<p>Nội dung <b>đầy đủ</b> của bài.</p>\"}";
    struct subs_result res;
    long long id;
    assert_int_equal(article_upsert_json(db, &cfg, json, strlen(json), "/tmp", "test", NULL),
                     MERR_OK);
    assert_int_equal(subs_list_create(db, "tin", "Tin Hà Giang", "", "double", 1, &id), MERR_OK);
    assert_int_equal(subs_list_create(db, "khac", "Khác", "", "single", 1, &id), MERR_OK);
    assert_int_equal(
        subs_subscribe(db, &cfg, "tin", "an@example.vn", "An", NULL, 2, SUBS_ADD_CONFIRMED, &res),
        MERR_OK);
    assert_int_equal(subs_subscribe(db, &cfg, "tin", "binh@example.vn", "Bình", NULL, 2,
                                    SUBS_ADD_CONFIRMED, &res),
                     MERR_OK);
    assert_int_equal(subs_subscribe(db, &cfg, "tin", "chua@example.vn", "Chưa", NULL, 2, 0, &res),
                     MERR_OK); /* double opt-in: unconfirmed */
    assert_int_equal(subs_subscribe(db, &cfg, "tin", "chan@example.vn", "Chặn", NULL, 2,
                                    SUBS_ADD_CONFIRMED, &res),
                     MERR_OK);
    assert_int_equal(subs_suppress(db, "chan@example.vn", "manual", "test"), MERR_OK);
}

static void once_per_list_and_article(void **state)
{
    struct breaking_info b, again, other;
    (void)state;
    fixtures();
    assert_int_equal(breaking_send(db, &cfg, "tin", "tin-nong-1", 1000, &b), MERR_OK);
    assert_true(b.send_id > 0);
    assert_int_equal(b.recipients, 2); /* an, binh: not the unconfirmed nor the suppressed */
    assert_int_equal(count("SELECT count(*) FROM sends WHERE kind = 'breaking'"), 1);
    /* a second click: refused, and it names the send that was made */
    assert_int_equal(breaking_send(db, &cfg, "tin", "tin-nong-1", 1001, &again), MERR_EXISTS);
    assert_int_equal(again.send_id, b.send_id);
    assert_non_null(strstr(merr_msg(), "already"));
    assert_int_equal(count("SELECT count(*) FROM sends WHERE kind = 'breaking'"), 1);
    assert_int_equal(count("SELECT count(*) FROM envelopes e JOIN sends s ON s.id = e.send_id "
                           "WHERE s.kind = 'breaking'"),
                     2);
    /* another list may get the same article */
    assert_int_equal(breaking_send(db, &cfg, "khac", "tin-nong-1", 1002, &other), MERR_OK);
    assert_int_equal(other.recipients, 0);
    /* refusals */
    assert_int_equal(breaking_send(db, &cfg, "khong-co", "tin-nong-1", 1, NULL), MERR_NOTFOUND);
    assert_int_equal(breaking_send(db, &cfg, "tin", "khong-co", 1, NULL), MERR_NOTFOUND);
    assert_int_equal(breaking_send(db, &cfg, "tin", "", 1, NULL), MERR_INVAL);
    /* the maintained counters of every send agree with the envelopes */
    assert_int_equal(count("SELECT count(*) FROM send_counts c WHERE c.queued <> (SELECT count(*) "
                           "FROM envelopes e WHERE e.send_id = c.send_id AND e.state = 'queued')"),
                     0);
    struct breaking_info v[4];
    size_t n = 0;
    assert_int_equal(breaking_list(db, v, 4, &n), MERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].list_slug, "khac");
    assert_int_equal(v[1].recipients, 2);
}

static void preview_and_test(void **state)
{
    struct buf msg;
    long long sid = 0;
    (void)state;
    fixtures();
    buf_init(&msg, 0);
    assert_int_equal(breaking_preview(db, &cfg, "tin", "tin-nong-1", NULL, &msg), MERR_OK);
    assert_non_null(strstr(msg.data, "List-Unsubscribe:"));
    assert_non_null(strstr(msg.data, "List-Id: <tin.hagiang.example>"));
    assert_non_null(strstr(msg.data, "Subject: =?UTF-8?")); /* "Tin nóng: ..." encoded */
    assert_int_equal(count("SELECT count(*) FROM sends WHERE kind <> 'confirm'"), 0); /* nothing */
    buf_free(&msg);
    /* the message taken apart: the subject, the article's body in both parts */
    {
        struct compose_preview p;
        buf_init(&msg, 0);
        assert_int_equal(breaking_preview(db, &cfg, "tin", "tin-nong-1", "an@example.vn", &msg),
                         MERR_OK);
        assert_int_equal(compose_preview(msg.data, msg.len, &p), MERR_OK);
        assert_string_equal(p.subject, "Tin nóng: Lũ quét ở Hoàng Su Phì");
        assert_non_null(strstr(p.html, "<b>đầy đủ</b>"));
        assert_non_null(strstr(p.text, "Chào An"));
        assert_non_null(strstr(p.to, "an@example.vn"));
        compose_preview_clear(&p);
        buf_free(&msg);
    }
    assert_int_equal(
        breaking_test(db, &cfg, "tin", "tin-nong-1", "bien.tap@hagiang.example", 5, &sid), MERR_OK);
    assert_true(sid > 0);
    assert_int_equal(count("SELECT count(*) FROM sends WHERE kind = 'test'"), 1);
    assert_int_equal(count("SELECT count(*) FROM envelopes WHERE recipient = "
                           "'bien.tap@hagiang.example' AND subscriber_id IS NULL"),
                     1);
    assert_int_equal(count("SELECT count(*) FROM breaking_news"),
                     0); /* the real one can still go */
    assert_int_equal(breaking_test(db, &cfg, "tin", "tin-nong-1", "not an address", 5, &sid),
                     MERR_INVAL);
    assert_int_equal(breaking_send(db, &cfg, "tin", "tin-nong-1", 6, NULL), MERR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(once_per_list_and_article, setup, teardown),
        cmocka_unit_test_setup_teardown(preview_and_test, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
