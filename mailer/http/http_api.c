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
 *   /api/lists and /api/subscribers (http_api_subs.c)
 *   /api/sends, /api/queue, /api/digests and /api/breaking (http_api_sends.c)
 *   /api/bounces (http_bounce.c)
 * This file holds the door (the token check), the router, the articles and
 * what every area's handlers share (http_int.h: the error answer, the method
 * test, a JSON body, a numeric query argument). Handlers call the owning
 * modules (articles, subs, outbox, digest, breaking); none has SQL.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles.h"
#include "date.h"
#include "http_int.h"
#include "log.h"
#include "media.h"

/* Answers a failed call: the status is merr_http_status's, the code names it. */
void http_api_fail(struct http_req *r, enum merr rc, const char *field)
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

int http_api_method(const struct http_req *r, const char *m)
{
    return strcmp(r->method, m) == 0 || (strcmp(m, "GET") == 0 && strcmp(r->method, "HEAD") == 0);
}

void http_api_bad_method(struct http_req *r, const char *allow)
{
    http_header(r, "Allow", allow);
    http_reply_error(r, 405, "method_not_allowed", "method not allowed here", NULL);
}

/* Parses a JSON object body; answers 415/400 itself and returns NULL on refusal. */
json_t *http_api_json_body(struct http_req *r)
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

const char *http_api_str_field(json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *http_api_time_json(time_t t)
{
    char s[DATE_ISO_LEN];
    if (!t)
        return json_null();
    date_iso8601_utc(t, s);
    return json_string(s);
}

/* A positive decimal query argument (at most `max`): 0 if absent, -1 (answered 400) if bad. */
long long http_api_query_number(struct http_req *r, const char *name, long long max)
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
        http_api_fail(r, rc, NULL);
        return 0;
    }
    if (read_only && !http_api_method(r, "GET")) {
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
        if (http_api_method(r,
                            "GET")) { /* newest first; ?after=CURSOR&limit=N pages through them */
            struct article **list = NULL;
            size_t n = 0;
            const char *cat = http_query(r, "category"), *after = http_query(r, "after");
            long long limit = http_api_query_number(r, "limit", HTTP_API_LIST_MAX);
            time_t before = 0;
            char *after_id = NULL, next[32 + 4 * 128 + 1];
            json_t *arr;
            if (limit < 0)
                return;
            if (!limit)
                limit = HTTP_API_LIST_MAX;
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
                return http_api_fail(r, rc, NULL);
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
        if (http_api_method(r, "POST")) {
            json_t *j = http_api_json_body(r), *imgs, *img;
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
                    const char *src = http_api_str_field(img, "src");
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
                return http_api_fail(r, rc, NULL);
            http_reply_json(r, created ? 201 : 200,
                            json_pack("{s:s, s:b}", "id", id, "created", created));
            free(id);
            return;
        }
        return http_api_bad_method(r, "GET, POST");
    }
    if (!http_api_method(r, "GET"))
        return http_api_bad_method(r, "GET");
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
            return http_api_fail(r, rc, NULL);
        buf_init(&out, 0);
        rc = article_to_json(a, &out);
        article_free(a);
        if (rc) {
            buf_free(&out);
            return http_api_fail(r, rc, NULL);
        }
        http_reply(r, 200, "application/json", out.data, out.len);
        buf_free(&out);
    }
}

void http_api(struct http_req *r, const char *rest)
{
    struct db *db = http_db(r);
    const char *sub;

    if (strcmp(rest, "openapi.json") == 0) { /* the description is no secret */
        if (!http_api_method(r, "GET"))
            return http_api_bad_method(r, "GET");
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
        return http_api_subs_lists(r, db, rest[5] ? rest + 6 : "");
    if (strcmp(rest, "subscribers") == 0 || strncmp(rest, "subscribers/", 12) == 0)
        return http_api_subs_subscribers(r, db, rest[11] ? rest + 12 : "");
    if (strcmp(rest, "sends") == 0 || strncmp(rest, "sends/", 6) == 0)
        return http_api_sends(r, db, rest[5] ? rest + 6 : "");
    if (strcmp(rest, "queue") == 0)
        return http_api_sends_queue(r, db);
    if (strcmp(rest, "digests") == 0 || strncmp(rest, "digests/", 8) == 0)
        return http_api_sends_digests(r, db, rest[7] ? rest + 8 : "");
    if (strcmp(rest, "bounces") == 0 || strncmp(rest, "bounces/", 8) == 0)
        return http_bounce_api(r, db, rest[7] ? rest + 8 : "");
    if (strcmp(rest, "breaking") == 0 || strncmp(rest, "breaking/", 9) == 0)
        return http_api_sends_breaking(r, db, rest[8] ? rest + 9 : "");
    http_reply_error(r, 404, "not_found", "no such API resource", NULL);
}
