/*
 * cli_digest.c: `mailer digest preview|send|status|ls|pause|resume|cancel|tick`.
 *
 * `send` creates the list's digest (one transaction: digest, send,
 * envelopes) and then delivers in this process: delivery_run(once) runs in
 * a thread of its own while the main thread polls the send's counters and
 * draws a progress bar on a terminal (sent, deferred, failed, messages/s,
 * ETA); it ends with one summary line on stdout. Other delivery processes
 * (a running `mailer serve`) cooperate through the outbox's leases, and the
 * counters are the send's, so the bar shows their work too. The main
 * thread redraws every MAILER_PROGRESS_MS milliseconds (default 250) but
 * waits on a condition the delivery thread signals as it ends, so the
 * command returns as soon as the delivery is done, not at the next redraw
 * (a poll here once added up to a quarter second to every send, and to
 * every round of bench/digest). SIGINT/SIGTERM
 * stop after the batches in flight; what is left stays queued. `resume`
 * delivers the same way. `pause` from another shell makes the delivering
 * process finish its batches in flight and stop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "date.h"
#include "fs.h"
#include "delivery.h"
#include "digest.h"
#include "outbox.h"

#define PROGRESS_MS_DEFAULT 250

static const char DIGEST_USAGE[] =
    "usage: mailer digest <command>\n\n"
    "commands:\n"
    "  send --list L [--since DATE] [--period YYYY-Www] [--enqueue-only]\n"
    "                  create this week's digest of list L and deliver it\n"
    "  preview --list L [--to ADDR] [--since DATE] [-o FILE]\n"
    "                  write the message a subscriber would get this week\n"
    "  status ID       counters of a digest (sent, deferred, failed, queued, ...)\n"
    "  ls [--list L]   the latest digests\n"
    "  pause ID        stop delivering a digest (what is being sent finishes)\n"
    "  resume ID [--no-deliver]\n"
    "                  continue a paused digest (nobody gets it twice)\n"
    "  cancel ID       never send the rest of a digest\n"
    "  tick            one step of the weekly scheduler (what `mailer serve` runs\n"
    "                  every minute): creates every digest that is due\n";

/* DATE: ISO 8601 with an offset, or YYYY-MM-DD (midnight in the site's zone). */
static enum merr parse_since(const char *s, time_t *out)
{
    if (date_parse_day_or_time(s, out))
        return merr_wrap(MERR_INVAL, "--since");
    return MERR_OK;
}

/* ---- delivering with a progress bar ---- */

struct job {
    const struct config *cfg;
    atomic_int *stop;
    struct delivery_stats st;
    enum merr rc;
    char err[1024];
    pthread_mutex_t mu;
    pthread_cond_t ended; /* CLOCK_MONOTONIC; signalled once `finished` is set */
    int finished;         /* under mu */
};

static void *deliver_thread(void *arg)
{
    struct job *j = arg;
    j->rc = delivery_run(j->cfg, 1, j->stop, &j->st);
    if (j->rc)
        snprintf(j->err, sizeof j->err, "%s", merr_msg());
    pthread_mutex_lock(&j->mu);
    j->finished = 1;
    pthread_cond_signal(&j->ended);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* The redraw period: MAILER_PROGRESS_MS (10 ms to 10 minutes), else 250 ms. */
static long progress_ms(void)
{
    const char *v = getenv("MAILER_PROGRESS_MS");
    char *end;
    long ms;

    if (!v || !*v)
        return PROGRESS_MS_DEFAULT;
    errno = 0;
    ms = strtol(v, &end, 10);
    if (errno || *end || ms < 10 || ms > 600000)
        return PROGRESS_MS_DEFAULT;
    return ms;
}

/* Waits until the delivery thread ends or `ms` pass; returns 1 once it has ended. */
static int wait_ended(struct job *j, long ms)
{
    struct timespec ts = date_mono_deadline((double)ms / 1000);
    int done;

    pthread_mutex_lock(&j->mu);
    while (!j->finished)
        if (pthread_cond_timedwait(&j->ended, &j->mu, &ts) == ETIMEDOUT)
            break;
    done = j->finished;
    pthread_mutex_unlock(&j->mu);
    return done;
}

static long long handled(const struct outbox_counts *c)
{
    return c->by_state[OUTBOX_SENT] + c->by_state[OUTBOX_DEFERRED] + c->by_state[OUTBOX_FAILED] +
           c->by_state[OUTBOX_CANCELLED];
}

static long long total(const struct outbox_counts *c)
{
    long long t = 0;
    for (int i = OUTBOX_QUEUED; i <= OUTBOX_CANCELLED; i++)
        t += c->by_state[i];
    return t;
}

/*
 * Delivers what is due (the digest's envelopes among them) and shows the
 * digest's progress; prints the summary line. Returns the exit code.
 */
static int deliver_digest(struct app *app, long long digest_id)
{
    struct digest_info d;
    struct outbox_counts c0, c;
    struct progress p;
    struct job job;
    pthread_condattr_t ca;
    pthread_t th;
    double t0, el;
    long long sent;
    enum merr rc;

    rc = digest_get(app->db, digest_id, &d);
    if (rc)
        return app_fail(rc, "digest");
    c0 = d.counts;
    memset(&job, 0, sizeof job);
    job.cfg = &app->cfg;
    job.stop = cli_catch_stop();
    pthread_mutex_init(&job.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&job.ended, &ca);
    pthread_condattr_destroy(&ca);
    t0 = date_mono();
    if (pthread_create(&th, NULL, deliver_thread, &job) != 0) {
        pthread_cond_destroy(&job.ended);
        pthread_mutex_destroy(&job.mu);
        return app_fail(merr_set(MERR_INTERNAL, "cannot start the delivery thread"), "digest");
    }
    progress_start(&p, "digest", total(&c0) - handled(&c0), app->tty);
    for (long ms = progress_ms(); !wait_ended(&job, ms);) {
        if (!app->tty || outbox_counts(app->db, d.send_id, &c))
            continue;
        char extra[160];
        snprintf(extra, sizeof extra, "sent %lld, deferred %lld, failed %lld",
                 c.by_state[OUTBOX_SENT], c.by_state[OUTBOX_DEFERRED], c.by_state[OUTBOX_FAILED]);
        progress_update(&p, handled(&c) - handled(&c0), extra);
    }
    pthread_join(th, NULL);
    el = date_mono() - t0;
    pthread_cond_destroy(&job.ended);
    pthread_mutex_destroy(&job.mu);
    progress_end(&p, NULL);
    rc = digest_get(app->db, digest_id, &d);
    if (rc)
        return app_fail(rc, "digest");
    c = d.counts;
    sent = c.by_state[OUTBOX_SENT] - c0.by_state[OUTBOX_SENT];
    printf("digest %lld (%s, %s): sent %lld, deferred %lld, failed %lld, cancelled %lld, "
           "queued %lld; %lld sent in %.1f s (%.0f msg/s)",
           d.id, d.list_slug, d.period, c.by_state[OUTBOX_SENT], c.by_state[OUTBOX_DEFERRED],
           c.by_state[OUTBOX_FAILED], c.by_state[OUTBOX_CANCELLED],
           c.by_state[OUTBOX_QUEUED] + c.by_state[OUTBOX_SENDING], sent, el,
           el > 0 ? (double)sent / el : 0.0);
    if (!strcmp(d.status, "paused"))
        printf("; paused: `mailer digest resume %lld` continues", d.id);
    else if (*job.stop)
        printf("; stopped: the rest stays queued for `mailer deliver`");
    else if (c.by_state[OUTBOX_DEFERRED])
        printf("; deferred ones are retried by `mailer deliver` or `mailer serve`");
    printf("\n");
    fflush(stdout);
    if (job.rc) {
        merr_set(job.rc, "%s", job.err);
        return app_fail(job.rc, "digest: delivery");
    }
    return 0;
}

/* ---- commands ---- */

static int digest_send(struct app *app, int argc, char **argv)
{
    const char *list = NULL, *since_s = NULL, *period = NULL;
    int enqueue_only = 0;
    time_t since = 0;
    struct digest_info d;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_opt_value(argc, argv, &i, "--list", &list, &missing) ||
            cli_opt_value(argc, argv, &i, "--since", &since_s, &missing) ||
            cli_opt_value(argc, argv, &i, "--period", &period, &missing)) {
            if (missing)
                return cli_usage("digest send", "%s needs a value", argv[i]);
        } else if (!strcmp(argv[i], "--enqueue-only")) {
            enqueue_only = 1;
        } else {
            return cli_usage("digest send", "unknown argument %s", argv[i]);
        }
    }
    if (!list)
        return cli_usage("digest send", "missing --list");
    if (since_s && (rc = parse_since(since_s, &since)))
        return app_fail(rc, "digest send");
    rc = app_db(app);
    if (!rc)
        rc = digest_create(app->db, &app->cfg, list, period, since, date_now(), &d);
    if (rc)
        return app_fail(rc, "digest send");
    printf("digest %lld: list %s, %s, %d article%s, %lld recipient%s (send %lld)\n", d.id,
           d.list_slug, d.period, d.articles, d.articles == 1 ? "" : "s", d.recipients,
           d.recipients == 1 ? "" : "s", d.send_id);
    fflush(stdout);
    if (enqueue_only)
        return 0;
    return deliver_digest(app, d.id);
}

static int digest_preview_cmd(struct app *app, int argc, char **argv)
{
    const char *list = NULL, *to = NULL, *file = NULL, *since_s = NULL, *digest_s = NULL;
    long long digest_id = 0;
    time_t since = 0;
    struct buf out;
    FILE *f;
    enum merr rc;
    int code = 0;

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (!cli_opt_value(argc, argv, &i, "--list", &list, &missing) &&
            !cli_opt_value(argc, argv, &i, "--digest", &digest_s, &missing) &&
            !cli_opt_value(argc, argv, &i, "--to", &to, &missing) &&
            !cli_opt_value(argc, argv, &i, "--since", &since_s, &missing) &&
            !cli_opt_value(argc, argv, &i, "-o", &file, &missing) &&
            !cli_opt_value(argc, argv, &i, "--output", &file, &missing))
            return cli_usage("digest preview", "unknown argument %s", argv[i]);
        if (missing)
            return cli_usage("digest preview", "%s needs a value", argv[i]);
    }
    if (!list == !digest_s)
        return cli_usage("digest preview", "give --list L or --digest ID");
    if (digest_s && (since_s || cli_parse_id(digest_s, &digest_id)))
        return cli_usage("digest preview", "--digest takes a digest id, without --since");
    if (since_s && (rc = parse_since(since_s, &since)))
        return app_fail(rc, "digest preview");
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "digest preview");
    buf_init(&out, app->cfg.message_max_bytes);
    if (digest_s)
        rc = digest_preview_sent(app->db, &app->cfg, digest_id, to, &out);
    else
        rc = digest_preview_since(app->db, &app->cfg, list, to, since, date_now(), &out);
    if (rc) {
        buf_free(&out);
        return app_fail(rc, "digest preview");
    }
    f = stdout;
    if (file && (rc = fs_open_private(file, &f)) != MERR_OK) {
        code = app_fail(rc, "digest preview");
    } else {
        if (fwrite(out.data, 1, out.len, f) != out.len || fflush(f) != 0)
            code = app_fail(merr_set(MERR_IO, "%s: %s", file ? file : "stdout", strerror(errno)),
                            "digest preview");
        if (file && fclose(f) != 0 && !code)
            code = app_fail(merr_set(MERR_IO, "%s: %s", file, strerror(errno)), "digest preview");
    }
    buf_free(&out);
    return code;
}

static void print_time(const char *key, time_t t)
{
    char s[DATE_ISO_LEN];
    date_iso8601(t, s);
    printf("%s %s\n", key, s);
}

static int digest_status(struct app *app, int argc, char **argv)
{
    struct digest_info d;
    long long id;
    enum merr rc;

    if (argc != 2 || cli_parse_id(argv[1], &id))
        return cli_usage("digest status", "give one digest id");
    rc = app_db(app);
    if (!rc)
        rc = digest_get(app->db, id, &d);
    if (rc)
        return app_fail(rc, "digest status");
    printf("digest %lld\nlist %s\nperiod %s\nstatus %s\narticles %d\n", d.id, d.list_slug, d.period,
           d.status, d.articles);
    print_time("since", d.since);
    print_time("until", d.until);
    printf("send %lld\nrecipients %lld\n", d.send_id, d.recipients);
    for (int s = OUTBOX_QUEUED; s <= OUTBOX_CANCELLED; s++)
        printf("%s %lld\n", outbox_state_name((enum outbox_state)s), d.counts.by_state[s]);
    return 0;
}

static int digest_ls(struct app *app, int argc, char **argv)
{
    const char *list = NULL;
    struct digest_info *ds = NULL;
    size_t n = 0;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (!cli_opt_value(argc, argv, &i, "--list", &list, &missing))
            return cli_usage("digest ls", "unknown argument %s", argv[i]);
        if (missing)
            return cli_usage("digest ls", "%s needs a value", argv[i]);
    }
    rc = app_db(app);
    if (!rc)
        rc = digest_list(app->db, list, 100, &ds, &n);
    if (rc)
        return app_fail(rc, "digest ls");
    for (size_t i = 0; i < n; i++)
        printf("%lld\t%s\t%s\t%s\t%d\t%lld\n", ds[i].id, ds[i].list_slug, ds[i].period,
               ds[i].status, ds[i].articles, ds[i].send_id);
    free(ds);
    return 0;
}

static int digest_action(struct app *app, int argc, char **argv)
{
    const char *cmd = argv[0];
    int deliver = !strcmp(cmd, "resume");
    long long id = 0;
    char what[32];
    enum merr rc;

    snprintf(what, sizeof what, "digest %s", cmd);
    for (int i = 1; i < argc; i++) {
        if (deliver && !strcmp(argv[i], "--no-deliver"))
            deliver = 0;
        else if (id || cli_parse_id(argv[i], &id))
            return cli_usage(what, "give one digest id");
    }
    if (!id)
        return cli_usage(what, "give one digest id");
    rc = app_db(app);
    if (rc)
        return app_fail(rc, what);
    if (!strcmp(cmd, "pause"))
        rc = digest_pause(app->db, id);
    else if (!strcmp(cmd, "resume"))
        rc = digest_resume(app->db, id);
    else
        rc = digest_cancel(app->db, id);
    if (rc)
        return app_fail(rc, what);
    printf("digest %lld: %s\n", id,
           !strcmp(cmd, "pause")    ? "paused"
           : !strcmp(cmd, "resume") ? "resumed"
                                    : "cancelled");
    fflush(stdout);
    return deliver ? deliver_digest(app, id) : 0;
}

static int digest_tick_cmd(struct app *app, int argc, char **argv)
{
    int created = 0;
    enum merr rc;

    if (argc > 1)
        return cli_usage("digest tick", "unknown argument %s", argv[1]);
    rc = app_db(app);
    if (!rc)
        rc = digest_tick(app->db, &app->cfg, date_now(), &created);
    if (rc)
        return app_fail(rc, "digest tick");
    printf("created %d\n", created);
    return 0;
}

static const struct cli_command digest_cmds[] = {
    {.name = "send",
     .run = digest_send,
     .usage = "usage: mailer digest send --list L [--since DATE] [--period YYYY-Www]\n"
              "                          [--enqueue-only]\n\n"
              "Creates the digest of list L for this week (or --period) with the\n"
              "articles published since its previous digest (or since DATE: ISO 8601,\n"
              "or YYYY-MM-DD local time), one envelope per confirmed subscriber, and\n"
              "delivers it, with a progress bar on a terminal. A list has one digest\n"
              "per week: a second one is refused (exit 3). No new articles: exit 5,\n"
              "nothing written. --enqueue-only leaves delivery to `mailer deliver` or\n"
              "`mailer serve`.\n"},
    {.name = "preview",
     .run = digest_preview_cmd,
     .usage = "usage: mailer digest preview --list L [--to ADDR] [--since DATE] [-o FILE]\n"
              "       mailer digest preview --digest ID [--to ADDR] [-o FILE]\n\n"
              "Writes (to FILE, or stdout) the message a subscriber of list L would\n"
              "get if the digest were sent now: the articles since the previous\n"
              "digest, the list's subject and template, addressed to ADDR (its\n"
              "subscriber's name and unsubscribe link when ADDR is one; a sample\n"
              "reader otherwise); --since DATE as for `send`. With --digest, the\n"
              "message of that digest as its recipient ADDR gets it, byte for byte\n"
              "but for the Date header. Sends nothing and writes nothing to the\n"
              "database.\n"},
    {.name = "status",
     .run = digest_status,
     .usage = "usage: mailer digest status ID\n\n"
              "Prints one \"key value\" line each: digest, list, period, status (active,\n"
              "paused, done, cancelled, skipped), articles, since, until, recipients and\n"
              "the envelopes per state: queued, sending, sent, deferred, failed, cancelled.\n"},
    {.name = "ls",
     .run = digest_ls,
     .usage = "usage: mailer digest ls [--list L]\n\n"
              "The latest 100 digests, newest first: id, list, period, status,\n"
              "articles, send.\n"},
    {.name = "pause",
     .run = digest_action,
     .usage = "usage: mailer digest pause ID\n\n"
              "Stops delivering the digest: no envelope of it is claimed any more;\n"
              "those being sent finish. `mailer digest resume ID` continues.\n"},
    {.name = "resume",
     .run = digest_action,
     .usage = "usage: mailer digest resume ID [--no-deliver]\n\n"
              "Continues a paused digest with the envelopes not yet sent (nobody gets it\n"
              "twice) and delivers them here with a progress bar, unless --no-deliver\n"
              "(then `mailer deliver` or `mailer serve` does).\n"},
    {.name = "cancel",
     .run = digest_action,
     .usage = "usage: mailer digest cancel ID\n\n"
              "Cancels the envelopes of the digest not yet sent; they will never be sent.\n"},
    {.name = "tick",
     .run = digest_tick_cmd,
     .usage = "usage: mailer digest tick\n\n"
              "One step of the weekly scheduler (for cron, when `mailer serve` does not\n"
              "run it): creates the digest of every enabled list whose scheduled time\n"
              "has come and whose week has none yet. Weeks without new articles are\n"
              "recorded as skipped. Prints the number created.\n"},
    {.name = NULL},
};

const struct cli_command cli_digest_cmd = {
    .name = "digest",
    .usage = DIGEST_USAGE,
    .sub = digest_cmds,
    .summary = "weekly digests: preview, send, status, pause, resume, cancel",
};
