/*
 * http.h: `mailer serve`, the HTTP service (libmicrohttpd).
 *
 * Public pages (share form, subscribe, confirm, unsubscribe), the admin JSON
 * API under /api/, /healthz and /metrics, served by a pool of
 * cfg->http_threads threads with limits on connections, header size
 * (connection memory), body size (counted as it streams in) and time per
 * connection. The delivery workers run in the same process.
 */
#ifndef MAILER_HTTP_HTTP_H
#define MAILER_HTTP_HTTP_H

#include <signal.h>

#include "config.h"
#include "err.h"

/*
 * Serves until *stop becomes non-zero (the caller's SIGTERM/SIGINT handler
 * sets it), then shuts down gracefully: stops accepting, lets requests in
 * flight finish (up to connection_timeout), stops the delivery workers
 * after their batch and closes every database handle. With `workers` 0 the
 * delivery workers are not started (tests of the web part alone).
 * `cfg->secret` must be set (app_db loads it from the database). MERR_IO if
 * the address cannot be bound, MERR_CONFIG for a bad listen address.
 */
enum merr http_serve(const struct config *cfg, volatile sig_atomic_t *stop, int workers);

#endif
