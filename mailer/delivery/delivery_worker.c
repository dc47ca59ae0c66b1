/*
 * delivery_worker.c: one worker: claim a batch, prepare it, send it over
 * one connection, report every envelope's outcome to the writer.
 *
 * A worker owns a database handle (reads only), a transport and one
 * message buffer, and loops: ask the writer for a batch of due envelopes
 * (claimed with a lease, and let through by subscribers' consent check,
 * the one check of "may we mail this person"), look up each send's plan (delivery_plans.c), wait
 * for the rate limits, and hand the batch to the transport. Envelopes that never reach the
 * transport (no plan, a plan that cannot be built) are reported at once. The next batch is asked
 * for as soon as this one goes to the transport, so the claim overlaps with the sending; a batch
 * claimed ahead but not sent (stopping) is reported unsent, back to queued.
 *
 * Memory. Messages are rendered when the transport needs their data
 * (transport_hooks.load: after the server's go-ahead for DATA) into the
 * worker's one buffer, reused: a worker holds one rendered message, not
 * its batch (libESMTP would otherwise need every message of a session
 * until the session ends). A render failure then drops that connection
 * (SMTP cannot abandon one message); the envelope is reported with the
 * render's error, the session's later messages as the transport saw them.
 *
 * Reports, not decisions. For each message the worker reports the class
 * of the outcome (merr_class of the transport's result) and the server's
 * reply (struct outcome_report); the writer decides the next state and any
 * suppression (outcome.h). The worker only counts the reply class for
 * /metrics.
 *
 * Crash safety. The transport reports each message as soon as the server
 * has answered the end of its data (transport_send: done), before the
 * next message starts on that connection; the worker hands the report to
 * the writer and, when the message was accepted, appends it to its sent
 * journal (delivery_journal.c) with one write(2), which outlives the
 * process as a commit does. So at any instant a connection has at most
 * one message that the server accepted and that neither the outbox nor a
 * journal says is sent: after a crash (SIGKILL) at most `connections`
 * messages are sent twice, whatever batch_size is, and none is lost (the
 * next run records the journals' results, the leases expire and the rest
 * is claimed again). The writer commits the results in rounds of its own
 * choosing. Only if the journal cannot be written does the worker wait,
 * when the next message's data is written up to its end (before_end),
 * until the writer has committed every sent report it handed over, and
 * only then let the transport write the final "." the server needs to
 * accept that message. Failures are not journaled nor waited for: sending
 * them again duplicates nothing. (Power loss is outside this bound: the
 * journals are not synced, and the database runs with synchronous =
 * NORMAL, so the last results before it may be lost.)
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "compose.h"
#include "crypto.h"
#include "date.h"
#include "delivery_int.h"
#include "log.h"
#include "metrics.h"
#include "subs.h"
#include "transport.h"

#define IDLE_SLEEP_MS 1000

/* A claimed batch on its way through the transport. */
struct delivery_batch {
    struct outbox_envelope *env;
    size_t n;
    struct outcome_report *rep;  /* rep[i]: env[i]'s report */
    struct outcome_report *rest; /* reports of envelopes not in msgs (the others: on_done) */
    struct transport_msg *msgs;
    size_t *msg_env; /* msgs[k] belongs to env[msg_env[k]]; increasing in k */
    size_t nmsgs;
    struct delivery_plan **plan;       /* msgs[k]'s plan, referenced until the batch ends */
    struct compose_personal *personal; /* msgs[k]'s personal parts (compose_personal) */
    unsigned char *unrendered;         /* msgs[k] could not be rendered: its report is set */
    size_t nplanned;                   /* plan[0..nplanned), personal[...) are held */
    size_t cap;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sleeps `seconds`, in short steps; returns 1 if the run was told to stop meanwhile. */
static int sleep_unless_stopped(struct delivery_run_ctx *run, double seconds)
{
    while (seconds > 0) {
        if (atomic_load(run->stop))
            return 1;
        double step = seconds > 0.1 ? 0.1 : seconds;
        sleep_ms((long)(step * 1000) + 1);
        seconds -= step;
    }
    return atomic_load(run->stop) != 0;
}

/* 1 once the worker must stop: told to, or results can no longer be recorded. */
static int stopping(struct delivery_run_ctx *run)
{
    return atomic_load(run->stop) || delivery_writer_failed(run->writer);
}

static enum merr batch_reserve(struct delivery_batch *b, size_t n)
{
    if (n <= b->cap)
        return MERR_OK;
    struct outcome_report *rep = realloc(b->rep, n * sizeof *rep);
    if (rep)
        b->rep = rep;
    struct transport_msg *msgs = realloc(b->msgs, n * sizeof *msgs);
    if (msgs)
        b->msgs = msgs;
    size_t *me = realloc(b->msg_env, n * sizeof *me);
    if (me)
        b->msg_env = me;
    struct compose_personal *personal = realloc(b->personal, n * sizeof *personal);
    if (personal)
        b->personal = personal;
    struct outcome_report *rest = realloc(b->rest, n * sizeof *rest);
    if (rest)
        b->rest = rest;
    struct delivery_plan **plan = realloc(b->plan, n * sizeof *plan);
    if (plan)
        b->plan = plan;
    unsigned char *unr = realloc(b->unrendered, n * sizeof *unr);
    if (unr)
        b->unrendered = unr;
    if (!rep || !msgs || !me || !personal || !rest || !plan || !unr)
        return merr_set(MERR_NOMEM, "out of memory");
    b->cap = n;
    return MERR_OK;
}

static void batch_free(struct delivery_batch *b)
{
    free(b->rep);
    free(b->msgs);
    free(b->msg_env);
    free(b->personal);
    free(b->rest);
    free(b->plan);
    free(b->unrendered);
}

/* A report on envelope `e` with its facts, of `kind`, saying `text`. */
static void report_init(struct outcome_report *r, const struct outbox_envelope *e,
                        enum outcome_kind kind, const char *text)
{
    memset(r, 0, sizeof *r);
    r->envelope_id = e->id;
    r->subscriber_id = e->subscriber_id;
    r->created_at = e->created_at;
    r->attempts = e->attempts;
    snprintf(r->recipient, sizeof r->recipient, "%s", e->recipient ? e->recipient : "");
    r->kind = kind;
    r->class = MERR_CLASS_TEMPORARY; /* until the attempt says otherwise */
    snprintf(r->text, sizeof r->text, "%s", text ? text : "");
}

/* An attempt's report: its class, code and text. */
static void report_attempt(struct outcome_report *r, enum merr_class class, int code,
                           const char *text)
{
    r->kind = OUTCOME_ATTEMPT;
    r->class = class;
    r->code = code;
    snprintf(r->text, sizeof r->text, "%s", text ? text : "");
}

/* A report of a message that could not be made: its class by merr_class. */
static void report_unmade(struct outcome_report *r, enum merr rc)
{
    enum merr_class class = merr_class(rc);
    char text[256];
    snprintf(text, sizeof text, "%s%s",
             class == MERR_CLASS_TEMPORARY ? "render: " : "message refused before sending: ",
             merr_msg());
    report_attempt(r, class, 0, text);
    log_warn("delivery: envelope %lld: %s", r->envelope_id, r->text);
}

/* The personal parts of envelope `e` of plan `p` (compose_personal), with this worker's keys. */
static enum merr personal_of(struct delivery_worker *w, const struct outbox_envelope *e,
                             const struct delivery_plan *p, struct compose_personal *out)
{
    /* the Message-ID's key is the send's salt: re-prepared when the send changes */
    if (!crypto_hmac_has_key(w->salt_mac, p->salt, strlen(p->salt))) {
        crypto_hmac_free(w->salt_mac);
        w->salt_mac = NULL;
        if (crypto_hmac_new(p->salt, strlen(p->salt), &w->salt_mac))
            w->salt_mac = NULL; /* the one-shot HMAC, as good if slower */
    }
    struct compose_person who = {
        .kind = p->kind,
        .salt = p->salt,
        .send_id = p->send_id,
        .envelope_id = e->id,
        .email = e->recipient,
        .name = e->name,
        .subscriber_id = e->subscriber_id,
        .list_id = p->list_id,
        .list_slug = p->list_slug,
        .created_at = e->created_at,
        .salt_key = w->salt_mac,
        .secret_key = w->secret_mac,
    };
    return compose_personal(w->run->cfg, w->db, &who, out);
}

/* Prepares the claimed envelopes; those that cannot go get their report now. */
static void prepare(struct delivery_worker *w, struct delivery_batch *b)
{
    struct delivery_run_ctx *run = w->run;

    b->nmsgs = 0;
    b->nplanned = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct outbox_envelope *e = &b->env[i];
        struct outcome_report *r = &b->rep[i];
        struct delivery_plan *p;

        report_init(r, e, OUTCOME_ATTEMPT, NULL);
        p = delivery_plans_get(run->plans, w->db, e->send_id);
        if (!p) {
            report_attempt(r, MERR_CLASS_TEMPORARY, 0, "out of memory planning the send");
            continue;
        }
        if (p->err) {
            report_attempt(r, merr_class(p->err), 0, p->errmsg);
            delivery_plans_put(run->plans, p);
            continue;
        }
        /* its personal parts now, its body when the transport needs it
         * (on_load): the batch is never held in memory as messages, only
         * one message at a time */
        size_t k = b->nmsgs;
        enum merr rc = personal_of(w, e, p, &b->personal[k]);
        if (rc) {
            report_unmade(r, rc);
            compose_personal_free(&b->personal[k]);
            delivery_plans_put(run->plans, p);
            continue;
        }
        b->nmsgs++;
        b->plan[k] = p;
        b->unrendered[k] = 0;
        struct transport_msg *m = &b->msgs[k];
        memset(m, 0, sizeof *m);
        m->envelope_id = e->id;
        m->mail_from = b->personal[k].return_path;
        m->rcpt = e->recipient;
        m->envid = b->personal[k].envid; /* the VERP token (RFC 3461 §4.4): one MAC */
        m->data = NULL;                  /* on_load */
        m->len = 0;
        b->msg_env[k] = i;
    }
    b->nplanned = b->nmsgs;
}

/* Drops the batch's plan references and personal parts. */
static void batch_unplan(struct delivery_run_ctx *run, struct delivery_batch *b)
{
    for (size_t k = 0; k < b->nplanned; k++) {
        delivery_plans_put(run->plans, b->plan[k]);
        compose_personal_free(&b->personal[k]);
    }
    b->nplanned = 0;
}

/* Turns message k's transport outcome into its envelope's report. */
static void outcome_of(struct delivery_batch *b, size_t k)
{
    const struct transport_msg *m = &b->msgs[k];
    struct outcome_report *r = &b->rep[b->msg_env[k]];

    if (b->unrendered[k])
        return; /* report_unmade set it */
    if (m->skipped) {
        /* never offered to the server: we asked the transport to stop */
        r->kind = OUTCOME_UNSENT;
        r->code = 0;
        snprintf(r->text, sizeof r->text, "delivery stopped before sending");
        return;
    }
    metrics_smtp_result(m->code);
    report_attempt(r, merr_class(m->rc), m->code, m->text);
}

/*
 * The transport's report of one message (transport_send), called before
 * it starts the next one on this connection: the report goes to the writer.
 * Non-zero asks the transport to stop the batch: when told to stop, or when
 * results can no longer be recorded (going on would only make duplicates).
 */
static int on_done(void *arg, struct transport_msg *m)
{
    struct delivery_worker *w = arg;
    struct delivery_batch *b = w->b;
    size_t k = (size_t)(m - b->msgs);
    struct outcome_report *r = &b->rep[b->msg_env[k]];

    outcome_of(b, k);
    w->ticket = delivery_writer_submit(w->run->writer, r, 1);
    if (r->kind == OUTCOME_ATTEMPT && r->class == MERR_CLASS_OK) {
        w->sent_ticket = w->ticket;
        /* the journal's records are all committed: it starts over */
        if (w->journal.records && delivery_writer_committed(w->run->writer, w->journal.last_ticket))
            delivery_journal_forget(&w->journal);
        delivery_journal_append(&w->journal, r, w->ticket); /* failed: on_before_end waits */
    }
    return stopping(w->run);
}

/*
 * The transport needs message m's data now (transport_hooks.load): renders
 * it into the worker's buffer, reused from message to message, so a worker
 * holds one rendered message at a time whatever batch_size is. A render
 * failure sets the envelope's report (report_unmade).
 */
static enum merr on_load(void *arg, struct transport_msg *m)
{
    struct delivery_worker *w = arg;
    struct delivery_batch *b = w->b;
    size_t k = (size_t)(m - b->msgs);
    struct outcome_report *r = &b->rep[b->msg_env[k]];

    enum merr rc;

    if (w->out_busy)
        return merr_set(MERR_INTERNAL, "two messages loaded at once");
    buf_reset(&w->out);
    rc = compose_render(b->plan[k]->plan, &b->personal[k].rcpt, &w->out);
    if (rc) {
        report_unmade(r, rc);
        b->unrendered[k] = 1;
        return merr_set(r->class == MERR_CLASS_PERMANENT ? MERR_PERMFAIL : MERR_TEMPFAIL, "%s",
                        r->text);
    }
    w->out_busy = 1;
    m->data = w->out.data;
    m->len = w->out.len;
    return MERR_OK;
}

/* The transport is done with m's data (transport_hooks.release). */
static void on_release(void *arg, struct transport_msg *m)
{
    struct delivery_worker *w = arg;

    (void)m;
    w->out_busy = 0;
    buf_reset(&w->out);
}

/*
 * Message m's data is written but for its end: the server cannot accept it
 * before this returns. Without a sent journal, waits until this worker's
 * sent reports are committed (see the top); non-zero keeps m from the
 * server and stops the batch, as on_done's answer does.
 */
static int on_before_end(void *arg, struct transport_msg *m)
{
    struct delivery_worker *w = arg;

    (void)m;
    if (w->journal.fd < 0)
        delivery_writer_wait(w->run->writer, w->sent_ticket);
    return stopping(w->run);
}

/* Envelopes left unsent because we are stopping: reported unsent (back to queued). */
static void release_unsent(struct delivery_batch *b, size_t from)
{
    for (size_t k = from; k < b->nmsgs; k++) {
        struct outcome_report *r = &b->rep[b->msg_env[k]];
        r->kind = OUTCOME_UNSENT;
        r->code = 0;
        snprintf(r->text, sizeof r->text, "delivery stopped before sending");
    }
    b->nmsgs = from;
}

/*
 * Gives a claimed batch that will not be sent back to the queue, in small
 * pieces from the stack: it needs no memory of its own, so the writer
 * always learns that this run no longer holds those envelopes.
 */
static void release_claimed(struct delivery_worker *w, struct outbox_envelope *env, size_t n)
{
    struct outcome_report r[16];

    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; i < n && k < sizeof r / sizeof r[0]; i++, k++)
            report_init(&r[k], &env[i], OUTCOME_UNSENT, "delivery stopped before sending");
        w->ticket = delivery_writer_submit(w->run->writer, r, k);
    }
    outbox_envelopes_free(env, n);
}

/*
 * Under `serve` (or `deliver` without --once) the calling worker thread
 * gives way to the HTTP front: [delivery] nice steps nicer, or with
 * [delivery] idle = yes SCHED_IDLE (it runs only on a CPU no thread of
 * normal priority wants; bench/http's p99 with the workers running falls,
 * but anything busy on the machine holds delivery back, and without
 * CAP_SYS_NICE the thread cannot leave SCHED_IDLE again: not the default).
 */
static void yield_cpu(struct delivery_worker *w, const struct config *cfg)
{
    if (cfg->delivery_idle) {
        struct sched_param sp = {0};
        if (sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
            log_warn("delivery: worker %d: [delivery] idle: %s", w->index, strerror(errno));
        return;
    }
    if (cfg->delivery_nice > 0) {
        errno = 0;
        int base = getpriority(PRIO_PROCESS, (id_t)gettid());
        if (errno || setpriority(PRIO_PROCESS, (id_t)gettid(), base + cfg->delivery_nice) != 0)
            log_warn("delivery: worker %d: [delivery] nice: %s", w->index, strerror(errno));
    }
}

void *delivery_worker_main(void *arg)
{
    struct delivery_worker *w = arg;
    struct delivery_run_ctx *run = w->run;
    const struct config *cfg = run->cfg;
    struct delivery_batch b;
    size_t nrest;
    struct transport_hooks hooks = {on_done, on_before_end, w, on_load, on_release};
    struct delivery_claim creq;
    int pending = 0; /* creq was started and not finished */

    memset(&b, 0, sizeof b);
    memset(&creq, 0, sizeof creq);
    w->b = &b;
    delivery_thread_name("dlv-worker-%d", w->index);
    /* A long-running service yields the CPU to its HTTP front: Linux
     * scheduling is per thread. Not the writer: it holds SQLite's lock. */
    if (!run->once)
        yield_cpu(w, cfg);
    if (crypto_hmac_new(cfg->secret, strlen(cfg->secret), &w->secret_mac))
        w->secret_mac = NULL; /* one-shot HMACs then */
    while (!stopping(run)) {
        enum merr rc;

        /* the claim runs in the writer; usually it was started while the
         * previous batch was being sent, and is ready now */
        if (!pending)
            delivery_writer_claim_start(run->writer, &creq, date_now(), run->batch_max);
        delivery_writer_claim_finish(run->writer, &creq);
        pending = 0;
        rc = creq.rc;
        b.env = creq.env;
        b.n = creq.n;
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
        if (b.n == 0) {
            if (run->once)
                break;
            delivery_writer_wait(run->writer, w->ticket); /* nothing of ours lingers unrecorded */
            sleep_unless_stopped(run, IDLE_SLEEP_MS / 1000.0);
            continue;
        }
        rc = batch_reserve(&b, b.n);
        if (rc) {
            w->rc = rc;
            snprintf(w->errmsg, sizeof w->errmsg, "%s", merr_msg());
            release_claimed(w, b.env, b.n);
            b.env = NULL;
            b.n = 0;
            break;
        }
        prepare(w, &b);

        /* rate limits: reserve and wait; if told to stop, give the rest back */
        for (size_t k = 0; k < b.nmsgs; k++) {
            double wait = delivery_rate_reserve(run->rate, b.msgs[k].rcpt);
            if (wait > 0)
                delivery_writer_wait(run->writer, w->ticket); /* as when idle */
            if (wait > 0 && sleep_unless_stopped(run, wait)) {
                release_unsent(&b, k);
                break;
            }
        }
        /* what will not be sent goes to the writer now; the rest one by one
         * from on_done, each sent one in the journal before the next can end */
        nrest = 0;
        for (size_t i = 0, k = 0; i < b.n; i++) {
            if (k < b.nmsgs && b.msg_env[k] == i)
                k++;
            else
                b.rest[nrest++] = b.rep[i];
        }
        if (nrest)
            w->ticket = delivery_writer_submit(run->writer, b.rest, nrest);
        /* the next batch is claimed while this one goes out */
        if (!stopping(run)) {
            delivery_writer_claim_start(run->writer, &creq, date_now(), run->batch_max);
            pending = 1;
        }
        if (b.nmsgs)
            transport_send(w->tp, b.msgs, b.nmsgs, &hooks);
        batch_unplan(run, &b);
        outbox_envelopes_free(b.env, b.n);
        b.env = NULL;
        b.n = 0;
    }
    if (pending) {
        /* claimed ahead but stopping: back to the queue, not left leased */
        delivery_writer_claim_finish(run->writer, &creq);
        if (!creq.rc)
            release_claimed(w, creq.env, creq.n);
        creq.env = NULL;
        creq.n = 0;
    }
    delivery_writer_wait(run->writer, w->ticket);
    if (delivery_writer_committed(run->writer, w->journal.last_ticket))
        delivery_journal_forget(&w->journal); /* then delivery_run removes it */
    batch_free(&b);
    buf_free(&w->out);
    crypto_hmac_free(w->secret_mac);
    crypto_hmac_free(w->salt_mac);
    w->secret_mac = w->salt_mac = NULL;
    return NULL;
}
