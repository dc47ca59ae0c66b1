/*
 * cli.h: what every `mailer <command>` implementation shares.
 *
 * main.c parses the global options (--config, --version, --help), finds the
 * command in the tree of `struct cli_command` (one top-level entry per file
 * cli_<group>.c), answers -h/--help, loads the configuration and runs it.
 * A command returns the process exit code (see merr_exit_code and README
 * "Exit codes"):
 *   0 ok, 1 usage, 2 config, 3 bad data, 4 temporary failure, 5 not found,
 *   6 permanent delivery failure, 7 internal or I/O error.
 */
#ifndef MAILER_CLI_CLI_H
#define MAILER_CLI_CLI_H

#include <stdatomic.h>
#include <stdio.h>

#include "config.h"
#include "db.h"
#include "err.h"

#define EXIT_USAGE 1

struct app {
    struct config cfg;
    const char *config_path; /* NULL: built-in defaults (plus ./mailer.ini if present) */
    struct db *db;           /* opened by app_db() on first use */
    int tty;                 /* stderr is a terminal: progress bars allowed */
};

/*
 * Opens the database named in the config if not yet open, and checks its
 * schema is current (else MERR_CONFIG telling to run `mailer init`). Loads
 * the token secret from the database when the config has none. A database
 * file that does not exist is MERR_CONFIG "no database at PATH; run
 * `mailer init`": only `mailer init` creates one, so a command run from the
 * wrong folder does not leave an empty database behind.
 */
enum merr app_db(struct app *app);

/*
 * Prints "mailer: <what>: <detail>" for a failed call and returns the exit
 * code for `rc`.
 */
int app_fail(enum merr rc, const char *what);

/* Prints "mailer: <message>" and a hint to --help, returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 if `arg` is -h or --help. */
int cli_is_help(const char *arg);

/*
 * 1 if `arg` reads as an option: "-" followed by anything ("-x", "--x").
 * A lone "-" (standard input or output) is not one. Where a command expects
 * a name (a slug, an email, a token name, an id), such an argument is
 * refused as an unknown option, never taken as the name.
 */
int cli_is_option(const char *arg);

/*
 * A command of the command tree. A leaf has `run` (called with argv[0] =
 * its name); a group has `sub`, its commands, ended by an entry whose name
 * is NULL. `usage` is the whole --help text; `summary` one line for the
 * parent's list (top level only).
 *
 * main.c walks the tree with the words of the command line and, BEFORE
 * loading the configuration or touching the database, prints the usage of
 * the deepest command named when -h or --help appears anywhere among its
 * arguments (up to a "--"): `mailer token create --help` creates nothing,
 * `mailer sub rm a@b.vn -h` removes nothing. A group without a command
 * prints its usage to stderr (exit 1); an unknown command is a usage error.
 */
struct cli_command {
    const char *name;
    int (*run)(struct app *app, int argc, char **argv);
    const char *usage;
    const struct cli_command *sub;
    const char *summary;
};

/* The top-level commands, one file each (groups have `sub`). */
extern const struct cli_command cli_init_cmd, cli_serve_cmd, cli_article_cmd, cli_compose_cmd,
    cli_share_cmd, cli_deliver_cmd, cli_queue_cmd, cli_list_cmd, cli_sub_cmd, cli_digest_cmd,
    cli_token_cmd, cli_bounce_cmd, cli_dkim_cmd, cli_doctor_cmd, cli_user_cmd, cli_breaking_cmd;

/*
 * One option of an argument loop, given as "NAME VALUE" or "NAME=VALUE".
 * If argv[*i] is the option `name`: returns 1 and sets *val to VALUE
 * (borrowed from argv), advancing *i past a separate VALUE. If NAME is the
 * last argument, or the separate VALUE reads as an option (cli_is_option:
 * `--name --optin` is a forgotten value, not a name "--optin"), returns 1,
 * leaves *i and *val alone and sets *missing to 1 (the caller reports
 * "NAME needs a value" with argv[*i]); "NAME=-x" gives such a value on
 * purpose. Returns 0 for any other argument, "NAMEx" included, and leaves
 * *i, *val and *missing alone, so calls for several options chain with ||.
 */
int cli_opt_value(int argc, char **argv, int *i, const char *name, const char **val, int *missing);

/*
 * Parses a positive decimal number (an id, a count, a limit) filling all
 * of `s`: returns 0 and sets *out, or -1 (nothing set) for anything else:
 * empty, trailing characters, zero or less, out of range.
 */
int cli_parse_id(const char *s, long long *out);

/*
 * Makes SIGTERM and SIGINT set a flag (without SA_RESTART: blocking calls
 * return EINTR) and ignores SIGPIPE, for the commands that run until told
 * to stop. Returns the flag, shared by the whole process, to pass to
 * delivery_run or serve_run: a lock-free C11 atomic, which a signal
 * handler may set (C11 7.14.1.1) and threads read without a data race.
 */
atomic_int *cli_catch_stop(void);

/*
 * A progress bar on stderr when it is a terminal, silent otherwise:
 * progress_start(&p, "import", total) ... progress_update(&p, done, extra)
 * ... progress_end(&p). `extra` is a short text shown after the counts (may
 * be NULL). Redraws at most 10 times a second.
 */
struct progress {
    const char *label;
    long long total;
    long long done;
    double started;
    double last_draw;
    int enabled;
};
void progress_start(struct progress *p, const char *label, long long total, int enabled);
void progress_update(struct progress *p, long long done, const char *extra);
void progress_end(struct progress *p, const char *summary);

#endif
