/*
 * bounce_imap.h: an IMAP bounce mailbox (bounce_imap.c), for bounce_poll.c.
 */
#ifndef MAILER_BOUNCE_BOUNCE_IMAP_H
#define MAILER_BOUNCE_BOUNCE_IMAP_H

#include <stdatomic.h>

#include "bounce.h"
#include "bounce_poll.h"
#include "config.h"
#include "db.h"

struct bounce_imap;

/* Connects, secures (TLS verified) and logs in. MERR_TEMPFAIL / MERR_CONFIG / MERR_PERMFAIL. */
enum merr bounce_imap_open(const struct config *cfg, const struct cfg_mailbox *m,
                           struct bounce_imap **out);

/* LOGOUT and frees. NULL is fine. */
void bounce_imap_close(struct bounce_imap *b);

/* Reads, records and moves every message of the folder (until *stop, may be NULL). */
enum merr bounce_imap_drain(struct bounce_imap *b, struct db *db, atomic_int *stop,
                            struct bounce_intake_count *count);

/* 1 if the server offers IDLE. */
int bounce_imap_can_idle(const struct bounce_imap *b);

/* IDLE until new data, max_s seconds or *stop. */
enum merr bounce_imap_idle(struct bounce_imap *b, int max_s, atomic_int *stop);

#endif
