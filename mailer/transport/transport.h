/*
 * transport.h: where finished messages go, behind one interface.
 *
 *   dir:PATH           one .eml per envelope, written atomically (tmp file,
 *                      fsync, rename): the embedded default
 *   smtp://host:port   libESMTP, STARTTLS per [smtp] tls, AUTH, timeouts
 *   smtps://host:port  implicit TLS, or refused at open if impossible
 *
 * A transport is used by one worker thread; each worker opens its own. A
 * batch goes over one connection (one libESMTP session); every message gets
 * its own outcome.
 */
#ifndef MAILER_TRANSPORT_TRANSPORT_H
#define MAILER_TRANSPORT_TRANSPORT_H

#include <stddef.h>

#include "config.h"
#include "err.h"

struct transport;

struct transport_msg {
    /* in */
    long long envelope_id;
    const char *mail_from; /* envelope sender (VERP), validated ASCII */
    const char *rcpt;      /* one recipient, validated ASCII */
    const char *envid;     /* DSN ENVID (RFC 3461), may be NULL */
    const char *data;      /* the message, CRLF line ends, not dot-stuffed */
    size_t len;
    /* out */
    enum merr rc;   /* MERR_OK sent, MERR_TEMPFAIL retry later, MERR_PERMFAIL never */
    int code;       /* SMTP reply code (0 if none, e.g. connect failure) */
    char text[256]; /* reply text without CRLF, or the error */
};

/*
 * Opens the transport named in cfg->transport. Checks what can be checked
 * without sending (the folder exists and is writable; TLS settings are
 * possible; `tls = none` only for loopback hosts). MERR_CONFIG with the
 * reason otherwise.
 */
enum merr transport_open(const struct config *cfg, struct transport **out);

/*
 * Delivers `n` messages, filling each one's rc/code/text. Returns MERR_OK
 * when every message has an outcome (even failures); an error return means
 * the batch as a whole could not be attempted, and each message then
 * carries that error too.
 */
enum merr transport_send(struct transport *t, struct transport_msg *msgs, size_t n);

void transport_close(struct transport *t);

#endif
