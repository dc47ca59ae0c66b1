/*
 * http_health.c: GET /healthz and GET /metrics.
 *
 * /healthz answers 200 {"status": "ok", ...} when the database answers and
 * every part the serve parent was asked to run is running, else 503 with
 * "fail". The parts are the parent's: the front asks it through the
 * http_health callback it was started with (http.h), so the front knows
 * no part by name and a new part (the bounce poller) shows up here without
 * a change to http. Each part is "running", "stopped" (it ended: the log
 * says why) or "not started" (`serve --no-workers`; that is not a fault).
 *
 * /healthz also lists each bounce mailbox with its last poll and its last
 * successful one (bounce_mailboxes); a mailbox that fails is reported, not
 * made a fault of the whole service (the poller retries it).
 *
 * /metrics renders the core's counters (metrics.h) with the envelopes per
 * state read from the outbox at that moment, and the bounce counters read
 * from the bounce tables (mailer/bounce: they count every process's reads,
 * the CLI's `bounce poll` included, and survive restarts). With [http]
 * metrics_token set it answers only a request with "Authorization: Bearer
 * TOKEN" (RFC 6750 §2.1; compared in constant time), everyone else 401:
 * the counters tell an outsider how much mail goes out and how much of it
 * bounces.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "date.h"

#include "bounce.h"
#include "crypto.h"
#include "http_int.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"

/* "not started", "running" or "stopped" for a part the parent may run. */
static const char *part_state(const struct http_part_health *p)
{
    return !p->wanted ? "not started" : p->alive ? "running" : "stopped";
}

void http_healthz(struct http_req *r)
{
    struct http_part_health parts[HTTP_HEALTH_PARTS];
    const struct http_health *h = &r->ctx->health;
    struct db *db = http_db(r);
    int ok = db && db_exec(db, "SELECT 1") == MERR_OK;
    size_t n = h->parts ? h->parts(h->arg, parts, HTTP_HEALTH_PARTS) : 0;
    json_t *j = json_pack("{s:s}", "database", ok ? "ok" : "unreachable");

    for (size_t i = 0; j && i < n; i++) {
        json_object_set_new(j, parts[i].name, json_string(part_state(&parts[i])));
        if (parts[i].wanted && !parts[i].alive)
            ok = 0;
    }
    if (j && db) {
        json_t *mb = NULL;
        if (bounce_view_health(db, &mb) == MERR_OK) {
            size_t i;
            json_t *o;
            json_array_foreach(mb, i, o)
            {
                char t[DATE_ISO_LEN];
                for (const char *const *k =
                         (const char *const[]){"last_poll_at", "last_ok_at", NULL};
                     *k; k++)
                    if (json_is_integer(json_object_get(o, *k))) {
                        date_iso8601_utc((time_t)json_integer_value(json_object_get(o, *k)), t);
                        json_object_set_new(o, *k, json_string(t));
                    }
            }
            json_object_set_new(j, "bounce_mailboxes", mb);
        }
    }
    if (j) {
        json_object_set_new(j, "status", json_string(ok ? "ok" : "fail"));
        json_object_set_new(j, "uptime_s",
                            json_integer((json_int_t)(time(NULL) - r->ctx->started)));
    }
    http_reply_json(r, ok ? 200 : 503, j);
}

int http_health_part_ok(const struct http_ctx *ctx, const char *name)
{
    struct http_part_health parts[HTTP_HEALTH_PARTS];
    size_t n = ctx->health.parts ? ctx->health.parts(ctx->health.arg, parts, HTTP_HEALTH_PARTS) : 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(parts[i].name, name) == 0)
            return !parts[i].wanted || parts[i].alive;
    return 1;
}

/* 1 if the request may read /metrics. */
static int metrics_allowed(const struct http_req *r)
{
    const char *want = r->ctx->cfg->http_metrics_token, *a = r->authorization;
    size_t n;
    if (!want || !*want)
        return 1;
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return 0;
    a += 7;
    while (*a == ' ')
        a++;
    n = strlen(want);
    return strlen(a) == n && crypto_equal(a, want, n);
}

void http_prometheus(struct http_req *r)
{
    struct db *db;
    struct outbox_counts counts;
    const char *names[OUTBOX_CANCELLED + 1];
    size_t n = 0;
    struct buf out;

    if (!metrics_allowed(r)) {
        http_header(r, "WWW-Authenticate", "Bearer realm=\"metrics\"");
        http_reply(r, 401, "text/plain; charset=utf-8", "unauthorized\n", 13);
        return;
    }
    db = http_db(r);
    memset(&counts, 0, sizeof counts);
    if (db && outbox_counts(db, 0, &counts) == MERR_OK) {
        for (int i = 0; i <= OUTBOX_CANCELLED; i++)
            names[i] = outbox_state_name((enum outbox_state)i);
        n = OUTBOX_CANCELLED + 1;
    } else {
        log_warn("http: metrics: envelope counts: %s", merr_msg());
    }
    buf_init(&out, 0);
    if (metrics_render(&out, names, counts.by_state, n) ||
        (db && bounce_view_metrics(db, &out) != MERR_OK)) {
        buf_free(&out);
        http_reply(r, 500, "text/plain; charset=utf-8", "metrics failed\n", 15);
        return;
    }
    http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    buf_free(&out);
}
