/*
 * test_subs_lists.c: lists: created, validated, found and removed; their
 * settings changed one field at a time (a bad value changes nothing and
 * names its field); and the per-list counters the admin shows, kept equal
 * to a count of the subscriptions through every change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "date.h"
#include "db.h"
#include "enc.h"
#include "outbox.h"
#include "subs.h"
#include "subs_csv.h"
#include "subs_fx.h"
#include "testutil.h"

/* ---- lists ------------------------------------------------------------ */

static void list_create_validate_get_remove(void **state)
{
    struct subs_fx *f = *state;
    struct subs_list l, *all;
    size_t n;
    long long id;
    assert_int_equal(subs_list_create(f->db, "Tin-Tuc", "x", NULL, NULL, NOW, &id), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "slug"));
    assert_int_equal(subs_list_create(f->db, "-tin", "x", NULL, NULL, NOW, &id), MERR_INVAL);
    assert_int_equal(subs_list_create(f->db, "tin", "", NULL, NULL, NOW, &id), MERR_INVAL);
    assert_int_equal(subs_list_create(f->db, "tin", "x\ny", NULL, NULL, NOW, &id), MERR_INVAL);
    assert_int_equal(subs_list_create(f->db, "tin", "x", NULL, "triple", NOW, &id), MERR_INVAL);
    assert_int_equal(subs_list_create(f->db,
                                      "a234567890123456789012345678901234567890123456789012345678"
                                      "901234567",
                                      "x", NULL, NULL, NOW, &id),
                     MERR_INVAL);
    id = subs_fx_mklist(f, "tin-tuc", "single");
    subs_fx_mklist(f, "ban-tin-tuan", NULL);
    assert_int_equal(subs_list_create(f->db, "tin-tuc", "again", NULL, NULL, NOW, &id),
                     MERR_EXISTS);
    assert_int_equal(subs_list_get(f->db, "tin-tuc", &l), MERR_OK);
    assert_string_equal(l.name, "Bản tin Tuần");
    assert_int_equal(l.double_optin, 0);
    assert_int_equal(l.digest_weekday, 1);
    assert_string_equal(l.digest_time, "07:00");
    subs_list_clear(&l);
    assert_int_equal(subs_list_get(f->db, "ban-tin-tuan", &l), MERR_OK);
    assert_int_equal(l.double_optin, 1);
    subs_list_clear(&l);
    assert_int_equal(subs_list_all(f->db, &all, &n), MERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].slug, "ban-tin-tuan");
    subs_lists_free(all, n);
    assert_int_equal(subs_list_remove(f->db, "tin-tuc"), MERR_OK);
    assert_int_equal(subs_list_get(f->db, "tin-tuc", &l), MERR_NOTFOUND);
    assert_int_equal(subs_list_remove(f->db, "tin-tuc"), MERR_NOTFOUND);
}

/* subs_list_update: each field changes alone, bad values change nothing and name their field. */
static void list_update_fields_and_refusals(void **state)
{
    struct subs_fx *f = *state;
    struct subs_list_update u;
    struct subs_list l;
    const char *field = "x";
    char over[700];
    long long id;

    assert_int_equal(subs_list_create(f->db, "tuan", "Bản tin", NULL, "double", NOW, &id), MERR_OK);
    subs_list_update_init(&u);
    u.digest_weekday = 5;
    u.digest_time = "18:30";
    u.digest_category = "Tin tức - Sự kiện";
    u.digest_max_articles = 3;
    u.digest_subject = "Tin tuần {{week}}/{{year}} – {{site}}";
    u.digest_template = "digest";
    u.digest_enabled = 0;
    u.name = "Bản tin cuối tuần";
    u.description = "Dòng một\nDòng hai";
    u.optin = "single";
    date_set_fake_now(NOW + 60);
    assert_int_equal(subs_list_update(f->db, &f->cfg, "tuan", &u, &field), MERR_OK);
    assert_null(field);
    assert_int_equal(subs_list_get(f->db, "tuan", &l), MERR_OK);
    assert_int_equal(l.digest_weekday, 5);
    assert_string_equal(l.digest_time, "18:30");
    assert_string_equal(l.digest_category, "Tin tức - Sự kiện");
    assert_int_equal(l.digest_max_articles, 3);
    assert_string_equal(l.digest_subject, "Tin tuần {{week}}/{{year}} – {{site}}");
    assert_string_equal(l.digest_template, "digest");
    assert_int_equal(l.digest_enabled, 0);
    assert_string_equal(l.name, "Bản tin cuối tuần");
    assert_string_equal(l.description, "Dòng một\nDòng hai");
    assert_int_equal(l.double_optin, 0);
    assert_int_equal(l.updated_at, NOW + 60);
    assert_int_equal(l.created_at, NOW);
    subs_list_clear(&l);

    /* nothing given: nothing changes; "" category means all (NULL); Sunday is 0 */
    subs_list_update_init(&u);
    assert_int_equal(subs_list_update(f->db, &f->cfg, "tuan", &u, NULL), MERR_OK);
    u.digest_category = "";
    u.digest_weekday = 0;
    u.digest_enabled = 1;
    assert_int_equal(subs_list_update(f->db, &f->cfg, "tuan", &u, NULL), MERR_OK);
    assert_int_equal(subs_list_get(f->db, "tuan", &l), MERR_OK);
    assert_null(l.digest_category);
    assert_int_equal(l.digest_weekday, 0);
    assert_int_equal(l.digest_enabled, 1);
    assert_string_equal(l.digest_time, "18:30");
    assert_int_equal(l.digest_max_articles, 3);
    assert_string_equal(l.name, "Bản tin cuối tuần");
    subs_list_clear(&l);

    /* refusals: each names its field, and a good field beside a bad one is not written */
    memset(over, 'a', sizeof over - 1);
    over[sizeof over - 1] = '\0';
    struct {
        const char *field;
        struct subs_list_update u;
    } bad[32];
    size_t nb = 0;
#define BAD(fld, stmt)                                                                             \
    do {                                                                                           \
        subs_list_update_init(&bad[nb].u);                                                         \
        bad[nb].u.digest_max_articles = 7; /* a good field beside the bad one */                   \
        struct subs_list_update *b = &bad[nb].u;                                                   \
        stmt;                                                                                      \
        bad[nb++].field = fld;                                                                     \
    } while (0)
    BAD("name", b->name = "");
    BAD("name", b->name = "Hai\r\ndòng");
    BAD("name", b->name = over);
    BAD("description", b->description = "chuông\a");
    BAD("optin", b->optin = "triple");
    BAD("digest_weekday", b->digest_weekday = 7);
    BAD("digest_weekday", b->digest_weekday = -2);
    BAD("digest_time", b->digest_time = "24:00");
    BAD("digest_time", b->digest_time = "7:00");
    BAD("digest_time", b->digest_time = "07:60");
    BAD("digest_time", b->digest_time = "07-00");
    BAD("digest_time", b->digest_time = "07:00\n");
    BAD("digest_category", b->digest_category = "Tin\ntức");
    BAD("digest_max_articles", b->digest_max_articles = 0);
    BAD("digest_max_articles", b->digest_max_articles = 101);
    BAD("digest_subject", b->digest_subject = "");
    BAD("digest_subject", b->digest_subject = "Tin {{#week}} không đóng");
    BAD("digest_subject", b->digest_subject = "Tin {{week}}\r\nBcc: x@example.org");
    BAD("digest_subject", b->digest_subject = over);
    BAD("digest_subject", b->digest_subject = "Bản tin {{list}} tuần {{week}}"); /* the old docs' */
    BAD("digest_subject", b->digest_subject = "Tin {{tuan}}");
    BAD("digest_subject", b->digest_subject = "Tin {{>footer}}");
    BAD("digest_template", b->digest_template = "../pages/share");
    BAD("digest_template", b->digest_template = "Digest");
    BAD("digest_template", b->digest_template = "khong-co-mau");
    BAD("digest_template", b->digest_template = "");
    BAD("digest_enabled", b->digest_enabled = 2);
#undef BAD
    for (size_t i = 0; i < nb; i++) {
        field = NULL;
        assert_int_equal(subs_list_update(f->db, &f->cfg, "tuan", &bad[i].u, &field), MERR_INVAL);
        assert_non_null(field);
        assert_string_equal(field, bad[i].field);
        /* the message names the field too */
        assert_non_null(strstr(merr_msg(), bad[i].field));
    }
    assert_int_equal(
        test_db_int(f->db, "SELECT digest_max_articles FROM lists WHERE slug = 'tuan'"), 3);
    assert_int_equal(test_db_int(f->db, "SELECT updated_at FROM lists WHERE slug = 'tuan'"),
                     NOW + 60);

    /* an unknown list */
    subs_list_update_init(&u);
    u.digest_max_articles = 4;
    assert_int_equal(subs_list_update(f->db, &f->cfg, "khong-co", &u, &field), MERR_NOTFOUND);
    assert_null(field);

    /* a template of the override folder: accepted once both files exist */
    char odir[700], path[800];
    snprintf(odir, sizeof odir, "%s/override", f->dir);
    assert_int_equal(mkdir(odir, 0755), 0);
    snprintf(path, sizeof path, "%s/email", odir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/email/gon.html.mustache", odir);
    test_write_file(path, "<p>{{#articles}}{{title}}{{/articles}}</p>\n");
    test_set_str(&f->cfg.templates_override, odir);
    u.digest_template = "gon";
    assert_int_equal(subs_list_update(f->db, &f->cfg, "tuan", &u, &field), MERR_INVAL);
    assert_string_equal(field, "digest_template");
    assert_non_null(strstr(merr_msg(), "email/gon.txt"));
    snprintf(path, sizeof path, "%s/email/gon.txt.mustache", odir);
    test_write_file(path, "{{#articles}}{{title}}{{/articles}}\n");
    assert_int_equal(subs_list_update(f->db, &f->cfg, "tuan", &u, &field), MERR_OK);
    assert_int_equal(subs_list_get(f->db, "tuan", &l), MERR_OK);
    assert_string_equal(l.digest_template, "gon");
    assert_int_equal(l.digest_max_articles, 4);
    subs_list_clear(&l);
    /* without a config only the name is checked */
    u.digest_template = "chua-co";
    assert_int_equal(subs_list_update(f->db, NULL, "tuan", &u, NULL), MERR_OK);
}

/* ---- the maintained counters ---------------------------------------------------- */

/* 1 if list_counts agrees with a count of the subscriptions, for every list. */
static int counts_agree(struct subs_fx *f)
{
    return test_db_int(f->db,
                       "SELECT count(*) FROM lists l LEFT JOIN list_counts c ON c.list_id = l.id "
                       "WHERE coalesce(c.confirmed, -1) <> (SELECT count(*) FROM subscriptions s "
                       "WHERE s.list_id = l.id AND s.status = 'confirmed') OR "
                       "coalesce(c.unconfirmed, -1) <> (SELECT count(*) FROM subscriptions s "
                       "WHERE s.list_id = l.id AND s.status = 'unconfirmed') OR "
                       "coalesce(c.unsubscribed, -1) <> (SELECT count(*) FROM subscriptions s "
                       "WHERE s.list_id = l.id AND s.status = 'unsubscribed')") == 0 &&
           test_db_int(f->db, "SELECT count(*) FROM list_counts WHERE list_id NOT IN "
                              "(SELECT id FROM lists)") == 0;
}

static void list_counts_follow_every_change(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result res;
    struct subs_import_opts o;
    struct subs_import_report rep;
    struct subs_erase_result er;
    struct subs_list l;
    struct buf tok;
    long long a = subs_fx_mklist(f, "tin-a", "single"), b = subs_fx_mklist(f, "tin-b", "double");
    char csv[] = "email,name\nmot@x.vn,Một\nhai@x.vn,Hai\nan@x.vn,An\n";
    FILE *in;

    assert_true(counts_agree(f));
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin-a", "an@x.vn", "An", NULL, NOW, 0, &res),
                     MERR_OK);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin-b", "an@x.vn", "An", NULL, NOW, 0, &res),
                     MERR_OK); /* unconfirmed */
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin-b", "binh@x.vn", "", NULL, NOW,
                                    SUBS_ADD_CONFIRMED, &res),
                     MERR_OK);
    assert_true(counts_agree(f));
    assert_int_equal(subs_list_get(f->db, "tin-b", &l), MERR_OK);
    assert_int_equal(l.n_confirmed, 1);
    assert_int_equal(l.n_unconfirmed, 1);
    subs_list_clear(&l);
    /* confirm and unsubscribe through links */
    buf_init(&tok, 0);
    assert_int_equal(subs_unsubscribe_url(f->db, &f->cfg, res.subscriber_id, b, &tok), MERR_OK);
    assert_int_equal(
        subs_unsubscribe(f->db, &f->cfg, strstr(tok.data, "/unsubscribe/") + 13, 0, NOW, NULL),
        MERR_OK);
    buf_free(&tok);
    assert_true(counts_agree(f));
    /* an import: new people in a range, one existing */
    memset(&o, 0, sizeof o);
    o.list_slug = "tin-a";
    in = fmemopen(csv, strlen(csv), "r");
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.subscribed, 2);
    assert_true(counts_agree(f));
    /* the admin's actions on one person */
    assert_int_equal(subs_person_unsubscribe(f->db, res.subscriber_id, 0, NOW), MERR_OK);
    assert_true(counts_agree(f));
    assert_int_equal(subs_person_block(f->db, res.subscriber_id, "test", NOW), MERR_OK);
    assert_int_equal(subs_is_suppressed(f->db, "binh@x.vn"), 1);
    /* removal, erasure, a list deleted with its subscriptions */
    assert_int_equal(subs_remove(f->db, "mot@x.vn", "tin-a"), MERR_OK);
    assert_true(counts_agree(f));
    assert_int_equal(subs_erase(f->db, "an@x.vn", NOW, &er), MERR_OK);
    assert_true(counts_agree(f));
    assert_int_equal(subs_list_remove(f->db, "tin-a"), MERR_OK);
    assert_true(counts_agree(f));
    (void)a;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(list_create_validate_get_remove, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(list_update_fields_and_refusals, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(list_counts_follow_every_change, subs_fx_setup,
                                        subs_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
