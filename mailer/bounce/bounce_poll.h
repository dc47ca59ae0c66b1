/*
 * bounce_poll.h: mailbox URLs, one poll of a mailbox, and the poller part
 * of `mailer serve` (bounce_poll.c).
 */
#ifndef MAILER_BOUNCE_BOUNCE_POLL_H
#define MAILER_BOUNCE_BOUNCE_POLL_H

#include <stdatomic.h>

#include "bounce.h"
#include "config.h"
#include "db.h"

/* imaps://host:993/FOLDER, imap://host:143/FOLDER, pop3s://host:995, pop3://host:110 */
struct bounce_url {
    int imap;         /* 1 IMAP, 0 POP3 */
    int implicit_tls; /* imaps://, pop3s:// */
    char host[256];
    int port;
    char folder[256]; /* IMAP: the folder read (default INBOX) */
};

/* Parses a mailbox URL (config.c checked its shape). MERR_CONFIG. */
enum merr bounce_url_parse(const char *url, struct bounce_url *u);

#endif
