/*
 * bounce_mime.c: the guard in front of libetpan's MIME parser, and the
 * decoding of one part to clean UTF-8.
 *
 * libetpan 1.9.4's mailmime_parse() is the parser, but it must never see a
 * message that can hurt it (LIBNOTES): mailmime_extract_boundary() copies
 * strlen - 2 bytes of a quoted boundary, so boundary="\"" (one character
 * after unquoting) is a heap overflow; the parser recurses once per level
 * of multipart or message/rfc822 and rescans the rest of the part at each
 * level, so deep nesting costs stack and O(size * depth) time. The screen
 * below therefore bounds, over the raw bytes and before any parsing, every
 * quantity libetpan could trip on, with counts that can only over-estimate
 * what libetpan will find:
 *
 *  - size (max_size) and line length (max_line): a 10 MB message or a
 *    1 MB header line never reaches the parser; a NUL byte neither (RFC
 *    5322 §2.3 forbids it; our string handling would cut there);
 *  - every "boundary" parameter anywhere in the text (any case, RFC 2231
 *    "boundary*" forms included), as a token or quoted string, must be 1 to
 *    70 characters of RFC 2046 §5.1.1 bchars or RFC 2045 token characters
 *    (real MTAs use "!" in theirs: "----=_Active!Hunter_..."), or '@'
 *    when quoted (PowerMTA's "report4E747F78@mta.example"; an '@' changes
 *    nothing in how libetpan copies or compares it), not ending in a
 *    space: no quote, no backslash, no line break inside. libetpan can
 *    only take a boundary from such a parameter, so the one it uses is
 *    always sane;
 *  - nesting: each level libetpan descends needs a Content-Type naming
 *    "multipart" or a "/ rfc822" subtype (a multipart/digest part's default
 *    message/rfc822 adds at most one more per digest), so counting those
 *    words in the whole text bounds its depth by 2 * count + 2;
 *  - parts: each part starts after a line "--" + one of the screened
 *    boundaries, so counting such lines bounds the parts.
 * The real tree is then walked once more (parts, depth) after parsing.
 *
 * The top-level header section must also be valid UTF-8 (RFC 6532): raw
 * 8-bit bytes there are refused, while bodies in other charsets are
 * converted, invalid bytes becoming U+FFFD.
 */
#include <ctype.h>
#include <libetpan/libetpan.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_int.h"
#include "utf8.h"

void bounce_limits_default(struct bounce_limits *l)
{
    l->max_size = BOUNCE_MAX_SIZE;
    l->max_line = BOUNCE_MAX_LINE;
    l->max_parts = BOUNCE_MAX_PARTS;
    l->max_depth = BOUNCE_MAX_DEPTH;
}

/* RFC 2046 §5.1.1 bcharsnospace */
static int is_bchar_nospace(unsigned char c)
{
    return isalnum(c) || (c && strchr("'()+_,-./:=?", c));
}

/* RFC 2045 §5.1 token characters (what may continue a parameter name) */
static int is_token_char(unsigned char c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* Skips spaces, tabs, line breaks and (nested) comments; returns the new offset. */
static size_t skip_cfws(const char *p, size_t i, size_t n)
{
    int depth = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (depth > 0) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '(')
                depth++;
            else if (c == ')')
                depth--;
            i++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            i++;
        } else if (c == '(') {
            depth = 1;
            i++;
        } else {
            break;
        }
    }
    return i;
}

/*
 * One "boundary" occurrence at p[at]: 0 if it is not a parameter (no '='
 * follows) or a sane one (its value appended to `seen` as "\n--VALUE"),
 * -1 if its value is refused.
 */
static int check_boundary_at(const char *p, size_t at, size_t n, struct buf *seen, char *why,
                             size_t whylen)
{
    size_t i = at + 8, start, vlen;
    const char *v;
    int quoted = 0;

    if (i < n && p[i] == '*') { /* RFC 2231: boundary*, boundary*0, boundary*0* */
        i++;
        while (i < n && isdigit((unsigned char)p[i]))
            i++;
        if (i < n && p[i] == '*')
            i++;
    }
    i = skip_cfws(p, i, n);
    if (i >= n || p[i] != '=')
        return 0;
    i = skip_cfws(p, i + 1, n);
    if (i < n && p[i] == '"') {
        quoted = 1;
        start = ++i;
        while (i < n && p[i] != '"') {
            if (p[i] == '\\' || p[i] == '\r' || p[i] == '\n') {
                snprintf(why, whylen, "MIME boundary parameter at byte %zu holds a %s", at,
                         p[i] == '\\' ? "backslash" : "line break");
                return -1;
            }
            i++;
        }
        if (i >= n) {
            snprintf(why, whylen, "MIME boundary parameter at byte %zu has no closing quote", at);
            return -1;
        }
        vlen = i - start;
        /* what follows the closing quote must end the parameter */
        size_t j = i + 1;
        while (j < n && (p[j] == ' ' || p[j] == '\t'))
            j++;
        if (j < n && !strchr(";\r\n(", p[j])) {
            snprintf(why, whylen,
                     "MIME boundary parameter at byte %zu is followed by text RFC 2046 does not "
                     "allow",
                     at);
            return -1;
        }
    } else {
        start = i;
        while (i < n && is_token_char((unsigned char)p[i]))
            i++;
        vlen = i - start;
    }
    v = p + start;
    if (vlen == 0 || vlen > 70) {
        snprintf(why, whylen, "MIME boundary parameter at byte %zu is %zu characters (1 to 70)", at,
                 vlen);
        return -1;
    }
    for (size_t k = 0; k < vlen; k++) {
        unsigned char c = (unsigned char)v[k];
        /* '@' only quoted: PowerMTA's "report<id>@<host>" */
        if (!is_bchar_nospace(c) && !is_token_char(c) && !(c == ' ' && k + 1 < vlen) &&
            !(c == '@' && quoted)) {
            snprintf(why, whylen,
                     "MIME boundary parameter at byte %zu holds a character RFC 2046 does not "
                     "allow (0x%02x)",
                     at, c);
            return -1;
        }
    }
    if (buf_puts(seen, "\n--") || buf_append(seen, v, vlen)) {
        snprintf(why, whylen, "too many MIME boundaries");
        return -1;
    }
    return 0;
}

/* 1 if p[i..) starts with the lower-case ASCII word w, ignoring case. */
static int word_at(const char *p, size_t i, size_t n, const char *w, size_t wl)
{
    return i + wl <= n && strncasecmp(p + i, w, wl) == 0;
}

/* Counts lines that start with "--" + one of the boundaries in `seen` ("\n--B" entries). */
static long count_delimiters(const char *p, size_t n, const struct buf *seen)
{
    long count = 0;
    for (size_t i = 0; i + 2 < n; i++) {
        if ((i == 0 || p[i - 1] == '\n') && p[i] == '-' && p[i + 1] == '-') {
            const char *s = seen->data, *end = seen->data + seen->len;
            while (s && s < end) {
                const char *b = s + 3; /* after "\n--" */
                const char *e = memchr(b, '\n', (size_t)(end - b));
                size_t bl = (size_t)((e ? e : end) - b);
                if (i + 2 + bl <= n && memcmp(p + i + 2, b, bl) == 0) {
                    count++;
                    break;
                }
                s = e ? e : end;
            }
        }
    }
    return count;
}

int bounce_mime_screen(const char *p, size_t n, const struct bounce_limits *l, char *why,
                       size_t whylen)
{
    struct buf seen;
    size_t line_start = 0, header_end = n, bad;
    long nest = 0, delims;
    int rc = -1;

    if (n > l->max_size) {
        snprintf(why, whylen, "message of %zu bytes is larger than the limit of %zu", n,
                 l->max_size);
        return -1;
    }
    if (n == 0) {
        snprintf(why, whylen, "empty message");
        return -1;
    }
    buf_init(&seen, 64 * 1024);
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '\n') {
            size_t ll = i - line_start;
            if (ll > 0 && p[i - 1] == '\r')
                ll--;
            if (ll > l->max_line) {
                snprintf(why, whylen, "line at byte %zu is %zu bytes long (limit %zu)", line_start,
                         ll, l->max_line);
                goto out;
            }
            if (ll == 0 && header_end == n)
                header_end = line_start;
            line_start = i + 1;
            continue;
        }
        if (p[i] == '\0') {
            snprintf(why, whylen, "NUL byte at byte %zu", i);
            goto out;
        }
        if ((p[i] | 0x20) == 'b' && word_at(p, i, n, "boundary", 8) &&
            (i == 0 || !is_token_char((unsigned char)p[i - 1]))) {
            if (check_boundary_at(p, i, n, &seen, why, whylen))
                goto out;
        } else if ((p[i] | 0x20) == 'm' && word_at(p, i, n, "multipart", 9)) {
            nest++;
        } else if ((p[i] | 0x20) == 'r' && word_at(p, i, n, "rfc822", 6) &&
                   (i + 6 >= n || !is_token_char((unsigned char)p[i + 6]))) {
            size_t k = i;
            while (k > 0 && strchr(" \t\r\n", p[k - 1]))
                k--;
            if (k > 0 && (p[k - 1] == '/' || p[k - 1] == ')'))
                nest++;
        }
    }
    if (!utf8_valid(p, header_end, &bad)) {
        snprintf(why, whylen, "invalid UTF-8 in the header section at byte %zu", bad);
        goto out;
    }
    if (nest > BOUNCE_MAX_NEST_TOKEN) {
        snprintf(why, whylen,
                 "%ld multipart or message/rfc822 declarations (limit %d): nested too deep", nest,
                 BOUNCE_MAX_NEST_TOKEN);
        goto out;
    }
    delims = seen.len ? count_delimiters(p, n, &seen) : 0;
    if (delims > l->max_parts) {
        snprintf(why, whylen, "%ld MIME part delimiters (limit %d parts)", delims, l->max_parts);
        goto out;
    }
    rc = 0;
out:
    buf_free(&seen);
    return rc;
}

/* Counts parts and the deepest level; stops counting past the limits. */
static void walk(const struct mailmime *m, int depth, int *parts, int *maxdepth, int limit_depth)
{
    if (!m)
        return;
    (*parts)++;
    if (depth > *maxdepth)
        *maxdepth = depth;
    if (depth > limit_depth)
        return;
    if (m->mm_type == MAILMIME_MULTIPLE) {
        for (clistiter *it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it;
             it = clist_next(it))
            walk(clist_content(it), depth + 1, parts, maxdepth, limit_depth);
    } else if (m->mm_type == MAILMIME_MESSAGE) {
        walk(m->mm_data.mm_message.mm_msg_mime, depth + 1, parts, maxdepth, limit_depth);
    }
}

int bounce_mime_parse(const char *data, size_t len, const struct bounce_limits *l,
                      struct mailmime **root, char *why, size_t whylen)
{
    size_t idx = 0;
    struct mailmime *m = NULL;
    int parts = 0, depth = 0;

    *root = NULL;
    if (mailmime_parse(data, len, &idx, &m) != MAILIMF_NO_ERROR || !m) {
        snprintf(why, whylen, "the MIME structure could not be parsed");
        return -1;
    }
    walk(m, 0, &parts, &depth, l->max_depth);
    if (depth > l->max_depth) {
        snprintf(why, whylen, "MIME parts nested %d deep (limit %d)", depth, l->max_depth);
        mailmime_free(m);
        return -1;
    }
    if (parts > l->max_parts) {
        snprintf(why, whylen, "%d MIME parts (limit %d)", parts, l->max_parts);
        mailmime_free(m);
        return -1;
    }
    *root = m;
    return 0;
}

void bounce_mime_type(const struct mailmime *m, char *out, size_t n)
{
    const struct mailmime_content *ct = m ? m->mm_content_type : NULL;
    const char *type = "";
    out[0] = '\0';
    if (!ct || !ct->ct_type || !ct->ct_subtype)
        return;
    if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE) {
        const struct mailmime_discrete_type *d = ct->ct_type->tp_data.tp_discrete_type;
        switch (d->dt_type) {
        case MAILMIME_DISCRETE_TYPE_TEXT:
            type = "text";
            break;
        case MAILMIME_DISCRETE_TYPE_IMAGE:
            type = "image";
            break;
        case MAILMIME_DISCRETE_TYPE_AUDIO:
            type = "audio";
            break;
        case MAILMIME_DISCRETE_TYPE_VIDEO:
            type = "video";
            break;
        case MAILMIME_DISCRETE_TYPE_APPLICATION:
            type = "application";
            break;
        default:
            type = d->dt_extension ? d->dt_extension : "";
        }
    } else if (ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE) {
        const struct mailmime_composite_type *c = ct->ct_type->tp_data.tp_composite_type;
        if (c->ct_type == MAILMIME_COMPOSITE_TYPE_MESSAGE)
            type = "message";
        else if (c->ct_type == MAILMIME_COMPOSITE_TYPE_MULTIPART)
            type = "multipart";
        else
            type = c->ct_token ? c->ct_token : "";
    }
    snprintf(out, n, "%s/%s", type, ct->ct_subtype);
    for (char *q = out; *q; q++)
        *q = (char)tolower((unsigned char)*q);
}

enum merr bounce_mime_clean(const char *p, size_t n, size_t max, struct buf *out)
{
    static const char repl[] = "\xef\xbf\xbd";
    size_t start = out->len;
    enum merr rc = MERR_OK;

    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = (unsigned char)p[i];
        uint32_t cp;
        size_t k;
        if (out->len - start + 4 > max)
            break;
        if (c < 0x80) {
            if (c == '\r') {
                rc = buf_putc(out, '\n');
                i += (i + 1 < n && p[i + 1] == '\n') ? 2 : 1;
                continue;
            }
            rc = buf_putc(out, (c < 32 && c != '\n' && c != '\t') || c == 127 ? ' ' : (char)c);
            i++;
            continue;
        }
        k = utf8_decode(p + i, n - i, &cp);
        if (k == 0) {
            rc = buf_append(out, repl, 3);
            i++;
        } else if (cp >= 0x80 && cp < 0xa0) { /* C1 controls */
            rc = buf_putc(out, ' ');
            i += k;
        } else {
            rc = buf_append(out, p + i, k);
            i += k;
        }
    }
    return rc;
}

/* iconv's name for a charset label, or the label itself. */
static const char *charset_alias(const char *cs)
{
    if (strcasestr(cs, "utf-7"))
        return "UTF-7";
    if (!strcasecmp(cs, "unicode-1-1-utf-8") || !strcasecmp(cs, "utf8"))
        return "UTF-8";
    if (!strcasecmp(cs, "ks_c_5601-1987"))
        return "CP949";
    if (!strcasecmp(cs, "x-sjis") || !strcasecmp(cs, "shift-jis"))
        return "SHIFT_JIS";
    return cs;
}

enum merr bounce_mime_text(const struct mailmime *m, size_t max, struct buf *out)
{
    const struct mailmime_data *d;
    char *dec = NULL, *conv = NULL, clean[64] = "";
    size_t declen = 0, idx = 0;
    const char *cs = NULL, *from = NULL; /* from: the charset to convert; NULL: UTF-8 or ASCII */
    enum merr rc;

    if (!m || m->mm_type != MAILMIME_SINGLE || !(d = m->mm_data.mm_single) ||
        d->dt_type != MAILMIME_DATA_TEXT || !d->dt_data.dt_text.dt_data)
        return MERR_OK;
    if (mailmime_part_parse(d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length, &idx,
                            d->dt_encoding, &dec, &declen) != MAILIMF_NO_ERROR) {
        /* not decodable as declared: take the bytes as they are */
        return bounce_mime_clean(d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length, max,
                                 out);
    }
    if (declen > 4 * max)
        declen = 4 * max;
    if (m->mm_content_type)
        cs = mailmime_content_param_get(m->mm_content_type, "charset");
    if (cs) {
        size_t k = 0;
        for (; *cs && k + 1 < sizeof clean; cs++)
            if (*cs != '"')
                clean[k++] = *cs;
        clean[k] = '\0';
    }
    if (clean[0] && strcasecmp(clean, "us-ascii") && strcasecmp(clean, "utf-8"))
        from = charset_alias(clean);
    /*
     * 7-bit text holding ISO-2022-JP's designators (RFC 1468: ESC $ B, ESC
     * $ @) with no charset, or us-ascii, declared: Japanese MTAs write
     * their Diagnostic-Code so, inside a message/delivery-status part that
     * has no charset parameter (Lotus Domino).
     */
    else if (strcasecmp(clean, "utf-8") &&
             (memmem(dec, declen, "\x1b$B", 3) || memmem(dec, declen, "\x1b$@", 3)))
        from = "ISO-2022-JP";
    if (from && charconv("UTF-8", from, dec, declen, &conv) == MAIL_CHARCONV_NO_ERROR && conv) {
        rc = bounce_mime_clean(conv, strlen(conv), max, out);
        free(conv);
        mailmime_decoded_part_free(dec);
        return rc;
    }
    rc = bounce_mime_clean(dec, declen, max, out);
    mailmime_decoded_part_free(dec);
    return rc;
}
