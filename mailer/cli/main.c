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

static const struct cli_command *const commands[] = {
    &cli_init_cmd,  &cli_serve_cmd,   &cli_article_cmd, &cli_compose_cmd,
    &cli_share_cmd, &cli_deliver_cmd, &cli_queue_cmd,   &cli_list_cmd,
    &cli_sub_cmd,   &cli_digest_cmd,  &cli_token_cmd,   &cli_bounce_cmd,
    &cli_dkim_cmd,  &cli_doctor_cmd,  &cli_user_cmd,    &cli_breaking_cmd,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: mailer [--config FILE] <command> [options]\n\n"
               "The service behind a news site's \"Gửi Email\" button.\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nglobal options:\n"
               "  -c, --config FILE  configuration file (default: $MAILER_CONFIG, else\n"
               "                     ./mailer.ini if present, else built-in defaults)\n"
               "  -V, --version      print the version\n"
               "  -h, --help         this help; `mailer <command> --help` for a command\n\n"
               "-h or --help anywhere on a command's line prints its help and does\n"
               "nothing else. An option's value that begins with \"-\" is written\n"
               "--option=VALUE (`--note=-5 độ`); as a separate word it is taken for a\n"
               "forgotten value.\n\n"
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

int cli_is_option(const char *arg)
{
    return arg[0] == '-' && arg[1] != '\0';
}

/* 1 if -h or --help is among argv[1..] (up to a "--"). */
static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (cli_is_help(argv[i]))
            return 1;
    return 0;
}

/* The words of the command ("sub import") for messages: argv[0..depth]. */
static void command_path(char *out, size_t n, int depth, char **argv)
{
    size_t len = 0;
    out[0] = '\0';
    for (int k = 0; k <= depth && len < n; k++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", k ? " " : "", argv[k]);
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
    const struct cli_command *cmd = NULL;
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (!strcmp(commands[k]->name, argv[i]))
            cmd = commands[k];
    if (!cmd)
        return cli_usage(NULL, "unknown command \"%s\"", argv[i]);
    argc -= i;
    argv += i;
    /* down the tree as far as the words name commands: `sub import ...` */
    int depth = 0;
    while (cmd->sub && argc > 1) {
        const struct cli_command *c = cmd->sub;
        while (c->name && strcmp(c->name, argv[1]) != 0)
            c++;
        if (!c->name)
            break;
        cmd = c;
        argc--;
        argv++;
        depth++;
    }
    /* help before anything else: no config read, no database opened */
    if (wants_help(argc, argv)) {
        fputs(cmd->usage, stdout);
        return 0;
    }
    if (cmd->sub) {
        char path[128];
        command_path(path, sizeof path, depth, argv - depth);
        if (argc < 2) {
            fputs(cmd->usage, stderr);
            return EXIT_USAGE;
        }
        return cli_usage(path, "unknown command \"%s\"", argv[1]);
    }

    if (!config_path && access("mailer.ini", R_OK) == 0)
        config_path = "mailer.ini";
    app.config_path = config_path;
    app.tty = isatty(STDERR_FILENO);
    rc = cfg_load(&app.cfg, config_path);
    if (rc) {
        fprintf(stderr, "mailer: %s\n", merr_msg());
        return merr_exit_code(rc);
    }
    code = cmd->run(&app, argc, argv);
    db_close(app.db);
    cfg_free(&app.cfg);
    return code;
}
