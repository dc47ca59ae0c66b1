/*
 * delivery.h: the workers that turn envelopes into sent mail.
 *
 * `connections` worker threads each own a database handle and a transport.
 * A worker claims a batch of due envelopes (through the single writer),
 * builds (and caches) the plan of each send, hands the batch to the
 * transport, which has each message rendered when its data is due (one in
 * memory per worker), and reports each outcome to the writer, which
 * applies the consequences (outcome.h: sent; deferred with exponential
 * backoff until max_age, then failed; failed, with a hard_bounce
 * suppression for a 5.1.x reply) in group commits. Each sent message is
 * recorded before the server can accept the next one on its connection, so
 * a crash sends at most `connections` messages twice. On start, expired
 * leases go back to queued; the leases of envelopes a run holds are
 * renewed while it holds them, so a slow batch is never handed to another
 * worker.
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
