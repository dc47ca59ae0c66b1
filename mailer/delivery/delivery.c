/*
 * delivery.c: worker threads, the single result writer, rate limits.
 *
 * Threads: `connections` workers and one writer. Each worker owns a
 * database handle and a transport and loops: claim a batch of due envelopes
 * (outbox_claim_checked: a lease, and a last check that the person still
 * wants the mail), look up each send's plan, wait for the rate limits, and
 * hand the batch to the transport (one connection, many messages).
 * Envelopes that never reach the transport (cancelled, suppressed, no plan)
 * go to the writer first, without waiting.
 *
 * Claims run in the writer thread, on its connection: every write of the
 * outbox then comes from one connection and never waits for SQLite's lock
 * (whose busy handler sleeps 1, 2, 5 ... ms, while every connection waiting
 * for a commit stalls). A worker asks for its next batch as soon as it
 * hands the current one to the transport, so the claim overlaps with the
 * sending; a batch claimed ahead but not sent (stopping) goes back to
 * queued.
 *
 * Memory. Messages are rendered when the transport needs their data
 * (transport_hooks.load: after the server's go-ahead for DATA) into one
 * buffer per worker, reused: a worker holds one rendered message, not its
 * batch (libESMTP would otherwise need every message of a session until
 * the session ends). A render failure then drops that connection (SMTP
 * cannot abandon one message); the envelope gets the render's result, the
 * session's later messages are deferred.
 *
 * Crash safety. The transport reports each message as soon as the server
 * has answered the end of its data (transport_send_cb: done), before the
 * next message starts on that connection; the worker turns the outcome into
 * a result and hands it to the writer. Then, when the next message's data
 * is written up to its end (before_end), the worker waits until the writer
 * has committed every sent result it handed over, and only then lets the
 * transport write the final "." the server needs to accept that message.
 * So at any instant a connection has at most one message that the server
 * accepted but the outbox does not say is sent: after a crash (SIGKILL) at
 * most `connections` messages are sent twice, whatever batch_size is, and
 * none is lost (the leases expire and the envelopes are claimed again).
 * The commit overlaps with the next message's MAIL, RCPT and DATA round
 * trips and its transfer, so it rarely costs any waiting. Failures and
 * refusals are not waited for: sending them again duplicates nothing.
 * (Power loss is outside this bound: the database runs with synchronous =
 * NORMAL, so the last commits before it may be rolled back.)
 *
 * The writer applies whatever results are queued in one transaction per
 * round (group commit, outbox_record with cached statements). It starts a
 * round when a worker waits for one (before_end, or before going idle or
 * sleeping for the rate limit), or when one result per worker is queued,
 * or at the end; no timer. Since a worker needs its result committed only
 * by its next message's end, a round usually carries the results of
 * several workers (measured: 2.5 results per commit with 4 connections,
 * against 1.25 when every result started a round).
 *
 * Plans: a send's compose plan (templates, sanitized article, photos in
 * base64) is built once, on first need, by whichever worker needs it, under
 * the cache lock (which also serializes the template set's lazy loading),
 * and then rendered from by every worker at once (a plan is immutable).
 * Unused plans are freed least recently used first; a plan that could not
 * be built for good (article deleted, bad inputs) is cached as that error,
 * so the send's envelopes fail fast; a temporary failure is retried.
 *
 * Outcomes (OpenSMTPD's OK / TEMPFAIL / PERMFAIL): sent; deferred with
 * backoff (outbox_backoff) until max_age, then failed; failed. A 5xx with an
 * enhanced status 5.1.x (RFC 3463 §3.2: bad destination mailbox) on a
 * subscriber's envelope adds a hard_bounce suppression.
 *
 * Rate limits are token buckets shared by all workers: one for everything
 * and one per recipient domain (a small table, least recently used entry
 * replaced). A worker reserves its tokens and sleeps until they are due, so
 * the average rate holds across threads.
 */
#include "delivery.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "compose.h"
#include "crypto.h"
#include "date.h"
#include "metrics.h"
#include "log.h"
#include "outbox.h"
#include "subs.h"
#include "tpl.h"
#include "transport.h"

#define PLAN_CACHE_KEEP 8
#define DOMAIN_SLOTS    64
#define IDLE_SLEEP_MS   1000
#define BUSY_RETRIES    100

struct bucket {
    double rate;   /* tokens per second; 0 = unlimited */
    double burst;  /* most tokens kept */
    double tokens; /* may go negative: reserved ahead */
    double last;   /* monotonic seconds of the last refill */
};

struct domain_bucket {
    char domain[256];
    struct bucket b;
};

struct plan_entry {
    long long send_id;
    struct compose_plan *plan; /* NULL when `err` */
    json_t *inputs;
    char kind[16];
    long long list_id;
    char list_slug[128];
    char *salt;
    enum merr err;
    int temporary; /* err may go away: drop the entry when unused */
    char errmsg[256];
    int refs;
    unsigned long long last_use;
};

struct shared {
    const struct config *cfg;
    int once;
    atomic_int *stop;
    struct tpl_set *tpls;
    const char *mail_domain;
    const char *bounce_domain;
    char mailto[320];
    size_t batch_max;

    pthread_mutex_t plans_mu;
    struct plan_entry **plans;
    size_t nplans, plans_cap;
    unsigned long long clock;

    pthread_mutex_t rate_mu;
    struct bucket global;
    struct domain_bucket domains[DOMAIN_SLOTS];
    size_t ndomains;

    pthread_mutex_t w_mu;
    pthread_cond_t w_work, w_done;
    struct outbox_result *q;
    size_t qn, qcap;
    unsigned long long submitted, committed;
    int waiters;               /* threads in writer_wait() */
    unsigned long long rounds; /* transactions of results so far */
    double claim_s, record_s;  /* writer time in claims and in rounds */
    size_t nworkers;           /* a round is due once this many results are queued */
    struct claim_req *claims;  /* claims for the writer to run, in order */
    int w_stop;
    int fatal;
    struct db *wdb;

    pthread_mutex_t st_mu;
    struct delivery_stats stats;
};

/*
 * A worker's request for its next batch, run by the writer on its own
 * connection (so claims never wait for the write lock against the result
 * rounds, or the other way round: SQLite's busy handler sleeps 1, 2, 5 ...
 * ms each time, and every connection waiting in before_end stalled meanwhile).
 */
struct claim_req {
    struct claim_req *next;
    time_t now;
    size_t max;
    int queued; /* in sh->claims or being run */
    int done;   /* the fields below are set */
    enum merr rc;
    char errmsg[256];
    struct outbox_envelope *env;
    size_t n;
    long long cancelled;
};

struct worker {
    struct shared *sh;
    int index;
    struct db *db;
    struct transport *tp;
    pthread_t th;
    int started;
    enum merr rc;
    char errmsg[512];
    unsigned long long ticket;      /* last results handed to the writer */
    unsigned long long sent_ticket; /* ... that held a sent message */
    struct batch *b;                /* the batch being sent (for on_done) */
    struct buf out;                 /* the message being sent (on_load) */
    int out_busy;                   /* `out` holds a message not yet released */
    struct crypto_hmac *secret_mac; /* cfg->secret, prepared (VERP/ENVID); NULL: one-shot */
    struct crypto_hmac *salt_mac;   /* the last send's salt, prepared (Message-ID) */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sleeps `seconds`, in short steps; returns 1 if *stop was set meanwhile. */
static int sleep_unless_stopped(struct shared *sh, double seconds)
{
    while (seconds > 0) {
        if (*sh->stop)
            return 1;
        double step = seconds > 0.1 ? 0.1 : seconds;
        sleep_ms((long)(step * 1000) + 1);
        seconds -= step;
    }
    return *sh->stop != 0;
}

/* ---- rate limits ---- */

static void bucket_init(struct bucket *b, double rate, double now)
{
    b->rate = rate;
    b->burst = rate >= 1 ? rate : 1;
    b->tokens = b->burst;
    b->last = now;
}

/* Takes one token; returns the seconds until it is due (0 = now). */
static double bucket_take(struct bucket *b, double now)
{
    if (b->rate <= 0)
        return 0;
    b->tokens += (now - b->last) * b->rate;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last = now;
    b->tokens -= 1;
    return b->tokens >= 0 ? 0 : -b->tokens / b->rate;
}

static struct bucket *domain_bucket(struct shared *sh, const char *domain, double now)
{
    struct domain_bucket *slot = NULL;
    for (size_t i = 0; i < sh->ndomains; i++)
        if (!strcasecmp(sh->domains[i].domain, domain))
            return &sh->domains[i].b;
    if (sh->ndomains < DOMAIN_SLOTS) {
        slot = &sh->domains[sh->ndomains++];
    } else {
        /* replace the domain served longest ago */
        slot = &sh->domains[0];
        for (size_t i = 1; i < DOMAIN_SLOTS; i++)
            if (sh->domains[i].b.last < slot->b.last)
                slot = &sh->domains[i];
    }
    snprintf(slot->domain, sizeof slot->domain, "%s", domain);
    bucket_init(&slot->b, sh->cfg->per_domain_rate, now);
    return &slot->b;
}

/* Reserves a token for one message to `rcpt`; the wait in seconds. */
static double rate_reserve(struct shared *sh, const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');
    double now, wait = 0, w;

    if (sh->cfg->rate <= 0 && sh->cfg->per_domain_rate <= 0)
        return 0;
    pthread_mutex_lock(&sh->rate_mu);
    now = date_mono();
    wait = bucket_take(&sh->global, now);
    if (sh->cfg->per_domain_rate > 0 && at) {
        w = bucket_take(domain_bucket(sh, at + 1, now), now);
        if (w > wait)
            wait = w;
    }
    pthread_mutex_unlock(&sh->rate_mu);
    return wait;
}

/* ---- the writer ---- */

static void writer_fail(struct shared *sh, const char *what)
{
    log_error("delivery: %s: %s; stopping (leased envelopes return to the queue)", what,
              merr_msg());
    sh->fatal = 1;
}

/* Runs the queued claims (w_mu held on entry and on return). */
static void writer_claims(struct shared *sh)
{
    struct claim_req *list = sh->claims;

    sh->claims = NULL;
    pthread_mutex_unlock(&sh->w_mu);
    for (struct claim_req *c = list; c; c = c->next) {
        enum merr rc;
        int tries = 0;
        c->cancelled = 0;
        if (sh->fatal) {
            c->rc = MERR_INTERNAL;
            c->n = 0;
            snprintf(c->errmsg, sizeof c->errmsg, "the writer stopped");
            continue;
        }
        double t0 = date_mono();
        for (;;) {
            rc = outbox_claim_checked(sh->wdb, c->now, sh->cfg->lease_seconds, c->max, &c->env,
                                      &c->n, &c->cancelled);
            if (rc != MERR_TEMPFAIL || ++tries >= BUSY_RETRIES)
                break;
            sleep_ms(20);
        }
        sh->claim_s += date_mono() - t0;
        c->rc = rc;
        if (rc) {
            c->env = NULL;
            c->n = 0;
            snprintf(c->errmsg, sizeof c->errmsg, "%s", merr_msg());
        }
    }
    pthread_mutex_lock(&sh->w_mu);
    for (struct claim_req *c = list; c; c = c->next)
        c->done = 1;
    pthread_cond_broadcast(&sh->w_done);
}

/* Asks the writer for a batch claimed at `now` (see struct claim_req); does not wait. */
static void claim_start(struct shared *sh, struct claim_req *c, time_t now)
{
    pthread_mutex_lock(&sh->w_mu);
    c->now = now;
    c->max = sh->batch_max;
    c->done = 0;
    c->queued = 1;
    c->next = NULL;
    struct claim_req **tail = &sh->claims;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    pthread_cond_signal(&sh->w_work);
    pthread_mutex_unlock(&sh->w_mu);
}

/* Waits for a claim started with claim_start. */
static void claim_finish(struct shared *sh, struct claim_req *c)
{
    pthread_mutex_lock(&sh->w_mu);
    while (!c->done)
        pthread_cond_wait(&sh->w_done, &sh->w_mu);
    c->queued = 0;
    pthread_mutex_unlock(&sh->w_mu);
}

static void *writer_main(void *arg)
{
    struct shared *sh = arg;
    struct outbox_result *batch = NULL;
    size_t bcap = 0;

    pthread_mutex_lock(&sh->w_mu);
    for (;;) {
        /* a round when someone waits for it, or one result per worker is
         * queued, or at the end: every result waits for a reason (waiting
         * longer to gather more per commit was measured: 3,384 -> 2,963
         * commits per 10,000 messages, no gain, as a commit's pages grow
         * with its results) */
        while (!sh->w_stop && !sh->claims &&
               (sh->qn == 0 || (sh->waiters == 0 && sh->qn < sh->nworkers)))
            pthread_cond_wait(&sh->w_work, &sh->w_mu);
        if (sh->qn == 0 && !sh->claims && sh->w_stop)
            break;
        if (sh->claims && sh->qn == 0) {
            writer_claims(sh);
            continue;
        }
        /* take everything queued: one transaction for all of it */
        struct outbox_result *tmp = batch;
        size_t tcap = bcap, n = sh->qn;
        unsigned long long upto = sh->submitted;
        batch = sh->q;
        bcap = sh->qcap;
        sh->q = tmp;
        sh->qcap = tcap;
        sh->qn = 0;
        pthread_mutex_unlock(&sh->w_mu);

        enum merr rc = MERR_OK;
        double t0 = date_mono();
        for (int tries = 0; tries < BUSY_RETRIES; tries++) {
            rc = db_begin(sh->wdb);
            if (!rc)
                rc = outbox_record(sh->wdb, batch, n, date_now());
            if (!rc)
                rc = db_commit(sh->wdb);
            if (rc)
                db_rollback(sh->wdb);
            if (rc != MERR_TEMPFAIL)
                break;
            sleep_ms(50);
        }
        if (rc)
            writer_fail(sh, "recording results");
        sh->record_s += date_mono() - t0;

        pthread_mutex_lock(&sh->w_mu);
        sh->rounds++;
        sh->committed = upto;
        pthread_cond_broadcast(&sh->w_done);
        if (sh->claims)
            writer_claims(sh);
    }
    pthread_mutex_unlock(&sh->w_mu);
    free(batch);
    return NULL;
}

/* Queues results for the writer; returns the ticket to wait for. */
static unsigned long long writer_submit(struct shared *sh, const struct outbox_result *r, size_t n)
{
    unsigned long long ticket;
    pthread_mutex_lock(&sh->w_mu);
    if (sh->qn + n > sh->qcap) {
        size_t ncap = sh->qcap ? sh->qcap : 256;
        while (ncap < sh->qn + n)
            ncap *= 2;
        struct outbox_result *p = realloc(sh->q, ncap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&sh->w_mu);
            merr_set(MERR_NOMEM, "out of memory");
            writer_fail(sh, "queueing results");
            return 0;
        }
        sh->q = p;
        sh->qcap = ncap;
    }
    memcpy(sh->q + sh->qn, r, n * sizeof *r);
    sh->qn += n;
    ticket = ++sh->submitted;
    if (sh->waiters || sh->qn >= sh->nworkers)
        pthread_cond_signal(&sh->w_work);
    pthread_mutex_unlock(&sh->w_mu);
    return ticket;
}

/* Waits until the writer committed everything up to `ticket`. */
static void writer_wait(struct shared *sh, unsigned long long ticket)
{
    pthread_mutex_lock(&sh->w_mu);
    if (sh->committed < ticket && !sh->fatal) {
        sh->waiters++;
        pthread_cond_signal(&sh->w_work);
        while (sh->committed < ticket && !sh->fatal)
            pthread_cond_wait(&sh->w_done, &sh->w_mu);
        sh->waiters--;
    }
    pthread_mutex_unlock(&sh->w_mu);
}

/* ---- plans ---- */

static void plan_entry_free(struct plan_entry *e)
{
    if (!e)
        return;
    compose_plan_free(e->plan);
    json_decref(e->inputs);
    free(e->salt);
    free(e);
}

static int temporary_error(enum merr rc)
{
    return rc == MERR_TEMPFAIL || rc == MERR_NOMEM || rc == MERR_IO || rc == MERR_DB;
}

static struct plan_entry *plan_build(struct worker *w, long long send_id)
{
    struct shared *sh = w->sh;
    struct plan_entry *e = calloc(1, sizeof *e);
    struct outbox_send s;
    json_error_t jerr;
    enum merr rc;

    if (!e)
        return NULL;
    e->send_id = send_id;
    rc = outbox_send_get(w->db, send_id, &s);
    if (rc) {
        e->err = rc;
        e->temporary = temporary_error(rc);
        snprintf(e->errmsg, sizeof e->errmsg, "send %lld: %s", send_id, merr_msg());
        return e;
    }
    snprintf(e->kind, sizeof e->kind, "%s", s.kind);
    e->list_id = s.list_id;
    e->salt = s.salt;
    s.salt = NULL;
    e->inputs = json_loads(s.plan_json, 0, &jerr);
    outbox_send_clear(&s);
    if (!e->inputs) {
        e->err = MERR_INVAL;
        snprintf(e->errmsg, sizeof e->errmsg, "send %lld: plan is not JSON: %s", send_id,
                 jerr.text);
        return e;
    }
    json_t *list = json_object_get(e->inputs, "list");
    const char *slug = json_string_value(json_object_get(list, "slug"));
    if (slug)
        snprintf(e->list_slug, sizeof e->list_slug, "%s", slug);
    if (!e->list_id && json_is_integer(json_object_get(list, "id")))
        e->list_id = json_integer_value(json_object_get(list, "id"));

    struct compose_env env = {sh->cfg, w->db, sh->tpls};
    rc = compose_plan_new(&env, e->inputs, &e->plan);
    if (rc) {
        e->plan = NULL;
        e->err = rc;
        e->temporary = temporary_error(rc);
        snprintf(e->errmsg, sizeof e->errmsg, "send %lld: %s", send_id, merr_msg());
        log_warn("delivery: cannot plan %s", e->errmsg);
    }
    return e;
}

/* Drops unused entries beyond PLAN_CACHE_KEEP, oldest first, and unused temporary errors. */
static void plans_trim(struct shared *sh)
{
    for (size_t i = 0; i < sh->nplans;) {
        struct plan_entry *e = sh->plans[i];
        if (e->refs == 0 && e->err && e->temporary) {
            plan_entry_free(e);
            sh->plans[i] = sh->plans[--sh->nplans];
            continue;
        }
        i++;
    }
    while (sh->nplans > PLAN_CACHE_KEEP) {
        size_t victim = sh->nplans;
        for (size_t i = 0; i < sh->nplans; i++)
            if (sh->plans[i]->refs == 0 &&
                (victim == sh->nplans || sh->plans[i]->last_use < sh->plans[victim]->last_use))
                victim = i;
        if (victim == sh->nplans)
            break;
        plan_entry_free(sh->plans[victim]);
        sh->plans[victim] = sh->plans[--sh->nplans];
    }
}

/* The plan entry of a send, built on first use; NULL only without memory. */
static struct plan_entry *plan_get(struct worker *w, long long send_id)
{
    struct shared *sh = w->sh;
    struct plan_entry *e = NULL;

    pthread_mutex_lock(&sh->plans_mu);
    for (size_t i = 0; i < sh->nplans; i++)
        if (sh->plans[i]->send_id == send_id)
            e = sh->plans[i];
    if (!e) {
        if (sh->nplans == sh->plans_cap) {
            size_t ncap = sh->plans_cap ? sh->plans_cap * 2 : 16;
            struct plan_entry **p = realloc(sh->plans, ncap * sizeof *p);
            if (!p)
                goto out;
            sh->plans = p;
            sh->plans_cap = ncap;
        }
        e = plan_build(w, send_id);
        if (!e)
            goto out;
        sh->plans[sh->nplans++] = e;
    }
    e->refs++;
    e->last_use = ++sh->clock;
out:
    pthread_mutex_unlock(&sh->plans_mu);
    return e;
}

static void plan_put(struct shared *sh, struct plan_entry *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&sh->plans_mu);
    e->refs--;
    plans_trim(sh);
    pthread_mutex_unlock(&sh->plans_mu);
}

/* ---- one envelope ---- */

static void lower_copy(char *out, size_t size, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

static void set_text(struct outbox_result *r, const char *text)
{
    snprintf(r->text, sizeof r->text, "%s", text ? text : "");
}

/* A temporary failure of envelope `e`: deferred with backoff, or failed past max_age. */
static void temp_failure(const struct config *cfg, const struct outbox_envelope *e, time_t now,
                         struct outbox_result *r)
{
    r->state = outbox_backoff(now, e->created_at, e->attempts, cfg->retry_base_seconds,
                              cfg->retry_max_seconds, cfg->max_age_seconds, &r->next_attempt_at);
}

/*
 * Renders envelope `e` into `out`. On failure fills `r` (deferred or
 * failed) and returns non-zero.
 */
static int render_one(struct worker *w, const struct outbox_envelope *e, struct plan_entry *p,
                      struct buf *out, struct outbox_result *r, time_t now)
{
    struct shared *sh = w->sh;
    const struct config *cfg = sh->cfg;
    struct buf unsub, confirm;
    char msgid[128], list_id[300];
    json_t *vars = NULL;
    enum merr rc = MERR_OK;
    int is_list = !strcmp(p->kind, "digest"), is_confirm = !strcmp(p->kind, "confirm");
    struct compose_recipient rcpt = {0};

    buf_init(&unsub, 4096);
    buf_init(&confirm, 4096);
    /* the Message-ID's key is the send's salt: re-prepared when the send changes */
    if (!crypto_hmac_has_key(w->salt_mac, p->salt, strlen(p->salt))) {
        crypto_hmac_free(w->salt_mac);
        w->salt_mac = NULL;
        if (crypto_hmac_new(p->salt, strlen(p->salt), &w->salt_mac))
            w->salt_mac = NULL; /* the one-shot below, as good if slower */
    }
    if (w->salt_mac)
        outbox_message_id_with(w->salt_mac, e->id, sh->mail_domain, msgid);
    else
        outbox_message_id(p->salt, e->id, sh->mail_domain, msgid);
    rcpt.email = e->recipient;
    rcpt.name = e->name;
    rcpt.message_id = msgid;
    vars = json_pack("{s:s}", "name", e->name ? e->name : "");
    if (!vars) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    if (is_list) {
        if (!p->list_slug[0] || !p->list_id || !e->subscriber_id) {
            rc = merr_set(MERR_INVAL, "list mail without a list slug, list id or subscriber");
            goto out;
        }
        snprintf(list_id, sizeof list_id, "%s.%s", p->list_slug, sh->mail_domain);
        rcpt.list_id = list_id;
        rc = subs_unsubscribe_url(w->db, cfg, e->subscriber_id, p->list_id, &unsub);
        if (rc)
            goto out;
        rcpt.unsubscribe_url = unsub.data;
        rcpt.unsubscribe_mailto = sh->mailto;
        json_object_set_new(vars, "unsubscribe_url", json_string(unsub.data));
    } else if (is_confirm) {
        if (!p->list_id || !e->subscriber_id) {
            rc = merr_set(MERR_INVAL, "confirmation without a list or subscriber");
            goto out;
        }
        rc = subs_confirm_url(w->db, cfg, e->subscriber_id, p->list_id, e->created_at, &confirm);
        if (rc)
            goto out;
        json_object_set_new(vars, "confirm_url", json_string(confirm.data));
    }
    rcpt.vars = vars;
    rc = compose_render(p->plan, &rcpt, out);
out:
    if (rc) {
        r->code = 0;
        if (temporary_error(rc)) {
            temp_failure(cfg, e, now, r);
            snprintf(r->text, sizeof r->text, "render: %s", merr_msg());
        } else {
            r->state = OUTBOX_FAILED;
            snprintf(r->text, sizeof r->text, "message refused before sending: %s", merr_msg());
        }
        log_warn("delivery: envelope %lld: %s", e->id, r->text);
    }
    json_decref(vars);
    buf_free(&unsub);
    buf_free(&confirm);
    return rc != MERR_OK;
}

/* RFC 3463 §3.2: X.1.X is "addressing status"; 5.1.x says the mailbox is bad for good. */
static int is_bad_mailbox(int code, const char *text)
{
    const char *p = text;
    if (code < 500 || code > 599)
        return 0;
    if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
        isdigit((unsigned char)p[2]) && (p[3] == ' ' || p[3] == '-'))
        p += 4;
    while (*p == ' ')
        p++;
    return p[0] == '5' && p[1] == '.' && p[2] == '1' && p[3] == '.' && isdigit((unsigned char)p[4]);
}

/* ---- the worker ---- */

struct batch {
    struct outbox_envelope *env;
    size_t n;
    struct outbox_result *res;
    struct transport_msg *msgs;
    size_t *msg_env; /* msgs[k] belongs to env[msg_env[k]] */
    size_t nmsgs;
    unsigned char *in_tp;       /* env[i] is in msgs (its result comes from on_done) */
    struct outbox_result *rest; /* results of envelopes that are not */
    struct plan_entry **plan;   /* msgs[k]'s plan, referenced until the batch ends */
    unsigned char *unrendered;  /* msgs[k] could not be rendered: its result is set */
    size_t nplanned;            /* plan[0..nplanned) hold a reference */
    char (*verp)[128];
    char (*envid)[64];
    size_t cap;
};

static enum merr batch_reserve(struct batch *b, size_t n)
{
    if (n <= b->cap)
        return MERR_OK;
    struct outbox_result *res = realloc(b->res, n * sizeof *res);
    if (res)
        b->res = res;
    struct transport_msg *msgs = realloc(b->msgs, n * sizeof *msgs);
    if (msgs)
        b->msgs = msgs;
    size_t *me = realloc(b->msg_env, n * sizeof *me);
    if (me)
        b->msg_env = me;
    char(*verp)[128] = realloc(b->verp, n * sizeof *verp);
    if (verp)
        b->verp = verp;
    char(*envid)[64] = realloc(b->envid, n * sizeof *envid);
    if (envid)
        b->envid = envid;
    unsigned char *in_tp = realloc(b->in_tp, n * sizeof *in_tp);
    if (in_tp)
        b->in_tp = in_tp;
    struct outbox_result *rest = realloc(b->rest, n * sizeof *rest);
    if (rest)
        b->rest = rest;
    struct plan_entry **plan = realloc(b->plan, n * sizeof *plan);
    if (plan)
        b->plan = plan;
    unsigned char *unr = realloc(b->unrendered, n * sizeof *unr);
    if (unr)
        b->unrendered = unr;
    if (!res || !msgs || !me || !verp || !envid || !in_tp || !rest || !plan || !unr)
        return merr_set(MERR_NOMEM, "out of memory");
    b->cap = n;
    return MERR_OK;
}

static void batch_free(struct batch *b)
{
    free(b->res);
    free(b->msgs);
    free(b->msg_env);
    free(b->verp);
    free(b->envid);
    free(b->in_tp);
    free(b->rest);
    free(b->plan);
    free(b->unrendered);
}

static void count(struct shared *sh, const struct outbox_result *r, size_t n, long long cancelled)
{
    pthread_mutex_lock(&sh->st_mu);
    sh->stats.cancelled += cancelled;
    for (size_t i = 0; i < n; i++) {
        switch (r[i].state) {
        case OUTBOX_SENT:
            sh->stats.sent++;
            break;
        case OUTBOX_DEFERRED:
            sh->stats.deferred++;
            break;
        case OUTBOX_FAILED:
            sh->stats.failed++;
            break;
        case OUTBOX_CANCELLED:
            sh->stats.cancelled++;
            break;
        default:
            break;
        }
    }
    pthread_mutex_unlock(&sh->st_mu);
}

/* Renders the claimed envelopes; those that cannot go get their result now. */
static void prepare(struct worker *w, struct batch *b, time_t now)
{
    struct shared *sh = w->sh;
    const struct config *cfg = sh->cfg;

    b->nmsgs = 0;
    b->nplanned = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct outbox_envelope *e = &b->env[i];
        struct outbox_result *r = &b->res[i];
        char key[256];
        struct plan_entry *p;

        memset(r, 0, sizeof *r);
        r->envelope_id = e->id;
        r->state = OUTBOX_SENDING; /* not decided yet */
        lower_copy(key, sizeof key, e->recipient);
        if (subs_is_suppressed(w->db, key)) {
            r->state = OUTBOX_CANCELLED;
            set_text(r, "address is on the suppression list");
            continue;
        }
        p = plan_get(w, e->send_id);
        if (!p) {
            temp_failure(cfg, e, now, r);
            set_text(r, "out of memory planning the send");
            continue;
        }
        if (p->err) {
            if (p->temporary)
                temp_failure(cfg, e, now, r);
            else
                r->state = OUTBOX_FAILED;
            set_text(r, p->errmsg);
            plan_put(sh, p);
            continue;
        }
        /* rendered when the transport needs it (on_load): the batch is
         * never held in memory as messages, only one message at a time */
        size_t k = b->nmsgs++;
        b->plan[k] = p;
        b->unrendered[k] = 0;
        struct transport_msg *m = &b->msgs[k];
        memset(m, 0, sizeof *m);
        /* the VERP token is the DSN ENVID too (RFC 3461 §4.4): one MAC */
        if (w->secret_mac)
            outbox_verp_token_with(w->secret_mac, e->id, b->envid[k]);
        else
            outbox_verp_token(cfg->secret, e->id, b->envid[k]);
        outbox_verp_of_token(b->envid[k], sh->bounce_domain, b->verp[k]);
        m->envelope_id = e->id;
        m->mail_from = b->verp[k];
        m->rcpt = e->recipient;
        m->envid = b->envid[k];
        m->data = NULL; /* on_load */
        m->len = 0;
        b->msg_env[k] = i;
    }
    b->nplanned = b->nmsgs;
}

/* Drops the batch's plan references. */
static void batch_unplan(struct shared *sh, struct batch *b)
{
    for (size_t k = 0; k < b->nplanned; k++)
        plan_put(sh, b->plan[k]);
    b->nplanned = 0;
}

/*
 * Turns message k's transport outcome into its envelope's result;
 * suppresses bad mailboxes.
 */
static void outcome(struct worker *w, struct batch *b, size_t k, time_t now)
{
    const struct config *cfg = w->sh->cfg;
    const struct transport_msg *m = &b->msgs[k];
    const struct outbox_envelope *e = &b->env[b->msg_env[k]];
    struct outbox_result *r = &b->res[b->msg_env[k]];

    if (b->unrendered[k])
        return; /* render_one set the result (deferred or failed) */
    r->code = m->code;
    set_text(r, m->text);
    if (m->skipped) {
        /* never offered to the server: we asked the transport to stop */
        r->state = OUTBOX_QUEUED;
        r->code = 0;
        set_text(r, "delivery stopped before sending");
        return;
    }
    metrics_smtp_result(m->code);
    switch (m->rc) {
    case MERR_OK:
        r->state = OUTBOX_SENT;
        break;
    case MERR_PERMFAIL:
    case MERR_INVAL:
        r->state = OUTBOX_FAILED;
        if (e->subscriber_id && is_bad_mailbox(m->code, m->text)) {
            char key[256];
            lower_copy(key, sizeof key, e->recipient);
            if (subs_suppress(w->db, key, "hard_bounce", m->text))
                log_warn("delivery: could not suppress envelope %lld's address: %s", e->id,
                         merr_msg());
        }
        break;
    default: /* TEMPFAIL, and anything the transport could not finish */
        temp_failure(cfg, e, now, r);
        break;
    }
    if (r->state == OUTBOX_SENT || r->state == OUTBOX_FAILED)
        metrics_delivery_latency((double)(now - e->created_at));
}

/*
 * The transport's report of one message (transport_send_cb), called before
 * it starts the next one on this connection: the result goes to the writer.
 * Non-zero asks the transport to stop the batch: when told to stop, or when
 * results can no longer be recorded (going on would only make duplicates).
 */
static int on_done(void *arg, struct transport_msg *m)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    struct batch *b = w->b;
    size_t k = (size_t)(m - b->msgs);
    struct outbox_result *r = &b->res[b->msg_env[k]];

    outcome(w, b, k, date_now());
    count(sh, r, 1, 0);
    w->ticket = writer_submit(sh, r, 1);
    if (r->state == OUTBOX_SENT)
        w->sent_ticket = w->ticket;
    return sh->fatal || *sh->stop;
}

/*
 * The transport needs message m's data now (transport_hooks.load): renders
 * it into the worker's buffer, reused from message to message, so a worker
 * holds one rendered message at a time whatever batch_size is. A render
 * failure sets the envelope's result (deferred or failed, see render_one).
 */
static enum merr on_load(void *arg, struct transport_msg *m)
{
    struct worker *w = arg;
    struct batch *b = w->b;
    size_t k = (size_t)(m - b->msgs);
    struct outbox_result *r = &b->res[b->msg_env[k]];

    if (w->out_busy)
        return merr_set(MERR_INTERNAL, "two messages loaded at once");
    buf_reset(&w->out);
    if (render_one(w, &b->env[b->msg_env[k]], b->plan[k], &w->out, r, date_now())) {
        b->unrendered[k] = 1;
        return merr_set(r->state == OUTBOX_FAILED ? MERR_PERMFAIL : MERR_TEMPFAIL, "%s", r->text);
    }
    w->out_busy = 1;
    m->data = w->out.data;
    m->len = w->out.len;
    return MERR_OK;
}

/* The transport is done with m's data (transport_hooks.release). */
static void on_release(void *arg, struct transport_msg *m)
{
    struct worker *w = arg;

    (void)m;
    w->out_busy = 0;
    buf_reset(&w->out);
}

/*
 * Message m's data is written but for its end: the server cannot accept it
 * before this returns. Waits until this worker's sent results are
 * committed (see the top); non-zero keeps m from the server and stops the
 * batch, as on_done's answer does.
 */
static int on_before_end(void *arg, struct transport_msg *m)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;

    (void)m;
    writer_wait(sh, w->sent_ticket);
    return sh->fatal || *sh->stop;
}

/* Releases envelopes left unsent because we are stopping: back to queued. */
static void release_unsent(struct batch *b, size_t from)
{
    for (size_t k = from; k < b->nmsgs; k++) {
        struct outbox_result *r = &b->res[b->msg_env[k]];
        r->state = OUTBOX_QUEUED;
        r->code = 0;
        set_text(r, "delivery stopped before sending");
    }
    b->nmsgs = from;
}

/* Gives a claimed batch that will not be sent back to the queue. */
static void release_claimed(struct shared *sh, struct worker *w, struct outbox_envelope *env,
                            size_t n)
{
    struct outbox_result *r = calloc(n ? n : 1, sizeof *r);

    if (!r) {
        /* their leases expire and they are claimed again */
        outbox_envelopes_free(env, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        r[i].envelope_id = env[i].id;
        r[i].state = OUTBOX_QUEUED;
        set_text(&r[i], "delivery stopped before sending");
    }
    if (n)
        w->ticket = writer_submit(sh, r, n);
    free(r);
    outbox_envelopes_free(env, n);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    const struct config *cfg = sh->cfg;
    struct batch b;
    size_t nrest;
    struct transport_hooks hooks = {on_done, on_before_end, w, on_load, on_release};
    struct claim_req creq;
    int pending = 0; /* creq was started and not finished */

    double reclaim_every = cfg->lease_seconds / 2.0, last_reclaim = date_mono();

    memset(&b, 0, sizeof b);
    memset(&creq, 0, sizeof creq);
    w->b = &b;
    if (crypto_hmac_new(cfg->secret, strlen(cfg->secret), &w->secret_mac))
        w->secret_mac = NULL; /* one-shot HMACs then */
    if (reclaim_every < 5)
        reclaim_every = 5;
    while (!*sh->stop && !sh->fatal) {
        long long cancelled = 0;
        time_t now = date_now();
        enum merr rc;

        /* a long-running service also picks up other processes' expired leases */
        if (!sh->once && w->index == 0 && date_mono() - last_reclaim >= reclaim_every) {
            long long back = 0;
            last_reclaim = date_mono();
            if (!outbox_reclaim_expired(w->db, now, &back) && back)
                log_info("delivery: %lld expired leases returned to the queue", back);
        }

        /* the claim runs in the writer; usually it was started while the
         * previous batch was being sent, and is ready now */
        if (!pending)
            claim_start(sh, &creq, now);
        claim_finish(sh, &creq);
        pending = 0;
        rc = creq.rc;
        b.env = creq.env;
        b.n = creq.n;
        cancelled = creq.cancelled;
        creq.env = NULL;
        creq.n = 0;
        if (rc == MERR_TEMPFAIL) {
            sleep_ms(20);
            continue;
        }
        if (rc) {
            w->rc = rc;
            snprintf(w->errmsg, sizeof w->errmsg, "claim: %s", creq.errmsg);
            break;
        }
        if (cancelled)
            count(sh, NULL, 0, cancelled);
        if (b.n == 0) {
            if (sh->once)
                break;
            writer_wait(sh, w->ticket); /* nothing of ours lingers unrecorded */
            sleep_unless_stopped(sh, IDLE_SLEEP_MS / 1000.0);
            continue;
        }
        rc = batch_reserve(&b, b.n);
        if (rc) {
            w->rc = rc;
            snprintf(w->errmsg, sizeof w->errmsg, "%s", merr_msg());
            release_claimed(sh, w, b.env, b.n);
            b.env = NULL;
            b.n = 0;
            break;
        }
        prepare(w, &b, now);

        /* rate limits: reserve and wait; if told to stop, give the rest back */
        for (size_t k = 0; k < b.nmsgs; k++) {
            double wait = rate_reserve(sh, b.msgs[k].rcpt);
            if (wait > 0)
                writer_wait(sh, w->ticket); /* as when idle */
            if (wait > 0 && sleep_unless_stopped(sh, wait)) {
                release_unsent(&b, k);
                break;
            }
        }
        /* what will not be sent goes to the writer now; the rest one by one
         * from on_done, each sent one committed before the next can end */
        memset(b.in_tp, 0, b.n);
        for (size_t k = 0; k < b.nmsgs; k++)
            b.in_tp[b.msg_env[k]] = 1;
        nrest = 0;
        for (size_t i = 0; i < b.n; i++)
            if (!b.in_tp[i])
                b.rest[nrest++] = b.res[i];
        if (nrest) {
            count(sh, b.rest, nrest, 0);
            w->ticket = writer_submit(sh, b.rest, nrest);
        }
        /* the next batch is claimed while this one goes out */
        if (!*sh->stop && !sh->fatal) {
            claim_start(sh, &creq, date_now());
            pending = 1;
        }
        if (b.nmsgs)
            transport_send_cb(w->tp, b.msgs, b.nmsgs, &hooks);
        batch_unplan(sh, &b);
        outbox_envelopes_free(b.env, b.n);
        b.env = NULL;
        b.n = 0;
    }
    if (pending) {
        /* claimed ahead but stopping: back to the queue, not left leased */
        claim_finish(sh, &creq);
        if (!creq.rc && creq.cancelled)
            count(sh, NULL, 0, creq.cancelled);
        if (!creq.rc)
            release_claimed(sh, w, creq.env, creq.n);
        creq.env = NULL;
        creq.n = 0;
    }
    writer_wait(sh, w->ticket);
    batch_free(&b);
    buf_free(&w->out);
    crypto_hmac_free(w->secret_mac);
    crypto_hmac_free(w->salt_mac);
    w->secret_mac = w->salt_mac = NULL;
    return NULL;
}

/* ---- setup ---- */

static enum merr shared_init(struct shared *sh, const struct config *cfg, int once,
                             atomic_int *stop)
{
    enum merr rc;
    const char *unsub;

    memset(sh, 0, sizeof *sh);
    sh->cfg = cfg;
    sh->once = once;
    sh->stop = stop;
    sh->mail_domain = cfg_mail_domain(cfg);
    sh->bounce_domain =
        cfg->bounce_domain && cfg->bounce_domain[0] ? cfg->bounce_domain : sh->mail_domain;
    unsub = cfg->unsubscribe_mailto;
    if (unsub && unsub[0])
        snprintf(sh->mailto, sizeof sh->mailto, "mailto:%s?subject=unsubscribe", unsub);
    else
        snprintf(sh->mailto, sizeof sh->mailto, "mailto:unsubscribe@%s?subject=unsubscribe",
                 sh->mail_domain);
    sh->batch_max = (size_t)(cfg->batch_size > 0 ? cfg->batch_size : 1);
    if (cfg->smtp_messages_per_connection > 0 &&
        (size_t)cfg->smtp_messages_per_connection < sh->batch_max)
        sh->batch_max = (size_t)cfg->smtp_messages_per_connection;
    if (cfg->rate > 0 && (double)sh->batch_max > ceil(cfg->rate))
        sh->batch_max = (size_t)ceil(cfg->rate);
    pthread_mutex_init(&sh->plans_mu, NULL);
    pthread_mutex_init(&sh->rate_mu, NULL);
    pthread_mutex_init(&sh->w_mu, NULL);
    pthread_mutex_init(&sh->st_mu, NULL);
    pthread_cond_init(&sh->w_work, NULL);
    pthread_cond_init(&sh->w_done, NULL);
    bucket_init(&sh->global, cfg->rate, date_mono());
    if (!cfg->secret || !cfg->secret[0])
        return merr_set(MERR_CONFIG, "[mail] secret: needed for VERP addresses");
    rc = tpl_set_open(cfg->templates_dir, cfg->templates_override, &sh->tpls);
    if (rc)
        return merr_wrap(rc, "templates");
    return MERR_OK;
}

static void shared_free(struct shared *sh)
{
    for (size_t i = 0; i < sh->nplans; i++)
        plan_entry_free(sh->plans[i]);
    free(sh->plans);
    free(sh->q);
    tpl_set_free(sh->tpls);
    db_close(sh->wdb);
    pthread_mutex_destroy(&sh->plans_mu);
    pthread_mutex_destroy(&sh->rate_mu);
    pthread_mutex_destroy(&sh->w_mu);
    pthread_mutex_destroy(&sh->st_mu);
    pthread_cond_destroy(&sh->w_work);
    pthread_cond_destroy(&sh->w_done);
}

enum merr delivery_run(const struct config *cfg, int once, atomic_int *stop,
                       struct delivery_stats *stats)
{
    static atomic_int never;
    struct shared sh;
    struct worker *w = NULL;
    pthread_t writer;
    int nw = cfg->connections > 0 ? cfg->connections : 1, writer_started = 0;
    long long reclaimed = 0;
    enum merr rc;

    if (stats)
        memset(stats, 0, sizeof *stats);
    rc = shared_init(&sh, cfg, once, stop ? stop : &never);
    if (rc)
        goto out;
    rc = db_open(cfg->db_path, cfg->db_busy_timeout_ms, &sh.wdb);
    if (rc)
        goto out;

    /* a crashed run's envelopes: back to queued before anything is claimed */
    rc = outbox_reclaim_expired(sh.wdb, date_now(), &reclaimed);
    if (rc)
        goto out;
    if (reclaimed)
        log_info("delivery: %lld envelopes with expired leases returned to the queue", reclaimed);
    sh.nworkers = (size_t)nw;
    w = calloc((size_t)nw, sizeof *w);
    if (!w) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < nw; i++) {
        w[i].sh = &sh;
        w[i].index = i;
        buf_init(&w[i].out, cfg->message_max_bytes);
        rc = db_open(cfg->db_path, cfg->db_busy_timeout_ms, &w[i].db);
        if (!rc)
            rc = transport_open(cfg, &w[i].tp);
        if (rc)
            goto out;
    }
    if (pthread_create(&writer, NULL, writer_main, &sh) != 0) {
        rc = merr_set(MERR_INTERNAL, "cannot start the writer thread");
        goto out;
    }
    writer_started = 1;
    for (int i = 0; i < nw; i++) {
        if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
            rc = merr_set(MERR_INTERNAL, "cannot start worker thread %d", i);
            sh.fatal = 1;
            break;
        }
        w[i].started = 1;
    }
    for (int i = 0; i < nw; i++)
        if (w[i].started)
            pthread_join(w[i].th, NULL);
    for (int i = 0; !rc && i < nw; i++)
        if (w[i].rc) {
            rc = merr_set(w[i].rc, "delivery worker %d: %s", i, w[i].errmsg);
            break;
        }
    if (!rc && sh.fatal)
        rc = merr_set(MERR_DB, "delivery stopped: results could not be recorded");
out:
    if (writer_started) {
        pthread_mutex_lock(&sh.w_mu);
        sh.w_stop = 1;
        pthread_cond_signal(&sh.w_work);
        pthread_mutex_unlock(&sh.w_mu);
        pthread_join(writer, NULL);
    }
    if (w) {
        for (int i = 0; i < nw; i++) {
            transport_close(w[i].tp);
            db_close(w[i].db);
        }
        free(w);
    }
    if (stats)
        *stats = sh.stats;
    log_info("delivery: sent %lld, deferred %lld, failed %lld, cancelled %lld (%llu commits, "
             "%.2f s; claims %.2f s)",
             sh.stats.sent, sh.stats.deferred, sh.stats.failed, sh.stats.cancelled, sh.rounds,
             sh.record_s, sh.claim_s);
    shared_free(&sh);
    return rc;
}
