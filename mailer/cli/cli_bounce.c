/*
 * cli_bounce.c: `mailer bounce parse|ingest|poll|ls|show|undo`.
 *
 * `parse` reads files and prints what the parser makes of each, one JSON
 * object per file and line, without opening the database: the format is
 * documented in docs/bounces.md and kept stable, since it is how anyone
 * checks a bounce offline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounce.h"
#include "buf.h"
#include "cli.h"
#include "date.h"

/* sysexits EX_TEMPFAIL: an MTA's pipe transport tries again later */
#define EXIT_PIPE_TEMPFAIL 75

static const char GROUP_USAGE[] =
    "usage: mailer bounce <command> [options]\n\n"
    "Bounces, complaints and mailed unsubscribes (docs/bounces.md).\n\n"
    "commands:\n"
    "  parse FILE...   print what the parser reads in each message (no database)\n"
    "  poll            read the [bounce.NAME] mailboxes once (IMAP, POP3), for cron\n"
    "  ingest          read one message on stdin (an MTA's pipe), or --maildir DIR, --mbox FILE\n"
    "  ls              list the bounces read, newest first\n"
    "  show ID         one bounce: recipients, attribution, what it did, the message\n"
    "  undo ID         lift exactly what one bounce caused\n";

/* ---- parse ---- */

static int bounce_parse_cmd(struct app *app, int argc, char **argv)
{
    int code = 0;
    (void)app;
    if (argc < 2)
        return cli_usage("bounce parse", "which file? mailer bounce parse FILE...");
    for (int i = 1; i < argc; i++) {
        struct buf b;
        struct bounce_report *r = NULL;
        json_t *j;
        char *line;
        enum merr rc;

        buf_init(&b, (size_t)BOUNCE_MAX_SIZE * 4);
        rc = buf_read_file(&b, argv[i]);
        if (rc) {
            app_fail(rc, argv[i]);
            code = 3;
            buf_free(&b);
            continue;
        }
        rc = bounce_parse(b.data ? b.data : "", b.len, NULL, &r);
        buf_free(&b);
        if (rc)
            return app_fail(rc, argv[i]);
        j = bounce_report_json(r, argv[i]);
        line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (!line) {
            json_decref(j);
            bounce_report_free(r);
            return app_fail(MERR_NOMEM, argv[i]);
        }
        printf("%s\n", line);
        free(line);
        json_decref(j);
        bounce_report_free(r);
    }
    return code;
}

/* ---- ingest ---- */

static void print_result(const struct bounce_result *r)
{
    if (r->duplicate)
        printf("bounce %lld: seen before, nothing changed\n", r->bounce_id);
    else
        printf("bounce %lld: %s %s: %s\n", r->bounce_id, r->kind, r->state, r->note);
}

static void print_count(const char *what, const struct bounce_intake_count *c)
{
    printf("%s: %ld messages: %ld processed, %ld unparsed, %ld refused, %ld seen before; %ld "
           "addresses suppressed\n",
           what, c->messages, c->processed, c->unparsed, c->refused, c->duplicates, c->suppressed);
}

static int bounce_ingest_cmd(struct app *app, int argc, char **argv)
{
    const char *maildir = NULL, *mbox = NULL, *mailbox = NULL, *role = NULL, *rcpt = NULL;
    struct bounce_result res;
    struct buf b;
    enum merr rc;
    char chunk[65536];
    size_t n;

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_opt_value(argc, argv, &i, "--maildir", &maildir, &missing) ||
            cli_opt_value(argc, argv, &i, "--mbox", &mbox, &missing) ||
            cli_opt_value(argc, argv, &i, "--mailbox", &mailbox, &missing) ||
            cli_opt_value(argc, argv, &i, "--role", &role, &missing) ||
            cli_opt_value(argc, argv, &i, "--recipient", &rcpt, &missing)) {
            if (missing)
                return cli_usage("bounce ingest", "%s needs a value", argv[i]);
        } else {
            return cli_usage("bounce ingest", "unknown argument %s", argv[i]);
        }
    }
    if (maildir && mbox)
        return cli_usage("bounce ingest", "--maildir or --mbox, not both");
    if (mailbox) {
        const struct cfg_mailbox *m = cfg_mailbox(&app->cfg, mailbox);
        if (!m)
            return cli_usage("bounce ingest", "no [bounce.%s] section in the configuration",
                             mailbox);
        if (!role)
            role = m->role;
    }
    if (!role)
        role = "bounces";
    if (strcmp(role, "bounces") && strcmp(role, "complaints") && strcmp(role, "unsubscribe"))
        return cli_usage("bounce ingest", "--role: bounces, complaints or unsubscribe, not \"%s\"",
                         role);
    rc = app_db(app);
    if (rc) {
        app_fail(rc, "bounce ingest");
        return maildir || mbox ? merr_exit_code(rc) : EXIT_PIPE_TEMPFAIL;
    }
    if (maildir || mbox) {
        struct bounce_intake_count c;
        rc = maildir ? bounce_intake_maildir(app->db, &app->cfg, maildir, role, date_now(), &c)
                     : bounce_intake_mbox(app->db, &app->cfg, mbox, role, date_now(), &c);
        print_count(maildir ? maildir : mbox, &c);
        return rc ? app_fail(rc, "bounce ingest") : 0;
    }
    /* stdin: keep max_message_size + 1 bytes (more ends unparsed anyway), read it all */
    buf_init(&b, app->cfg.bounce_max_size + 1);
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        size_t room = b.max - b.len;
        if (buf_append(&b, chunk, n < room ? n : room) != MERR_OK) {
            buf_free(&b);
            fprintf(stderr, "mailer: bounce ingest: out of memory\n");
            return EXIT_PIPE_TEMPFAIL;
        }
    }
    if (ferror(stdin)) {
        buf_free(&b);
        fprintf(stderr, "mailer: bounce ingest: cannot read stdin\n");
        return EXIT_PIPE_TEMPFAIL;
    }
    rc = bounce_intake_message(app->db, &app->cfg, mailbox ? mailbox : "ingest", role,
                               b.data ? b.data : "", b.len, rcpt, date_now(), &res);
    buf_free(&b);
    if (rc) {
        app_fail(rc, "bounce ingest");
        return EXIT_PIPE_TEMPFAIL;
    }
    print_result(&res);
    return 0;
}

/* ---- poll ---- */

static int bounce_poll_cmd(struct app *app, int argc, char **argv)
{
    const char *name = NULL;
    struct bounce_intake_count c;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_opt_value(argc, argv, &i, "--mailbox", &name, &missing)) {
            if (missing)
                return cli_usage("bounce poll", "%s needs a value", argv[i]);
        } else {
            return cli_usage("bounce poll", "unknown argument %s", argv[i]);
        }
    }
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "bounce poll");
    rc = bounce_poll_once(app->db, &app->cfg, name, &c);
    print_count(name ? name : "mailboxes", &c);
    return rc ? app_fail(rc, "bounce poll") : 0;
}

/* ---- ls, show, undo ---- */

static int bounce_ls_cmd(struct app *app, int argc, char **argv)
{
    struct bounce_filter f;
    const char *limit = NULL, *before = NULL;
    int json = 0;
    json_t *arr;
    enum merr rc;
    long long v;

    memset(&f, 0, sizeof f);
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (cli_opt_value(argc, argv, &i, "--state", &f.state, &missing) ||
                   cli_opt_value(argc, argv, &i, "--mailbox", &f.mailbox, &missing) ||
                   cli_opt_value(argc, argv, &i, "--match", &f.match, &missing) ||
                   cli_opt_value(argc, argv, &i, "--limit", &limit, &missing) ||
                   cli_opt_value(argc, argv, &i, "--before", &before, &missing)) {
            if (missing)
                return cli_usage("bounce ls", "%s needs a value", argv[i]);
        } else {
            return cli_usage("bounce ls", "unknown argument %s", argv[i]);
        }
    }
    if (limit) {
        if (cli_parse_id(limit, &v) || v > 10000)
            return cli_usage("bounce ls", "--limit: a number from 1 to 10000");
        f.limit = (int)v;
    }
    if (before && cli_parse_id(before, &f.before))
        return cli_usage("bounce ls", "--before: a bounce id");
    rc = app_db(app);
    if (!rc)
        rc = bounce_view_list(app->db, &f, &arr);
    if (rc)
        return app_fail(rc, "bounce ls");
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        size_t i;
        json_t *o;
        printf("%-6s %-20s %-12s %-10s %-10s %s\n", "ID", "RECEIVED", "MAILBOX", "KIND", "STATE",
               "RECIPIENTS");
        json_array_foreach(arr, i, o)
        {
            char when[DATE_ISO_LEN];
            const char *rc_s = json_string_value(json_object_get(o, "recipients"));
            date_iso8601_utc((time_t)json_integer_value(json_object_get(o, "received_at")), when);
            printf("%-6lld %-20s %-12s %-10s %-10s %s%s\n",
                   (long long)json_integer_value(json_object_get(o, "id")), when,
                   json_string_value(json_object_get(o, "mailbox")),
                   json_string_value(json_object_get(o, "kind")),
                   json_string_value(json_object_get(o, "state")),
                   rc_s ? rc_s : json_string_value(json_object_get(o, "note")),
                   json_is_null(json_object_get(o, "undone_at")) ? "" : " [undone]");
        }
    }
    json_decref(arr);
    return 0;
}

static int bounce_show_cmd(struct app *app, int argc, char **argv)
{
    long long id = 0;
    int raw = 0;
    json_t *o;
    char *msg = NULL, *s;
    size_t len = 0;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--raw"))
            raw = 1;
        else if (!id && cli_parse_id(argv[i], &id) == 0)
            ;
        else
            return cli_usage("bounce show", "unexpected argument %s", argv[i]);
    }
    if (!id)
        return cli_usage("bounce show", "which bounce? mailer bounce show ID");
    rc = app_db(app);
    if (!rc)
        rc = bounce_view_show(app->db, id, &o, raw ? &msg : NULL, &len);
    if (rc)
        return app_fail(rc, "bounce show");
    if (raw) {
        fwrite(msg, 1, len, stdout);
    } else {
        s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            printf("%s\n", s);
        free(s);
    }
    free(msg);
    json_decref(o);
    return 0;
}

static int bounce_undo_cmd(struct app *app, int argc, char **argv)
{
    long long id;
    int lifted;
    enum merr rc;

    if (argc != 2 || cli_parse_id(argv[1], &id))
        return cli_usage("bounce undo", "which bounce? mailer bounce undo ID");
    rc = app_db(app);
    if (!rc)
        rc = bounce_policy_undo(app->db, id, date_now(), &lifted);
    if (rc)
        return app_fail(rc, "bounce undo");
    printf("bounce %lld undone: %d change%s lifted\n", id, lifted, lifted == 1 ? "" : "s");
    return 0;
}

static const struct cli_command bounce_cmds[] = {
    {.name = "parse",
     .run = bounce_parse_cmd,
     .usage = "usage: mailer bounce parse FILE...\n\n"
              "Parses each FILE (one message, as an .eml file or a maildir entry) and\n"
              "prints one JSON object per file on its own line:\n"
              "  {\"file\": ..., \"kind\": "
              "\"dsn\"|\"arf\"|\"auto-reply\"|\"report\"|\"not-bounce\",\n"
              "   \"recipients\": [{\"address\", \"class\", \"reason\", \"status\",\n"
              "                   \"reply_code\", \"diagnostic\"}]}\n"
              "plus \"unparsed\": REASON for a message that could not be read safely.\n"
              "Touches no database. Exit 3 if a file could not be read.\n"},
    {.name = "poll",
     .run = bounce_poll_cmd,
     .usage = "usage: mailer bounce poll [--mailbox NAME]\n\n"
              "Reads every [bounce.NAME] mailbox once (or just NAME): each message is\n"
              "recorded and the policy applied (docs/bounces.md), then it is moved to\n"
              "[bounce] processed_folder or unparsed_folder (IMAP), deleted (delete =\n"
              "true) or remembered by its UIDL (POP3 leave_on_server). Safe to run again\n"
              "or after a kill: nothing is lost or counted twice. `mailer serve` does\n"
              "this by itself (IMAP IDLE where offered).\n"},
    {.name = "ingest",
     .run = bounce_ingest_cmd,
     .usage = "usage: mailer bounce ingest [--mailbox NAME] [--role ROLE] [--recipient ADDR]\n"
              "       mailer bounce ingest --maildir DIR | --mbox FILE [--role ROLE]\n\n"
              "Reads one message on stdin (Postfix pipe, Exim pipe transport) or every\n"
              "message of a maildir or an mbox, records it and applies the bounce policy\n"
              "(docs/bounces.md). The same message twice changes nothing the second time.\n"
              "A maildir's messages move to .Processed / .Unparsed once recorded; an mbox\n"
              "is left as it is.\n\n"
              "options:\n"
              "  --mailbox NAME    a [bounce.NAME] mailbox: its name and role are recorded\n"
              "  --role ROLE       bounces (default), complaints or unsubscribe\n"
              "  --recipient ADDR  the envelope recipient (Postfix: ${recipient})\n\n"
              "Exit 0 when the message is recorded (parsed or not), 75 (EX_TEMPFAIL) when\n"
              "it could not be and the MTA should try again.\n"},
    {.name = "ls",
     .run = bounce_ls_cmd,
     .usage = "usage: mailer bounce ls [--state processed|unparsed|refused] [--mailbox NAME]\n"
              "                        [--match CLASS|ADDRESS] [--limit N] [--before ID] "
              "[--json]\n\n"
              "Lists the messages read from the bounce mailboxes, newest first, with each\n"
              "recipient's class and reason and what the policy did.\n"},
    {.name = "show",
     .run = bounce_show_cmd,
     .usage = "usage: mailer bounce show ID [--raw]\n\n"
              "Shows one bounce as JSON: its recipients, how each was attributed, the\n"
              "effects it had (and whether they were undone). --raw prints the kept\n"
              "bytes of the message instead.\n"},
    {.name = "undo",
     .run = bounce_undo_cmd,
     .usage = "usage: mailer bounce undo ID\n\n"
              "Lifts exactly what bounce ID caused: the suppression it added (while it still\n"
              "has that reason), the subscriptions it ended (while still ended), the\n"
              "envelope it marked failed; later soft-bounce counts leave it out. A second\n"
              "undo changes nothing.\n"},
    {.name = NULL},
};

const struct cli_command cli_bounce_cmd = {
    .name = "bounce",
    .usage = GROUP_USAGE,
    .sub = bounce_cmds,
    .summary = "bounces and complaints: parse, poll, ingest, ls, show, undo",
};
