/*
 * cli_article.c: `mailer article add|ls|show`.
 *
 * `add` takes files (or "-" for standard input) and stores each in its own
 * transaction: one bad file is reported ("mailer: FILE: field: reason") and
 * does not stop the others, and the exit code is that of the first failure
 * (3 for bad data), so a CMS script can tell "all in" from "some refused".
 * `ls` and `show` only read.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "articles.h"
#include "cli.h"
#include "date.h"

static const char ARTICLE_USAGE[] =
    "usage: mailer article <command> [options]\n\n"
    "Article data from the site's CMS (format: docs/articles.md).\n\n"
    "commands:\n"
    "  add FILE...|-   add or update articles from JSON files (\"-\": stdin)\n"
    "  ls              list stored articles, newest first\n"
    "  show ID         print one article as JSON, with its images' hashes\n\n"
    "`mailer article <command> --help` for details.\n";

static const char ADD_USAGE[] =
    "usage: mailer article add FILE...|-\n\n"
    "Adds each article JSON file (docs/articles.md), or one from standard input\n"
    "with \"-\" (image paths are then relative to the current folder). An id\n"
    "that is already stored is updated, never duplicated, and its images are\n"
    "replaced. Image paths are relative to the JSON file's folder, or to\n"
    "[media] root when set; http(s) URLs are fetched.\n\n"
    "Each file is its own transaction: a bad file changes nothing, is reported\n"
    "as \"mailer: FILE: field: reason\", and the files after it are still added.\n"
    "Prints \"added ID\" or \"updated ID\" per stored file.\n\n"
    "exit codes: 0 all stored; otherwise the first failure's: 3 bad data (a\n"
    "refused file), 4 temporary (an image URL did not answer, database busy),\n"
    "7 I/O error.\n";

static const char LS_USAGE[] =
    "usage: mailer article ls [--category NAME] [--limit N]\n\n"
    "Lists articles newest first: id, publication date in the site's time zone,\n"
    "title, number of images.\n\n"
    "  --category NAME  only this category (exact match)\n"
    "  --limit N        at most N articles (default: all)\n";

static const char SHOW_USAGE[] =
    "usage: mailer article show ID\n\n"
    "Prints the stored article as JSON: the fields as given, and per image its\n"
    "file name, sha256, content type (sniffed), size and dimensions.\n"
    "exit code 5 if there is no such article.\n";

/* Reads standard input up to the article size cap. */
static enum merr read_stdin(const struct config *cfg, struct buf *b)
{
    char tmp[65536];
    for (;;) {
        size_t n = fread(tmp, 1, sizeof tmp, stdin);
        if (n && buf_append(b, tmp, n))
            return merr_set(MERR_LIMIT,
                            "over the article size limit of %zu bytes ([limits] "
                            "article_max_bytes)",
                            cfg->article_max_bytes);
        if (n < sizeof tmp) {
            if (ferror(stdin))
                return merr_set(MERR_IO, "cannot read: %s", strerror(errno));
            return MERR_OK;
        }
    }
}

static int cmd_add(struct app *app, int argc, char **argv)
{
    int first_fail = 0, nstdin = 0, i = 1, opts_done = 0;
    enum merr rc;

    if (argc > 1 && !strcmp(argv[1], "--")) {
        i = 2;
        opts_done = 1;
    }
    if (i >= argc)
        return cli_usage("article add", "article add needs at least one FILE (or -)");
    for (int k = i; k < argc; k++) {
        if (!strcmp(argv[k], "-"))
            nstdin++;
        else if (!opts_done && argv[k][0] == '-')
            return cli_usage("article add", "unknown option %s", argv[k]);
    }
    if (nstdin > 1)
        return cli_usage("article add", "\"-\" (standard input) may be given only once");
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "article add");

    for (; i < argc; i++) {
        char *id = NULL;
        int created = 0;
        merr_clear();
        if (!strcmp(argv[i], "-")) {
            struct buf in;
            buf_init(&in, app->cfg.article_max_bytes + 1);
            rc = read_stdin(&app->cfg, &in);
            if (rc)
                merr_wrap(rc, "<stdin>");
            else
                rc = article_upsert(app->db, &app->cfg, in.data ? in.data : "", in.len, ".",
                                    "<stdin>", &id, &created);
            buf_free(&in);
        } else {
            rc = article_upsert_file(app->db, &app->cfg, argv[i], &id, &created);
        }
        if (rc) {
            /* the detail already reads "FILE: field: reason" */
            fprintf(stderr, "mailer: %s\n", merr_msg()[0] ? merr_msg() : merr_str(rc));
            if (!first_fail)
                first_fail = merr_exit_code(rc);
            continue;
        }
        printf("%s %s\n", created ? "added" : "updated", id);
        fflush(stdout);
        free(id);
    }
    return first_fail;
}

static int cmd_ls(struct app *app, int argc, char **argv)
{
    const char *category = NULL;
    long long limit = 0;
    struct article **v = NULL;
    size_t n = 0;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        const char *limit_v = NULL;
        int missing = 0;
        if (!cli_opt_value(argc, argv, &i, "--category", &category, &missing) &&
            !cli_opt_value(argc, argv, &i, "--limit", &limit_v, &missing))
            return cli_usage("article ls", "unexpected argument %s", argv[i]);
        if (missing)
            return cli_usage("article ls", "%s needs a value", argv[i]);
        if (limit_v && cli_parse_id(limit_v, &limit))
            return cli_usage("article ls", "--limit needs a positive number, not \"%s\"", limit_v);
    }
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "article ls");
    rc = article_index(app->db, (time_t)INT64_MIN, (time_t)INT64_MAX, category, (size_t)limit, &v,
                       &n);
    if (rc)
        return app_fail(rc, "article ls");
    for (size_t i = 0; i < n; i++) {
        char when[DATE_ISO_LEN];
        date_display(v[i]->published_at, when);
        printf("%-40s  %s  %s  [%zu image%s]\n", v[i]->id, when, v[i]->title, v[i]->nimages,
               v[i]->nimages == 1 ? "" : "s");
    }
    article_list_free(v, n);
    return 0;
}

static int cmd_show(struct app *app, int argc, char **argv)
{
    struct article *a = NULL;
    struct buf out;
    enum merr rc;

    if (argc == 2 && cli_is_option(argv[1]))
        return cli_usage("article show", "unknown option %s", argv[1]);
    if (argc != 2)
        return cli_usage("article show", "article show needs exactly one ID");
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "article show");
    rc = article_load(app->db, argv[1], &a);
    if (rc)
        return app_fail(rc, "article show");
    buf_init(&out, 0);
    rc = article_to_json(a, &out);
    if (!rc && fwrite(out.data, 1, out.len, stdout) != out.len)
        rc = merr_set(MERR_IO, "cannot write to standard output");
    buf_free(&out);
    article_free(a);
    return rc ? app_fail(rc, "article show") : 0;
}

static const struct cli_command article_cmds[] = {
    {.name = "add", .run = cmd_add, .usage = ADD_USAGE},
    {.name = "ls", .run = cmd_ls, .usage = LS_USAGE},
    {.name = "show", .run = cmd_show, .usage = SHOW_USAGE},
    {.name = NULL},
};

const struct cli_command cli_article_cmd = {
    .name = "article",
    .usage = ARTICLE_USAGE,
    .sub = article_cmds,
    .summary = "add, list and show articles (add|ls|show)",
};
