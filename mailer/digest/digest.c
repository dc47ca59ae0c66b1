/*
 * digest.c: creating digests (by the scheduler or by hand) and the
 * preview. Their life after that (look-ups, pause, resume, cancel,
 * counters) is in digest_life.c, the scheduler in digest_schedule.c.
 *
 * Exactly once. Everything a digest writes happens in one BEGIN IMMEDIATE
 * transaction: the check that its (list, period) is free, the choice of
 * articles, the send with its plan, the envelopes (one INSERT ... SELECT,
 * outbox_enqueue_list) and the digest row whose UNIQUE(list_id, period)
 * settles any race. A crash before the commit leaves nothing; after it,
 * everything, and delivery takes it from there.
 *
 * Which articles: those published in (since, now], newest first, at most
 * the list's max (default 10), optionally one category, where `since` is
 * the end of the list's previous digest (a skipped one too), so a week's
 * article is in exactly one digest even when a digest comes late.
 *
 * The subject is the list's Mustache template (digest_subject, e.g. "Bản
 * tin tuần {{week}} – {{site}}") rendered here with week, year, period,
 * site and list; the plan carries the rendered text. Compose treats the
 * plan's subject as a template too, so a rendered subject that still holds
 * "{{" (a site name with braces) is given a set-delimiter prefix that makes
 * it literal there.
 *
 * The scheduler's rules (which occurrence is due, skipped weeks, clocks set
 * back) are described in digest.h; digest_tick (digest_schedule.c) applies
 * them list by list and makes each digest through digest_make here.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "articles.h"
#include "compose.h"
#include "date.h"
#include "dkimsig.h"
#include "digest.h"
#include "digest_int.h"
#include "digest_store.h"
#include "log.h"
#include "subs.h"
#include "tpl.h"

#define DIGEST_DEFAULT_MAX  10
#define DIGEST_FIRST_SPAN   (7 * 86400) /* a list's first digest looks back a week */
#define DIGEST_SUBJECT_MAX  998         /* one header line (RFC 5322 §2.1.1) */
#define DIGEST_SAMPLE_NAME  "Bạn đọc"
#define DIGEST_SAMPLE_LOCAL "ban-doc"

int digest_period_valid(const char *s)
{
    int week;
    if (!s || strlen(s) != 8 || s[4] != '-' || s[5] != 'W')
        return 0;
    for (int i = 0; i < 8; i++)
        if (i != 4 && i != 5 && (s[i] < '0' || s[i] > '9'))
            return 0;
    week = (s[6] - '0') * 10 + (s[7] - '0');
    return week >= 1 && week <= 53;
}

/* "2026-W08" -> "8": the week as people write it. */
static const char *week_of(const char *period)
{
    return period[6] == '0' ? period + 7 : period + 6;
}

enum merr digest_list_load(struct db *db, const char *slug, struct subs_list *l)
{
    enum merr rc;
    memset(l, 0, sizeof *l);
    if (!slug || !*slug)
        return merr_set(MERR_INVAL, "list: missing");
    rc = subs_list_get(db, slug, l);
    if (rc == MERR_NOTFOUND)
        return merr_set(rc, "list %s: not found", slug);
    return rc;
}

/* Where the next digest of the list starts. */
static enum merr next_since(struct db *db, const struct subs_list *l, time_t since_arg, time_t now,
                            time_t *since)
{
    time_t last;
    int found;
    enum merr rc;

    if (since_arg > 0) {
        *since = since_arg;
        return MERR_OK;
    }
    rc = digest_store_last_until(db, l->id, &last, &found);
    if (rc)
        return rc;
    *since = found ? last : now - DIGEST_FIRST_SPAN;
    return MERR_OK;
}

/* The ids of the list's articles in (since, until] as a JSON array (newest first). */
static enum merr pick_articles(struct db *db, const struct subs_list *l, time_t since, time_t until,
                               json_t **ids)
{
    struct article **v = NULL;
    size_t n = 0;
    int max = l->digest_max_articles > 0 ? l->digest_max_articles : DIGEST_DEFAULT_MAX;
    const char *category = l->digest_category && *l->digest_category ? l->digest_category : NULL;
    enum merr rc;

    *ids = json_array();
    if (!*ids)
        return merr_set(MERR_NOMEM, "out of memory");
    if (since >= until)
        return MERR_OK;
    rc = article_index(db, since, until, category, (size_t)max, &v, &n);
    for (size_t i = 0; !rc && i < n; i++)
        if (json_array_append_new(*ids, json_string(v[i]->id)))
            rc = merr_set(MERR_NOMEM, "out of memory");
    article_list_free(v, n);
    if (rc) {
        json_decref(*ids);
        *ids = NULL;
    }
    return rc;
}

/*
 * MERR_NOTFOUND "list L: no new articles since WHEN" with what to do about
 * it: the newest article's date when there is one (sample data, a CMS that
 * stopped pushing), and how to reach further back.
 */
static enum merr no_articles(struct db *db, const struct subs_list *l, const char *when)
{
    struct article **v = NULL;
    size_t n = 0;
    const char *category = l->digest_category && *l->digest_category ? l->digest_category : NULL;
    char newest[DATE_ISO_LEN] = "";

    if (!article_index(db, (time_t)INT64_MIN, (time_t)INT64_MAX, category, 1, &v, &n) && n)
        date_iso8601(v[0]->published_at, newest);
    article_list_free(v, n);
    if (newest[0])
        return merr_set(MERR_NOTFOUND,
                        "list %s: no new articles since %s (the newest%s%s is from %s); give "
                        "--since DATE (API: \"since\") to include older ones",
                        l->slug, when, category ? " in " : "", category ? category : "", newest);
    return merr_set(MERR_NOTFOUND, "list %s: no new articles since %s (there are none%s%s yet)",
                    l->slug, when, category ? " in " : "", category ? category : "");
}

/* Makes a rendered subject literal for compose, which parses it again. */
static enum merr subject_literal(struct buf *subject)
{
    static const char *const delims[][2] = {{"<%", "%>"}, {"[[", "]]"}, {"(#", "#)"}};
    struct buf b;
    enum merr rc;

    if (!strstr(subject->data, "{{"))
        return MERR_OK;
    for (size_t i = 0; i < sizeof delims / sizeof delims[0]; i++) {
        if (strstr(subject->data, delims[i][0]) || strstr(subject->data, delims[i][1]))
            continue;
        buf_init(&b, subject->max);
        rc = buf_printf(&b, "{{=%s %s=}}%s", delims[i][0], delims[i][1], subject->data);
        if (rc) {
            buf_free(&b);
            return rc;
        }
        buf_free(subject);
        *subject = b;
        return MERR_OK;
    }
    return merr_set(MERR_INVAL, "subject: the rendered text \"%s\" cannot be made literal",
                    subject->data);
}

/* The list's subject template rendered for `period` ("2026-W48"). */
static enum merr render_subject(const struct config *cfg, const struct subs_list *l,
                                const char *period, struct buf *out)
{
    struct tpl *t = NULL;
    json_t *ctx = NULL;
    const char *src = l->digest_subject && *l->digest_subject ? l->digest_subject
                                                              : "Bản tin tuần {{week}} – {{site}}";
    enum merr rc;

    rc = tpl_parse(src, strlen(src), TPL_ESCAPE_NONE, &t);
    if (rc) {
        rc = merr_wrap(rc, "list %s: digest subject", l->slug);
        goto out;
    }
    ctx = json_pack("{s:s, s:s%, s:s, s:s, s:s, s:{s:s, s:s}}", "week", week_of(period), "year",
                    period, (size_t)4, "period", period, "site", cfg->site_name, "site_name",
                    cfg->site_name, "list", "name", l->name, "slug", l->slug);
    if (!ctx) {
        rc = merr_set(MERR_INVAL, "list %s: digest subject: list name or site name is not UTF-8",
                      l->slug);
        goto out;
    }
    rc = tpl_render(t, NULL, NULL, &ctx, 1, out);
    if (rc) {
        rc = merr_wrap(rc, "list %s: digest subject", l->slug);
        goto out;
    }
    if (!out->data || !out->len) {
        rc = merr_set(MERR_INVAL, "list %s: digest subject renders empty", l->slug);
        goto out;
    }
    if (strpbrk(out->data, "\r\n") || strlen(out->data) != out->len) {
        rc = merr_set(MERR_INVAL, "list %s: digest subject contains a line break or NUL", l->slug);
        goto out;
    }
    rc = subject_literal(out);
out:
    json_decref(ctx);
    tpl_free(t);
    return rc;
}

/* Checks that the list's template exists and parses (else every envelope would fail). */
static enum merr check_template(const struct config *cfg, const struct subs_list *l,
                                const char **name)
{
    struct tpl_set *set = NULL;
    const struct tpl *t;
    char path[160];
    enum merr rc;

    *name = l->digest_template && *l->digest_template ? l->digest_template : "digest";
    for (const char *c = *name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            return merr_set(MERR_INVAL, "list %s: digest template \"%s\" is not a template name",
                            l->slug, *name);
    if (strlen(*name) > 100)
        return merr_set(MERR_INVAL, "list %s: digest template name is too long", l->slug);
    rc = tpl_set_open(cfg->templates_dir, cfg->templates_override, &set);
    if (rc)
        return merr_wrap(rc, "templates");
    snprintf(path, sizeof path, "email/%s.html", *name);
    rc = tpl_get(set, path, &t);
    if (!rc) {
        snprintf(path, sizeof path, "email/%s.txt", *name);
        rc = tpl_get(set, path, &t);
    }
    if (rc)
        rc = merr_wrap(rc, "list %s: digest template %s", l->slug, *name);
    tpl_set_free(set);
    return rc;
}

/* The send's inputs (compose.h: the digest plan). `*out` malloc'd. */
static enum merr plan_text(const struct subs_list *l, const char *period, const char *tname,
                           json_t *ids, const char *subject, char **out)
{
    json_t *plan = json_pack("{s:s, s:O, s:{s:I, s:s, s:s}, s:s, s:s, s:s, s:s}", "kind",
                             outbox_kind_name(OUTBOX_DIGEST), "articles", ids, "list", "id",
                             (json_int_t)l->id, "slug", l->slug, "name", l->name, "subject",
                             subject, "template", tname, "week", week_of(period), "period", period);
    if (!plan)
        return merr_set(MERR_INVAL, "digest plan: a value is not UTF-8");
    *out = json_dumps(plan, JSON_COMPACT);
    json_decref(plan);
    if (!*out)
        return merr_set(MERR_NOMEM, "out of memory");
    return MERR_OK;
}

void digest_info_from_row(const struct digest_row *r, const char *slug, struct digest_info *out)
{
    memset(out, 0, sizeof *out);
    out->id = r->id;
    out->list_id = r->list_id;
    snprintf(out->period, sizeof out->period, "%s", r->period);
    out->send_id = r->send_id;
    out->since = r->since;
    out->until = r->until;
    out->articles = r->articles;
    out->created_at = r->created_at;
    snprintf(out->list_slug, sizeof out->list_slug, "%s", slug ? slug : "");
    snprintf(out->status, sizeof out->status, "%s", r->send_id ? "" : "skipped");
}

/*
 * The one way a digest comes to be. `manual`: by hand (no articles is an
 * error and writes nothing; a skipped row may be filled in); else the
 * scheduler (no articles is recorded as skipped).
 */
enum merr digest_make(struct db *db, const struct config *cfg, const struct subs_list *l,
                      const char *period, time_t since_arg, time_t now, int manual,
                      struct digest_info *out)
{
    struct digest_row row, old;
    struct buf subject;
    json_t *ids = NULL;
    char *plan = NULL, when[DATE_ISO_LEN];
    const char *tname;
    long long added = 0;
    int fill = 0, began = 0, race = 0;
    enum merr rc;

    memset(out, 0, sizeof *out);
    memset(&row, 0, sizeof row);
    buf_init(&subject, DIGEST_SUBJECT_MAX);
    if (!digest_period_valid(period)) {
        rc = merr_set(MERR_INVAL, "period \"%s\" is not YYYY-Www", period ? period : "");
        goto out;
    }
    /* Checked before taking the write lock: a broken template or subject fails here. */
    rc = check_template(cfg, l, &tname);
    if (!rc)
        rc = render_subject(cfg, l, period, &subject);
    if (rc)
        goto out;

    rc = db_begin(db);
    if (rc)
        goto out;
    began = 1;
    rc = digest_store_find(db, l->id, period, &old);
    if (rc == MERR_OK) {
        if (!(manual && old.send_id == 0 && old.articles == 0)) {
            rc = merr_set(MERR_EXISTS, "list %s already has the digest of %s (digest %lld)",
                          l->slug, period, old.id);
            goto out;
        }
        fill = 1;
        row.id = old.id;
    } else if (rc != MERR_NOTFOUND) {
        goto out;
    }
    row.list_id = l->id;
    snprintf(row.period, sizeof row.period, "%s", period);
    row.until = now;
    row.created_at = now;
    rc = next_since(db, l, since_arg, now, &row.since);
    if (!rc)
        rc = pick_articles(db, l, row.since, now, &ids);
    if (rc)
        goto out;
    row.articles = (int)json_array_size(ids);
    date_iso8601(row.since, when);

    if (row.articles == 0) {
        if (manual) {
            rc = no_articles(db, l, when);
            goto out;
        }
        rc = digest_store_insert(db, &row);
        race = rc == MERR_EXISTS;
        if (!rc)
            rc = db_commit(db);
        if (rc)
            goto out;
        began = 0;
        log_info("digest: list %s, %s: no new articles since %s; week skipped", l->slug, period,
                 when);
    } else {
        rc = plan_text(l, period, tname, ids, subject.data, &plan);
        if (!rc)
            rc = outbox_send_create(db, OUTBOX_DIGEST, l->id, plan, &row.send_id);
        if (!rc)
            rc = outbox_enqueue_list(db, row.send_id, l->id, &added);
        if (!rc && added == 0)
            rc = outbox_send_finish_if_idle(db, row.send_id, now);
        if (!rc) {
            rc = fill ? digest_store_fill_skipped(db, &row) : digest_store_insert(db, &row);
            race = rc == MERR_EXISTS;
        }
        if (!rc)
            rc = db_commit(db);
        if (rc)
            goto out;
        began = 0;
        log_info("digest %lld: list %s, %s: %d articles since %s, %lld recipients (send %lld)",
                 row.id, l->slug, period, row.articles, when, added, row.send_id);
    }
    digest_info_from_row(&row, l->slug, out);
    out->recipients = added;
    if (row.send_id)
        snprintf(out->status, sizeof out->status, "%s", added ? "active" : "done");
    out->counts.by_state[OUTBOX_QUEUED] = added;
out:
    if (began)
        db_rollback(db);
    if (rc == MERR_EXISTS && race) /* the UNIQUE key: another process was first */
        merr_set(rc, "list %s already has the digest of %s", l->slug, period);
    json_decref(ids);
    free(plan);
    buf_free(&subject);
    return rc;
}

enum merr digest_create(struct db *db, const struct config *cfg, const char *list_slug,
                        const char *period, time_t since, time_t now, struct digest_info *out)
{
    struct subs_list l;
    char p[16];
    enum merr rc;

    memset(out, 0, sizeof *out);
    rc = digest_list_load(db, list_slug, &l);
    if (rc)
        return rc;
    if (period)
        snprintf(p, sizeof p, "%s", period);
    else
        digest_period(now, p);
    if (period && !digest_period_valid(period))
        rc = merr_set(MERR_INVAL, "period \"%s\" is not YYYY-Www (e.g. 2026-W48)", period);
    else if (since > now)
        rc = merr_set(MERR_INVAL, "since is in the future");
    else
        rc = digest_make(db, cfg, &l, p, since, now, 1, out);
    subs_list_clear(&l);
    return rc;
}

/* ---- preview ---- */

/* A confirmed subscriber of the list with this address: id and name. */
struct who {
    const char *key;
    long long id;
    char name[256];
};

static enum merr find_subscriber(void *arg, const struct subs_row *row)
{
    struct who *w = arg;
    if (row->email_ascii && !strcasecmp(row->email_ascii, w->key)) {
        w->id = row->subscriber_id;
        snprintf(w->name, sizeof w->name, "%s", row->name ? row->name : "");
    }
    return MERR_OK;
}

/*
 * Renders `plan_json` for `who` into `out` as delivery would (the same
 * plan, the same compose_personal): only the Date can differ.
 */
static enum merr preview_render(struct db *db, const struct config *cfg, const char *plan_json,
                                const struct compose_person *who, struct buf *out)
{
    struct tpl_set *set = NULL;
    struct compose_plan *plan = NULL;
    struct compose_personal personal;
    struct compose_env env = {0};
    struct dkimsig *signer = NULL;
    json_t *inputs = NULL;
    json_error_t jerr;
    enum merr rc;

    memset(&personal, 0, sizeof personal);
    inputs = json_loads(plan_json, 0, &jerr);
    if (!inputs) {
        rc = merr_set(MERR_INTERNAL, "digest plan: %s", jerr.text);
        goto out;
    }
    rc = tpl_set_open(cfg->templates_dir, cfg->templates_override, &set);
    if (rc) {
        rc = merr_wrap(rc, "templates");
        goto out;
    }
    env.cfg = cfg;
    env.db = db;
    env.tpls = set;
    /* signed as delivery signs it: the preview is the message, Date aside */
    rc = dkimsig_from_config(cfg, &signer);
    if (rc)
        goto out;
    env.signer = signer;
    rc = compose_plan_new(&env, inputs, &plan);
    if (!rc)
        rc = compose_personal(cfg, db, who, &personal);
    if (!rc)
        rc = compose_render(plan, &personal.rcpt, out);
out:
    compose_personal_free(&personal);
    json_decref(inputs);
    compose_plan_free(plan);
    dkimsig_free(signer);
    tpl_set_free(set);
    return rc;
}

/* The recipient of a preview: `to` (a confirmed subscriber's name when it is one), or a sample. */
static enum merr preview_recipient(struct db *db, const struct config *cfg,
                                   const struct subs_list *l, const char *to, struct addr *a,
                                   struct who *who)
{
    enum merr rc;

    memset(who, 0, sizeof *who);
    if (to) {
        rc = addr_parse(to, a);
        if (rc)
            return merr_wrap(rc, "--to %s", to);
        /* search by the local part: it is the same in the Unicode and ASCII forms */
        char local[ADDR_MAX];
        struct subs_filter f;
        snprintf(local, sizeof local, "%s", a->key);
        *strchr(local, '@') = '\0';
        memset(&f, 0, sizeof f);
        f.list_slug = l->slug;
        f.status = SUBS_CONFIRMED;
        f.search = local;
        who->key = a->key;
        rc = subs_each(db, &f, find_subscriber, who);
        if (rc)
            return rc;
    } else {
        snprintf(a->ascii, sizeof a->ascii, "%s@%s", DIGEST_SAMPLE_LOCAL, cfg_mail_domain(cfg));
    }
    if (!who->id)
        snprintf(who->name, sizeof who->name, "%s", DIGEST_SAMPLE_NAME);
    return MERR_OK;
}

enum merr digest_render(struct db *db, const struct config *cfg, const struct subs_list *l,
                        const char *plan_json, const char *to, struct buf *out)
{
    json_t *inputs = json_loads(plan_json, 0, NULL);
    int kind = outbox_kind_parse(json_string_value(json_object_get(inputs, "kind")));
    struct addr a;
    struct who who;
    enum merr rc;

    json_decref(inputs);
    if (kind != OUTBOX_DIGEST && kind != OUTBOX_BREAKING)
        return merr_set(MERR_INTERNAL, "a preview of list mail with a plan of another kind");
    rc = preview_recipient(db, cfg, l, to, &a, &who);
    if (!rc) {
        struct compose_person p = {.kind = (enum outbox_kind)kind,
                                   .email = a.ascii,
                                   .name = who.name,
                                   .subscriber_id = who.id,
                                   .list_id = l->id,
                                   .list_slug = l->slug};
        rc = preview_render(db, cfg, plan_json, &p, out);
    }
    return rc;
}

enum merr digest_preview(struct db *db, const struct config *cfg, const char *list_slug,
                         const char *to, time_t now, struct buf *out)
{
    return digest_preview_since(db, cfg, list_slug, to, 0, now, out);
}

/*
 * The plan (JSON text, `*plan` malloc'd) of the digest list `l` would get
 * now, with the articles since `since_arg` (0: since its previous digest),
 * inside the caller's transaction. MERR_NOTFOUND when there is no article.
 */
static enum merr next_plan(struct db *db, const struct config *cfg, const struct subs_list *l,
                           time_t since_arg, time_t now, char **plan)
{
    struct buf subject;
    json_t *ids = NULL;
    char period[16], when[DATE_ISO_LEN];
    const char *tname;
    time_t since;
    enum merr rc;

    *plan = NULL;
    buf_init(&subject, DIGEST_SUBJECT_MAX);
    digest_period(now, period);
    rc = check_template(cfg, l, &tname);
    if (!rc)
        rc = render_subject(cfg, l, period, &subject);
    if (!rc)
        rc = next_since(db, l, since_arg, now, &since);
    if (!rc)
        rc = pick_articles(db, l, since, now, &ids);
    if (!rc && json_array_size(ids) == 0) {
        date_iso8601(since, when);
        rc = no_articles(db, l, when);
    }
    if (!rc)
        rc = plan_text(l, period, tname, ids, subject.data, plan);
    json_decref(ids);
    buf_free(&subject);
    return rc;
}

enum merr digest_preview_since(struct db *db, const struct config *cfg, const char *list_slug,
                               const char *to, time_t since_arg, time_t now, struct buf *out)
{
    struct subs_list l;
    char *plan = NULL;
    enum merr rc = digest_list_load(db, list_slug, &l);

    if (rc)
        return rc;
    /* Everything below may cache (photos' base64): roll it all back. */
    rc = db_begin(db);
    if (!rc) {
        rc = next_plan(db, cfg, &l, since_arg, now, &plan);
        if (!rc)
            rc = digest_render(db, cfg, &l, plan, to, out);
        db_rollback(db);
    }
    free(plan);
    subs_list_clear(&l);
    return rc;
}

enum merr digest_test(struct db *db, const struct config *cfg, const char *list_slug, time_t since,
                      const char *to, time_t now, long long *send_id)
{
    struct subs_list l;
    struct addr a;
    char *plan = NULL;
    enum merr rc;

    *send_id = 0;
    if (!to || addr_parse(to, &a))
        return merr_set(MERR_INVAL, "test address: %s", merr_msg());
    rc = digest_list_load(db, list_slug, &l);
    if (rc)
        return rc;
    rc = db_begin(db);
    if (!rc) {
        rc = next_plan(db, cfg, &l, since, now, &plan);
        if (!rc)
            rc = outbox_send_create(db, OUTBOX_TEST, l.id, plan, send_id);
        if (!rc)
            rc = outbox_envelope_add(db, *send_id, 0, a.ascii, "", NULL);
        if (!rc)
            rc = db_commit(db);
        if (rc) {
            db_rollback(db);
            *send_id = 0;
        }
    }
    if (!rc)
        log_info("digest: test of %s to %s (send %lld)", l.slug, a.ascii, *send_id);
    free(plan);
    subs_list_clear(&l);
    return rc;
}

enum merr digest_preview_sent(struct db *db, const struct config *cfg, long long digest_id,
                              const char *to, struct buf *out)
{
    struct digest_info d;
    struct outbox_send s;
    struct outbox_envelope e;
    struct subs_list l;
    struct addr a;
    struct who who;
    enum merr rc;

    memset(&s, 0, sizeof s);
    memset(&e, 0, sizeof e);
    memset(&l, 0, sizeof l);
    rc = digest_get(db, digest_id, &d);
    if (!rc && !d.send_id)
        rc = merr_set(MERR_NOTFOUND, "digest %lld was skipped: there is no message", digest_id);
    if (!rc)
        rc = outbox_send_get(db, d.send_id, &s);
    if (!rc)
        rc = subs_list_get_id(db, d.list_id, &l);
    if (rc)
        goto out;
    struct compose_person p = {.kind = OUTBOX_DIGEST,
                               .salt = s.salt,
                               .send_id = d.send_id,
                               .list_id = l.id,
                               .list_slug = l.slug};
    if (to) {
        rc = addr_parse(to, &a);
        if (!rc)
            rc = outbox_envelope_of(db, d.send_id, a.key, &e);
        if (rc == MERR_NOTFOUND)
            rc = merr_set(rc, "%s is not a recipient of digest %lld", to, digest_id);
        if (rc)
            goto out;
        p.envelope_id = e.id;
        p.email = e.recipient;
        p.name = e.name;
        p.subscriber_id = e.subscriber_id;
        p.created_at = e.created_at;
    } else {
        rc = preview_recipient(db, cfg, &l, NULL, &a, &who);
        if (rc)
            goto out;
        p.email = a.ascii;
        p.name = who.name;
    }
    rc = preview_render(db, cfg, s.plan_json, &p, out);
out:
    free(e.recipient);
    free(e.name);
    outbox_send_clear(&s);
    subs_list_clear(&l);
    return rc;
}
