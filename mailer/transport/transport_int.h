/*
 * transport_int.h: what transport.c shares with the transport kinds
 * (transport_dir.c, transport_smtp.c). Not for other modules.
 */
#ifndef MAILER_TRANSPORT_TRANSPORT_INT_H
#define MAILER_TRANSPORT_TRANSPORT_INT_H

#include "transport.h"

struct transport_dir;
struct transport_smtp;

/* dir:PATH. `path` is copied; the folder is created if missing. MERR_CONFIG. */
enum merr transport_dir_open(const char *path, struct transport_dir **out);
enum merr transport_dir_send(struct transport_dir *d, struct transport_msg *msgs, size_t n,
                             const struct transport_hooks *h);
void transport_dir_close(struct transport_dir *d);

/* smtp://host:port. MERR_CONFIG with the reason (merr_msg). */
enum merr transport_smtp_open(const struct config *cfg, const char *hostport,
                              struct transport_smtp **out);
enum merr transport_smtp_send(struct transport_smtp *s, struct transport_msg *msgs, size_t n,
                              const struct transport_hooks *h);
void transport_smtp_close(struct transport_smtp *s);

/* Calls h->done(h->arg, m) if there is one; returns its answer (0 = go on). */
int transport_report(const struct transport_hooks *h, struct transport_msg *m);

/* Sets a message's outcome; the text is formatted, cleaned of control
 * characters and truncated to fit msg->text. */
void transport_outcome(struct transport_msg *m, enum merr rc, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Checks a message before any I/O: envelope addresses (transport_address_ok),
 * ENVID (printable ASCII, RFC 3461 section 4.4: at most 100 chars), data
 * with CRLF line ends only, a header/body separator, and the Date, From and
 * Message-ID headers (without them libESMTP would add its own). On failure
 * sets the outcome (MERR_PERMFAIL, code 0) and returns MERR_PERMFAIL.
 */
enum merr transport_msg_check(struct transport_msg *m);

/* The same checks in two halves: the envelope (addresses, ENVID), and the data. */
enum merr transport_msg_check_envelope(struct transport_msg *m);
enum merr transport_msg_check_data(struct transport_msg *m);

/* 1 if m's data is to come from h->load. */
int transport_msg_lazy(const struct transport_hooks *h, const struct transport_msg *m);

/*
 * Gets m's data from h->load if it has none (transport.h) and checks it
 * (transport_msg_check_data). On failure m's outcome is set, nothing stays
 * loaded, and the error is returned.
 */
enum merr transport_msg_load(const struct transport_hooks *h, struct transport_msg *m);

/* Calls h->release for a loaded message and forgets its data; else nothing. */
void transport_msg_release(const struct transport_hooks *h, struct transport_msg *m);

#endif
