/*
 * delivery.c: delivery_run: sets up a run's shared pieces, starts the
 * writer and `connections` workers, joins them and sums up.
 *
 * The pieces are one idea per file (delivery_int.h): rate limits, the plan
 * cache, the single writer and the workers. This file only wires them:
 * the batch size a worker claims (batch_size, never more than an SMTP
 * connection may carry, nor more than a second's worth under a global
 * rate) and the order of a stop: workers finish (each its message in flight; the
 * rest of its batch goes back to queued), then the writer applies what is
 * left and stops. Its totals are the writer's: what was recorded, not what
 * was attempted.
 */
#include "delivery.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery_int.h"
#include "log.h"
#include "transport.h"

void delivery_thread_name(const char *fmt, ...)
{
    char name[16]; /* Linux: 15 characters and the NUL */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    pthread_setname_np(pthread_self(), name);
}

/* The run's shared settings; MERR_CONFIG without a secret. */
static enum merr run_init(struct delivery_run_ctx *run, const struct config *cfg, int once,
                          atomic_int *stop)
{
    memset(run, 0, sizeof *run);
    run->cfg = cfg;
    run->once = once;
    run->stop = stop;
    run->batch_max = (size_t)(cfg->batch_size > 0 ? cfg->batch_size : 1);
    if (cfg->smtp_messages_per_connection > 0 &&
        (size_t)cfg->smtp_messages_per_connection < run->batch_max)
        run->batch_max = (size_t)cfg->smtp_messages_per_connection;
    if (cfg->rate > 0 && (double)run->batch_max > ceil(cfg->rate))
        run->batch_max = (size_t)ceil(cfg->rate);
    if (!cfg->secret || !cfg->secret[0])
        return merr_set(MERR_CONFIG, "[mail] secret: needed for VERP addresses");
    return MERR_OK;
}

enum merr delivery_run(const struct config *cfg, int once, atomic_int *stop,
                       struct delivery_stats *stats)
{
    static atomic_int never;
    struct delivery_run_ctx run;
    struct delivery_rate rate;
    struct delivery_plans plans;
    struct delivery_writer writer;
    struct delivery_worker *w = NULL;
    int nw = cfg->connections > 0 ? cfg->connections : 1;
    int plans_ok = 0, writer_ok = 0;
    enum merr rc;

    if (stats)
        memset(stats, 0, sizeof *stats);
    memset(&writer, 0, sizeof writer);
    delivery_rate_init(&rate, cfg);
    rc = run_init(&run, cfg, once, stop ? stop : &never);
    if (rc)
        goto out;
    if (!strncmp(cfg->transport, "smtp", 4) && strncmp(cfg->site_base_url, "https://", 8))
        log_warn("delivery: [site] base_url %s is not https: list mail goes without "
                 "List-Unsubscribe-Post (RFC 8058 one-click needs an https URL), which Gmail and "
                 "Yahoo require of bulk senders; set base_url to this service's https address "
                 "(`mailer doctor` lists what else is missing)",
                 cfg->site_base_url);
    rc = delivery_plans_init(&plans, cfg);
    plans_ok = 1;
    if (rc)
        goto out;
    rc = delivery_writer_start(&writer, cfg, once);
    writer_ok = 1;
    if (rc)
        goto out;
    run.rate = &rate;
    run.plans = &plans;
    run.writer = &writer;
    w = calloc((size_t)nw, sizeof *w);
    if (!w) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < nw; i++)
        w[i].journal.fd = -1;
    for (int i = 0; i < nw; i++) {
        w[i].run = &run;
        w[i].index = i;
        if (delivery_journal_open(&w[i].journal, cfg->db_path))
            log_warn("delivery: worker %d: %s; it waits for each sent result's commit instead", i,
                     merr_msg());
        buf_init(&w[i].out, cfg->message_max_bytes);
        rc = db_open(cfg->db_path, cfg->db_busy_timeout_ms, &w[i].db);
        if (!rc)
            rc = transport_open(cfg, &w[i].tp);
        if (rc)
            goto out;
    }
    for (int i = 0; i < nw; i++) {
        if (pthread_create(&w[i].th, NULL, delivery_worker_main, &w[i]) != 0) {
            rc = merr_set(MERR_INTERNAL, "cannot start worker thread %d", i);
            delivery_writer_fail(&writer, "starting the workers");
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
    if (!rc && delivery_writer_failed(&writer))
        rc = merr_set(MERR_DB, "delivery stopped: results could not be recorded");
out:
    if (writer_ok)
        delivery_writer_stop(&writer);
    if (w) {
        for (int i = 0; i < nw; i++) {
            transport_close(w[i].tp);
            db_close(w[i].db);
            delivery_journal_close(&w[i].journal);
        }
        free(w);
    }
    if (stats) {
        stats->sent = writer.tally.sent;
        stats->deferred = writer.tally.deferred;
        stats->failed = writer.tally.failed;
        stats->cancelled = writer.tally.cancelled + writer.cancelled;
    }
    log_info("delivery: sent %lld, deferred %lld, failed %lld, cancelled %lld (%llu commits, "
             "%.2f s; claims %.2f s; workers waited %.2f s for commits; %llu checkpoints)",
             writer.tally.sent, writer.tally.deferred, writer.tally.failed,
             writer.tally.cancelled + writer.cancelled, writer.rounds, writer.record_s,
             writer.claim_s, writer.wait_s, writer.checkpoints);
    if (plans_ok)
        delivery_plans_free(&plans);
    delivery_rate_free(&rate);
    return rc;
}
