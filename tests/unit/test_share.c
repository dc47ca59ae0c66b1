/*
 * test_share.c: share_enqueue's checks and its one transaction: the plan,
 * the envelopes and the share_log row are written together or not at all;
 * recipient limit after merging duplicates, names without links or line
 * breaks, the note's length and UTF-8, unknown articles, suppressed
 * recipients dropped without a word.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "date.h"
#include "db.h"
#include "share.h"
#include "testutil.h"

struct fx {
    struct db *db;
    struct config cfg;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(cfg_defaults(&f->cfg), MERR_OK);
    f->db = test_db_fresh(test_tmpdir("share"), NULL, 0);
    assert_int_equal(db_exec(f->db,
                             "INSERT INTO articles(id, url, title, published_at, body_html, "
                             "created_at, updated_at) VALUES ('tin-1', 'https://x.example/tin-1', "
                             "'Tin một', 0, '<p>Xin chào</p>', 0, 0)"),
                     MERR_OK);
    assert_int_equal(db_exec(f->db,
                             "INSERT INTO suppressions(email_hash, email_key, reason, "
                             "created_at) VALUES "
                             "('c1ab2e558c55746cd739524ff4165e7012a9d55f8c3eeb60a81b8d1277d0a31c', "
                             "'gone@example.com', "
                             "'hard_bounce', 0)"),
                     MERR_OK);
    date_set_fake_now(1700000000);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    db_close(f->db);
    cfg_free(&f->cfg);
    free(f);
    return 0;
}

static void assert_nothing_written(struct db *db)
{
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM sends"), 0);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes"), 0);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM share_log"), 0);
}

static struct share_request base(const char *const *to, size_t nto)
{
    struct share_request r = {
        .article_id = "tin-1",
        .to = to,
        .nto = nto,
        .sender_name = "Trần Thị Hoa",
        .sender_email = "hoa@example.org",
        .note = "Bài này hay,\r\nđọc nhé!",
        .client_ip = "203.0.113.9",
    };
    return r;
}

static void accepted_share_writes_send_envelopes_and_log(void **state)
{
    struct fx *f = *state;
    const char *to[] = {"a@example.com", " B@Example.COM ", "b@example.com", "c@ví-dụ.vn"};
    struct share_request r = base(to, 4);
    long long send_id;
    size_t accepted;
    char *s;

    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_OK);
    assert_true(send_id > 0);
    assert_int_equal(accepted, 3); /* B@Example.COM and b@example.com merged */
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM envelopes WHERE state='queued' AND "
                                        "subscriber_id IS NULL"),
                     3);
    s = test_db_strdup(f->db, "SELECT group_concat(recipient, ' ') FROM envelopes ORDER BY id");
    assert_string_equal(s, "a@example.com B@example.com c@xn--v-d-rma6749a.vn");
    free(s);
    s = test_db_strdup(f->db, "SELECT kind || '|' || status FROM sends");
    assert_string_equal(s, "share|active");
    free(s);
    s = test_db_strdup(f->db, "SELECT plan FROM sends");
    json_t *plan = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(plan);
    assert_string_equal(json_string_value(json_object_get(plan, "kind")), "share");
    assert_string_equal(json_string_value(json_object_get(plan, "article")), "tin-1");
    assert_string_equal(json_string_value(json_object_get(plan, "sender_name")), "Trần Thị Hoa");
    assert_string_equal(json_string_value(json_object_get(plan, "sender_email")),
                        "hoa@example.org");
    assert_string_equal(json_string_value(json_object_get(plan, "note")),
                        "Bài này hay,\r\nđọc nhé!");
    json_decref(plan);
    s = test_db_strdup(f->db,
                       "SELECT article_id || '|' || sender_email || '|' || sender_name || '|' "
                       "|| client_ip || '|' || recipients FROM share_log");
    assert_string_equal(s, "tin-1|hoa@example.org|Trần Thị Hoa|203.0.113.9|3");
    free(s);
}

static void sixth_recipient_refused(void **state)
{
    struct fx *f = *state;
    const char *to[] = {"a@example.com", "b@example.com", "c@example.com",
                        "d@example.com", "e@example.com", "f@example.com"};
    struct share_request r = base(to, 6);
    long long send_id;
    size_t accepted;

    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_LIMIT);
    assert_string_equal(merr_field(), "to");
    assert_non_null(strstr(merr_msg(), "at most 5"));
    assert_nothing_written(f->db);
    /* five, with the sixth a duplicate: fine */
    to[5] = "A@EXAMPLE.COM";
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_OK);
    assert_int_equal(accepted, 5);
    assert_string_equal(merr_field(), "");
}

static void bad_names_refused(void **state)
{
    struct fx *f = *state;
    const char *to[] = {"a@example.com"};
    const char *names[] = {
        "Hoa\r\nBcc: x@evil.example", "Hoa\nX",      "Hoa\rX", "Visit http://spam.example",
        "www.spam.example",           "HTTPS deals", "a://b",  "tab\x01here"};
    long long send_id;
    size_t accepted;
    char longname[400] = "";

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct share_request r = base(to, 1);
        r.sender_name = names[i];
        assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
        assert_string_equal(merr_field(), "sender_name");
    }
    /* 101 code points (Vietnamese, 2-3 bytes each) */
    for (int i = 0; i < 101; i++)
        strcat(longname, "ệ");
    struct share_request r = base(to, 1);
    r.sender_name = longname;
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_LIMIT);
    assert_string_equal(merr_field(), "sender_name");
    assert_nothing_written(f->db);
    longname[strlen(longname) - strlen("ệ")] = '\0'; /* 100: accepted */
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_OK);
}

static void bad_note_refused(void **state)
{
    struct fx *f = *state;
    const char *to[] = {"a@example.com"};
    struct share_request r = base(to, 1);
    long long send_id;
    size_t accepted;
    char *note = malloc(1200);

    note[0] = '\0';
    for (int i = 0; i < 501; i++)
        strcat(note, "đ");
    r.note = note;
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_LIMIT);
    assert_string_equal(merr_field(), "note");
    r.note = "bad \xC3\x28 utf8";
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    assert_string_equal(merr_field(), "note");
    assert_non_null(strstr(merr_msg(), "UTF-8"));
    r.note = "overlong \xC0\xAF";
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    r.note = "bell \x07";
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    assert_nothing_written(f->db);
    note[strlen(note) - strlen("đ")] = '\0'; /* 500: accepted */
    r.note = note;
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_OK);
    free(note);
}

static void bad_addresses_refused(void **state)
{
    struct fx *f = *state;
    const char *to[] = {"a@example.com", "not an address"};
    struct share_request r = base(to, 2);
    long long send_id;
    size_t accepted;

    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    assert_string_equal(merr_field(), "to");
    assert_non_null(strstr(merr_msg(), "recipient 2"));
    to[1] = "x@example.com\r\nRCPT TO:<y@evil.example>";
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    assert_string_equal(merr_field(), "to");
    r.nto = 0;
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    assert_string_equal(merr_field(), "to");
    const char *blank[] = {"", "  "};
    r.to = blank;
    r.nto = 2;
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    assert_string_equal(merr_field(), "to");
    to[1] = "b@example.com";
    r.to = to;
    r.sender_email = "hoa@";
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    assert_string_equal(merr_field(), "sender_email");
    r.sender_email = NULL;
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    assert_string_equal(merr_field(), "sender_email");
    assert_nothing_written(f->db);
}

static void unknown_article_not_found(void **state)
{
    struct fx *f = *state;
    const char *to[] = {"a@example.com"};
    struct share_request r = base(to, 1);
    long long send_id;
    size_t accepted;

    r.article_id = "khong-co";
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_NOTFOUND);
    assert_string_equal(merr_field(), "article");
    r.article_id = "";
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_INVAL);
    assert_string_equal(merr_field(), "article");
    assert_nothing_written(f->db);
}

static void suppressed_recipient_dropped_silently(void **state)
{
    struct fx *f = *state;
    const char *to[] = {"Gone@Example.com", "a@example.com"};
    struct share_request r = base(to, 2);
    long long send_id;
    size_t accepted;
    char *s;

    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_OK);
    assert_int_equal(accepted, 1);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM envelopes"), 1);
    s = test_db_strdup(f->db, "SELECT recipient FROM envelopes");
    assert_string_equal(s, "a@example.com");
    free(s);
    /* only suppressed: accepted (nothing to tell), the send is closed at once */
    r.nto = 1;
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_OK);
    assert_int_equal(accepted, 0);
    char sql[100];
    snprintf(sql, sizeof sql, "SELECT status FROM sends WHERE id=%lld", send_id);
    s = test_db_strdup(f->db, sql);
    assert_string_equal(s, "done");
    free(s);
    assert_int_equal(test_db_int(f->db, "SELECT sum(recipients) FROM share_log"), 1);
}

static void failure_mid_transaction_leaves_nothing(void **state)
{
    struct fx *f = *state;
    const char *to[] = {"a@example.com", "b@example.com"};
    struct share_request r = base(to, 2);
    long long send_id;
    size_t accepted;

    /* make the share_log insert fail after the send and envelopes are written */
    assert_int_equal(db_exec(f->db, "CREATE TRIGGER no_log BEFORE INSERT ON share_log BEGIN "
                                    "SELECT RAISE(ABORT, 'log refused'); END"),
                     MERR_OK);
    assert_int_not_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_OK);
    assert_int_equal(send_id, 0);
    assert_nothing_written(f->db);
    assert_int_equal(db_exec(f->db, "DROP TRIGGER no_log"), MERR_OK);
    assert_int_equal(share_enqueue(f->db, &f->cfg, &r, &send_id, &accepted), MERR_OK);
    assert_int_equal(accepted, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(accepted_share_writes_send_envelopes_and_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sixth_recipient_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_names_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_note_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_addresses_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_article_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(suppressed_recipient_dropped_silently, setup, teardown),
        cmocka_unit_test_setup_teardown(failure_mid_transaction_leaves_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
