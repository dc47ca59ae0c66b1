/*
 * serve.h: `mailer serve`, the parent that runs the service's parts.
 *
 * In the manner of OpenSMTPD's parent process: the parent starts its parts
 * as siblings, watches them, answers for their health and stops them in
 * order; no part starts another or knows another. The parts are the HTTP
 * front (mailer/http: pages, admin API, /healthz, /metrics), the delivery
 * workers and their writer (mailer/delivery), and the digest scheduler
 * (mailer/digest); the parent itself runs the WAL checkpoints and the
 * housekeeping. Metrics are not the parent's: every part counts into the
 * core's (metrics.h).
 */
#ifndef MAILER_SERVE_SERVE_H
#define MAILER_SERVE_SERVE_H

#include <stdatomic.h>

#include "config.h"
#include "err.h"

/*
 * Runs the service until *stop becomes non-zero (the caller's SIGTERM/SIGINT
 * handler sets it), then stops gracefully: the HTTP front stops accepting
 * and finishes the requests in flight (up to [http] connection_timeout),
 * then the other parts are told to stop in the reverse order of their
 * start (the digest scheduler before the delivery workers, which finish
 * the message in flight on each connection) and joined, and every database
 * handle is closed. With `workers` 0 only the HTTP front runs (a web-only
 * process beside `mailer deliver` and a cron `mailer digest tick`);
 * /healthz shows the other parts as "not started".
 *
 * `cfg->secret` must be set (app_db loads it from the database). Returns
 * MERR_OK after a stop; MERR_IO if the address cannot be bound,
 * MERR_CONFIG for a bad listen address, MERR_INTERNAL if a part's thread
 * cannot be started, or the error of opening the database. A part that
 * ends by itself is logged and shown "stopped" by /healthz (503); the
 * others go on.
 */
enum merr serve_run(const struct config *cfg, atomic_int *stop, int workers);

#endif
