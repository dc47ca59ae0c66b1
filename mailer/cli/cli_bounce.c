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

#include "bounce.h"
#include "buf.h"
#include "cli.h"

static const char GROUP_USAGE[] =
    "usage: mailer bounce <command> [options]\n\n"
    "Bounces, complaints and mailed unsubscribes (docs/bounces.md).\n\n"
    "commands:\n"
    "  parse FILE...   print what the parser reads in each message (no database)\n";

/* ---- parse ---- */

static int bounce_parse_cmd(struct app *app, int argc, char **argv)
{
    int code = 0;
    (void)app;
    if (cli_help(argc, argv,
                 "usage: mailer bounce parse FILE...\n\n"
                 "Parses each FILE (one message, as an .eml file or a maildir entry) and\n"
                 "prints one JSON object per file on its own line:\n"
                 "  {\"file\": ..., \"kind\": "
                 "\"dsn\"|\"arf\"|\"auto-reply\"|\"report\"|\"not-bounce\",\n"
                 "   \"recipients\": [{\"address\", \"class\", \"reason\", \"status\",\n"
                 "                   \"reply_code\", \"diagnostic\"}]}\n"
                 "plus \"unparsed\": REASON for a message that could not be read safely.\n"
                 "Touches no database. Exit 3 if a file could not be read.\n"))
        return 0;
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

int cli_bounce(struct app *app, int argc, char **argv)
{
    static const struct cli_command cmds[] = {
        {"parse", bounce_parse_cmd},
        {NULL, NULL},
    };
    int code = cli_group(app, argc, argv, GROUP_USAGE, cmds);
    if (code < 0)
        return cli_usage("bounce", "unknown command \"%s\"", argv[1]);
    return code;
}
