/*
 * cli_subs.c: `mailer list ...` and `mailer sub ...`.
 *
 * Thin wrappers over subscribers/subs.h: parse the options, call one
 * function, print the result. Everything a person may read goes to stdout
 * (tables, JSON, CSV); problems go to stderr as "mailer: <cmd>: <reason>"
 * with the exit code of merr_exit_code (3 for a refused address, 5 for an
 * unknown list or subscriber). `sub import` draws a progress bar when
 * stderr is a terminal (or with --progress) and reports each bad row as
 * "line N: reason" on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "date.h"
#include "fs.h"
#include "share.h"
#include "subs.h"

/* ---- mailer list ------------------------------------------------------ */

static const char LIST_USAGE[] =
    "usage: mailer list <command> [options]\n\n"
    "commands:\n"
    "  create SLUG --name NAME [--description TEXT] [--optin single|double]\n"
    "              [--public]\n"
    "                  create a list (slug: a-z, 0-9, hyphens; opt-in default double;\n"
    "                  private and without a weekly digest until you say otherwise)\n"
    "  set SLUG [--name N] [--description D] [--optin single|double]\n"
    "           [--public | --private]\n"
    "           [--digest-weekday 0-6|mon..sun] [--digest-time HH:MM]\n"
    "           [--digest-category C] [--digest-max N] [--digest-subject S]\n"
    "           [--digest-template T] [--digest-enabled yes|no]\n"
    "                  change a list's settings (see list set --help)\n"
    "  ls              all lists with their subscriber counts\n"
    "  show SLUG       one list: settings, digest settings, counts\n"
    "  rm SLUG         delete a list and its subscriptions\n";

static const char LIST_CREATE_USAGE[] =
    "usage: mailer list create SLUG --name NAME [--description TEXT]\n"
    "                          [--optin single|double] [--public]\n\n"
    "Creates a mailing list. SLUG is 1-64 characters of a-z, 0-9 and hyphens;\n"
    "double opt-in (the default) sends a confirmation mail on subscribe.\n\n"
    "A new list is private: it is not offered on the public subscribe page\n"
    "(editors add people with `sub add` or `sub import`) unless --public, or\n"
    "later `list set SLUG --public`. Its weekly digest is off until\n"
    "`list set SLUG --digest-enabled yes` (see `list set --help`).\n";

static int list_create(struct app *app, int argc, char **argv)
{
    const char *slug = NULL, *name = NULL, *desc = NULL, *optin = NULL;
    long long id;
    enum merr rc;
    int err = 0, is_public = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--public")) {
            is_public = 1;
            continue;
        }
        if (cli_opt_value(argc, argv, &i, "--name", &name, &err) ||
            cli_opt_value(argc, argv, &i, "--description", &desc, &err) ||
            cli_opt_value(argc, argv, &i, "--optin", &optin, &err)) {
            if (err)
                return cli_usage("list create", "%s needs a value", argv[i]);
        } else if (cli_is_option(argv[i])) {
            return cli_usage("list create", "unknown option %s", argv[i]);
        } else if (!slug) {
            slug = argv[i];
        } else {
            return cli_usage("list create", "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (!slug)
        return cli_usage("list create", "missing SLUG");
    if (!name)
        return cli_usage("list create", "missing --name");
    rc = app_db(app);
    if (!rc)
        rc = db_begin(app->db);
    if (rc)
        return app_fail(rc, "list create");
    rc = subs_list_create(app->db, slug, name, desc, optin, date_now(), &id);
    if (!rc && is_public) {
        struct subs_list_update u;
        subs_list_update_init(&u);
        u.is_public = 1;
        rc = subs_list_update(app->db, NULL, slug, &u, NULL);
    }
    if (!rc)
        rc = db_commit(app->db);
    if (rc) {
        db_rollback(app->db);
        return app_fail(rc, "list create");
    }
    printf("list %s created (id %lld, %s opt-in, %s, weekly digest off)\n", slug, id,
           optin && !strcmp(optin, "single") ? "single" : "double",
           is_public ? "public: on the subscribe page" : "private: not on the subscribe page");
    return 0;
}

static int list_ls(struct app *app, int argc, char **argv)
{
    struct subs_list *v;
    size_t n;
    enum merr rc;

    if (argc > 1)
        return cli_usage("list ls", "ls takes no arguments");
    rc = app_db(app);
    if (!rc)
        rc = subs_list_all(app->db, &v, &n);
    if (rc)
        return app_fail(rc, "list ls");
    printf("%-24s %-7s %-7s %-6s %10s %11s %12s  %s\n", "SLUG", "SHOWN", "OPTIN", "DIGEST",
           "CONFIRMED", "UNCONFIRMED", "UNSUBSCRIBED", "NAME");
    for (size_t i = 0; i < n; i++)
        printf("%-24s %-7s %-7s %-6s %10lld %11lld %12lld  %s\n", v[i].slug,
               v[i].is_public ? "public" : "private", v[i].double_optin ? "double" : "single",
               v[i].digest_enabled ? "on" : "off", v[i].n_confirmed, v[i].n_unconfirmed,
               v[i].n_unsubscribed, v[i].name);
    subs_lists_free(v, n);
    return 0;
}

static const char *const WEEKDAYS[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
static const char *const WEEKDAYS_VI[] = {"Chủ nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư",
                                          "Thứ Năm",  "Thứ Sáu", "Thứ Bảy"};

/* The one SLUG argument of show and rm; -1 when it is there. */
static int one_slug(const char *cmd, int argc, char **argv, const char **slug)
{
    *slug = NULL;
    if (argc == 2 && cli_is_option(argv[1]))
        return cli_usage(cmd, "unknown option %s", argv[1]);
    if (argc != 2)
        return cli_usage(cmd, "needs exactly one SLUG");
    *slug = argv[1];
    return -1;
}

static int list_show(struct app *app, int argc, char **argv)
{
    struct subs_list l;
    char created[DATE_ISO_LEN], updated[DATE_ISO_LEN];
    const char *slug;
    int wd, u = one_slug("list show", argc, argv, &slug);
    enum merr rc;

    if (u >= 0)
        return u;
    rc = app_db(app);
    if (!rc)
        rc = subs_list_get(app->db, slug, &l);
    if (rc)
        return app_fail(rc, "list show");
    date_iso8601(l.created_at, created);
    date_iso8601(l.updated_at, updated);
    wd = l.digest_weekday >= 0 && l.digest_weekday <= 6 ? l.digest_weekday : 0;
    printf("slug:            %s\nid:              %lld\nname:            %s\n"
           "description:     %s\nopt-in:          %s\nshown:           %s\n"
           "created:         %s\n"
           "updated:         %s\n"
           "subscribers:     %lld confirmed, %lld unconfirmed, %lld unsubscribed\n"
           "digest:          %s\n"
           "digest schedule: %s %s (%s, weekday %d) %s\n"
           "digest category: %s\ndigest max:      %d articles\n"
           "digest subject:  %s\ndigest template: %s\n",
           l.slug, l.id, l.name, l.description, l.double_optin ? "double" : "single",
           l.is_public ? "public (offered on the subscribe page)"
                       : "private (not on the subscribe page; editors add people)",
           created, updated, l.n_confirmed, l.n_unconfirmed, l.n_unsubscribed,
           l.digest_enabled ? "enabled" : "disabled", WEEKDAYS_VI[wd], l.digest_time, WEEKDAYS[wd],
           l.digest_weekday, date_zone(), l.digest_category ? l.digest_category : "(all)",
           l.digest_max_articles, l.digest_subject, l.digest_template);
    subs_list_clear(&l);
    return 0;
}

static const char LIST_SET_USAGE[] =
    "usage: mailer list set SLUG [options]\n\n"
    "Changes a list's settings; options not given stay as they are. Every value\n"
    "is checked before anything is written, so one bad value changes nothing.\n\n"
    "  --name N               the list's name (one line, up to 200 characters)\n"
    "  --description D        a description (up to 2000 characters)\n"
    "  --optin single|double  double sends a confirmation mail on subscribe\n"
    "  --public | --private   offered on the public subscribe page, or not (a new\n"
    "                         list is private)\n"
    "  --digest-weekday W     0-6 (0 = Sunday) or sun, mon, tue, wed, thu, fri, sat\n"
    "  --digest-time HH:MM    local time in [site] timezone (default 07:00)\n"
    "  --digest-category C    only articles of category C; \"\" for all categories\n"
    "  --digest-max N         at most N articles per digest (1-100, default 10)\n"
    "  --digest-subject S     subject template (Mustache): {{week}} (ISO week\n"
    "                         number), {{year}}, {{period}} (2026-W48), {{site}}\n"
    "                         (the site's name), {{list.name}}, {{list.slug}};\n"
    "                         default \"Bản tin tuần {{week}} – {{site}}\"\n"
    "  --digest-template T    templates/email/T.html and T.txt (default digest)\n"
    "  --digest-enabled yes|no  whether the scheduler sends this list's digest\n"
    "                         (a new list's is off; `digest send` works either way)\n";

/* "0".."6" or a day name (sun.., sunday..), case-insensitive; -2 if not one. */
static int parse_weekday(const char *s)
{
    static const char *const full[] = {"sunday",   "monday", "tuesday", "wednesday",
                                       "thursday", "friday", "saturday"};
    if (strlen(s) == 1 && s[0] >= '0' && s[0] <= '6')
        return s[0] - '0';
    for (int i = 0; i < 7; i++)
        if (!strcasecmp(s, WEEKDAYS[i]) || !strcasecmp(s, full[i]))
            return i;
    return -2;
}

static int list_set(struct app *app, int argc, char **argv)
{
    struct subs_list_update u;
    const char *slug = NULL, *weekday = NULL, *max = NULL, *enabled = NULL;
    int err = 0, n = 0;
    enum merr rc;

    subs_list_update_init(&u);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--public") || !strcmp(argv[i], "--private")) {
            int want = !strcmp(argv[i], "--public");
            if (u.is_public != SUBS_UNCHANGED && u.is_public != want)
                return cli_usage("list set", "--public or --private, not both");
            u.is_public = want;
            n++;
            continue;
        }
        if (cli_opt_value(argc, argv, &i, "--name", &u.name, &err) ||
            cli_opt_value(argc, argv, &i, "--description", &u.description, &err) ||
            cli_opt_value(argc, argv, &i, "--optin", &u.optin, &err) ||
            cli_opt_value(argc, argv, &i, "--digest-weekday", &weekday, &err) ||
            cli_opt_value(argc, argv, &i, "--digest-time", &u.digest_time, &err) ||
            cli_opt_value(argc, argv, &i, "--digest-category", &u.digest_category, &err) ||
            cli_opt_value(argc, argv, &i, "--digest-max", &max, &err) ||
            cli_opt_value(argc, argv, &i, "--digest-subject", &u.digest_subject, &err) ||
            cli_opt_value(argc, argv, &i, "--digest-template", &u.digest_template, &err) ||
            cli_opt_value(argc, argv, &i, "--digest-enabled", &enabled, &err)) {
            if (err)
                return cli_usage("list set", "%s needs a value", argv[i]);
            n++;
        } else if (cli_is_option(argv[i])) {
            return cli_usage("list set", "unknown option %s", argv[i]);
        } else if (!slug) {
            slug = argv[i];
        } else {
            return cli_usage("list set", "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (!slug)
        return cli_usage("list set", "missing SLUG");
    if (!n)
        return cli_usage("list set", "nothing to change: give at least one option");
    if (weekday && (u.digest_weekday = parse_weekday(weekday)) < 0)
        return cli_usage("list set", "--digest-weekday \"%s\": 0-6 or sun, mon, ..., sat", weekday);
    if (max) {
        long long m;
        if (cli_parse_id(max, &m) || m > SUBS_DIGEST_MAX_ARTICLES)
            return cli_usage("list set", "--digest-max \"%s\": a number from 1 to %d", max,
                             SUBS_DIGEST_MAX_ARTICLES);
        u.digest_max_articles = (int)m;
    }
    if (enabled) {
        if (!strcmp(enabled, "yes"))
            u.digest_enabled = 1;
        else if (!strcmp(enabled, "no"))
            u.digest_enabled = 0;
        else
            return cli_usage("list set", "--digest-enabled \"%s\": yes or no", enabled);
    }
    rc = app_db(app);
    if (!rc) /* the message names the refused field */
        rc = subs_list_update(app->db, &app->cfg, slug, &u, NULL);
    if (rc)
        return app_fail(rc, "list set");
    printf("list %s updated\n", slug);
    return 0;
}

static int list_rm(struct app *app, int argc, char **argv)
{
    const char *slug;
    int u = one_slug("list rm", argc, argv, &slug);
    enum merr rc;

    if (u >= 0)
        return u;
    rc = app_db(app);
    if (!rc)
        rc = subs_list_remove(app->db, slug);
    if (rc)
        return app_fail(rc, "list rm");
    printf("list %s removed\n", slug);
    return 0;
}

static const struct cli_command list_cmds[] = {
    {.name = "create", .run = list_create, .usage = LIST_CREATE_USAGE},
    {.name = "set", .run = list_set, .usage = LIST_SET_USAGE},
    {.name = "ls",
     .run = list_ls,
     .usage = "usage: mailer list ls\n\nAll lists with their subscriber counts.\n"},
    {.name = "show",
     .run = list_show,
     .usage = "usage: mailer list show SLUG\n\nOne list's settings and counts.\n"},
    {.name = "rm",
     .run = list_rm,
     .usage = "usage: mailer list rm SLUG\n\nDeletes the list and its subscriptions "
              "(subscribers stay).\n"},
    {.name = NULL},
};

const struct cli_command cli_list_cmd = {
    .name = "list",
    .usage = LIST_USAGE,
    .sub = list_cmds,
    .summary = "mailing lists: create, set, ls, show, rm",
};

/* ---- mailer sub --------------------------------------------------------- */

static const char SUB_USAGE[] =
    "usage: mailer sub <command> [options]\n\n"
    "commands:\n"
    "  add EMAIL --list L [--name N] [--confirmed]\n"
    "                  subscribe (double opt-in lists get a confirmation mail unless\n"
    "                  --confirmed); a refused address exits 3 with the reason\n"
    "  ls [--list L] [--status S] [--search Q]\n"
    "                  list subscriptions (S: confirmed, unconfirmed, unsubscribed)\n"
    "  rm EMAIL [--list L]\n"
    "                  remove from one list, or delete the subscriber entirely\n"
    "  import FILE --list L [--mode confirmed|unconfirmed|blocklist] [--dry-run]\n"
    "                  import CSV (header row with an email column; see --help)\n"
    "  export [--list L] [--status S] [--output FILE] [--no-bom]\n"
    "                  write CSV: email,name,status,list,created_at,attributes\n"
    "  show EMAIL      everything stored about one person, as JSON\n"
    "  erase EMAIL     delete the person and their data (a hashed suppression stays\n"
    "                  if they had asked not to be mailed)\n";

static const char SUB_ADD_USAGE[] =
    "usage: mailer sub add EMAIL --list L [--name N] [--confirmed]\n\n"
    "Subscribes EMAIL to list L. Single opt-in lists confirm at once; double\n"
    "opt-in lists get an unconfirmed subscription and a confirmation mail,\n"
    "unless --confirmed (you have their consent already). Suppressed\n"
    "addresses (bounced, complained, blocked) are refused.\n";

static int sub_add(struct app *app, int argc, char **argv)
{
    const char *email = NULL, *list = NULL, *name = NULL;
    struct subs_result r;
    int flags = 0, err = 0;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "--list", &list, &err) ||
            cli_opt_value(argc, argv, &i, "--name", &name, &err)) {
            if (err)
                return cli_usage("sub add", "%s needs a value", argv[i]);
        } else if (!strcmp(argv[i], "--confirmed")) {
            flags |= SUBS_ADD_CONFIRMED;
        } else if (cli_is_option(argv[i])) {
            return cli_usage("sub add", "unknown option %s", argv[i]);
        } else if (!email) {
            email = argv[i];
        } else {
            return cli_usage("sub add", "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (!email)
        return cli_usage("sub add", "missing EMAIL");
    if (!list)
        return cli_usage("sub add", "missing --list");
    rc = app_db(app);
    if (!rc)
        rc = subs_subscribe(app->db, &app->cfg, list, email, name, NULL, date_now(), flags, &r);
    if (rc)
        return app_fail(rc, "sub add");
    switch (r.outcome) {
    case SUBS_OUT_CONFIRMED:
        printf("%s subscribed to %s (confirmed)\n", email, list);
        return 0;
    case SUBS_OUT_PENDING:
        printf("%s subscribed to %s (unconfirmed: confirmation mail queued, send %lld)\n", email,
               list, r.send_id);
        return 0;
    case SUBS_OUT_RESENT_TOO_SOON:
        printf("%s is waiting for confirmation on %s (a confirmation mail was queued less than "
               "%d minutes ago)\n",
               email, list, SUBS_CONFIRM_RESEND_S / 60);
        return 0;
    case SUBS_OUT_ALREADY:
        printf("%s is already subscribed to %s\n", email, list);
        return 0;
    case SUBS_OUT_CAPPED:
        return app_fail(merr_set(MERR_LIMIT,
                                 "%s: no confirmation mail sent, nothing changed: [limits] "
                                 "confirm_per_address_per_day (%d) or confirm_global_per_hour "
                                 "(%d) reached",
                                 email, app->cfg.confirm_per_address_per_day,
                                 app->cfg.confirm_global_per_hour),
                        "sub add");
    case SUBS_OUT_SUPPRESSED:
        return app_fail(merr_set(MERR_PERMFAIL,
                                 "%s is on the suppression list (bounced, complained, blocked or "
                                 "left all lists): not subscribed",
                                 email),
                        "sub add");
    }
    return 0;
}

struct ls_ctx {
    long long n;
};

static enum merr ls_row(void *arg, const struct subs_row *row)
{
    struct ls_ctx *x = arg;
    char when[DATE_ISO_LEN] = "";
    if (row->optin_at)
        date_iso8601(row->optin_at, when);
    printf("%-40s %-14s %-13s %-25s %s\n", row->email, row->list_slug ? row->list_slug : "-",
           row->list_slug ? subs_status_name(row->status) : "-", when[0] ? when : "-", row->name);
    x->n++;
    return MERR_OK;
}

static int parse_filter(const char *cmd, int argc, char **argv, struct subs_filter *f,
                        const char **output, int *no_bom, int allow_search)
{
    const char *status = NULL;
    int err = 0;
    memset(f, 0, sizeof *f);
    for (int i = 1; i < argc; i++) {
        if (no_bom && !strcmp(argv[i], "--no-bom")) {
            *no_bom = 1;
            continue;
        }
        if (cli_opt_value(argc, argv, &i, "--list", &f->list_slug, &err) ||
            cli_opt_value(argc, argv, &i, "--status", &status, &err) ||
            (allow_search && cli_opt_value(argc, argv, &i, "--search", &f->search, &err)) ||
            (output && cli_opt_value(argc, argv, &i, "--output", output, &err))) {
            if (err)
                return cli_usage(cmd, "%s needs a value", argv[i]);
        } else {
            return cli_usage(cmd, "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (status) {
        f->status = subs_status_parse(status);
        if (f->status < 0)
            return cli_usage(cmd, "--status must be confirmed, unconfirmed or unsubscribed");
    }
    return -1;
}

static int sub_ls(struct app *app, int argc, char **argv)
{
    struct subs_filter f;
    struct ls_ctx x = {0};
    enum merr rc;
    int u = parse_filter("sub ls", argc, argv, &f, NULL, NULL, 1);
    if (u >= 0)
        return u;
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "sub ls");
    printf("%-40s %-14s %-13s %-25s %s\n", "EMAIL", "LIST", "STATUS", "OPT-IN", "NAME");
    rc = subs_each(app->db, &f, ls_row, &x);
    if (rc)
        return app_fail(rc, "sub ls");
    fprintf(stderr, "%lld row%s\n", x.n, x.n == 1 ? "" : "s");
    return 0;
}

static const char EXPORT_HELP[] =
    "usage: mailer sub export [--list L] [--status S] [--output FILE] [--no-bom]\n\n"
    "Writes CSV (RFC 4180, CRLF, UTF-8) to stdout or FILE, streaming:\n"
    "email,name,status,list,created_at,attributes (a JSON object).\n"
    "The file starts with a UTF-8 byte order mark so that Excel shows\n"
    "Vietnamese correctly; --no-bom leaves it out (for scripts). `sub import`\n"
    "reads it either way.\n"
    "Without --list: one row per subscription; subscribers without any\n"
    "get one row with empty status and list.\n";

static int sub_export(struct app *app, int argc, char **argv)
{
    struct subs_filter f;
    const char *output = NULL;
    FILE *out = stdout;
    long long rows = 0;
    enum merr rc;
    int no_bom = 0, u = parse_filter("sub export", argc, argv, &f, &output, &no_bom, 0);
    if (u >= 0)
        return u;
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "sub export");
    if (output && strcmp(output, "-") != 0) {
        rc = fs_open_private(output, &out);
        if (rc)
            return app_fail(rc, "sub export");
    }
    rc = subs_export_csv(app->db, &f, out, no_bom ? 0 : SUBS_EXPORT_BOM, &rows);
    if (out != stdout && fclose(out) != 0 && !rc)
        rc = merr_set(MERR_IO, "cannot write %s", output);
    if (rc)
        return app_fail(rc, "sub export");
    fprintf(stderr, "exported %lld row%s\n", rows, rows == 1 ? "" : "s");
    return 0;
}

struct import_ui {
    struct progress p;
    char extra[64];
};

static void on_bad(void *arg, long long line, const char *reason)
{
    struct import_ui *ui = arg;
    if (ui->p.enabled)
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, "line %lld: %s\n", line, reason);
}

static void on_progress(void *arg, long long bytes, long long rows)
{
    struct import_ui *ui = arg;
    snprintf(ui->extra, sizeof ui->extra, "bytes, %lld rows", rows);
    progress_update(&ui->p, bytes, ui->extra);
}

static const char IMPORT_HELP[] =
    "usage: mailer sub import FILE --list L [--mode confirmed|unconfirmed|blocklist]\n"
    "                         [--delimiter auto|comma|semicolon|tab] [--dry-run]\n"
    "                         [--progress]\n\n"
    "Imports a CSV file (RFC 4180; UTF-8 with or without BOM; FILE - reads stdin).\n"
    "Fields are separated by commas, semicolons (Excel in Vietnamese and many\n"
    "other locales) or tabs: the separator is detected from the header row and\n"
    "reported, or given with --delimiter.\n"
    "The header row needs an email column: email, E-mail, \"Địa chỉ email\" or\n"
    "\"Thư điện tử\". A name column is optional: name, \"Full name\", \"Họ và tên\",\n"
    "\"Họ tên\" or \"Tên\". Names match in any case, with or without accents.\n"
    "An `attributes` column may hold a JSON object; every other column becomes\n"
    "an attribute. The columns status, list and created_at written by `sub\n"
    "export` are ignored.\n\n"
    "modes:\n"
    "  confirmed    (default) subscribed and confirmed\n"
    "  unconfirmed  subscribed unconfirmed; each new one gets a confirmation mail\n"
    "  blocklist    the addresses are added to the suppression list (no --list)\n\n"
    "Bad rows are reported as \"line N: reason\" (N: the line where the record\n"
    "starts) and skipped; the good rows go in, all in one transaction, so an\n"
    "interrupted import changes nothing. Importing a file again adds nobody\n"
    "twice; people who unsubscribed or are suppressed are not subscribed again.\n"
    "--dry-run does everything, reports, and writes nothing. --progress draws the\n"
    "progress bar even when stderr is not a terminal.\n";

static int sub_import(struct app *app, int argc, char **argv)
{
    struct subs_import_opts o;
    struct subs_import_report rep;
    struct import_ui ui;
    const char *file = NULL, *mode = NULL, *delim = NULL;
    int err = 0, force_progress = 0;
    long long total = 0;
    FILE *in = NULL;
    enum merr rc;
    char summary[512];

    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        if (cli_opt_value(argc, argv, &i, "--list", &o.list_slug, &err) ||
            cli_opt_value(argc, argv, &i, "--mode", &mode, &err) ||
            cli_opt_value(argc, argv, &i, "--delimiter", &delim, &err)) {
            if (err)
                return cli_usage("sub import", "%s needs a value", argv[i]);
        } else if (!strcmp(argv[i], "--dry-run")) {
            o.dry_run = 1;
        } else if (!strcmp(argv[i], "--progress")) {
            force_progress = 1;
        } else if (cli_is_option(argv[i])) {
            return cli_usage("sub import", "unknown option %s", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            return cli_usage("sub import", "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (!file)
        return cli_usage("sub import", "missing FILE");
    if (!mode || !strcmp(mode, "confirmed"))
        o.mode = SUBS_IMPORT_CONFIRMED;
    else if (!strcmp(mode, "unconfirmed"))
        o.mode = SUBS_IMPORT_UNCONFIRMED;
    else if (!strcmp(mode, "blocklist"))
        o.mode = SUBS_IMPORT_BLOCKLIST;
    else
        return cli_usage("sub import", "--mode must be confirmed, unconfirmed or blocklist");
    if (delim && !strcmp(delim, "auto"))
        o.delim = 0;
    else if (delim && (!strcmp(delim, "comma") || !strcmp(delim, ",")))
        o.delim = ',';
    else if (delim && (!strcmp(delim, "semicolon") || !strcmp(delim, ";")))
        o.delim = ';';
    else if (delim && (!strcmp(delim, "tab") || !strcmp(delim, "\t")))
        o.delim = '\t';
    else if (delim)
        return cli_usage("sub import", "--delimiter must be auto, comma, semicolon or tab");
    if (o.mode != SUBS_IMPORT_BLOCKLIST && !o.list_slug)
        return cli_usage("sub import", "missing --list");
    if (o.mode == SUBS_IMPORT_BLOCKLIST && o.list_slug)
        return cli_usage("sub import", "--mode blocklist takes no --list");
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "sub import");
    if (!strcmp(file, "-")) {
        in = stdin;
    } else {
        struct stat sb;
        in = fopen(file, "rb");
        if (!in)
            return app_fail(merr_set(MERR_IO, "cannot read %s", file), "sub import");
        if (fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode))
            total = (long long)sb.st_size;
    }
    memset(&ui, 0, sizeof ui);
    progress_start(&ui.p, "import", total, app->tty || force_progress);
    o.on_bad = on_bad;
    o.on_progress = on_progress;
    o.arg = &ui;
    rc = subs_import_csv(app->db, &app->cfg, in, &o, date_now(), &rep);
    if (in != stdin)
        fclose(in);
    if (rc) {
        progress_end(&ui.p, NULL);
        return app_fail(rc, "sub import");
    }
    if (o.mode == SUBS_IMPORT_BLOCKLIST)
        snprintf(summary, sizeof summary,
                 "%s%lld rows: %lld added to the suppression list, %lld were on it already, "
                 "%lld bad",
                 o.dry_run ? "dry run (nothing written): " : "", rep.rows, rep.blocked,
                 rep.existing, rep.bad);
    else
        snprintf(summary, sizeof summary,
                 "%s%lld rows: %lld new subscribers, %lld subscribed to %s, %lld confirmed "
                 "now, %lld already there, %lld unsubscribed earlier (left alone), %lld "
                 "suppressed (skipped), %lld bad, %lld confirmation mails queued",
                 o.dry_run ? "dry run (nothing written): " : "", rep.rows, rep.created,
                 rep.subscribed, o.list_slug, rep.upgraded, rep.existing, rep.left, rep.suppressed,
                 rep.bad, rep.confirm_mails);
    progress_end(&ui.p, NULL);
    printf("read as %s-separated CSV; email from column \"%s\"", subs_csv_delim_name(rep.delimiter),
           rep.email_column);
    if (rep.name_column[0])
        printf(", name from column \"%s\"", rep.name_column);
    printf("\n%s\n", summary);
    return 0;
}

static int one_email(const char *cmd, int argc, char **argv, const char **email, const char **list)
{
    int err = 0;
    *email = NULL;
    for (int i = 1; i < argc; i++) {
        if (list && cli_opt_value(argc, argv, &i, "--list", list, &err)) {
            if (err)
                return cli_usage(cmd, "%s needs a value", argv[i]);
        } else if (cli_is_option(argv[i])) {
            return cli_usage(cmd, "unknown option %s", argv[i]);
        } else if (!*email) {
            *email = argv[i];
        } else {
            return cli_usage(cmd, "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (!*email)
        return cli_usage(cmd, "missing EMAIL");
    return -1;
}

static int sub_rm(struct app *app, int argc, char **argv)
{
    const char *email, *list = NULL;
    enum merr rc;
    int u = one_email("sub rm", argc, argv, &email, &list);

    if (u >= 0)
        return u;
    rc = app_db(app);
    if (!rc)
        rc = subs_remove(app->db, email, list);
    if (rc)
        return app_fail(rc, "sub rm");
    if (list)
        printf("%s removed from %s\n", email, list);
    else
        printf("%s deleted\n", email);
    return 0;
}

static int sub_show(struct app *app, int argc, char **argv)
{
    const char *email;
    json_t *o = NULL;
    char *text;
    enum merr rc;
    int u = one_email("sub show", argc, argv, &email, NULL);

    if (u >= 0)
        return u;
    rc = app_db(app);
    if (!rc)
        rc = share_person_show(app->db, email, &o);
    if (rc)
        return app_fail(rc, "sub show");
    text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!text)
        return app_fail(merr_set(MERR_NOMEM, "out of memory"), "sub show");
    printf("%s\n", text);
    free(text);
    return 0;
}

static int sub_erase(struct app *app, int argc, char **argv)
{
    const char *email;
    struct subs_erase_result er;
    long long shares = 0;
    enum merr rc;
    int u = one_email("sub erase", argc, argv, &email, NULL);

    if (u >= 0)
        return u;
    rc = app_db(app);
    if (!rc)
        rc = share_erase_person(app->db, email, date_now(), &er, &shares);
    if (rc)
        return app_fail(rc, "sub erase");
    printf("%s erased: %s, %d subscription%s deleted, %lld queued mail%s cancelled, "
           "%lld envelope%s and %lld share%s anonymised%s\n",
           email, er.subscriber_deleted ? "subscriber deleted" : "no subscriber row",
           er.subscriptions, er.subscriptions == 1 ? "" : "s", er.envelopes_cancelled,
           er.envelopes_cancelled == 1 ? "" : "s", er.envelopes_erased,
           er.envelopes_erased == 1 ? "" : "s", shares, shares == 1 ? "" : "s",
           er.suppression_kept ? "; a hashed suppression entry stays (they asked not to be "
                                 "mailed)"
                               : "");
    return 0;
}

static const struct cli_command sub_cmds[] = {
    {.name = "add", .run = sub_add, .usage = SUB_ADD_USAGE},
    {.name = "ls",
     .run = sub_ls,
     .usage = "usage: mailer sub ls [--list L] [--status S] [--search Q]\n\n"
              "One line per subscription: email, list, status, opt-in time, name.\n"
              "Q matches part of the email or the name.\n"},
    {.name = "rm",
     .run = sub_rm,
     .usage = "usage: mailer sub rm EMAIL [--list L]\n\n"
              "With --list: removes the subscription to L. Without: deletes the\n"
              "subscriber and all their subscriptions. Queued mail to them is "
              "cancelled.\n"},
    {.name = "import", .run = sub_import, .usage = IMPORT_HELP},
    {.name = "export", .run = sub_export, .usage = EXPORT_HELP},
    {.name = "show",
     .run = sub_show,
     .usage = "usage: mailer sub show EMAIL\n\n"
              "Prints everything stored about EMAIL as JSON: the subscriber row with\n"
              "its attributes, each subscription with opt-in/confirm times and IPs,\n"
              "any suppression, their envelopes (count by state, the last ten with\n"
              "send kind, state and dates) and the shares they sent.\n"},
    {.name = "erase",
     .run = sub_erase,
     .usage = "usage: mailer sub erase EMAIL\n\n"
              "Deletes the person, their attributes and subscriptions, cancels\n"
              "their queued mail and removes their address and name from every\n"
              "envelope and from the shares they sent (whose unsent mail is\n"
              "cancelled), in one transaction. If they had unsubscribed or are\n"
              "suppressed, only a SHA-256 hash of the address stays, so they are\n"
              "never mailed again.\n"},
    {.name = NULL},
};

const struct cli_command cli_sub_cmd = {
    .name = "sub",
    .usage = SUB_USAGE,
    .sub = sub_cmds,
    .summary = "subscribers: add, ls, rm, import, export, show, erase",
};
