/*
 * outbox.h: sends and envelopes in SQLite, the unit of delivery and truth.
 *
 * A send (share, digest, confirm) keeps its plan's inputs as JSON and a
 * random salt; each recipient gets one envelope:
 *
 *   queued -> sending -> sent | deferred -> ... -> failed ; cancelled
 *
 * Handlers only create sends and envelopes (inside the caller's
 * transaction) and return; delivery workers claim due envelopes with a
 * lease, and one writer records results in batches. UNIQUE(send_id,
 * subscriber_id) makes a digest impossible to enqueue twice for one person.
 * The Message-ID of an envelope is derived from the send's salt and the
 * envelope id, so it is fixed at creation and a retry is the same message.
 */
#ifndef MAILER_OUTBOX_OUTBOX_H
#define MAILER_OUTBOX_OUTBOX_H

#include <stddef.h>
#include <time.h>

#include "db.h"
#include "err.h"

enum outbox_state {
    OUTBOX_QUEUED,
    OUTBOX_SENDING,
    OUTBOX_SENT,
    OUTBOX_DEFERRED,
    OUTBOX_FAILED,
    OUTBOX_CANCELLED,
};

const char *outbox_state_name(enum outbox_state s);
int outbox_state_parse(const char *name); /* -1 if unknown */

/*
 * The kinds of send: the one enum every module decides by. Its name is
 * what sends.kind and a plan's "kind" hold.
 */
enum outbox_kind {
    OUTBOX_SHARE,    /* a reader's "Gửi Email": one article to the addresses they typed */
    OUTBOX_DIGEST,   /* a list's weekly digest: list mail to its confirmed subscribers */
    OUTBOX_CONFIRM,  /* a double opt-in confirmation to one unconfirmed subscriber */
    OUTBOX_BREAKING, /* breaking news ("tin nóng"): one article, list mail like a digest */
    OUTBOX_TEST,     /* a digest or breaking news sent to one editor's address to look at: its
                      * plan is of the kind it tests; list headers without a subscriber */
};
#define OUTBOX_KINDS 5

/* "share", "digest", "confirm", "breaking", "test"; "?" */
const char *outbox_kind_name(enum outbox_kind k);
int outbox_kind_parse(const char *name); /* -1 if unknown */

/*
 * Envelopes of sends of `kind` created at or after `since`, to `recipient`
 * (ASCII, compared case-insensitively) or to anyone when it is NULL, into
 * `*n`. For caps on mail a stranger can trigger (confirmations).
 */
enum merr outbox_count_since(struct db *db, enum outbox_kind kind, const char *recipient,
                             time_t since, long long *n);

/*
 * Creates a send row. Call inside a transaction together with its
 * envelopes. `list_id` 0 = none; `plan_json` as compose_plan_new expects.
 * MERR_INVAL for a kind outside the enum.
 */
enum merr outbox_send_create(struct db *db, enum outbox_kind kind, long long list_id,
                             const char *plan_json, long long *send_id);

/*
 * Adds one envelope, due now. `subscriber_id` 0 = not a subscriber (share).
 * `recipient` must be a validated ASCII address. MERR_EXISTS if that
 * subscriber already has an envelope in this send.
 */
enum merr outbox_envelope_add(struct db *db, long long send_id, long long subscriber_id,
                              const char *recipient, const char *name, long long *envelope_id);

/*
 * Adds one envelope per member of the list's audience (subscribers' view
 * list_audience: confirmed, not suppressed) in one statement (INSERT ...
 * SELECT ... ON CONFLICT DO NOTHING): safe to run twice. `*added` receives
 * the count.
 */
enum merr outbox_enqueue_list(struct db *db, long long send_id, long long list_id,
                              long long *added);

/* An envelope as a worker sees it. */
struct outbox_envelope {
    long long id;
    long long send_id;
    long long subscriber_id; /* 0 if none */
    char *recipient;
    char *name;
    int attempts;
    time_t created_at;
    enum outbox_kind kind; /* its send's (outbox_claim) */
    long long list_id;     /* its send's, 0: none (outbox_claim) */
};

/*
 * What the outbox asks right before it hands an envelope over: may it
 * still be sent? The answer is not the outbox's (subscribers owns consent:
 * subs_consent_gate). check(arg, db, e, reason, size): MERR_OK with reason
 * "" to send, MERR_OK with a reason to cancel it, an error to fail the
 * claim (nothing claimed).
 */
struct outbox_gate {
    enum merr (*check)(void *arg, struct db *db, const struct outbox_envelope *e, char *reason,
                       size_t size);
    void *arg;
};

/*
 * Claims up to `max` due envelopes (queued, or deferred with
 * next_attempt_at <= now, of sends that are active) by setting them to
 * sending with lease_until = now + lease, in one transaction. Each is put
 * to `gate` (NULL: none) first: one it refuses is cancelled with the
 * gate's reason (not returned, its attempt not counted) and counted in
 * `*cancelled` (may be NULL). `*out` is an array of `*n`; free with
 * outbox_envelopes_free. MERR_TEMPFAIL (busy), MERR_DB, the gate's error.
 */
enum merr outbox_claim(struct db *db, time_t now, int lease_seconds, size_t max,
                       const struct outbox_gate *gate, struct outbox_envelope **out, size_t *n,
                       long long *cancelled);
void outbox_envelopes_free(struct outbox_envelope *v, size_t n);

/*
 * The envelope of send `send_id` to the address whose lower-cased form is
 * `email_key` (its first, if several). Its strings are malloc'd (free
 * recipient and name). MERR_NOTFOUND, MERR_NOMEM, MERR_DB.
 */
enum merr outbox_envelope_of(struct db *db, long long send_id, const char *email_key,
                             struct outbox_envelope *out);

/* Returns envelopes whose lease expired (a crashed worker's) to queued. */
enum merr outbox_reclaim_expired(struct db *db, time_t now, long long *reclaimed);

/*
 * Renews the leases of the `n` envelopes in `ids` that are still being
 * sent (state sending) until `until`, in one transaction: a process does
 * this for the envelopes it holds, so no lease of its runs out while a
 * slow batch is in flight and no one returns them to the queue. `*renewed`
 * (may be NULL) = how many. MERR_TEMPFAIL (busy), MERR_DB.
 */
enum merr outbox_lease_renew(struct db *db, const long long *ids, size_t n, time_t until,
                             long long *renewed);

/* One delivery result, written by outbox_record. */
struct outbox_result {
    long long envelope_id;
    enum outbox_state state; /* SENT, DEFERRED or FAILED */
    int code;                /* SMTP reply code, 0 if none */
    char text[256];          /* SMTP reply or error text */
    time_t next_attempt_at;  /* for DEFERRED */
};

/*
 * Writes results inside the caller's transaction (the writer's group
 * commit: outcome_apply), marking finished sends done. A sent envelope is
 * never changed again. MERR_NOMEM, MERR_DB.
 */
enum merr outbox_record(struct db *db, const struct outbox_result *r, size_t n, time_t now);

/*
 * outbox_record for the results whose envelope is still being sent (state
 * sending), inside the caller's transaction; the others are left alone (a
 * dead run's sent journal, delivery_journal.c: an envelope recorded since,
 * or reclaimed and handled by another run). `*recorded` = how many were.
 * MERR_NOMEM, MERR_DB.
 */
enum merr outbox_record_sending(struct db *db, const struct outbox_result *r, size_t n, time_t now,
                                long long *recorded);

/*
 * The Message-ID of an envelope, without angle brackets: 32 lowercase hex
 * digits "@" domain, a keyed permutation under `secret` ([mail] secret) of
 * the envelope id and a tag under its send's `salt`, so it reveals no
 * internal id and is the same on every retry (see outbox.c). out holds 128.
 * `secret_key` and `salt_key` are NULL, or the same keys prepared once
 * (crypto_hmac_new, one per thread) for the delivery's per-message hot
 * path: the bytes are the same either way.
 * outbox_message_id_envelope takes one (angle brackets allowed) back to its
 * envelope id, 0 if it is not of that form; the id is NOT yet proven: the
 * caller compares outbox_message_id of that envelope's salt with it.
 */
struct crypto_hmac;
void outbox_message_id(const char *secret, struct crypto_hmac *secret_key, const char *salt,
                       struct crypto_hmac *salt_key, long long envelope_id, const char *domain,
                       char out[128]);
long long outbox_message_id_envelope(const char *secret, const char *message_id);

/* The local part's prefix of our VERP return paths (outbox_verp). */
#define OUTBOX_VERP_PREFIX "bounces+"

/*
 * VERP return path "bounces+ID.MAC@domain" where MAC authenticates ID with
 * HMAC-SHA256 under `secret`; out holds 128. outbox_verp_parse returns the
 * envelope id of a genuine address, MERR_INVAL otherwise.
 */
void outbox_verp(const char *secret, long long envelope_id, const char *domain, char out[128]);
enum merr outbox_verp_parse(const char *secret, const char *address, long long *envelope_id);

/* Cancels the not-yet-sent envelopes of a subscriber (all lists if list_id 0). */
enum merr outbox_cancel_subscriber(struct db *db, long long subscriber_id, long long list_id,
                                   long long *cancelled);

/* Counts per state, optionally for one send (0 = all). */
struct outbox_counts {
    long long by_state[OUTBOX_CANCELLED + 1];
};
enum merr outbox_counts(struct db *db, long long send_id, struct outbox_counts *out);

/* ---- beyond the contract: what delivery and `mailer queue` need ---- */

/* A send as delivery needs it. Strings are owned; free with outbox_send_clear. */
struct outbox_send {
    long long id;
    enum outbox_kind kind;
    char status[16];
    long long list_id; /* 0 if none */
    char *plan_json;
    char *salt;
    time_t created_at;
};

/* Loads a send. MERR_NOTFOUND. */
enum merr outbox_send_get(struct db *db, long long send_id, struct outbox_send *out);
void outbox_send_clear(struct outbox_send *s);

/* Marks the send done (finished_at = now) if it is active and none of its
 * envelopes is queued, sending or deferred. */
enum merr outbox_send_finish_if_idle(struct db *db, long long send_id, time_t now);

/*
 * Cancels a send: status cancelled, its queued and deferred envelopes
 * cancelled (envelopes being sent finish and keep their outcome).
 * `*cancelled` (may be NULL) = envelopes cancelled. MERR_NOTFOUND; MERR_INVAL
 * if it is already done or cancelled.
 */
enum merr outbox_send_cancel(struct db *db, long long send_id, time_t now, long long *cancelled);

/*
 * Makes one deferred or failed envelope due now (a failed one goes back to
 * queued and its send to active). MERR_NOTFOUND; MERR_INVAL if the envelope
 * is in another state.
 */
enum merr outbox_retry(struct db *db, long long envelope_id, time_t now);

/* Makes every deferred envelope due now; `*n` = how many. */
enum merr outbox_retry_all_deferred(struct db *db, time_t now, long long *n);

/* One envelope as `mailer queue ls` shows it. */
struct outbox_row {
    long long id;
    long long send_id;
    enum outbox_state state;
    int attempts;
    int last_code; /* 0 if none */
    time_t next_attempt_at;
    time_t updated_at;
    char recipient[256];
    char last_text[256];
};

/*
 * Lists envelopes by id, optionally only one state (`state` < 0: all) and
 * one send (0: all), at most `limit` (0: 100). `*out` is malloc'd (free()),
 * `*n` rows.
 */
enum merr outbox_list(struct db *db, int state, long long send_id, size_t limit,
                      struct outbox_row **out, size_t *n);

/*
 * Result of one temporary failure at `now` after `attempts` attempts of an
 * envelope created at `created_at`: OUTBOX_DEFERRED with `*next` = now +
 * min(base * 2^(attempts-1), max), never past created_at + max_age (so the
 * last try is at max_age), or OUTBOX_FAILED once max_age has passed.
 */
enum outbox_state outbox_backoff(time_t now, time_t created_at, int attempts, int base_seconds,
                                 int max_seconds, int max_age_seconds, time_t *next);

/*
 * The VERP token "ID.MAC" (also the DSN ENVID, RFC 3461 §4.4) under
 * `secret`, or under `secret_key` (the secret prepared once, as for
 * outbox_message_id) when it is not NULL; out holds 64. The VERP address is
 * the token in "bounces+TOKEN@domain" (outbox_verp_of_token), so the token
 * is computed once per message.
 */
void outbox_verp_token(const char *secret, struct crypto_hmac *secret_key, long long envelope_id,
                       char out[64]);
void outbox_verp_of_token(const char *token, const char *domain, char out[128]);

/* ---- pausing a send (mailer/outbox/outbox_store_admin.c) ---- */

/*
 * Pauses an active send: outbox_claim skips its envelopes until it is
 * resumed; envelopes being sent finish. Pausing a paused send is MERR_OK.
 * MERR_NOTFOUND; MERR_INVAL if the send is done or cancelled.
 */
enum merr outbox_send_pause(struct db *db, long long send_id);

/*
 * Resumes a paused send: its queued and deferred envelopes become
 * claimable again (sent ones are never claimed again). A send with nothing
 * left to deliver is marked done at `now`. Resuming an active send is
 * MERR_OK. MERR_NOTFOUND; MERR_INVAL if it is done or cancelled.
 */
enum merr outbox_send_resume(struct db *db, long long send_id, time_t now);

/* ---- erasing a person and showing what is kept (mailer sub erase/show) ---- */

/*
 * For `mailer sub erase`, inside the caller's transaction: the envelopes of
 * one person, found by `subscriber_id` (0: none) OR by lower(recipient) =
 * `email_key` (a share to them has no subscriber id), are cancelled if not
 * yet sent (queued, deferred; sends left without work are marked done) and
 * all of them anonymised: recipient "erased", name "", a reply text quoting
 * the address replaced by "erased". `*n` = envelopes anonymised. MERR_DB.
 */
enum merr outbox_erase_recipient(struct db *db, long long subscriber_id, const char *email_key,
                                 long long *n);

/*
 * Inside the caller's transaction: cancels a send's queued and deferred
 * envelopes (`*cancelled` = how many), marks the send cancelled unless it
 * is done, and replaces its plan with `plan_json` (the owner's anonymised
 * plan: a share whose sender was erased). MERR_NOTFOUND, MERR_DB.
 */
enum merr outbox_send_withdraw(struct db *db, long long send_id, const char *plan_json,
                               long long *cancelled);

#define OUTBOX_PERSON_LAST 10

struct outbox_person_envelope {
    long long id;
    long long send_id;
    char kind[16]; /* share, digest, confirm */
    enum outbox_state state;
    int attempts;
    int last_code; /* 0 if none */
    time_t created_at;
    time_t updated_at;
    time_t sent_at; /* 0 if not sent */
};

/* What the outbox holds about one person, for `mailer sub show`. */
struct outbox_person {
    struct outbox_counts counts; /* their envelopes per state */
    long long total;
    size_t n;                                               /* entries in last[] */
    struct outbox_person_envelope last[OUTBOX_PERSON_LAST]; /* newest first */
};

/*
 * Fills `out` (allocates nothing) with the envelopes of the person found as
 * in outbox_erase_recipient. MERR_DB.
 */
enum merr outbox_person_summary(struct db *db, long long subscriber_id, const char *email_key,
                                struct outbox_person *out);

/* ---- listing sends (GET /api/sends) ---- */

#define OUTBOX_SEND_LIST_DEFAULT 100
#define OUTBOX_SEND_LIST_MAX     1000

/* Which sends outbox_send_list returns; zero/NULL fields do not filter. */
struct outbox_send_filter {
    long long id;       /* one send (0: any) */
    const char *kind;   /* an outbox_kind_name or NULL */
    const char *status; /* "active", "paused", "done", "cancelled" or NULL */
    long long list_id;  /* sends of one list (0: any) */
    long long before;   /* only ids below this (the next page; 0: from the newest) */
    size_t limit;       /* 0: OUTBOX_SEND_LIST_DEFAULT; at most OUTBOX_SEND_LIST_MAX */
};

/* One send as an admin sees it. */
struct outbox_send_row {
    long long id;
    char kind[16];
    char status[16];
    long long list_id; /* 0 if none (or the list was deleted) */
    time_t created_at;
    time_t finished_at;          /* 0 while active or paused */
    struct outbox_counts counts; /* its envelopes per state */
    long long total;             /* all its envelopes */
};

/*
 * The sends matching `f`, newest first (by id), with their envelope counts
 * per state, at most f->limit. `*out` is malloc'd (caller free()s; NULL
 * when `*n` is 0). MERR_INVAL for an unknown kind or status or a limit
 * above OUTBOX_SEND_LIST_MAX (message names it), MERR_DB.
 */
enum merr outbox_send_list(struct db *db, const struct outbox_send_filter *f,
                           struct outbox_send_row **out, size_t *n);

/* ---- bounces coming back (mailer/outbox/outbox_store_bounce.c) ---- */

/* An envelope as a bounce sees it. */
struct outbox_bounce_target {
    long long envelope_id;
    long long send_id;
    long long subscriber_id; /* 0: none (a share) */
    long long list_id;       /* of its send, 0: none */
    char kind[16];           /* share, digest, confirm */
    enum outbox_state state;
    char recipient[256];
    char salt[65]; /* of its send: its Message-ID derives from it */
    time_t created_at;
    time_t sent_at; /* 0 if not sent */
};

/* Loads envelope `envelope_id` for a bounce. MERR_NOTFOUND, MERR_DB. */
enum merr outbox_bounce_target(struct db *db, long long envelope_id,
                               struct outbox_bounce_target *out);

/*
 * The newest sent (or since failed) envelope to `recipient_key` (lower
 * case) created at or after `since`, of a send of `list_id` (0: any).
 * MERR_NOTFOUND if none.
 */
enum merr outbox_bounce_recent(struct db *db, const char *recipient_key, long long list_id,
                               time_t since, long long *envelope_id);

/* What an envelope was before a bounce was recorded on it. */
struct outbox_bounce_prev {
    enum outbox_state state;
    int has_code, last_code;
    int has_text;
    char last_text[256];
};

/*
 * Inside the caller's transaction: a `sent` envelope becomes `failed` with
 * the bounce's reply `code` (0: none) and `text`; `*changed` says whether it
 * was sent (another state is left alone). `*prev` gets what it was.
 */
enum merr outbox_bounce_record(struct db *db, long long envelope_id, int code, const char *text,
                               time_t now, struct outbox_bounce_prev *prev, int *changed);

/*
 * Undoes outbox_bounce_record: back to `prev` if the envelope is still
 * failed with `bounce_text`; `*restored`.
 */
enum merr outbox_bounce_restore(struct db *db, long long envelope_id,
                                const struct outbox_bounce_prev *prev, const char *bounce_text,
                                time_t now, int *restored);

/* ---- the admin's queue page (mailer/outbox/outbox_queue.c) ---- */

struct outbox_queue_row {
    struct outbox_row row;
    char kind[16]; /* of its send */
};

/*
 * Envelopes in `state`, newest (next_attempt_at, id) first, below the
 * keyset (before_at, before_id) (before_id 0: from the newest), at most
 * `limit` (0: 50). For a deferred envelope next_attempt_at is its next
 * try, for a failed one when it failed. `*out` is malloc'd (free()).
 */
enum merr outbox_queue_page(struct db *db, enum outbox_state state, time_t before_at,
                            long long before_id, size_t limit, struct outbox_queue_row **out,
                            size_t *n);

/*
 * Cancels one envelope that is queued, deferred or failed (an editor gives
 * up on it), marking its send done when nothing is left. MERR_INVAL for an
 * envelope in another state or none, MERR_DB.
 */
enum merr outbox_envelope_cancel(struct db *db, long long envelope_id, time_t now);

/* ---- the dashboard's counters per day (mailer/outbox/outbox_daily.c) ---- */

/*
 * What is counted per local day (the [site] timezone): messages sent,
 * temporary failures (each attempt), permanent failures, bounces and
 * complaints that came back later. Written where outcomes are applied, in
 * the same transaction: outbox_record counts sent, deferred and failed;
 * the code that records a bounce or a complaint counts those.
 */
enum outbox_daily_kind {
    OUTBOX_DAY_SENT,
    OUTBOX_DAY_DEFERRED,
    OUTBOX_DAY_FAILED,
    OUTBOX_DAY_BOUNCED,
    OUTBOX_DAY_COMPLAINTS,
    OUTBOX_DAILY_KINDS
};

/* "sent", "deferred", "failed", "bounced", "complaints". */
const char *outbox_daily_name(enum outbox_daily_kind k);

/* The local day of `t` as "YYYY-MM-DD". */
void outbox_day_key(time_t t, char out[11]);

/*
 * Adds `n[k]` to each counter k of the day of `now`, inside the caller's
 * transaction (nothing is written when all are 0). MERR_DB.
 */
enum merr outbox_daily_add_all(struct db *db, time_t now, const long long n[OUTBOX_DAILY_KINDS]);

/* Adds `n` to one counter of the day of `now`, inside the caller's transaction. */
enum merr outbox_daily_add(struct db *db, time_t now, enum outbox_daily_kind k, long long n);

struct outbox_day {
    char day[11]; /* YYYY-MM-DD */
    long long n[OUTBOX_DAILY_KINDS];
};

/*
 * The `days` local days ending with the day of `now`, oldest first, into
 * out[0..days) (days without anything counted are zeros). MERR_DB.
 */
enum merr outbox_daily_range(struct db *db, time_t now, int days, struct outbox_day *out);

#endif
