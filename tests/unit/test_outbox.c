/*
 * test_outbox.c: claims and leases, reclaim of expired leases, recording
 * results (group commit, sends closed when idle), the retry schedule and
 * max_age, VERP round trip and forgery refusal, Message-IDs, list enqueue
 * idempotence, the re-check at claim time, cancel/retry/list for the CLI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "date.h"
#include "db.h"
#include "outbox.h"
#include "subs.h"
#include "testutil.h"

#define T0 1700000000

static struct db *fresh(const char *name)
{
    date_set_fake_now(T0);
    return test_db_fresh(test_tmpdir(name), NULL, 0);
}

static void exec(struct db *db, const char *sql)
{
    assert_int_equal(db_exec(db, sql), MERR_OK);
}

/* A share send with `n` envelopes r0@example.com ... */
static long long share_with(struct db *db, int n)
{
    long long send_id, env;
    assert_int_equal(outbox_send_create(db, OUTBOX_SHARE, 0, "{\"kind\":\"share\"}", &send_id),
                     MERR_OK);
    for (int i = 0; i < n; i++) {
        char rcpt[64];
        snprintf(rcpt, sizeof rcpt, "r%d@example.com", i);
        assert_int_equal(outbox_envelope_add(db, send_id, 0, rcpt, "", &env), MERR_OK);
        assert_true(env > 0);
    }
    return send_id;
}

/* outbox_record runs inside the caller's transaction (the writer's). */
static enum merr record(struct db *db, const struct outbox_result *r, size_t n, time_t now)
{
    enum merr rc = db_begin(db);
    if (!rc)
        rc = outbox_record(db, r, n, now);
    if (!rc)
        rc = db_commit(db);
    if (rc)
        db_rollback(db);
    return rc;
}

static void state_names_round_trip(void **state)
{
    (void)state;
    for (int s = OUTBOX_QUEUED; s <= OUTBOX_CANCELLED; s++)
        assert_int_equal(outbox_state_parse(outbox_state_name((enum outbox_state)s)), s);
    assert_int_equal(outbox_state_parse("bogus"), -1);
    assert_string_equal(outbox_state_name(OUTBOX_DEFERRED), "deferred");
}

static void claim_lease_and_reclaim(void **state)
{
    struct db *db = fresh("outbox-claim");
    struct outbox_envelope *v;
    size_t n;
    long long reclaimed, send_id;
    (void)state;

    send_id = share_with(db, 5);
    assert_int_equal(outbox_claim(db, T0, 60, 3, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].send_id, send_id);
        assert_int_equal(v[i].attempts, 1);
        assert_int_equal(v[i].subscriber_id, 0);
        assert_int_equal(v[i].created_at, T0);
        assert_non_null(strstr(v[i].recipient, "@example.com"));
    }
    outbox_envelopes_free(v, n);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE state='sending' AND "
                                     "lease_until=1700000060"),
                     3);
    /* the rest, then nothing: a claimed envelope is never claimed twice */
    assert_int_equal(outbox_claim(db, T0, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 2);
    outbox_envelopes_free(v, n);
    assert_int_equal(outbox_claim(db, T0 + 59, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    /* leases still running are kept; expired ones go back to queued */
    assert_int_equal(outbox_reclaim_expired(db, T0 + 60, &reclaimed), MERR_OK);
    assert_int_equal(reclaimed, 0);
    assert_int_equal(outbox_reclaim_expired(db, T0 + 61, &reclaimed), MERR_OK);
    assert_int_equal(reclaimed, 5);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE state='queued' AND "
                                     "lease_until IS NULL"),
                     5);
    assert_int_equal(outbox_claim(db, T0 + 61, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 5);
    assert_int_equal(v[0].attempts, 2);
    outbox_envelopes_free(v, n);
    db_close(db);
}

/* A holder renews its leases: only the others run out and go back to queued. */
static void renewed_leases_are_not_reclaimed(void **state)
{
    struct db *db = fresh("renew");
    struct outbox_envelope *v = NULL;
    size_t n = 0;
    long long ids[40], renewed = 0, back = 0;
    (void)state;

    share_with(db, 40);
    assert_int_equal(outbox_claim(db, T0, 60, 40, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 40);
    for (size_t i = 0; i < 39; i++) /* more than one statement's worth of ids */
        ids[i] = v[i].id;
    assert_int_equal(outbox_lease_renew(db, ids, 39, T0 + 200, &renewed), MERR_OK);
    assert_int_equal(renewed, 39);
    assert_int_equal(outbox_reclaim_expired(db, T0 + 100, &back), MERR_OK);
    assert_int_equal(back, 1); /* v[39], not renewed */
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE state = 'sending'"), 39);
    /* an envelope no longer being sent keeps its state */
    ids[0] = v[39].id;
    assert_int_equal(outbox_lease_renew(db, ids, 1, T0 + 300, &renewed), MERR_OK);
    assert_int_equal(renewed, 0);
    assert_int_equal(outbox_reclaim_expired(db, T0 + 201, &back), MERR_OK);
    assert_int_equal(back, 39);
    outbox_envelopes_free(v, n);
    db_close(db);
}

static void claim_skips_paused_and_future(void **state)
{
    struct db *db = fresh("outbox-paused");
    struct outbox_envelope *v;
    size_t n;
    long long s1, s2;
    (void)state;
    s1 = share_with(db, 2);
    s2 = share_with(db, 2);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE sends SET status='paused' WHERE id=%lld", s1);
    exec(db, sql);
    snprintf(sql, sizeof sql, "UPDATE envelopes SET next_attempt_at=%d WHERE send_id=%lld",
             T0 + 100, s2);
    exec(db, sql);
    assert_int_equal(outbox_claim(db, T0, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(outbox_claim(db, T0 + 100, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].send_id, s2);
    outbox_envelopes_free(v, n);
    db_close(db);
}

static void record_results_and_finish_send(void **state)
{
    struct db *db = fresh("outbox-record");
    struct outbox_envelope *v;
    struct outbox_result r[3];
    struct outbox_counts c;
    size_t n;
    long long send_id;
    char text[300];
    (void)state;

    send_id = share_with(db, 3);
    assert_int_equal(outbox_claim(db, T0, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 3);
    memset(r, 0, sizeof r);
    r[0] = (struct outbox_result){v[0].id, OUTBOX_SENT, 250, "2.0.0 Ok queued", 0};
    r[1] = (struct outbox_result){v[1].id, OUTBOX_DEFERRED, 451, "4.3.0 try later", T0 + 300};
    r[2] = (struct outbox_result){v[2].id, OUTBOX_FAILED, 550, "5.1.1 no such user", 0};
    assert_int_equal(record(db, r, 3, T0 + 1), MERR_OK);
    assert_int_equal(outbox_counts(db, send_id, &c), MERR_OK);
    assert_int_equal(c.by_state[OUTBOX_SENT], 1);
    assert_int_equal(c.by_state[OUTBOX_DEFERRED], 1);
    assert_int_equal(c.by_state[OUTBOX_FAILED], 1);
    assert_int_equal(c.by_state[OUTBOX_SENDING], 0);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT last_code FROM envelopes WHERE id=%lld", v[2].id);
    assert_int_equal(test_db_int(db, sql), 550);
    snprintf(sql, sizeof sql, "SELECT last_text FROM envelopes WHERE id=%lld", v[2].id);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "5.1.1 no such user");
    snprintf(sql, sizeof sql, "SELECT sent_at FROM envelopes WHERE id=%lld", v[0].id);
    assert_int_equal(test_db_int(db, sql), T0 + 1);
    /* the deferred one keeps the send open */
    snprintf(sql, sizeof sql, "SELECT status FROM sends WHERE id=%lld", send_id);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "active");
    long long deferred_id = v[1].id, sent_id = v[0].id;
    outbox_envelopes_free(v, n);

    /* not due before next_attempt_at */
    assert_int_equal(outbox_claim(db, T0 + 299, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(outbox_claim(db, T0 + 300, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, deferred_id);
    assert_int_equal(v[0].attempts, 2);
    r[0] = (struct outbox_result){deferred_id, OUTBOX_SENT, 250, "ok", 0};
    /* a late duplicate result never un-sends a sent envelope */
    r[1] = (struct outbox_result){sent_id, OUTBOX_DEFERRED, 421, "late", T0 + 900};
    assert_int_equal(record(db, r, 2, T0 + 301), MERR_OK);
    outbox_envelopes_free(v, n);
    snprintf(sql, sizeof sql, "SELECT state='sent' FROM envelopes WHERE id=%lld", sent_id);
    assert_int_equal(test_db_int(db, sql), 1);
    snprintf(sql, sizeof sql, "SELECT status FROM sends WHERE id=%lld", send_id);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "done");
    snprintf(sql, sizeof sql, "SELECT finished_at FROM sends WHERE id=%lld", send_id);
    assert_int_equal(test_db_int(db, sql), T0 + 301);
    db_close(db);
}

/*
 * Workers report one message at a time: a send whose first result arrives
 * while another of its envelopes is still being sent stays active, so that
 * envelope, deferred afterwards, is claimed again when due (a send marked
 * done is never claimed from).
 */
static void send_open_while_an_envelope_is_sending(void **state)
{
    struct db *db = fresh("outbox-open-while-sending");
    struct outbox_envelope *v;
    struct outbox_result r;
    size_t n;
    long long send_id, later;
    char sql[200], text[32];
    (void)state;

    send_id = share_with(db, 2);
    assert_int_equal(outbox_claim(db, T0, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 2);
    later = v[1].id;
    r = (struct outbox_result){v[0].id, OUTBOX_SENT, 250, "2.0.0 Ok", 0};
    assert_int_equal(outbox_record(db, &r, 1, T0 + 1), MERR_OK);
    snprintf(sql, sizeof sql, "SELECT status FROM sends WHERE id=%lld", send_id);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "active");
    r = (struct outbox_result){later, OUTBOX_DEFERRED, 451, "4.3.0 later", T0 + 300};
    assert_int_equal(outbox_record(db, &r, 1, T0 + 2), MERR_OK);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "active");
    outbox_envelopes_free(v, n);
    assert_int_equal(outbox_claim(db, T0 + 300, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, later);
    outbox_envelopes_free(v, n);
    db_close(db);
}

/* more results than one statement execution takes, no reply code, and repeated ids in one call */
static void record_many_in_order(void **state)
{
    struct db *db = fresh("outbox-record-many");
    struct outbox_envelope *v;
    struct outbox_result r[21];
    size_t n, k = 0;
    long long send_id;
    char sql[200], text[300];
    (void)state;

    send_id = share_with(db, 19);
    assert_int_equal(outbox_claim(db, T0, 60, 19, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 19);
    memset(r, 0, sizeof r);
    for (size_t i = 0; i < 17; i++)
        r[k++] = (struct outbox_result){v[i].id, OUTBOX_SENT, 250, "ok", 0};
    /* v[17]: deferred, then sent in the same call: sent wins (applied in order) */
    r[k++] = (struct outbox_result){v[17].id, OUTBOX_DEFERRED, 451, "later", T0 + 300};
    r[k++] = (struct outbox_result){v[17].id, OUTBOX_SENT, 250, "ok at last", 0};
    /* v[18]: deferred without a reply code, then a late "deferred" for the sent v[0] */
    r[k++] = (struct outbox_result){v[18].id, OUTBOX_DEFERRED, 0, "connection lost", T0 + 600};
    r[k++] = (struct outbox_result){v[0].id, OUTBOX_DEFERRED, 421, "late", T0 + 900};
    assert_int_equal(record(db, r, k, T0 + 2), MERR_OK);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM envelopes WHERE send_id=%lld AND state='sent' "
             "AND sent_at=%lld AND lease_until IS NULL",
             send_id, (long long)T0 + 2);
    assert_int_equal(test_db_int(db, sql), 18);
    snprintf(sql, sizeof sql, "SELECT last_text FROM envelopes WHERE id=%lld", v[17].id);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "ok at last");
    snprintf(sql, sizeof sql, "SELECT last_text FROM envelopes WHERE id=%lld", v[0].id);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "ok");
    snprintf(sql, sizeof sql,
             "SELECT state='deferred' AND last_code IS NULL AND next_attempt_at=%lld "
             "AND sent_at IS NULL FROM envelopes WHERE id=%lld",
             (long long)T0 + 600, v[18].id);
    assert_int_equal(test_db_int(db, sql), 1);
    snprintf(sql, sizeof sql, "SELECT status FROM sends WHERE id=%lld", send_id);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "active");
    outbox_envelopes_free(v, n);
    /* the last one sent: the send is done */
    assert_int_equal(outbox_claim(db, T0 + 600, 60, 19, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 1);
    r[0] = (struct outbox_result){v[0].id, OUTBOX_SENT, 250, "ok", 0};
    assert_int_equal(record(db, r, 1, T0 + 601), MERR_OK);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "done");
    outbox_envelopes_free(v, n);
    db_close(db);
}

static void backoff_doubles_caps_and_gives_up(void **state)
{
    time_t next;
    const int base = 300, max = 6 * 3600, age = 3 * 86400;
    (void)state;
    assert_int_equal(outbox_backoff(T0, T0, 1, base, max, age, &next), OUTBOX_DEFERRED);
    assert_int_equal(next, T0 + 300);
    assert_int_equal(outbox_backoff(T0, T0, 2, base, max, age, &next), OUTBOX_DEFERRED);
    assert_int_equal(next, T0 + 600);
    assert_int_equal(outbox_backoff(T0, T0, 4, base, max, age, &next), OUTBOX_DEFERRED);
    assert_int_equal(next, T0 + 2400);
    assert_int_equal(outbox_backoff(T0, T0, 9, base, max, age, &next), OUTBOX_DEFERRED);
    assert_int_equal(next, T0 + max);
    assert_int_equal(outbox_backoff(T0, T0, 1000, base, max, age, &next), OUTBOX_DEFERRED);
    assert_int_equal(next, T0 + max);
    /* the last try is at max_age, not after it */
    assert_int_equal(outbox_backoff(T0 + age - 100, T0, 20, base, max, age, &next),
                     OUTBOX_DEFERRED);
    assert_int_equal(next, T0 + age);
    assert_int_equal(outbox_backoff(T0 + age, T0, 21, base, max, age, &next), OUTBOX_FAILED);
    assert_int_equal(outbox_backoff(T0 + age + 5000, T0, 2, base, max, age, &next), OUTBOX_FAILED);
}

static void verp_round_trip_and_forgery(void **state)
{
    const char *secret = "0123456789abcdef-secret";
    char addr[128], bad[128];
    long long id;
    (void)state;

    outbox_verp(secret, 4242, "bounce.example.com", addr);
    assert_int_equal(strncmp(addr, "bounces+4242.", 13), 0);
    assert_non_null(strstr(addr, "@bounce.example.com"));
    for (const char *p = addr; *p; p++)
        assert_false(*p >= 'A' && *p <= 'Z');
    assert_int_equal(outbox_verp_parse(secret, addr, &id), MERR_OK);
    assert_int_equal(id, 4242);

    /* relays may upper-case a local part */
    snprintf(bad, sizeof bad, "%s", addr);
    for (char *p = bad; *p != '@'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(outbox_verp_parse(secret, bad, &id), MERR_OK);
    assert_int_equal(id, 4242);

    /* one MAC character changed */
    snprintf(bad, sizeof bad, "%s", addr);
    char *mac = strchr(bad, '.') + 1;
    mac[3] = mac[3] == '0' ? '1' : '0';
    assert_int_equal(outbox_verp_parse(secret, bad, &id), MERR_INVAL);
    assert_int_equal(id, 0);
    /* another id with the same MAC */
    snprintf(bad, sizeof bad, "bounces+4243%s", strchr(addr, '.'));
    assert_int_equal(outbox_verp_parse(secret, bad, &id), MERR_INVAL);
    /* another secret */
    assert_int_equal(outbox_verp_parse("another-secret-0000", addr, &id), MERR_INVAL);
    /* malformed */
    const char *junk[] = {"",
                          "bounces+",
                          "bounces+12",
                          "bounces+12.abc@x",
                          "x+1.00@y",
                          "bounces+.0123456789abcdef0123@x",
                          "bounces+-1.0123@x"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
        assert_int_equal(outbox_verp_parse(secret, junk[i], &id), MERR_INVAL);
    /* truncated domain */
    snprintf(bad, sizeof bad, "%s", addr);
    strchr(bad, '@')[1] = '\0';
    assert_int_equal(outbox_verp_parse(secret, bad, &id), MERR_INVAL);

    char tok[64];
    outbox_verp_token(secret, NULL, 4242, tok);
    assert_int_equal(strncmp(addr + 8, tok, strlen(tok)), 0);
}

static void message_id_fixed_per_envelope(void **state)
{
    const char *secret = "bí mật-0123456789";
    char a[128], b[128], c[128];
    (void)state;
    outbox_message_id(secret, NULL, "salt-one", NULL, 7, "hagiang.example", a);
    outbox_message_id(secret, NULL, "salt-one", NULL, 7, "hagiang.example", b);
    assert_string_equal(a, b);
    /* 32 hex digits and the domain: no envelope id to read (issue 11) */
    assert_int_equal(strlen(a), 32 + strlen("@hagiang.example"));
    assert_string_equal(a + 32, "@hagiang.example");
    for (int i = 0; i < 32; i++)
        assert_non_null(strchr("0123456789abcdef", a[i]));
    assert_int_not_equal(strncmp(a, "7.", 2), 0);
    assert_int_not_equal(strncmp(a, "0000000000000007", 16), 0); /* not in clear either */
    outbox_message_id(secret, NULL, "salt-two", NULL, 7, "hagiang.example", c);
    assert_string_not_equal(a, c);
    outbox_message_id(secret, NULL, "salt-one", NULL, 8, "hagiang.example", c);
    assert_string_not_equal(a, c);
    outbox_message_id("another secret", NULL, "salt-one", NULL, 7, "hagiang.example", c);
    assert_string_not_equal(a, c);
}

/* the envelope id comes back under the secret only; malformed ids give 0 */
static void message_id_envelope_back(void **state)
{
    const char *secret = "bí mật-0123456789";
    char a[128], b[130];
    (void)state;
    for (long long e = 1; e < 1LL << 40; e = e * 7 + 3) {
        outbox_message_id(secret, NULL, "salt-one", NULL, e, "hagiang.example", a);
        assert_int_equal(outbox_message_id_envelope(secret, a), e);
        snprintf(b, sizeof b, "<%s>", a);
        assert_int_equal(outbox_message_id_envelope(secret, b), e);
        assert_int_not_equal(outbox_message_id_envelope("another secret", a), e);
    }
    assert_int_equal(outbox_message_id_envelope(secret, NULL), 0);
    assert_int_equal(outbox_message_id_envelope(secret, ""), 0);
    assert_int_equal(outbox_message_id_envelope(secret, "7.0123456789abcdef0123@x"), 0);
    assert_int_equal(outbox_message_id_envelope(secret, "0123456789abcdef0123456789abcdeg@x"), 0);
    assert_int_equal(outbox_message_id_envelope(secret, "0123456789abcdef0123456789abcdef"), 0);
}

/* a prepared key gives the same identifiers as the one-shot MAC */
static void prepared_keys_same_ids(void **state)
{
    const char *secret = "bí mật-0123456789";
    struct crypto_hmac *ks = NULL, *kv = NULL;
    char a[128], b[128], t1[64], t2[64];
    long long id = 0;
    (void)state;
    assert_int_equal(crypto_hmac_new("salt-one", 8, &ks), MERR_OK);
    assert_int_equal(crypto_hmac_new(secret, strlen(secret), &kv), MERR_OK);
    for (long long e = 1; e < 300; e += 37) {
        outbox_message_id(secret, NULL, "salt-one", NULL, e, "hagiang.example", a);
        outbox_message_id(secret, kv, "salt-one", ks, e, "hagiang.example", b);
        assert_string_equal(a, b);
        outbox_verp_token(secret, NULL, e, t1);
        outbox_verp_token(secret, kv, e, t2);
        assert_string_equal(t1, t2);
        outbox_verp(secret, e, "bounce.hagiang.example", a);
        outbox_verp_of_token(t2, "bounce.hagiang.example", b);
        assert_string_equal(a, b);
        assert_int_equal(outbox_verp_parse(secret, b, &id), MERR_OK);
        assert_int_equal(id, e);
    }
    crypto_hmac_free(ks);
    crypto_hmac_free(kv);
}

/* list 1 with subscribers: 1..4 confirmed, 5 unconfirmed, 6 unsubscribed, 3 suppressed */
static void seed_list(struct db *db)
{
    exec(db, "INSERT INTO lists(id, slug, name, created_at, updated_at) "
             "VALUES (1, 'tin-tuc', 'Tin tức', 0, 0), (2, 'other', 'Other', 0, 0)");
    for (int i = 1; i <= 6; i++) {
        char sql[400];
        snprintf(sql, sizeof sql,
                 "INSERT INTO subscribers(id, email, email_ascii, email_key, name, created_at, "
                 "updated_at) VALUES (%d, 'U%d@Example.com', 'U%d@example.com', "
                 "'u%d@example.com', 'Người %d', 0, 0)",
                 i, i, i, i, i);
        exec(db, sql);
        snprintf(sql, sizeof sql,
                 "INSERT INTO subscriptions(list_id, subscriber_id, status, created_at, "
                 "updated_at) VALUES (1, %d, '%s', 0, 0), (2, %d, 'confirmed', 0, 0)",
                 i,
                 i <= 4   ? "confirmed"
                 : i == 5 ? "unconfirmed"
                          : "unsubscribed",
                 i);
        exec(db, sql);
    }
    exec(db, "INSERT INTO suppressions(email_hash, email_key, reason, created_at) "
             "VALUES (sha256_hex('u3@example.com'), 'u3@example.com', 'hard_bounce', 0)");
}

static void enqueue_list_is_idempotent(void **state)
{
    struct db *db = fresh("outbox-enqueue");
    long long send_id, added, env;
    char text[300];
    (void)state;
    seed_list(db);
    assert_int_equal(outbox_send_create(db, OUTBOX_DIGEST, 1, "{}", &send_id), MERR_OK);
    assert_int_equal(outbox_enqueue_list(db, send_id, 1, &added), MERR_OK);
    assert_int_equal(added, 3); /* 1, 2, 4 */
    assert_int_equal(outbox_enqueue_list(db, send_id, 1, &added), MERR_OK);
    assert_int_equal(added, 0);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes"), 3);
    assert_int_equal(
        test_db_int(db, "SELECT count(*) FROM envelopes WHERE subscriber_id IN (3,5,6)"), 0);
    test_db_text(db, "SELECT recipient || '|' || name FROM envelopes WHERE subscriber_id = 2", text,
                 sizeof text);
    assert_string_equal(text, "U2@example.com|Người 2");
    /* the same subscriber twice in one send, one by one: refused */
    assert_int_equal(outbox_envelope_add(db, send_id, 1, "U1@example.com", "", &env), MERR_EXISTS);
    db_close(db);
}

static void enqueue_list_large_is_fast(void **state)
{
    struct db *db = fresh("outbox-enqueue-large");
    long long send_id, added;
    const int N = 50000;
    (void)state;
    exec(db, "INSERT INTO lists(id, slug, name, created_at, updated_at) "
             "VALUES (1, 'big', 'Big', 0, 0)");
    exec(db, "BEGIN");
    {
        char sql[300];
        snprintf(sql, sizeof sql,
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d) "
                 "INSERT INTO subscribers(id, email, email_ascii, email_key, created_at, "
                 "updated_at) SELECT i, 'u'||i||'@example.com', 'u'||i||'@example.com', "
                 "'u'||i||'@example.com', 0, 0 FROM n",
                 N);
        exec(db, sql);
    }
    exec(db, "INSERT INTO subscriptions(list_id, subscriber_id, status, created_at, updated_at) "
             "SELECT 1, id, 'confirmed', 0, 0 FROM subscribers");
    exec(db, "INSERT INTO suppressions(email_hash, email_key, reason, created_at) "
             "VALUES (sha256_hex('u77@example.com'), 'u77@example.com', 'manual', 0)");
    exec(db, "COMMIT");
    assert_int_equal(outbox_send_create(db, OUTBOX_DIGEST, 1, "{}", &send_id), MERR_OK);
    assert_int_equal(outbox_enqueue_list(db, send_id, 1, &added), MERR_OK);
    assert_int_equal(added, N - 1);
    assert_int_equal(outbox_enqueue_list(db, send_id, 1, &added), MERR_OK);
    assert_int_equal(added, 0);
    /* a claim stays cheap with many queued */
    struct outbox_envelope *v;
    size_t n;
    assert_int_equal(outbox_claim(db, T0, 60, 100, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 100);
    outbox_envelopes_free(v, n);
    db_close(db);
}

static void claim_cancels_who_left(void **state)
{
    struct db *db = fresh("outbox-recheck");
    struct outbox_envelope *v;
    size_t n;
    long long send_id, added, cancelled;
    char text[300];
    (void)state;
    seed_list(db);
    assert_int_equal(outbox_send_create(db, OUTBOX_DIGEST, 1, "{}", &send_id), MERR_OK);
    assert_int_equal(outbox_enqueue_list(db, send_id, 1, &added), MERR_OK);
    assert_int_equal(added, 3);
    /* after the enqueue: 1 unsubscribes, 4 is suppressed */
    exec(db, "UPDATE subscriptions SET status='unsubscribed' WHERE list_id=1 AND "
             "subscriber_id=1");
    exec(db, "INSERT INTO suppressions(email_hash, email_key, reason, created_at) "
             "VALUES (sha256_hex('u4@example.com'), 'u4@example.com', 'complaint', 0)");
    assert_int_equal(outbox_claim(db, T0, 60, 10, &subs_consent_gate, &v, &n, &cancelled), MERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cancelled, 2);
    assert_int_equal(v[0].subscriber_id, 2);
    outbox_envelopes_free(v, n);
    test_db_text(db, "SELECT last_text FROM envelopes WHERE subscriber_id=1", text, sizeof text);
    assert_string_equal(text, "no longer subscribed to the list");
    test_db_text(db, "SELECT last_text FROM envelopes WHERE subscriber_id=4", text, sizeof text);
    assert_string_equal(text, "address is on the suppression list");
    assert_int_equal(
        test_db_int(db, "SELECT count(*) FROM envelopes WHERE state='cancelled' AND attempts=0"),
        2);
    db_close(db);
}

static void cancel_subscriber_only_unsent(void **state)
{
    struct db *db = fresh("outbox-cancel-sub");
    long long s1, s2, added, cancelled;
    struct outbox_envelope *v;
    size_t n;
    (void)state;
    seed_list(db);
    assert_int_equal(outbox_send_create(db, OUTBOX_DIGEST, 1, "{}", &s1), MERR_OK);
    assert_int_equal(outbox_enqueue_list(db, s1, 1, &added), MERR_OK);
    assert_int_equal(outbox_send_create(db, OUTBOX_DIGEST, 2, "{}", &s2), MERR_OK);
    assert_int_equal(outbox_enqueue_list(db, s2, 2, &added), MERR_OK);
    assert_int_equal(added, 5);
    /* subscriber 2 on list 1 only */
    assert_int_equal(outbox_cancel_subscriber(db, 2, 1, &cancelled), MERR_OK);
    assert_int_equal(cancelled, 1);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE subscriber_id=2 AND "
                                     "state='queued'"),
                     1);
    /* subscriber 1 everywhere, but a sent envelope stays sent */
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE envelopes SET state='sent' WHERE subscriber_id=1 AND send_id=%lld", s2);
    exec(db, sql);
    assert_int_equal(outbox_cancel_subscriber(db, 1, 0, &cancelled), MERR_OK);
    assert_int_equal(cancelled, 1);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE subscriber_id=1 AND "
                                     "state='sent'"),
                     1);
    assert_int_equal(outbox_claim(db, T0, 60, 100, NULL, &v, &n, NULL), MERR_OK);
    for (size_t i = 0; i < n; i++)
        assert_true(v[i].subscriber_id != 1);
    outbox_envelopes_free(v, n);
    db_close(db);
}

static void cancel_retry_and_list(void **state)
{
    struct db *db = fresh("outbox-admin");
    struct outbox_envelope *v;
    struct outbox_result r[2];
    struct outbox_row *rows;
    size_t n, nrows;
    long long s1, s2, cancelled, retried;
    char text[300];
    (void)state;

    s1 = share_with(db, 3);
    s2 = share_with(db, 2);
    assert_int_equal(outbox_send_cancel(db, s1, T0, &cancelled), MERR_OK);
    assert_int_equal(cancelled, 3);
    assert_int_equal(outbox_send_cancel(db, s1, T0, &cancelled), MERR_INVAL);
    assert_int_equal(outbox_send_cancel(db, 999, T0, &cancelled), MERR_NOTFOUND);

    assert_int_equal(outbox_claim(db, T0, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].send_id, s2);
    memset(r, 0, sizeof r);
    r[0] = (struct outbox_result){v[0].id, OUTBOX_DEFERRED, 451, "later", T0 + 3600};
    r[1] = (struct outbox_result){v[1].id, OUTBOX_FAILED, 554, "no", 0};
    assert_int_equal(record(db, r, 2, T0), MERR_OK);
    long long deferred_id = v[0].id, failed_id = v[1].id;
    outbox_envelopes_free(v, n);

    assert_int_equal(outbox_list(db, OUTBOX_DEFERRED, 0, 10, &rows, &nrows), MERR_OK);
    assert_int_equal(nrows, 1);
    assert_int_equal(rows[0].id, deferred_id);
    assert_int_equal(rows[0].last_code, 451);
    assert_string_equal(rows[0].last_text, "later");
    assert_int_equal(rows[0].next_attempt_at, T0 + 3600);
    free(rows);
    assert_int_equal(outbox_list(db, -1, s1, 0, &rows, &nrows), MERR_OK);
    assert_int_equal(nrows, 3);
    assert_int_equal(rows[0].state, OUTBOX_CANCELLED);
    free(rows);

    assert_int_equal(outbox_retry_all_deferred(db, T0 + 10, &retried), MERR_OK);
    assert_int_equal(retried, 1);
    assert_int_equal(outbox_retry(db, failed_id, T0 + 10), MERR_OK);
    assert_int_equal(outbox_retry(db, deferred_id, T0 + 10), MERR_OK);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT state FROM envelopes WHERE id=%lld", failed_id);
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "queued");
    assert_int_equal(outbox_claim(db, T0 + 10, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 2);
    outbox_envelopes_free(v, n);
    /* sending now: not retryable */
    assert_int_equal(outbox_retry(db, failed_id, T0 + 10), MERR_INVAL);
    assert_int_equal(outbox_retry(db, 12345, T0 + 10), MERR_NOTFOUND);
    db_close(db);
}

static void send_get_loads_plan(void **state)
{
    struct db *db = fresh("outbox-send-get");
    struct outbox_send s;
    long long id;
    (void)state;
    assert_int_equal(
        outbox_send_create(db, OUTBOX_SHARE, 0, "{\"kind\":\"share\",\"article\":\"a\"}", &id),
        MERR_OK);
    assert_int_equal(outbox_send_get(db, id, &s), MERR_OK);
    assert_string_equal(outbox_kind_name(s.kind), "share");
    assert_string_equal(s.status, "active");
    assert_string_equal(s.plan_json, "{\"kind\":\"share\",\"article\":\"a\"}");
    assert_int_equal(strlen(s.salt), 32);
    assert_int_equal(s.list_id, 0);
    assert_int_equal(s.created_at, T0);
    outbox_send_clear(&s);
    assert_int_equal(outbox_send_get(db, id + 1, &s), MERR_NOTFOUND);
    assert_int_equal(outbox_send_create(db, (enum outbox_kind)99, 0, "{}", &id), MERR_INVAL);
    db_close(db);
}

/* ---- the maintained counters (migration *_counters.sql) and the admin's queue page ---- */

static int send_counts_agree(struct db *db)
{
    return test_db_int(db, "SELECT count(*) FROM sends s LEFT JOIN send_counts c ON "
                           "c.send_id = s.id WHERE coalesce(c.queued, -1) <> (SELECT count(*) FROM "
                           "envelopes e WHERE e.send_id = s.id AND e.state = 'queued') OR "
                           "coalesce(c.sending, -1) <> (SELECT count(*) FROM envelopes e WHERE "
                           "e.send_id = s.id AND e.state = 'sending') OR coalesce(c.sent, -1) <> "
                           "(SELECT count(*) FROM envelopes e WHERE e.send_id = s.id AND e.state = "
                           "'sent') OR coalesce(c.deferred, -1) <> (SELECT count(*) FROM envelopes "
                           "e WHERE e.send_id = s.id AND e.state = 'deferred') OR "
                           "coalesce(c.failed, -1) <> (SELECT count(*) FROM envelopes e WHERE "
                           "e.send_id = s.id AND e.state = 'failed') OR coalesce(c.cancelled, -1) "
                           "<> (SELECT count(*) FROM envelopes e WHERE e.send_id = s.id AND "
                           "e.state = 'cancelled')") == 0;
}

static void counters_follow_every_state_change(void **state)
{
    struct db *db = fresh("outbox-counters");
    struct outbox_envelope *v = NULL;
    struct outbox_result r[3];
    struct outbox_counts c;
    struct outbox_day days[2];
    struct outbox_queue_row *q = NULL;
    size_t n = 0;
    long long s1 = share_with(db, 4), s2 = share_with(db, 2), cancelled = 0;
    time_t now = 1800000000;
    (void)state;

    assert_true(send_counts_agree(db));
    assert_int_equal(outbox_counts(db, s1, &c), MERR_OK);
    assert_int_equal(c.by_state[OUTBOX_QUEUED], 4);
    assert_int_equal(outbox_claim(db, now, 60, 10, NULL, &v, &n, NULL), MERR_OK);
    assert_int_equal(n, 6);
    assert_true(send_counts_agree(db));
    memset(r, 0, sizeof r);
    r[0].envelope_id = v[0].id;
    r[0].state = OUTBOX_SENT;
    r[1].envelope_id = v[1].id;
    r[1].state = OUTBOX_DEFERRED;
    r[1].code = 451;
    snprintf(r[1].text, sizeof r[1].text, "451 4.3.0 try later");
    r[1].next_attempt_at = now + 300;
    r[2].envelope_id = v[2].id;
    r[2].state = OUTBOX_FAILED;
    r[2].code = 550;
    snprintf(r[2].text, sizeof r[2].text, "550 5.1.1 no such user");
    assert_int_equal(outbox_record(db, r, 3, now), MERR_OK);
    assert_true(send_counts_agree(db));
    assert_int_equal(outbox_reclaim_expired(db, now + 61, &cancelled), MERR_OK);
    assert_true(send_counts_agree(db));
    assert_int_equal(outbox_retry(db, v[2].id, now + 62), MERR_OK);
    assert_int_equal(outbox_send_cancel(db, s2, now + 63, &cancelled), MERR_OK);
    assert_true(send_counts_agree(db));
    /* the whole outbox is the sum of the sends' counters */
    assert_int_equal(outbox_counts(db, 0, &c), MERR_OK);
    assert_int_equal(c.by_state[OUTBOX_SENT] + c.by_state[OUTBOX_DEFERRED] +
                         c.by_state[OUTBOX_QUEUED] + c.by_state[OUTBOX_CANCELLED],
                     6);
    /* the day's counters, where outcomes were applied */
    assert_int_equal(outbox_daily_range(db, now, 2, days), MERR_OK);
    assert_int_equal(days[1].n[OUTBOX_DAY_SENT], 1);
    assert_int_equal(days[1].n[OUTBOX_DAY_DEFERRED], 1);
    assert_int_equal(days[1].n[OUTBOX_DAY_FAILED], 1);
    assert_int_equal(days[0].n[OUTBOX_DAY_SENT], 0);
    assert_int_equal(outbox_daily_add(db, now, OUTBOX_DAY_COMPLAINTS, 2), MERR_OK);
    assert_int_equal(outbox_daily_range(db, now, 1, days), MERR_OK);
    assert_int_equal(days[0].n[OUTBOX_DAY_COMPLAINTS], 2);
    /* the queue page and cancelling one envelope */
    assert_int_equal(outbox_queue_page(db, OUTBOX_DEFERRED, 0, 0, 10, &q, &n), MERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(q[0].row.last_code, 451);
    assert_string_equal(q[0].kind, "share");
    long long id = q[0].row.id;
    free(q);
    assert_int_equal(outbox_envelope_cancel(db, id, now + 70), MERR_OK);
    assert_int_equal(outbox_envelope_cancel(db, id, now + 71), MERR_INVAL);
    assert_int_equal(outbox_queue_page(db, OUTBOX_DEFERRED, 0, 0, 10, &q, &n), MERR_OK);
    assert_int_equal(n, 0);
    free(q);
    assert_true(send_counts_agree(db));
    outbox_envelopes_free(v, 6);
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(state_names_round_trip),
        cmocka_unit_test(claim_lease_and_reclaim),
        cmocka_unit_test(claim_skips_paused_and_future),
        cmocka_unit_test(renewed_leases_are_not_reclaimed),
        cmocka_unit_test(record_results_and_finish_send),
        cmocka_unit_test(send_open_while_an_envelope_is_sending),
        cmocka_unit_test(backoff_doubles_caps_and_gives_up),
        cmocka_unit_test(verp_round_trip_and_forgery),
        cmocka_unit_test(message_id_fixed_per_envelope),
        cmocka_unit_test(message_id_envelope_back),
        cmocka_unit_test(prepared_keys_same_ids),
        cmocka_unit_test(record_many_in_order),
        cmocka_unit_test(enqueue_list_is_idempotent),
        cmocka_unit_test(enqueue_list_large_is_fast),
        cmocka_unit_test(claim_cancels_who_left),
        cmocka_unit_test(cancel_subscriber_only_unsent),
        cmocka_unit_test(cancel_retry_and_list),
        cmocka_unit_test(send_get_loads_plan),
        cmocka_unit_test(counters_follow_every_state_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
