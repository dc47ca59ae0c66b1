/*
 * delivery_plans.c: the plan cache: each send's compose plan built once
 * and rendered from by every worker at once.
 *
 * A plan (templates, sanitized article, photos in base64) is built on
 * first need by whichever worker needs it, under the cache lock. A built
 * plan is immutable, so rendering needs no lock (the threads and their
 * shared structures, the template set among them: docs/threads.md). Entries are counted
 * references: unused plans are freed least recently used first beyond
 * PLANS_KEEP. A plan that cannot be built is cached as its error when the
 * error is permanent (article deleted, bad inputs: merr_class), so the
 * send's envelopes fail fast; a temporary error is dropped once unused, so
 * the next batch tries again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "delivery_int.h"
#include "dkimsig.h"
#include "log.h"
#include "tpl.h"

#define PLANS_KEEP 8
/* base64 of derived images kept between plans: seven body-size photos of a
 * share are about 2 MB, a digest's thumbnails 50 KB */
#define MEDIA_KEEP_BYTES ((size_t)16 << 20)

enum merr delivery_plans_init(struct delivery_plans *c, const struct config *cfg)
{
    enum merr rc;
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    pthread_mutex_init(&c->mu, NULL);
    rc = compose_media_cache_new(MEDIA_KEEP_BYTES, &c->media);
    if (rc)
        return rc;
    rc = tpl_set_open(cfg->templates_dir, cfg->templates_override, &c->tpls);
    if (rc)
        return merr_wrap(rc, "templates");
    /* keys once, at start: a missing or unsafe key stops delivery here */
    return dkimsig_from_config(cfg, &c->signer);
}

static void plan_free(struct delivery_plan *e)
{
    if (!e)
        return;
    compose_plan_free(e->plan);
    json_decref(e->inputs);
    free(e->salt);
    free(e);
}

void delivery_plans_free(struct delivery_plans *c)
{
    for (size_t i = 0; i < c->n; i++)
        plan_free(c->v[i]);
    free(c->v);
    tpl_set_free(c->tpls);
    dkimsig_free(c->signer);
    compose_media_cache_free(c->media);
    pthread_mutex_destroy(&c->mu);
}

/* Sets a plan's error from rc and merr_msg(). */
static void plan_error(struct delivery_plan *e, enum merr rc, const char *what)
{
    e->err = rc;
    snprintf(e->errmsg, sizeof e->errmsg, "send %lld: %s%s", e->send_id, what, merr_msg());
}

/* Builds the entry of one send (under the cache lock); NULL only without memory. */
static struct delivery_plan *plan_build(struct delivery_plans *c, struct db *db, long long send_id)
{
    struct delivery_plan *e = calloc(1, sizeof *e);
    struct outbox_send s;
    json_error_t jerr;
    enum merr rc;

    if (!e)
        return NULL;
    e->send_id = send_id;
    rc = outbox_send_get(db, send_id, &s);
    if (rc) {
        plan_error(e, rc, "");
        return e;
    }
    e->kind = s.kind;
    e->list_id = s.list_id;
    e->salt = s.salt;
    s.salt = NULL;
    e->inputs = json_loads(s.plan_json, 0, &jerr);
    outbox_send_clear(&s);
    if (!e->inputs) {
        plan_error(e, merr_set(MERR_INVAL, "%s", jerr.text), "plan is not JSON: ");
        return e;
    }
    json_t *list = json_object_get(e->inputs, "list");
    const char *slug = json_string_value(json_object_get(list, "slug"));
    if (slug)
        snprintf(e->list_slug, sizeof e->list_slug, "%s", slug);
    if (!e->list_id && json_is_integer(json_object_get(list, "id")))
        e->list_id = json_integer_value(json_object_get(list, "id"));

    struct compose_env env = {c->cfg, db, c->tpls, c->signer, c->media};
    rc = compose_plan_new(&env, e->inputs, &e->plan);
    if (rc) {
        e->plan = NULL;
        plan_error(e, rc, "");
        log_warn("delivery: cannot plan %s", e->errmsg);
    }
    return e;
}

/* Drops unused entries beyond PLANS_KEEP, oldest first, and unused temporary errors. */
static void plans_trim(struct delivery_plans *c)
{
    for (size_t i = 0; i < c->n;) {
        struct delivery_plan *e = c->v[i];
        if (e->refs == 0 && e->err && merr_class(e->err) == MERR_CLASS_TEMPORARY) {
            plan_free(e);
            c->v[i] = c->v[--c->n];
            continue;
        }
        i++;
    }
    while (c->n > PLANS_KEEP) {
        size_t victim = c->n;
        for (size_t i = 0; i < c->n; i++)
            if (c->v[i]->refs == 0 &&
                (victim == c->n || c->v[i]->last_use < c->v[victim]->last_use))
                victim = i;
        if (victim == c->n)
            break;
        plan_free(c->v[victim]);
        c->v[victim] = c->v[--c->n];
    }
}

struct delivery_plan *delivery_plans_get(struct delivery_plans *c, struct db *db, long long send_id)
{
    struct delivery_plan *e = NULL;

    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i]->send_id == send_id)
            e = c->v[i];
    if (!e) {
        if (c->n == c->cap) {
            size_t ncap = c->cap ? c->cap * 2 : 16;
            struct delivery_plan **p = realloc(c->v, ncap * sizeof *p);
            if (!p)
                goto out;
            c->v = p;
            c->cap = ncap;
        }
        e = plan_build(c, db, send_id);
        if (!e)
            goto out;
        c->v[c->n++] = e;
    }
    e->refs++;
    e->last_use = ++c->clock;
out:
    pthread_mutex_unlock(&c->mu);
    return e;
}

void delivery_plans_put(struct delivery_plans *c, struct delivery_plan *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&c->mu);
    p->refs--;
    plans_trim(c);
    pthread_mutex_unlock(&c->mu);
}
