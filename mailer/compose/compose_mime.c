/*
 * compose_mime.c: boundaries, quoted-printable bodies and image parts.
 *
 * Why not one libetpan tree per message: building the whole message with
 * mailmime_multiple_new / mailmime_smart_add_part / mailmime_write_mem was
 * measured on the digest shape (two QP text parts of 6 and 16 KB, six
 * already-encoded photos, 300 KB in all) at about 790 messages/s on one
 * core, because libetpan's writer walks every byte of every part, the
 * pre-encoded photos included, and QP-encodes byte by byte. The goal is
 * 20,000/s. So each image part (its fields and the pre-encoded base64) is
 * written once per plan, and compose.c copies those bytes into each
 * message. The envelope (headers, boundaries), the image parts' fields
 * and the QP text bodies are written here and in compose.c, with
 * boundaries derived from the Message-ID (a message is the same bytes
 * every time it is rendered) instead of libetpan's unseeded random().
 * (libetpan wrote the image parts once; it quotes every parameter value,
 * so it cannot write an RFC 2231 file name, see compose_image_part.)
 *
 * QP (RFC 2045 §6.7) is table-driven and writes straight into the reserved
 * buffer: worst case 3 output bytes per input byte plus a soft break per 25
 * encoded bytes, hence the 4n + 8 reservation.
 */
#include "compose_mime.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "utf8.h"

void compose_boundary(char out[COMPOSE_BOUNDARY_LEN], const char *message_id, const char *part)
{
    unsigned char h[CRYPTO_SHA256_LEN];
    char seed[512];
    int n = snprintf(seed, sizeof seed, "boundary:%s:%s", message_id ? message_id : "", part);
    crypto_sha256(h, seed, n < (int)sizeof seed ? (size_t)n : sizeof seed - 1);
    out[0] = '=';
    out[1] = '_';
    enc_hex(out + 2, h, 16);
}

/* 1: written as is (RFC 2045 §6.7 rule 2: 33-60, 62-126; space and tab handled apart). */
static const unsigned char qp_lit[256] = {
#define R8(x) x, x, x, x, x, x, x, x
    R8(0), R8(0), R8(0), R8(0),                         /* 0-31 */
    0,     1,     1,     1,     1,     1,     1,     1, /* 32-39: space handled apart */
    R8(1), R8(1),                                       /* 40-55 */
    1,     1,     1,     1,     1,     0,     1,     1, /* 56-63: '=' (61) encoded */
    R8(1), R8(1), R8(1),                                /* 64-87 */
    R8(1), R8(1),                                       /* 88-103 */
    R8(1), R8(1),                                       /* 104-119 */
    1,     1,     1,     1,     1,     1,     1,     0, /* 120-127: DEL encoded */
    R8(0), R8(0), R8(0), R8(0), R8(0), R8(0), R8(0), R8(0),
    R8(0), R8(0), R8(0), R8(0), R8(0), R8(0), R8(0), R8(0),
#undef R8
};

#define QP_LINE 76

/*
 * Per byte: its output (1 or 3 characters, padded to 4 so one fixed-size
 * copy writes it) and its width; width 0 marks the bytes that need the
 * careful path (space, tab, CR, LF). Vietnamese text is half non-ASCII
 * bytes, so the common path must not branch on the byte's class.
 */
struct qp_code {
    char b[4];
    unsigned char w;
};
static struct qp_code qp_tab[256];
static pthread_once_t qp_once = PTHREAD_ONCE_INIT;

static void qp_init(void)
{
    static const char hex[] = "0123456789ABCDEF";
    for (int c = 0; c < 256; c++) {
        struct qp_code *e = &qp_tab[c];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            e->w = 0;
        } else if (qp_lit[c]) {
            e->b[0] = (char)c;
            e->w = 1;
        } else {
            e->b[0] = '=';
            e->b[1] = hex[c >> 4];
            e->b[2] = hex[c & 15];
            e->w = 3;
        }
    }
}

/*
 * How many of the 8 bytes at `s` are plain from the first on: printable
 * ASCII but '=', space included (8: all). Word-at-a-time tests (a byte
 * below 0x20, above 0x7E, equal to '='); the lowest flagged byte is always
 * a true one (borrows and carries only run upwards), so on a little-endian
 * machine its position is the count. Elsewhere: 0, the byte path does it.
 */
static inline size_t qp_plain8(const unsigned char *s)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t x, y, m;
    memcpy(&x, s, 8);
    y = x ^ (ones * '=');
    m = ((x - ones * 0x20) & ~x) | (x + ones) | x | ((y - ones) & ~y);
    m &= high;
    return m ? (size_t)__builtin_ctzll(m) >> 3 : 8;
#else
    (void)s;
    return 0;
#endif
}

enum merr compose_qp(struct buf *out, const char *text, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)text;
    size_t col = 0;
    char *p;
    enum merr rc = buf_reserve(out, 4 * n + 8);
    if (rc)
        return rc;
    pthread_once(&qp_once, qp_init);
    p = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        const struct qp_code *e = &qp_tab[c];
        int lit;
        /*
         * Runs of plain ASCII mid-line (markup, Latin words) 8 bytes at a
         * time, copied as they are. A space that ends the run stays for the
         * byte path, which looks at what follows it; so do the line's last
         * 8 columns, where the soft break goes.
         */
        if (e->w == 1 && col && col + 8 <= QP_LINE - 1 && n - i >= 8) {
            size_t k = qp_plain8(s + i);
            if (k && s[i + k - 1] == ' ')
                k--;
            memcpy(p, s + i, 8); /* room: 4n + 8 reserved, i + 8 <= n */
            p += k;
            col += k;
            i += k;
            if (i >= n)
                break;
            c = s[i];
            e = &qp_tab[c];
        }
        /* Fast path: mid-line, an ordinary byte, room left before the soft break. */
        if (e->w && col && col + e->w <= QP_LINE - 1) {
            memcpy(p, e->b, 4);
            p += e->w;
            col += e->w;
            continue;
        }
        if (c == '\n' || (c == '\r' && i + 1 < n && s[i + 1] == '\n')) {
            if (c == '\r')
                i++;
            *p++ = '\r';
            *p++ = '\n';
            col = 0;
            continue;
        }
        lit = qp_lit[c];
        if (c == ' ' || c == '\t') /* literal unless it would end a line */
            lit = i + 1 < n && s[i + 1] != '\n' && s[i + 1] != '\r';
        else if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 && !memcmp(s + i, "From ", 5))))
            lit = 0;
        /* Keep room for the soft break's '=' (lines <= 76 with it). */
        if (col + (lit ? 1 : 3) > QP_LINE - 1) {
            *p++ = '=';
            *p++ = '\r';
            *p++ = '\n';
            col = 0;
            if (c == '.' || (c == 'F' && n - i >= 5 && !memcmp(s + i, "From ", 5)))
                lit = 0;
        }
        if (lit) {
            *p++ = (char)c;
            col++;
        } else {
            *p++ = '=';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
            col += 3;
        }
    }
    if (col > 0) {
        *p++ = '\r';
        *p++ = '\n';
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = 0;
    return MERR_OK;
}

/* One line of the memo's text (its '\n' included) and its encoding (its CRLF included). */
struct qp_line {
    size_t src, src_len, enc, enc_len;
};

struct compose_qp_memo {
    char *text;     /* the lines, as rendered */
    struct buf enc; /* their encodings, one after the other */
    struct qp_line *lines;
    size_t nlines;
};

enum merr compose_qp_memo_new(const char *text, size_t n, struct compose_qp_memo **out)
{
    struct compose_qp_memo *m = calloc(1, sizeof *m);
    size_t cap = 0;
    enum merr rc = MERR_OK;

    *out = NULL;
    if (!m)
        return merr_set(MERR_NOMEM, "out of memory");
    buf_init(&m->enc, 0);
    m->text = malloc(n + 1);
    if (!m->text) {
        compose_qp_memo_free(m);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    memcpy(m->text, text, n);
    m->text[n] = 0;
    /* the lines that end in '\n'; what follows the last one is encoded each time */
    for (size_t at = 0; at < n && !rc;) {
        const char *nl = memchr(text + at, '\n', n - at);
        size_t len;
        if (!nl)
            break;
        len = (size_t)(nl - (text + at)) + 1;
        if (m->nlines == cap) {
            struct qp_line *l;
            cap = cap ? cap * 2 : 64;
            l = realloc(m->lines, cap * sizeof *l);
            if (!l) {
                rc = merr_set(MERR_NOMEM, "out of memory");
                break;
            }
            m->lines = l;
        }
        m->lines[m->nlines].src = at;
        m->lines[m->nlines].src_len = len;
        m->lines[m->nlines].enc = m->enc.len;
        rc = compose_qp(&m->enc, text + at, len);
        m->lines[m->nlines].enc_len = m->enc.len - m->lines[m->nlines].enc;
        m->nlines++;
        at += len;
    }
    if (rc) {
        compose_qp_memo_free(m);
        return rc;
    }
    *out = m;
    return MERR_OK;
}

void compose_qp_memo_free(struct compose_qp_memo *memo)
{
    if (!memo)
        return;
    free(memo->text);
    buf_free(&memo->enc);
    free(memo->lines);
    free(memo);
}

enum merr compose_qp_with(struct buf *out, const char *text, size_t n,
                          const struct compose_qp_memo *memo)
{
    size_t next = 0; /* the memo's line expected next */
    enum merr rc;

    if (!memo)
        return compose_qp(out, text, n);
    /* compose_qp's own reservation, so that the same bodies hit the cap; no
     * line's own reservation can fail after it (at most 3.12 bytes out per
     * byte in, 4 reserved) */
    rc = buf_reserve(out, 4 * n + 8);
    if (rc)
        return rc;
    for (size_t at = 0; at < n && !rc;) {
        const char *line = text + at, *nl = memchr(line, '\n', n - at);
        size_t len = nl ? (size_t)(nl - line) + 1 : n - at, hit = memo->nlines;
        for (size_t k = next; k < memo->nlines && k < next + 3; k++) {
            const struct qp_line *l = &memo->lines[k];
            if (l->src_len == len && !memcmp(memo->text + l->src, line, len)) {
                hit = k;
                break;
            }
        }
        if (hit < memo->nlines) {
            rc = buf_append(out, memo->enc.data + memo->lines[hit].enc, memo->lines[hit].enc_len);
            next = hit + 1;
        } else {
            rc = compose_qp(out, line, len);
        }
        at += len;
    }
    return rc;
}

/* RFC 2231 §7 attribute-char that need no %XX (a conservative subset). */
static int fname_lit(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/*
 * The photo's file name as a reader should see it: the last path segment,
 * without control characters, at most FNAME_MAX bytes (cut between UTF-8
 * characters); "image" if nothing is left.
 */
#define FNAME_MAX 120

static void fname_clean(const char *in, char *out)
{
    const char *base = in ? in : "";
    size_t n = 0;
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    for (const char *p = base; *p && n < FNAME_MAX; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            continue;
        out[n++] = (char)c;
    }
    /* do not end inside a UTF-8 sequence */
    while (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0x80)
        n--;
    if (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0xC0)
        n--;
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = 0;
    if (n == 0 || !utf8_valid(out, n, NULL))
        snprintf(out, FNAME_MAX + 1, "image");
}

/*
 * Content-Disposition with the file name: filename="NAME" when NAME is
 * plain ASCII, else RFC 2231 §4 (charset utf-8, %XX) with §3 continuations
 * (filename*0*=, filename*1*=, ...) so no line passes 78 characters.
 */
static enum merr write_disposition(struct buf *out, const char *filename)
{
    static const char hex[] = "0123456789ABCDEF";
    char name[FNAME_MAX + 1];
    size_t n, k = 0;
    int plain = 1;
    enum merr rc;

    fname_clean(filename, name);
    n = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (!fname_lit((unsigned char)name[i]) && name[i] != ' ')
            plain = 0;
    if (plain && n <= 50)
        return buf_printf(out, "Content-Disposition: inline; filename=\"%s\"\r\n", name);
    rc = buf_puts(out, "Content-Disposition: inline;");
    for (size_t i = 0; !rc && i < n; k++) {
        char seg[80];
        size_t len = 0;
        /* one segment per line: " filename*K*=" + up to 54 characters */
        while (i < n && len + 3 <= 54) {
            unsigned char c = (unsigned char)name[i++];
            if (fname_lit(c)) {
                seg[len++] = (char)c;
            } else {
                seg[len++] = '%';
                seg[len++] = hex[c >> 4];
                seg[len++] = hex[c & 15];
            }
        }
        rc = buf_printf(out, "%s\r\n filename*%zu*=%s%.*s", k ? ";" : "", k, k ? "" : "utf-8''",
                        (int)len, seg);
    }
    if (!rc)
        rc = buf_puts(out, "\r\n");
    return rc;
}

/*
 * Written here, not by libetpan: libetpan quotes every parameter value it
 * writes, and an RFC 2231 extended value (filename*=utf-8''...) must not
 * be quoted (§7 grammar), so it could only give a mangled ASCII name.
 */
enum merr compose_image_part(struct buf *out, const char *content_type, const char *filename,
                             const char *cid, const char *b64, size_t len)
{
    size_t mark = out->len;
    enum merr rc;

    for (const char *c = content_type; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '/' || *c == '-' ||
              *c == '+' || *c == '.'))
            return merr_set(MERR_INVAL, "image content type \"%s\" is not a MIME type",
                            content_type);
    if (!strchr(content_type, '/'))
        return merr_set(MERR_INVAL, "image content type \"%s\" is not a MIME type", content_type);
    for (const char *c = cid; *c; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || *c == '<' || *c == '>')
            return merr_set(MERR_INVAL, "Content-ID \"%s\" has a space, bracket or non-ASCII", cid);
    rc = buf_printf(out,
                    "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
                    "Content-ID: <%s>\r\n",
                    content_type, cid);
    if (!rc)
        rc = write_disposition(out, filename);
    if (!rc)
        rc = buf_append(out, "\r\n", 2);
    /* Already MIME base64 (76-column CRLF lines): copied as is. */
    if (!rc)
        rc = buf_append(out, b64, len);
    if (rc)
        buf_truncate(out, mark);
    return rc;
}
