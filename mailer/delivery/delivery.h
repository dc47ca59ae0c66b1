/*
 * delivery.h: the workers that turn envelopes into sent mail.
 *
 * `connections` worker threads each own a database handle and a transport.
 * A worker claims a batch of due envelopes, builds (and caches) the plan of
 * each send, hands the batch to the transport, which has each message
 * rendered when its data is due (one in memory per worker), and
 * passes the results to the single writer, which records them in group
 * commits. Each sent message is recorded before the server can accept the
 * next one on its connection, so a crash sends at most `connections`
 * messages twice. On start, expired leases go back to queued. 2xx -> sent; 4xx,
 * connection failure, timeout -> deferred with exponential backoff until
 * max_age, then failed; 5xx -> failed, and a 5.1.x on a subscriber adds a
 * hard_bounce suppression.
 */
#ifndef MAILER_DELIVERY_DELIVERY_H
#define MAILER_DELIVERY_DELIVERY_H

#include <stdatomic.h>

#include "config.h"
#include "err.h"

struct delivery_stats {
    long long sent, deferred, failed, cancelled;
};

/*
 * Runs the workers. With `once`, delivers everything due now and returns;
 * otherwise runs until *stop becomes non-zero (SIGTERM), finishing the
 * message in flight on each connection; the rest of each batch goes back to
 * the queue. `stats` (may be NULL) receives the totals.
 */
enum merr delivery_run(const struct config *cfg, int once, atomic_int *stop,
                       struct delivery_stats *stats);

#endif
