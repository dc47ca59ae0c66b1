/*
 * bounce_pop3.h: a POP3 bounce mailbox (bounce_pop3.c), for bounce_poll.c.
 */
#ifndef MAILER_BOUNCE_BOUNCE_POP3_H
#define MAILER_BOUNCE_BOUNCE_POP3_H

#include <stdatomic.h>

#include "bounce.h"
#include "config.h"
#include "db.h"

/*
 * One session: connect, TLS (verified), USER/PASS, every message not read
 * before recorded, DELE after its commit (delete, or leave_on_server off)
 * or its UIDL remembered, QUIT. Stops early at *stop (may be NULL).
 */
enum merr bounce_pop3_poll(const struct config *cfg, const struct cfg_mailbox *m, struct db *db,
                           atomic_int *stop, struct bounce_intake_count *count);

#endif
