/*
 * transport_smtp.c: smtp://host:port through libESMTP 1.1.0.
 *
 * One call of transport_smtp_send() runs one libESMTP session (one TCP
 * connection) per chunk of at most [smtp] messages_per_connection
 * messages; each message has exactly one recipient, so the recipient's
 * status is the message's outcome. libESMTP keeps going where a careful
 * client must stop, so this file wraps it with guards (LIBNOTES):
 *
 * - Certificates. Our own SSL_CTX per transport (libESMTP's global one
 *   crashes on the second session) with SSL_VERIFY_PEER, the system store
 *   or [smtp] ca_file, and the host name (or IP) set in the verify
 *   parameters so OpenSSL checks the name during the handshake. A verify
 *   callback keeps the first error for this thread, so the outcome says
 *   "STARTTLS: certificate verification failed: self-signed certificate"
 *   rather than "connection lost". libESMTP's own name check ignores IP
 *   SANs; once OpenSSL has verified the chain and the name we accept its
 *   SMTP_EV_WRONG_PEER_CERTIFICATE. `opportunistic` encrypts when offered
 *   without insisting on a valid certificate (it never does worse than
 *   plain text), but checks it all the same (SSL_VERIFY_NONE still runs
 *   the chain and name checks, SSL_get_verify_result tells); `none` is only
 *   allowed for loopback hosts.
 * - Credentials only over verified TLS (or tls = none to a loopback host,
 *   where nothing crosses a network). libESMTP authenticates on a plain
 *   connection when STARTTLS is not offered (or was stripped by someone in
 *   the path) and after an unverified handshake, so the AUTH context is
 *   not given to the session at its start: the SMTP_EV_STARTTLS_OK handler
 *   hands it over once the certificate is verified, before the second
 *   EHLO after which libESMTP would AUTH. The interact callback, which
 *   would copy the password out, checks the same again. Without AUTH the
 *   data guard below keeps the messages back: "AUTH not sent: ...".
 * - Data is never sent unless the session is as configured. The message
 *   callback refuses to hand over the first byte (errno set, which makes
 *   libESMTP drop the connection before the final ".") when TLS is
 *   required but not up, or credentials are configured but AUTH did not
 *   succeed: libESMTP otherwise carries on unauthenticated after a 535.
 * - Server replies. libESMTP keeps the greeting and AUTH replies to itself,
 *   so a monitor callback watches the *reading* side only: it records the
 *   first failure reply before MAIL (a 421 greeting, a 535 to AUTH, a 454
 *   to STARTTLS) and sees the 235 that proves AUTH succeeded. It returns at
 *   once for everything written, where the credentials are, and never logs
 *   anything; libESMTP itself switches the monitor off during DATA.
 * - connect() has no timeout in libESMTP, SIGPIPE would end the process,
 *   and the socket is never shown (Nagle's delay, TCP_CORK): the session's
 *   socket is transport_sock.c's (a connect watchdog, SIGPIPE blocked,
 *   TCP_NODELAY, sessions connecting one at a time).
 * - TLS 1.2 at most. With TLS 1.3 the server sends its session tickets
 *   after the handshake; when they arrive before libESMTP's next poll(),
 *   it reads "data" first, finds no reply, and blocks in SSL_read with the
 *   EHLO still unflushed in its buffer until the command timeout: about
 *   one STARTTLS session in three failed that way against aiosmtpd, and a
 *   TLS 1.3 client cannot stop a server from sending tickets. TLS 1.2 has
 *   no post-handshake messages (its ticket comes inside the handshake).
 * - The EHLO name is transport_helo.c's: [smtp] helo or the machine's
 *   fully qualified name, never a bare host name.
 * - Timeouts of every later phase are [smtp] command_timeout_ms, in
 *   milliseconds, with Timeout_OVERRIDE_RFC2822_MINIMUM (else libESMTP
 *   silently raises them to minutes).
 * - DSN (RFC 3461): RET=HDRS, ENVID and NOTIFY=FAILURE,DELAY are set on
 *   every message; libESMTP sends them only when the server offers DSN.
 * - Outcomes as they happen (transport_send). libESMTP raises
 *   SMTP_EV_MESSAGESENT from the handler of the reply to the end of the
 *   data (DATA's ".", BDAT LAST) or to a refused DATA, and only after that
 *   handler returns does its loop write the next command: after the "." it
 *   flushes and writes nothing until that reply is read (cmd_state -1). So
 *   the caller's done(), run from there, sees each outcome before the next
 *   message's MAIL FROM leaves. The message callback is asked for more data
 *   once the whole message has been handed out; only when it answers "end"
 *   does libESMTP write the final "." (or BDAT 0 LAST): before_end() runs
 *   there. tests/transport (callback_*) checks both orders against the
 *   server's clock. A caller that wants the batch stopped gets the rest of
 *   it refused by the message callback, like the TLS/AUTH guard above.
 */
#include <stddef.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
/* auth-client.h first: libesmtp.h declares smtp_auth_set_context only then */
#include <auth-client.h>
#include <libesmtp.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "log.h"
#include "transport_int.h"
#include "transport_sock.h"

struct transport_smtp {
    char *hostport; /* "host:port" for smtp_set_server */
    char *host;
    int port;
    char *helo;
    char *user; /* NULL: no AUTH */
    char *pass;
    enum cfg_tls tls;
    SSL_CTX *ssl; /* NULL when tls = none */
    int connect_ms;
    int command_ms;
    size_t per_conn;
};

/* The state of one session (one connection), seen by the callbacks. */
struct session_state {
    struct transport_smtp *t;
    int connected;
    int tls_ok;
    int tls_verified;    /* the peer's certificate chain and name checked out */
    char tls_why[160];   /* why not, when TLS is up but not verified */
    auth_context_t auth; /* handed to libESMTP only when credentials may go */
    char tls_err[160];
    int auth_tried; /* the interact callback gave the credentials */
    int auth_ok;    /* a 235 reply was seen */
    int auth_code;  /* the first failure reply after auth_tried */
    char auth_text[160];
    int data_refused; /* the message callback refused to send data */
    int stopped;      /* the caller's hooks asked to stop the batch */
    const struct transport_hooks *hooks;
    struct session_msg *msgs; /* this session's messages, in order */
    size_t nmsgs;
    int mail_seen;  /* a MAIL reply was reported */
    int early_code; /* the first failure reply before MAIL */
    char early_text[160];
    long last_ms;               /* monotonic ms of the last sign of life of the session */
    long silence_ms;            /* from then to the end of smtp_start_session() */
    struct transport_sock sock; /* its socket, once found (transport_sock.c) */
    char line[200];             /* monitor: the reply line being assembled */
    size_t line_len;
};

/* One message of a session: the arg of the message callback. */
struct session_msg {
    struct session_state *s;
    struct transport_msg *out;
    smtp_message_t m;
    smtp_recipient_t r;
    int added;      /* handed to libESMTP (it passed transport_msg_check) */
    int given;      /* 1: the data was handed out since the last rewind;
                       2: and before_end() said go on */
    int reported;   /* done() was called for it */
    int cancelled;  /* not to be sent: the caller stopped the batch */
    int unloadable; /* hooks->load failed: its outcome is set */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Thread_local char verify_err[160];

static void init_library(void)
{
    auth_client_init();
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
    transport_sock_init_process();
}

static int verify_callback(int ok, X509_STORE_CTX *x)
{
    if (!ok && !verify_err[0]) {
        int err = X509_STORE_CTX_get_error(x);
        snprintf(verify_err, sizeof verify_err, "%s (depth %d)", X509_verify_cert_error_string(err),
                 X509_STORE_CTX_get_error_depth(x));
    }
    return ok;
}

static enum merr make_ssl_ctx(struct transport_smtp *t, const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    struct in_addr a4;
    X509_VERIFY_PARAM *param;
    char err[200];

    if (!ctx)
        return merr_set(MERR_NOMEM, "[smtp] tls: cannot create an OpenSSL context");
    t->ssl = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Not TLS 1.3: its session tickets arrive after the handshake, wake
     * libESMTP's poll() before it has flushed the EHLO, and the reader then
     * blocks until the command timeout (see the top of the file). */
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ERR_error_string_n(ERR_get_error(), err, sizeof err);
        return merr_set(MERR_CONFIG, "[smtp] ca_file \"%s\": cannot load: %s",
                        ca_file ? ca_file : "(system store)", err);
    }
    /* opportunistic: the handshake goes on whatever the result, which
     * SSL_get_verify_result gives afterwards (credentials depend on it) */
    if (t->tls == CFG_TLS_OPPORTUNISTIC)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    else
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
    /* RFC 6125 name check by OpenSSL during the handshake. */
    param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (inet_pton(AF_INET, t->host, &a4) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, t->host) != 1)
            return merr_set(MERR_CONFIG, "[smtp] tls: cannot check the IP %s", t->host);
    } else if (X509_VERIFY_PARAM_set1_host(param, t->host, 0) != 1) {
        return merr_set(MERR_CONFIG, "[smtp] tls: cannot check the host name %s", t->host);
    }
    return MERR_OK;
}

static void smtp_close(void *impl);

static enum merr smtp_open(const struct config *cfg, const char *hostport, void **out)
{
    enum merr rc = MERR_OK;
    struct transport_smtp *t;
    const char *colon = strrchr(hostport, ':');
    char name[256];

    *out = NULL;
    pthread_once(&init_once, init_library);
    if (!colon || colon == hostport || !colon[1] || strchr(hostport, ':') != colon)
        return merr_set(MERR_CONFIG,
                        "[delivery] transport \"smtp://%s\": expected smtp://host:port (IPv6 "
                        "literals are not supported by libESMTP; use a host name)",
                        hostport);
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return merr_set(MERR_CONFIG, "[delivery] transport \"smtp://%s\": bad port", hostport);
    t = calloc(1, sizeof *t);
    if (!t)
        return merr_set(MERR_NOMEM, "transport: out of memory");
    t->tls = cfg->smtp_tls;
    t->connect_ms = cfg->smtp_connect_timeout_ms > 0 ? cfg->smtp_connect_timeout_ms : 10000;
    t->command_ms = cfg->smtp_command_timeout_ms > 0 ? cfg->smtp_command_timeout_ms : 60000;
    t->per_conn =
        cfg->smtp_messages_per_connection > 0 ? (size_t)cfg->smtp_messages_per_connection : 100;
    t->port = atoi(colon + 1);
    t->hostport = strdup(hostport);
    t->host = strndup(hostport, (size_t)(colon - hostport));
    rc = transport_helo_name(cfg, name);
    if (rc)
        goto out;
    t->helo = strdup(name);
    if (!t->hostport || !t->host || !t->helo) {
        rc = merr_set(MERR_NOMEM, "transport: out of memory");
        goto out;
    }
    if ((cfg->smtp_username != NULL) != (cfg->smtp_password != NULL)) {
        rc = merr_set(MERR_CONFIG, "[smtp] username and password: set both or neither");
        goto out;
    }
    if (cfg->smtp_username) {
        t->user = strdup(cfg->smtp_username);
        t->pass = strdup(cfg->smtp_password);
        if (!t->user || !t->pass) {
            rc = merr_set(MERR_NOMEM, "transport: out of memory");
            goto out;
        }
    }
    if (t->tls == CFG_TLS_NONE && !transport_sock_is_loopback(t->host)) {
        rc = merr_set(MERR_CONFIG,
                      "[smtp] tls = none: refused for \"%s\", which is not a loopback host; "
                      "use tls = required (or opportunistic)",
                      t->host);
        goto out;
    }
    if (t->tls != CFG_TLS_NONE) {
        rc = make_ssl_ctx(t, cfg->smtp_ca_file);
        if (rc)
            goto out;
    }
    *out = t;
    t = NULL;
out:
    smtp_close(t);
    return rc;
}

static void smtp_close(void *impl)
{
    struct transport_smtp *t = impl;
    if (!t)
        return;
    SSL_CTX_free(t->ssl);
    free(t->hostport);
    free(t->host);
    free(t->helo);
    if (t->pass)
        OPENSSL_cleanse(t->pass, strlen(t->pass));
    free(t->user);
    free(t->pass);
    free(t);
}

/* ---- callbacks ---------------------------------------------------------- */

static long now_ms(void)
{
    return (long)(date_mono() * 1000.0);
}

static void outcome(struct session_state *s, struct session_msg *sm, int err);

/* The caller asked to stop: `from` and the messages after it are cancelled. */
static void stop_from(struct session_state *s, struct session_msg *from)
{
    s->stopped = 1;
    for (struct session_msg *x = from; x < s->msgs + s->nmsgs; x++)
        if (x->added && !x->reported)
            x->cancelled = 1;
}

/*
 * The outcome of `sm` is final now (SMTP_EV_MESSAGESENT): report it. A
 * message without a final reply yet (the reply could not be read) waits for
 * the end of the session. If the caller asks to stop, the messages after
 * this one, none of which has started (see the top), are cancelled.
 */
static void report_early(struct session_state *s, struct session_msg *sm)
{
    const smtp_status_t *rcpt = smtp_recipient_status(sm->r);
    const smtp_status_t *data = smtp_message_transfer_status(sm->m);

    if (sm->reported || s->data_refused || (s->t->user && !s->auth_ok))
        return;
    if (!(data && data->code >= 200 && data->code < 600) && !(rcpt && rcpt->code >= 300))
        return;
    outcome(s, sm, 0);
    sm->reported = 1;
    if (transport_report(s->hooks, sm->out) != 0)
        stop_from(s, sm + 1);
    /* the caller's time is not the server's silence */
    s->last_ms = now_ms();
}

/* May the credentials go over this session? Verified TLS, or plain to loopback. */
static int credentials_may_go(const struct session_state *s)
{
    if (s->t->tls == CFG_TLS_NONE)
        return transport_sock_is_loopback(
            s->t->host); /* transport_smtp_open refuses it otherwise */
    return s->tls_ok && s->tls_verified;
}

static void event_cb(smtp_session_t session, int event, void *arg, ...)
{
    struct session_state *s = arg;
    int opportunistic = s->t->tls == CFG_TLS_OPPORTUNISTIC;
    va_list ap;

    (void)session;
    /* not per line of data (SMTP_EV_MESSAGEDATA): that is our writing, and
     * a clock read per line costs more than the line */
    if (event == SMTP_EV_MESSAGEDATA)
        return;
    if (event != SMTP_EV_DISCONNECT)
        s->last_ms = now_ms();
    va_start(ap, arg);
    switch (event) {
    case SMTP_EV_CONNECT:
        s->connected = 1;
        transport_sock_connected(&s->sock, s->t->port);
        break;
    case SMTP_EV_MAILSTATUS:
        s->mail_seen = 1;
        break;
    case SMTP_EV_MESSAGESENT: {
        smtp_message_t m = va_arg(ap, smtp_message_t);
        struct session_msg *sm = m ? smtp_message_get_application_data(m) : NULL;
        if (sm)
            report_early(s, sm);
        break;
    }
    case SMTP_EV_STARTTLS_OK: {
        SSL *ssl = va_arg(ap, SSL *);
        X509 *peer = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
        long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_ERR_UNSPECIFIED;
        s->tls_ok = 1;
        s->tls_verified = peer && vr == X509_V_OK && !s->tls_err[0];
        if (!peer)
            snprintf(s->tls_why, sizeof s->tls_why, "the server sent no certificate");
        else if (vr != X509_V_OK)
            snprintf(s->tls_why, sizeof s->tls_why, "certificate verification failed: %s",
                     X509_verify_cert_error_string(vr));
        X509_free(peer);
        /* RFC 3207 section 4.2: the client discards what it knew and says
         * EHLO again; AUTH comes after that, with these credentials only
         * if the certificate checked out. */
        if (s->tls_verified && s->auth)
            smtp_auth_set_context(session, s->auth);
        break;
    }
    case SMTP_EV_INVALID_PEER_CERTIFICATE: {
        long result = va_arg(ap, long);
        int *ok = va_arg(ap, int *);
        if (opportunistic)
            *ok = 1;
        else
            snprintf(s->tls_err, sizeof s->tls_err, "certificate verification failed: %s",
                     X509_verify_cert_error_string(result));
        break;
    }
    case SMTP_EV_NO_PEER_CERTIFICATE: {
        int *ok = va_arg(ap, int *);
        if (opportunistic)
            *ok = 1;
        else
            snprintf(s->tls_err, sizeof s->tls_err, "the server sent no certificate");
        break;
    }
    case SMTP_EV_WRONG_PEER_CERTIFICATE: {
        int *ok = va_arg(ap, int *);
        const char *name = va_arg(ap, const char *);
        SSL *ssl = va_arg(ap, SSL *);
        /* In required mode OpenSSL already checked the chain and the name
         * (IP SANs included, which libESMTP's check ignores). */
        if (opportunistic || (ssl && SSL_get_verify_result(ssl) == X509_V_OK))
            *ok = 1;
        else
            snprintf(s->tls_err, sizeof s->tls_err, "certificate is for \"%s\", not \"%s\"",
                     name ? name : "?", s->t->host);
        break;
    }
    case SMTP_EV_WEAK_CIPHER: {
        int bits = va_arg(ap, int);
        snprintf(s->tls_err, sizeof s->tls_err, "weak cipher (%d bits)", bits);
        break;
    }
    case SMTP_EV_EXTNA_STARTTLS:
        snprintf(s->tls_err, sizeof s->tls_err,
                 "the server does not offer STARTTLS "
                 "([smtp] tls = required)");
        break;
    case SMTP_EV_EXTNA_DSN: {
        int *quit = va_arg(ap, int *);
        *quit = 0; /* DSN is a wish, not a requirement */
        break;
    }
    default:
        break;
    }
    va_end(ap);
}

/* One complete reply line read from the server (RFC 5321 section 4.2). */
static void reply_line(struct session_state *s, const char *line, size_t len)
{
    int code;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    if (len < 4 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
        line[2] < '0' || line[2] > '9' || (line[3] != ' ' && line[3] != '-'))
        return;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (line[3] == '-')
        return;      /* the last line of a multiline reply carries the verdict */
    if (code == 235) /* RFC 4954 section 6: authentication succeeded */
        s->auth_ok = 1;
    if (code < 400)
        return;
    if (s->auth_tried && !s->auth_ok && !s->auth_code) {
        s->auth_code = code;
        snprintf(s->auth_text, sizeof s->auth_text, "%.*s", (int)(len - 4), line + 4);
    }
    if (!s->mail_seen && !s->early_code) {
        s->early_code = code;
        snprintf(s->early_text, sizeof s->early_text, "%.*s", (int)(len - 4), line + 4);
    }
}

static void monitor_cb(const char *buf, int buflen, int writing, void *arg)
{
    struct session_state *s = arg;

    s->last_ms = now_ms();
    /* Only server replies; what we write (AUTH credentials among it) is
     * never looked at, copied or logged. */
    if (writing != SMTP_CB_READING || buflen <= 0)
        return;
    for (int i = 0; i < buflen; i++) {
        if (s->line_len < sizeof s->line)
            s->line[s->line_len++] = buf[i];
        if (buf[i] == '\n') {
            reply_line(s, s->line, s->line_len);
            s->line_len = 0;
        }
    }
}

static int interact_cb(auth_client_request_t req, char **result, int fields, void *arg)
{
    struct session_state *s = arg;

    if (!credentials_may_go(s))
        return 0; /* the plugin gets nothing to send */
    for (int i = 0; i < fields; i++) {
        if (req[i].flags & AUTH_USER)
            result[i] = s->t->user;
        else if (req[i].flags & AUTH_PASS)
            result[i] = s->t->pass;
        else
            result[i] = (char *)"";
    }
    s->auth_tried = 1;
    s->auth_code = 0;
    return 1;
}

/*
 * libESMTP's message reader: `len == NULL` rewinds (before each transfer);
 * returning NULL with *len = 0 ends the message. The message is handed out
 * in one piece (it is already CRLF, libESMTP dot-stuffs it). *ctx is left
 * NULL: libESMTP would free() it.
 */
static const char *message_cb(void **ctx, int *len, void *arg)
{
    struct session_msg *sm = arg;
    struct session_state *s = sm->s;

    (void)ctx;
    s->last_ms = now_ms();
    if (!len) {
        sm->given = 0;
        return NULL;
    }
    if (sm->cancelled) {
        /* as below: the connection drops before the end of the data */
        transport_msg_release(s->hooks, sm->out);
        *len = 0;
        errno = ECANCELED;
        return NULL;
    }
    if ((s->t->user && !s->auth_ok) || (s->t->tls == CFG_TLS_REQUIRED && !s->tls_ok)) {
        /* libESMTP drops the connection on a reader error: the server
         * never sees the end of DATA, so nothing is delivered. */
        s->data_refused = 1;
        *len = 0;
        errno = EACCES;
        return NULL;
    }
    if (sm->given) {
        /* the end: libESMTP writes the final "." (BDAT 0 LAST) next */
        const struct transport_hooks *h = s->hooks;
        /* libESMTP has copied every byte out by now (line by line) */
        transport_msg_release(h, sm->out);
        transport_sock_cork(&s->sock, 0);
        if (sm->given == 1 && h && h->before_end) {
            sm->given = 2;
            if (h->before_end(h->arg, sm->out) != 0) {
                stop_from(s, sm);
                *len = 0;
                errno = ECANCELED;
                return NULL;
            }
            s->last_ms = now_ms();
        }
        *len = 0;
        return NULL;
    }
    /* data on demand (transport.h: load); a failure drops the connection
     * before the end of the data, as above: nothing of it is delivered */
    if (transport_msg_load(s->hooks, sm->out) != MERR_OK) {
        sm->unloadable = 1;
        *len = 0;
        errno = EINVAL;
        return NULL;
    }
    s->last_ms = now_ms();
    sm->given = 1;
    transport_sock_cork(&s->sock, 1);
    *len = (int)sm->out->len;
    return sm->out->data;
}

/* ---- outcomes ----------------------------------------------------------- */

/* Sets the outcome from an SMTP status; 2xx OK, 4xx TEMPFAIL, 5xx PERMFAIL. */
static void from_status(struct transport_msg *m, const smtp_status_t *st)
{
    enum merr rc = st->code >= 200 && st->code < 300   ? MERR_OK
                   : st->code >= 500 && st->code < 600 ? MERR_PERMFAIL
                                                       : MERR_TEMPFAIL;
    const char *text = st->text ? st->text : "";

    if (st->enh_class > 0)
        transport_outcome(m, rc, st->code, "%d.%d.%d %s", st->enh_class, st->enh_subject,
                          st->enh_detail, text);
    else
        transport_outcome(m, rc, st->code, "%s", text);
}

/* The outcome of a message the session did not finish. */
static void unfinished(struct session_state *s, struct transport_msg *m, int err, const char *phase)
{
    char buf[128];
    struct transport_smtp *t = s->t;

    if (s->tls_err[0]) {
        transport_outcome(m, MERR_TEMPFAIL, 0, "STARTTLS: %s", s->tls_err);
        return;
    }
    if (verify_err[0]) {
        transport_outcome(m, MERR_TEMPFAIL, 0, "STARTTLS: certificate verification failed: %s",
                          verify_err);
        return;
    }
    /* (tls = required without TLS: the TLS failure below is the reason) */
    if (s->t->user && !s->auth_ok && !credentials_may_go(s) && s->connected &&
        (s->tls_ok || t->tls == CFG_TLS_OPPORTUNISTIC)) {
        transport_outcome(m, MERR_TEMPFAIL, 0,
                          "AUTH not sent: %s; credentials go only over verified TLS",
                          !s->tls_ok      ? "the server did not offer STARTTLS"
                          : s->tls_why[0] ? s->tls_why
                                          : "the server's certificate is not verified");
        return;
    }
    if (s->t->user && !s->auth_ok && (s->auth_tried || s->data_refused || s->mail_seen)) {
        if (s->auth_code)
            transport_outcome(m, MERR_TEMPFAIL, s->auth_code, "AUTH failed: %d %s", s->auth_code,
                              s->auth_text);
        else
            transport_outcome(m, MERR_TEMPFAIL, 0,
                              "AUTH not done: the server did not offer AUTH PLAIN or LOGIN%s",
                              t->tls == CFG_TLS_NONE ? " (without TLS)" : "");
        return;
    }
    if (t->tls != CFG_TLS_NONE && s->connected && !s->tls_ok && err == SMTP_ERR_CLIENT_ERROR) {
        unsigned long e = ERR_peek_last_error();
        ERR_error_string_n(e, buf, sizeof buf);
        transport_outcome(m, MERR_TEMPFAIL, 0, "STARTTLS: TLS handshake failed%s%s", e ? ": " : "",
                          e ? buf : "");
        return;
    }
    if (!s->connected) {
        if (transport_sock_timed_out(&s->sock))
            transport_outcome(m, MERR_TEMPFAIL, 0, "connect to %s: timeout after %d ms",
                              t->hostport, t->connect_ms);
        else
            transport_outcome(m, MERR_TEMPFAIL, 0, "connect to %s: %s", t->hostport,
                              smtp_strerror(err, buf, sizeof buf));
        return;
    }
    if (s->early_code) {
        transport_outcome(m, MERR_TEMPFAIL, s->early_code, "%s", s->early_text);
        return;
    }
    if ((err == SMTP_ERR_DROPPED_CONNECTION || err == 0) && s->silence_ms + 50 >= t->command_ms)
        transport_outcome(m, MERR_TEMPFAIL, 0,
                          "%s: no reply from the server within %d ms (timeout)", phase,
                          t->command_ms);
    else if (err == SMTP_ERR_DROPPED_CONNECTION || err == 0)
        transport_outcome(m, MERR_TEMPFAIL, 0, "%s: connection lost", phase);
    else
        transport_outcome(m, MERR_TEMPFAIL, 0, "%s: %s", phase,
                          smtp_strerror(err, buf, sizeof buf));
}

/* Marks a message the caller's stop kept from being offered at all. */
static void skip(struct transport_msg *m)
{
    transport_outcome(m, MERR_TEMPFAIL, 0, "not sent: the caller stopped the batch");
    m->skipped = 1;
}

static void outcome(struct session_state *s, struct session_msg *sm, int err)
{
    struct transport_msg *m = sm->out;
    const smtp_status_t *mail = smtp_reverse_path_status(sm->m);
    const smtp_status_t *rcpt = smtp_recipient_status(sm->r);
    const smtp_status_t *data = smtp_message_transfer_status(sm->m);

    if (sm->cancelled) {
        skip(m);
        return;
    }
    if (sm->unloadable)
        return; /* set by transport_msg_load */
    /* AUTH and TLS failures win: the data was withheld because of them. */
    if ((s->t->user && !s->auth_ok &&
         (s->auth_tried || s->data_refused || !credentials_may_go(s))) ||
        (s->data_refused && s->t->tls == CFG_TLS_REQUIRED && !s->tls_ok)) {
        unfinished(s, m, err, "session");
        return;
    }
    if (mail && mail->code >= 400) {
        from_status(m, mail);
        if (mail->code == 530) /* RFC 4954 section 6: authentication required */
            transport_outcome(m, MERR_TEMPFAIL, 530,
                              "MAIL: 530 the server requires AUTH (set [smtp] username and "
                              "password): %s",
                              mail->text ? mail->text : "");
        return;
    }
    if (!rcpt || rcpt->code == 0) {
        unfinished(s, m, err, "before RCPT");
        return;
    }
    if (rcpt->code >= 300 || rcpt->code < 200) {
        from_status(m, rcpt);
        if (m->rc == MERR_OK)
            m->rc = MERR_TEMPFAIL;
        return;
    }
    if (data && data->code >= 200 && data->code < 300) {
        from_status(m, data);
        return;
    }
    if (data && data->code >= 400 && data->code < 600) {
        from_status(m, data);
        return;
    }
    unfinished(s, m, err, "DATA");
}

/* ---- one session -------------------------------------------------------- */

/*
 * One session (one connection) for `n` messages. Every message gets its
 * outcome and is reported: early from event_cb, the rest here at the end.
 * `*stopped` is set if the caller's callback asked to stop.
 */
static enum merr run_session(struct transport_smtp *t, struct transport_msg *msgs, size_t n,
                             const struct transport_hooks *hooks, int *stopped)
{
    enum merr rc = MERR_OK;
    struct session_state s;
    struct session_msg *sm = NULL;
    smtp_session_t session = NULL;
    auth_context_t auth = NULL;
    size_t count = 0;
    int err = 0;
    static const int phases[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA, Timeout_TRANSFER,
                                 Timeout_DATA2};

    memset(&s, 0, sizeof s);
    s.t = t;
    s.hooks = hooks;
    transport_sock_init(&s.sock);
    verify_err[0] = '\0';
    sm = calloc(n, sizeof *sm);
    session = smtp_create_session();
    if (!sm || !session) {
        rc = merr_set(MERR_NOMEM, "smtp: out of memory");
        goto out;
    }
    s.msgs = sm;
    s.nmsgs = n;
    if (!smtp_set_server(session, t->hostport) || !smtp_set_hostname(session, t->helo) ||
        !smtp_set_eventcb(session, event_cb, &s)) {
        rc = merr_set(MERR_NOMEM, "smtp: cannot set up the session");
        goto out;
    }
    for (size_t i = 0; i < sizeof phases / sizeof *phases; i++)
        smtp_set_timeout(session, phases[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, t->command_ms);
    if (t->tls == CFG_TLS_NONE) {
        smtp_starttls_enable(session, Starttls_DISABLED);
    } else {
        smtp_starttls_enable(session,
                             t->tls == CFG_TLS_REQUIRED ? Starttls_REQUIRED : Starttls_ENABLED);
        smtp_starttls_set_ctx(session, t->ssl);
    }
    /* Reading side only; see the top of the file. */
    smtp_set_monitorcb(session, monitor_cb, &s, 0);
    if (t->user) {
        auth = auth_create_context();
        if (!auth) {
            rc = merr_set(MERR_NOMEM, "smtp: cannot create the AUTH context");
            goto out;
        }
        auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
        auth_set_interact_cb(auth, interact_cb, &s);
        s.auth = auth;
        if (credentials_may_go(&s)) /* tls = none to loopback; else after STARTTLS */
            smtp_auth_set_context(session, auth);
    }
    for (size_t i = 0; i < n; i++) {
        struct transport_msg *m = &msgs[i];
        struct session_msg *x = &sm[i];
        x->s = &s;
        x->out = m;
        if (transport_msg_lazy(hooks, m) ? transport_msg_check_envelope(m) : transport_msg_check(m))
            continue;
        x->m = smtp_add_message(session);
        if (!x->m || !smtp_set_reverse_path(x->m, m->mail_from) ||
            !(x->r = smtp_add_recipient(x->m, m->rcpt)) ||
            !smtp_set_messagecb(x->m, message_cb, x)) {
            rc = merr_set(MERR_NOMEM, "smtp: cannot add a message");
            goto out;
        }
        smtp_message_set_application_data_release(x->m, x, NULL);
        /* RFC 3461 sections 4.1-4.4; sent only if the server offers DSN */
        smtp_dsn_set_ret(x->m, Ret_HDRS);
        if (m->envid)
            smtp_dsn_set_envid(x->m, m->envid);
        smtp_dsn_set_notify(x->r, Notify_FAILURE | Notify_DELAY);
        x->added = 1;
        count++;
    }
    if (count == 0)
        goto out;

    transport_sock_begin(&s.sock, t->connect_ms);
    s.last_ms = now_ms();
    smtp_start_session(session); /* 1 even after a dropped connection */
    err = smtp_errno();
    s.silence_ms = now_ms() - s.last_ms;
    transport_sock_end(&s.sock);

    for (size_t i = 0; i < n; i++) {
        transport_msg_release(hooks, &msgs[i]); /* a transfer cut short */
        if (sm[i].added && !sm[i].reported)
            outcome(&s, &sm[i], err);
    }
out:
    if (rc)
        for (size_t i = 0; i < n; i++)
            if ((!sm || !sm[i].reported) && msgs[i].rc == MERR_OK && msgs[i].code == 0)
                transport_outcome(&msgs[i], MERR_TEMPFAIL, 0, "%s", merr_msg());
    /* the rest, in order; a stop asked now has nothing left to stop */
    for (size_t i = 0; i < n; i++)
        if (!sm || !sm[i].reported)
            if (transport_report(hooks, &msgs[i]) != 0)
                s.stopped = 1;
    *stopped = s.stopped;
    if (session)
        smtp_destroy_session(session);
    if (auth)
        auth_destroy_context(auth);
    free(sm);
    return rc;
}

static enum merr smtp_send(void *impl, struct transport_msg *msgs, size_t n,
                           const struct transport_hooks *hooks)
{
    struct transport_smtp *t = impl;
    enum merr rc = MERR_OK, r;
    int stopped = 0;

    for (size_t i = 0; i < n; i++) {
        msgs[i].rc = MERR_OK;
        msgs[i].code = 0;
        msgs[i].text[0] = '\0';
    }
    for (size_t off = 0; off < n; off += t->per_conn) {
        size_t k = n - off < t->per_conn ? n - off : t->per_conn;
        if (stopped) {
            /* later connections of a stopped batch are never opened */
            for (size_t i = off; i < off + k; i++) {
                skip(&msgs[i]);
                transport_report(hooks, &msgs[i]);
            }
            continue;
        }
        r = run_session(t, msgs + off, k, hooks, &stopped);
        if (r && !rc)
            rc = r;
    }
    return rc;
}

const struct transport_ops transport_smtp_ops = {"smtp://", smtp_open, smtp_send, smtp_close};
