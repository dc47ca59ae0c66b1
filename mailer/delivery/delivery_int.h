/*
 * delivery_int.h: the pieces of the delivery module, one idea per file,
 * each with its own lock (not for other modules).
 *
 *   delivery_rate.c    token buckets: how fast, overall and per domain
 *   delivery_plans.c   the plan cache: each send's plan built once, shared
 *   delivery_writer.c  the single writer: claims, results (through
 *                      outcome_apply), lease renewal, the commit waits
 *   delivery_journal.c each worker's sent journal (the crash bound), and
 *                      the recovery of a dead run's
 *   delivery_worker.c  a worker: claim, prepare, render on demand, send,
 *                      report each outcome
 *   delivery.c         delivery_run: starts and joins them
 *
 * Threads: `connections` workers and one writer. A worker owns its
 * database handle (read only: plans, tokens), its transport and its
 * message buffer; the writer owns the only handle that writes the outbox.
 * What workers share is reached through struct delivery_run_ctx, and each
 * shared piece guards itself.
 */
#ifndef MAILER_DELIVERY_DELIVERY_INT_H
#define MAILER_DELIVERY_DELIVERY_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "delivery.h"
#include "err.h"
#include "outbox.h"
#include "outcome.h"

struct dkimsig;

struct tpl_set;
struct compose_plan;

/* ---- delivery_rate.c ---- */

struct delivery_bucket {
    double rate;   /* tokens per second; 0 = unlimited */
    double burst;  /* most tokens kept */
    double tokens; /* may go negative: reserved ahead */
    double last;   /* monotonic seconds of the last refill */
};

#define DELIVERY_DOMAIN_SLOTS 64

struct delivery_rate {
    pthread_mutex_t mu;
    double per_domain; /* [delivery] per_domain_rate */
    struct delivery_bucket global;
    struct {
        char domain[256];
        struct delivery_bucket b;
    } domains[DELIVERY_DOMAIN_SLOTS];
    size_t ndomains;
};

void delivery_rate_init(struct delivery_rate *r, const struct config *cfg);
void delivery_rate_free(struct delivery_rate *r);

/*
 * Reserves the tokens for one message to `rcpt` (the global bucket and its
 * domain's); returns the seconds until they are due (0: now). The caller
 * sleeps that long, so the average rate holds across threads.
 */
double delivery_rate_reserve(struct delivery_rate *r, const char *rcpt);

/* ---- delivery_plans.c ---- */

/* One send's plan as every worker renders from it (immutable once built). */
struct delivery_plan {
    long long send_id;
    struct compose_plan *plan; /* NULL when `err` */
    json_t *inputs;
    enum outbox_kind kind;
    long long list_id;
    char list_slug[128];
    char *salt;
    enum merr err;    /* MERR_OK: usable; else why it cannot be (merr_class: retry?) */
    char errmsg[256]; /* ... in words */
    int refs;         /* under the cache lock */
    unsigned long long last_use;
};

struct delivery_plans {
    const struct config *cfg;
    struct tpl_set *tpls;              /* loaded lazily under `mu` */
    struct dkimsig *signer;            /* DKIM keys, loaded at start; NULL: not signing */
    struct compose_media_cache *media; /* derived images between plans, used under `mu` */
    pthread_mutex_t mu;
    struct delivery_plan **v;
    size_t n, cap;
    unsigned long long clock;
};

/*
 * Opens the template set and loads the DKIM keys once (dkimsig_from_config:
 * a missing or unsafe key stops delivery here). MERR_CONFIG/MERR_IO from
 * tpl_set_open (wrapped) or the keys.
 */
enum merr delivery_plans_init(struct delivery_plans *c, const struct config *cfg);
void delivery_plans_free(struct delivery_plans *c);

/*
 * The plan of `send_id`, built on first use with `db` (the caller's read
 * handle) and referenced until delivery_plans_put. A plan that cannot be
 * built comes back with `err` set (cached when permanent, so the send's
 * envelopes fail fast). NULL only without memory.
 */
struct delivery_plan *delivery_plans_get(struct delivery_plans *c, struct db *db,
                                         long long send_id);
void delivery_plans_put(struct delivery_plans *c, struct delivery_plan *p);

/*
 * Names the calling thread (printf-style, at most 15 characters), as top,
 * perf and /proc/PID/task/TID/comm show it; bench/deliver adds up the
 * run-queue wait of each kind of thread by these names.
 */
__attribute__((format(printf, 1, 2))) void delivery_thread_name(const char *fmt, ...);

/* ---- delivery_writer.c ---- */

/* A worker's request for its next batch, run by the writer on its handle. */
struct delivery_claim {
    struct delivery_claim *next;
    time_t now;
    size_t max;
    int done; /* the fields below are set */
    enum merr rc;
    char errmsg[256];
    struct outbox_envelope *env;
    size_t n;
    long long cancelled;
};

struct delivery_writer {
    const struct config *cfg;
    int once;
    struct db *db;
    pthread_t th;
    int started;
    atomic_int fatal; /* results can no longer be recorded: everyone stops */

    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct outcome_report *q; /* queued reports */
    size_t qn, qcap;
    unsigned long long submitted, committed; /* tickets */
    int waiters;                             /* threads in delivery_writer_wait */
    double wait_s;                           /* the workers' time in delivery_writer_wait, summed */
    double q_since;                /* monotonic seconds when the oldest queued report came */
    struct delivery_claim *claims; /* claims to run, in order */
    int stop;

    /* the writer thread's own (read after it is joined) */
    unsigned long long rounds;
    double claim_s, record_s;
    double last_reclaim, last_renew;
    long long *held; /* ids claimed and not yet recorded: an open-addressing set */
    size_t nheld, heldcap;
    struct outcome_tally tally;
    long long cancelled; /* at claim time (no longer wanted) */

    /* the checkpointer: its own thread and handle (see delivery_writer.c) */
    struct db *ckpt_db;
    pthread_t ckpt_th;
    int ckpt_started, ckpt_stop; /* ckpt_stop: under mu */
    pthread_cond_t ckpt_wake;
    unsigned long long checkpoints; /* read after it is joined */
};

/*
 * Opens the writer's handle, returns expired leases (a crashed run's) to
 * the queue and starts the writer thread, which renews the leases of every
 * envelope this run holds (claimed and not yet recorded) every lease/3
 * seconds. `once`: no periodic return of other processes' expired leases
 * (the run ends when nothing is due). MERR_DB, MERR_INTERNAL.
 */
enum merr delivery_writer_start(struct delivery_writer *w, const struct config *cfg, int once);

/* Applies what is queued, stops the thread and closes the handle. */
void delivery_writer_stop(struct delivery_writer *w);

/* 1 once results can no longer be recorded (then every worker stops). */
int delivery_writer_failed(struct delivery_writer *w);

/* Marks the writer failed (what failed is in merr_msg, logged). */
void delivery_writer_fail(struct delivery_writer *w, const char *what);

/* Queues reports for the writer; returns the ticket to wait for (0: none queued). */
unsigned long long delivery_writer_submit(struct delivery_writer *w, const struct outcome_report *r,
                                          size_t n);

/* 1 if everything up to `ticket` is committed; does not wait. */
int delivery_writer_committed(struct delivery_writer *w, unsigned long long ticket);

/* Waits until everything up to `ticket` is committed (or the writer failed). */
void delivery_writer_wait(struct delivery_writer *w, unsigned long long ticket);

/* Asks for a batch claimed at `now` (at most the run's batch size); does not wait. */
void delivery_writer_claim_start(struct delivery_writer *w, struct delivery_claim *c, time_t now,
                                 size_t max);

/* Waits for a claim started with delivery_writer_claim_start. */
void delivery_writer_claim_finish(struct delivery_writer *w, struct delivery_claim *c);

/* ---- delivery_journal.c ---- */

/* A worker's sent journal (see delivery_journal.c). */
struct delivery_journal {
    int fd; /* -1: none; the worker then waits for commits before each "." */
    char path[4096];
    size_t records;                 /* in the file since its last truncation */
    unsigned long long last_ticket; /* the writer's ticket of the last record */
};

/* Creates and locks a new journal beside the database. MERR_IO, MERR_INVAL. */
enum merr delivery_journal_open(struct delivery_journal *j, const char *db_path);

/*
 * Appends the sent report `r`, handed to the writer as `ticket`, with one
 * write(2). 0, or -1 when it could not be written: the file is then given
 * up (fd -1) and the caller waits for the commit instead. errno is kept.
 */
int delivery_journal_append(struct delivery_journal *j, const struct outcome_report *r,
                            unsigned long long ticket);

/* Every record is committed: the file goes back to its header. errno is kept. */
void delivery_journal_forget(struct delivery_journal *j);

/* Closes it; removes it when it holds no record (else the next run recovers it). */
void delivery_journal_close(struct delivery_journal *j);

/*
 * The records of a journal's bytes `buf`, as sent results in `*out` (`*n`
 * of them, malloc'd); `*ignored` = the bytes after the last whole, intact
 * record. MERR_INVAL when it is not a journal of this format, MERR_NOMEM.
 */
enum merr delivery_journal_parse(const unsigned char *buf, size_t len, struct outbox_result **out,
                                 size_t *n, size_t *ignored);

/*
 * Applies the journals of dead runs of the database `db_path` (their lock
 * is free) to the envelopes still sending, through `db`, and removes them;
 * `*applied` = envelopes recorded as sent. MERR_IO, MERR_DB, MERR_NOMEM.
 */
enum merr delivery_journal_recover(struct db *db, const char *db_path, long long *applied);

/*
 * Takes the database's recovery lock ("<db_path>-recover.lock", flock) in
 * `*fd_out`; close it to let go. wait = 0: MERR_TEMPFAIL at once when
 * another process holds it. MERR_IO, MERR_INVAL.
 */
enum merr delivery_recover_lock(const char *db_path, int wait, int *fd_out);

/*
 * A dead run's envelopes, under the recovery lock: its sent journals
 * recorded (delivery_journal_recover), then every lease expired at `now`
 * returned to the queue (outbox_reclaim_expired), `*applied` and
 * `*reclaimed` of them. Nothing is done when the lock is busy and wait = 0
 * (MERR_TEMPFAIL: try at the next turn).
 */
enum merr delivery_recover_dead(struct db *db, const char *db_path, time_t now, int wait,
                                long long *applied, long long *reclaimed);

/* ---- delivery_worker.c ---- */

/* What a run's workers share: each piece guards itself. */
struct delivery_run_ctx {
    const struct config *cfg;
    int once;
    atomic_int *stop;
    size_t batch_max;
    struct delivery_rate *rate;
    struct delivery_plans *plans;
    struct delivery_writer *writer;
};

struct delivery_batch;
struct crypto_hmac;
struct transport;

struct delivery_worker {
    struct delivery_run_ctx *run;
    int index;
    struct db *db; /* reads only: plans, suppressions, tokens */
    struct transport *tp;
    pthread_t th;
    int started;
    enum merr rc;
    char errmsg[512];
    unsigned long long ticket;       /* last reports handed to the writer */
    unsigned long long sent_ticket;  /* ... that held a sent message */
    struct delivery_batch *b;        /* the batch being sent (transport hooks) */
    struct buf out;                  /* the message being sent (on_load) */
    int out_busy;                    /* `out` holds a message not yet released */
    struct crypto_hmac *secret_mac;  /* cfg->secret, prepared (VERP/ENVID); NULL: one-shot */
    struct crypto_hmac *salt_mac;    /* the last send's salt, prepared (Message-ID) */
    struct delivery_journal journal; /* sent results not yet committed (the crash bound) */
};

/* The worker thread (pthread start routine; arg: struct delivery_worker). */
void *delivery_worker_main(void *arg);

#endif
