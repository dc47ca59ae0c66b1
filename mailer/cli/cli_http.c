/*
 * cli_http.c: `mailer serve` and `mailer token create|ls|revoke`.
 *
 * serve checks the database like every command (schema current, secret
 * loaded), installs SIGTERM/SIGINT handlers that only set a flag, and hands
 * over to serve_run() (mailer/serve), which shuts down gracefully when the
 * flag is set.
 * Tokens are made and kept by the http module (http.h: http_token_*); this
 * file prints a new one once and never again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cli.h"
#include "date.h"
#include "http.h"
#include "serve.h"
#include "utf8.h"

int cli_serve(struct app *app, int argc, char **argv)
{
    int workers = 1;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: mailer serve [--no-workers]\n\n"
                   "Runs the HTTP service on [http] listen (share form, subscription pages,\n"
                   "admin API under /api/, /healthz, /metrics), the delivery workers and the\n"
                   "weekly digest scheduler (a tick a minute).\n"
                   "SIGTERM or SIGINT stops it gracefully: no new connections, requests in\n"
                   "flight finish, the workers finish their batch.\n\n"
                   "  --no-workers  do not run the delivery workers nor the digest scheduler\n"
                   "                in this process\n");
            return 0;
        }
        if (strcmp(argv[i], "--no-workers") == 0)
            workers = 0;
        else
            return cli_usage("serve", "unknown option %s", argv[i]);
    }
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "serve");
    db_close(app->db); /* every server thread opens its own */
    app->db = NULL;
    rc = serve_run(&app->cfg, cli_catch_stop(), workers);
    if (rc)
        return app_fail(rc, "serve");
    return 0;
}

static int token_create(struct app *app, const char *name)
{
    struct buf tok;
    long long id = 0;
    enum merr rc;

    if (!*name || strlen(name) > HTTP_TOKEN_NAME_MAX || utf8_has_crlf_nul(name, strlen(name)))
        return cli_usage("token", "a token name is 1 to %d characters on one line",
                         HTTP_TOKEN_NAME_MAX);
    buf_init(&tok, 128);
    rc = http_token_create(app->db, name, date_now(), &tok, &id);
    if (!rc) {
        printf("%s\n", tok.data);
        fprintf(stderr, "token %lld \"%s\" created; it is shown only this once\n", id, name);
    }
    buf_free(&tok);
    return rc ? app_fail(rc, "token create") : 0;
}

static int token_ls(struct app *app)
{
    struct http_token *v = NULL;
    size_t n = 0;
    enum merr rc = http_token_list(app->db, &v, &n);
    if (rc)
        return app_fail(rc, "token ls");
    printf("%-6s %-24s %-21s %-21s %s\n", "ID", "NAME", "CREATED", "LAST USED", "STATUS");
    for (size_t i = 0; i < n; i++) {
        char c[DATE_ISO_LEN], u[DATE_ISO_LEN] = "-";
        date_iso8601_utc(v[i].created_at, c);
        if (v[i].last_used_at)
            date_iso8601_utc(v[i].last_used_at, u);
        printf("%-6lld %-24s %-21s %-21s %s\n", v[i].id, v[i].name, c, u,
               v[i].revoked_at ? "revoked" : "active");
    }
    free(v);
    return 0;
}

int cli_token(struct app *app, int argc, char **argv)
{
    enum merr rc;
    int revoked = 0;

    if (argc < 2 || cli_is_help(argv[1])) {
        printf("usage: mailer token create NAME | ls | revoke ID|NAME\n\n"
               "Bearer tokens for the admin API (/api/). `create` prints the new token\n"
               "once on stdout; only its SHA-256 is stored. `revoke` stops it at once.\n");
        return argc < 2 ? EXIT_USAGE : 0;
    }
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "token");
    if (strcmp(argv[1], "create") == 0) {
        if (argc != 3)
            return cli_usage("token", "token create takes one NAME");
        return token_create(app, argv[2]);
    }
    if (strcmp(argv[1], "ls") == 0) {
        if (argc != 2)
            return cli_usage("token", "token ls takes no arguments");
        return token_ls(app);
    }
    if (strcmp(argv[1], "revoke") == 0) {
        if (argc != 3)
            return cli_usage("token", "token revoke takes one ID or NAME");
        rc = http_token_revoke(app->db, argv[2], date_now(), &revoked);
        if (rc)
            return app_fail(rc, "token revoke");
        printf("revoked %d token(s)\n", revoked);
        return 0;
    }
    return cli_usage("token", "unknown subcommand \"%s\"", argv[1]);
}
