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
 * its own outcome, and through transport_send()'s hooks the caller hears of each
 * outcome as soon as it is final, before the next message is started (see
 * there: this is what bounds duplicates after a crash).
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
    const char *data;      /* the message, CRLF line ends, not dot-stuffed;
                              NULL: from hooks->load (transport_send) */
    size_t len;
    /* out */
    enum merr rc;   /* MERR_OK sent, MERR_TEMPFAIL retry later, MERR_PERMFAIL never */
    int code;       /* SMTP reply code (0 if none, e.g. connect failure) */
    char text[256]; /* reply text without CRLF, or the error */
    int skipped;    /* 1: never offered to the server because the caller's
                       callback stopped the batch (rc MERR_TEMPFAIL, code 0) */
    int loaded;     /* internal: data came from hooks->load, not released yet */
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
 * What transport_send() tells its caller about each message, in the
 * calling thread (see there), and where it gets a message's data on
 * demand. Any function may be NULL.
 *
 * load/release: a message whose `data` is NULL gets it from load(arg, m)
 * (which sets m->data and m->len) right before its data is written (smtp:
 * when the server has answered DATA; dir: before its file is written), and
 * release(arg, m) is called once it is written to the end or will not be
 * (then m->data is NULL again). So only the message being transferred
 * needs to exist, not the batch: with smtp at most one message per
 * transport is loaded at any time. load returns MERR_OK, or an error with
 * merr_set(): the message is then not sent (rc MERR_PERMFAIL when
 * merr_class says the error is permanent, else MERR_TEMPFAIL; code 0; text "message not
 * available: " and the detail), and with smtp the connection is dropped
 * before the end of its data (SMTP cannot abandon one message otherwise),
 * so the session's later messages end with MERR_TEMPFAIL ("connection
 * lost"). Loaded data passes the same checks as given data (see
 * transport_msg_check in transport_int.h).
 */
struct transport_hooks {
    int (*done)(void *arg, struct transport_msg *m);
    int (*before_end)(void *arg, struct transport_msg *m);
    void *arg;
    enum merr (*load)(void *arg, struct transport_msg *m);
    void (*release)(void *arg, struct transport_msg *m);
};

/*
 * Delivers `n` messages, filling each one's rc/code/text. Returns MERR_OK
 * when every message has an outcome (even failures); an error return means
 * the batch as a whole could not be attempted, and each message then
 * carries that error too. With `hooks` (may be NULL) it calls
 * hooks->done(arg, m) exactly once for every message m of `msgs`, once m's
 * outcome is set:
 *
 *   smtp  from inside the session, as soon as the server has answered the
 *         end of m's data (the final "." of DATA, or BDAT LAST; RFC 5321
 *         section 4.1.1.4, RFC 3030 section 2), or refused DATA itself.
 *         Nothing more is written on that connection (not the next
 *         message's MAIL FROM) until done() returns. Messages that get no
 *         such reply (refused before any I/O, MAIL refused, connection
 *         lost, timeout, TLS or AUTH failure) are reported when their
 *         session ends.
 *   dir   after the batch's folder fsync, which is what makes the files
 *         durable (rewriting a file is harmless: its name is the envelope
 *         id, so a retry replaces it rather than duplicating it).
 *
 * smtp also calls hooks->before_end(arg, m) when all of m's data but its end
 * (the final "." or BDAT LAST) has been handed over: the server cannot
 * accept m before it returns. Between a message's done() and the next
 * message's before_end() lie the next MAIL, RCPT and DATA round trips and
 * the transfer of its data.
 *
 * So a caller that has recorded every sent outcome durably by the time it
 * returns from the next before_end() (or from done() itself) has, per
 * connection, at most one message the server accepted that it has not
 * recorded: after a crash at most that many are sent twice, and the
 * recording overlaps with the next message's transfer.
 *
 * Both return 0 to go on. Non-zero stops the batch: every message not yet
 * completed (for before_end, m itself too) is not offered to the server, or
 * its connection is dropped before the end of its data (RFC 5321 section
 * 4.1.1.4: the transaction is then void); each is reported with rc
 * MERR_TEMPFAIL, code 0, skipped = 1. The order of the done() calls need
 * not be the order of `msgs`.
 */
enum merr transport_send(struct transport *t, struct transport_msg *msgs, size_t n,
                         const struct transport_hooks *hooks);

/*
 * The name the SMTP transport gives in EHLO (RFC 5321 §4.1.1.1): [smtp]
 * helo, or the machine's fully qualified name; MERR_CONFIG saying what to
 * set when that is not a fully qualified domain name or address literal.
 * transport_open checks the same for smtp://; `mailer doctor` asks here.
 */
enum merr transport_helo_name(const struct config *cfg, char out[256]);

/* Frees the transport (SSL context, names). NULL is ok. */
void transport_close(struct transport *t);

/*
 * 1 if `addr` may go into MAIL FROM / RCPT TO: printable ASCII without
 * spaces, '<', '>', '"', '\\', '(', ')', ',', ';', one '@' with text on
 * both sides, at most 254 bytes. (RFC 5321 section 4.1.2, restricted.)
 */
int transport_address_ok(const char *addr);

#endif
