/*
 * app.c: what commands share: the database on first use, option parsing,
 * the stop signals, the progress bar.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "date.h"
#include "enc.h"
#include "media_image.h"
#include "rnd.h"

enum merr app_db(struct app *app)
{
    enum merr rc;
    int v;

    if (app->db)
        return MERR_OK;
    if (strcmp(app->cfg.db_path, ":memory:") != 0 && access(app->cfg.db_path, F_OK) != 0) {
        /* a relative path is read from the current folder: say which one */
        char cwd[4096];
        int rel = app->cfg.db_path[0] != '/' && getcwd(cwd, sizeof cwd);
        return merr_set(MERR_CONFIG, "no database at %s%s%s; run `mailer init`", rel ? cwd : "",
                        rel ? "/" : "", app->cfg.db_path);
    }
    rc = db_open(app->cfg.db_path, app->cfg.db_busy_timeout_ms, &app->db);
    if (rc)
        return rc;
    v = db_version(app->db);
    if (v != db_latest_version()) {
        rc = merr_set(MERR_CONFIG,
                      "database %s is at schema version %d, this program needs %d: run "
                      "`mailer init`",
                      app->cfg.db_path, v, db_latest_version());
        goto fail;
    }
    if (!app->cfg.secret) {
        rc = db_setting_get(app->db, "secret", &app->cfg.secret);
        if (rc) {
            rc = merr_set(MERR_CONFIG, "no [mail] secret configured and none in the database: "
                                       "run `mailer init`");
            goto fail;
        }
    }
    return MERR_OK;
fail:
    db_close(app->db);
    app->db = NULL;
    return rc;
}

static int init_run(struct app *app, int argc, char **argv)
{
    struct db *db = NULL;
    enum merr rc;
    int before;
    char *secret = NULL;
    size_t made = 0, failed = 0;

    if (argc > 1)
        return cli_usage("init", "init takes no arguments");
    rc = db_open(app->cfg.db_path, app->cfg.db_busy_timeout_ms, &db);
    if (rc)
        return app_fail(rc, "init");
    before = db_version(db);
    rc = db_migrate(db, 0);
    if (rc)
        goto out;
    if (!app->cfg.secret && db_setting_get(db, "secret", &secret) == MERR_NOTFOUND) {
        char hex[65];
        rnd_hex(hex, 32);
        rc = db_setting_set(db, "secret", hex);
        if (rc)
            goto out;
    }
    if (before == db_latest_version())
        printf("database %s is up to date (schema version %d)\n", app->cfg.db_path, before);
    else
        printf("database %s upgraded from schema version %d to %d\n", app->cfg.db_path, before,
               db_latest_version());
    rc = media_image_derive_missing(db, &app->cfg, &made, &failed);
    if (rc)
        goto out;
    if (made)
        printf("%zu images for mail made from stored photos\n", made);
    if (failed)
        printf("%zu photos could not be decoded (see the warnings): they are linked, not "
               "embedded, in messages\n",
               failed);
out:
    free(secret);
    db_close(db);
    return rc ? app_fail(rc, "init") : 0;
}

const struct cli_command cli_init_cmd = {
    .name = "init",
    .run = init_run,
    .usage = "usage: mailer init\n\n"
             "Creates the database named by [database] path (default var/mailer.db,\n"
             "relative to the current folder), or upgrades it to this program's\n"
             "schema. Generates the token secret if the config has none. Makes the\n"
             "images for mail (body size, digest thumbnail) of stored photos that lack\n"
             "them: after an upgrade from a version without them, or after [media]\n"
             "jpeg_quality changed. Every other command refuses to run without a\n"
             "database, so that one run from another folder does not leave an empty\n"
             "one there.\n",
    .summary = "create the database or upgrade it to this version",
};

int cli_opt_value(int argc, char **argv, int *i, const char *name, const char **val, int *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc || cli_is_option(argv[*i + 1])) {
        *missing = 1;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_parse_id(const char *s, long long *out)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static atomic_int stop_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

atomic_int *cli_catch_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return &stop_flag;
}

void progress_start(struct progress *p, const char *label, long long total, int enabled)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->enabled = enabled;
    p->started = date_mono();
}

void progress_update(struct progress *p, long long done, const char *extra)
{
    double t = date_mono(), el;
    int width = 30, fill;
    char bar[64];

    p->done = done;
    if (!p->enabled || (t - p->last_draw < 0.1 && done != p->total))
        return;
    p->last_draw = t;
    el = t - p->started;
    fill = p->total > 0 ? (int)(width * (done > p->total ? p->total : done) / p->total) : 0;
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    double rate = el > 0 ? (double)done / el : 0;
    if (p->total > 0) {
        double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
        fprintf(stderr, "\r%s [%s] %lld/%lld %.0f/s ETA %.0fs %s\033[K", p->label, bar, done,
                p->total, rate, eta, extra ? extra : "");
    } else {
        fprintf(stderr, "\r%s %lld %.0f/s %s\033[K", p->label, done, rate, extra ? extra : "");
    }
}

void progress_end(struct progress *p, const char *summary)
{
    if (p->enabled)
        fprintf(stderr, "\r\033[K");
    if (summary)
        fprintf(stderr, "%s\n", summary);
}
