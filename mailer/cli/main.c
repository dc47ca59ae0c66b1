/*
 * main.c: `mailer [--config FILE] <command> ...`.
 *
 * Global options are parsed here; the rest of the line goes to the command
 * group's function. The config is loaded before dispatch so that a bad file
 * stops every command the same way (exit 2, file:line: key: reason).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "date.h"
#include "log.h"

struct command {
    const char *name;
    int (*run)(struct app *app, int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"init", cli_init, "create the database or upgrade it to this version"},
    {"serve", cli_serve, "run the HTTP service and the delivery workers"},
    {"article", cli_article, "add, list and show articles (add|ls|show)"},
    {"compose", cli_compose, "write one message as .eml without sending (share|digest)"},
    {"share", cli_share, "enqueue a share of an article, as the web form does"},
    {"deliver", cli_deliver, "deliver what is due (--once: then exit)"},
    {"queue", cli_queue, "outbox: status, ls, retry, cancel"},
    {"list", cli_list, "mailing lists: create, ls, show, rm"},
    {"sub", cli_sub, "subscribers: add, ls, rm, import, export, show, erase"},
    {"digest", cli_digest, "weekly digests: preview, send, status, pause, resume, cancel"},
    {"token", cli_token, "admin API tokens: create, ls, revoke"},
    {"bounce", cli_bounce, "bounces and complaints: parse, ingest, poll, ls, show, undo"},
    {"dkim", cli_dkim, "DKIM keys and their DNS records: keygen, record, sign"},
    {"doctor", cli_doctor, "check the setup for sending: DKIM, SPF, DMARC, https, EHLO"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: mailer [--config FILE] <command> [options]\n\n"
               "The service behind a news site's \"Gửi Email\" button.\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nglobal options:\n"
               "  -c, --config FILE  configuration file (default: $MAILER_CONFIG, else\n"
               "                     ./mailer.ini if present, else built-in defaults)\n"
               "  -V, --version      print the version\n"
               "  -h, --help         this help; `mailer <command> --help` for a command\n\n"
               "exit codes: 0 ok, 1 usage, 2 config, 3 bad data, 4 temporary failure,\n"
               "            5 not found, 6 permanent failure, 7 internal or I/O error\n");
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mailer: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'mailer %s --help'.\n", cmd ? cmd : "");
    return EXIT_USAGE;
}

int cli_is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

int app_fail(enum merr rc, const char *what)
{
    const char *detail = merr_msg();
    if (detail[0])
        fprintf(stderr, "mailer: %s: %s\n", what, detail);
    else
        fprintf(stderr, "mailer: %s: %s\n", what, merr_str(rc));
    return merr_exit_code(rc);
}

int main(int argc, char **argv)
{
    struct app app;
    const char *config_path = getenv("MAILER_CONFIG");
    int i = 1, code;
    enum merr rc;

    /* every file the mailer makes holds personal data or secrets (fs.h) */
    umask(077);
    memset(&app, 0, sizeof app);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
            if (i + 1 >= argc)
                return cli_usage(NULL, "%s needs a file", argv[i]);
            config_path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config_path = argv[i] + 9;
        } else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf("mailer %s\n", MAILER_VERSION);
            return 0;
        } else if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else {
            return cli_usage(NULL, "unknown option %s", argv[i]);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const struct command *cmd = NULL;
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (!strcmp(commands[k].name, argv[i]))
            cmd = &commands[k];
    if (!cmd)
        return cli_usage(NULL, "unknown command \"%s\"", argv[i]);

    if (!config_path && access("mailer.ini", R_OK) == 0)
        config_path = "mailer.ini";
    app.config_path = config_path;
    app.tty = isatty(STDERR_FILENO);
    rc = cfg_load(&app.cfg, config_path);
    if (rc) {
        fprintf(stderr, "mailer: %s\n", merr_msg());
        return merr_exit_code(rc);
    }
    code = cmd->run(&app, argc - i, argv + i);
    db_close(app.db);
    cfg_free(&app.cfg);
    return code;
}
