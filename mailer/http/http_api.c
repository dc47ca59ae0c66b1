/*
 * http_api.c: the admin JSON API under /api/, for the CMS and the editors.
 *
 * Every request needs `Authorization: Bearer TOKEN` (RFC 6750 §2.1) where
 * TOKEN was printed by `mailer token create` or the admin's token page; a
 * read-only token may only GET (403 insufficient_scope, RFC 6750 §3.1,
 * otherwise). The table keeps only its
 * SHA-256, so the check hashes what came and looks the hash up among the
 * tokens not revoked. A missing, unknown or revoked token gets 401 with
 * `WWW-Authenticate: Bearer` (RFC 6750 §3). The token is never logged.
 *
 * Resources (JSON in and out; errors {"error": {code, message, field}};
 * docs/openapi.yaml describes each, served at /api/openapi.json; lists are
 * paged by keyset: limit and after/before, answered with next_after or
 * next_before):
 *   GET /api/openapi.json (no token)
 *   GET/POST /api/articles (?category, limit, after), GET /api/articles/ID
 *   GET/POST /api/lists (?limit, after), GET/PATCH/DELETE /api/lists/SLUG (PATCH: settings,
 *     digest schedule and content)
 *   GET/POST /api/subscribers (?list, status, q, limit, after), GET/DELETE
 *     /api/subscribers/EMAIL (?list), POST /api/subscribers/import
 *     (text/csv; ?list, mode, dry_run: per-line reasons), GET
 *     /api/subscribers/export (?list, status)
 *   GET /api/sends (?kind, status, list, limit, before; newest first, with
 *     counters), GET /api/sends/ID (counters), POST /api/sends/ID/cancel
 *   GET /api/queue
 *   GET /api/digests/LIST/preview, POST /api/digests/LIST/send, GET
 *     /api/digests/ID, POST /api/digests/ID/pause|resume|cancel
 *   GET /api/bounces (?state, mailbox, match, limit, before), GET
 *     /api/bounces/ID (?raw=1), POST /api/bounces/ID/undo (http_bounce.c)
 *   GET/POST /api/breaking (breaking news: {"list", "article"}; 409 when
 *     that article already went to that list)
 * Handlers call the owning modules (articles, subs, outbox); none has SQL.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles.h"
#include "breaking.h"
#include "date.h"
#include "digest.h"
#include "http_int.h"
#include "log.h"
#include "media.h"
#include "outbox.h"
#include "share.h"
#include "subs.h"

#define API_LIST_MAX          1000
#define API_IMPORT_ERRORS_MAX 1000 /* refused rows listed with their reason */

/* Answers a failed call: the status is merr_http_status's, the code names it. */
static void fail(struct http_req *r, enum merr rc, const char *field)
{
    int status = merr_http_status(rc);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", merr_msg()[0] ? merr_msg() : merr_str(rc));
    switch (status) {
    case 400:
        return http_reply_error(r, status, "invalid", msg, field);
    case 413:
        return http_reply_error(r, status, "too_large", msg, field);
    case 404:
        return http_reply_error(r, status, "not_found", msg, field);
    case 409:
        return http_reply_error(r, status, "exists", msg, field);
    case 503:
        http_header(r, "Retry-After", "5");
        return http_reply_error(r, status, "unavailable", msg, NULL);
    case 501:
        return http_reply_error(r, status, "not_implemented", msg, NULL);
    default:
        log_error("http: api %s %s: %s", r->method, r->logpath, msg);
        return http_reply_error(r, 500, "internal", "internal error", NULL);
    }
}

static long long query_number(struct http_req *r, const char *name, long long max);

static int method(const struct http_req *r, const char *m)
{
    return strcmp(r->method, m) == 0 || (strcmp(m, "GET") == 0 && strcmp(r->method, "HEAD") == 0);
}

static void bad_method(struct http_req *r, const char *allow)
{
    http_header(r, "Allow", allow);
    http_reply_error(r, 405, "method_not_allowed", "method not allowed here", NULL);
}

/* Parses a JSON object body; answers 415/400 itself and returns NULL on refusal. */
static json_t *json_body(struct http_req *r)
{
    json_t *j = NULL;
    if (!r->content_type || strcmp(r->content_type, "application/json") != 0) {
        http_reply_error(r, 415, "unsupported_media_type", "send application/json", NULL);
        return NULL;
    }
    if (http_form_json(r->body.data ? r->body.data : "", r->body.len, &j)) {
        http_reply_error(r, 400, "invalid", merr_msg(), NULL);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        http_reply_error(r, 400, "invalid", "the body must be a JSON object", NULL);
        return NULL;
    }
    return j;
}

static const char *str_field(json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *time_json(time_t t)
{
    char s[DATE_ISO_LEN];
    if (!t)
        return json_null();
    date_iso8601_utc(t, s);
    return json_string(s);
}

/*
 * 1 if the Authorization header names an active token that may do what the
 * request asks: a read-only token (scope "read") only GET and HEAD.
 */
static int authenticated(struct http_req *r, struct db *db)
{
    const char *h = r->authorization, *tok;
    int read_only = 0;
    enum merr rc;

    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        http_header(r, "WWW-Authenticate", "Bearer realm=\"mailer\"");
        http_reply_error(r, 401, "unauthorized", "a bearer token is required", NULL);
        return 0;
    }
    tok = h + 7;
    while (*tok == ' ')
        tok++;
    rc = http_token_check(db, tok, date_now(), NULL, &read_only);
    if (rc == MERR_NOTFOUND) {
        http_header(r, "WWW-Authenticate", "Bearer realm=\"mailer\", error=\"invalid_token\"");
        http_reply_error(r, 401, "unauthorized", "the token is not valid or was revoked", NULL);
        return 0;
    }
    if (rc) {
        fail(r, rc, NULL);
        return 0;
    }
    if (read_only && !method(r, "GET")) {
        http_header(r, "WWW-Authenticate",
                    "Bearer realm=\"mailer\", error=\"insufficient_scope\", scope=\"full\"");
        http_reply_error(r, 403, "forbidden", "this token is read-only: GET and HEAD only", NULL);
        return 0;
    }
    return 1;
}

/* ---- articles ---- */

static json_t *article_summary(const struct article *a)
{
    char pub[DATE_ISO_LEN];
    date_iso8601_utc(a->published_at, pub);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", a->id, "title", a->title, "url",
                     a->url ? a->url : "", "category", a->category ? a->category : "",
                     "published_at", pub, "images", (json_int_t)a->nimages);
}

static void api_articles(struct http_req *r, struct db *db, const char *rest)
{
    enum merr rc;

    if (!*rest) {
        if (method(r, "GET")) { /* newest first; ?after=CURSOR&limit=N pages through them */
            struct article **list = NULL;
            size_t n = 0;
            const char *cat = http_query(r, "category"), *after = http_query(r, "after");
            long long limit = query_number(r, "limit", API_LIST_MAX);
            time_t before = 0;
            char *after_id = NULL, next[32 + 4 * 128 + 1];
            json_t *arr;
            if (limit < 0)
                return;
            if (!limit)
                limit = API_LIST_MAX;
            if (after) { /* the cursor next_after gave: "SECONDS.ID" */
                char *end;
                long long t = strtoll(after, &end, 10);
                if (t <= 0 || *end != '.' || !end[1] || !isdigit((unsigned char)after[0]))
                    return http_reply_error(r, 400, "invalid",
                                            "after: the next_after of the page before", "after");
                before = (time_t)t;
                after_id = end + 1;
            }
            /* one more than the page: is there a next one? */
            rc = article_page(db, before, after_id, cat, (size_t)limit + 1, &list, &n);
            if (rc)
                return fail(r, rc, NULL);
            arr = json_array();
            for (size_t i = 0; i < n && i < (size_t)limit; i++)
                json_array_append_new(arr, article_summary(list[i]));
            if (n > (size_t)limit)
                snprintf(next, sizeof next, "%lld.%s", (long long)list[limit - 1]->published_at,
                         list[limit - 1]->id);
            http_reply_json(r, 200,
                            json_pack("{s:o, s:o}", "articles", arr, "next_after",
                                      n > (size_t)limit ? json_string(next) : json_null()));
            article_list_free(list, n);
            return;
        }
        if (method(r, "POST")) {
            json_t *j = json_body(r), *imgs, *img;
            char *id = NULL;
            int created = 0;
            size_t i;
            if (!j)
                return;
            /* Without [media] root a path would resolve against nothing: refuse it. */
            imgs = json_object_get(j, "images");
            if (!r->ctx->cfg->media_root && json_is_array(imgs)) {
                json_array_foreach(imgs, i, img)
                {
                    const char *src = str_field(img, "src");
                    if (src && !media_is_http_url(src)) {
                        json_decref(j);
                        return http_reply_error(
                            r, 400, "invalid",
                            "images: a relative image path needs [media] root on the server; "
                            "send http(s) URLs",
                            "images");
                    }
                }
            }
            json_decref(j);
            pthread_mutex_lock(&r->ctx->write_lock);
            rc = article_upsert(db, r->ctx->cfg, r->body.data, r->body.len, r->ctx->cfg->media_root,
                                "request", &id, &created);
            pthread_mutex_unlock(&r->ctx->write_lock);
            if (rc)
                return fail(r, rc, NULL);
            http_reply_json(r, created ? 201 : 200,
                            json_pack("{s:s, s:b}", "id", id, "created", created));
            free(id);
            return;
        }
        return bad_method(r, "GET, POST");
    }
    if (!method(r, "GET"))
        return bad_method(r, "GET");
    {
        struct article *a = NULL;
        struct buf out;
        char *id = strdup(rest);
        if (!id || http_form_unescape_segment(id)) {
            free(id);
            return http_reply_error(r, 400, "invalid", "bad article id", "id");
        }
        rc = article_load(db, id, &a);
        free(id);
        if (rc)
            return fail(r, rc, NULL);
        buf_init(&out, 0);
        rc = article_to_json(a, &out);
        article_free(a);
        if (rc) {
            buf_free(&out);
            return fail(r, rc, NULL);
        }
        http_reply(r, 200, "application/json", out.data, out.len);
        buf_free(&out);
    }
}

/* ---- lists ---- */

static json_t *list_json(const struct subs_list *l)
{
    json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:{s:I, s:I, s:I}, s:o, s:o}", "id",
                          (json_int_t)l->id, "slug", l->slug, "name", l->name ? l->name : "",
                          "description", l->description ? l->description : "", "optin",
                          l->double_optin ? "double" : "single", "subscribers", "confirmed",
                          (json_int_t)l->n_confirmed, "unconfirmed", (json_int_t)l->n_unconfirmed,
                          "unsubscribed", (json_int_t)l->n_unsubscribed, "created_at",
                          time_json(l->created_at), "updated_at", time_json(l->updated_at));
    /* the digest settings, named as PATCH takes them */
    json_t *d = json_pack(
        "{s:b, s:i, s:s, s:s, s:o, s:i, s:s, s:s, s:b}", "public", l->is_public, "digest_weekday",
        l->digest_weekday, "digest_time", l->digest_time, "digest_timezone", date_zone(),
        "digest_category", l->digest_category ? json_string(l->digest_category) : json_null(),
        "digest_max_articles", l->digest_max_articles, "digest_subject",
        l->digest_subject ? l->digest_subject : "", "digest_template",
        l->digest_template ? l->digest_template : "", "digest_enabled", l->digest_enabled);
    if (j && d)
        json_object_update(j, d);
    json_decref(d);
    return j;
}

/*
 * PATCH /api/lists/SLUG with a JSON object of the settings to change:
 * name, description, optin ("single"|"double"), public (true|false: offered
 * on the subscribe page), digest_weekday (0-6, 0 =
 * Sunday), digest_time ("HH:MM"), digest_category (a string; "" or null:
 * all), digest_max_articles (1-100), digest_subject, digest_template,
 * digest_enabled (true|false). An unknown key or a wrong type is refused
 * (400 naming the field) and nothing changes. Answers the list as GET does.
 */
static void list_patch(struct http_req *r, struct db *db, const char *slug)
{
    struct subs_list_update u;
    struct subs_list l;
    const char *key, *field = NULL, *want = NULL;
    json_t *j = json_body(r), *v;
    enum merr rc;

    if (!j)
        return;
    subs_list_update_init(&u);
    struct {
        const char *name;
        const char **dst;
    } strings[] = {{"name", &u.name},
                   {"description", &u.description},
                   {"optin", &u.optin},
                   {"digest_time", &u.digest_time},
                   {"digest_category", &u.digest_category},
                   {"digest_subject", &u.digest_subject},
                   {"digest_template", &u.digest_template}};
    json_object_foreach(j, key, v)
    {
        size_t i;
        for (i = 0; i < sizeof strings / sizeof strings[0]; i++)
            if (!strcmp(key, strings[i].name))
                break;
        if (i < sizeof strings / sizeof strings[0]) {
            if (json_is_string(v))
                *strings[i].dst = json_string_value(v);
            else if (json_is_null(v) && !strcmp(key, "digest_category"))
                u.digest_category = ""; /* all categories */
            else
                want = "a string";
        } else if (!strcmp(key, "digest_weekday")) {
            if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 6)
                u.digest_weekday = (int)json_integer_value(v);
            else
                want = "an integer 0-6 (0 = Sunday)";
        } else if (!strcmp(key, "digest_max_articles")) {
            if (json_is_integer(v) && json_integer_value(v) >= 1 &&
                json_integer_value(v) <= SUBS_DIGEST_MAX_ARTICLES)
                u.digest_max_articles = (int)json_integer_value(v);
            else
                want = "an integer 1-100";
        } else if (!strcmp(key, "digest_enabled")) {
            if (json_is_boolean(v))
                u.digest_enabled = json_is_true(v);
            else
                want = "true or false";
        } else if (!strcmp(key, "public")) {
            if (json_is_boolean(v))
                u.is_public = json_is_true(v);
            else
                want = "true or false";
        } else {
            want = ""; /* not a setting */
        }
        if (want)
            break;
    }
    if (want) {
        char msg[200];
        if (*want)
            snprintf(msg, sizeof msg, "%.64s: expected %s", key, want);
        else
            snprintf(msg, sizeof msg, "%.64s: not a setting of a list", key);
        http_reply_error(r, 400, "invalid", msg, key);
        json_decref(j);
        return;
    }
    pthread_mutex_lock(&r->ctx->write_lock);
    rc = subs_list_update(db, r->ctx->cfg, slug, &u, &field);
    pthread_mutex_unlock(&r->ctx->write_lock);
    json_decref(j);
    if (!rc)
        rc = subs_list_get(db, slug, &l);
    if (rc)
        return fail(r, rc, field);
    http_reply_json(r, 200, list_json(&l));
    subs_list_clear(&l);
}

static void api_lists(struct http_req *r, struct db *db, const char *rest)
{
    enum merr rc;
    struct subs_list l;

    memset(&l, 0, sizeof l);
    if (!*rest) {
        if (method(r, "GET")) { /* in slug order; ?after=SLUG&limit=N pages through them */
            struct subs_list *v = NULL;
            size_t n = 0, taken = 0;
            const char *after = http_query(r, "after");
            long long limit = query_number(r, "limit", API_LIST_MAX);
            json_t *arr, *next = json_null();
            if (limit < 0)
                return;
            if (!limit)
                limit = API_LIST_MAX;
            rc = subs_list_all(db, &v, &n);
            if (rc)
                return fail(r, rc, NULL);
            arr = json_array();
            for (size_t i = 0; i < n; i++) {
                if (after && strcmp(v[i].slug, after) <= 0)
                    continue;
                if (taken == (size_t)limit) { /* there is more: the page ends here */
                    json_decref(next);
                    next = json_string(v[i - 1].slug);
                    break;
                }
                json_array_append_new(arr, list_json(&v[i]));
                taken++;
            }
            subs_lists_free(v, n);
            return http_reply_json(r, 200,
                                   json_pack("{s:o, s:o}", "lists", arr, "next_after", next));
        }
        if (method(r, "POST")) {
            json_t *j = json_body(r);
            long long id;
            if (!j)
                return;
            if (!str_field(j, "slug") || !str_field(j, "name")) {
                json_decref(j);
                return http_reply_error(r, 400, "invalid", "slug and name are required",
                                        str_field(j, "slug") ? "name" : "slug");
            }
            json_t *pub = json_object_get(j, "public");
            if (pub && !json_is_boolean(pub)) {
                json_decref(j);
                return http_reply_error(r, 400, "invalid", "public: expected true or false",
                                        "public");
            }
            pthread_mutex_lock(&r->ctx->write_lock);
            rc = db_begin(db);
            if (!rc)
                rc = subs_list_create(db, str_field(j, "slug"), str_field(j, "name"),
                                      str_field(j, "description"), str_field(j, "optin"),
                                      date_now(), &id);
            if (!rc && json_is_true(pub)) { /* a new list is private unless asked */
                struct subs_list_update u;
                subs_list_update_init(&u);
                u.is_public = 1;
                rc = subs_list_update(db, NULL, str_field(j, "slug"), &u, NULL);
            }
            if (!rc)
                rc = db_commit(db);
            else
                db_rollback(db);
            pthread_mutex_unlock(&r->ctx->write_lock);
            if (!rc)
                rc = subs_list_get_id(db, id, &l);
            json_decref(j);
            if (rc)
                return fail(r, rc, NULL);
            http_reply_json(r, 201, list_json(&l));
            subs_list_clear(&l);
            return;
        }
        return bad_method(r, "GET, POST");
    }
    if (method(r, "GET")) {
        rc = subs_list_get(db, rest, &l);
        if (rc)
            return fail(r, rc, NULL);
        http_reply_json(r, 200, list_json(&l));
        subs_list_clear(&l);
        return;
    }
    if (method(r, "PATCH"))
        return list_patch(r, db, rest);
    if (method(r, "DELETE")) {
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = subs_list_remove(db, rest);
        pthread_mutex_unlock(&r->ctx->write_lock);
        if (rc)
            return fail(r, rc, NULL);
        return http_reply(r, 204, NULL, NULL, 0);
    }
    return bad_method(r, "GET, PATCH, DELETE");
}

/* ---- subscribers ---- */

/* One page of subscriber rows: `limit` rows, then the rest of the last subscriber's. */
struct rows {
    json_t *arr;
    size_t n, limit;
    long long last_id; /* the subscriber of the last row taken */
};

static enum merr add_row(void *arg, const struct subs_row *row)
{
    struct rows *rs = arg;
    json_t *attrs;
    if (rs->n >= rs->limit && row->subscriber_id != rs->last_id)
        return MERR_LIMIT; /* the page is full and ends with a whole subscriber */
    attrs = json_loads(row->attributes ? row->attributes : "{}", 0, NULL);
    json_array_append_new(
        rs->arr,
        json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:o, s:o}", "id", (json_int_t)row->subscriber_id,
                  "email", row->email, "email_ascii", row->email_ascii, "name",
                  row->name ? row->name : "", "list",
                  row->list_slug ? json_string(row->list_slug) : json_null(), "status",
                  subs_status_name(row->status), "confirmed_at", time_json(row->confirmed_at),
                  "attributes", attrs ? attrs : json_object()));
    rs->n++;
    rs->last_id = row->subscriber_id;
    return MERR_OK;
}

/* The refused rows of an import, as the answer lists them (the first API_IMPORT_ERRORS_MAX). */
struct bad_lines {
    json_t *arr;
    size_t n;
};

static void bad_line(void *arg, long long line, const char *reason)
{
    struct bad_lines *bl = arg;
    if (bl->n++ >= API_IMPORT_ERRORS_MAX)
        return;
    json_array_append_new(bl->arr,
                          json_pack("{s:I, s:s}", "line", (json_int_t)line, "reason", reason));
}

static int filter_from_query(struct http_req *r, struct subs_filter *f)
{
    const char *st = http_query(r, "status");
    memset(f, 0, sizeof *f);
    f->list_slug = http_query(r, "list");
    f->search = http_query(r, "q");
    if (st) {
        int s = subs_status_parse(st);
        if (s < 0) {
            http_reply_error(r, 400, "invalid", "status: unknown", "status");
            return -1;
        }
        f->status = s;
    }
    return 0;
}

static void api_subscribers(struct http_req *r, struct db *db, const char *rest)
{
    enum merr rc;
    struct subs_filter f;

    if (!*rest) {
        if (method(r, "GET")) {
            struct rows rs = {json_array(), 0, API_LIST_MAX, 0};
            long long limit, after;
            if (filter_from_query(r, &f) || (limit = query_number(r, "limit", API_LIST_MAX)) < 0 ||
                (after = query_number(r, "after", INT64_MAX)) < 0) {
                json_decref(rs.arr);
                return;
            }
            if (limit)
                rs.limit = (size_t)limit;
            f.after_id = after;
            rc = subs_each(db, &f, add_row, &rs);
            if (rc && rc != MERR_LIMIT) {
                json_decref(rs.arr);
                return fail(r, rc, NULL);
            }
            /* a full page names where the next starts (`after`); the last page has null */
            return http_reply_json(
                r, 200,
                json_pack("{s:o, s:b, s:o}", "subscribers", rs.arr, "truncated", rc == MERR_LIMIT,
                          "next_after", rc == MERR_LIMIT ? json_integer(rs.last_id) : json_null()));
        }
        if (method(r, "POST")) {
            json_t *j = json_body(r);
            struct subs_result res;
            json_t *c;
            if (!j)
                return;
            if (!str_field(j, "email") || !str_field(j, "list")) {
                json_decref(j);
                return http_reply_error(r, 400, "invalid", "email and list are required",
                                        str_field(j, "email") ? "list" : "email");
            }
            c = json_object_get(j, "confirmed");
            pthread_mutex_lock(&r->ctx->write_lock);
            rc = subs_subscribe(db, r->ctx->cfg, str_field(j, "list"), str_field(j, "email"),
                                str_field(j, "name"), NULL, date_now(),
                                json_is_true(c) ? SUBS_ADD_CONFIRMED : 0, &res);
            pthread_mutex_unlock(&r->ctx->write_lock);
            json_decref(j);
            if (rc)
                return fail(r, rc, NULL);
            static const char *const outcomes[] = {"confirmed", "pending",    "pending",
                                                   "already",   "suppressed", "capped"};
            return http_reply_json(
                r, 201,
                json_pack("{s:I, s:I, s:s}", "subscriber_id", (json_int_t)res.subscriber_id,
                          "list_id", (json_int_t)res.list_id, "outcome", outcomes[res.outcome]));
        }
        return bad_method(r, "GET, POST");
    }
    if (strcmp(rest, "export") == 0) {
        char *data = NULL;
        size_t len = 0;
        FILE *out;
        if (!method(r, "GET"))
            return bad_method(r, "GET");
        if (filter_from_query(r, &f))
            return;
        out = open_memstream(&data, &len);
        if (!out)
            return fail(r, merr_set(MERR_NOMEM, "out of memory"), NULL);
        rc = subs_export_csv(db, &f, out, 0, NULL);
        fclose(out);
        if (!rc)
            http_reply(r, 200, "text/csv; charset=utf-8", data, len);
        free(data);
        if (rc)
            return fail(r, rc, NULL);
        http_header(r, "Content-Disposition", "attachment; filename=\"subscribers.csv\"");
        return;
    }
    if (strcmp(rest, "import") == 0) {
        struct subs_import_opts o;
        struct subs_import_report rep;
        struct bad_lines bl = {NULL, 0};
        const char *mode = http_query(r, "mode"), *dry = http_query(r, "dry_run");
        FILE *in;
        json_t *ans;
        if (!method(r, "POST"))
            return bad_method(r, "POST");
        if (!r->content_type || strcmp(r->content_type, "text/csv") != 0)
            return http_reply_error(r, 415, "unsupported_media_type", "send text/csv", NULL);
        memset(&o, 0, sizeof o);
        memset(&rep, 0, sizeof rep);
        o.list_slug = http_query(r, "list");
        o.mode = SUBS_IMPORT_CONFIRMED;
        if (mode && strcmp(mode, "unconfirmed") == 0)
            o.mode = SUBS_IMPORT_UNCONFIRMED;
        else if (mode && strcmp(mode, "blocklist") == 0)
            o.mode = SUBS_IMPORT_BLOCKLIST;
        else if (mode && strcmp(mode, "confirmed") != 0)
            return http_reply_error(r, 400, "invalid", "mode: confirmed, unconfirmed or blocklist",
                                    "mode");
        if (dry && strcmp(dry, "1") != 0 && strcmp(dry, "true") != 0 && strcmp(dry, "0") != 0 &&
            strcmp(dry, "false") != 0) {
            return http_reply_error(r, 400, "invalid", "dry_run: 1, true, 0 or false", "dry_run");
        }
        o.dry_run = dry && (!strcmp(dry, "1") || !strcmp(dry, "true"));
        if (!o.list_slug && o.mode != SUBS_IMPORT_BLOCKLIST)
            return http_reply_error(r, 400, "invalid", "list: required", "list");
        if (!(bl.arr = json_array()))
            return fail(r, merr_set(MERR_NOMEM, "out of memory"), NULL);
        o.on_bad = bad_line;
        o.arg = &bl;
        in = fmemopen(r->body.data ? r->body.data : (char *)"", r->body.len, "r");
        if (!in) {
            json_decref(bl.arr);
            return fail(r, merr_set(MERR_NOMEM, "out of memory"), NULL);
        }
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = subs_import_csv(db, r->ctx->cfg, in, &o, date_now(), &rep);
        pthread_mutex_unlock(&r->ctx->write_lock);
        fclose(in);
        if (rc) {
            json_decref(bl.arr);
            return fail(r, rc, NULL);
        }
        ans = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "dry_run",
                        o.dry_run, "rows", (json_int_t)rep.rows, "bad", (json_int_t)rep.bad,
                        "created", (json_int_t)rep.created, "subscribed",
                        (json_int_t)rep.subscribed, "upgraded", (json_int_t)rep.upgraded,
                        "existing", (json_int_t)rep.existing, "left", (json_int_t)rep.left,
                        "suppressed", (json_int_t)rep.suppressed, "blocked",
                        (json_int_t)rep.blocked, "confirm_mails", (json_int_t)rep.confirm_mails);
        if (ans) {
            json_object_set_new(ans, "delimiter",
                                rep.delimiter ? json_string(subs_csv_delim_name(rep.delimiter))
                                              : json_null());
            json_object_set_new(ans, "email_column", json_string(rep.email_column));
            json_object_set_new(ans, "name_column",
                                rep.name_column[0] ? json_string(rep.name_column) : json_null());
            json_object_set_new(ans, "errors", bl.arr);
            json_object_set_new(ans, "errors_truncated",
                                json_boolean(rep.bad > API_IMPORT_ERRORS_MAX));
        } else {
            json_decref(bl.arr);
        }
        return http_reply_json(r, 200, ans);
    }
    {
        char *email = strdup(rest);
        if (!email || http_form_unescape_segment(email)) {
            free(email);
            return http_reply_error(r, 400, "invalid", "bad address in the path", "email");
        }
        if (method(r, "GET")) {
            json_t *j = NULL;
            rc = share_person_show(db, email, &j);
            free(email);
            if (rc)
                return fail(r, rc, NULL);
            return http_reply_json(r, 200, j);
        }
        if (method(r, "DELETE")) {
            pthread_mutex_lock(&r->ctx->write_lock);
            rc = subs_remove(db, email, http_query(r, "list"));
            pthread_mutex_unlock(&r->ctx->write_lock);
            free(email);
            if (rc)
                return fail(r, rc, NULL);
            return http_reply(r, 204, NULL, NULL, 0);
        }
        free(email);
        return bad_method(r, "GET, DELETE");
    }
}

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
                     time_json(s->created_at), "finished_at", time_json(s->finished_at),
                     "envelopes", counts_json(&s->counts), "total", (json_int_t)s->total);
}

/* A positive decimal query argument (at most `max`): 0 if absent, -1 (answered 400) if bad. */
static long long query_number(struct http_req *r, const char *name, long long max)
{
    const char *v = http_query(r, name);
    char *end;
    long long n;
    if (!v)
        return 0;
    n = strtoll(v, &end, 10);
    if (!*v || *end || strspn(v, "0123456789") != strlen(v) || n < 1 || n > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: a number from 1 to %lld", name, max);
        http_reply_error(r, 400, "invalid", msg, name);
        return -1;
    }
    return n;
}

/*
 * GET /api/sends[?kind=share|digest|confirm][&status=active|paused|done|cancelled]
 *     [&list=SLUG][&limit=1..1000][&before=ID]: newest first, with counters
 *     per state; a full page has "next_before" (the `before` of the next
 *     page, which may be empty), a page that is not full has null.
 * GET /api/sends/ID: one send, the same fields.  POST /api/sends/ID/cancel.
 */
static void api_sends(struct http_req *r, struct db *db, const char *rest)
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
        if (!method(r, "GET"))
            return bad_method(r, "GET");
        f.kind = http_query(r, "kind");
        f.status = http_query(r, "status");
        if ((limit = query_number(r, "limit", OUTBOX_SEND_LIST_MAX)) < 0 ||
            (f.before = query_number(r, "before", INT64_MAX)) < 0)
            return;
        f.limit = (size_t)limit;
        if (slug) {
            struct subs_list l;
            rc = subs_list_get(db, slug, &l);
            if (rc)
                return fail(r, rc, "list");
            f.list_id = l.id;
            subs_list_clear(&l);
        }
        rc = outbox_send_list(db, &f, &v, &n);
        if (rc) /* outbox_send_list's refusals start with the argument's name */
            return fail(r, rc,
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
        if (!method(r, "POST"))
            return bad_method(r, "POST");
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = outbox_send_cancel(db, id, date_now(), &cancelled);
        pthread_mutex_unlock(&r->ctx->write_lock);
        if (rc == MERR_INVAL)
            return http_reply_error(r, 409, "conflict", merr_msg(), NULL);
        if (rc)
            return fail(r, rc, NULL);
        return http_reply_json(
            r, 200,
            json_pack("{s:I, s:I}", "id", (json_int_t)id, "cancelled", (json_int_t)cancelled));
    }
    if (!method(r, "GET"))
        return bad_method(r, "GET");
    f.id = id;
    f.limit = 1;
    rc = outbox_send_list(db, &f, &v, &n);
    if (rc)
        return fail(r, rc, NULL);
    if (!n)
        return http_reply_error(r, 404, "not_found", "no such send", NULL);
    http_reply_json(r, 200, send_json(db, &v[0]));
    free(v);
}

static void api_queue(struct http_req *r, struct db *db)
{
    struct outbox_counts c;
    enum merr rc;
    if (!method(r, "GET"))
        return bad_method(r, "GET");
    rc = outbox_counts(db, 0, &c);
    if (rc)
        return fail(r, rc, NULL);
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
                     "recipients", (json_int_t)d->recipients, "since", time_json(d->since), "until",
                     time_json(d->until));
}

/*
 * GET  /api/digests/LIST/preview[?to=ADDR][&since=DATE]  the message as text (RFC 5322)
 * POST /api/digests/LIST/send  {"period": "2026-W48", "since": DATE}  (both optional; DATE
 *      as the CLI's --since: ISO 8601 with an offset, or YYYY-MM-DD, midnight in the site's zone)
 * GET  /api/digests/ID;  POST /api/digests/ID/pause|resume|cancel
 */
static void api_digests(struct http_req *r, struct db *db, const char *rest)
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
        if (!method(r, "GET"))
            return bad_method(r, "GET");
        if (since_s && date_parse_day_or_time(since_s, &since))
            return http_reply_error(r, 400, "invalid", merr_msg(), "since");
        buf_init(&out, 0);
        rc = digest_preview_since(db, r->ctx->cfg, first, http_query(r, "to"), since, date_now(),
                                  &out);
        if (rc) {
            buf_free(&out);
            return fail(r, rc, NULL);
        }
        http_reply(r, 200, "message/rfc822", out.data, out.len);
        buf_free(&out);
        return;
    }
    if (!numeric && strcmp(action, "send") == 0) {
        json_t *j = NULL;
        const char *period = NULL, *since_s = NULL;
        time_t since = 0;
        if (!method(r, "POST"))
            return bad_method(r, "POST");
        if (r->body.len) {
            if (!(j = json_body(r)))
                return;
            period = str_field(j, "period");
            since_s = str_field(j, "since");
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
            return fail(r, rc, NULL);
        return http_reply_json(r, 201, digest_json(&d));
    }
    if (numeric) {
        long long id = strtoll(first, NULL, 10);
        if (!*action) {
            if (!method(r, "GET"))
                return bad_method(r, "GET");
        } else {
            if (!method(r, "POST"))
                return bad_method(r, "POST");
            pthread_mutex_lock(&r->ctx->write_lock);
            rc = strcmp(action, "pause") == 0    ? digest_pause(db, id)
                 : strcmp(action, "resume") == 0 ? digest_resume(db, id)
                 : strcmp(action, "cancel") == 0 ? digest_cancel(db, id)
                                                 : merr_set(MERR_NOTFOUND, "no such action");
            pthread_mutex_unlock(&r->ctx->write_lock);
            if (rc)
                return fail(r, rc, NULL);
        }
        rc = digest_get(db, id, &d);
        if (rc)
            return fail(r, rc, NULL);
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
                     time_json(b->created_at));
}

/*
 * GET  /api/breaking                      the breaking news sent, newest first
 * POST /api/breaking {"list", "article"}  send article to list now: 201; the
 *      same article to the same list again: 409 with the first send's id
 */
static void api_breaking(struct http_req *r, struct db *db, const char *rest)
{
    struct breaking_info b;
    enum merr rc;

    if (*rest)
        return http_reply_error(r, 404, "not_found", "no such breaking news resource", NULL);
    if (method(r, "GET")) {
        struct breaking_info v[API_LIST_MAX / 10];
        size_t n = 0;
        json_t *arr;
        rc = breaking_list(db, v, sizeof v / sizeof v[0], &n);
        if (rc)
            return fail(r, rc, NULL);
        arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, breaking_json(&v[i]));
        return http_reply_json(r, 200, json_pack("{s:o}", "breaking", arr));
    }
    if (method(r, "POST")) {
        json_t *j = json_body(r);
        if (!j)
            return;
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = breaking_send(db, r->ctx->cfg, str_field(j, "list"), str_field(j, "article"),
                           date_now(), &b);
        pthread_mutex_unlock(&r->ctx->write_lock);
        json_decref(j);
        if (rc == MERR_EXISTS) {
            json_t *e = json_pack("{s:s, s:s, s:I}", "code", "exists", "message", merr_msg(),
                                  "send_id", (json_int_t)b.send_id);
            return http_reply_json(r, 409, json_pack("{s:o}", "error", e));
        }
        if (rc)
            return fail(r, rc, rc == MERR_INVAL && strstr(merr_msg(), "list") ? "list" : NULL);
        return http_reply_json(r, 201, breaking_json(&b));
    }
    bad_method(r, "GET, POST");
}

void http_api(struct http_req *r, const char *rest)
{
    struct db *db = http_db(r);
    const char *sub;

    if (strcmp(rest, "openapi.json") == 0) { /* the description is no secret */
        if (!method(r, "GET"))
            return bad_method(r, "GET");
        return http_reply(r, 200, "application/json", http_openapi_json, http_openapi_json_len);
    }
    if (!db) {
        http_header(r, "Retry-After", "5");
        return http_reply_error(r, 503, "unavailable", "database unavailable", NULL);
    }
    if (!authenticated(r, db))
        return;
    if (strcmp(rest, "articles") == 0 || strncmp(rest, "articles/", 9) == 0) {
        sub = rest[8] ? rest + 9 : "";
        return api_articles(r, db, sub);
    }
    if (strcmp(rest, "lists") == 0 || strncmp(rest, "lists/", 6) == 0)
        return api_lists(r, db, rest[5] ? rest + 6 : "");
    if (strcmp(rest, "subscribers") == 0 || strncmp(rest, "subscribers/", 12) == 0)
        return api_subscribers(r, db, rest[11] ? rest + 12 : "");
    if (strcmp(rest, "sends") == 0 || strncmp(rest, "sends/", 6) == 0)
        return api_sends(r, db, rest[5] ? rest + 6 : "");
    if (strcmp(rest, "queue") == 0)
        return api_queue(r, db);
    if (strcmp(rest, "digests") == 0 || strncmp(rest, "digests/", 8) == 0)
        return api_digests(r, db, rest[7] ? rest + 8 : "");
    if (strcmp(rest, "bounces") == 0 || strncmp(rest, "bounces/", 8) == 0)
        return http_bounce_api(r, db, rest[7] ? rest + 8 : "");
    if (strcmp(rest, "breaking") == 0 || strncmp(rest, "breaking/", 9) == 0)
        return api_breaking(r, db, rest[8] ? rest + 9 : "");
    http_reply_error(r, 404, "not_found", "no such API resource", NULL);
}

/* The helpers above, for the API's other files (http_bounce.c). */
void http_api_fail(struct http_req *r, enum merr rc, const char *field)
{
    fail(r, rc, field);
}

int http_api_method(const struct http_req *r, const char *m)
{
    return method(r, m);
}

void http_api_bad_method(struct http_req *r, const char *allow)
{
    bad_method(r, allow);
}

long long http_api_query_number(struct http_req *r, const char *name, long long max)
{
    return query_number(r, name, max);
}
