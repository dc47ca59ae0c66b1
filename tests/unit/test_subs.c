/*
 * test_subs.c: tokens, the subscribe / confirm / unsubscribe flows with
 * their outbox effects, suppression, erase and show. Each test checks the
 * rows in the database, not just return codes. Lists are in
 * test_subs_lists.c, the CSV reader, writer and imports in test_subs_csv.c,
 * the search in test_subs_search.c; the fixture in subs_fx.c.
 */
#include <errno.h>
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

/* The token of a confirm link for (sid, lid) made at `now`, in `b`. */
static const char *confirm_token(struct subs_fx *f, long long sid, long long lid, time_t now,
                                 struct buf *b)
{
    buf_reset(b);
    assert_int_equal(subs_confirm_url(f->db, &f->cfg, sid, lid, now, b), MERR_OK);
    return strrchr(b->data, '/') + 1;
}

/* ---- tokens ---------------------------------------------------------- */

static const unsigned char SALT[16] = "0123456789abcde";
#define LEGACY_TOKEN "AgAAAAAAAAAqAAAAAAAAAAcAAAAAAAAAAAzf3fMRBG-EzoGjkICqjis"

static void token_roundtrip_and_every_single_change_refused(void **state)
{
    struct buf b;
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    long long sid = 0, lid = 0;
    size_t refused = 0, tried = 0;
    (void)state;
    buf_init(&b, 0);
    assert_int_equal(
        subs_token_make("k-0123456789abcdef", SALT, 16, SUBS_TOKEN_CONFIRM, 42, 7, NOW + 100, &b),
        MERR_OK);
    assert_int_equal(subs_token_check("k-0123456789abcdef", SALT, 16, b.data, SUBS_TOKEN_CONFIRM,
                                      NOW, &sid, &lid),
                     MERR_OK);
    assert_int_equal(sid, 42);
    assert_int_equal(lid, 7);
    /* every position, every other character of the alphabet: all refused */
    for (size_t i = 0; i < b.len; i++) {
        char orig = b.data[i];
        for (const char *c = alpha; *c; c++) {
            if (*c == orig)
                continue;
            b.data[i] = *c;
            tried++;
            if (subs_token_check("k-0123456789abcdef", SALT, 16, b.data, SUBS_TOKEN_CONFIRM, NOW,
                                 &sid, &lid) == MERR_INVAL)
                refused++;
        }
        b.data[i] = orig;
    }
    assert_int_equal(refused, tried);
    assert_true(tried > 3000);
    /* wrong secret, wrong kind, truncated, extended */
    assert_int_equal(subs_token_check("other-secret-xxxxxxx", SALT, 16, b.data, SUBS_TOKEN_CONFIRM,
                                      NOW, &sid, &lid),
                     MERR_INVAL);
    assert_int_equal(subs_token_check("k-0123456789abcdef", SALT, 16, b.data,
                                      SUBS_TOKEN_UNSUBSCRIBE, NOW, &sid, &lid),
                     MERR_INVAL);
    /* another person's salt (the same ids after an erase), or none */
    assert_int_equal(subs_token_check("k-0123456789abcdef",
                                      (const unsigned char *)"0123456789abcdeF", 16, b.data,
                                      SUBS_TOKEN_CONFIRM, NOW, &sid, &lid),
                     MERR_INVAL);
    assert_int_equal(subs_token_check("k-0123456789abcdef", NULL, 0, b.data, SUBS_TOKEN_CONFIRM,
                                      NOW, &sid, &lid),
                     MERR_INVAL);
    b.data[b.len - 1] = '\0';
    assert_int_equal(subs_token_check("k-0123456789abcdef", SALT, 16, b.data, SUBS_TOKEN_CONFIRM,
                                      NOW, &sid, &lid),
                     MERR_INVAL);
    assert_int_equal(
        subs_token_check("k-0123456789abcdef", SALT, 16, "", SUBS_TOKEN_CONFIRM, NOW, &sid, &lid),
        MERR_INVAL);
    buf_free(&b);
}

static void token_expired_is_limit_with_ids(void **state)
{
    struct buf b;
    long long sid = 0, lid = 0;
    (void)state;
    buf_init(&b, 0);
    assert_int_equal(
        subs_token_make("k-0123456789abcdef", SALT, 16, SUBS_TOKEN_CONFIRM, 5, 9, NOW + 10, &b),
        MERR_OK);
    assert_int_equal(subs_token_check("k-0123456789abcdef", SALT, 16, b.data, SUBS_TOKEN_CONFIRM,
                                      NOW + 10, &sid, &lid),
                     MERR_OK);
    sid = lid = 0;
    assert_int_equal(subs_token_check("k-0123456789abcdef", SALT, 16, b.data, SUBS_TOKEN_CONFIRM,
                                      NOW + 11, &sid, &lid),
                     MERR_LIMIT);
    assert_int_equal(sid, 5);
    assert_int_equal(lid, 9);
    /* unsubscribe tokens never expire */
    buf_reset(&b);
    assert_int_equal(
        subs_token_make("k-0123456789abcdef", SALT, 16, SUBS_TOKEN_UNSUBSCRIBE, 5, 9, 0, &b),
        MERR_OK);
    assert_int_equal(subs_token_check("k-0123456789abcdef", SALT, 16, b.data,
                                      SUBS_TOKEN_UNSUBSCRIBE, NOW + 100L * 365 * 86400, &sid, &lid),
                     MERR_OK);
    buf_free(&b);
}

/*
 * An empty salt gives the tokens made before salts existed (migration
 * 0006 keeps X'' for those rows), so links already in mailboxes work: this
 * one was made by the code before the salt, for subscriber 42, list 7.
 */
static void token_without_salt_is_the_old_format(void **state)
{
    long long sid = 0, lid = 0;
    struct buf b;
    (void)state;
    buf_init(&b, 0);
    assert_int_equal(
        subs_token_make("k-0123456789abcdef", NULL, 0, SUBS_TOKEN_UNSUBSCRIBE, 42, 7, 0, &b),
        MERR_OK);
    assert_string_equal(b.data, LEGACY_TOKEN);
    assert_int_equal(subs_token_check("k-0123456789abcdef", NULL, 0, LEGACY_TOKEN,
                                      SUBS_TOKEN_UNSUBSCRIBE, NOW, &sid, &lid),
                     MERR_OK);
    assert_int_equal(sid, 42);
    assert_int_equal(lid, 7);
    buf_free(&b);
}

static void urls_have_base_and_token(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct subs_token_info info;
    struct buf b;
    long long sid, lid = subs_fx_mklist(f, "tin", "single");
    buf_init(&b, 0);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "a@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(subs_unsubscribe_url(f->db, &f->cfg, r.subscriber_id, lid, &b), MERR_OK);
    assert_int_equal(strncmp(b.data, "https://tin.example.vn/unsubscribe/", 35), 0);
    assert_int_equal(subs_token_ids(b.data + 35, &sid, &lid), MERR_OK);
    assert_int_equal(sid, r.subscriber_id);
    assert_int_equal(
        subs_token_inspect(f->db, &f->cfg, b.data + 35, SUBS_TOKEN_UNSUBSCRIBE, NOW, &info),
        MERR_OK);
    buf_reset(&b);
    assert_int_equal(subs_confirm_url(f->db, &f->cfg, r.subscriber_id, lid, NOW, &b), MERR_OK);
    assert_int_equal(strncmp(b.data, "https://tin.example.vn/confirm/", 31), 0);
    assert_int_equal(subs_token_inspect(f->db, &f->cfg, b.data + 31, SUBS_TOKEN_CONFIRM,
                                        NOW + SUBS_CONFIRM_TTL + 1, &info),
                     MERR_LIMIT);
    /* no such subscriber: no link (there is no salt to make it with) */
    buf_reset(&b);
    assert_int_equal(subs_unsubscribe_url(f->db, &f->cfg, r.subscriber_id + 1, lid, &b),
                     MERR_NOTFOUND);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* ---- subscribe, confirm, unsubscribe --------------------------------------- */

static void single_optin_confirms_at_once(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    subs_fx_mklist(f, "tin", "single");
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "An.Nguyen@BưuĐiện.VN", "Nguyễn An",
                                    "203.0.113.5", NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(r.outcome, SUBS_OUT_CONFIRMED);
    assert_int_equal(r.send_id, 0);
    char *s = test_db_strdup(
        f->db, "SELECT email || '|' || email_ascii || '|' || email_key || '|' || name "
               "FROM subscribers");
    assert_string_equal(s, "An.Nguyen@bưuđiện.vn|An.Nguyen@xn--buin-1ua66gr30m.vn|"
                           "an.nguyen@xn--buin-1ua66gr30m.vn|Nguyễn An");
    free(s);
    s = test_db_strdup(f->db,
                       "SELECT status || '|' || optin_ip || '|' || optin_at || '|' || confirmed_at "
                       "FROM subscriptions");
    assert_string_equal(s, "confirmed|203.0.113.5|1764000000|1764000000");
    free(s);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM sends"), 0);
    /* again: already, nothing new, no duplicate by case */
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "an.nguyen@xn--buin-1ua66gr30m.vn", NULL,
                                    NULL, NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(r.outcome, SUBS_OUT_ALREADY);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 1);
    /* refused address: the reason names the problem; nothing written */
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "người@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "SMTPUTF8"));
    assert_int_equal(
        subs_subscribe(f->db, &f->cfg, "tin", "a@x.vn", "A\r\nBcc: x", NULL, NOW, 0, &r),
        MERR_INVAL);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "nope", "a@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_NOTFOUND);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 1);
}

static void double_optin_flow(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct subs_token_info info;
    struct buf tok;
    long long lid = subs_fx_mklist(f, "tuan", "double");
    buf_init(&tok, 0);

    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tuan", "reader@example.vn", "Bạn đọc",
                                    "198.51.100.7", NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(r.outcome, SUBS_OUT_PENDING);
    assert_true(r.send_id > 0);
    /* the confirm send and its envelope landed with the subscription */
    char *plan = test_db_strdup(f->db, "SELECT plan FROM sends");
    assert_non_null(strstr(plan, "\"kind\":\"confirm\""));
    assert_non_null(strstr(plan, "\"slug\":\"tuan\""));
    assert_non_null(strstr(plan, "\"template\":\"confirm\""));
    free(plan);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM envelopes WHERE state='queued' AND "
                                        "recipient='reader@example.vn'"),
                     1);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='unconfirmed'"), 1);
    /* subscribing again at once does not mail again */
    assert_int_equal(
        subs_subscribe(f->db, &f->cfg, "tuan", "reader@example.vn", NULL, NULL, NOW + 60, 0, &r),
        MERR_OK);
    assert_int_equal(r.outcome, SUBS_OUT_RESENT_TOO_SOON);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM envelopes"), 1);

    const char *t = confirm_token(f, r.subscriber_id, lid, NOW, &tok);
    /* inspecting (GET) changes nothing */
    assert_int_equal(subs_token_inspect(f->db, &f->cfg, t, SUBS_TOKEN_CONFIRM, NOW + 5, &info),
                     MERR_OK);
    assert_string_equal(info.list_name, "Bản tin Tuần");
    assert_string_equal(info.email, "reader@example.vn");
    assert_int_equal(info.status, SUBS_UNCONFIRMED);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='unconfirmed'"), 1);
    /* an altered token confirms nobody */
    char bad[128];
    snprintf(bad, sizeof bad, "%s", t);
    bad[30] = bad[30] == 'A' ? 'B' : 'A';
    assert_int_equal(subs_confirm(f->db, &f->cfg, bad, "1.1.1.1", NOW + 5, &info), MERR_INVAL);
    /* expired: refused, and the page learns which list to offer */
    assert_int_equal(subs_confirm(f->db, &f->cfg, t, "1.1.1.1", NOW + SUBS_CONFIRM_TTL + 1, &info),
                     MERR_LIMIT);
    assert_int_equal(info.expired, 1);
    assert_string_equal(info.list_slug, "tuan");
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='unconfirmed'"), 1);
    /* POST: confirmed, with time and IP; twice is fine */
    assert_int_equal(subs_confirm(f->db, &f->cfg, t, "192.0.2.9", NOW + 100, &info), MERR_OK);
    assert_int_equal(info.status, SUBS_CONFIRMED);
    assert_int_equal(subs_confirm(f->db, &f->cfg, t, "192.0.2.9", NOW + 200, NULL), MERR_OK);
    char *s = test_db_strdup(
        f->db, "SELECT status || '|' || confirmed_ip || '|' || confirmed_at || '|' || "
               "optin_ip FROM subscriptions");
    assert_string_equal(s, "confirmed|192.0.2.9|1764000100|198.51.100.7");
    free(s);
    buf_free(&tok);
}

static void unsubscribe_cancels_queued_and_is_idempotent(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct subs_token_info info;
    struct buf tok;
    long long lid = subs_fx_mklist(f, "tin", "single"),
              lid2 = subs_fx_mklist(f, "the-thao", "single");
    long long send, env;
    buf_init(&tok, 0);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "a@x.vn", "A", NULL, NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "the-thao", "a@x.vn", "A", NULL, NOW, 0, &r),
                     MERR_OK);
    /* a digest already queued for each list */
    assert_int_equal(outbox_send_create(f->db, OUTBOX_DIGEST, lid, "{}", &send), MERR_OK);
    assert_int_equal(outbox_envelope_add(f->db, send, r.subscriber_id, "a@x.vn", "A", &env),
                     MERR_OK);
    assert_int_equal(outbox_send_create(f->db, OUTBOX_DIGEST, lid2, "{}", &send), MERR_OK);
    assert_int_equal(outbox_envelope_add(f->db, send, r.subscriber_id, "a@x.vn", "A", &env),
                     MERR_OK);

    assert_int_equal(subs_unsubscribe_url(f->db, &f->cfg, r.subscriber_id, lid, &tok), MERR_OK);
    const char *t = strrchr(tok.data, '/') + 1;
    /* GET: inspect only */
    assert_int_equal(subs_token_inspect(f->db, &f->cfg, t, SUBS_TOKEN_UNSUBSCRIBE, NOW, &info),
                     MERR_OK);
    assert_int_equal(info.status, SUBS_CONFIRMED);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM envelopes WHERE state='queued'"), 2);
    /* POST */
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, t, 0, NOW + 1, &info), MERR_OK);
    assert_int_equal(info.status, SUBS_UNSUBSCRIBED);
    assert_int_equal(
        test_db_int(f->db,
                    "SELECT count(*) FROM envelopes e JOIN sends s ON s.id = e.send_id WHERE "
                    "e.state='cancelled' AND s.list_id = (SELECT id FROM lists WHERE slug='tin')"),
        1);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM envelopes WHERE state='queued'"), 1);
    assert_int_equal(test_db_int(f->db,
                                 "SELECT unsubscribed_at FROM subscriptions s JOIN lists l ON "
                                 "l.id=s.list_id WHERE l.slug='tin'"),
                     NOW + 1);
    /* again: same result, no error */
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, t, 0, NOW + 2, &info), MERR_OK);
    assert_int_equal(test_db_int(f->db,
                                 "SELECT unsubscribed_at FROM subscriptions s JOIN lists l ON "
                                 "l.id=s.list_id WHERE l.slug='tin'"),
                     NOW + 1);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='confirmed'"), 1);
    /* leave all lists: everything cancelled, suppression added */
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, t, 1, NOW + 3, &info), MERR_OK);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='confirmed'"), 0);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM envelopes WHERE state='queued'"), 0);
    assert_int_equal(subs_is_suppressed(f->db, "a@x.vn"), 1);
    char *reason = test_db_strdup(f->db, "SELECT reason FROM suppressions");
    assert_string_equal(reason, "unsubscribed_all");
    free(reason);
    /* a forged token changes nothing */
    char bad[128];
    snprintf(bad, sizeof bad, "%s", t);
    bad[45] = bad[45] == 'x' ? 'y' : 'x'; /* the MAC: a token naming no subscriber is NOTFOUND */
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, bad, 1, NOW, &info), MERR_INVAL);
    buf_free(&tok);
}

static void resubscribe_after_leaving_needs_confirmation(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct buf tok;
    long long lid = subs_fx_mklist(f, "tin", "single"), sid;
    buf_init(&tok, 0);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "b@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_OK);
    sid = r.subscriber_id;
    assert_int_equal(subs_unsubscribe_url(f->db, &f->cfg, sid, lid, &tok), MERR_OK);
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, strrchr(tok.data, '/') + 1, 1, NOW, NULL),
                     MERR_OK);
    /* single opt-in list, but they left: a confirm mail, not a silent re-subscribe */
    assert_int_equal(
        subs_subscribe(f->db, &f->cfg, "tin", "b@x.vn", NULL, "10.0.0.1", NOW + 5000, 0, &r),
        MERR_OK);
    assert_int_equal(r.outcome, SUBS_OUT_PENDING);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='unconfirmed'"), 1);
    assert_int_equal(test_db_int(f->db,
                                 "SELECT count(*) FROM envelopes e JOIN sends s ON s.id=e.send_id "
                                 "WHERE s.kind='confirm' AND e.state='queued'"),
                     1);
    /* confirming from the mailbox lifts their own unsubscribed_all suppression */
    assert_int_equal(subs_confirm(f->db, &f->cfg, confirm_token(f, sid, lid, NOW + 5000, &tok),
                                  "10.0.0.1", NOW + 5100, NULL),
                     MERR_OK);
    assert_int_equal(subs_is_suppressed(f->db, "b@x.vn"), 0);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='confirmed'"), 1);
    buf_free(&tok);
}

static void old_confirm_link_does_not_undo_unsubscribe(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct buf tok, ut;
    long long lid = subs_fx_mklist(f, "tuan", "double");
    buf_init(&tok, 0);
    buf_init(&ut, 0);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tuan", "c@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_OK);
    const char *t = confirm_token(f, r.subscriber_id, lid, NOW, &tok);
    assert_int_equal(subs_unsubscribe_url(f->db, &f->cfg, r.subscriber_id, lid, &ut), MERR_OK);
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, strrchr(ut.data, '/') + 1, 0, NOW + 1, NULL),
                     MERR_OK);
    /* the pending confirm mail was cancelled too */
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM envelopes WHERE state='cancelled'"),
                     1);
    assert_int_equal(subs_confirm(f->db, &f->cfg, t, "1.2.3.4", NOW + 2, NULL), MERR_NOTFOUND);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='unsubscribed'"), 1);
    buf_free(&tok);
    buf_free(&ut);
}

/* "May we mail this person" fails closed: a lookup that errs says suppressed. */
static void suppression_lookup_error_fails_closed(void **state)
{
    struct subs_fx *f = *state;
    assert_int_equal(subs_is_suppressed(f->db, "nobody@x.vn"), 0);
    assert_int_equal(db_exec(f->db, "ALTER TABLE suppressions RENAME TO suppressions_gone"),
                     MERR_OK);
    assert_int_equal(subs_is_suppressed(f->db, "nobody@x.vn"), 1);
    assert_int_equal(db_exec(f->db, "ALTER TABLE suppressions_gone RENAME TO suppressions"),
                     MERR_OK);
    assert_int_equal(subs_is_suppressed(f->db, "nobody@x.vn"), 0);
}

static void suppressed_address_is_refused_quietly(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    subs_fx_mklist(f, "tin", "single");
    assert_int_equal(subs_suppress(f->db, "Bounced@X.VN", "hard_bounce", "550 5.1.1"), MERR_OK);
    assert_int_equal(subs_is_suppressed(f->db, "bounced@x.vn"), 1);
    assert_int_equal(subs_is_suppressed(f->db, "other@x.vn"), 0);
    assert_int_equal(subs_suppress(f->db, "x@x.vn", "because", NULL), MERR_INVAL);
    /* the first reason stays */
    assert_int_equal(subs_suppress(f->db, "bounced@x.vn", "manual", NULL), MERR_OK);
    char *s = test_db_strdup(f->db, "SELECT reason || '|' || email_key FROM suppressions");
    assert_string_equal(s, "hard_bounce|bounced@x.vn");
    free(s);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "BOUNCED@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(r.outcome, SUBS_OUT_SUPPRESSED);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "bounced@x.vn", NULL, NULL, NOW,
                                    SUBS_ADD_CONFIRMED, &r),
                     MERR_OK);
    assert_int_equal(r.outcome, SUBS_OUT_SUPPRESSED);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 0);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM sends"), 0);
}

/* "May we mail this person": one key (the address's hash), whether or not the address is kept. */
static void consent_check_finds_an_erased_suppression(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct subs_erase_result er;
    char why[128];
    long long tin = subs_fx_mklist(f, "tin", "single"), hoi = subs_fx_mklist(f, "hoi", "double");
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "An@X.VN", "An", NULL, NOW, 0, &r),
                     MERR_OK);
    long long an = r.subscriber_id;
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "hoi", "an@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_OK);
    /* as it is: a digest of tin, the confirmation of hoi, a share */
    assert_int_equal(subs_consent_check(f->db, OUTBOX_DIGEST, tin, an, "an@x.vn", why, sizeof why),
                     MERR_OK);
    assert_string_equal(why, "");
    assert_int_equal(subs_consent_check(f->db, OUTBOX_CONFIRM, hoi, an, "an@x.vn", why, sizeof why),
                     MERR_OK);
    assert_string_equal(why, "");
    assert_int_equal(subs_consent_check(f->db, OUTBOX_CONFIRM, tin, an, "an@x.vn", why, sizeof why),
                     MERR_OK);
    assert_string_equal(why, "subscription no longer awaits confirmation");
    assert_int_equal(subs_consent_check(f->db, OUTBOX_DIGEST, hoi, an, "an@x.vn", why, sizeof why),
                     MERR_OK);
    assert_string_equal(why, "no longer subscribed to the list");
    /* blocked, then erased: the suppression keeps only the hash, and still answers */
    assert_int_equal(subs_suppress(f->db, "an@x.vn", "manual", "block"), MERR_OK);
    assert_int_equal(subs_erase(f->db, "an@x.vn", NOW, &er), MERR_OK);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM suppressions WHERE email_key IS NULL"), 1);
    assert_int_equal(subs_consent_check(f->db, OUTBOX_SHARE, 0, 0, "AN@x.vn", why, sizeof why),
                     MERR_OK);
    assert_string_equal(why, "address is on the suppression list");
    assert_int_equal(subs_consent_check(f->db, OUTBOX_DIGEST, tin, 0, "an@x.vn", why, sizeof why),
                     MERR_OK);
    assert_string_equal(why, "address is on the suppression list");
    assert_int_equal(subs_consent_check(f->db, OUTBOX_SHARE, 0, 0, "other@x.vn", why, sizeof why),
                     MERR_OK);
    assert_string_equal(why, "");
    assert_int_equal(
        subs_consent_check(f->db, OUTBOX_DIGEST, tin, 0, "other@x.vn", why, sizeof why), MERR_OK);
    assert_string_equal(why, "subscriber was erased");
}

static void remove_show_and_erase(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct subs_erase_result er;
    struct buf tok;
    json_t *o;
    long long lid = subs_fx_mklist(f, "tin", "single");
    buf_init(&tok, 0);
    subs_fx_mklist(f, "tuan", "single");
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "d@x.vn", "Dũng", "9.9.9.9", NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tuan", "d@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(subs_show(f->db, "D@X.VN", &o), MERR_OK);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "subscriber"), "name")), "Dũng");
    assert_int_equal(json_array_size(json_object_get(o, "subscriptions")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(o, "subscriptions"), 0), "optin_ip")),
                        "9.9.9.9");
    assert_true(json_is_null(json_object_get(o, "suppression")));
    json_decref(o);

    assert_int_equal(subs_remove(f->db, "d@x.vn", "tuan"), MERR_OK);
    assert_int_equal(subs_remove(f->db, "d@x.vn", "tuan"), MERR_NOTFOUND);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscriptions"), 1);

    /* erase someone who never asked not to be mailed: nothing stays */
    assert_int_equal(subs_erase(f->db, "d@x.vn", NOW, &er), MERR_OK);
    assert_int_equal(er.subscriber_deleted, 1);
    assert_int_equal(er.suppression_kept, 0);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 0);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscriptions"), 0);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM suppressions"), 0);
    assert_int_equal(subs_show(f->db, "d@x.vn", &o), MERR_NOTFOUND);
    assert_int_equal(subs_erase(f->db, "d@x.vn", NOW, &er), MERR_NOTFOUND);

    /* erase someone who unsubscribed: only the hash stays, and it still works */
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "e@x.vn", "Em", NULL, NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(subs_unsubscribe_url(f->db, &f->cfg, r.subscriber_id, lid, &tok), MERR_OK);
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, strrchr(tok.data, '/') + 1, 0, NOW, NULL),
                     MERR_OK);
    assert_int_equal(subs_erase(f->db, "e@x.vn", NOW, &er), MERR_OK);
    assert_int_equal(er.suppression_kept, 1);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 0);
    assert_int_equal(test_db_int(f->db,
                                 "SELECT count(*) FROM suppressions WHERE email_key IS NULL AND "
                                 "length(email_hash) = 64"),
                     1);
    assert_int_equal(test_db_int(f->db,
                                 "SELECT count(*) FROM suppressions WHERE email_key LIKE '%e@x%' "
                                 "OR detail LIKE '%e@x%'"),
                     0);
    assert_int_equal(subs_is_suppressed(f->db, "E@x.vn"), 1);
    /* the unsubscribe link of an erased person: nothing to do */
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, strrchr(tok.data, '/') + 1, 0, NOW, NULL),
                     MERR_NOTFOUND);
    /* a blocked address is erased to its hash too */
    assert_int_equal(subs_suppress(f->db, "g@x.vn", "complaint", "abuse report"), MERR_OK);
    assert_int_equal(subs_erase(f->db, "g@x.vn", NOW, &er), MERR_OK);
    assert_int_equal(er.subscriber_deleted, 0);
    assert_int_equal(er.suppression_kept, 1);
    assert_int_equal(test_db_int(f->db,
                                 "SELECT count(*) FROM suppressions WHERE email_key IS NOT NULL OR "
                                 "detail <> ''"),
                     0);
    assert_int_equal(subs_is_suppressed(f->db, "g@x.vn"), 1);
    buf_free(&tok);
}

/*
 * Rows in any table with a text value holding `needle` (ASCII
 * case-insensitive): every column of every table is scanned.
 */
static long long rows_holding(struct db *db, const char *needle)
{
    sqlite3_stmt *tables, *st;
    long long hits = 0;
    char sql[300];
    assert_int_equal(sqlite3_prepare_v2(db_sqlite(db),
                                        "SELECT name FROM sqlite_master WHERE type = 'table'", -1,
                                        &tables, NULL),
                     SQLITE_OK);
    while (sqlite3_step(tables) == SQLITE_ROW) {
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", sqlite3_column_text(tables, 0));
        assert_int_equal(sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const char *t = (const char *)sqlite3_column_text(st, i);
                if (t && strcasestr(t, needle)) {
                    print_message("%s.%s: %s\n", sqlite3_column_text(tables, 0),
                                  sqlite3_column_name(st, i), t);
                    hits++;
                }
            }
        sqlite3_finalize(st);
    }
    sqlite3_finalize(tables);
    return hits;
}

static void erase_leaves_no_trace_in_any_table(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct subs_erase_result er;
    struct outbox_result res = {0};
    struct buf tok;
    json_t *o, *env;
    long long lid = subs_fx_mklist(f, "tuan", "double"), share, e_share, e_other;
    buf_init(&tok, 0);
    /* subscribed to a double opt-in list: a confirm envelope, which is then sent */
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tuan", "Kha.Xoa@X.VN", "Khả Xoá Tên",
                                    "10.1.2.3", NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(subs_confirm_url(f->db, &f->cfg, r.subscriber_id, lid, NOW, &tok), MERR_OK);
    assert_int_equal(
        subs_confirm(f->db, &f->cfg, strrchr(tok.data, '/') + 1, "10.1.2.4", NOW, NULL), MERR_OK);
    res.envelope_id = test_db_int(f->db, "SELECT id FROM envelopes");
    res.state = OUTBOX_SENT;
    res.code = 250;
    snprintf(res.text, sizeof res.text, "250 2.0.0 Ok: queued for <kha.xoa@x.vn>");
    assert_int_equal(outbox_record(f->db, &res, 1, NOW), MERR_OK);
    /* a share to them (no subscriber id) still queued, and one to someone else */
    assert_int_equal(db_begin(f->db), MERR_OK);
    assert_int_equal(outbox_send_create(f->db, OUTBOX_SHARE, 0, "{\"kind\":\"share\"}", &share),
                     MERR_OK);
    assert_int_equal(outbox_envelope_add(f->db, share, 0, "KHA.xoa@x.vn", "", &e_share), MERR_OK);
    assert_int_equal(outbox_envelope_add(f->db, share, 0, "other@x.vn", "", &e_other), MERR_OK);
    assert_int_equal(db_commit(f->db), MERR_OK);

    /* show has their envelopes: both kinds, by state */
    assert_int_equal(subs_show(f->db, "kha.xoa@x.vn", &o), MERR_OK);
    env = json_object_get(o, "envelopes");
    assert_int_equal(json_integer_value(json_object_get(env, "total")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(env, "by_state"), "sent")),
                     1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(env, "by_state"), "queued")), 1);
    assert_int_equal(json_array_size(json_object_get(env, "last")), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(env, "last"), 0), "kind")),
        "share");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(env, "last"), 1), "kind")),
        "confirm");
    json_decref(o);

    /* they leave the list (a real unsubscribe link), then ask to be erased */
    buf_reset(&tok);
    assert_int_equal(subs_unsubscribe_url(f->db, &f->cfg, r.subscriber_id, lid, &tok), MERR_OK);
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, strrchr(tok.data, '/') + 1, 0, NOW, NULL),
                     MERR_OK);
    assert_true(rows_holding(f->db, "kha.xoa@x.vn") > 0);
    assert_int_equal(subs_erase(f->db, "kha.xoa@x.vn", NOW, &er), MERR_OK);
    assert_int_equal(er.subscriber_deleted, 1);
    assert_int_equal(er.suppression_kept, 1);
    assert_int_equal(er.envelopes_erased, 2);
    assert_int_equal(rows_holding(f->db, "kha.xoa@x.vn"), 0);
    assert_int_equal(rows_holding(f->db, "Khả Xoá Tên"), 0);
    assert_int_equal(rows_holding(f->db, "10.1.2."), 0); /* their opt-in and confirm IPs */
    /* the share to them is cancelled, the other recipient's is not */
    char *s =
        test_db_strdup(f->db, "SELECT group_concat(state || ':' || recipient, ',') FROM envelopes "
                              "ORDER BY id");
    assert_string_equal(s, "sent:erased,cancelled:erased,queued:other@x.vn");
    free(s);
    /* only the hash stays, and every send still finds it */
    assert_int_equal(test_db_int(f->db,
                                 "SELECT count(*) FROM suppressions WHERE email_key IS NULL AND "
                                 "reason = 'unsubscribed_all'"),
                     1);
    assert_int_equal(subs_is_suppressed(f->db, "Kha.Xoa@x.vn"), 1);
    /* nothing is shown any more but the hashed suppression */
    assert_int_equal(subs_show(f->db, "kha.xoa@x.vn", &o), MERR_OK);
    assert_true(json_is_null(json_object_get(o, "subscriber")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "envelopes"), "total")),
                     0);
    json_decref(o);
    buf_free(&tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_roundtrip_and_every_single_change_refused),
        cmocka_unit_test(token_expired_is_limit_with_ids),
        cmocka_unit_test(token_without_salt_is_the_old_format),
        cmocka_unit_test_setup_teardown(urls_have_base_and_token, subs_fx_setup, subs_fx_teardown),
        cmocka_unit_test_setup_teardown(single_optin_confirms_at_once, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(double_optin_flow, subs_fx_setup, subs_fx_teardown),
        cmocka_unit_test_setup_teardown(unsubscribe_cancels_queued_and_is_idempotent, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(resubscribe_after_leaving_needs_confirmation, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(old_confirm_link_does_not_undo_unsubscribe, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(suppression_lookup_error_fails_closed, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(suppressed_address_is_refused_quietly, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(consent_check_finds_an_erased_suppression, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(remove_show_and_erase, subs_fx_setup, subs_fx_teardown),
        cmocka_unit_test_setup_teardown(erase_leaves_no_trace_in_any_table, subs_fx_setup,
                                        subs_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
