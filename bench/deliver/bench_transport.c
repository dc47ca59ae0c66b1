/*
 * bench_transport.c: the SMTP transport alone, as the delivery workers
 * drive it: C threads, each with its own transport (its own connections),
 * each rendering its batch of personalized ~SIZE byte messages in memory
 * (shared base64 "photo" part encoded once, personal headers and greeting
 * per message) and handing the batch to transport_send(), which carries it
 * over one connection.
 *
 *   bench_transport HOST:PORT MESSAGES CONNECTIONS SIZE PER_CONNECTION
 *
 * Prints "msgs N seconds S msgs_per_s R mb_per_s M peak_rss_mb P failed F".
 * Memory stays at C x PER_CONNECTION messages, as in the real pipeline.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config.h"
#include "transport.h"

static char *shared_part; /* the encoded photo, CRLF lines of 76 chars */
static size_t shared_len;
static const char *target;
static long total, per_conn, msg_size;
static atomic_long next_msg, failed, bytes_sent;

static void make_shared(size_t size)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t lines = size / 78 + 1;
    char *p = shared_part = malloc(lines * 78 + 1);
    unsigned x = 2463534242u;
    for (size_t l = 0; l < lines; l++) {
        for (int i = 0; i < 76; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            *p++ = b64[x & 63];
        }
        *p++ = '\r';
        *p++ = '\n';
    }
    shared_len = (size_t)(p - shared_part);
}

static size_t render(char *out, size_t cap, long n)
{
    int h = snprintf(out, cap,
                     "Date: Thu, 26 Nov 2026 10:00:00 +0700\r\n"
                     "From: =?UTF-8?Q?B=C3=A1o_T=E1=BB=89nh?= <news@news.example.org>\r\n"
                     "To: reader%ld@example.net\r\n"
                     "Subject: =?UTF-8?B?VGluIG3hu5tpIHRyb25nIHR14bqnbg==?=\r\n"
                     "Message-ID: <%ld.bench@news.example.org>\r\n"
                     "MIME-Version: 1.0\r\n"
                     "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
                     "\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                     "Xin ch=C3=A0o b=E1=BA=A1n %ld\r\n\r\n--b1\r\n"
                     "Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                     n, n, n);
    size_t body = (size_t)msg_size > (size_t)h + 16 ? (size_t)msg_size - (size_t)h - 16 : 78;
    body -= body % 78;
    if (body > shared_len)
        body = shared_len;
    memcpy(out + h, shared_part, body);
    memcpy(out + h + body, "--b1--\r\n", 8);
    (void)cap;
    return (size_t)h + body + 8;
}

static void *worker(void *arg)
{
    struct config *cfg = arg;
    struct transport *t;
    struct transport_msg *msgs = calloc((size_t)per_conn, sizeof *msgs);
    char **bufs = calloc((size_t)per_conn, sizeof *bufs);
    char(*rcpt)[64] = calloc((size_t)per_conn, 64);
    size_t cap = (size_t)msg_size + 4096;

    if (transport_open(cfg, &t)) {
        fprintf(stderr, "transport_open: %s\n", merr_msg());
        exit(1);
    }
    for (long i = 0; i < per_conn; i++)
        bufs[i] = malloc(cap);
    for (;;) {
        long first = atomic_fetch_add(&next_msg, per_conn);
        long k = first >= total ? 0 : (total - first < per_conn ? total - first : per_conn);
        if (k == 0)
            break;
        for (long i = 0; i < k; i++) {
            struct transport_msg *m = &msgs[i];
            memset(m, 0, sizeof *m);
            snprintf(rcpt[i], 64, "reader%ld@example.net", first + i);
            m->envelope_id = first + i + 1;
            m->mail_from = "bounces+t0k3n@news.example.org";
            m->rcpt = rcpt[i];
            m->data = bufs[i];
            m->len = render(bufs[i], cap, first + i);
        }
        transport_send(t, msgs, (size_t)k, NULL);
        for (long i = 0; i < k; i++) {
            if (msgs[i].rc != MERR_OK) {
                if (atomic_fetch_add(&failed, 1) < 3)
                    fprintf(stderr, "failed: %d %s\n", msgs[i].code, msgs[i].text);
            } else {
                atomic_fetch_add(&bytes_sent, (long)msgs[i].len);
            }
        }
    }
    transport_close(t);
    for (long i = 0; i < per_conn; i++)
        free(bufs[i]);
    free(bufs);
    free(rcpt);
    free(msgs);
    return NULL;
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct timespec a, b;
    struct rusage ru;
    char spec[300];
    int conns;
    pthread_t *th;
    double secs;

    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST:PORT MESSAGES CONNECTIONS SIZE PER_CONNECTION\n", argv[0]);
        return 1;
    }
    target = argv[1];
    total = atol(argv[2]);
    conns = atoi(argv[3]);
    msg_size = atol(argv[4]);
    per_conn = atol(argv[5]);
    if (total <= 0 || conns <= 0 || msg_size < 1024 || per_conn <= 0)
        return 1;
    make_shared((size_t)msg_size);
    if (cfg_defaults(&cfg))
        return 1;
    snprintf(spec, sizeof spec, "smtp://%s", target);
    free(cfg.transport);
    cfg.transport = strdup(spec);
    cfg.smtp_tls = CFG_TLS_NONE; /* loopback sink without TLS, like smtp-source */
    cfg.smtp_helo = strdup("bench.hagiang.example");
    cfg.smtp_messages_per_connection = (int)per_conn;
    th = calloc((size_t)conns, sizeof *th);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < conns; i++)
        pthread_create(&th[i], NULL, worker, &cfg);
    for (int i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    getrusage(RUSAGE_SELF, &ru);
    printf("msgs %ld seconds %.3f msgs_per_s %.0f mb_per_s %.1f peak_rss_mb %.1f failed %ld\n",
           total, secs, (double)total / secs, (double)atomic_load(&bytes_sent) / secs / 1e6,
           (double)ru.ru_maxrss / 1024.0, atomic_load(&failed));
    free(th);
    free(shared_part);
    cfg_free(&cfg);
    return atomic_load(&failed) ? 2 : 0;
}
