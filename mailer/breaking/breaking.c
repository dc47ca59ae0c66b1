/*
 * breaking.c: breaking news, its preview and its test (breaking.h).
 *
 * The plan is {"kind":"breaking", "article":ID, "list":{id, slug, name},
 * "template":"breaking"}: the article in full, as a share carries it, to a
 * list, as a digest goes (templates email/breaking.*). The article and the
 * template are checked by composing the plan once before anything is
 * written (compose_plan_new fails on a missing article or a template that
 * does not parse), so a send is never made that delivery cannot render.
 * The preview renders through digest_render, the same personal parts as a
 * digest's preview; the exactly-once guarantee is breaking_news'
 * UNIQUE(list_id, article_id) inside the transaction that makes the send.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "articles.h"
#include "breaking.h"
#include "breaking_store.h"
#include "compose.h"
#include "digest.h"
#include "log.h"
#include "outbox.h"
#include "subs.h"
#include "tpl.h"

/* The plan's inputs as JSON text (`*out` malloc'd), after checking the list and article. */
static enum merr plan_of(struct db *db, const struct config *cfg, const char *list_slug,
                         const char *article_id, struct subs_list *l, char **out)
{
    struct article *a = NULL;
    struct tpl_set *set = NULL;
    struct compose_plan *plan = NULL;
    struct compose_env env = {0};
    json_t *inputs;
    enum merr rc;

    *out = NULL;
    memset(l, 0, sizeof *l);
    if (!list_slug || !*list_slug)
        return merr_set(MERR_INVAL, "list: missing");
    if (!article_id || !*article_id)
        return merr_set(MERR_INVAL, "article: missing");
    rc = subs_list_get(db, list_slug, l);
    if (rc == MERR_NOTFOUND)
        return merr_set(rc, "list %s: not found", list_slug);
    if (rc)
        return rc;
    rc = article_load(db, article_id, &a);
    if (rc == MERR_NOTFOUND)
        rc = merr_set(rc, "article %s: not found", article_id);
    article_free(a);
    if (rc)
        goto fail;
    inputs = json_pack("{s:s, s:s, s:{s:I, s:s, s:s}, s:s}", "kind",
                       outbox_kind_name(OUTBOX_BREAKING), "article", article_id, "list", "id",
                       (json_int_t)l->id, "slug", l->slug, "name", l->name, "template", "breaking");
    if (!inputs) {
        rc = merr_set(MERR_INVAL, "article id or list name is not UTF-8");
        goto fail;
    }
    /* compose it once: a plan delivery could not render is refused now */
    rc = tpl_set_open(cfg->templates_dir, cfg->templates_override, &set);
    if (!rc) {
        env.cfg = cfg;
        env.db = db;
        env.tpls = set;
        rc = compose_plan_new(&env, inputs, &plan);
    }
    compose_plan_free(plan);
    tpl_set_free(set);
    if (!rc && !(*out = json_dumps(inputs, JSON_COMPACT)))
        rc = merr_set(MERR_NOMEM, "out of memory");
    json_decref(inputs);
    if (!rc)
        return MERR_OK;
fail:
    subs_list_clear(l);
    return rc;
}

enum merr breaking_send(struct db *db, const struct config *cfg, const char *list_slug,
                        const char *article_id, time_t now, struct breaking_info *out)
{
    struct breaking_info local;
    struct subs_list l;
    long long send_id = 0, added = 0, id = 0;
    char *plan = NULL;
    enum merr rc;

    if (!out)
        out = &local;
    memset(out, 0, sizeof *out);
    rc = db_begin(db); /* composing caches photos' base64: inside the transaction */
    if (rc)
        return rc;
    rc = plan_of(db, cfg, list_slug, article_id, &l, &plan);
    if (rc)
        goto out;
    rc = breaking_store_find(db, l.id, article_id, out);
    if (rc == MERR_OK) {
        rc = merr_set(MERR_EXISTS, "article %s was already sent to list %s (send %lld)", article_id,
                      l.slug, out->send_id);
        goto out;
    }
    if (rc != MERR_NOTFOUND)
        goto out;
    rc = outbox_send_create(db, OUTBOX_BREAKING, l.id, plan, &send_id);
    if (!rc)
        rc = outbox_enqueue_list(db, send_id, l.id, &added);
    if (!rc)
        rc = breaking_store_insert(db, l.id, article_id, send_id, now, &id);
    if (rc == MERR_EXISTS) /* someone else at the same instant: theirs stands */
        rc = merr_set(MERR_EXISTS, "article %s was already sent to list %s", article_id, l.slug);
    if (!rc)
        rc = db_commit(db);
    if (!rc) {
        out->id = id;
        out->list_id = l.id;
        snprintf(out->list_slug, sizeof out->list_slug, "%s", l.slug);
        snprintf(out->article_id, sizeof out->article_id, "%s", article_id);
        out->send_id = send_id;
        out->recipients = added;
        out->created_at = now;
        log_info("breaking: article %s to %s: send %lld, %lld envelopes", article_id, l.slug,
                 send_id, added);
    }
out:
    if (rc)
        db_rollback(db);
    free(plan);
    subs_list_clear(&l);
    return rc;
}

enum merr breaking_preview(struct db *db, const struct config *cfg, const char *list_slug,
                           const char *article_id, const char *to, struct buf *out)
{
    struct subs_list l;
    char *plan = NULL;
    enum merr rc = db_begin(db); /* rolled back: a preview writes nothing */
    if (rc)
        return rc;
    rc = plan_of(db, cfg, list_slug, article_id, &l, &plan);
    if (!rc)
        rc = digest_render(db, cfg, &l, plan, to, out);
    db_rollback(db);
    free(plan);
    subs_list_clear(&l);
    return rc;
}

enum merr breaking_test(struct db *db, const struct config *cfg, const char *list_slug,
                        const char *article_id, const char *to, time_t now, long long *send_id)
{
    struct subs_list l;
    struct addr a;
    char *plan = NULL;
    enum merr rc;

    (void)now;
    *send_id = 0;
    if (!to || addr_parse(to, &a))
        return merr_set(MERR_INVAL, "test address: %s", merr_msg());
    rc = db_begin(db);
    if (rc)
        return rc;
    rc = plan_of(db, cfg, list_slug, article_id, &l, &plan);
    if (!rc) {
        rc = outbox_send_create(db, OUTBOX_TEST, l.id, plan, send_id);
        if (!rc)
            rc = outbox_envelope_add(db, *send_id, 0, a.ascii, "", NULL);
        subs_list_clear(&l);
    }
    if (!rc)
        rc = db_commit(db);
    if (rc) {
        db_rollback(db);
        *send_id = 0;
    } else {
        log_info("breaking: test of %s to %s (send %lld)", article_id, a.ascii, *send_id);
    }
    free(plan);
    return rc;
}

enum merr breaking_list(struct db *db, struct breaking_info *out, size_t max, size_t *n)
{
    return breaking_store_list(db, out, max, n);
}
