/*
 * outbox_store_int.h: what the outbox's store files (outbox_store*.c, the
 * only files of the outbox with SQL) share. Not for other modules.
 */
#ifndef MAILER_OUTBOX_OUTBOX_STORE_INT_H
#define MAILER_OUTBOX_OUTBOX_STORE_INT_H

#include "db.h"
#include "err.h"

/* Runs `sql` with ?1 = a and, when it has a ?2, ?2 = b; `what` names it in an error. */
enum merr outbox_store_run_ints(struct db *db, const char *sql, long long a, long long b,
                                const char *what);

/* Cancels a send's queued and deferred envelopes: ?1 send id, ?2 now. */
extern const char OUTBOX_SQL_CANCEL_SEND_ENVELOPES[];

#endif
