/*
 * test_transport.c: the dir transport (exact bytes, atomic, idempotent,
 * write errors, the per-message callback), the checks every message passes before any I/O (address
 * injection, line ends, required headers), and what transport_open refuses
 * (smtps://, tls = none off loopback, IPv6 literals). The SMTP conversation
 * itself is tested against a real server in tests/transport/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "testutil.h"
#include "transport.h"
#include "transport_int.h"

static const char MSG[] = "Date: Thu, 26 Nov 2026 10:00:00 +0700\r\n"
                          "From: =?UTF-8?Q?B=C3=A1o?= <news@example.org>\r\n"
                          "To: reader@example.net\r\n"
                          "Subject: test\r\n"
                          "Message-ID: <1.abc@example.org>\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "\r\n"
                          "Xin ch\xc3\xa0o\r\n"
                          ".\r\n"
                          "..two dots\r\n"
                          "end\r\n";

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = value ? strdup(value) : NULL;
}

static void msg_init(struct transport_msg *m, long long id, const char *data)
{
    memset(m, 0, sizeof *m);
    m->envelope_id = id;
    m->mail_from = "bounces+abc@example.org";
    m->rcpt = "reader@example.net";
    m->envid = "env-1";
    m->data = data;
    m->len = strlen(data);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void dir_writes_exact_bytes_atomically(void **state)
{
    struct config cfg;
    struct transport *t;
    struct transport_msg m[3];
    char dir[600], spec[700], path[800];
    struct buf b;
    (void)state;

    snprintf(dir, sizeof dir, "%s/new/outbox", test_tmpdir("transport-dir"));
    snprintf(spec, sizeof spec, "dir:%s", dir);
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    set_str(&cfg.transport, spec);
    assert_int_equal(transport_open(&cfg, &t), MERR_OK); /* creates the folder */
    msg_init(&m[0], 41, MSG);
    msg_init(&m[1], 42, MSG);
    msg_init(&m[2], 43, MSG);
    m[2].rcpt = "evil@example.net>\r\nRCPT TO:<x@example.com";
    assert_int_equal(transport_send(t, m, 3, NULL), MERR_OK);
    assert_int_equal(m[0].rc, MERR_OK);
    assert_int_equal(m[0].code, 250);
    assert_int_equal(m[1].rc, MERR_OK);
    assert_int_equal(m[2].rc, MERR_PERMFAIL);
    assert_string_equal(m[2].text, "invalid recipient address");

    snprintf(path, sizeof path, "%s/41.eml", dir);
    buf_init(&b, 0);
    assert_int_equal(buf_read_file(&b, path), MERR_OK);
    assert_int_equal(b.len, strlen(MSG));
    assert_memory_equal(b.data, MSG, b.len);
    buf_free(&b);
    assert_int_equal(count_entries(dir, ".tmp"), 0);
    assert_int_equal(count_entries(dir, "43"), 0);
    assert_int_equal(count_entries(dir, "4"), 2);

    /* the same envelope again replaces its file: no duplicate */
    assert_int_equal(transport_send(t, m, 1, NULL), MERR_OK);
    assert_int_equal(m[0].rc, MERR_OK);
    assert_int_equal(count_entries(dir, "4"), 2);
    transport_close(t);
    cfg_free(&cfg);
}

/* What the callback saw: each message once, with its file already there. */
struct seen {
    const char *dir;
    int calls;
    long long ids[8];
    enum merr rcs[8];
    int file_there[8];
};

static int seen_cb(void *arg, struct transport_msg *m)
{
    struct seen *s = arg;
    char path[800];
    if (s->calls < 8) {
        snprintf(path, sizeof path, "%s/%lld.eml", s->dir, m->envelope_id);
        s->ids[s->calls] = m->envelope_id;
        s->rcs[s->calls] = m->rc;
        s->file_there[s->calls] = access(path, F_OK) == 0;
    }
    s->calls++;
    return 1; /* asking to stop changes nothing once everything is written */
}

static void dir_callback_once_per_message_after_the_write(void **state)
{
    struct config cfg;
    struct transport *t;
    struct transport_msg m[3];
    char dir[600], spec[700];
    struct seen s;
    (void)state;

    snprintf(dir, sizeof dir, "%s/cb", test_tmpdir("transport-dir-cb"));
    snprintf(spec, sizeof spec, "dir:%s", dir);
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    set_str(&cfg.transport, spec);
    assert_int_equal(transport_open(&cfg, &t), MERR_OK);
    msg_init(&m[0], 7, MSG);
    msg_init(&m[1], 8, MSG);
    msg_init(&m[2], 9, "no header separator\r\n");
    memset(&s, 0, sizeof s);
    s.dir = dir;
    struct transport_hooks hooks = {.done = seen_cb, .arg = &s};
    assert_int_equal(transport_send(t, m, 3, &hooks), MERR_OK);
    assert_int_equal(s.calls, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s.ids[i], 7 + i);
        assert_int_equal(s.rcs[i], m[i].rc);
        assert_int_equal(m[i].skipped, 0);
    }
    assert_int_equal(m[0].rc, MERR_OK);
    assert_int_equal(m[1].rc, MERR_OK);
    assert_int_equal(m[2].rc, MERR_PERMFAIL);
    assert_true(s.file_there[0] && s.file_there[1]);
    assert_false(s.file_there[2]);
    assert_int_equal(count_entries(dir, "7.eml") + count_entries(dir, "8.eml"), 2);
    transport_close(t);
    cfg_free(&cfg);
}

/* A message source for the load/release hooks: MSG, or a failure for one id. */
struct source {
    int loads, releases, live, max_live;
    long long fail_id;
    long long order[16]; /* +id at load, -id at release */
    int norder;
};

static enum merr src_load(void *arg, struct transport_msg *m)
{
    struct source *s = arg;
    assert_null(m->data);
    if (s->norder < 16)
        s->order[s->norder++] = m->envelope_id;
    s->loads++;
    if (m->envelope_id == s->fail_id)
        return merr_set(MERR_TEMPFAIL, "render of %lld failed", m->envelope_id);
    if (++s->live > s->max_live)
        s->max_live = s->live;
    m->data = MSG;
    m->len = strlen(MSG);
    return MERR_OK;
}

static void src_release(void *arg, struct transport_msg *m)
{
    struct source *s = arg;
    assert_ptr_equal(m->data, MSG);
    if (s->norder < 16)
        s->order[s->norder++] = -m->envelope_id;
    s->releases++;
    s->live--;
}

static void dir_loads_each_message_when_written(void **state)
{
    struct config cfg;
    struct transport *t;
    struct transport_msg m[3];
    char dir[600], spec[700], path[800];
    struct source src;
    struct buf b;
    (void)state;

    snprintf(dir, sizeof dir, "%s/lazy", test_tmpdir("transport-dir-lazy"));
    snprintf(spec, sizeof spec, "dir:%s", dir);
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    set_str(&cfg.transport, spec);
    assert_int_equal(transport_open(&cfg, &t), MERR_OK);
    for (int i = 0; i < 3; i++) {
        msg_init(&m[i], 20 + i, MSG);
        m[i].data = NULL; /* from the hooks */
        m[i].len = 0;
    }
    m[2].rcpt = "bad address@example.net"; /* refused before any load */
    memset(&src, 0, sizeof src);
    src.fail_id = 21;
    struct transport_hooks hooks = {.arg = &src, .load = src_load, .release = src_release};
    assert_int_equal(transport_send(t, m, 3, &hooks), MERR_OK);
    /* 20 loaded, written, released; 21's load failed (nothing to release); 22 never loaded */
    assert_int_equal(src.loads, 2);
    assert_int_equal(src.releases, 1);
    assert_int_equal(src.max_live, 1);
    assert_int_equal(src.norder, 3);
    assert_true(src.order[0] == 20 && src.order[1] == -20 && src.order[2] == 21);
    assert_int_equal(m[0].rc, MERR_OK);
    assert_null(m[0].data);
    assert_int_equal(m[1].rc, MERR_TEMPFAIL);
    assert_int_equal(m[1].code, 0);
    assert_string_equal(m[1].text, "message not available: render of 21 failed");
    assert_int_equal(m[2].rc, MERR_PERMFAIL);
    assert_string_equal(m[2].text, "invalid recipient address");
    snprintf(path, sizeof path, "%s/20.eml", dir);
    buf_init(&b, 0);
    assert_int_equal(buf_read_file(&b, path), MERR_OK);
    assert_int_equal(b.len, strlen(MSG));
    assert_memory_equal(b.data, MSG, b.len);
    buf_free(&b);
    assert_int_equal(count_entries(dir, "21.eml") + count_entries(dir, "22.eml"), 0);
    transport_close(t);
    cfg_free(&cfg);
}

static void dir_write_error_is_tempfail_with_errno_text(void **state)
{
    struct config cfg;
    struct transport *t;
    struct transport_msg m;
    char dir[600], spec[700], cmd[1400];
    (void)state;

    snprintf(dir, sizeof dir, "%s/out", test_tmpdir("transport-direrr"));
    snprintf(spec, sizeof spec, "dir:%s", dir);
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    set_str(&cfg.transport, spec);
    assert_int_equal(transport_open(&cfg, &t), MERR_OK);
    /* the folder is replaced by a file: every write fails (ENOTDIR), as
     * it would on a full disk, and even as root */
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && touch '%s'", dir, dir);
    assert_int_equal(system(cmd), 0);
    msg_init(&m, 7, MSG);
    assert_int_equal(transport_send(t, &m, 1, NULL), MERR_OK);
    assert_int_equal(m.rc, MERR_TEMPFAIL);
    assert_non_null(strstr(m.text, "Not a directory"));
    transport_close(t);

    /* and at open, a path that cannot be a folder is a config error */
    assert_int_equal(transport_open(&cfg, &t), MERR_CONFIG);
    assert_non_null(strstr(merr_msg(), "out"));
    cfg_free(&cfg);
}

static void message_checks_refuse_before_any_io(void **state)
{
    struct config cfg;
    struct transport *t;
    struct transport_msg m;
    char spec[700];
    (void)state;

    snprintf(spec, sizeof spec, "dir:%s", test_tmpdir("transport-check"));
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    set_str(&cfg.transport, spec);
    assert_int_equal(transport_open(&cfg, &t), MERR_OK);

    static const struct {
        const char *from, *rcpt, *envid, *data, *text;
    } cases[] = {
        {"a@example.org", "x@example.net\r\nDATA", NULL, MSG, "invalid recipient address"},
        {"a@example.org", "x y@example.net", NULL, MSG, "invalid recipient address"},
        {"a@example.org", "<x@example.net>", NULL, MSG, "invalid recipient address"},
        {"a@example.org", "ng\xc6\xb0\xe1\xbb\x9di@example.net", NULL, MSG,
         "invalid recipient address"},
        {"a@example.org", "noat.example.net", NULL, MSG, "invalid recipient address"},
        {"a@example.org\n", "x@example.net", NULL, MSG, "invalid sender address"},
        {"a@example.org", "x@example.net", "id with space", MSG, "invalid DSN envelope id"},
        {"a@example.org", "x@example.net", NULL,
         "Date: x\r\nFrom: a@example.org\r\nMessage-ID: <1@x>\r\n\r\nbare\nLF\r\n",
         "message has a bare LF (CRLF line ends needed)"},
        {"a@example.org", "x@example.net", NULL,
         "Date: x\r\nFrom: a@example.org\r\nMessage-ID: <1@x>\r\n\r\nbare\rCR\r\n",
         "message has a bare CR"},
        {"a@example.org", "x@example.net", NULL, "Date: x\r\nFrom: a@example.org\r\n",
         "message has no header/body separator"},
        {"a@example.org", "x@example.net", NULL, "From: a@example.org\r\n\r\nhi\r\n",
         "message lacks a Date, From or Message-ID header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        msg_init(&m, 100 + (long long)i, cases[i].data);
        m.mail_from = cases[i].from;
        m.rcpt = cases[i].rcpt;
        m.envid = cases[i].envid;
        assert_int_equal(transport_send(t, &m, 1, NULL), MERR_OK);
        if (m.rc != MERR_PERMFAIL || strcmp(m.text, cases[i].text) != 0)
            fail_msg("case %zu: rc %d text \"%s\"", i, m.rc, m.text);
        assert_int_equal(m.code, 0);
    }
    transport_close(t);
    cfg_free(&cfg);
}

/* The data check's rule, byte by byte: CR only before LF, LF only after CR, no NUL. */
static int crlf_clean_ref(const unsigned char *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i] == 0)
            return 0;
        if (d[i] == '\r' && (i + 1 == n || d[i + 1] != '\n'))
            return 0;
        if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
            return 0;
    }
    return 1;
}

/* The one-pass check (16 bytes at a time) says what the byte-by-byte rule
 * says: every defect at every place around the blocks' edges, and random
 * bytes drawn mostly from CR, LF and NUL. */
static void crlf_check_matches_the_rule(void **state)
{
    unsigned char b[100];
    static const unsigned char alphabet[] = {'a', '\r', '\n', '\r', '\n', 0, 0xc3, ' '};
    unsigned seed = 12345;
    (void)state;

    /* clean CRLF text, then one defect at each place */
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = i % 5 == 3 ? '\r' : i % 5 == 4 ? '\n' : 'x';
    assert_int_equal(transport_crlf_clean(b, sizeof b), 1);
    for (size_t at = 0; at < sizeof b; at++) {
        static const unsigned char defects[] = {'\r', '\n', 0, 'y'};
        for (size_t k = 0; k < sizeof defects; k++) {
            unsigned char keep = b[at];
            b[at] = defects[k];
            for (size_t n = 0; n <= sizeof b; n++)
                if (transport_crlf_clean(b, n) != crlf_clean_ref(b, n))
                    fail_msg("byte %zu set to %d, length %zu: %d, the rule says %d", at, defects[k],
                             n, transport_crlf_clean(b, n), crlf_clean_ref(b, n));
            b[at] = keep;
        }
    }
    for (int round = 0; round < 200000; round++) {
        size_t n;
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % 70;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            /* mostly CRLF pairs, so that clean inputs come up too */
            b[i] = (seed >> 16) % 4 ? (i % 2 ? '\n' : '\r') : alphabet[(seed >> 20) % 8];
        }
        if (transport_crlf_clean(b, n) != crlf_clean_ref(b, n))
            fail_msg("round %d, length %zu: %d, the rule says %d", round, n,
                     transport_crlf_clean(b, n), crlf_clean_ref(b, n));
    }
}

static void address_rules(void **state)
{
    (void)state;
    assert_true(transport_address_ok("bounces+AbC_1-2.x=y@mail.example.org"));
    assert_true(transport_address_ok("a@xn--bo-mia.vn"));
    assert_false(transport_address_ok(""));
    assert_false(transport_address_ok("@example.org"));
    assert_false(transport_address_ok("a@"));
    assert_false(transport_address_ok("a@b@c"));
    assert_false(transport_address_ok("a\t@example.org"));
    assert_false(transport_address_ok("a@example.org\r"));
    assert_false(transport_address_ok("a@example.org> NOTIFY=NEVER"));
    assert_false(transport_address_ok(NULL));
}

static void open_refusals(void **state)
{
    struct config cfg;
    struct transport *t = NULL;
    (void)state;

    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    set_str(&cfg.smtp_helo, "mailer.test.example");
    set_str(&cfg.transport, "smtps://mail.example.org:465");
    assert_int_equal(transport_open(&cfg, &t), MERR_CONFIG);
    assert_null(t);
    assert_non_null(strstr(merr_msg(), "smtps:// (implicit TLS) is not supported by libESMTP "
                                       "1.1.0; use smtp://host:587 with [smtp] tls = required "
                                       "(STARTTLS)"));

    set_str(&cfg.transport, "smtp://mail.example.org:25");
    cfg.smtp_tls = CFG_TLS_NONE;
    assert_int_equal(transport_open(&cfg, &t), MERR_CONFIG);
    assert_non_null(strstr(merr_msg(), "tls = none: refused for \"mail.example.org\""));
    set_str(&cfg.transport, "smtp://10.0.0.1:25");
    assert_int_equal(transport_open(&cfg, &t), MERR_CONFIG);

    /* loopback may go without TLS */
    const char *loop[] = {"smtp://127.0.0.1:25", "smtp://127.9.9.9:2525", "smtp://localhost:25"};
    for (size_t i = 0; i < 3; i++) {
        set_str(&cfg.transport, loop[i]);
        assert_int_equal(transport_open(&cfg, &t), MERR_OK);
        transport_close(t);
    }

    set_str(&cfg.transport, "smtp://[::1]:25");
    assert_int_equal(transport_open(&cfg, &t), MERR_CONFIG);
    assert_non_null(strstr(merr_msg(), "IPv6 literals"));

    cfg.smtp_tls = CFG_TLS_REQUIRED;
    set_str(&cfg.transport, "smtp://mail.example.org:587");
    set_str(&cfg.smtp_ca_file, "/nonexistent/ca.pem");
    assert_int_equal(transport_open(&cfg, &t), MERR_CONFIG);
    assert_non_null(strstr(merr_msg(), "ca_file"));
    set_str(&cfg.smtp_ca_file, NULL);

    /* EHLO: a fully qualified name or an address literal (RFC 5321 §4.1.1.1) */
    cfg.smtp_tls = CFG_TLS_NONE;
    set_str(&cfg.transport, "smtp://127.0.0.1:25");
    {
        const char *bad[] = {"bad helo",           "vm",
                             "localhost",          "mail.",
                             ".example.org",       "a..example.org",
                             "-a.example.org",     "a-.example.org",
                             "mail_1.example.org", "[]",
                             "tin-tức.example"};
        const char *good[] = {"mail.example.org", "a.b", "MX-1.Hagiang.example", "[192.0.2.1]",
                              "[IPv6:2001:db8::1]"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            set_str(&cfg.smtp_helo, bad[i]);
            assert_int_equal(transport_open(&cfg, &t), MERR_CONFIG);
            if (!strstr(merr_msg(), "not a fully qualified domain name"))
                fail_msg("helo \"%s\": %s", bad[i], merr_msg());
        }
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            set_str(&cfg.smtp_helo, good[i]);
            if (transport_open(&cfg, &t) != MERR_OK)
                fail_msg("helo \"%s\": %s", good[i], merr_msg());
            transport_close(t);
        }
    }
    set_str(&cfg.smtp_helo, NULL);
    {
        /* unset: the machine's FQDN, or a refusal that says what to set */
        char host[256] = "";
        struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *ai = NULL;
        gethostname(host, sizeof host);
        if (!strchr(host, '.') && getaddrinfo(host, NULL, &hints, &ai) == 0 && ai->ai_canonname)
            snprintf(host, sizeof host, "%s", ai->ai_canonname);
        if (ai)
            freeaddrinfo(ai);
        if (strchr(host, '.')) {
            assert_int_equal(transport_open(&cfg, &t), MERR_OK);
            transport_close(t);
        } else {
            assert_int_equal(transport_open(&cfg, &t), MERR_CONFIG);
            assert_non_null(strstr(merr_msg(), "set [smtp] helo"));
            assert_non_null(strstr(merr_msg(), host));
        }
    }

    set_str(&cfg.transport, "ftp://x");
    assert_int_equal(transport_open(&cfg, &t), MERR_CONFIG);
    cfg_free(&cfg);
}

/* A listening socket that never accepts: proves no connection was made. */
static int listener(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void smtp_injection_refused_before_network(void **state)
{
    struct config cfg;
    struct transport *t;
    struct transport_msg m[2];
    char spec[64];
    int port, fd;
    (void)state;

    fd = listener(&port);
    snprintf(spec, sizeof spec, "smtp://127.0.0.1:%d", port);
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    set_str(&cfg.transport, spec);
    set_str(&cfg.smtp_helo, "mailer.test.example");
    cfg.smtp_tls = CFG_TLS_NONE;
    assert_int_equal(transport_open(&cfg, &t), MERR_OK);
    msg_init(&m[0], 1, MSG);
    m[0].rcpt = "x@example.net>\r\nRCPT TO:<victim@example.com";
    msg_init(&m[1], 2, MSG);
    m[1].mail_from = "a@example.org\r\nRSET";
    assert_int_equal(transport_send(t, m, 2, NULL), MERR_OK);
    assert_int_equal(m[0].rc, MERR_PERMFAIL);
    assert_string_equal(m[0].text, "invalid recipient address");
    assert_int_equal(m[1].rc, MERR_PERMFAIL);
    assert_string_equal(m[1].text, "invalid sender address");
    assert_true(accept(fd, NULL, NULL) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    close(fd);
    transport_close(t);
    cfg_free(&cfg);
}

static void smtp_closed_port_is_tempfail(void **state)
{
    struct config cfg;
    struct transport *t;
    struct transport_msg m;
    char spec[64];
    int port, fd;
    (void)state;

    fd = listener(&port);
    close(fd); /* nobody listens there any more */
    snprintf(spec, sizeof spec, "smtp://127.0.0.1:%d", port);
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    set_str(&cfg.transport, spec);
    set_str(&cfg.smtp_helo, "mailer.test.example");
    cfg.smtp_tls = CFG_TLS_NONE;
    assert_int_equal(transport_open(&cfg, &t), MERR_OK);
    msg_init(&m, 1, MSG);
    assert_int_equal(transport_send(t, &m, 1, NULL), MERR_OK);
    assert_int_equal(m.rc, MERR_TEMPFAIL);
    assert_int_equal(m.code, 0);
    assert_non_null(strstr(m.text, "connect to 127.0.0.1:"));
    assert_non_null(strstr(m.text, "refused"));
    transport_close(t);
    cfg_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dir_writes_exact_bytes_atomically),
        cmocka_unit_test(dir_callback_once_per_message_after_the_write),
        cmocka_unit_test(dir_write_error_is_tempfail_with_errno_text),
        cmocka_unit_test(message_checks_refuse_before_any_io),
        cmocka_unit_test(address_rules),
        cmocka_unit_test(crlf_check_matches_the_rule),
        cmocka_unit_test(dir_loads_each_message_when_written),
        cmocka_unit_test(open_refusals),
        cmocka_unit_test(smtp_injection_refused_before_network),
        cmocka_unit_test(smtp_closed_port_is_tempfail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
