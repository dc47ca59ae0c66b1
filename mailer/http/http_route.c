/*
 * http_route.c: which handler answers a path, and the answers of no
 * handler (404, 405, 413).
 *
 * Routes are tried in order: exact paths, then prefixes whose rest is the
 * handler's argument (a percent-decoded segment for /share/ID, the raw rest
 * for /media/, /confirm/, /unsubscribe/ and /api/). Each sets r->route, the
 * label the request is counted under in /metrics (metrics.h knows the
 * labels). An area of the site (the admin pages under /admin/, the API
 * under /api/) is one prefix here and a handler file of its own; the
 * handler gets the request with its
 * body already read and capped, and answers with http_reply.c's helpers.
 *
 * A path that matches no route is 404, a method a route does not take is
 * 405 with Allow (RFC 9110 §15.5.6), both as JSON for API clients and as a
 * Vietnamese page for browsers. A body over [limits] http_max_body is 413
 * before any handler runs. The path as logged (http_route_logpath) hides
 * the link tokens of /confirm/ and /unsubscribe/: they are secrets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "metrics.h"

/* The rest of `path` after `prefix`, or NULL. */
const struct http_route_doc http_routes[] = {
    /* the public pages and probes (http_route below) */
    {"GET", "/healthz"},
    {"GET", "/metrics"},
    {"GET", "/"},
    {"GET", "/subscribe"},
    {"POST", "/subscribe"},
    {"GET", "/confirm/{token}"},
    {"POST", "/confirm/{token}"},
    {"GET", "/unsubscribe/{token}"},
    {"POST", "/unsubscribe/{token}"},
    {"GET", "/share/{article_id}"},
    {"POST", "/share/{article_id}"},
    {"GET", "/share/{article_id}/sent"},
    {"GET", "/media/{sha256}"},
    /* the admin API (http_api.c, http_bounce.c) */
    {"GET", "/api/openapi.json"},
    {"GET", "/api/articles"},
    {"POST", "/api/articles"},
    {"GET", "/api/articles/{id}"},
    {"GET", "/api/lists"},
    {"POST", "/api/lists"},
    {"GET", "/api/lists/{slug}"},
    {"PATCH", "/api/lists/{slug}"},
    {"DELETE", "/api/lists/{slug}"},
    {"GET", "/api/subscribers"},
    {"POST", "/api/subscribers"},
    {"GET", "/api/subscribers/export"},
    {"POST", "/api/subscribers/import"},
    {"GET", "/api/subscribers/{email}"},
    {"DELETE", "/api/subscribers/{email}"},
    {"GET", "/api/sends"},
    {"GET", "/api/sends/{id}"},
    {"POST", "/api/sends/{id}/cancel"},
    {"GET", "/api/queue"},
    {"GET", "/api/digests/{list}/preview"},
    {"POST", "/api/digests/{list}/send"},
    {"GET", "/api/digests/{id}"},
    {"POST", "/api/digests/{id}/pause"},
    {"POST", "/api/digests/{id}/resume"},
    {"POST", "/api/digests/{id}/cancel"},
    {"GET", "/api/breaking"},
    {"POST", "/api/breaking"},
    {"GET", "/api/bounces"},
    {"GET", "/api/bounces/{id}"},
    {"POST", "/api/bounces/{id}/undo"},
    {NULL, NULL},
};

static const char *after(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 ? path + n : NULL;
}

static void not_allowed(struct http_req *r, const char *allow)
{
    http_header(r, "Allow", allow);
    if (http_wants_json(r))
        http_reply_error(r, 405, "method_not_allowed", "method not allowed", NULL);
    else
        http_page_error(r, 405, "page.method");
}

static void not_found(struct http_req *r)
{
    if (http_wants_json(r))
        http_reply_error(r, 404, "not_found", "no such resource", NULL);
    else
        http_page_error(r, 404, "page.not_found");
}

static int is_get(const struct http_req *r)
{
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

static int is_post(const struct http_req *r)
{
    return strcmp(r->method, "POST") == 0;
}

/* Copies one path segment (up to '/' or the end), percent-decoded. NULL if bad/empty. */
static char *segment(const char *s, const char **rest)
{
    size_t n = strcspn(s, "/");
    char *seg;
    if (n == 0 || n > 512)
        return NULL;
    seg = strndup(s, n);
    if (!seg)
        return NULL;
    if (http_form_unescape_segment(seg)) {
        free(seg);
        return NULL;
    }
    *rest = s + n;
    return seg;
}

/* The path as logged: the tokens of confirm and unsubscribe links are secrets. */
void http_route_logpath(struct http_req *r)
{
    if (strncmp(r->path, "/confirm/", 9) == 0)
        snprintf(r->logpath, sizeof r->logpath, "/confirm/…");
    else if (strncmp(r->path, "/unsubscribe/", 13) == 0)
        snprintf(r->logpath, sizeof r->logpath, "/unsubscribe/…");
    else
        snprintf(r->logpath, sizeof r->logpath, "%s", r->path);
}

void http_route(struct http_req *r)
{
    const char *p = r->path, *rest, *tail = "";
    char *seg = NULL;

    http_route_logpath(r);
    if (r->too_big) {
        r->route = "too_large";
        if (strncmp(p, "/share/", 7) == 0)
            metrics_share("too_large");
        if (strncmp(p, "/admin/", 7) == 0)
            http_admin_too_large(r);
        else if (http_wants_json(r) || strncmp(p, "/share/", 7) != 0)
            http_reply_error(r, 413, "too_large", "request body too large", NULL);
        else
            http_page_error(r, 413, "request.too_large");
        return;
    }
    if (strcmp(p, "/healthz") == 0) {
        r->route = "healthz";
        if (!is_get(r))
            return not_allowed(r, "GET");
        return http_healthz(r);
    }
    if (strcmp(p, "/metrics") == 0) {
        r->route = "metrics";
        if (!is_get(r))
            return not_allowed(r, "GET");
        return http_prometheus(r);
    }
    if ((rest = after(p, "/share/"))) {
        r->route = "share";
        seg = segment(rest, &tail);
        if (!seg) {
            r->route = "share_bad";
            http_page_error(r, 400, "page.bad_address");
            return;
        }
        if (strcmp(tail, "") == 0) {
            if (is_get(r)) {
                r->route = "share_form";
                http_share_get(r, seg);
            } else if (is_post(r)) {
                r->route = "share_post";
                http_share_post(r, seg);
            } else {
                not_allowed(r, "GET, POST");
            }
        } else if (strcmp(tail, "/sent") == 0) {
            r->route = "share_sent";
            if (is_get(r))
                http_share_thanks(r, seg);
            else
                not_allowed(r, "GET");
        } else {
            not_found(r);
        }
        free(seg);
        return;
    }
    if ((rest = after(p, "/media/"))) {
        r->route = "media";
        if (!is_get(r))
            return not_allowed(r, "GET");
        return http_share_media(r, rest);
    }
    if (strcmp(p, "/subscribe") == 0) {
        r->route = "subscribe";
        if (is_get(r))
            return http_subs_subscribe_get(r);
        if (is_post(r))
            return http_subs_subscribe_post(r);
        return not_allowed(r, "GET, POST");
    }
    if ((rest = after(p, "/confirm/")) || (rest = after(p, "/unsubscribe/"))) {
        int confirm = strncmp(p, "/confirm/", 9) == 0;
        r->route = confirm ? "confirm" : "unsubscribe";
        if (!is_get(r) && !is_post(r))
            return not_allowed(r, "GET, POST");
        if (strchr(rest, '/') || !*rest)
            return not_found(r);
        if (confirm)
            return http_subs_confirm(r, rest);
        return http_subs_unsubscribe(r, rest);
    }
    if (strcmp(p, "/admin") == 0) {
        r->route = "admin";
        return http_redirect(r, "/admin/");
    }
    if ((rest = after(p, "/admin/"))) {
        r->route = "admin";
        return http_admin(r, rest);
    }
    if ((rest = after(p, "/api/"))) {
        r->route = "api";
        return http_api(r, rest);
    }
    if (strcmp(p, "/") == 0 && is_get(r)) {
        r->route = "home";
        return http_subs_subscribe_get(r);
    }
    r->route = "not_found";
    not_found(r);
}
