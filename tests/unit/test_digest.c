/*
 * test_digest.c: the weekly scheduler under a controlled clock (three weeks,
 * a skipped week, a 10-day outage over two scheduled times, clocks set
 * back, two ticks at once), manual sends and their rules, who is enqueued,
 * the plan (subject rendered, articles by category and max), pause /
 * resume / cancel of the send, an unsubscribe cancelling a queued envelope,
 * and a preview that writes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "articles.h"
#include "config.h"
#include "date.h"
#include "db.h"
#include "digest.h"
#include "log.h"
#include "outbox.h"
#include "subs.h"
#include "testutil.h"
#include "tpl.h"

static struct config cfg;
static struct db *db;
static char dbpath[600];

static time_t at(const char *iso)
{
    time_t t;
    assert_int_equal(date_parse_iso8601(iso, &t, NULL), MERR_OK);
    return t;
}

static int setup(void **state)
{
    char path[600];
    (void)state;
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    snprintf(path, sizeof path, "%s/templates", test_source_dir());
    test_set_str(&cfg.templates_dir, path);
    test_set_str(&cfg.secret, "digest-unit-test-secret-0123456789");
    test_set_str(&cfg.site_name, "Cổng TTĐT Hà Giang");
    test_set_str(&cfg.site_base_url, "https://tin.hagiang.example");
    test_set_str(&cfg.from_address, "tin-tuc@hagiang.example");
    assert_int_equal(date_set_zone("Asia/Ho_Chi_Minh"), MERR_OK);
    db = test_db_fresh(test_tmpdir("digest"), dbpath, sizeof dbpath);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    db = NULL;
    cfg_free(&cfg);
    date_set_fake_now(0);
    return 0;
}

static void exec(const char *sql)
{
    assert_int_equal(db_exec(db, sql), MERR_OK);
}

/* An article without photos published at `when` (ISO 8601 with offset). */
static void article(const char *id, const char *when, const char *category)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"id\":\"%s\",\"url\":\"https://hagiang.gov.vn/%s\",\"title\":\"Tin %s: "
             "Hà Giang\",\"category\":\"%s\",\"author\":\"Ban biên tập\",\"published_at\":"
             "\"%s\",\"summary\":\"Tóm tắt %s\",\"body_html\":\"<p>Nội dung %s</p>\"}",
             id, id, id, category ? category : "Tin tức - Sự kiện", when, id, id);
    assert_int_equal(article_upsert_json(db, &cfg, json, strlen(json), "/tmp", "test", NULL),
                     MERR_OK);
}

static long long make_list(const char *slug, time_t now)
{
    long long id;
    struct subs_list_update u;
    assert_int_equal(subs_list_create(db, slug, "Tin tức Hà Giang", "", "single", now, &id),
                     MERR_OK);
    subs_list_update_init(&u); /* a new list's digest is off until an editor turns it on */
    u.digest_enabled = 1;
    assert_int_equal(subs_list_update(db, NULL, slug, &u, NULL), MERR_OK);
    return id;
}

static long long subscribe(const char *slug, const char *email, const char *name, time_t now)
{
    struct subs_result res;
    assert_int_equal(
        subs_subscribe(db, &cfg, slug, email, name, NULL, now, SUBS_ADD_CONFIRMED, &res), MERR_OK);
    assert_int_equal(res.outcome, SUBS_OUT_CONFIRMED);
    return res.subscriber_id;
}

static int tick_at(time_t t)
{
    int created = -1;
    date_set_fake_now(t);
    assert_int_equal(digest_tick(db, &cfg, t, &created), MERR_OK);
    return created;
}

/* ---- schedule ---- */

static void schedule_occurrence_and_period(void **state)
{
    struct digest_schedule s;
    char p[16];
    (void)state;
    assert_int_equal(date_set_zone("Asia/Ho_Chi_Minh"), MERR_OK);
    assert_int_equal(digest_schedule_parse(1, "07:00", &s), MERR_OK);
    /* Monday 2026-01-12 07:00 +07 is W03; a minute before, the previous Monday */
    assert_int_equal(digest_last_occurrence(&s, at("2026-01-12T07:00:00+07:00")),
                     at("2026-01-12T07:00:00+07:00"));
    assert_int_equal(digest_last_occurrence(&s, at("2026-01-12T06:59:00+07:00")),
                     at("2026-01-05T07:00:00+07:00"));
    assert_int_equal(digest_last_occurrence(&s, at("2026-01-18T23:59:00+07:00")),
                     at("2026-01-12T07:00:00+07:00"));
    digest_period(at("2026-01-12T07:00:00+07:00"), p);
    assert_string_equal(p, "2026-W03");
    /* ISO week years: 2026-12-31 (Thursday) is 2026-W53; 2027-01-01 too */
    digest_period(at("2027-01-01T07:00:00+07:00"), p);
    assert_string_equal(p, "2026-W53");
    /* Sunday evening in Hà Nội is already Monday in UTC: the local date counts */
    assert_int_equal(digest_schedule_parse(0, "23:30", &s), MERR_OK);
    digest_period(digest_last_occurrence(&s, at("2026-01-19T00:00:00+07:00")), p);
    assert_string_equal(p, "2026-W03");
    assert_int_equal(digest_schedule_parse(7, "07:00", &s), MERR_INVAL);
    assert_int_equal(digest_schedule_parse(1, "7:00", &s), MERR_INVAL);
    assert_int_equal(digest_schedule_parse(1, "24:00", &s), MERR_INVAL);
    assert_int_equal(digest_schedule_parse(1, "07:60", &s), MERR_INVAL);
    assert_true(digest_period_valid("2026-W48"));
    assert_false(digest_period_valid("2026-W00"));
    assert_false(digest_period_valid("2026-W54"));
    assert_false(digest_period_valid("2026-48"));
    assert_false(digest_period_valid("2026-W4"));
}

/* ---- the scheduler over weeks, an outage and clock changes ---- */

struct expect {
    const char *period;
    int articles;
    int recipients;
    const char *since, *until;
};

static void check_digests(const struct expect *e, size_t n)
{
    struct digest_info *v;
    size_t got;
    assert_int_equal(digest_list(db, "tin-tuc", 0, &v, &got), MERR_OK);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        const struct digest_info *d = &v[n - 1 - i]; /* newest first */
        struct digest_info full;
        assert_string_equal(d->period, e[i].period);
        assert_int_equal(d->articles, e[i].articles);
        assert_int_equal(d->since, at(e[i].since));
        assert_int_equal(d->until, at(e[i].until));
        assert_int_equal(digest_get(db, d->id, &full), MERR_OK);
        if (e[i].articles == 0) {
            assert_int_equal(full.send_id, 0);
            assert_string_equal(full.status, "skipped");
        } else {
            assert_true(full.send_id > 0);
            assert_int_equal(full.recipients, e[i].recipients);
            assert_int_equal(full.counts.by_state[OUTBOX_QUEUED], e[i].recipients);
        }
    }
    free(v);
}

static void scheduler_weeks_outage_and_clock(void **state)
{
    static const struct expect want[] = {
        {"2026-W03", 2, 3, "2026-01-05T07:00:00+07:00", "2026-01-12T07:00:00+07:00"},
        {"2026-W04", 0, 0, "2026-01-12T07:00:00+07:00", "2026-01-19T07:00:00+07:00"},
        {"2026-W05", 1, 3, "2026-01-19T07:00:00+07:00", "2026-01-26T07:00:00+07:00"},
        /* the outage missed W06 and W07: W07 is sent once, late, with all three */
        {"2026-W07", 3, 3, "2026-01-26T07:00:00+07:00", "2026-02-11T12:00:00+07:00"},
        {"2026-W08", 1, 3, "2026-02-11T12:00:00+07:00", "2026-02-16T07:00:00+07:00"},
        {"2026-W09", 1, 3, "2026-02-16T07:00:00+07:00", "2026-02-23T07:00:00+07:00"},
    };
    time_t t, created_at = at("2026-01-07T10:00:00+07:00");
    time_t down = at("2026-02-01T12:00:00+07:00"), up = at("2026-02-11T12:00:00+07:00");
    int created = 0;
    struct db *other;
    (void)state;

    date_set_fake_now(created_at);
    make_list("tin-tuc", created_at);
    subscribe("tin-tuc", "a@example.com", "Nguyễn Văn A", created_at);
    subscribe("tin-tuc", "b@example.com", "Trần Thị B", created_at);
    subscribe("tin-tuc", "c@example.com", "", created_at);
    /* published before the list: a first digest looks back one week only */
    article("a0", "2026-01-01T09:00:00+07:00", NULL);
    article("a1", "2026-01-08T09:00:00+07:00", NULL);
    article("a2", "2026-01-10T15:00:00+07:00", NULL);
    article("a3", "2026-01-20T08:00:00+07:00", NULL);
    article("a4", "2026-01-28T10:00:00+07:00", NULL);
    article("a5", "2026-02-04T10:00:00+07:00", NULL);
    article("a6", "2026-02-06T10:00:00+07:00", NULL);
    article("a7", "2026-02-12T10:00:00+07:00", NULL);

    /* a tick every 30 minutes, none while the service is down */
    for (t = created_at; t < at("2026-02-17T00:00:00+07:00"); t += 1800)
        if (t < down || t >= up)
            created += tick_at(t);
    assert_int_equal(created, 5);
    check_digests(want, 5);

    /* clocks set back: to W07 (exists) and to W06 (never made: not older ones either) */
    assert_int_equal(tick_at(at("2026-02-10T12:00:00+07:00")), 0);
    assert_int_equal(tick_at(at("2026-02-03T12:00:00+07:00")), 0);
    assert_int_equal(tick_at(at("2026-01-12T07:00:00+07:00")), 0);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM digests"), 5);

    /* two ticks at the same time, and a second scheduler on its own handle */
    article("a8", "2026-02-20T10:00:00+07:00", NULL);
    t = at("2026-02-23T07:00:00+07:00");
    assert_int_equal(tick_at(t), 1);
    assert_int_equal(tick_at(t), 0);
    assert_int_equal(db_open(dbpath, 2000, &other), MERR_OK);
    assert_int_equal(digest_tick(other, &cfg, t, &created), MERR_OK);
    assert_int_equal(created, 0);
    db_close(other);
    check_digests(want, 6);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM sends WHERE kind = 'digest'"), 5);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes"), 15);

    /* a disabled list gets nothing */
    exec("UPDATE lists SET digest_enabled = 0");
    article("a9", "2026-02-25T10:00:00+07:00", NULL);
    assert_int_equal(tick_at(at("2026-03-02T07:00:00+07:00")), 0);
}

/* A new list's first digest: the first scheduled time after it was made. */
static void scheduler_new_list_waits(void **state)
{
    time_t made = at("2026-01-14T10:00:00+07:00");
    (void)state;
    date_set_fake_now(made);
    make_list("tin-tuc", made);
    subscribe("tin-tuc", "a@example.com", "A", made);
    article("a1", "2026-01-13T09:00:00+07:00", NULL);
    assert_int_equal(tick_at(made), 0);
    assert_int_equal(tick_at(at("2026-01-19T06:59:00+07:00")), 0);
    assert_int_equal(tick_at(at("2026-01-19T07:00:00+07:00")), 1);
    assert_int_equal(test_db_int(db, "SELECT articles FROM digests"), 1);
    /* a schedule of Thursday 18:30 */
    exec("UPDATE lists SET digest_weekday = 4, digest_time = '18:30'");
    article("a2", "2026-01-20T09:00:00+07:00", NULL);
    assert_int_equal(tick_at(at("2026-01-22T18:29:00+07:00")), 0); /* W04 not yet */
    assert_int_equal(tick_at(at("2026-01-22T18:30:00+07:00")), 0); /* W04 has one (Monday) */
    assert_int_equal(tick_at(at("2026-01-29T18:30:00+07:00")), 1); /* W05 */
    /* a broken schedule is logged, and the others go on */
    exec("UPDATE lists SET digest_time = '25:00'");
    date_set_fake_now(at("2026-02-05T18:30:00+07:00"));
    assert_int_equal(digest_tick(db, &cfg, at("2026-02-05T18:30:00+07:00"), NULL), MERR_INVAL);
}

/* What `mailer serve` runs: ticks at once on its own handle, stops on the flag. */
struct sched_arg {
    atomic_int stop;
    enum merr rc;
};

static void *sched_thread(void *p)
{
    struct sched_arg *a = p;
    a->rc = digest_scheduler_run(&cfg, &a->stop);
    return NULL;
}

static void scheduler_thread_ticks_and_stops(void **state)
{
    struct sched_arg a = {0, MERR_INTERNAL};
    pthread_t th;
    time_t made = at("2026-01-14T10:00:00+07:00");
    (void)state;
    test_set_str(&cfg.db_path, dbpath);
    date_set_fake_now(made);
    make_list("tin-tuc", made);
    subscribe("tin-tuc", "a@example.com", "A", made);
    article("a1", "2026-01-15T09:00:00+07:00", NULL);
    date_set_fake_now(at("2026-01-19T07:00:30+07:00"));
    assert_int_equal(pthread_create(&th, NULL, sched_thread, &a), 0);
    for (int i = 0; i < 100 && test_db_int(db, "SELECT count(*) FROM digests") < 1; i++)
        usleep(20000);
    a.stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(a.rc, MERR_OK);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM digests WHERE period = '2026-W04' AND "
                                     "articles = 1"),
                     1);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes"), 1);
}

/* ---- by hand ---- */

static void manual_send_rules(void **state)
{
    struct digest_info d;
    time_t made = at("2026-01-07T10:00:00+07:00"), now = at("2026-01-19T07:00:00+07:00");
    (void)state;
    date_set_fake_now(made);
    make_list("tin-tuc", made);
    subscribe("tin-tuc", "a@example.com", "A", made);

    /* no articles by hand: an error, nothing written */
    date_set_fake_now(now);
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", NULL, 0, now, &d), MERR_NOTFOUND);
    assert_non_null(strstr(merr_msg(), "no new articles"));
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM digests"), 0);
    /* the scheduler records the empty week as skipped */
    assert_int_equal(tick_at(now), 1);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM digests WHERE articles = 0"), 1);
    /* an article comes; by hand, the skipped week is filled in */
    article("a1", "2026-01-20T09:00:00+07:00", NULL);
    now = at("2026-01-20T10:00:00+07:00");
    date_set_fake_now(now);
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", NULL, 0, now, &d), MERR_OK);
    assert_string_equal(d.period, "2026-W04");
    assert_int_equal(d.articles, 1);
    assert_int_equal(d.recipients, 1);
    assert_true(d.send_id > 0);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM digests"), 1);
    assert_int_equal(test_db_int(db, "SELECT articles FROM digests"), 1);
    /* never twice: by hand or by the scheduler */
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", NULL, 0, now, &d), MERR_EXISTS);
    assert_non_null(strstr(merr_msg(), "2026-W04"));
    assert_int_equal(tick_at(now), 0);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes"), 1);
    /* an explicit period and --since */
    article("a2", "2026-01-20T11:00:00+07:00", NULL);
    now = at("2026-01-20T12:00:00+07:00");
    date_set_fake_now(now);
    assert_int_equal(
        digest_create(db, &cfg, "tin-tuc", "2026-W50", at("2026-01-01T00:00:00Z"), now, &d),
        MERR_OK);
    assert_int_equal(d.articles, 2);
    /* refused input */
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", "2026-48", 0, now, &d), MERR_INVAL);
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", "2026-W51", now + 10, now, &d), MERR_INVAL);
    assert_int_equal(digest_create(db, &cfg, "khong-co", NULL, 0, now, &d), MERR_NOTFOUND);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM digests"), 2);
}

/* ---- who, what, subject ---- */

static void enqueue_plan_and_subject(void **state)
{
    struct digest_info d;
    struct subs_result res;
    char plan[4096];
    json_t *j;
    json_error_t jerr;
    time_t now = at("2026-01-20T10:00:00+07:00");
    (void)state;
    date_set_fake_now(now - 86400);
    make_list("tin-tuc", now - 86400);
    subscribe("tin-tuc", "a@example.com", "Nguyễn Văn A", now);
    subscribe("tin-tuc", "b@example.com", "Trần Thị B", now);
    subscribe("tin-tuc", "c@bücher.example", "C", now);
    subscribe("tin-tuc", "blocked@example.com", "X", now);
    assert_int_equal(subs_suppress(db, "blocked@example.com", "complaint", ""), MERR_OK);
    /* unconfirmed: on a double opt-in list */
    make_list("khac", now - 86400);
    exec("UPDATE lists SET optin = 'double' WHERE slug = 'khac'");
    assert_int_equal(subs_subscribe(db, &cfg, "khac", "d@example.com", "D", NULL, now, 0, &res),
                     MERR_OK);
    /* a subscriber of another list only */
    subscribe("khac", "e@example.com", "E", now);

    article("old", "2026-01-10T09:00:00+07:00", "Thời sự");
    article("t1", "2026-01-14T09:00:00+07:00", "Thời sự");
    article("k1", "2026-01-15T09:00:00+07:00", "Kinh tế");
    article("t2", "2026-01-16T09:00:00+07:00", "Thời sự");
    article("t3", "2026-01-17T09:00:00+07:00", "Thời sự");
    exec("UPDATE lists SET digest_category = 'Thời sự', digest_max_articles = 2, "
         "digest_subject = '{{list.name}} ({{list.slug}}): bản tin tuần {{week}}/{{year}} "
         "{{period}} – {{site}} | {{site_name}}' "
         "WHERE slug = 'tin-tuc'");
    date_set_fake_now(now);
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", NULL, 0, now, &d), MERR_OK);
    assert_int_equal(d.recipients, 3);
    assert_int_equal(d.articles, 2);
    assert_int_equal(
        test_db_int(db, "SELECT count(*) FROM envelopes e JOIN sends s ON s.id = e.send_id "
                        "WHERE s.kind = 'digest' AND e.recipient IN ('a@example.com', "
                        "'b@example.com', 'c@xn--bcher-kva.example')"),
        3);
    test_db_text(db, "SELECT name FROM envelopes WHERE recipient = 'a@example.com'", plan,
                 sizeof plan);
    assert_string_equal(plan, "Nguyễn Văn A");

    test_db_text(db, "SELECT plan FROM sends WHERE kind = 'digest'", plan, sizeof plan);
    j = json_loads(plan, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "digest");
    assert_string_equal(json_string_value(json_object_get(j, "template")), "digest");
    assert_string_equal(json_string_value(json_object_get(j, "week")), "4");
    /* every name a subject may use (SUBS_DIGEST_SUBJECT_VARS) has a value */
    {
        static const char *const vars[] = {SUBS_DIGEST_SUBJECT_VARS};
        assert_int_equal(sizeof vars / sizeof vars[0], 7);
    }
    assert_string_equal(json_string_value(json_object_get(j, "subject")),
                        "Tin tức Hà Giang (tin-tuc): bản tin tuần 4/2026 2026-W04 – Cổng TTĐT "
                        "Hà Giang | Cổng TTĐT Hà Giang");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "list"), "slug")),
                        "tin-tuc");
    /* newest first, only the category, at most two */
    assert_int_equal(json_array_size(json_object_get(j, "articles")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "articles"), 0)), "t3");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "articles"), 1)), "t2");
    json_decref(j);

    /* a subject with a line break is refused before anything is written */
    exec("UPDATE lists SET digest_subject = 'a' || char(10) || 'b' WHERE slug = 'khac'");
    article("t4", "2026-01-19T09:00:00+07:00", NULL);
    assert_int_equal(digest_create(db, &cfg, "khac", NULL, 0, now, &d), MERR_INVAL);
    exec("UPDATE lists SET digest_subject = '{{#x}}' WHERE slug = 'khac'");
    assert_int_equal(digest_create(db, &cfg, "khac", NULL, 0, now, &d), MERR_INVAL);
    exec("UPDATE lists SET digest_subject = 'Tuần {{week}}', digest_template = 'khong-co' "
         "WHERE slug = 'khac'");
    assert_int_equal(digest_create(db, &cfg, "khac", NULL, 0, now, &d), MERR_NOTFOUND);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM digests"), 1);
}

/* A rendered subject holding "{{" stays literal when compose renders it again. */
static void subject_with_braces_stays_literal(void **state)
{
    struct digest_info d;
    struct tpl *t;
    struct buf out;
    char plan[4096];
    json_t *j, *ctx;
    json_error_t jerr;
    const char *subject;
    time_t now = at("2026-01-20T10:00:00+07:00");
    (void)state;
    test_set_str(&cfg.site_name, "Báo {{mới}}");
    date_set_fake_now(now);
    make_list("tin-tuc", now - 86400);
    subscribe("tin-tuc", "a@example.com", "A", now);
    article("t1", "2026-01-19T09:00:00+07:00", NULL);
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", NULL, 0, now, &d), MERR_OK);
    test_db_text(db, "SELECT plan FROM sends", plan, sizeof plan);
    j = json_loads(plan, 0, &jerr);
    assert_non_null(j);
    subject = json_string_value(json_object_get(j, "subject"));
    assert_int_equal(tpl_parse(subject, strlen(subject), TPL_ESCAPE_NONE, &t), MERR_OK);
    ctx = json_pack("{s:s}", "mới", "X");
    buf_init(&out, 0);
    assert_int_equal(tpl_render(t, NULL, NULL, &ctx, 1, &out), MERR_OK);
    assert_string_equal(out.data, "Bản tin tuần 4 – Báo {{mới}}");
    buf_free(&out);
    tpl_free(t);
    json_decref(ctx);
    json_decref(j);
}

/* ---- pause, resume, cancel ---- */

static void record(const struct outbox_envelope *e, size_t n, enum outbox_state state)
{
    struct outbox_result r[8];
    assert_true(n <= 8);
    memset(r, 0, sizeof r);
    for (size_t i = 0; i < n; i++) {
        r[i].envelope_id = e[i].id;
        r[i].state = state;
        r[i].code = 250;
    }
    assert_int_equal(db_begin(db), MERR_OK); /* the writer's transaction */
    assert_int_equal(outbox_record(db, r, n, date_now()), MERR_OK);
    assert_int_equal(db_commit(db), MERR_OK);
}

static void pause_resume_cancel(void **state)
{
    struct digest_info d, skipped;
    struct outbox_envelope *e;
    size_t n;
    time_t now = at("2026-01-20T10:00:00+07:00");
    (void)state;
    date_set_fake_now(now);
    make_list("tin-tuc", now - 86400);
    for (int i = 0; i < 5; i++) {
        char email[64];
        snprintf(email, sizeof email, "r%d@example.com", i);
        subscribe("tin-tuc", email, "R", now);
    }
    article("t1", "2026-01-19T09:00:00+07:00", NULL);
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", NULL, 0, now, &d), MERR_OK);

    /* two go out, then a pause: nothing more is claimed */
    assert_int_equal(outbox_claim(db, now, 60, 2, NULL, &e, &n, NULL), MERR_OK);
    assert_int_equal(n, 2);
    record(e, n, OUTBOX_SENT);
    outbox_envelopes_free(e, n);
    assert_int_equal(digest_pause(db, d.id), MERR_OK);
    assert_int_equal(digest_pause(db, d.id), MERR_OK); /* idempotent */
    assert_int_equal(digest_get(db, d.id, &d), MERR_OK);
    assert_string_equal(d.status, "paused");
    assert_int_equal(outbox_claim(db, now, 60, 10, NULL, &e, &n, NULL), MERR_OK);
    assert_int_equal(n, 0);
    outbox_envelopes_free(e, n);

    /* resume: exactly the three not sent */
    assert_int_equal(digest_resume(db, d.id), MERR_OK);
    assert_int_equal(digest_resume(db, d.id), MERR_OK);
    assert_int_equal(outbox_claim(db, now, 60, 10, NULL, &e, &n, NULL), MERR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE state = 'sent'"), 2);
    /* one of them finishes, then a cancel: the rest is never sent */
    record(e, 1, OUTBOX_SENT);
    outbox_envelopes_free(e, n);
    exec("UPDATE envelopes SET state = 'queued', lease_until = NULL WHERE state = 'sending'");
    assert_int_equal(digest_cancel(db, d.id), MERR_OK);
    assert_int_equal(digest_cancel(db, d.id), MERR_OK);
    assert_int_equal(digest_get(db, d.id, &d), MERR_OK);
    assert_string_equal(d.status, "cancelled");
    assert_int_equal(d.counts.by_state[OUTBOX_SENT], 3);
    assert_int_equal(d.counts.by_state[OUTBOX_CANCELLED], 2);
    assert_int_equal(d.recipients, 5);
    assert_int_equal(digest_pause(db, d.id), MERR_INVAL);
    assert_int_equal(digest_resume(db, d.id), MERR_INVAL);

    /* a skipped digest has nothing to pause; an unknown one is not found */
    assert_int_equal(tick_at(at("2026-01-26T07:00:00+07:00")), 1);
    assert_int_equal(tick_at(at("2026-02-02T07:00:00+07:00")), 1);
    {
        struct digest_info *v;
        size_t k;
        assert_int_equal(digest_list(db, NULL, 1, &v, &k), MERR_OK);
        assert_int_equal(k, 1);
        skipped = v[0];
        free(v);
    }
    assert_string_equal(skipped.status, "skipped");
    assert_int_equal(digest_pause(db, skipped.id), MERR_INVAL);
    assert_int_equal(digest_cancel(db, skipped.id), MERR_INVAL);
    assert_int_equal(digest_pause(db, 999), MERR_NOTFOUND);
    assert_int_equal(digest_get(db, 999, &d), MERR_NOTFOUND);
}

/* A digest whose last envelopes finished while paused is done once resumed. */
static void resume_finishes_idle_send(void **state)
{
    struct digest_info d;
    struct outbox_envelope *e;
    size_t n;
    time_t now = at("2026-01-20T10:00:00+07:00");
    (void)state;
    date_set_fake_now(now);
    make_list("tin-tuc", now - 86400);
    subscribe("tin-tuc", "a@example.com", "A", now);
    article("t1", "2026-01-19T09:00:00+07:00", NULL);
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", NULL, 0, now, &d), MERR_OK);
    assert_int_equal(outbox_claim(db, now, 60, 10, NULL, &e, &n, NULL), MERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(digest_pause(db, d.id), MERR_OK);
    record(e, n, OUTBOX_SENT);
    outbox_envelopes_free(e, n);
    assert_int_equal(digest_get(db, d.id, &d), MERR_OK);
    assert_string_equal(d.status, "paused");
    assert_int_equal(digest_resume(db, d.id), MERR_OK);
    assert_int_equal(digest_get(db, d.id, &d), MERR_OK);
    assert_string_equal(d.status, "done");
    assert_int_equal(digest_pause(db, d.id), MERR_INVAL);
    assert_int_equal(digest_cancel(db, d.id), MERR_INVAL);
}

/* ---- unsubscribing while a digest is queued ---- */

static void unsubscribe_cancels_queued_envelope(void **state)
{
    struct digest_info d;
    struct outbox_envelope *e;
    struct buf url;
    long long gone, cancelled = 0;
    size_t n;
    char q[200], state_name[32];
    time_t now = at("2026-01-20T10:00:00+07:00");
    long long list;
    (void)state;
    date_set_fake_now(now);
    list = make_list("tin-tuc", now - 86400);
    subscribe("tin-tuc", "a@example.com", "A", now);
    gone = subscribe("tin-tuc", "b@example.com", "B", now);
    subscribe("tin-tuc", "c@example.com", "C", now);
    article("t1", "2026-01-19T09:00:00+07:00", NULL);
    assert_int_equal(digest_create(db, &cfg, "tin-tuc", NULL, 0, now, &d), MERR_OK);

    buf_init(&url, 0);
    assert_int_equal(subs_unsubscribe_url(db, &cfg, gone, list, &url), MERR_OK);
    assert_int_equal(
        subs_unsubscribe(db, &cfg, strstr(url.data, "/unsubscribe/") + 13, 0, now, NULL), MERR_OK);
    buf_free(&url);
    snprintf(q, sizeof q, "SELECT state FROM envelopes WHERE subscriber_id = %lld", gone);
    test_db_text(db, q, state_name, sizeof state_name);
    assert_string_equal(state_name, "cancelled");
    assert_int_equal(outbox_claim(db, now, 60, 10, &subs_consent_gate, &e, &n, &cancelled),
                     MERR_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_true(e[i].subscriber_id != gone);
    outbox_envelopes_free(e, n);
    assert_int_equal(digest_get(db, d.id, &d), MERR_OK);
    assert_int_equal(d.counts.by_state[OUTBOX_CANCELLED], 1);
}

/* ---- preview ---- */

static void preview_writes_nothing(void **state)
{
    struct buf out;
    char path[700], dir[600];
    time_t now = at("2022-01-03T08:00:00+07:00");
    long long before_media;
    (void)state;
    date_set_fake_now(now);
    make_list("tin-tuc", now - 86400);
    subscribe("tin-tuc", "a@example.com", "Nguyễn Văn A", now);
    snprintf(dir, sizeof dir, "%s/examples/articles", test_source_dir());
    snprintf(path, sizeof path, "%s/ha-giang-tong-ket-thi-dua-2021.json", dir);
    assert_int_equal(article_add_file(db, &cfg, path, NULL), MERR_OK);
    before_media = test_db_int(db, "SELECT count(*) FROM media WHERE b64 IS NOT NULL");

    buf_init(&out, 0);
    assert_int_equal(digest_preview(db, &cfg, "tin-tuc", "a@example.com", now, &out), MERR_OK);
    assert_non_null(strstr(out.data, "To: =?UTF-8?"));
    assert_non_null(strstr(out.data, "<a@example.com>"));
    assert_non_null(strstr(out.data, "\r\nList-Unsubscribe: <https://tin.hagiang.example/"
                                     "unsubscribe/"));
    assert_non_null(strstr(out.data, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert_non_null(strstr(out.data, "\r\nList-Id: <tin-tuc.hagiang.example>"));
    assert_non_null(strstr(out.data, "Content-Type: image/"));
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM sends"), 0);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes"), 0);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM digests"), 0);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM media WHERE b64 IS NOT NULL"),
                     before_media);
    buf_reset(&out);
    /* a sample reader; a bad address; no articles */
    assert_int_equal(digest_preview(db, &cfg, "tin-tuc", NULL, now, &out), MERR_OK);
    assert_non_null(strstr(out.data, "<ban-doc@hagiang.example>"));
    buf_reset(&out);
    assert_int_equal(digest_preview(db, &cfg, "tin-tuc", "x\r\nBcc: y@z.vn", now, &out),
                     MERR_INVAL);
    assert_int_equal(out.len, 0);
    assert_int_equal(digest_preview(db, &cfg, "tin-tuc", NULL, now + 30 * 86400, &out),
                     MERR_NOTFOUND);
    assert_int_equal(digest_preview(db, &cfg, "khong-co", NULL, now, &out), MERR_NOTFOUND);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schedule_occurrence_and_period),
        cmocka_unit_test_setup_teardown(scheduler_weeks_outage_and_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(scheduler_new_list_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(scheduler_thread_ticks_and_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(manual_send_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(enqueue_plan_and_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(subject_with_braces_stays_literal, setup, teardown),
        cmocka_unit_test_setup_teardown(pause_resume_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(resume_finishes_idle_send, setup, teardown),
        cmocka_unit_test_setup_teardown(unsubscribe_cancels_queued_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown(preview_writes_nothing, setup, teardown),
    };
    log_set_level(LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
