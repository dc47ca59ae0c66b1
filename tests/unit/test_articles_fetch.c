/*
 * test_articles_fetch.c: article images given by URL, fetched from a small
 * HTTP/1.0 server on loopback: redirects, scheme changes, oversize bodies
 * cut off while streaming, time-outs, and the addresses never fetched from
 * (loopback, private and link-local networks, on every redirect hop).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "articles.h"
#include "crypto.h"
#include "date.h"
#include "enc.h"
#include "media.h"
#include "articles_fx.h"
#include "testutil.h"
#include "utf8.h"

/* ---- fetching by URL: a small HTTP/1.0 server on loopback ------------------ */

struct server {
    int fd;
    int port;
    atomic_int stop; /* set by server_stop, read by the serving thread */
    pthread_t th;
    struct buf png;        /* logo.png */
    long long stream_sent; /* bytes of /stream written before the client left */
    int requests;          /* requests read */
};

static void send_all(int c, const void *p, size_t n)
{
    const char *q = p;
    while (n) {
        ssize_t k = send(c, q, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        q += k;
        n -= (size_t)k;
    }
}

static void respond(struct server *s, int c, const char *path)
{
    char head[512];
    if (!strcmp(path, "/photo.png") || !strncmp(path, "/photo.png?", 11)) {
        snprintf(head, sizeof head,
                 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                 s->png.len);
        send_all(c, head, strlen(head));
        send_all(c, s->png.data, s->png.len);
    } else if (!strcmp(path, "/redirect")) {
        snprintf(head, sizeof head,
                 "HTTP/1.0 302 Found\r\nLocation: http://127.0.0.1:%d/photo.png\r\n"
                 "Content-Length: 0\r\n\r\n",
                 s->port);
        send_all(c, head, strlen(head));
    } else if (!strcmp(path, "/loop")) {
        const char *r = "HTTP/1.0 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    } else if (!strcmp(path, "/to-file")) {
        const char *r = "HTTP/1.0 302 Found\r\nLocation: file:///etc/passwd\r\n"
                        "Content-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    } else if (!strcmp(path, "/big-declared")) {
        const char *r = "HTTP/1.0 200 OK\r\nContent-Length: 999999999\r\n\r\n";
        send_all(c, r, strlen(r));
        send_all(c, s->png.data, s->png.len);
    } else if (!strcmp(path, "/stream")) {
        /* no Content-Length: only the running count can stop this */
        static char chunk[65536];
        long long sent = 0;
        const char *r = "HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n";
        memcpy(chunk, s->png.data, 64);
        send_all(c, r, strlen(r));
        while (sent < (64LL << 20)) {
            ssize_t k = send(c, chunk, sizeof chunk, MSG_NOSIGNAL);
            if (k <= 0)
                break;
            sent += k;
        }
        s->stream_sent = sent;
    } else if (!strcmp(path, "/text.jpg")) {
        const char *r = "HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 5\r\n"
                        "\r\nhello";
        send_all(c, r, strlen(r));
    } else if (!strcmp(path, "/slow")) {
        sleep(2);
    } else if (!strcmp(path, "/broken")) {
        const char *r = "HTTP/1.0 503 Unavailable\r\nContent-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    } else {
        const char *r = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        char req[4096], path[1024];
        size_t n = 0;
        int c;
        if (poll(&p, 1, 50) <= 0)
            continue;
        c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        while (n < sizeof req - 1) {
            ssize_t k = recv(c, req + n, sizeof req - 1 - n, 0);
            if (k <= 0)
                break;
            n += (size_t)k;
            req[n] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[n] = '\0';
        s->requests++;
        if (sscanf(req, "GET %1023s ", path) == 1)
            respond(s, c, path);
        close(c);
    }
    return NULL;
}

static void server_start(struct server *s)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    char path[700];

    memset(s, 0, sizeof *s);
    atomic_init(&s->stop, 0);
    buf_init(&s->png, 0);
    snprintf(path, sizeof path, "%s/examples/articles/images/logo.png", test_source_dir());
    assert_int_equal(buf_read_file(&s->png, path), MERR_OK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    close(s->fd);
    buf_free(&s->png);
}

static void fetch_by_url(void **state)
{
    struct articles_fx *fx = *state;
    struct server srv;
    struct buf b;
    struct articles_fx_snapshot before, after;
    struct article *a;
    char url[256], json[1024];

    server_start(&srv);
    buf_init(&b, 0);
    fx->cfg.fetch_timeout_s = 1;
    fx->cfg.fetch_max_redirects = 3;
    /* loopback is refused unless listed (fetch_refuses_inside shows it) */
    free(fx->cfg.fetch_allow_nets);
    fx->cfg.fetch_allow_nets = strdup("127.0.0.0/8");

    snprintf(url, sizeof url, "http://127.0.0.1:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_OK);
    assert_int_equal(b.len, srv.png.len);
    assert_memory_equal(b.data, srv.png.data, b.len);
    buf_reset(&b);

    /* through a redirect, in an article: stored, named after the URL, typed by bytes */
    snprintf(json, sizeof json,
             "{\"id\": \"u\", \"url\": \"https://a.vn/u\", \"title\": \"U\", \"body_html\": "
             "\"x\", \"published_at\": \"2021-10-05T19:18:00+07:00\", \"images\": "
             "[{\"src\": \"http://127.0.0.1:%d/redirect\", \"caption\": \"Ảnh\"}]}",
             srv.port);
    assert_int_equal(articles_fx_add_text(fx, "u.json", json), MERR_OK);
    assert_int_equal(article_load(fx->db, "u", &a), MERR_OK);
    assert_int_equal(a->nimages, 1);
    assert_string_equal(a->images[0].content_type, "image/png");
    assert_string_equal(a->images[0].filename, "redirect.png");
    assert_int_equal(a->images[0].size, srv.png.len);
    assert_int_equal(a->images[0].width, 240);
    article_free(a);

    /* too many redirects; a redirect to file:; HTTP errors; not an image */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/loop", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    articles_fx_assert_msg("more than 3 redirects");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/to-file", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    articles_fx_assert_msg("redirected to a scheme other than http(s)");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    articles_fx_assert_msg("HTTP status 404");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/broken", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_TEMPFAIL);
    articles_fx_assert_msg("HTTP status 503");
    assert_int_equal(b.len, 0);

    /* over the cap: declared, and streamed without a length (cut while receiving) */
    fx->cfg.image_max_bytes = 100000;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big-declared", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_LIMIT);
    articles_fx_assert_msg("over the image size limit of 100000 bytes");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stream", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_LIMIT);
    articles_fx_assert_msg("over the image size limit of 100000 bytes");
    assert_int_equal(b.len, 0);

    /* each failure inside an article changes nothing */
    static const struct {
        const char *path;
        enum merr rc;
        const char *msg;
    } bad[] = {
        {"/stream", MERR_LIMIT, "over the image size limit of 100000 bytes"},
        {"/text.jpg", MERR_INVAL, "not an image"},
        {"/to-file", MERR_INVAL, "redirected to a scheme"},
        {"/missing", MERR_INVAL, "HTTP status 404"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(json, sizeof json,
                 "{\"id\": \"u\", \"url\": \"https://a.vn/u\", \"title\": \"U2\", \"body_html\": "
                 "\"x\", \"published_at\": \"2021-10-05T19:18:00+07:00\", \"images\": "
                 "[{\"src\": \"http://127.0.0.1:%d%s\"}]}",
                 srv.port, bad[i].path);
        articles_fx_snap(fx->db, &before);
        assert_int_equal(articles_fx_add_text(fx, "u.json", json), bad[i].rc);
        articles_fx_assert_msg("u.json: images[0].src: http://127.0.0.1:");
        articles_fx_assert_msg(bad[i].msg);
        articles_fx_snap(fx->db, &after);
        articles_fx_assert_unchanged(&before, &after);
    }
    /* time-out (last: the server sleeps on it and serves nobody else meanwhile) */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_TEMPFAIL);
    articles_fx_assert_msg("timed out after 1 s");
    server_stop(&srv);
    /* the streamed body was abandoned long before its 64 MiB were sent */
    assert_true(srv.stream_sent < (32LL << 20));

    /* nobody listening: temporary */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_TEMPFAIL);
    buf_free(&b);
}

/*
 * SSRF (issue 16 item 4): loopback, private, link-local and every other
 * spelling of them are refused before anything connects, on the first hop
 * and after a redirect, with one text whatever refused, and nothing reaches
 * the server; the allow-lists open exactly what they name.
 */
static void fetch_refuses_inside(void **state)
{
    struct articles_fx *fx = *state;
    struct server srv;
    struct buf b;
    char url[256], first[1024];
    static const char *const hosts[] = {
        "127.0.0.1",          "0x7f000001", "2130706433", "127.1",   "0177.0.0.1",
        "[::ffff:127.0.0.1]", "[::1]",      "localhost",  "0.0.0.0",
    };
    static const char *const inside[] = {
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/a.png",
        "http://192.168.1.1/a.png",
        "http://100.64.0.1/a.png",
        "http://172.16.0.1/a.png",
        "http://[fe80::1]/a.png",
        "http://[fd00::1]/a.png",
        "http://224.0.0.1/a.png",
    };

    server_start(&srv);
    buf_init(&b, 0);
    fx->cfg.fetch_timeout_s = 1;
    fx->cfg.fetch_max_redirects = 3;
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        snprintf(url, sizeof url, "http://%s:%d/photo.png", hosts[i], srv.port);
        assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
        articles_fx_assert_msg("not fetched: images are fetched only from public addresses");
        assert_int_equal(b.len, 0);
        /* the same words whatever the address: the text depends on the URL alone */
        if (i == 0)
            snprintf(first, sizeof first, "%s", merr_msg() + strlen(url));
        else
            assert_string_equal(merr_msg() + strlen(url), first);
    }
    for (size_t i = 0; i < sizeof inside / sizeof *inside; i++) {
        assert_int_equal(media_fetch(&fx->cfg, inside[i], &b), MERR_INVAL);
        assert_string_equal(merr_msg() + strlen(inside[i]), first);
    }
    /* a closed port answers as an open one: nothing to scan with */
    snprintf(url, sizeof url, "http://127.0.0.1:1/photo.png");
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_string_equal(merr_msg() + strlen(url), first);

    /* allowed inside by network: fetched; a redirect from there to another inside host is not */
    free(fx->cfg.fetch_allow_nets);
    fx->cfg.fetch_allow_nets = strdup("127.0.0.1/32");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_OK);
    assert_int_equal(b.len, srv.png.len);
    buf_reset(&b);
    snprintf(url, sizeof url, "http://127.0.0.2:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_string_equal(merr_msg() + strlen(url), first);

    /* a host list: only those names, on every hop (the redirect goes to 127.0.0.1) */
    free(fx->cfg.fetch_allow_hosts);
    fx->cfg.fetch_allow_hosts = strdup("cms.example.vn, LOCALHOST");
    snprintf(url, sizeof url, "http://localhost:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_OK);
    buf_reset(&b);
    snprintf(url, sizeof url, "http://localhost:%d/redirect", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_string_equal(merr_msg() + strlen(url), first);
    assert_int_equal(b.len, 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_string_equal(merr_msg() + strlen(url), first);
    server_stop(&srv);
    assert_int_equal(srv.requests, 3); /* the three allowed ones, nothing else */
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(fetch_by_url, articles_fx_setup,
                                                 articles_fx_teardown, "art-fetch"),
        cmocka_unit_test_prestate_setup_teardown(fetch_refuses_inside, articles_fx_setup,
                                                 articles_fx_teardown, "art-ssrf"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
