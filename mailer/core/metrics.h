/*
 * metrics.h: the process's counters, a core facility every part counts
 * into (Prometheus text format 0.0.4 at /metrics). Lock-free (C11
 * atomics): any thread may count, none ever waits.
 *
 * The HTTP front counts requests and shares, the delivery workers SMTP
 * results and latencies; the serve parent's HTTP front renders them. A part
 * that needs a new family adds its table and counting function here, so
 * no part depends on another to be counted.
 */
#ifndef MAILER_CORE_METRICS_H
#define MAILER_CORE_METRICS_H

#include "buf.h"
#include "err.h"

/* Counts one answered request under a route label ("share_post", ...) and its status. */
void metrics_http_request(const char *route, int status);

/*
 * Counts one share: reason NULL or "accepted" for an accepted share, else
 * the refusal ("invalid", "csrf", "honeypot", "rate_ip", "rate_sender",
 * "rate_global", "not_found", "too_large", "content_type").
 */
void metrics_share(const char *reason);

/* Counts one SMTP result by the class of its reply code (2xx, 4xx, 5xx, other for 0). */
void metrics_smtp_result(int code);

/* Records one envelope's delivery latency (enqueue to final result), in seconds. */
void metrics_delivery_latency(double seconds);

/*
 * Counts one wait for SQLite's lock (another connection held it) and the
 * seconds slept in it; the db module's busy handler calls it per sleep,
 * with `first` set on a wait's first sleep.
 */
void metrics_db_busy(int first, double seconds);

/*
 * Appends the counters in Prometheus text format to `out`. `envelopes` is
 * the number of envelopes per state (names[i], counts[i], n states) as the
 * caller read them from the outbox; n may be 0.
 */
enum merr metrics_render(struct buf *out, const char *const *state_names,
                         const long long *state_counts, size_t n);

/* Zeroes every counter (unit tests). */
void metrics_reset(void);

/* The count for (route, status), for tests. */
long long metrics_http_request_count(const char *route, int status);
/* The count of shares for `reason` (NULL = accepted), for tests. */
long long metrics_share_count(const char *reason);

#endif
