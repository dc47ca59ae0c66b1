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

#endif
