/*
 * cli_breaking.c: `mailer breaking send|preview|test|ls`: breaking news,
 * one article to a list now, exactly once (mailer/breaking).
 *
 * `send` writes the send and its envelopes (a second `send` of the same
 * article to the same list is refused, exit 3, naming the first send) and
 * then, unless --enqueue-only, delivers what is due in this process and
 * prints the send's counters; `mailer serve` delivers it otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaking.h"
#include "cli.h"
#include "date.h"
#include "delivery.h"
#include "outbox.h"

#define LS_MAX 50

static const char USAGE[] =
    "usage: mailer breaking <command>\n\n"
    "Breaking news (\"tin nóng\"): one article to the confirmed subscribers of a\n"
    "list, now, at most once per list and article.\n\n"
    "commands:\n"
    "  send --list L --article ID [--enqueue-only]\n"
    "                  send article ID to list L (then deliver what is due)\n"
    "  preview --list L --article ID [--to ADDR] [-o FILE]\n"
    "                  write the message a subscriber would get; sends nothing\n"
    "  test --list L --article ID --to ADDR\n"
    "                  send that message to ADDR only (a test; the real one can\n"
    "                  still be sent)\n"
    "  ls              the breaking news sent, newest first\n";

struct args {
    const char *list, *article, *to, *file;
    int enqueue_only;
};

static int parse(const char *cmd, int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_opt_value(argc, argv, &i, "--list", &a->list, &missing) ||
            cli_opt_value(argc, argv, &i, "--article", &a->article, &missing) ||
            cli_opt_value(argc, argv, &i, "--to", &a->to, &missing) ||
            cli_opt_value(argc, argv, &i, "-o", &a->file, &missing) ||
            cli_opt_value(argc, argv, &i, "--output", &a->file, &missing)) {
            if (missing)
                return cli_usage(cmd, "%s needs a value", argv[i]);
        } else if (!strcmp(argv[i], "--enqueue-only")) {
            a->enqueue_only = 1;
        } else {
            return cli_usage(cmd, "unknown argument %s", argv[i]);
        }
    }
    if (!a->list || !a->article)
        return cli_usage(cmd, "--list and --article are needed");
    return -1;
}

static int cmd_send(struct app *app, int argc, char **argv)
{
    struct breaking_info b;
    struct args a;
    struct outbox_counts c;
    enum merr rc;
    int code = parse("breaking send", argc, argv, &a);

    if (code >= 0)
        return code;
    if ((rc = app_db(app)))
        return app_fail(rc, "breaking send");
    rc = breaking_send(app->db, &app->cfg, a.list, a.article, date_now(), &b);
    if (rc)
        return app_fail(rc, "breaking send");
    printf("breaking news %lld: article %s to list %s, %lld recipient%s (send %lld)\n", b.id,
           b.article_id, b.list_slug, b.recipients, b.recipients == 1 ? "" : "s", b.send_id);
    fflush(stdout);
    if (a.enqueue_only)
        return 0;
    rc = delivery_run(&app->cfg, 1, cli_catch_stop(), NULL);
    if (!rc)
        rc = outbox_counts(app->db, b.send_id, &c);
    if (rc)
        return app_fail(rc, "breaking send: delivery");
    printf("send %lld: sent %lld, deferred %lld, failed %lld, cancelled %lld, queued %lld\n",
           b.send_id, c.by_state[OUTBOX_SENT], c.by_state[OUTBOX_DEFERRED],
           c.by_state[OUTBOX_FAILED], c.by_state[OUTBOX_CANCELLED],
           c.by_state[OUTBOX_QUEUED] + c.by_state[OUTBOX_SENDING]);
    return 0;
}

static int cmd_preview(struct app *app, int argc, char **argv)
{
    struct args a;
    struct buf out;
    FILE *f;
    enum merr rc;
    int code = parse("breaking preview", argc, argv, &a);

    if (code >= 0)
        return code;
    if ((rc = app_db(app)))
        return app_fail(rc, "breaking preview");
    buf_init(&out, app->cfg.message_max_bytes);
    rc = breaking_preview(app->db, &app->cfg, a.list, a.article, a.to, &out);
    if (rc) {
        buf_free(&out);
        return app_fail(rc, "breaking preview");
    }
    code = 0;
    f = a.file ? fopen(a.file, "wb") : stdout;
    if (!f || fwrite(out.data, 1, out.len, f) != out.len || fflush(f) != 0)
        code = app_fail(merr_set(MERR_IO, "%s: %s", a.file ? a.file : "stdout", strerror(errno)),
                        "breaking preview");
    if (f && a.file && fclose(f) != 0 && !code)
        code = app_fail(merr_set(MERR_IO, "%s: %s", a.file, strerror(errno)), "breaking preview");
    buf_free(&out);
    return code;
}

static int cmd_test(struct app *app, int argc, char **argv)
{
    struct args a;
    long long send_id = 0;
    enum merr rc;
    int code = parse("breaking test", argc, argv, &a);

    if (code >= 0)
        return code;
    if (!a.to)
        return cli_usage("breaking test", "--to ADDR is needed");
    if ((rc = app_db(app)) ||
        (rc = breaking_test(app->db, &app->cfg, a.list, a.article, a.to, date_now(), &send_id)))
        return app_fail(rc, "breaking test");
    printf("test of article %s to %s: send %lld (`mailer deliver --once` sends it)\n", a.article,
           a.to, send_id);
    return 0;
}

static int cmd_ls(struct app *app, int argc, char **argv)
{
    struct breaking_info v[LS_MAX];
    size_t n = 0;
    enum merr rc;
    (void)argv;
    if (argc != 1)
        return cli_usage("breaking ls", "ls takes no arguments");
    if ((rc = app_db(app)) || (rc = breaking_list(app->db, v, LS_MAX, &n)))
        return app_fail(rc, "breaking ls");
    printf("%-5s %-20s %-24s %-40s %-6s %s\n", "ID", "SENT", "LIST", "ARTICLE", "SEND",
           "RECIPIENTS");
    for (size_t i = 0; i < n; i++) {
        char t[DATE_ISO_LEN];
        date_iso8601_utc(v[i].created_at, t);
        printf("%-5lld %-20s %-24s %-40s %-6lld %lld\n", v[i].id, t, v[i].list_slug,
               v[i].article_id, v[i].send_id, v[i].recipients);
    }
    return 0;
}

static const struct cli_command breaking_cmds[] = {
    {.name = "send",
     .run = cmd_send,
     .usage = "usage: mailer breaking send --list L --article ID [--enqueue-only]\n\n"
              "Sends article ID to the confirmed subscribers of list L now, then delivers\n"
              "what is due (--enqueue-only: leaves that to `mailer deliver` or serve).\n"
              "An article goes to a list once: a second send is refused, naming the first.\n"},
    {.name = "preview",
     .run = cmd_preview,
     .usage = "usage: mailer breaking preview --list L --article ID [--to ADDR] [-o FILE]\n\n"
              "Writes the message a subscriber (ADDR, or a sample one) would get, to\n"
              "FILE or standard output; sends nothing and changes nothing.\n"},
    {.name = "test",
     .run = cmd_test,
     .usage = "usage: mailer breaking test --list L --article ID --to ADDR\n\n"
              "Sends that message to ADDR only; the real send can still be made.\n"},
    {.name = "ls",
     .run = cmd_ls,
     .usage = "usage: mailer breaking ls\n\n"
              "The breaking news sent, newest first: id, time, list, article, send,\n"
              "recipients.\n"},
    {.name = NULL},
};

const struct cli_command cli_breaking_cmd = {
    .name = "breaking",
    .usage = USAGE,
    .sub = breaking_cmds,
    .summary = "breaking news, one article to a list now: send, preview, test, ls",
};
