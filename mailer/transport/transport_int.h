/*
 * transport_int.h: the transport kinds' table of operations and the
 * message helpers they share (transport_msg.c). Not for other modules.
 */
#ifndef MAILER_TRANSPORT_TRANSPORT_INT_H
#define MAILER_TRANSPORT_TRANSPORT_INT_H

#include "transport.h"

/*
 * A transport kind (transport.c picks one by its prefix). open(cfg, rest,
 * out): `rest` is cfg->transport after the prefix; MERR_CONFIG with the
 * reason (merr_msg). send: as transport_send, with every message's
 * `skipped` and `loaded` cleared. close(NULL) is not called.
 */
struct transport_ops {
    const char *prefix; /* "dir:", "smtp://" */
    enum merr (*open)(const struct config *cfg, const char *rest, void **out);
    enum merr (*send)(void *impl, struct transport_msg *msgs, size_t n,
                      const struct transport_hooks *h);
    void (*close)(void *impl);
};

/* dir:PATH (transport_dir.c): the folder is created if missing. */
extern const struct transport_ops transport_dir_ops;
/* smtp://host:port (transport_smtp.c), through libESMTP. */
extern const struct transport_ops transport_smtp_ops;

/* ---- transport_msg.c: what every kind does with a message ---- */

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

/* 1 if in the n bytes at d every CR is followed by an LF, every LF follows
 * a CR and no byte is NUL (the data check's one pass). */
int transport_crlf_clean(const unsigned char *d, size_t n);

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
