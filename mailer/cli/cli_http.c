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

static const char SERVE_USAGE[] =
    "usage: mailer serve [--no-workers]\n\n"
    "Runs the HTTP service on [http] listen (share form, subscription pages,\n"
    "admin API under /api/, /healthz, /metrics), the delivery workers and the\n"
    "weekly digest scheduler (a tick a minute).\n"
    "SIGTERM or SIGINT stops it gracefully: no new connections, requests in\n"
    "flight finish, the workers finish their batch.\n\n"
    "  --no-workers  do not run the delivery workers nor the digest scheduler\n"
    "                in this process\n";

static int serve_cmd(struct app *app, int argc, char **argv)
{
    int workers = 1;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
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

const struct cli_command cli_serve_cmd = {
    .name = "serve",
    .run = serve_cmd,
    .usage = SERVE_USAGE,
    .summary = "run the HTTP service and the delivery workers",
};

static const char TOKEN_USAGE[] =
    "usage: mailer token <command>\n\n"
    "Bearer tokens for the admin API (/api/).\n\n"
    "commands:\n"
    "  create NAME [--scope full|read]\n"
    "                  make a token and print it once on stdout (only its\n"
    "                  SHA-256 is stored); read: GET only\n"
    "  ls              every token, active or revoked\n"
    "  revoke ID|NAME  stop a token at once\n\n"
    "`mailer token <command> --help` for details.\n";

/* The one NAME (or ID) argument of create and revoke; -1 when it is there. */
static int one_name(const char *cmd, int argc, char **argv, const char *what, const char **name)
{
    *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_option(argv[i]))
            return cli_usage(cmd, "unknown option %s (a %s cannot begin with \"-\")", argv[i],
                             what);
        if (*name)
            return cli_usage(cmd, "one %s only (got \"%s\" too)", what, argv[i]);
        *name = argv[i];
    }
    if (!*name)
        return cli_usage(cmd, "missing %s", what);
    return -1;
}

static int token_create(struct app *app, int argc, char **argv)
{
    struct buf tok;
    long long id = 0;
    const char *name = NULL, *scope = "full";
    enum merr rc;
    int read_only;

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_opt_value(argc, argv, &i, "--scope", &scope, &missing)) {
            if (missing)
                return cli_usage("token create", "%s needs a value", argv[i]);
        } else if (cli_is_option(argv[i])) {
            return cli_usage("token create",
                             "unknown option %s (a token NAME cannot begin with \"-\")", argv[i]);
        } else if (name) {
            return cli_usage("token create", "one token NAME only (got \"%s\" too)", argv[i]);
        } else {
            name = argv[i];
        }
    }
    if (!name)
        return cli_usage("token create", "missing token NAME");
    if (strcmp(scope, "full") != 0 && strcmp(scope, "read") != 0)
        return cli_usage("token create", "--scope: full or read (got \"%s\")", scope);
    read_only = !strcmp(scope, "read");
    if (!*name || strlen(name) > HTTP_TOKEN_NAME_MAX || utf8_has_crlf_nul(name, strlen(name)))
        return cli_usage("token create", "a token name is 1 to %d characters on one line",
                         HTTP_TOKEN_NAME_MAX);
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "token create");
    buf_init(&tok, 128);
    rc = http_token_create(app->db, name, read_only, date_now(), &tok, &id);
    if (!rc) {
        printf("%s\n", tok.data);
        fprintf(stderr, "token %lld \"%s\" (%s) created; it is shown only this once\n", id, name,
                read_only ? "read-only" : "full");
    }
    buf_free(&tok);
    return rc ? app_fail(rc, "token create") : 0;
}

static int token_ls(struct app *app, int argc, char **argv)
{
    struct http_token *v = NULL;
    size_t n = 0;
    enum merr rc;

    if (argc > 1)
        return cli_usage("token ls", "token ls takes no arguments");
    rc = app_db(app);
    if (!rc)
        rc = http_token_list(app->db, &v, &n);
    if (rc)
        return app_fail(rc, "token ls");
    printf("%-6s %-24s %-5s %-21s %-21s %s\n", "ID", "NAME", "SCOPE", "CREATED", "LAST USED",
           "STATUS");
    for (size_t i = 0; i < n; i++) {
        char c[DATE_ISO_LEN], u[DATE_ISO_LEN] = "-";
        date_iso8601_utc(v[i].created_at, c);
        if (v[i].last_used_at)
            date_iso8601_utc(v[i].last_used_at, u);
        printf("%-6lld %-24s %-5s %-21s %-21s %s\n", v[i].id, v[i].name,
               v[i].read_only ? "read" : "full", c, u, v[i].revoked_at ? "revoked" : "active");
    }
    free(v);
    return 0;
}

static int token_revoke(struct app *app, int argc, char **argv)
{
    const char *which;
    int revoked = 0;
    enum merr rc;
    int u = one_name("token revoke", argc, argv, "token ID or NAME", &which);

    if (u >= 0)
        return u;
    rc = app_db(app);
    if (!rc)
        rc = http_token_revoke(app->db, which, date_now(), &revoked);
    if (rc)
        return app_fail(rc, "token revoke");
    printf("revoked %d token(s)\n", revoked);
    return 0;
}

static const struct cli_command token_cmds[] = {
    {.name = "create",
     .run = token_create,
     .usage = "usage: mailer token create NAME [--scope full|read]\n\n"
              "Creates a bearer token for the admin API named NAME (1 to 100 characters\n"
              "on one line, not beginning with \"-\") and prints it once on stdout;\n"
              "only its SHA-256 is stored. A token of scope read may only read (GET);\n"
              "full (the default) may also change.\n"},
    {.name = "ls",
     .run = token_ls,
     .usage = "usage: mailer token ls\n\n"
              "Every token: id, name, scope, created, last used, active or revoked.\n"},
    {.name = "revoke",
     .run = token_revoke,
     .usage = "usage: mailer token revoke ID|NAME\n\n"
              "Revokes the token with that id, or every active token with that name;\n"
              "it stops working at once.\n"},
    {.name = NULL},
};

const struct cli_command cli_token_cmd = {
    .name = "token",
    .usage = TOKEN_USAGE,
    .sub = token_cmds,
    .summary = "admin API tokens: create, ls, revoke",
};
