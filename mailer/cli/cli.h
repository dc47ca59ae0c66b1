/*
 * cli.h: what every `mailer <command>` implementation shares.
 *
 * main.c parses the global options (--config, --version, --help), loads the
 * configuration and dispatches to one `cli_<group>()` function per command
 * group, each in its own file cli_<group>.c. A command returns the process
 * exit code (see merr_exit_code and README "Exit codes"):
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
 * the token secret from the database when the config has none.
 */
enum merr app_db(struct app *app);

/*
 * Prints "mailer: <what>: <detail>" for a failed call and returns the exit
 * code for `rc`.
 */
int app_fail(enum merr rc, const char *what);

/* Prints "mailer: <message>" and a hint to --help, returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 if argv[i] is -h or --help. */
int cli_is_help(const char *arg);

/* If argv[1] is -h or --help: prints `usage` to stdout and returns 1. Else 0. */
int cli_help(int argc, char **argv, const char *usage);

/*
 * The start of a command group (`mailer queue ...`): with no command,
 * prints `usage` to stderr and returns EXIT_USAGE; with -h or --help as the
 * command, prints it to stdout and returns 0; otherwise returns -1 and the
 * caller dispatches on argv[1].
 */
int cli_group_help(int argc, char **argv, const char *usage);

/* A command of a group: `mailer GROUP NAME ARGS` runs run(app, argc, argv) with argv[0] = NAME. */
struct cli_command {
    const char *name;
    int (*run)(struct app *app, int argc, char **argv);
};

/*
 * Runs a command group: cli_group_help, then the entry of `cmds` (ended by
 * a NULL name) that argv[1] names, returning its exit code. Returns -1 if
 * argv[1] names none: the caller reports the unknown command.
 */
int cli_group(struct app *app, int argc, char **argv, const char *usage,
              const struct cli_command *cmds);

/*
 * One option of an argument loop, given as "NAME VALUE" or "NAME=VALUE".
 * If argv[*i] is the option `name`: returns 1 and sets *val to VALUE
 * (borrowed from argv), advancing *i past a separate VALUE; if NAME is the
 * last argument, returns 1, leaves *val alone and sets *missing to 1 (the
 * caller reports "NAME needs a value" with argv[*i]). Returns 0 for any
 * other argument, "NAMEx" included, and leaves *i, *val and *missing alone,
 * so calls for several options chain with ||.
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

/* Command groups, one file each. argv[0] is the group's name. */
int cli_init(struct app *app, int argc, char **argv);
int cli_article(struct app *app, int argc, char **argv);
int cli_compose(struct app *app, int argc, char **argv);
int cli_share(struct app *app, int argc, char **argv);
int cli_deliver(struct app *app, int argc, char **argv);
int cli_queue(struct app *app, int argc, char **argv);
int cli_list(struct app *app, int argc, char **argv);
int cli_sub(struct app *app, int argc, char **argv);
int cli_digest(struct app *app, int argc, char **argv);
int cli_token(struct app *app, int argc, char **argv);
int cli_serve(struct app *app, int argc, char **argv);
int cli_bounce(struct app *app, int argc, char **argv);
int cli_dkim(struct app *app, int argc, char **argv);
int cli_doctor(struct app *app, int argc, char **argv);

#endif
