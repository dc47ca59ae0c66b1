/*
 * http_front.c: the HTTP front: libmicrohttpd's daemon, its limits, the
 * request log, and stopping without cutting a request short.
 *
 * libmicrohttpd runs a pool of cfg->http_threads threads, each polling its
 * share of the connections (MHD_USE_INTERNAL_POLLING_THREAD with
 * MHD_OPTION_THREAD_POOL_SIZE). Limits: MHD_OPTION_CONNECTION_LIMIT
 * connections, MHD_OPTION_CONNECTION_TIMEOUT seconds idle, and a per
 * connection memory pool (MHD_OPTION_CONNECTION_MEMORY_LIMIT) that bounds
 * the request line and headers: a larger header block is answered 431 by
 * the library. Connection-level limits (per client, deadlines) belong
 * here, in the daemon's options and its callbacks. The body is not left to
 * the library: each upload chunk is appended to a `struct buf` capped at
 * [limits] http_max_body, and a request announcing a larger Content-Length
 * is answered 413 on the first call, before any of its body is read; a
 * chunked body that grows past the cap has its connection closed at that
 * point.
 *
 * Each request becomes a `struct http_req` (http_int.h) with its client
 * address (http_client.c), and is routed (http_route.c) once its body is
 * complete; the handler answers through http_reply.c, and this file turns
 * the answer into a libmicrohttpd response with the headers every HTML
 * page carries. One log line per request, written when libmicrohttpd
 * reports it complete: method, the path with link tokens replaced by "…"
 * (never the query string, never Authorization), status and duration.
 *
 * The front is one part of `mailer serve` (mailer/serve): it starts no
 * other part and knows none; /healthz asks the parent through the
 * http_health callback. http_front_stop: MHD_quiesce_daemon() stops
 * accepting; requests in flight are waited for (at most the connection
 * timeout); the daemon is stopped; the request threads' database handles
 * are closed.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "http.h"
#include "http_admin.h"
#include "http_int.h"
#include "log.h"
#include "metrics.h"
#include "tpl.h"

/* One open connection, for the per-client count and the request deadline. */
struct conn {
    struct conn *prev, *next;
    char key[NET_IP_TEXT]; /* net_ip_key of the peer; "" for a trusted proxy */
    int fd;
    double since; /* monotonic: when the request now arriving began to */
    int answered; /* a response is queued: the deadline no longer applies */
};

struct http_front {
    struct http_ctx ctx;
    struct MHD_Daemon *d;
    atomic_int inflight;
    struct net_cidrs proxies;
    pthread_mutex_t conn_lock; /* guards conns and every struct conn */
    struct conn *conns;
    pthread_t watchdog;
    int watchdog_started;
    atomic_int stopping;
};

/* Open connections counted under `key`. Call with conn_lock held. */
static int conns_of(const struct http_front *s, const char *key)
{
    int n = 0;
    for (const struct conn *k = s->conns; k; k = k->next)
        n += !strcmp(k->key, key);
    return n;
}

/*
 * libmicrohttpd asks here before it takes a connection: a client (the
 * peer's address, an IPv6 /64 as one) may hold [http] per_ip_connections
 * at once, so one address cannot fill the server with idle or slow
 * connections (slowloris). A trusted proxy is exempt: its clients are
 * told apart by X-Forwarded-For, and the proxy keeps its own limits.
 *
 * This is the cheap first test: the connection is counted only when
 * on_connection starts it, and the threads of the pool accept on their
 * own, so two of them may both find room for the last place. on_connection
 * counts again under the lock as it adds the connection, and shuts down
 * the one that went over (the security.slowloris test saw 9 of 8 kept).
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
    struct http_front *s = cls;
    char key[NET_IP_TEXT];
    int n;
    (void)len;
    if (net_cidrs_match(&s->proxies, sa))
        return MHD_YES;
    net_ip_key(sa, key);
    pthread_mutex_lock(&s->conn_lock);
    n = conns_of(s, key);
    pthread_mutex_unlock(&s->conn_lock);
    if (n < s->ctx.cfg->http_per_ip_connections)
        return MHD_YES;
    metrics_http_request("refused_connection", 503);
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_front *s = cls;
    struct conn *k = *socket_context;
    int over;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ai || !fi || !(k = calloc(1, sizeof *k)))
            return; /* not counted, not watched: only out of memory gets here */
        if (!net_cidrs_match(&s->proxies, ai->client_addr))
            net_ip_key(ai->client_addr, k->key);
        k->fd = fi->connect_fd;
        k->since = date_mono();
        pthread_mutex_lock(&s->conn_lock);
        over = k->key[0] && conns_of(s, k->key) >= s->ctx.cfg->http_per_ip_connections;
        k->next = s->conns;
        if (s->conns)
            s->conns->prev = k;
        s->conns = k;
        pthread_mutex_unlock(&s->conn_lock);
        *socket_context = k;
        if (over) {
            /* counted until libmicrohttpd sees the end and closes it (CLOSED below);
             * shutdown(2) never frees the descriptor, so it cannot hit another's */
            metrics_http_request("refused_connection", 503);
            shutdown(k->fd, SHUT_RDWR);
        }
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && k) {
        /* libmicrohttpd closes the socket after this: the watchdog never
         * touches a descriptor that may already be someone else's */
        pthread_mutex_lock(&s->conn_lock);
        if (k->prev)
            k->prev->next = k->next;
        else
            s->conns = k->next;
        if (k->next)
            k->next->prev = k->prev;
        pthread_mutex_unlock(&s->conn_lock);
        free(k);
        *socket_context = NULL;
    }
}

/* Sets the state of the connection carrying `c`'s request. */
static void conn_mark(struct http_front *s, struct MHD_Connection *c, int answered)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *k = i ? i->socket_context : NULL;
    if (!k)
        return;
    pthread_mutex_lock(&s->conn_lock);
    k->answered = answered;
    if (!answered)
        k->since = date_mono();
    pthread_mutex_unlock(&s->conn_lock);
}

/*
 * The absolute deadline of a request: its head and body must have arrived
 * [http] request_deadline seconds after the connection opened (or after
 * the previous answer on a kept-alive connection), however steadily the
 * bytes trickle in. libmicrohttpd's own time-out is an idle one, which
 * each byte resets, so a client sending one byte every few seconds would
 * hold a connection for ever; here such a connection is shut down (the
 * library then sees end of file and closes it as usual).
 */
static void *watchdog(void *arg)
{
    struct http_front *s = arg;
    double limit = s->ctx.cfg->http_request_deadline_s;
    while (!atomic_load(&s->stopping)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        double now = date_mono();
        int cut = 0;
        pthread_mutex_lock(&s->conn_lock);
        for (struct conn *k = s->conns; k; k = k->next) {
            if (!k->answered && k->fd >= 0 && now - k->since > limit) {
                shutdown(k->fd, SHUT_RDWR);
                k->fd = -1;
                cut++;
            }
        }
        pthread_mutex_unlock(&s->conn_lock);
        while (cut-- > 0)
            metrics_http_request("request_deadline", 408);
        nanosleep(&ts, NULL);
    }
    return NULL;
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
    /* every answer: its type is what we say (a photo at /media never runs as
     * HTML or script), and no page of ours is framed (clickjacking the
     * share and unsubscribe buttons; CSP Level 2 §7.7.3, RFC 7034) */
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    if (r->out_type && strncmp(r->out_type, "text/html", 9) == 0) {
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src "
                                "'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; "
                                "base-uri 'none'; object-src 'none'");
        /* same-origin, not no-referrer: a form's POST must carry its real
         * Origin (Fetch §3.1: under no-referrer it is "null", which the
         * Origin check refuses); other sites still get no referrer, so
         * the tokens in link paths never leak */
        MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    } else {
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; frame-ancestors 'none'; sandbox");
    }
    ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct http_front *s = cls;
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
        http_client_ip(&s->proxies, c, r);
        r->conn = c;
        r->content_type =
            media_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"));
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type")))
            r->content_type_raw = strdup(v);
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization")))
            r->authorization = strdup(v);
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept")))
            r->accept = strdup(v);
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie")))
            r->cookie = strdup(v);
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin")))
            r->origin = strdup(v);
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host")))
            r->host = strdup(v);
        /* the admin's import upload may be larger, for someone signed in */
        if (!strcmp(r->path, "/admin/import"))
            r->body.max = http_admin_body_cap(r);
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > r->body.max) {
                /* Answer now: the body is never read (413, RFC 9110 §15.5.14). */
                r->too_big = 1;
                http_route(r);
                http_header(r, "Connection", "close");
                conn_mark(s, c, 1);
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
            http_route_logpath(r);
            return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->status) /* answered on the first call */
        return MHD_YES;
    conn_mark(s, c, 1);
    http_route(r);
    return send_response(c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_front *s = cls;
    struct http_req *r = *con_cls;
    conn_mark(s, c, 0); /* a kept-alive connection: the next request's deadline starts */
    if (!r)
        return;
    double ms = (date_mono() - r->t0) * 1000.0;
    if (!r->logpath[0])
        http_route_logpath(r);
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
static const char *const page_names[] = {
    "pages/layout.html",
    "pages/share.html",
    "pages/share_sent.html",
    "pages/error.html",
    "pages/subscribe.html",
    "pages/subscribed.html",
    "pages/confirm.html",
    "pages/unsubscribe.html",
    /* the web admin (http_admin*.c) */
    "admin/layout.html",
    "admin/admin.css",
    "admin/admin.js",
    "admin/login.html",
    "admin/error.html",
    "admin/dashboard.html",
    "admin/lists.html",
    "admin/list_new.html",
    "admin/list.html",
    "admin/subscribers.html",
    "admin/person.html",
    "admin/erase.html",
    "admin/import.html",
    "admin/import_job.html",
    "admin/digests.html",
    "admin/preview.html",
    "admin/sends.html",
    "admin/send.html",
    "admin/queue.html",
    "admin/users.html",
    "admin/user.html",
    "admin/tokens.html",
    "admin/audit.html",
    "admin/account.html",
    "admin/bounces.html",
    "admin/bounce.html",
    "admin/breaking.html",
};

enum merr http_front_start(const struct config *cfg, const struct http_health *health,
                           struct http_front **out)
{
    struct http_front *s;
    struct sockaddr_storage ss;
    int v6 = 0;
    enum merr rc;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return merr_set(MERR_NOMEM, "out of memory");
    s->ctx.cfg = cfg;
    s->ctx.started = time(NULL);
    if (health)
        s->ctx.health = *health;
    pthread_mutex_init(&s->ctx.write_lock, NULL);
    pthread_mutex_init(&s->conn_lock, NULL);
    if (!cfg->secret) {
        rc = merr_set(MERR_CONFIG, "no [mail] secret");
        goto out;
    }
    rc = resolve_listen(cfg->http_listen, &ss, &v6);
    if (rc)
        goto out;
    rc = net_cidrs_parse(&s->proxies, cfg->http_trusted_proxies, "[http] trusted_proxies");
    if (rc)
        goto out;
    rc = tpl_set_open(cfg->templates_dir, cfg->templates_override, &s->ctx.tpl);
    if (rc)
        goto out;
    /* Load every page now: the set is then read-only and safe from all threads. */
    for (size_t i = 0; i < sizeof page_names / sizeof page_names[0]; i++) {
        const struct tpl *t;
        rc = tpl_get(s->ctx.tpl, page_names[i], &t);
        if (rc) {
            merr_wrap(rc, "templates");
            goto out;
        }
    }
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
            (v6 ? MHD_USE_IPv6 : 0),
        0, on_accept, s, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->http_threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->http_max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->http_connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024U, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->d) {
        rc = merr_set(MERR_IO, "cannot listen on %s: %s", cfg->http_listen, strerror(errno));
        goto out;
    }
    if (pthread_create(&s->watchdog, NULL, watchdog, s)) {
        rc = merr_set(MERR_INTERNAL, "cannot start the HTTP request watchdog");
        goto out;
    }
    s->watchdog_started = 1;
    log_info("http: listening on %s (%d threads)", cfg->http_listen, cfg->http_threads);
    *out = s;
    s = NULL;
out:
    http_front_stop(s);
    return rc;
}

void http_front_stop(struct http_front *s)
{
    if (!s)
        return;
    if (s->d) {
        MHD_socket ls;
        double deadline = date_mono() + s->ctx.cfg->http_connection_timeout_s;
        log_info("http: stopping: no new connections, finishing %d request(s)",
                 atomic_load(&s->inflight));
        ls = MHD_quiesce_daemon(s->d);
        if (ls != MHD_INVALID_SOCKET)
            close(ls);
        while (atomic_load(&s->inflight) > 0 && date_mono() < deadline) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(s->d);
    }
    atomic_store(&s->stopping, 1);
    if (s->watchdog_started)
        pthread_join(s->watchdog, NULL);
    http_admin_import_stop();
    http_db_close_all();
    db_close(s->ctx.write_db);
    tpl_set_free(s->ctx.tpl);
    net_cidrs_free(&s->proxies);
    pthread_mutex_destroy(&s->conn_lock);
    pthread_mutex_destroy(&s->ctx.write_lock);
    free(s);
}

enum merr http_housekeep(struct db *db, time_t now)
{
    return http_store_housekeep(db, now - 2 * 3600 - HTTP_CSRF_TTL);
}
