/*
 * http_api_sends.c: the admin API's sending side (bearer token, http_api.c
 * routes here).
 *
 *   GET /api/sends (?kind, status, list, limit, before; newest first, with
 *     counters), GET /api/sends/ID (counters), POST /api/sends/ID/cancel
 *   GET /api/queue
 *   GET /api/digests/LIST/preview, POST /api/digests/LIST/send, GET
 *     /api/digests/ID, POST /api/digests/ID/pause|resume|cancel
 *   GET/POST /api/breaking (breaking news: {"list", "article"}; 409 when
 *     that article already went to that list)
 *
 * A send is answered with its envelopes counted per state (outbox_counts)
 * and its list by slug. The handlers call the owning modules (outbox,
 * digest, breaking); writes take the server's write lock as every writer
 * here does; none has SQL.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaking.h"
#include "date.h"
#include "digest.h"
#include "http_int.h"
#include "outbox.h"
#include "subs.h"

/* ---- sends and queue ---- */

static json_t *counts_json(const struct outbox_counts *c)
{
    json_t *o = json_object();
    for (int i = 0; i <= OUTBOX_CANCELLED; i++)
        json_object_set_new(o, outbox_state_name((enum outbox_state)i),
                            json_integer(c->by_state[i]));
    return o;
}

/* A send's list as its slug (subscribers knows it), or null: none or deleted. */
static json_t *list_slug_json(struct db *db, long long list_id)
{
    struct subs_list l;
    json_t *j;
    if (!list_id || subs_list_get_id(db, list_id, &l) != MERR_OK)
        return json_null();
    j = json_string(l.slug);
    subs_list_clear(&l);
    return j;
}

static json_t *send_json(struct db *db, const struct outbox_send_row *s)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I}", "id", (json_int_t)s->id,
                     "kind", s->kind, "status", s->status, "list", list_slug_json(db, s->list_id),
                     "list_id", s->list_id ? json_integer(s->list_id) : json_null(), "created_at",
                     http_api_time_json(s->created_at), "finished_at",
                     http_api_time_json(s->finished_at), "envelopes", counts_json(&s->counts),
                     "total", (json_int_t)s->total);
}
/*
 * GET /api/sends[?kind=share|digest|confirm][&status=active|paused|done|cancelled]
 *     [&list=SLUG][&limit=1..1000][&before=ID]: newest first, with counters
 *     per state; a full page has "next_before" (the `before` of the next
 *     page, which may be empty), a page that is not full has null.
 * GET /api/sends/ID: one send, the same fields.  POST /api/sends/ID/cancel.
 */
void http_api_sends(struct http_req *r, struct db *db, const char *rest)
{
    struct outbox_send_filter f;
    struct outbox_send_row *v = NULL;
    size_t n = 0;
    long long id, limit;
    char *end;
    enum merr rc;

    memset(&f, 0, sizeof f);
    if (!*rest) {
        const char *slug = http_query(r, "list");
        json_t *arr;
        if (!http_api_method(r, "GET"))
            return http_api_bad_method(r, "GET");
        f.kind = http_query(r, "kind");
        f.status = http_query(r, "status");
        if ((limit = http_api_query_number(r, "limit", OUTBOX_SEND_LIST_MAX)) < 0 ||
            (f.before = http_api_query_number(r, "before", INT64_MAX)) < 0)
            return;
        f.limit = (size_t)limit;
        if (slug) {
            struct subs_list l;
            rc = subs_list_get(db, slug, &l);
            if (rc)
                return http_api_fail(r, rc, "list");
            f.list_id = l.id;
            subs_list_clear(&l);
        }
        rc = outbox_send_list(db, &f, &v, &n);
        if (rc) /* outbox_send_list's refusals start with the argument's name */
            return http_api_fail(r, rc,
                                 rc != MERR_INVAL                         ? NULL
                                 : strncmp(merr_msg(), "kind ", 5) == 0   ? "kind"
                                 : strncmp(merr_msg(), "status ", 7) == 0 ? "status"
                                                                          : "limit");
        arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, send_json(db, &v[i]));
        limit = f.limit ? (long long)f.limit : OUTBOX_SEND_LIST_DEFAULT;
        http_reply_json(r, 200,
                        json_pack("{s:o, s:o}", "sends", arr, "next_before",
                                  (long long)n == limit ? json_integer(v[n - 1].id) : json_null()));
        free(v);
        return;
    }
    id = strtoll(rest, &end, 10);
    if (id <= 0 || !isdigit((unsigned char)rest[0]) || (*end && strcmp(end, "/cancel") != 0))
        return http_reply_error(r, 404, "not_found", "no such send", NULL);
    if (*end) {
        long long cancelled = 0;
        if (!http_api_method(r, "POST"))
            return http_api_bad_method(r, "POST");
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = outbox_send_cancel(db, id, date_now(), &cancelled);
        pthread_mutex_unlock(&r->ctx->write_lock);
        if (rc == MERR_INVAL)
            return http_reply_error(r, 409, "conflict", merr_msg(), NULL);
        if (rc)
            return http_api_fail(r, rc, NULL);
        return http_reply_json(
            r, 200,
            json_pack("{s:I, s:I}", "id", (json_int_t)id, "cancelled", (json_int_t)cancelled));
    }
    if (!http_api_method(r, "GET"))
        return http_api_bad_method(r, "GET");
    f.id = id;
    f.limit = 1;
    rc = outbox_send_list(db, &f, &v, &n);
    if (rc)
        return http_api_fail(r, rc, NULL);
    if (!n)
        return http_reply_error(r, 404, "not_found", "no such send", NULL);
    http_reply_json(r, 200, send_json(db, &v[0]));
    free(v);
}

void http_api_sends_queue(struct http_req *r, struct db *db)
{
    struct outbox_counts c;
    enum merr rc;
    if (!http_api_method(r, "GET"))
        return http_api_bad_method(r, "GET");
    rc = outbox_counts(db, 0, &c);
    if (rc)
        return http_api_fail(r, rc, NULL);
    http_reply_json(r, 200,
                    json_pack("{s:o, s:b}", "envelopes", counts_json(&c), "workers",
                              http_health_part_ok(r->ctx, "workers")));
}

/* ---- digests ---- */

static json_t *digest_json(const struct digest_info *d)
{
    return json_pack("{s:I, s:I, s:s, s:o, s:i, s:I, s:o, s:o}", "id", (json_int_t)d->id, "list_id",
                     (json_int_t)d->list_id, "period", d->period, "send_id",
                     d->send_id ? json_integer(d->send_id) : json_null(), "articles", d->articles,
                     "recipients", (json_int_t)d->recipients, "since", http_api_time_json(d->since),
                     "until", http_api_time_json(d->until));
}

/*
 * GET  /api/digests/LIST/preview[?to=ADDR][&since=DATE]  the message as text (RFC 5322)
 * POST /api/digests/LIST/send  {"period": "2026-W48", "since": DATE}  (both optional; DATE
 *      as the CLI's --since: ISO 8601 with an offset, or YYYY-MM-DD, midnight in the site's zone)
 * GET  /api/digests/ID;  POST /api/digests/ID/pause|resume|cancel
 */
void http_api_sends_digests(struct http_req *r, struct db *db, const char *rest)
{
    const char *slash = strchr(rest, '/');
    char first[128];
    enum merr rc;
    struct digest_info d;
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *action = slash ? slash + 1 : "";
    int numeric;

    if (!n || n >= sizeof first)
        return http_reply_error(r, 404, "not_found",
                                "GET /api/digests/LIST/preview, POST "
                                "/api/digests/LIST/send or /api/digests/ID",
                                NULL);
    memcpy(first, rest, n);
    first[n] = '\0';
    numeric = strspn(first, "0123456789") == n;
    memset(&d, 0, sizeof d);
    if (!numeric && strcmp(action, "preview") == 0) {
        struct buf out;
        const char *since_s = http_query(r, "since");
        time_t since = 0;
        if (!http_api_method(r, "GET"))
            return http_api_bad_method(r, "GET");
        if (since_s && date_parse_day_or_time(since_s, &since))
            return http_reply_error(r, 400, "invalid", merr_msg(), "since");
        buf_init(&out, 0);
        rc = digest_preview_since(db, r->ctx->cfg, first, http_query(r, "to"), since, date_now(),
                                  &out);
        if (rc) {
            buf_free(&out);
            return http_api_fail(r, rc, NULL);
        }
        http_reply(r, 200, "message/rfc822", out.data, out.len);
        buf_free(&out);
        return;
    }
    if (!numeric && strcmp(action, "send") == 0) {
        json_t *j = NULL;
        const char *period = NULL, *since_s = NULL;
        time_t since = 0;
        if (!http_api_method(r, "POST"))
            return http_api_bad_method(r, "POST");
        if (r->body.len) {
            if (!(j = http_api_json_body(r)))
                return;
            period = http_api_str_field(j, "period");
            since_s = http_api_str_field(j, "since");
            if (since_s && date_parse_day_or_time(since_s, &since)) {
                json_decref(j);
                return http_reply_error(r, 400, "invalid", merr_msg(), "since");
            }
        }
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = digest_create(db, r->ctx->cfg, first, period, since, date_now(), &d);
        pthread_mutex_unlock(&r->ctx->write_lock);
        json_decref(j);
        if (rc)
            return http_api_fail(r, rc, NULL);
        return http_reply_json(r, 201, digest_json(&d));
    }
    if (numeric) {
        long long id = strtoll(first, NULL, 10);
        if (!*action) {
            if (!http_api_method(r, "GET"))
                return http_api_bad_method(r, "GET");
        } else {
            if (!http_api_method(r, "POST"))
                return http_api_bad_method(r, "POST");
            pthread_mutex_lock(&r->ctx->write_lock);
            rc = strcmp(action, "pause") == 0    ? digest_pause(db, id)
                 : strcmp(action, "resume") == 0 ? digest_resume(db, id)
                 : strcmp(action, "cancel") == 0 ? digest_cancel(db, id)
                                                 : merr_set(MERR_NOTFOUND, "no such action");
            pthread_mutex_unlock(&r->ctx->write_lock);
            if (rc)
                return http_api_fail(r, rc, NULL);
        }
        rc = digest_get(db, id, &d);
        if (rc)
            return http_api_fail(r, rc, NULL);
        return http_reply_json(r, 200, digest_json(&d));
    }
    http_reply_error(r, 404, "not_found", "no such digest resource", NULL);
}

/* ---- breaking news ---- */

static json_t *breaking_json(const struct breaking_info *b)
{
    return json_pack("{s:I, s:s, s:s, s:I, s:I, s:o}", "id", (json_int_t)b->id, "list",
                     b->list_slug, "article", b->article_id, "send_id", (json_int_t)b->send_id,
                     "recipients", (json_int_t)b->recipients, "created_at",
                     http_api_time_json(b->created_at));
}

/*
 * GET  /api/breaking                      the breaking news sent, newest first
 * POST /api/breaking {"list", "article"}  send article to list now: 201; the
 *      same article to the same list again: 409 with the first send's id
 */
void http_api_sends_breaking(struct http_req *r, struct db *db, const char *rest)
{
    struct breaking_info b;
    enum merr rc;

    if (*rest)
        return http_reply_error(r, 404, "not_found", "no such breaking news resource", NULL);
    if (http_api_method(r, "GET")) {
        struct breaking_info v[HTTP_API_LIST_MAX / 10];
        size_t n = 0;
        json_t *arr;
        rc = breaking_list(db, v, sizeof v / sizeof v[0], &n);
        if (rc)
            return http_api_fail(r, rc, NULL);
        arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, breaking_json(&v[i]));
        return http_reply_json(r, 200, json_pack("{s:o}", "breaking", arr));
    }
    if (http_api_method(r, "POST")) {
        json_t *j = http_api_json_body(r);
        if (!j)
            return;
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = breaking_send(db, r->ctx->cfg, http_api_str_field(j, "list"),
                           http_api_str_field(j, "article"), date_now(), &b);
        pthread_mutex_unlock(&r->ctx->write_lock);
        json_decref(j);
        if (rc == MERR_EXISTS) {
            json_t *e = json_pack("{s:s, s:s, s:I}", "code", "exists", "message", merr_msg(),
                                  "send_id", (json_int_t)b.send_id);
            return http_reply_json(r, 409, json_pack("{s:o}", "error", e));
        }
        if (rc)
            return http_api_fail(r, rc,
                                 rc == MERR_INVAL && strstr(merr_msg(), "list") ? "list" : NULL);
        return http_reply_json(r, 201, breaking_json(&b));
    }
    http_api_bad_method(r, "GET, POST");
}
