/*
 * bounce_tls.c: connections to the bounce mailboxes, with TLS that
 * verifies the server.
 *
 * libetpan's own TLS (a GnuTLS build on Debian) checks no certificate
 * (LIBNOTES), so it is not used at all: the TCP connection is ours (with
 * a connect timeout and socket timeouts), TLS is OpenSSL with the same CA
 * configuration as the SMTP transport ([smtp] ca_file, else the system's
 * store), the chain verified and the host name checked during the
 * handshake (X509_VERIFY_PARAM_set1_host, SNI sent), and the result is
 * handed to libetpan as a mailstream_low driver of our own. For STARTTLS
 * (IMAP, RFC 2595 §3.1; POP3 STLS, RFC 2595 §4) the session's plain
 * stream is swapped for the TLS one after the server's OK, as libetpan's
 * own mailimap_socket_starttls does, so nothing of the plain-text phase
 * is kept (RFC 3207 §4.2's rule, applied here too: capabilities are asked
 * again).
 *
 * Timeouts: every read and write waits at most [bounce] timeout seconds
 * (SO_RCVTIMEO/SO_SNDTIMEO on a blocking socket). IMAP IDLE waits longer
 * through bounce_tls_wait, which polls the socket itself.
 */
#include "bounce_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libetpan/libetpan.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tls_low {
    SSL *ssl;
    SSL_CTX *ctx;
    int fd;
};

static ssize_t tls_read(mailstream_low *s, void *buf, size_t count)
{
    struct tls_low *t = s->data;
    int n;
    if (count > 1 << 30)
        count = 1 << 30;
    n = SSL_read(t->ssl, buf, (int)count);
    if (n > 0)
        return n;
    return SSL_get_error(t->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static ssize_t tls_write(mailstream_low *s, const void *buf, size_t count)
{
    struct tls_low *t = s->data;
    int n;
    if (count > 1 << 30)
        count = 1 << 30;
    n = SSL_write(t->ssl, buf, (int)count);
    return n > 0 ? n : -1;
}

static int tls_close(mailstream_low *s)
{
    struct tls_low *t = s->data;
    if (t->ssl)
        SSL_shutdown(t->ssl);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    return 0;
}

static int tls_get_fd(mailstream_low *s)
{
    return ((struct tls_low *)s->data)->fd;
}

static void tls_data_free(struct tls_low *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

static void tls_free(mailstream_low *s)
{
    tls_data_free(s->data);
    free(s);
}

static void tls_cancel(mailstream_low *s)
{
    (void)s;
}

static struct mailstream_cancel *tls_get_cancel(mailstream_low *s)
{
    (void)s;
    return NULL;
}

static carray *tls_chain(mailstream_low *s)
{
    (void)s;
    return NULL;
}

static int tls_no_idle(mailstream_low *s)
{
    (void)s;
    return -1;
}

static mailstream_low_driver tls_driver = {
    tls_read,       tls_write, tls_close,   tls_get_fd,  tls_free,    tls_cancel,
    tls_get_cancel, tls_chain, tls_no_idle, tls_no_idle, tls_no_idle,
};

static void set_timeouts(int fd, int seconds)
{
    struct timeval tv = {seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

enum merr bounce_tls_connect(const char *host, int port, int timeout_s, int *fd_out)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[16];
    int fd = -1, e;

    *fd_out = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%d", port);
    e = getaddrinfo(host, portstr, &hints, &res);
    if (e)
        return merr_set(MERR_TEMPFAIL, "%s: %s", host, gai_strerror(e));
    for (ai = res; ai; ai = ai->ai_next) {
        struct pollfd p;
        int err = 0, flags;
        socklen_t el = sizeof err;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        flags = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            close(fd);
            fd = -1;
            continue;
        }
        p.fd = fd;
        p.events = POLLOUT;
        if (poll(&p, 1, timeout_s * 1000) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
            close(fd);
            fd = -1;
            errno = err ? err : ETIMEDOUT;
            continue;
        }
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        set_timeouts(fd, timeout_s);
        break;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return merr_set(MERR_TEMPFAIL, "connect to %s:%d: %s", host, port, strerror(errno));
    *fd_out = fd;
    return MERR_OK;
}

/* OpenSSL's error queue as one line. */
static void ssl_errors(char *out, size_t n)
{
    unsigned long e;
    out[0] = '\0';
    while ((e = ERR_get_error()) != 0 && strlen(out) + 2 < n) {
        char one[256];
        ERR_error_string_n(e, one, sizeof one);
        snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? "; " : "", one);
    }
}

enum merr bounce_tls_start(int fd, const char *host, const char *ca_file, mailstream_low **out)
{
    struct tls_low *t = calloc(1, sizeof *t);
    X509_VERIFY_PARAM *param;
    struct in6_addr ip6;
    struct in_addr ip4;
    char err[512];
    long vr;

    *out = NULL;
    if (!t) {
        close(fd);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    t->fd = fd;
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx)
        goto ssl_fail;
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    if (ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(t->ctx) != 1)
        goto ssl_fail;
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    param = SSL_CTX_get0_param(t->ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (inet_pton(AF_INET, host, &ip4) == 1 || inet_pton(AF_INET6, host, &ip6) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)
            goto ssl_fail;
    } else if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1) {
        goto ssl_fail;
    }
    t->ssl = SSL_new(t->ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1)
        goto ssl_fail;
    if (inet_pton(AF_INET, host, &ip4) != 1 && inet_pton(AF_INET6, host, &ip6) != 1)
        SSL_set_tlsext_host_name(t->ssl, host); /* SNI (RFC 6066 §3): names only */
    if (SSL_connect(t->ssl) != 1) {
        vr = SSL_get_verify_result(t->ssl);
        ssl_errors(err, sizeof err);
        tls_data_free(t);
        return vr != X509_V_OK ? merr_set(MERR_PERMFAIL, "TLS to %s: certificate not accepted: %s",
                                          host, X509_verify_cert_error_string(vr))
                               : merr_set(MERR_TEMPFAIL, "TLS to %s: handshake failed: %s", host,
                                          err[0] ? err : "connection closed");
    }
    *out = mailstream_low_new(t, &tls_driver);
    if (!*out) {
        tls_data_free(t);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    return MERR_OK;
ssl_fail:
    ssl_errors(err, sizeof err);
    tls_data_free(t);
    return merr_set(MERR_CONFIG, "TLS setup for %s failed (CA file %s): %s", host,
                    ca_file ? ca_file : "system store", err);
}

enum merr bounce_tls_swap(mailstream *s, const char *host, const char *ca_file)
{
    mailstream_low *plain = mailstream_get_low(s), *tls;
    int fd = mailstream_low_get_fd(plain);
    int dup_fd = dup(fd);
    enum merr rc;

    if (dup_fd < 0)
        return merr_set(MERR_IO, "dup: %s", strerror(errno));
    rc = bounce_tls_start(dup_fd, host, ca_file, &tls);
    if (rc)
        return rc;
    /* the plain driver closes its fd; the TLS one owns the duplicate */
    mailstream_low_close(plain);
    mailstream_low_free(plain);
    mailstream_set_low(s, tls);
    return MERR_OK;
}

int bounce_tls_wait(mailstream *s, int timeout_ms)
{
    mailstream_low *low = mailstream_get_low(s);
    struct pollfd p;
    if (s->read_buffer_len > 0)
        return 1;
    if (low->driver == &tls_driver && SSL_pending(((struct tls_low *)low->data)->ssl) > 0)
        return 1;
    p.fd = mailstream_low_get_fd(low);
    p.events = POLLIN;
    return poll(&p, 1, timeout_ms);
}
