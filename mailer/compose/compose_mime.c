/*
 * compose_mime.c: boundaries, quoted-printable bodies and image parts.
 *
 * Why not one libetpan tree per message: building the whole message with
 * mailmime_multiple_new / mailmime_smart_add_part / mailmime_write_mem was
 * measured on the digest shape (two QP text parts of 6 and 16 KB, six
 * already-encoded photos, 300 KB in all) at about 790 messages/s on one
 * core, because libetpan's writer walks every byte of every part, the
 * pre-encoded photos included, and QP-encodes byte by byte. The goal is
 * 20,000/s. So libetpan stays where it helps and costs nothing per
 * recipient: it writes each image part (fields, Content-ID, disposition and
 * the pre-encoded base64 via mailmime_data_new_data(..., 1, ...)) once per
 * plan, and compose.c copies those bytes into each message. The envelope
 * (headers, boundaries) and the QP text bodies are written here and in
 * compose.c, with boundaries derived from the Message-ID (a message is the
 * same bytes every time it is rendered) instead of libetpan's unseeded
 * random().
 *
 * QP (RFC 2045 §6.7) is table-driven and writes straight into the reserved
 * buffer: worst case 3 output bytes per input byte plus a soft break per 25
 * encoded bytes, hence the 4n + 8 reservation.
 */
#include "compose_mime.h"

#include <libetpan/libetpan.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "enc.h"

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

/* Writes into a libetpan MMAPString and copies out: the pieces it owns are freed here. */
enum merr compose_image_part(struct buf *out, const char *content_type, const char *filename,
                             const char *cid, const char *b64, size_t len)
{
    struct mailmime_content *ct = NULL;
    struct mailmime_mechanism *mech = NULL;
    struct mailmime_disposition *disp = NULL;
    struct mailmime_fields *fields = NULL;
    struct mailmime *part = NULL, *parent = NULL, *owned = NULL;
    struct mailmime_data *data = NULL;
    MMAPString *s = NULL;
    char *fname = NULL, *id = NULL;
    int col = 0, r;
    enum merr rc = MERR_NOMEM;

    for (const char *c = content_type; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '/' || *c == '-' ||
              *c == '+' || *c == '.'))
            return merr_set(MERR_INVAL, "image content type \"%s\" is not a MIME type",
                            content_type);
    /* Filenames go out without RFC 2231 (LIBNOTES): keep them plain ASCII. */
    fname = strdup(filename && *filename ? filename : "image");
    id = strdup(cid);
    if (!fname || !id)
        goto out;
    for (char *c = fname; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-' || *c == '_'))
            *c = '_';
    ct = mailmime_content_new_with_str(content_type);
    if (!ct) {
        rc = merr_set(MERR_INVAL, "image content type \"%s\" refused by libetpan", content_type);
        goto out;
    }
    mech = mailmime_mechanism_new(MAILMIME_MECHANISM_BASE64, NULL);
    if (!mech)
        goto out;
    /* libetpan constructors own their arguments only when they succeed. */
    disp = mailmime_disposition_new_with_data(MAILMIME_DISPOSITION_TYPE_INLINE, fname, NULL, NULL,
                                              NULL, (size_t)-1);
    if (!disp)
        goto out;
    fname = NULL;
    fields = mailmime_fields_new_with_data(mech, id, NULL, disp, NULL);
    if (!fields)
        goto out;
    mech = NULL;
    id = NULL;
    disp = NULL;
    part = mailmime_new_empty(ct, fields);
    if (!part)
        goto out;
    ct = NULL;
    fields = NULL;
    /* Already encoded (the 1): written as is, never re-encoded. */
    data = mailmime_data_new_data(MAILMIME_MECHANISM_BASE64, 1, b64, len);
    if (!data)
        goto out;
    part->mm_data.mm_single = data;
    /*
     * libetpan writes a part's own fields only when it has a parent (a
     * top-level part is taken for a message body), so the part is hung in
     * a throwaway multipart, then written alone.
     */
    parent = mailmime_multiple_new("multipart/related");
    if (!parent)
        goto out;
    r = mailmime_smart_add_part(parent, part);
    if (r != MAILIMF_NO_ERROR)
        goto out;
    owned = part;
    part = NULL;
    s = mmap_string_new("");
    if (!s)
        goto out;
    r = mailmime_write_mem(s, &col, owned);
    if (r != MAILIMF_NO_ERROR) {
        rc = merr_set(MERR_INTERNAL, "libetpan could not write an image part (error %d)", r);
        goto out;
    }
    rc = buf_append(out, s->str, s->len);
out:
    if (s)
        mmap_string_free(s);
    if (part)
        mailmime_free(part);
    if (parent)
        mailmime_free(parent);
    if (fields)
        mailmime_fields_free(fields);
    if (ct)
        mailmime_content_free(ct);
    if (disp)
        mailmime_disposition_free(disp);
    if (mech)
        mailmime_mechanism_free(mech);
    free(fname);
    free(id);
    if (rc == MERR_NOMEM)
        merr_set(rc, "out of memory writing an image part");
    return rc;
}
