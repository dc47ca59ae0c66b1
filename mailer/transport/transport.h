/*
 * transport.h: where finished messages go, behind one interface.
 *
 *   dir:PATH           one .eml per envelope, written atomically (tmp file,
 *                      fsync, rename): the embedded default
 *   smtp://host:port   libESMTP, STARTTLS per [smtp] tls, AUTH, timeouts
 *   smtps://host:port  implicit TLS, or refused at open if impossible
 *
 * A transport is used by one worker thread; each worker opens its own. A
 * batch goes over one connection (one libESMTP session; a batch larger than
 * [smtp] messages_per_connection is split into several); every message gets
 * its own outcome.
 *
 * Outcomes (msg->rc decides; msg->code and msg->text are what to record):
 *   MERR_OK        dir: written and synced (code 250); smtp: 2xx after DATA
 *   MERR_TEMPFAIL  4xx; connect failure or timeout; connection lost; a
 *                  command timeout; STARTTLS refused or the certificate not
 *                  trusted; AUTH failed (code = the AUTH reply, e.g. 535:
 *                  an admin fixes the credentials and the retry succeeds);
 *                  MAIL answered 530 (the relay wants AUTH); a write error
 *                  of the dir transport (errno text)
 *   MERR_PERMFAIL  5xx on MAIL/RCPT/DATA (other than the AUTH cases above);
 *                  a message refused before any network use: an invalid
 *                  envelope address (CR, LF, spaces, <, >, non-ASCII), bare
 *                  LF line ends, no header/body separator (code 0)
 * `text` never contains credentials; it has the server's reply without the
 * trailing CRLF ("550 5.1.1 <x@example.org>: user unknown" keeps only
 * "5.1.1 <x@example.org>: user unknown" with code 550).
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
 * without sending (the folder exists or is created, and is writable; TLS
 * settings are possible and the CA file loads; `tls = none` only for
 * loopback hosts). MERR_CONFIG with the reason otherwise; smtps:// is
 * refused with MERR_CONFIG because libESMTP 1.1.0 has no implicit TLS.
 * Copies what it needs from `cfg`. Free with transport_close().
 */
enum merr transport_open(const struct config *cfg, struct transport **out);

/*
 * Delivers `n` messages, filling each one's rc/code/text. Returns MERR_OK
 * when every message has an outcome (even failures); an error return means
 * the batch as a whole could not be attempted, and each message then
 * carries that error too.
 */
enum merr transport_send(struct transport *t, struct transport_msg *msgs, size_t n);

/* Frees the transport (SSL context, names). NULL is ok. */
void transport_close(struct transport *t);

/*
 * 1 if `addr` may go into MAIL FROM / RCPT TO: printable ASCII without
 * spaces, '<', '>', '"', '\\', '(', ')', ',', ';', one '@' with text on
 * both sides, at most 254 bytes. (RFC 5321 section 4.1.2, restricted.)
 */
int transport_address_ok(const char *addr);

#endif
