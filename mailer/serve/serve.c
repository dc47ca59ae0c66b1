/*
 * serve.c: the parent of `mailer serve`: its parts, their health, the
 * checkpoints and the housekeeping, and the order of a stop.
 *
 * Parts. The HTTP front is started first and on the calling thread (it
 * runs libmicrohttpd's own pool): a listen address that cannot be bound
 * fails the start before anything else runs. Every other part is a row of
 * `parts` below: a function that runs until its stop flag is set, on a
 * thread of its own, with its own database handles. A new part (the
 * bounce poller) is one row; nothing else here changes, and /healthz
 * shows it under its name. The parent keeps each part's state (wanted,
 * alive) in atomics that the front's request threads read through the
 * http_health callback.
 *
 * Chores. The parent's own thread wakes every 100 ms and runs the chores
 * that are due on a handle of its own: a PASSIVE WAL checkpoint each time
 * (it never waits for or blocks a writer, and request handles never
 * checkpoint inside a commit: http_db.c), followed by a RESTART one when
 * the WAL has grown past 256 MiB (below), and each part's housekeeping
 * about once a minute (http_housekeep: old rate windows and nonces;
 * abandoned admin sessions every ten minutes), and every second a batch of
 * new subscribers' names into the admin's search index (subs_search_index:
 * an import of a million rows is indexed in the background, not during it).
 *
 * Stop. The front first (no new requests, those in flight finish), then
 * the other parts in the reverse order of the table: the digest scheduler
 * before the delivery workers, so a digest the scheduler creates while
 * stopping is delivered at the next start rather than abandoned mid-batch.
 */
#include "serve.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "bounce.h"
#include "date.h"
#include "db.h"
#include "delivery.h"
#include "digest.h"
#include "http.h"
#include "log.h"
#include "subs.h"

struct serve_part {
    const char *name; /* its key in /healthz */
    const char *what; /* in the log */
    /* Runs until *stop is set; an error return ends only this part. */
    enum merr (*run)(const struct config *cfg, atomic_int *stop);
};

static enum merr run_delivery(const struct config *cfg, atomic_int *stop)
{
    return delivery_run(cfg, 0, stop, NULL);
}

/* In start order; stopped in the reverse order (see the top). */
static const struct serve_part parts[] = {
    {"workers", "delivery workers", run_delivery},
    {"scheduler", "digest scheduler", digest_scheduler_run},
    {"bounces", "bounce poller", bounce_poll_run},
};
#define NPARTS (sizeof parts / sizeof parts[0])

struct serve_chore {
    const char *what;
    int every_s; /* at most once per this many seconds; 0: every wake-up */
    enum merr (*run)(struct db *db, time_t now);
};

/*
 * The WAL checkpoint: PASSIVE at each wake-up, and when the WAL holds 65,536
 * frames or more (256 MiB of 4 KiB pages) a RESTART that waits at most 2 ms
 * for readers, so that the WAL file starts over (db_checkpoint). With
 * PASSIVE alone the WAL never started over while shares kept coming:
 * bench/http left a WAL of 209 MB after a few seconds, and it grows for as
 * long as the load lasts. A RESTART blocks writers while it copies and
 * syncs: at 4,096 frames it ran about ten times a second under bench/http
 * (a share writes some 26 frames) and its waits cost more than the growth
 * (~100 lock waits per 10 s round, 0.6-1.1 s slept, p99 up to 160 ms); at
 * 65,536, every second or two, ~25 waits and 0.15-0.26 s. The delivery
 * writer's checkpointer (delivery_writer.c) runs the same policy on its own
 * thread; when both try at once, one finds the other at work and yields.
 */
static enum merr checkpoint(struct db *db, time_t now)
{
    (void)now;
    return db_checkpoint(db, DB_WAL_RESTART_FRAMES, DB_WAL_READER_WAIT_MS, NULL);
}

/* Sessions past the longest idle and absolute expiry [admin] allows (7 d, 30 d). */
static enum merr admin_sessions(struct db *db, time_t now)
{
    return admin_housekeep_sessions(db, now, 7 * 86400, 30 * 86400);
}

/* A batch of new subscribers' names into the search index (subs_search.c). */
static enum merr name_index(struct db *db, time_t now)
{
    (void)now;
    return subs_search_index(db, 20000, NULL);
}

static const struct serve_chore chores[] = {
    {"checkpoint", 0, checkpoint},
    {"http housekeeping", 60, http_housekeep},
    {"admin sessions", 600, admin_sessions},
    {"subscriber name index", 1, name_index},
};
#define NCHORES (sizeof chores / sizeof chores[0])

/* A part as the parent runs it. */
struct serve_thread {
    const struct serve_part *part;
    const struct config *cfg;
    pthread_t th;
    atomic_int stop;
    atomic_int alive;
    int wanted;  /* to run in this process */
    int started; /* its thread exists and must be joined */
    enum merr rc;
};

static void *part_main(void *arg)
{
    struct serve_thread *t = arg;
    t->rc = t->part->run(t->cfg, &t->stop);
    if (t->rc)
        log_error("serve: %s stopped: %s", t->part->what, merr_msg());
    atomic_store(&t->alive, 0);
    return NULL;
}

/* http_health.parts: called from the front's request threads. */
static size_t health_parts(void *arg, struct http_part_health *out, size_t max)
{
    struct serve_thread *t = arg;
    size_t n = 0;
    for (; n < NPARTS && n < max; n++) {
        out[n].name = t[n].part->name;
        out[n].wanted = t[n].wanted;
        out[n].alive = atomic_load(&t[n].alive);
    }
    return n;
}

static enum merr part_start(struct serve_thread *t)
{
    if (pthread_create(&t->th, NULL, part_main, t) != 0) {
        atomic_store(&t->alive, 0);
        return merr_set(MERR_INTERNAL, "cannot start the %s thread", t->part->what);
    }
    t->started = 1;
    return MERR_OK;
}

static void chores_run(struct db *db, time_t *last)
{
    time_t now = time(NULL); /* when: the real clock; what "old" means: the program's */
    for (size_t i = 0; i < NCHORES; i++) {
        if (chores[i].every_s && now - last[i] < chores[i].every_s)
            continue;
        last[i] = now;
        if (chores[i].run(db, date_now()))
            log_warn("serve: %s: %s", chores[i].what, merr_msg());
    }
}

enum merr serve_run(const struct config *cfg, atomic_int *stop, int workers)
{
    struct serve_thread t[NPARTS];
    struct http_health health = {health_parts, t};
    struct http_front *front = NULL;
    struct db *db = NULL;
    time_t last[NCHORES];
    enum merr rc;

    memset(t, 0, sizeof t);
    memset(last, 0, sizeof last);
    for (size_t i = 0; i < NPARTS; i++) {
        t[i].part = &parts[i];
        t[i].cfg = cfg;
        t[i].wanted = workers != 0;
        atomic_init(&t[i].stop, 0);
        /* "alive" is "has not ended": a wanted part is running for
         * /healthz from the front's first request on */
        atomic_init(&t[i].alive, t[i].wanted);
    }
    rc = http_front_start(cfg, &health, &front);
    if (rc)
        goto out;
    rc = db_open(cfg->db_path, cfg->db_busy_timeout_ms, &db);
    if (rc)
        goto out;
    for (size_t i = 0; i < NPARTS; i++) {
        if (!t[i].wanted)
            continue;
        rc = part_start(&t[i]);
        if (rc)
            goto out;
    }
    while (!atomic_load(stop)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        chores_run(db, last);
        nanosleep(&ts, NULL);
    }
    rc = MERR_OK;
out:
    http_front_stop(front);
    for (size_t i = NPARTS; i-- > 0;) {
        if (!t[i].started)
            continue;
        atomic_store(&t[i].stop, 1);
        pthread_join(t[i].th, NULL);
        log_info("serve: %s stopped", t[i].part->what);
    }
    db_close(db);
    return rc;
}
