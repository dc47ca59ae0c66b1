/*
 * bounce_tls.h: TCP and verified TLS for the IMAP and POP3 clients of
 * mailer/bounce (bounce_tls.c). libetpan types; not for other modules.
 */
#ifndef MAILER_BOUNCE_BOUNCE_TLS_H
#define MAILER_BOUNCE_BOUNCE_TLS_H

#include <libetpan/libetpan.h>

#include "err.h"

/*
 * Connects to host:port within timeout_s; the socket (blocking, with
 * timeout_s read and write timeouts) goes to *fd. MERR_TEMPFAIL naming
 * the host.
 */
enum merr bounce_tls_connect(const char *host, int port, int timeout_s, int *fd);

/*
 * TLS client on `fd` (owned from now on, closed on failure): the chain
 * verified against `ca_file` (NULL: the system's store) and the
 * certificate's name (or IP address) checked against `host`. *out is a
 * libetpan stream driver (mailstream_new wraps it). MERR_PERMFAIL when the
 * certificate is refused (the detail says why), MERR_TEMPFAIL for a failed
 * handshake, MERR_CONFIG if the CA file cannot be loaded.
 */
enum merr bounce_tls_start(int fd, const char *host, const char *ca_file, mailstream_low **out);

/* After a STARTTLS / STLS OK: replaces the plain driver of `s` by TLS. */
enum merr bounce_tls_swap(mailstream *s, const char *host, const char *ca_file);

/* Waits until `s` has data to read: 1, 0 after timeout_ms, -1 on error. */
int bounce_tls_wait(mailstream *s, int timeout_ms);

#endif
