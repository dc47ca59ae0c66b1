/*
 * test_outcome.c: the consequences of an attempt: the rules (sent,
 * deferred with backoff, failed at max age, failed and suppressed for a bad
 * mailbox) and their application in one transaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "date.h"
#include "db.h"
#include "outbox.h"
#include "outcome.h"
#include "subs.h"
#include "testutil.h"

#define T0 1700000000

static struct config cfg;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    cfg.retry_base_seconds = 300;
    cfg.retry_max_seconds = 6 * 3600;
    cfg.max_age_seconds = 3 * 86400;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cfg_free(&cfg);
    return 0;
}

static struct outcome_report report(enum merr_class class, int code, const char *text)
{
    struct outcome_report r;
    memset(&r, 0, sizeof r);
    r.envelope_id = 1;
    r.subscriber_id = 7;
    r.created_at = T0;
    r.attempts = 1;
    snprintf(r.recipient, sizeof r.recipient, "Doc.Gia@Example.VN");
    r.kind = OUTCOME_ATTEMPT;
    r.class = class;
    r.code = code;
    snprintf(r.text, sizeof r.text, "%s", text);
    return r;
}

static void rules_for_each_class(void **state)
{
    struct outcome_verdict v;
    struct outcome_report r;
    (void)state;

    r = report(MERR_CLASS_OK, 250, "2.0.0 queued");
    outcome_decide(&cfg, &r, T0 + 10, &v);
    assert_int_equal(v.state, OUTBOX_SENT);
    assert_false(v.suppress);

    /* temporary: 5 min, then doubling, capped at retry_max */
    r = report(MERR_CLASS_TEMPORARY, 451, "4.3.0 try later");
    outcome_decide(&cfg, &r, T0 + 10, &v);
    assert_int_equal(v.state, OUTBOX_DEFERRED);
    assert_int_equal(v.next_attempt_at, T0 + 10 + 300);
    r.attempts = 3;
    outcome_decide(&cfg, &r, T0 + 10, &v);
    assert_int_equal(v.next_attempt_at, T0 + 10 + 1200);
    r.attempts = 30;
    outcome_decide(&cfg, &r, T0 + 10, &v);
    assert_int_equal(v.next_attempt_at, T0 + 10 + 6 * 3600);
    /* never past max age; failed once it has passed */
    outcome_decide(&cfg, &r, T0 + 3 * 86400 - 60, &v);
    assert_int_equal(v.state, OUTBOX_DEFERRED);
    assert_int_equal(v.next_attempt_at, T0 + 3 * 86400);
    outcome_decide(&cfg, &r, T0 + 3 * 86400, &v);
    assert_int_equal(v.state, OUTBOX_FAILED);
    assert_false(v.suppress);

    /* permanent: failed; suppressed only for a bad mailbox of a subscriber */
    r = report(MERR_CLASS_PERMANENT, 550, "5.1.1 <doc.gia@example.vn>: user unknown");
    outcome_decide(&cfg, &r, T0 + 10, &v);
    assert_int_equal(v.state, OUTBOX_FAILED);
    assert_true(v.suppress);
    r.subscriber_id = 0; /* a share: the address is not ours to suppress */
    outcome_decide(&cfg, &r, T0 + 10, &v);
    assert_false(v.suppress);
    r = report(MERR_CLASS_PERMANENT, 552, "5.3.4 message too big");
    outcome_decide(&cfg, &r, T0 + 10, &v);
    assert_int_equal(v.state, OUTBOX_FAILED);
    assert_false(v.suppress);

    r.kind = OUTCOME_UNSENT;
    outcome_decide(&cfg, &r, T0 + 10, &v);
    assert_int_equal(v.state, OUTBOX_QUEUED);
    r.kind = OUTCOME_CANCELLED;
    outcome_decide(&cfg, &r, T0 + 10, &v);
    assert_int_equal(v.state, OUTBOX_CANCELLED);
}

static void bad_mailbox_is_5_1_x(void **state)
{
    (void)state;
    assert_true(outcome_bad_mailbox(550, "5.1.1 user unknown"));
    assert_true(outcome_bad_mailbox(550, "550 5.1.10 null MX"));
    assert_true(outcome_bad_mailbox(553, "5.1.3 bad address syntax"));
    assert_false(outcome_bad_mailbox(450, "4.1.1 mailbox busy"));
    assert_false(outcome_bad_mailbox(550, "5.7.1 relaying denied"));
    assert_false(outcome_bad_mailbox(550, "user unknown"));
    assert_false(outcome_bad_mailbox(250, "5.1.1"));
    assert_false(outcome_bad_mailbox(550, NULL));
}

/* Applied in one transaction: states, the suppression, the sent one kept. */
static void apply_records_states_and_suppresses(void **state)
{
    struct db *db;
    struct outbox_envelope *e = NULL;
    struct outcome_report r[4];
    struct outcome_tally t = {0};
    long long send_id, id;
    size_t n = 0;
    (void)state;

    date_set_fake_now(T0);
    db = test_db_fresh(test_tmpdir("outcome"), NULL, 0);
    assert_int_equal(db_exec(db, "INSERT INTO subscribers(id, email, email_ascii, email_key, "
                                 "created_at, updated_at) VALUES "
                                 "(7, 'doc.gia@example.vn', 'doc.gia@example.vn', "
                                 "'doc.gia@example.vn', 0, 0)"),
                     MERR_OK);
    assert_int_equal(outbox_send_create(db, OUTBOX_SHARE, 0, "{\"kind\":\"share\"}", &send_id),
                     MERR_OK);
    for (int i = 0; i < 4; i++) {
        char rcpt[64];
        snprintf(rcpt, sizeof rcpt, i == 2 ? "doc.gia@example.vn" : "r%d@example.com", i);
        assert_int_equal(outbox_envelope_add(db, send_id, i == 2 ? 7 : 0, rcpt, "", &id), MERR_OK);
    }
    assert_int_equal(outbox_claim(db, T0, 60, 4, NULL, &e, &n, NULL), MERR_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < 4; i++) {
        r[i] = report(MERR_CLASS_OK, 250, "2.0.0 ok");
        r[i].envelope_id = e[i].id;
        r[i].subscriber_id = e[i].subscriber_id;
        snprintf(r[i].recipient, sizeof r[i].recipient, "%s", e[i].recipient);
    }
    r[1] = report(MERR_CLASS_TEMPORARY, 451, "4.3.0 later");
    r[1].envelope_id = e[1].id;
    r[1].subscriber_id = 0;
    r[2].class = MERR_CLASS_PERMANENT;
    r[2].code = 550;
    snprintf(r[2].text, sizeof r[2].text, "5.1.1 user unknown");
    r[3].kind = OUTCOME_UNSENT;
    assert_false(subs_is_suppressed(db, "doc.gia@example.vn"));
    assert_int_equal(outcome_apply(db, &cfg, r, 4, T0 + 5, &t), MERR_OK);
    assert_int_equal(t.sent, 1);
    assert_int_equal(t.deferred, 1);
    assert_int_equal(t.failed, 1);
    assert_int_equal(t.requeued, 1);
    assert_true(subs_is_suppressed(db, "DOC.GIA@example.vn"));
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM suppressions WHERE reason = "
                                     "'hard_bounce' AND detail = '5.1.1 user unknown'"),
                     1);
    /* a sent envelope stays sent, whatever comes later */
    r[0].class = MERR_CLASS_PERMANENT;
    assert_int_equal(outcome_apply(db, &cfg, r, 1, T0 + 6, NULL), MERR_OK);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE state = 'sent'"), 1);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE state = 'queued'"), 1);
    assert_int_equal(
        test_db_int(db, "SELECT next_attempt_at FROM envelopes WHERE state = 'deferred'"),
        T0 + 5 + 300);
    outbox_envelopes_free(e, n);
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_for_each_class),
        cmocka_unit_test(bad_mailbox_is_5_1_x),
        cmocka_unit_test(apply_records_states_and_suppresses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
