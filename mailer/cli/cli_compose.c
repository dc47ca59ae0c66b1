/*
 * cli_compose.c: `mailer compose share|digest`: one message as .eml.
 *
 * Builds the same plan a send would (compose_plan_new over the stored
 * articles and the configured templates) and renders it for one
 * recipient, without touching the outbox: for previews, for checking a
 * template change, and for the tests and benchmarks that inspect real
 * messages. The recipient's personal parts come from compose_personal, as
 * in delivery; without an envelope the Message-ID is random on the sending
 * domain. The message is DKIM-signed when [dkim] selector is set, as
 * delivery signs it. The message
 * goes to standard output, or with -o to a file written atomically (a
 * temporary file in the same folder, fsync, rename), so a reader never
 * sees half a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "compose.h"
#include "dkimsig.h"
#include "subs.h"
#include "tpl.h"

static const char COMPOSE_USAGE[] =
    "usage: mailer compose <share|digest> [options]\n\n"
    "Writes one complete message (.eml, CRLF) without sending or queueing it.\n\n"
    "commands:\n"
    "  share ARTICLE --to ADDR   an article as a reader's share sends it\n"
    "  digest --articles ID,...  a digest of these articles\n\n"
    "`mailer compose <command> --help` for details.\n";

static const char SHARE_USAGE[] =
    "usage: mailer compose share ARTICLE --to ADDR [--to-name N] [--from-name N]\n"
    "                            [--from-email E] [--note T] [-o FILE]\n\n"
    "  --to ADDR         recipient address (validated)\n"
    "  --to-name N       recipient's display name\n"
    "  --from-name N     the sharing reader's name (shown in the mail)\n"
    "  --from-email E    the sharing reader's address (Reply-To)\n"
    "  --note T          the reader's note (plain text, line breaks kept)\n"
    "  -o FILE           write to FILE atomically (default: standard output)\n\n"
    "exit codes: 0 written, 1 usage, 3 bad data, 5 no such article, 7 I/O.\n";

static const char DIGEST_USAGE[] =
    "usage: mailer compose digest --articles ID,ID,... [--list SLUG] [--to ADDR]\n"
    "                             [--to-name N] [-o FILE]\n\n"
    "  --articles IDS    comma-separated article ids, in the order shown\n"
    "  --list SLUG       the list whose name, subject and template to use\n"
    "                    (default: a preview list named after the site)\n"
    "  --to ADDR         recipient address (default: preview@ the sending domain)\n"
    "  --to-name N       recipient's name (the greeting)\n"
    "  -o FILE           write to FILE atomically (default: standard output)\n\n"
    "exit codes: 0 written, 1 usage, 3 bad data, 5 no such article or list, 7 I/O.\n";

/* Writes `b` to `path` atomically, or to stdout when path is NULL. */
static enum merr write_out(const char *path, const struct buf *b)
{
    char *tmp = NULL;
    int fd = -1;
    enum merr rc = MERR_OK;

    if (!path) {
        if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout))
            return merr_set(MERR_IO, "standard output: %s", strerror(errno));
        return MERR_OK;
    }
    if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
        return merr_set(MERR_NOMEM, "out of memory");
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = merr_set(MERR_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < b->len;) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = merr_set(MERR_IO, "%s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) || close(fd)) {
        fd = -1;
        rc = merr_set(MERR_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path))
        rc = merr_set(MERR_IO, "%s: %s", path, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc && tmp)
        unlink(tmp);
    free(tmp);
    return rc;
}

struct opts {
    const char *article, *to, *to_name, *from_name, *from_email, *note, *out, *articles, *list;
};

/* Parses the options ("--name VALUE" or "--name=VALUE"); returns 0, or the usage exit code. */
static int parse(const char *cmd, int argc, char **argv, struct opts *o, int share)
{
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_opt_value(argc, argv, &i, "--to", &o->to, &missing) ||
            cli_opt_value(argc, argv, &i, "--to-name", &o->to_name, &missing) ||
            cli_opt_value(argc, argv, &i, "-o", &o->out, &missing) ||
            cli_opt_value(argc, argv, &i, "--output", &o->out, &missing) ||
            (share && (cli_opt_value(argc, argv, &i, "--from-name", &o->from_name, &missing) ||
                       cli_opt_value(argc, argv, &i, "--from-email", &o->from_email, &missing) ||
                       cli_opt_value(argc, argv, &i, "--note", &o->note, &missing))) ||
            (!share && (cli_opt_value(argc, argv, &i, "--articles", &o->articles, &missing) ||
                        cli_opt_value(argc, argv, &i, "--list", &o->list, &missing)))) {
            if (missing)
                return cli_usage(cmd, "%s needs a value", argv[i]);
        } else if (cli_is_option(argv[i])) {
            return cli_usage(cmd, "unknown option %s", argv[i]);
        } else if (share && !o->article) {
            o->article = argv[i];
        } else {
            return cli_usage(cmd, "unknown argument \"%s\"", argv[i]);
        }
    }
    return 0;
}

/* Plans `inputs`, renders it for `who` and writes the message. */
static int compose_one(struct app *app, json_t *inputs, const struct compose_person *who,
                       const char *out_path)
{
    struct tpl_set *tpls = NULL;
    struct compose_plan *plan = NULL;
    struct compose_personal personal;
    struct compose_env env = {0};
    struct dkimsig *signer = NULL;
    struct buf msg;
    enum merr rc;
    int code = 0;

    memset(&personal, 0, sizeof personal);
    buf_init(&msg, app->cfg.message_max_bytes);
    rc = tpl_set_open(app->cfg.templates_dir, app->cfg.templates_override, &tpls);
    if (rc) {
        code = app_fail(rc, "templates");
        goto out;
    }
    env.cfg = &app->cfg;
    env.db = app->db;
    env.tpls = tpls;
    rc = dkimsig_from_config(&app->cfg, &signer); /* signed as delivery signs it */
    if (rc) {
        code = app_fail(rc, "dkim");
        goto out;
    }
    env.signer = signer;
    rc = compose_plan_new(&env, inputs, &plan);
    if (rc) {
        code = app_fail(rc, "compose");
        goto out;
    }
    rc = compose_personal(&app->cfg, app->db, who, &personal);
    if (!rc)
        rc = compose_render(plan, &personal.rcpt, &msg);
    if (!rc)
        rc = write_out(out_path, &msg);
    if (rc)
        code = app_fail(rc, "compose");
out:
    compose_personal_free(&personal);
    compose_plan_free(plan);
    dkimsig_free(signer);
    tpl_set_free(tpls);
    buf_free(&msg);
    return code;
}

static int cmd_share(struct app *app, int argc, char **argv)
{
    struct opts o = {0};
    struct addr to, from;
    struct compose_person who = {.kind = OUTBOX_SHARE};
    json_t *inputs = NULL;
    enum merr rc;
    int code;

    code = parse("compose share", argc, argv, &o, 1);
    if (code)
        return code;
    if (!o.article)
        return cli_usage("compose share", "the article id is missing");
    if (!o.to)
        return cli_usage("compose share", "--to ADDR is required");
    rc = addr_parse(o.to, &to);
    if (rc)
        return app_fail(rc, "--to");
    if (o.from_email) {
        rc = addr_parse(o.from_email, &from);
        if (rc)
            return app_fail(rc, "--from-email");
    }
    rc = app_db(app);
    if (rc)
        return app_fail(rc, "database");
    inputs = json_pack("{s:s,s:s}", "kind", "share", "article", o.article);
    if (!inputs ||
        (o.from_name && json_object_set_new(inputs, "sender_name", json_string(o.from_name))) ||
        (o.from_email && json_object_set_new(inputs, "sender_email", json_string(from.ascii))) ||
        (o.note && json_object_set_new(inputs, "note", json_string(o.note)))) {
        json_decref(inputs);
        return app_fail(merr_set(MERR_INVAL, "an argument is not valid UTF-8"), "compose");
    }
    who.email = to.ascii;
    who.name = o.to_name;
    code = compose_one(app, inputs, &who, o.out);
    json_decref(inputs);
    return code;
}

static int cmd_digest(struct app *app, int argc, char **argv)
{
    struct opts o = {0};
    struct addr to;
    struct subs_list list = {0};
    struct compose_person who = {.kind = OUTBOX_DIGEST};
    struct buf preview;
    json_t *inputs = NULL, *ids = NULL, *lj = NULL;
    char *copy = NULL, *save = NULL;
    enum merr rc;
    int code = 0;

    code = parse("compose digest", argc, argv, &o, 0);
    if (code)
        return code;
    if (!o.articles || !*o.articles)
        return cli_usage("compose digest", "--articles ID,ID,... is required");
    buf_init(&preview, 0);
    if (!o.to) {
        rc = buf_printf(&preview, "preview@%s", cfg_mail_domain(&app->cfg));
        if (rc) {
            code = app_fail(rc, "compose");
            goto out;
        }
        o.to = preview.data;
    }
    rc = addr_parse(o.to, &to);
    if (rc) {
        code = app_fail(rc, "--to");
        goto out;
    }
    rc = app_db(app);
    if (rc) {
        code = app_fail(rc, "database");
        goto out;
    }
    ids = json_array();
    copy = strdup(o.articles);
    if (!ids || !copy) {
        code = app_fail(merr_set(MERR_NOMEM, "out of memory"), "compose");
        goto out;
    }
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t && json_array_append_new(ids, json_string(t))) {
            code = app_fail(merr_set(MERR_INVAL, "--articles: not valid UTF-8"), "compose");
            goto out;
        }
    if (o.list) {
        rc = subs_list_get(app->db, o.list, &list);
        if (rc) {
            code = app_fail(rc, o.list);
            goto out;
        }
        lj = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)list.id, "slug", list.slug, "name",
                       list.name);
    } else {
        lj = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)0, "slug", "preview", "name",
                       app->cfg.site_name);
    }
    inputs = json_pack("{s:s,s:O,s:o}", "kind", "digest", "articles", ids, "list", lj);
    if (!inputs) {
        code = app_fail(merr_set(MERR_NOMEM, "out of memory"), "compose");
        goto out;
    }
    if (o.list && list.digest_subject && *list.digest_subject)
        json_object_set_new(inputs, "subject", json_string(list.digest_subject));
    if (o.list && list.digest_template && *list.digest_template)
        json_object_set_new(inputs, "template", json_string(list.digest_template));
    /* list mail as a subscriber gets it (compose_personal: RFC 2369, 2919, 8058) */
    who.email = to.ascii;
    who.name = o.to_name;
    who.list_id = list.id;
    who.list_slug = o.list ? list.slug : "preview";
    code = compose_one(app, inputs, &who, o.out);
out:
    json_decref(ids);
    json_decref(inputs);
    subs_list_clear(&list);
    free(copy);
    buf_free(&preview);
    return code;
}

static const struct cli_command compose_cmds[] = {
    {.name = "share", .run = cmd_share, .usage = SHARE_USAGE},
    {.name = "digest", .run = cmd_digest, .usage = DIGEST_USAGE},
    {.name = NULL},
};

const struct cli_command cli_compose_cmd = {
    .name = "compose",
    .usage = COMPOSE_USAGE,
    .sub = compose_cmds,
    .summary = "write one message as .eml without sending (share|digest)",
};
