/*
 * http_reply.c: a request and its answer, without libmicrohttpd.
 *
 * The front (http_front.c) turns each libmicrohttpd request into a
 * `struct http_req`; handlers answer through these helpers, which set the
 * status, the media type, the body and up to HTTP_MAX_HEADERS headers on
 * the request, and never touch the library (only http_query reads the
 * connection, and answers NULL without one). So a handler runs the same in
 * a unit test, on a request made with http_req_init, as behind a socket.
 * Pages are the templates pages/NAME.html of the front's template set,
 * rendered with the site's name and base URL added as `site`.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "http_int.h"
#include "http_msg.h"
#include "log.h"
#include "tpl.h"
#include "utf8.h"

void http_req_init(struct http_req *r, struct http_ctx *ctx, const char *method, const char *path)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->method = method;
    r->path = strdup(path ? path : "/");
    buf_init(&r->body, ctx && ctx->cfg ? ctx->cfg->http_max_body : 0);
    buf_init(&r->out, 0);
    r->t0 = date_mono();
    r->route = "other";
    snprintf(r->client_ip, sizeof r->client_ip, "-");
    snprintf(r->client_key, sizeof r->client_key, "-");
}

void http_req_free(struct http_req *r)
{
    if (!r)
        return;
    free(r->path);
    free(r->content_type);
    free(r->content_type_raw);
    free(r->authorization);
    free(r->accept);
    free(r->cookie);
    free(r->origin);
    free(r->host);
    free(r->query);
    buf_free(&r->body);
    buf_free(&r->out);
    for (int i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
}

void http_reply(struct http_req *r, int status, const char *type, const char *body, size_t n)
{
    buf_reset(&r->out);
    r->status = status;
    r->out_type = type;
    if (n && buf_append(&r->out, body, n)) {
        buf_reset(&r->out);
        r->status = 500;
        r->out_type = "text/plain; charset=utf-8";
        buf_puts(&r->out, "response too large\n");
    }
}

void http_reply_json(struct http_req *r, int status, json_t *j)
{
    /* UTF-8 as it is (RFC 8259 §8.1): "Hà Giang", not "H\u00e0 Giang" */
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        http_reply(r, 500, "application/json", "{\"error\":{\"code\":\"internal\"}}", 30);
        return;
    }
    http_reply(r, status, "application/json", s, strlen(s));
    buf_putc(&r->out, '\n');
    free(s);
}

void http_reply_error(struct http_req *r, int status, const char *code, const char *message,
                      const char *field)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message ? message : "");
    if (e && field)
        json_object_set_new(e, "field", json_string(field));
    http_reply_json(r, status, json_pack("{s:o}", "error", e));
}

void http_header(struct http_req *r, const char *name, const char *value)
{
    if (r->nheaders == HTTP_MAX_HEADERS)
        return;
    r->hname[r->nheaders] = strdup(name);
    r->hvalue[r->nheaders] = strdup(value);
    if (!r->hname[r->nheaders] || !r->hvalue[r->nheaders]) {
        free(r->hname[r->nheaders]);
        free(r->hvalue[r->nheaders]);
        return;
    }
    r->nheaders++;
}

void http_redirect(struct http_req *r, const char *location)
{
    http_reply(r, 303, "text/plain; charset=utf-8", "", 0);
    http_header(r, "Location", location);
}

void http_page(struct http_req *r, int status, const char *name, json_t *data)
{
    char tname[96];
    snprintf(tname, sizeof tname, "pages/%s.html", name);
    http_render(r, status, tname, "text/html; charset=utf-8", data);
}

void http_render(struct http_req *r, int status, const char *tname, const char *type, json_t *data)
{
    const struct tpl *t;
    json_t *site, *ctx[2];
    enum merr rc;

    site = json_pack("{s:{s:s, s:s}}", "site", "name", r->ctx->cfg->site_name, "base_url",
                     r->ctx->cfg->site_base_url);
    ctx[0] = site;
    ctx[1] = data ? data : site;
    buf_reset(&r->out);
    rc = site ? tpl_get(r->ctx->tpl, tname, &t) : MERR_NOMEM;
    if (!rc)
        rc = tpl_render(t, r->ctx->tpl, NULL, ctx, 2, &r->out);
    json_decref(site);
    if (rc) {
        log_error("http: page %s: %s", tname, merr_msg());
        http_reply(r, 500, "text/plain; charset=utf-8", "Lỗi máy chủ.\n", strlen("Lỗi máy chủ.\n"));
        return;
    }
    r->status = status;
    r->out_type = type;
}

void http_page_error(struct http_req *r, int status, const char *reason)
{
    const struct http_msg *m = http_msg_or(reason, "page.error");
    const char *title = m->title ? m->title : http_msg_or(NULL, "page.error")->title;
    json_t *d = json_pack("{s:s, s:s, s:i}", "title", title, "message", m->text, "status", status);
    http_page(r, status, "error", d);
    json_decref(d);
}

void http_page_error_text(struct http_req *r, int status, const char *title, const char *message)
{
    json_t *d = json_pack("{s:s, s:s, s:i}", "title", title, "message", message, "status", status);
    http_page(r, status, "error", d);
    json_decref(d);
}

void http_reply_refusal(struct http_req *r, int status, const char *code, const char *reason,
                        const char *field, json_t *vars)
{
    http_reply_json(r, status,
                    json_pack("{s:o}", "error", http_refusal_json(code, reason, field, vars)));
}

json_t *http_refusal_json(const char *code, const char *reason, const char *field, json_t *vars)
{
    struct buf text;
    json_t *e;

    buf_init(&text, 4096);
    if (http_msg_text(reason, field ? "field.invalid" : "page.error", vars, &text)) {
        buf_reset(&text);
        buf_puts(&text, http_msg_or(NULL, "page.error")->text);
    }
    e = json_pack("{s:s, s:s, s:s}", "code", code, "message", text.data ? text.data : "", "detail",
                  merr_msg());
    if (e && reason && *reason)
        json_object_set_new(e, "reason", json_string(reason));
    if (e && field)
        json_object_set_new(e, "field", json_string(field));
    buf_free(&text);
    return e;
}

const char *http_query(struct http_req *r, const char *name)
{
    const char *v;
    if (!r->conn)
        return NULL;
    v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v && (!utf8_valid(v, strlen(v), NULL) || utf8_has_crlf_nul(v, strlen(v))))
        return NULL;
    return v;
}

int http_wants_json(const struct http_req *r)
{
    if (strncmp(r->path, "/api/", 5) == 0)
        return 1;
    return r->content_type && strcmp(r->content_type, "application/json") == 0;
}
