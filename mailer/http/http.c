/*
 * http.c: the daemon, its limits, routing, the request log and shutdown.
 *
 * libmicrohttpd runs a pool of cfg->http_threads threads, each polling its
 * share of the connections (MHD_USE_INTERNAL_POLLING_THREAD with
 * MHD_OPTION_THREAD_POOL_SIZE). Limits: MHD_OPTION_CONNECTION_LIMIT
 * connections, MHD_OPTION_CONNECTION_TIMEOUT seconds idle, and a per
 * connection memory pool (MHD_OPTION_CONNECTION_MEMORY_LIMIT) that bounds
 * the request line and headers: a larger header block is answered 431 by
 * the library. The body is not left to the library: each upload chunk is
 * appended to a `struct buf` capped at [limits] http_max_body, and a request
 * announcing a larger Content-Length is answered 413 on the first call,
 * before any of its body is read; a chunked body that grows past the cap
 * has its connection closed at that point.
 *
 * Handlers run on the pool thread that read the request, with a database
 * handle of that thread (opened on first use, kept in a registry so that
 * shutdown closes them all). Write transactions of this process go through
 * ctx->write_lock so threads do not spin in SQLite's busy handler against
 * each other.
 *
 * One log line per request, written when libmicrohttpd reports it complete:
 * method, the path with link tokens replaced by "…" (never the query
 * string, never Authorization), status and duration.
 *
 * Shutdown (stop flag set by SIGTERM/SIGINT): MHD_quiesce_daemon() stops
 * accepting; requests in flight are waited for (at most the connection
 * timeout); the daemon is stopped; the digest scheduler thread is told to
 * stop and joined (it checks its flag every 200 ms and never stops inside a
 * digest's transaction), then the delivery thread, finishing its batch; the
 * database handles are closed.
 *
 * Unless started with workers 0, two threads run beside the pool: the
 * delivery workers (delivery_run) and the digest scheduler
 * (digest_scheduler_run, a tick at start and once a minute, on the clock
 * of date_now()). /healthz reports both.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"
#include "digest.h"
#include "http.h"
#include "http_int.h"
#include "metrics.h"
#include "log.h"
#include "outbox.h"
#include "tpl.h"
#include "utf8.h"

/* ---- database handles per thread ---- */

#define DB_REGISTRY_MAX 512

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db *registry[DB_REGISTRY_MAX];
static size_t registry_n;
static unsigned registry_gen = 1; /* bumped when the registry is closed */
static _Thread_local struct db *tls_db;
static _Thread_local unsigned tls_gen;

struct db *http_db(struct http_req *r)
{
    struct db *db;
    if (tls_db && tls_gen == registry_gen)
        return tls_db;
    if (db_open(r->ctx->cfg->db_path, r->ctx->cfg->db_busy_timeout_ms, &db))
        return NULL;
    /* Checkpoints are run by the server's main loop, not inside a request's commit. */
    if (db_exec(db, "PRAGMA wal_autocheckpoint=0"))
        log_warn("http: wal_autocheckpoint: %s", merr_msg());
    pthread_mutex_lock(&registry_lock);
    if (registry_n == DB_REGISTRY_MAX) {
        pthread_mutex_unlock(&registry_lock);
        db_close(db);
        merr_set(MERR_LIMIT, "too many database handles");
        return NULL;
    }
    registry[registry_n++] = db;
    tls_db = db;
    tls_gen = registry_gen;
    pthread_mutex_unlock(&registry_lock);
    return db;
}

static void registry_close(void)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_n; i++)
        db_close(registry[i]);
    registry_n = 0;
    registry_gen++;
    pthread_mutex_unlock(&registry_lock);
}

/* ---- requests and responses ---- */

double http_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void http_req_init(struct http_req *r, struct http_ctx *ctx, const char *method, const char *path)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->method = method;
    r->path = strdup(path ? path : "/");
    buf_init(&r->body, ctx && ctx->cfg ? ctx->cfg->http_max_body : 0);
    buf_init(&r->out, 0);
    r->t0 = http_now();
    r->route = "other";
    snprintf(r->client_ip, sizeof r->client_ip, "-");
}

void http_req_free(struct http_req *r)
{
    if (!r)
        return;
    free(r->path);
    free(r->content_type);
    free(r->authorization);
    free(r->accept);
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
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
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
    const struct tpl *t;
    json_t *site, *ctx[2];
    enum merr rc;

    snprintf(tname, sizeof tname, "pages/%s.html", name);
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
    r->out_type = "text/html; charset=utf-8";
}

void http_page_error(struct http_req *r, int status, const char *title, const char *message)
{
    json_t *d = json_pack("{s:s, s:s, s:i}", "title", title, "message", message, "status", status);
    http_page(r, status, "error", d);
    json_decref(d);
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

/* ---- /healthz and /metrics ---- */

/* "not started", "running" or "stopped" for a thread the server may run. */
static const char *thread_state(int wanted, int alive)
{
    return !wanted ? "not started" : alive ? "running" : "stopped";
}

void http_healthz(struct http_req *r)
{
    struct db *db = http_db(r);
    int db_ok = db && db_exec(db, "SELECT 1") == MERR_OK;
    int wanted = r->ctx->workers_wanted;
    int workers = atomic_load(&r->ctx->workers_alive);
    int scheduler = atomic_load(&r->ctx->scheduler_alive);
    int ok = db_ok && (!wanted || (workers && scheduler));
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "status", ok ? "ok" : "fail", "database",
                          db_ok ? "ok" : "unreachable", "workers", thread_state(wanted, workers),
                          "scheduler", thread_state(wanted, scheduler), "uptime_s",
                          (json_int_t)(time(NULL) - r->ctx->started));
    http_reply_json(r, ok ? 200 : 503, j);
}

void http_prometheus(struct http_req *r)
{
    struct db *db = http_db(r);
    struct outbox_counts counts;
    const char *names[OUTBOX_CANCELLED + 1];
    size_t n = 0;
    struct buf out;

    memset(&counts, 0, sizeof counts);
    if (db && outbox_counts(db, 0, &counts) == MERR_OK) {
        for (int i = 0; i <= OUTBOX_CANCELLED; i++)
            names[i] = outbox_state_name((enum outbox_state)i);
        n = OUTBOX_CANCELLED + 1;
    } else {
        log_warn("http: metrics: envelope counts: %s", merr_msg());
    }
    buf_init(&out, 0);
    if (metrics_render(&out, names, counts.by_state, n)) {
        buf_free(&out);
        http_reply(r, 500, "text/plain; charset=utf-8", "metrics failed\n", 15);
        return;
    }
    http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    buf_free(&out);
}

/* ---- routing ---- */

/* The rest of `path` after `prefix`, or NULL. */
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
        http_page_error(r, 405, "Phương thức không được hỗ trợ",
                        "Địa chỉ này không nhận loại yêu cầu đó.");
}

static void not_found(struct http_req *r)
{
    if (http_wants_json(r))
        http_reply_error(r, 404, "not_found", "no such resource", NULL);
    else
        http_page_error(r, 404, "Không tìm thấy trang", "Trang bạn yêu cầu không tồn tại.");
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
static void set_logpath(struct http_req *r)
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

    set_logpath(r);
    if (r->too_big) {
        r->route = "too_large";
        if (strncmp(p, "/share/", 7) == 0)
            metrics_share("too_large");
        if (http_wants_json(r) || strncmp(p, "/share/", 7) != 0)
            http_reply_error(r, 413, "too_large", "request body too large", NULL);
        else
            http_page_error(r, 413, "Nội dung quá lớn", "Yêu cầu gửi lên quá lớn.");
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
            http_page_error(r, 400, "Địa chỉ không hợp lệ", "Mã bài viết không hợp lệ.");
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

/* ---- libmicrohttpd glue ---- */

struct server {
    struct http_ctx ctx;
    struct MHD_Daemon *d;
    atomic_int inflight;
    char **proxies;
    size_t nproxies;
};

static int trusted_proxy(const struct server *s, const char *ip)
{
    for (size_t i = 0; i < s->nproxies; i++)
        if (strcmp(s->proxies[i], ip) == 0)
            return 1;
    return 0;
}

/*
 * The client's address: the socket peer, unless that peer is a trusted
 * proxy; then the right-most X-Forwarded-For entry that is not itself a
 * trusted proxy (entries further left are whatever the client claimed).
 */
static void client_ip(struct server *s, struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const char *xff;

    snprintf(out, n, "-");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
    if (!s->nproxies || !trusted_proxy(s, out))
        return;
    xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    if (!xff)
        return;
    char *copy = strdup(xff), *save = NULL, *tok, *pick = NULL;
    if (!copy)
        return;
    for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        unsigned char tmp[16];
        if (inet_pton(AF_INET, tok, tmp) != 1 && inet_pton(AF_INET6, tok, tmp) != 1) {
            pick = NULL; /* garbage: trust nothing before it */
            continue;
        }
        if (!trusted_proxy(s, tok))
            pick = tok;
    }
    if (pick)
        snprintf(out, n, "%s", pick);
    free(copy);
}

static char *media_type(const char *ct)
{
    size_t n;
    char *s;
    if (!ct)
        return NULL;
    while (*ct == ' ')
        ct++;
    n = strcspn(ct, "; \t");
    s = strndup(ct, n);
    if (s)
        for (char *q = s; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
    return s;
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct http_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    size_t len = 0;
    char *data;

    if (!r->status) {
        log_error("http: %s %s: no answer from handler", r->method, r->logpath);
        http_reply(r, 500, "text/plain; charset=utf-8", "internal error\n", 15);
    }
    data = buf_detach(&r->out, &len);
    if (!data)
        return MHD_NO;
    if (strcmp(r->method, "HEAD") == 0) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        free(data);
    } else {
        resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(data);
    }
    if (!resp)
        return MHD_NO;
    if (r->out_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->out_type);
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
    if (r->out_type && strncmp(r->out_type, "text/html", 9) == 0) {
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src "
                                "'unsafe-inline'; frame-ancestors *; form-action 'self'");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    struct http_req *r = *con_cls;
    (void)version;

    if (!r) {
        const char *cl, *v;
        r = malloc(sizeof *r);
        if (!r)
            return MHD_NO;
        http_req_init(r, &s->ctx, method, url);
        if (!r->path) {
            http_req_free(r);
            free(r);
            return MHD_NO;
        }
        *con_cls = r;
        atomic_fetch_add(&s->inflight, 1);
        client_ip(s, c, r->client_ip, sizeof r->client_ip);
        r->conn = c;
        r->content_type =
            media_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"));
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization")))
            r->authorization = strdup(v);
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept")))
            r->accept = strdup(v);
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > s->ctx.cfg->http_max_body) {
                /* Answer now: the body is never read (413, RFC 9110 §15.5.14). */
                r->too_big = 1;
                http_route(r);
                http_header(r, "Connection", "close");
                return send_response(c, r);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->too_big || buf_append(&r->body, upload, *upload_size)) {
            /* A chunked body passed the cap: stop reading it. */
            r->too_big = 1;
            r->status = 413;
            r->route = "too_large";
            set_logpath(r);
            return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->status) /* answered on the first call */
        return MHD_YES;
    http_route(r);
    return send_response(c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct http_req *r = *con_cls;
    (void)c;
    if (!r)
        return;
    double ms = (http_now() - r->t0) * 1000.0;
    if (!r->logpath[0])
        set_logpath(r);
    if (r->status) {
        log_info("http: %s %s %d %.1fms%s", r->method, r->logpath, r->status, ms,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (closed early)");
        metrics_http_request(r->route, r->status);
    } else {
        log_info("http: %s %s - %.1fms (closed before an answer)", r->method, r->logpath, ms);
    }
    http_req_free(r);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* libmicrohttpd's own messages go to our log, one line each. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_warn("http: libmicrohttpd: %s", line);
}

/* Splits cfg->http_trusted_proxies into s->proxies. */
static enum merr parse_proxies(struct server *s, const char *list)
{
    char *copy, *save = NULL, *tok;
    if (!list || !*list)
        return MERR_OK;
    copy = strdup(list);
    if (!copy)
        return merr_set(MERR_NOMEM, "out of memory");
    for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char **nv = realloc(s->proxies, (s->nproxies + 1) * sizeof *nv);
        if (!nv || !(nv[s->nproxies] = strdup(tok))) {
            if (nv)
                s->proxies = nv;
            free(copy);
            return merr_set(MERR_NOMEM, "out of memory");
        }
        s->proxies = nv;
        s->nproxies++;
    }
    free(copy);
    return MERR_OK;
}

static enum merr resolve_listen(const char *listen, struct sockaddr_storage *ss, int *v6)
{
    char host[256], port[16];
    const char *colon = strrchr(listen, ':');
    struct addrinfo hints, *res = NULL;
    size_t hl;
    int e;

    if (!colon || colon == listen || strlen(colon + 1) >= sizeof port)
        return merr_set(MERR_CONFIG, "[http] listen \"%s\": expected host:port", listen);
    hl = (size_t)(colon - listen);
    if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
        listen++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return merr_set(MERR_CONFIG, "[http] listen: host too long");
    memcpy(host, listen, hl);
    host[hl] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    e = getaddrinfo(host, port, &hints, &res);
    if (e || !res)
        return merr_set(MERR_CONFIG, "[http] listen \"%s\": %s", listen, gai_strerror(e));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return MERR_OK;
}

struct bg_thread {
    const struct config *cfg;
    atomic_int stop;
    atomic_int *alive;
    enum merr rc;
};

static void *delivery_main(void *arg)
{
    struct bg_thread *t = arg;
    t->rc = delivery_run(t->cfg, 0, &t->stop, NULL);
    if (t->rc)
        log_error("http: delivery workers stopped: %s", merr_msg());
    atomic_store(t->alive, 0);
    return NULL;
}

/* The digest scheduler (digest_scheduler_run: one tick a minute) in a thread of its own. */
static void *scheduler_main(void *arg)
{
    struct bg_thread *t = arg;
    t->rc = digest_scheduler_run(t->cfg, &t->stop);
    if (t->rc)
        log_error("http: digest scheduler stopped: %s", merr_msg());
    atomic_store(t->alive, 0);
    return NULL;
}

/* Starts `fn` on `t` in a new thread; MERR_INTERNAL (and *alive 0) if it cannot. */
static enum merr start_thread(pthread_t *th, void *(*fn)(void *), struct bg_thread *t,
                              const struct config *cfg, atomic_int *alive, const char *what)
{
    t->cfg = cfg;
    t->alive = alive;
    atomic_store(alive, 1);
    if (pthread_create(th, NULL, fn, t) != 0) {
        atomic_store(alive, 0);
        return merr_set(MERR_INTERNAL, "cannot start the %s thread", what);
    }
    return MERR_OK;
}

static const char *const page_names[] = {
    "pages/layout.html",  "pages/share.html",       "pages/share_sent.html",
    "pages/error.html",   "pages/subscribe.html",   "pages/subscribed.html",
    "pages/confirm.html", "pages/unsubscribe.html",
};

enum merr http_serve(const struct config *cfg, atomic_int *stop, int workers)
{
    struct server s;
    struct sockaddr_storage ss;
    struct bg_thread dt, sched;
    pthread_t dthread, sthread;
    int v6 = 0, dstarted = 0, sstarted = 0;
    enum merr rc;
    struct db *hk = NULL;
    time_t last_hk = 0;

    memset(&s, 0, sizeof s);
    memset(&dt, 0, sizeof dt);
    memset(&sched, 0, sizeof sched);
    s.ctx.cfg = cfg;
    s.ctx.started = time(NULL);
    pthread_mutex_init(&s.ctx.write_lock, NULL);
    if (!cfg->secret) {
        rc = merr_set(MERR_CONFIG, "no [mail] secret");
        goto out;
    }
    rc = resolve_listen(cfg->http_listen, &ss, &v6);
    if (rc)
        goto out;
    rc = parse_proxies(&s, cfg->http_trusted_proxies);
    if (rc)
        goto out;
    rc = tpl_set_open(cfg->templates_dir, cfg->templates_override, &s.ctx.tpl);
    if (rc)
        goto out;
    /* Load every page now: the set is then read-only and safe from all threads. */
    for (size_t i = 0; i < sizeof page_names / sizeof page_names[0]; i++) {
        const struct tpl *t;
        rc = tpl_get(s.ctx.tpl, page_names[i], &t);
        if (rc) {
            merr_wrap(rc, "templates");
            goto out;
        }
    }
    rc = db_open(cfg->db_path, cfg->db_busy_timeout_ms, &hk);
    if (rc)
        goto out;

    s.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                               MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0),
                           0, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                           MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                           MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
                           MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->http_max_connections,
                           MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->http_connection_timeout_s,
                           MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                           MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024U, MHD_OPTION_NOTIFY_COMPLETED,
                           on_completed, &s, MHD_OPTION_END);
    if (!s.d) {
        rc = merr_set(MERR_IO, "cannot listen on %s: %s", cfg->http_listen, strerror(errno));
        goto out;
    }
    log_info("http: listening on %s (%d threads)", cfg->http_listen, cfg->http_threads);

    if (workers) {
        s.ctx.workers_wanted = 1;
        rc = start_thread(&dthread, delivery_main, &dt, cfg, &s.ctx.workers_alive, "delivery");
        if (rc)
            goto out;
        dstarted = 1;
        rc = start_thread(&sthread, scheduler_main, &sched, cfg, &s.ctx.scheduler_alive,
                          "digest scheduler");
        if (rc)
            goto out;
        sstarted = 1;
    }

    while (!*stop) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        time_t now = time(NULL);
        /*
         * WAL checkpoint here, PASSIVE (never waits for or blocks writers),
         * so a request never pays for copying pages into the database file.
         */
        if (db_exec(hk, "PRAGMA wal_checkpoint(PASSIVE)"))
            log_warn("http: checkpoint: %s", merr_msg());
        if (now - last_hk >= 60) {
            if (http_store_housekeep(hk, now - 2 * 3600 - HTTP_CSRF_TTL))
                log_warn("http: housekeeping: %s", merr_msg());
            last_hk = now;
        }
        nanosleep(&ts, NULL);
    }

    log_info("http: stopping: no new connections, finishing %d request(s)",
             atomic_load(&s.inflight));
    {
        MHD_socket ls = MHD_quiesce_daemon(s.d);
        double deadline = http_now() + cfg->http_connection_timeout_s;
        if (ls != MHD_INVALID_SOCKET)
            close(ls);
        while (atomic_load(&s.inflight) > 0 && http_now() < deadline) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    rc = MERR_OK;
out:
    if (s.d)
        MHD_stop_daemon(s.d);
    /* The scheduler first: a digest it creates while stopping is delivered next start. */
    if (sstarted) {
        sched.stop = 1;
        pthread_join(sthread, NULL);
    }
    if (dstarted) {
        dt.stop = 1;
        pthread_join(dthread, NULL);
        log_info("http: delivery workers stopped");
    }
    registry_close();
    db_close(hk);
    tpl_set_free(s.ctx.tpl);
    for (size_t i = 0; i < s.nproxies; i++)
        free(s.proxies[i]);
    free(s.proxies);
    pthread_mutex_destroy(&s.ctx.write_lock);
    return rc;
}
