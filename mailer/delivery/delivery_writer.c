/*
 * delivery_writer.c: the single writer: every write of the outbox during
 * delivery comes from this thread and its one connection.
 *
 * Workers report, the writer decides (OpenSMTPD: the MTA reports, the
 * queue decides). A worker hands over, for each envelope, what happened
 * (struct outcome_report: the outcome's class and the server's reply);
 * the writer applies the reports with outcome_apply, which computes the
 * next state (backoff, max age) and asks subscribers to suppress a bad
 * mailbox, in the writer's own transaction. So no worker writes while its
 * SMTP session is open, and no connection waits for SQLite's lock against
 * another (whose busy handler sleeps 1, 2, 5 ... ms while every worker
 * waiting for a commit stalls).
 *
 * Rounds (group commit). The writer applies whatever reports are queued in
 * one transaction per round. It starts a round when a worker waits for one
 * (delivery_writer_wait: before going idle or sleeping for the rate limit,
 * before a message's end when its sent journal failed), when ROUND_RESULTS
 * reports are queued or the oldest has waited ROUND_AGE_MS, when a claim
 * is asked for, or at the end. A worker does not wait for its sent result
 * to be committed: its sent journal (delivery_journal.c) keeps the crash
 * bound, so the rounds can be large (bench/deliver: some 200 commits per
 * 10,000 messages instead of 4,200, each with fewer WAL pages per result).
 * Tickets number the submissions; `committed` is the last ticket applied.
 *
 * Claims run here too, in the order workers ask (a worker asks for its
 * next batch as soon as it hands the current one to the transport, so the
 * claim overlaps with the sending). A claim also drops what must no longer
 * be sent: subscribers' consent check is its gate (subs_consent_gate), the
 * one check of "may we mail this person".
 *
 * Leases. Every envelope claimed and not yet recorded is held by this run:
 * the writer keeps their ids (a set) and renews their leases every lease/3
 * seconds (outbox_lease_renew), so a batch that outlasts the lease (a
 * relay answering slowly, a tarpit) never sees its envelopes returned to
 * the queue and sent a second time by another worker. Outside `once`
 * runs, the writer also returns expired leases to the queue every lease/2
 * seconds (at least 5): only a crashed or stopped process's, since this
 * run's are renewed. After a SIGKILL the renewals stop, the leases run out
 * within `lease`, and the envelopes are claimed again: the crash bound
 * (at most one duplicate per connection) is the workers' (see
 * delivery_worker.c), not the lease's.
 *
 * If results cannot be recorded (after BUSY_RETRIES tries), the writer
 * fails: `fatal` is set, every waiter is released, and workers stop
 * (going on would only make duplicates); their leases expire, and their
 * sent journals tell the next run what was sent.
 *
 * Dead runs' sent journals are recovered (delivery_journal_recover) right
 * before expired leases are returned to the queue, at the start and
 * periodically, so that what a dead run sent is recorded, not sent again;
 * both under the database's recovery lock (delivery_recover_dead), which
 * the start waits for and a periodic turn skips when another process
 * holds it.
 *
 * Checkpoints. The writer's handle never checkpoints the WAL inside a
 * commit (wal_autocheckpoint = 0): SQLite's automatic checkpoint runs in
 * the commit that crosses 1,000 frames, copies them into the database and
 * syncs it twice, while every worker waiting for that commit holds its
 * message's final "." (bench/deliver, 10,000 messages: some 70 such
 * checkpoints, 146 fdatasync calls, 3.2 s of the workers' time waiting for
 * commits against 2.0-2.5 s without). A checkpointer thread of the writer, on a
 * handle of its own, runs db_checkpoint every CKPT_EVERY_MS instead, with
 * the policy of serve's (DB_WAL_RESTART_FRAMES): a PASSIVE checkpoint
 * never blocks the writer. At the writer's stop, one last checkpoint that
 * starts the WAL over, so a run leaves no large WAL behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "delivery_int.h"
#include "log.h"
#include "subs.h"

#define BUSY_RETRIES  100
#define CKPT_EVERY_MS 100
#define ROUND_RESULTS 64 /* a round when this many reports are queued ... */
#define ROUND_AGE_MS  50 /* ... or the oldest has waited this long */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the envelopes this run holds: ids in an open-addressing set ---- */

static size_t held_slot(const struct delivery_writer *w, long long id)
{
    unsigned long long h = (unsigned long long)id * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 20) & (w->heldcap - 1);
}

/* Adds `id`; 0 if it could not grow (then that lease is merely not renewed). */
static int held_add(struct delivery_writer *w, long long id)
{
    if ((w->nheld + 1) * 2 > w->heldcap) {
        size_t ncap = w->heldcap ? w->heldcap * 2 : 1024;
        long long *nv = calloc(ncap, sizeof *nv), *old = w->held;
        size_t oldcap = w->heldcap;
        if (!nv)
            return 0;
        w->held = nv;
        w->heldcap = ncap;
        w->nheld = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i])
                held_add(w, old[i]);
        free(old);
    }
    size_t i = held_slot(w, id);
    while (w->held[i] && w->held[i] != id)
        i = (i + 1) & (w->heldcap - 1);
    if (!w->held[i]) {
        w->held[i] = id;
        w->nheld++;
    }
    return 1;
}

/* Removes `id` if held (linear probing: later entries of its run move back). */
static void held_remove(struct delivery_writer *w, long long id)
{
    size_t mask = w->heldcap - 1, i, j;
    if (!w->heldcap)
        return;
    for (i = held_slot(w, id); w->held[i] != id; i = (i + 1) & mask)
        if (!w->held[i])
            return;
    w->held[i] = 0;
    w->nheld--;
    for (j = (i + 1) & mask; w->held[j]; j = (j + 1) & mask) {
        size_t k = held_slot(w, w->held[j]);
        /* move held[j] into the hole unless its home lies in (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            w->held[i] = w->held[j];
            w->held[j] = 0;
            i = j;
        }
    }
}

int delivery_writer_failed(struct delivery_writer *w)
{
    return atomic_load(&w->fatal);
}

void delivery_writer_fail(struct delivery_writer *w, const char *what)
{
    log_error("delivery: %s: %s; stopping (leased envelopes return to the queue)", what,
              merr_msg());
    atomic_store(&w->fatal, 1);
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->mu);
}

/* Runs the queued claims (mu held on entry and on return). */
static void run_claims(struct delivery_writer *w)
{
    struct delivery_claim *list = w->claims;

    w->claims = NULL;
    pthread_mutex_unlock(&w->mu);
    for (struct delivery_claim *c = list; c; c = c->next) {
        enum merr rc;
        int tries = 0;
        c->cancelled = 0;
        if (delivery_writer_failed(w)) {
            c->rc = MERR_INTERNAL;
            c->n = 0;
            snprintf(c->errmsg, sizeof c->errmsg, "the writer stopped");
            continue;
        }
        double t0 = date_mono();
        for (;;) {
            rc = outbox_claim(w->db, c->now, w->cfg->lease_seconds, c->max, &subs_consent_gate,
                              &c->env, &c->n, &c->cancelled);
            if (rc != MERR_TEMPFAIL || ++tries >= BUSY_RETRIES)
                break;
            sleep_ms(20);
        }
        w->claim_s += date_mono() - t0;
        c->rc = rc;
        if (rc) {
            c->env = NULL;
            c->n = 0;
            snprintf(c->errmsg, sizeof c->errmsg, "%s", merr_msg());
        }
        for (size_t i = 0; i < c->n; i++)
            held_add(w, c->env[i].id);
        w->cancelled += c->cancelled;
    }
    pthread_mutex_lock(&w->mu);
    for (struct delivery_claim *c = list; c; c = c->next)
        c->done = 1;
    pthread_cond_broadcast(&w->done);
}

/* Applies `n` reports in one round, retrying while the database is busy. */
static void apply_round(struct delivery_writer *w, const struct outcome_report *r, size_t n)
{
    enum merr rc = MERR_OK;
    double t0 = date_mono();
    for (int tries = 0; tries < BUSY_RETRIES; tries++) {
        rc = outcome_apply(w->db, w->cfg, r, n, date_now(), &w->tally);
        if (rc != MERR_TEMPFAIL)
            break;
        sleep_ms(50);
    }
    if (rc)
        delivery_writer_fail(w, "recording results");
    else
        for (size_t i = 0; i < n; i++)
            held_remove(w, r[i].envelope_id);
    w->record_s += date_mono() - t0;
}

/* Seconds between two renewals of this run's leases: lease/3, at least 1. */
static double renew_every(const struct delivery_writer *w)
{
    double every = w->cfg->lease_seconds / 3.0;
    return every < 1 ? 1 : every;
}

/* Seconds between two returns of expired leases: lease/2, at least 5. */
static double reclaim_every(const struct delivery_writer *w)
{
    double every = w->cfg->lease_seconds / 2.0;
    return every < 5 ? 5 : every;
}

/* Seconds until the next periodic work is due (<= 0: now). */
static double periodic_in(const struct delivery_writer *w)
{
    double now = date_mono(), renew = w->last_renew + renew_every(w) - now;
    double reclaim = w->last_reclaim + reclaim_every(w) - now;
    return w->once || renew < reclaim ? renew : reclaim;
}

static int periodic_due(const struct delivery_writer *w)
{
    return periodic_in(w) <= 0;
}

/*
 * Records what dead runs' sent journals say was sent, then returns expired
 * leases to the queue (`*back` of them); wait = 0: MERR_TEMPFAIL when
 * another process is doing it.
 */
static enum merr recover_dead(struct delivery_writer *w, int wait, long long *back)
{
    long long applied = 0;
    enum merr rc = delivery_recover_dead(w->db, w->cfg->db_path, date_now(), wait, &applied, back);
    if (applied)
        log_info("delivery: %lld envelopes of stopped runs recorded as sent from their journals",
                 applied);
    return rc;
}

/* Renews this run's leases and returns others' expired ones, when due (mu not held). */
static void periodic(struct delivery_writer *w)
{
    double now = date_mono();
    long long back = 0;

    if (now - w->last_renew >= renew_every(w)) {
        long long *ids = malloc((w->nheld ? w->nheld : 1) * sizeof *ids);
        size_t n = 0;
        w->last_renew = now;
        for (size_t i = 0; ids && i < w->heldcap; i++)
            if (w->held[i])
                ids[n++] = w->held[i];
        if (!ids || outbox_lease_renew(w->db, ids, n, date_now() + w->cfg->lease_seconds, NULL))
            log_warn("delivery: renewing %zu leases: %s", w->nheld,
                     ids ? merr_msg() : "out of memory");
        free(ids);
    }
    if (!w->once && now - w->last_reclaim >= reclaim_every(w)) {
        w->last_reclaim = now;
        enum merr rc = recover_dead(w, 0, &back);
        if (rc == MERR_TEMPFAIL)
            log_debug("delivery: %s; expired leases at the next turn", merr_msg());
        else if (rc)
            log_warn("delivery: stopped runs' journals and expired leases: %s; kept until the "
                     "next turn",
                     merr_msg());
        else if (back)
            log_info("delivery: %lld expired leases returned to the queue", back);
    }
}

/* Seconds until the queued reports are old enough for a round (<= 0: now; large: none). */
static double round_in(const struct delivery_writer *w)
{
    if (w->qn == 0)
        return 1e9;
    return w->q_since + ROUND_AGE_MS / 1000.0 - date_mono();
}

/* A round is due: someone waits for it, or enough reports are queued, or for long enough. */
static int round_due(const struct delivery_writer *w)
{
    return w->qn > 0 && (w->waiters > 0 || w->qn >= ROUND_RESULTS || round_in(w) <= 0);
}

/* Waits on `cv` (mu held) at most `secs` seconds; the writer's conds use CLOCK_MONOTONIC. */
static void timed_wait(struct delivery_writer *w, pthread_cond_t *cv, double secs)
{
    struct timespec ts = date_mono_deadline(secs);
    pthread_cond_timedwait(cv, &w->mu, &ts);
}

/* Waits on `work` (mu held), at most until the periodic work or a round is due. */
static void wait_for_work(struct delivery_writer *w)
{
    double left = periodic_in(w), round = round_in(w);
    if (round < left)
        left = round;
    if (left > 0)
        timed_wait(w, &w->work, left);
}

static void *writer_main(void *arg)
{
    struct delivery_writer *w = arg;
    struct outcome_report *batch = NULL;
    size_t bcap = 0;

    delivery_thread_name("dlv-writer");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        /* every report waits for a reason (round_due), or the end */
        while (!w->stop && !w->claims && !round_due(w) && !periodic_due(w))
            wait_for_work(w);
        if (periodic_due(w)) {
            pthread_mutex_unlock(&w->mu);
            periodic(w);
            pthread_mutex_lock(&w->mu);
        }
        if (w->claims && w->qn == 0) {
            run_claims(w);
            continue;
        }
        if (w->qn == 0) {
            if (w->stop)
                break;
            continue;
        }
        if (!w->stop && !w->claims && !round_due(w))
            continue;
        /* take everything queued: one transaction for all of it */
        struct outcome_report *tmp = batch;
        size_t tcap = bcap, n = w->qn;
        unsigned long long upto = w->submitted;
        batch = w->q;
        bcap = w->qcap;
        w->q = tmp;
        w->qcap = tcap;
        w->qn = 0;
        pthread_mutex_unlock(&w->mu);

        apply_round(w, batch, n);

        pthread_mutex_lock(&w->mu);
        w->rounds++;
        w->committed = upto;
        pthread_cond_broadcast(&w->done);
        if (w->claims)
            run_claims(w);
    }
    pthread_mutex_unlock(&w->mu);
    free(batch);
    return NULL;
}

/* The checkpointer (see the top): every CKPT_EVERY_MS until told to stop. */
static void *ckpt_main(void *arg)
{
    struct delivery_writer *w = arg;

    delivery_thread_name("dlv-checkpoint");
    pthread_mutex_lock(&w->mu);
    while (!w->ckpt_stop) {
        timed_wait(w, &w->ckpt_wake, CKPT_EVERY_MS / 1000.0);
        if (w->ckpt_stop)
            break;
        pthread_mutex_unlock(&w->mu);
        if (db_checkpoint(w->ckpt_db, DB_WAL_RESTART_FRAMES, DB_WAL_READER_WAIT_MS, NULL))
            log_warn("delivery: checkpoint: %s", merr_msg());
        else
            w->checkpoints++;
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

enum merr delivery_writer_start(struct delivery_writer *w, const struct config *cfg, int once)
{
    pthread_condattr_t ca;
    long long reclaimed = 0;
    enum merr rc;

    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    w->once = once;
    atomic_init(&w->fatal, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work, &ca);
    pthread_cond_init(&w->ckpt_wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->done, NULL);
    rc = db_open(cfg->db_path, cfg->db_busy_timeout_ms, &w->db);
    if (!rc)
        rc = db_exec(w->db, "PRAGMA wal_autocheckpoint=0");
    if (!rc)
        rc = db_open(cfg->db_path, cfg->db_busy_timeout_ms, &w->ckpt_db);
    if (rc)
        return rc;
    /* a crashed run's envelopes: what it sent recorded, the rest back to
     * queued, before anything is claimed */
    rc = recover_dead(w, 1, &reclaimed);
    if (rc)
        return rc;
    if (reclaimed)
        log_info("delivery: %lld envelopes with expired leases returned to the queue", reclaimed);
    w->last_reclaim = w->last_renew = date_mono();
    if (pthread_create(&w->ckpt_th, NULL, ckpt_main, w) != 0)
        return merr_set(MERR_INTERNAL, "cannot start the checkpointer thread");
    w->ckpt_started = 1;
    if (pthread_create(&w->th, NULL, writer_main, w) != 0)
        return merr_set(MERR_INTERNAL, "cannot start the writer thread");
    w->started = 1;
    return MERR_OK;
}

/* Sets a thread's stop flag (under mu), wakes it on `cv` and joins it. */
static void stop_thread(struct delivery_writer *w, int *stop, pthread_cond_t *cv, pthread_t th)
{
    pthread_mutex_lock(&w->mu);
    *stop = 1;
    pthread_cond_signal(cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(th, NULL);
}

void delivery_writer_stop(struct delivery_writer *w)
{
    if (w->started) {
        stop_thread(w, &w->stop, &w->work, w->th);
        w->started = 0;
    }
    if (w->ckpt_started) {
        stop_thread(w, &w->ckpt_stop, &w->ckpt_wake, w->ckpt_th);
        w->ckpt_started = 0;
        /* everything is recorded: the WAL starts over (restart at any size) */
        if (db_checkpoint(w->ckpt_db, 1, DB_WAL_READER_WAIT_MS, NULL))
            log_warn("delivery: last checkpoint: %s", merr_msg());
    }
    db_close(w->ckpt_db);
    w->ckpt_db = NULL;
    free(w->q);
    w->q = NULL;
    free(w->held);
    w->held = NULL;
    db_close(w->db);
    w->db = NULL;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->ckpt_wake);
}

unsigned long long delivery_writer_submit(struct delivery_writer *w, const struct outcome_report *r,
                                          size_t n)
{
    unsigned long long ticket;
    pthread_mutex_lock(&w->mu);
    if (w->qn + n > w->qcap) {
        size_t ncap = w->qcap ? w->qcap : 256;
        while (ncap < w->qn + n)
            ncap *= 2;
        struct outcome_report *p = realloc(w->q, ncap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&w->mu);
            merr_set(MERR_NOMEM, "out of memory");
            delivery_writer_fail(w, "queueing results");
            return 0;
        }
        w->q = p;
        w->qcap = ncap;
    }
    if (w->qn == 0)
        w->q_since = date_mono();
    memcpy(w->q + w->qn, r, n * sizeof *r);
    w->qn += n;
    ticket = ++w->submitted;
    /* the first report starts the writer's timer (ROUND_AGE_MS) */
    if (w->waiters || w->qn == n || w->qn >= ROUND_RESULTS)
        pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return ticket;
}

int delivery_writer_committed(struct delivery_writer *w, unsigned long long ticket)
{
    pthread_mutex_lock(&w->mu);
    int yes = w->committed >= ticket;
    pthread_mutex_unlock(&w->mu);
    return yes;
}

void delivery_writer_wait(struct delivery_writer *w, unsigned long long ticket)
{
    pthread_mutex_lock(&w->mu);
    if (w->committed < ticket && !delivery_writer_failed(w)) {
        double t0 = date_mono();
        w->waiters++;
        pthread_cond_signal(&w->work);
        while (w->committed < ticket && !delivery_writer_failed(w))
            pthread_cond_wait(&w->done, &w->mu);
        w->waiters--;
        w->wait_s += date_mono() - t0;
    }
    pthread_mutex_unlock(&w->mu);
}

void delivery_writer_claim_start(struct delivery_writer *w, struct delivery_claim *c, time_t now,
                                 size_t max)
{
    pthread_mutex_lock(&w->mu);
    c->now = now;
    c->max = max;
    c->done = 0;
    c->next = NULL;
    struct delivery_claim **tail = &w->claims;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
}

void delivery_writer_claim_finish(struct delivery_writer *w, struct delivery_claim *c)
{
    pthread_mutex_lock(&w->mu);
    while (!c->done)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}
