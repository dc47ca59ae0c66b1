/*
 * outcome.h: what an attempt's outcome means for its envelope, decided in
 * one place.
 *
 * OpenSMTPD's MTA reports and its queue decides; here a delivery worker
 * reports what happened to one envelope: the class of the outcome (merr_class: ok, temporary,
 * permanent) and the server's reply. These rules turn the report into
 * the envelope's next state:
 *
 *   ok         -> sent
 *   temporary  -> deferred until now + min(base * 2^(attempts-1), max),
 *                 never past created_at + max_age; failed once max_age
 *                 has passed (outbox_backoff)
 *   permanent  -> failed; and when the reply's enhanced status is 5.1.x
 *                 (RFC 3463 §3.2: the destination mailbox is bad for
 *                 good) on a subscriber's envelope, subscribers is asked
 *                 to suppress the address (reason hard_bounce)
 *   unsent     -> queued again, as it was (never offered to a server)
 *   cancelled  -> cancelled with the reason given
 *
 * and outcome_apply records a batch of them in one transaction of the
 * caller's handle (the single writer's). It sits above outbox and
 * subscribers and below delivery.
 *
 * A bounce that comes back later as mail is not an attempt and does not
 * pass through here: its class comes from the report (bounce_class.c, not
 * the reply's 5.1.x alone), it may fail an envelope that is already sent,
 * soft bounces are counted across sends, and each consequence is kept as
 * an effect so that `mailer bounce undo` lifts exactly it. bounce_policy.c
 * applies those rules through the same owners (outbox_bounce_record,
 * subs_block_suppress) inside the transaction that records the bounce.
 */
#ifndef MAILER_OUTCOME_OUTCOME_H
#define MAILER_OUTCOME_OUTCOME_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "outbox.h"

enum outcome_kind {
    OUTCOME_ATTEMPT,   /* offered (or meant) for delivery: `class` says how it went */
    OUTCOME_UNSENT,    /* never offered to a server (stopping): back to queued */
    OUTCOME_CANCELLED, /* must not be sent: cancelled, `text` says why */
};

/*
 * One envelope's report. Self-contained (no pointers), so it can be
 * queued from one thread to another.
 */
struct outcome_report {
    long long envelope_id;
    long long subscriber_id; /* 0: not a subscriber (a share) */
    time_t created_at;       /* the envelope's, for max_age */
    int attempts;            /* attempts so far, this one included */
    char recipient[256];     /* the address, for a suppression */
    enum outcome_kind kind;
    enum merr_class class; /* OUTCOME_ATTEMPT: how it went */
    int code;              /* the server's reply code, 0 if none */
    char text[256];        /* the server's reply text, or the error */
};

/* What a report means: the envelope's next state and what else to do. */
struct outcome_verdict {
    enum outbox_state state;
    time_t next_attempt_at; /* OUTBOX_DEFERRED */
    int suppress;           /* ask subscribers to suppress (hard_bounce) */
};

/* Counts of what outcome_apply recorded, added to (not reset). */
struct outcome_tally {
    long long sent, deferred, failed, cancelled, requeued;
};

/*
 * Decides what report `r` means at `now` under `cfg`'s retry settings
 * ([delivery] retry_base, retry_max, max_age). Pure: reads and writes
 * nothing else.
 */
void outcome_decide(const struct config *cfg, const struct outcome_report *r, time_t now,
                    struct outcome_verdict *v);

/*
 * 1 if an SMTP reply (code and text, as transport_msg has them) says the
 * mailbox is bad for good: a 5xx whose enhanced status is 5.1.x (RFC 3463
 * §3.2, addressing status), e.g. "550" "5.1.1 user unknown".
 */
int outcome_bad_mailbox(int code, const char *text);

/*
 * Applies `n` reports at `now` in one BEGIN IMMEDIATE transaction on `db`:
 * each envelope's new state (outbox_record: a sent envelope is never
 * changed again), a hard_bounce suppression for each verdict that asks
 * for one, and the enqueue-to-final latency of each sent or failed one
 * (metrics). `tally` (may be NULL) is added to. MERR_TEMPFAIL when the
 * database is busy (nothing applied: try again), MERR_NOMEM, MERR_DB.
 */
enum merr outcome_apply(struct db *db, const struct config *cfg, const struct outcome_report *r,
                        size_t n, time_t now, struct outcome_tally *tally);

#endif
