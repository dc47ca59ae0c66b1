/*
 * http_metrics.h: process-wide counters exposed at /metrics (Prometheus
 * text format 0.0.4). Lock-free (C11 atomics): any thread may count.
 *
 * The delivery workers may report through http_metrics_smtp_result and
 * http_metrics_delivery_latency; the library `http_metrics` depends on the
 * core only, so any module can link it without pulling in the server.
 */
#ifndef MAILER_HTTP_HTTP_METRICS_H
#define MAILER_HTTP_HTTP_METRICS_H

#include "buf.h"
#include "err.h"

/* Counts one answered request under a route label ("share_post", ...) and its status. */
void http_metrics_request(const char *route, int status);

/*
 * Counts one share: reason NULL or "accepted" for an accepted share, else
 * the refusal ("invalid", "csrf", "honeypot", "rate_ip", "rate_sender",
 * "rate_global", "not_found", "too_large", "content_type").
 */
void http_metrics_share(const char *reason);

/* Counts one SMTP result by the class of its reply code (2xx, 4xx, 5xx, other for 0). */
void http_metrics_smtp_result(int code);

/* Records one envelope's delivery latency (enqueue to final result), in seconds. */
void http_metrics_delivery_latency(double seconds);

/*
 * Appends the counters in Prometheus text format to `out`. `envelopes` is
 * the number of envelopes per state (names[i], counts[i], n states) as the
 * caller read them from the outbox; n may be 0.
 */
enum merr http_metrics_render(struct buf *out, const char *const *state_names,
                              const long long *state_counts, size_t n);

/* Zeroes every counter (unit tests). */
void http_metrics_reset(void);

/* The count for (route, status), for tests. */
long long http_metrics_request_count(const char *route, int status);
/* The count of shares for `reason` (NULL = accepted), for tests. */
long long http_metrics_share_count(const char *reason);

#endif
