/*
 * cli_outbox.c: `mailer share`, `mailer deliver` and `mailer queue`.
 *
 * `share` goes through share_enqueue, exactly like the web form, so the CLI
 * can never accept what the form refuses. `deliver` runs the delivery
 * workers (--once: what is due now, then exit; otherwise until SIGTERM or
 * SIGINT, finishing the message in flight on each connection). `queue` reads and adjusts the
 * outbox for an admin: counts per state, a listing, retry, cancel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "date.h"
#include "delivery.h"
#include "outbox.h"
#include "share.h"

#define SHARE_MAX_ARGS 64

/* ---- share ---- */

static const char SHARE_USAGE[] =
    "usage: mailer share ARTICLE --to ADDR [--to ADDR...] [--from-name NAME]\n"
    "                    [--from-email ADDR] [--note TEXT]\n\n"
    "Enqueues a share of ARTICLE exactly as the web form's \"Gửi Email\" does:\n"
    "1 to [limits] share_max_recipients recipients (duplicates merged), a sender\n"
    "name without links or line breaks, a plain-text note of at most\n"
    "[limits] share_note_max_chars characters. Recipients on the suppression\n"
    "list are dropped silently. Prints the send id and the number of envelopes;\n"
    "`mailer deliver --once` then sends them.\n\n"
    "options:\n"
    "  --to ADDR          a recipient (repeat for more)\n"
    "  --from-name NAME   the sender's name shown in the message\n"
    "  --from-email ADDR  the sender's address (Reply-To); default [mail] from_address\n"
    "  --note TEXT        a short note to the recipients\n";

static int share_run(struct app *app, int argc, char **argv)
{
    const char *to[SHARE_MAX_ARGS];
    struct share_request req;
    long long send_id;
    size_t nto = 0, accepted;
    enum merr rc;

    memset(&req, 0, sizeof req);
    for (int i = 1; i < argc; i++) {
        const char *one_to = NULL;
        int missing = 0;
        if (cli_opt_value(argc, argv, &i, "--to", &one_to, &missing) ||
            cli_opt_value(argc, argv, &i, "--from-name", &req.sender_name, &missing) ||
            cli_opt_value(argc, argv, &i, "--from-email", &req.sender_email, &missing) ||
            cli_opt_value(argc, argv, &i, "--note", &req.note, &missing)) {
            if (missing)
                return cli_usage("share", "%s needs a value", argv[i]);
            if (one_to && nto == SHARE_MAX_ARGS)
                return cli_usage("share", "too many --to options");
            if (one_to)
                to[nto++] = one_to;
        } else if (cli_is_option(argv[i])) {
            return cli_usage("share", "unknown option %s", argv[i]);
        } else if (!req.article_id) {
            req.article_id = argv[i];
        } else {
            return cli_usage("share", "one article at a time (got \"%s\" too)", argv[i]);
        }
    }
    if (!req.article_id)
        return cli_usage("share", "which article? mailer share ARTICLE --to ADDR");
    if (!nto)
        return cli_usage("share", "at least one --to ADDR is needed");
    if (!req.sender_email)
        req.sender_email = app->cfg.from_address;
    req.to = to;
    req.nto = nto;
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "share");
    rc = share_enqueue(app->db, &app->cfg, &req, &send_id, &accepted);
    if (rc)
        return app_fail(rc, "share");
    printf("send %lld: %zu envelope%s queued\n", send_id, accepted, accepted == 1 ? "" : "s");
    return 0;
}

const struct cli_command cli_share_cmd = {
    .name = "share",
    .run = share_run,
    .usage = SHARE_USAGE,
    .summary = "enqueue a share of an article, as the web form does",
};

/* ---- deliver ---- */

static const char DELIVER_USAGE[] =
    "usage: mailer deliver [--once]\n\n"
    "Runs the delivery workers ([delivery] connections of them) over the\n"
    "transport named in [delivery] transport. Envelopes whose lease expired\n"
    "(a crashed run's) go back to the queue first.\n\n"
    "  --once   deliver everything due now, then exit (cron, tests)\n\n"
    "Without --once it runs until SIGTERM or SIGINT: the message in flight on\n"
    "each connection finishes, the rest of each batch goes back to the queue.\n"
    "Prints the totals: sent N, deferred N, failed N.\n";

static int deliver_run(struct app *app, int argc, char **argv)
{
    struct delivery_stats st;
    int once = 0;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--once"))
            once = 1;
        else
            return cli_usage("deliver", "unknown argument %s", argv[i]);
    }
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "deliver");
    rc = delivery_run(&app->cfg, once, cli_catch_stop(), &st);
    printf("sent %lld, deferred %lld, failed %lld", st.sent, st.deferred, st.failed);
    if (st.cancelled)
        printf(", cancelled %lld", st.cancelled);
    printf("\n");
    fflush(stdout);
    if (rc)
        return app_fail(rc, "deliver");
    return 0;
}

const struct cli_command cli_deliver_cmd = {
    .name = "deliver",
    .run = deliver_run,
    .usage = DELIVER_USAGE,
    .summary = "deliver what is due (--once: then exit)",
};

/* ---- queue ---- */

static const char QUEUE_USAGE[] =
    "usage: mailer queue <command>\n\n"
    "commands:\n"
    "  status [SEND]                          envelopes per state (all, or one send)\n"
    "  ls [--state S] [--send ID] [--limit N] list envelopes (default 100)\n"
    "  retry ID | --all-deferred              make deferred (or failed) envelopes due now\n"
    "  cancel SEND                            cancel a send's unsent envelopes\n\n"
    "states: queued, sending, sent, deferred, failed, cancelled\n";

static int queue_status(struct app *app, int argc, char **argv)
{
    struct outbox_counts c;
    long long send_id = 0;
    enum merr rc;

    if (argc > 2)
        return cli_usage("queue status", "one send at most");
    if (argc == 2 && cli_parse_id(argv[1], &send_id))
        return cli_usage("queue status", "\"%s\" is not a send id", argv[1]);
    rc = app_db(app);
    if (!rc)
        rc = outbox_counts(app->db, send_id, &c);
    if (rc)
        return app_fail(rc, "queue status");
    for (int s = OUTBOX_QUEUED; s <= OUTBOX_CANCELLED; s++)
        printf("%s %lld\n", outbox_state_name((enum outbox_state)s), c.by_state[s]);
    return 0;
}

static int queue_ls(struct app *app, int argc, char **argv)
{
    struct outbox_row *rows = NULL;
    size_t n = 0;
    long long send_id = 0, limit = 100;
    int state = -1;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        const char *state_v = NULL, *send_v = NULL, *limit_v = NULL;
        int missing = 0;
        if (!cli_opt_value(argc, argv, &i, "--state", &state_v, &missing) &&
            !cli_opt_value(argc, argv, &i, "--send", &send_v, &missing) &&
            !cli_opt_value(argc, argv, &i, "--limit", &limit_v, &missing))
            return cli_usage("queue ls", "unknown argument %s", argv[i]);
        if (missing)
            return cli_usage("queue ls", "%s needs a value", argv[i]);
        if (state_v && (state = outbox_state_parse(state_v)) < 0)
            return cli_usage("queue ls", "unknown state \"%s\"", state_v);
        if (send_v && cli_parse_id(send_v, &send_id))
            return cli_usage("queue ls", "\"%s\" is not a send id", send_v);
        if (limit_v && (cli_parse_id(limit_v, &limit) || limit > 1000000))
            return cli_usage("queue ls", "--limit needs a number from 1 to 1000000");
    }
    rc = app_db(app);
    if (!rc)
        rc = outbox_list(app->db, state, send_id, (size_t)limit, &rows, &n);
    if (rc)
        return app_fail(rc, "queue ls");
    printf("id\tsend\tstate\tattempts\tcode\tnext_attempt\trecipient\ttext\n");
    for (size_t i = 0; i < n; i++) {
        char next[DATE_ISO_LEN] = "-";
        if (rows[i].state == OUTBOX_DEFERRED || rows[i].state == OUTBOX_QUEUED)
            date_iso8601(rows[i].next_attempt_at, next);
        /* the text came from a server: never let it draw on the terminal */
        for (char *p = rows[i].last_text; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = ' ';
        printf("%lld\t%lld\t%s\t%d\t%d\t%s\t%s\t%s\n", rows[i].id, rows[i].send_id,
               outbox_state_name(rows[i].state), rows[i].attempts, rows[i].last_code, next,
               rows[i].recipient, rows[i].last_text);
    }
    free(rows);
    return 0;
}

static int queue_retry(struct app *app, int argc, char **argv)
{
    long long id = 0, n = 0;
    enum merr rc;

    if (argc != 2)
        return cli_usage("queue retry", "give one envelope id or --all-deferred");
    if (strcmp(argv[1], "--all-deferred") != 0 && cli_parse_id(argv[1], &id))
        return cli_usage("queue retry", "\"%s\" is not an envelope id", argv[1]);
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "queue retry");
    if (id) {
        rc = outbox_retry(app->db, id, date_now());
        if (rc)
            return app_fail(rc, "queue retry");
        printf("envelope %lld is due now\n", id);
    } else {
        rc = outbox_retry_all_deferred(app->db, date_now(), &n);
        if (rc)
            return app_fail(rc, "queue retry");
        printf("%lld deferred envelope%s due now\n", n, n == 1 ? "" : "s");
    }
    return 0;
}

static int queue_cancel(struct app *app, int argc, char **argv)
{
    long long id, n = 0;
    enum merr rc;

    if (argc != 2 || cli_parse_id(argv[1], &id))
        return cli_usage("queue cancel", "give one send id");
    rc = app_db(app);
    if (!rc)
        rc = outbox_send_cancel(app->db, id, date_now(), &n);
    if (rc)
        return app_fail(rc, "queue cancel");
    printf("send %lld cancelled: %lld envelope%s will not be sent\n", id, n, n == 1 ? "" : "s");
    return 0;
}

static const struct cli_command queue_cmds[] = {
    {.name = "status",
     .run = queue_status,
     .usage = "usage: mailer queue status [SEND]\n\n"
              "Prints one line per state (queued, sending, sent, deferred, failed,\n"
              "cancelled) with its envelope count, for all sends or one.\n"},
    {.name = "ls",
     .run = queue_ls,
     .usage = "usage: mailer queue ls [--state S] [--send ID] [--limit N]\n\n"
              "Lists envelopes by id: id, send, state, attempts, last SMTP code, next\n"
              "attempt, recipient and the last reply or error text (tab-separated).\n"},
    {.name = "retry",
     .run = queue_retry,
     .usage = "usage: mailer queue retry ID | --all-deferred\n\n"
              "Makes envelope ID (deferred or failed) due now, or every deferred one.\n"},
    {.name = "cancel",
     .run = queue_cancel,
     .usage = "usage: mailer queue cancel SEND\n\n"
              "Cancels a send: its queued and deferred envelopes will never be sent\n"
              "(those being sent right now finish).\n"},
    {.name = NULL},
};

const struct cli_command cli_queue_cmd = {
    .name = "queue",
    .usage = QUEUE_USAGE,
    .sub = queue_cmds,
    .summary = "outbox: status, ls, retry, cancel",
};
