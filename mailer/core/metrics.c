/*
 * metrics.c: the counters behind /metrics.
 *
 * Fixed tables of C11 atomics, so counting costs one relaxed add and no
 * lock: requests by (route, status) for every status 100..599 of a known
 * route label, shares by outcome, SMTP results by reply class and a
 * delivery latency histogram with cumulative buckets as Prometheus wants
 * them, and the waits for SQLite's lock (text exposition format 0.0.4: `# HELP`, `# TYPE`, then
 * samples; histogram buckets `_bucket{le="..."}` cumulative, then `_sum`, `_count`).
 */
#include <stdatomic.h>
#include <string.h>

#include "metrics.h"

static const char *const routes[] = {
    "home",
    "healthz",
    "metrics",
    "share_form",
    "share_post",
    "share_sent",
    "share_bad",
    "share",
    "media",
    "subscribe",
    "confirm",
    "unsubscribe",
    "api",
    "not_found",
    "too_large",
    "refused_connection",
    "request_deadline",
    "other",
    "admin",
    "admin_login",
    "admin_static",
};
#define NROUTES (sizeof routes / sizeof routes[0])
#define NSTATUS 500 /* 100..599 */

static const char *const share_reasons[] = {
    "accepted",    "invalid",   "csrf",      "honeypot",     "rate_ip", "rate_sender",
    "rate_global", "not_found", "too_large", "content_type", "repeat",  "error",
};
#define NREASONS (sizeof share_reasons / sizeof share_reasons[0])

static const char *const smtp_classes[] = {"2xx", "4xx", "5xx", "other"};

static const double latency_le[] = {0.1, 0.5, 1, 5, 30, 60, 300, 1800};
#define NBUCKETS (sizeof latency_le / sizeof latency_le[0])

static atomic_llong req_count[NROUTES][NSTATUS];
static atomic_llong share_count[NREASONS];
static atomic_llong smtp_count[4];
static atomic_llong lat_bucket[NBUCKETS + 1]; /* last: +Inf */
static atomic_llong lat_sum_us;
static atomic_llong busy_waits, busy_us;

static size_t route_index(const char *route)
{
    for (size_t i = 0; i < NROUTES; i++)
        if (route && strcmp(routes[i], route) == 0)
            return i;
    return NROUTES - 1; /* "other" */
}

static size_t reason_index(const char *reason)
{
    if (!reason)
        return 0;
    for (size_t i = 0; i < NREASONS; i++)
        if (strcmp(share_reasons[i], reason) == 0)
            return i;
    return NREASONS - 1; /* "error" */
}

void metrics_http_request(const char *route, int status)
{
    if (status < 100 || status > 599)
        return;
    atomic_fetch_add_explicit(&req_count[route_index(route)][status - 100], 1,
                              memory_order_relaxed);
}

void metrics_share(const char *reason)
{
    atomic_fetch_add_explicit(&share_count[reason_index(reason)], 1, memory_order_relaxed);
}

void metrics_smtp_result(int code)
{
    size_t i = code >= 200 && code < 300   ? 0
               : code >= 400 && code < 500 ? 1
               : code >= 500 && code < 600 ? 2
                                           : 3;
    atomic_fetch_add_explicit(&smtp_count[i], 1, memory_order_relaxed);
}

void metrics_delivery_latency(double seconds)
{
    size_t i = 0;
    if (seconds < 0)
        seconds = 0;
    while (i < NBUCKETS && seconds > latency_le[i])
        i++;
    atomic_fetch_add_explicit(&lat_bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&lat_sum_us, (long long)(seconds * 1e6), memory_order_relaxed);
}

void metrics_db_busy(int first, double seconds)
{
    if (first)
        atomic_fetch_add_explicit(&busy_waits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&busy_us, (long long)(seconds * 1e6), memory_order_relaxed);
}

long long metrics_http_request_count(const char *route, int status)
{
    if (status < 100 || status > 599)
        return 0;
    return atomic_load(&req_count[route_index(route)][status - 100]);
}

long long metrics_share_count(const char *reason)
{
    return atomic_load(&share_count[reason_index(reason)]);
}

void metrics_reset(void)
{
    for (size_t i = 0; i < NROUTES; i++)
        for (size_t j = 0; j < NSTATUS; j++)
            atomic_store(&req_count[i][j], 0);
    for (size_t i = 0; i < NREASONS; i++)
        atomic_store(&share_count[i], 0);
    for (size_t i = 0; i < 4; i++)
        atomic_store(&smtp_count[i], 0);
    for (size_t i = 0; i <= NBUCKETS; i++)
        atomic_store(&lat_bucket[i], 0);
    atomic_store(&lat_sum_us, 0);
    atomic_store(&busy_waits, 0);
    atomic_store(&busy_us, 0);
}

enum merr metrics_render(struct buf *out, const char *const *state_names,
                         const long long *state_counts, size_t n)
{
    enum merr rc = MERR_OK;
    long long cum = 0;

#define P(...)                                                                                     \
    do {                                                                                           \
        if ((rc = buf_printf(out, __VA_ARGS__)))                                                   \
            return rc;                                                                             \
    } while (0)

    P("# HELP mailer_http_requests_total HTTP requests answered, by route and status.\n"
      "# TYPE mailer_http_requests_total counter\n");
    for (size_t i = 0; i < NROUTES; i++)
        for (size_t j = 0; j < NSTATUS; j++) {
            long long v = atomic_load_explicit(&req_count[i][j], memory_order_relaxed);
            if (v)
                P("mailer_http_requests_total{route=\"%s\",status=\"%zu\"} %lld\n", routes[i],
                  j + 100, v);
        }
    P("# HELP mailer_shares_total Share requests, by outcome (accepted or the refusal).\n"
      "# TYPE mailer_shares_total counter\n");
    for (size_t i = 0; i < NREASONS; i++)
        P("mailer_shares_total{outcome=\"%s\"} %lld\n", share_reasons[i],
          atomic_load_explicit(&share_count[i], memory_order_relaxed));
    P("# HELP mailer_envelopes Envelopes in the outbox, by state.\n"
      "# TYPE mailer_envelopes gauge\n");
    for (size_t i = 0; i < n; i++)
        P("mailer_envelopes{state=\"%s\"} %lld\n", state_names[i], state_counts[i]);
    P("# HELP mailer_smtp_results_total SMTP results, by reply class.\n"
      "# TYPE mailer_smtp_results_total counter\n");
    for (size_t i = 0; i < 4; i++)
        P("mailer_smtp_results_total{class=\"%s\"} %lld\n", smtp_classes[i],
          atomic_load_explicit(&smtp_count[i], memory_order_relaxed));
    P("# HELP mailer_delivery_latency_seconds Time from enqueue to the final result.\n"
      "# TYPE mailer_delivery_latency_seconds histogram\n");
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += atomic_load_explicit(&lat_bucket[i], memory_order_relaxed);
        P("mailer_delivery_latency_seconds_bucket{le=\"%g\"} %lld\n", latency_le[i], cum);
    }
    cum += atomic_load_explicit(&lat_bucket[NBUCKETS], memory_order_relaxed);
    P("mailer_delivery_latency_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    P("mailer_delivery_latency_seconds_sum %.6f\n",
      (double)atomic_load_explicit(&lat_sum_us, memory_order_relaxed) / 1e6);
    P("mailer_delivery_latency_seconds_count %lld\n", cum);
    P("# HELP mailer_db_busy_waits_total Waits for SQLite's write lock held by another "
      "connection.\n"
      "# TYPE mailer_db_busy_waits_total counter\n"
      "mailer_db_busy_waits_total %lld\n",
      atomic_load_explicit(&busy_waits, memory_order_relaxed));
    P("# HELP mailer_db_busy_wait_seconds_total Seconds slept in those waits.\n"
      "# TYPE mailer_db_busy_wait_seconds_total counter\n"
      "mailer_db_busy_wait_seconds_total %.6f\n",
      (double)atomic_load_explicit(&busy_us, memory_order_relaxed) / 1e6);
#undef P
    return rc;
}
