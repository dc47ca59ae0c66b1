/*
 * hdr.c: header fields as RFC 5322 and RFC 2047 want them.
 *
 * Every header line of an outgoing message is made here, because libetpan
 * neither encodes UTF-8 nor refuses CR/LF in what it writes. The writer
 * keeps a column count for the line being built: a new piece goes on the
 * current line if the line stays within its limit, otherwise the line is
 * folded (CRLF + one space, RFC 5322 §3.2.2) first. The limit is
 * HDR_LINE_MAX (78, RFC 5322 §2.1.1) for a line of plain words and
 * HDR_EW_LINE_MAX (76) for a line that holds an encoded word (RFC 2047
 * §2); no line ever passes 998 (RFC 5322 §2.1.1's MUST): a structured
 * value with a word too long for that is refused.
 *
 * Text that cannot be written as is becomes a run of encoded words
 * (RFC 2047 §2-§5): "=?UTF-8?B?...?=" or "=?UTF-8?Q?...?=", whichever is
 * shorter for the whole value. The text is cut only where it has spaces:
 * each encoded word holds whole words of the text, each with the spaces
 * that follow it, as many as fit in HDR_WORD_MAX (75) characters and in
 * its line (a fold first when the next word, or all the rest, does not fit
 * on this line but would on a fresh one; never right after "Subject:",
 * which Python's parser would turn into a leading space). Only a single word too long for an
 * encoded word of its own is cut inside, between UTF-8 characters (never inside one, §5 last
 * paragraph). Decoders drop the folding whitespace between adjacent encoded words (§6.2), so the
 * decoded text is exactly the input, leading or doubled spaces included; and a decoder that keeps
 * that whitespace (Python's email address parser does) shows an extra space between two words,
 * never a space inside a word ("S ở" for "Sở"). Q uses only the characters §5(3) allows in a
 * phrase, so the same words serve for Subject and for display names.
 */
#include "hdr.h"

#include <string.h>

#include "enc.h"
#include "utf8.h"

enum merr hdr_check(const char *field, const char *value)
{
    size_t n;
    if (!value)
        return MERR_OK;
    n = strlen(value);
    if (utf8_has_crlf_nul(value, n))
        return merr_set(MERR_INVAL, "%s: contains CR, LF or NUL", field);
    if (!utf8_valid(value, n, NULL))
        return merr_set(MERR_INVAL, "%s: is not valid UTF-8", field);
    return MERR_OK;
}

/*
 * A line being written: the buffer, the column of its end, whether it
 * holds an encoded word, and whether it holds nothing but the field name.
 */
struct line {
    struct buf *out;
    size_t col;
    int ew;
    int bare;
};

static enum merr line_start(struct line *l, struct buf *out, const char *field)
{
    l->out = out;
    l->col = strlen(field) + 1;
    l->ew = 0;
    l->bare = 1;
    return buf_printf(out, "%s:", field);
}

static size_t line_limit(const struct line *l)
{
    return l->ew ? HDR_EW_LINE_MAX : HDR_LINE_MAX;
}

static enum merr line_fold(struct line *l)
{
    l->col = 0;
    l->ew = 0;
    l->bare = 0;
    return buf_append(l->out, "\r\n", 2);
}

/*
 * Puts `n` bytes on the line after one space, folding first if the line
 * would pass its limit (never before the line's first piece).
 */
static enum merr line_put(struct line *l, const char *p, size_t n, int first)
{
    enum merr rc;
    if (!first && l->col + 1 + n > line_limit(l)) {
        rc = line_fold(l);
        if (rc)
            return rc;
    }
    rc = buf_putc(l->out, ' ');
    if (!rc)
        rc = buf_append(l->out, p, n);
    l->col += 1 + n;
    l->bare = 0;
    return rc;
}

static int q_safe(unsigned char c)
{
    /* RFC 2047 §5(3): letters, digits, ! * + - / (= and _ have meanings). */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '!' ||
           c == '*' || c == '+' || c == '-' || c == '/';
}

static size_t q_len(unsigned char c)
{
    return (q_safe(c) || c == ' ') ? 1 : 3;
}

#define EW_OVERHEAD 12                 /* "=?UTF-8?B?" + "?=" */
#define EW_MIN      (EW_OVERHEAD + 12) /* room for one 4-byte character, B or Q */
/* Encodes s[0..n) as a B or Q encoded word into `w` (emptied first). */
static enum merr ew_make(struct buf *w, const char *s, size_t n, int q)
{
    static const char hex[] = "0123456789ABCDEF";
    enum merr rc;
    buf_reset(w);
    rc = buf_puts(w, q ? "=?UTF-8?Q?" : "=?UTF-8?B?");
    if (rc)
        return rc;
    if (q) {
        for (size_t i = 0; i < n && !rc; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == ' ')
                rc = buf_putc(w, '_');
            else if (q_safe(c))
                rc = buf_putc(w, (char)c);
            else {
                char e[3] = {'=', hex[c >> 4], hex[c & 15]};
                rc = buf_append(w, e, 3);
            }
        }
    } else {
        rc = enc_base64(w, (const unsigned char *)s, n, 0);
    }
    if (!rc)
        rc = buf_puts(w, "?=");
    return rc;
}

/* Encoded length of s[0..n) (without the 12 characters around it). */
static size_t ew_len(const char *s, size_t n, int q)
{
    size_t len = 0;
    if (!q)
        return (n + 2) / 3 * 4;
    for (size_t k = 0; k < n; k++)
        len += q_len((unsigned char)s[k]);
    return len;
}

/* The end of the text word at s[i..n): its non-spaces, then the spaces after them. */
static size_t unit_end(const char *s, size_t i, size_t n)
{
    while (i < n && s[i] != ' ')
        i++;
    while (i < n && s[i] == ' ')
        i++;
    return i;
}

/*
 * Writes `s` as encoded words on line `l`: whole text words per encoded
 * word (see the top of the file), each sized to its line. `phrase`: a
 * display name, where a fold right after the field name is harmless; in
 * free text (Subject) it is not (Python's parser then shows a leading
 * space), so there the first line is filled instead.
 */
static enum merr ew_write(struct line *l, const char *s, size_t n, int phrase)
{
    struct buf w;
    size_t i = 0;
    int q = ew_len(s, n, 1) <= ew_len(s, n, 0);
    enum merr rc = MERR_OK;

    buf_init(&w, 0);
    while (i < n) {
        /* Room on this line after its space, for a line with an encoded word. */
        size_t room = l->col + 1 < HDR_EW_LINE_MAX ? HDR_EW_LINE_MAX - l->col - 1 : 0;
        size_t limit = room < HDR_WORD_MAX ? room : HDR_WORD_MAX, j = i;
        size_t rest = EW_OVERHEAD + ew_len(s + i, n - i, q);
        int may_fold = phrase || !l->bare || room < EW_MIN;
        if (rest > limit && rest <= HDR_WORD_MAX && may_fold) {
            /* All that is left fits in one encoded word on a fresh line: fold
             * rather than cut it (fewer cuts, fewer places for a decoder to
             * keep a space). */
            rc = line_fold(l);
            if (rc)
                goto out;
            continue;
        }
        while (j < n) {
            size_t u = unit_end(s, j, n);
            if (EW_OVERHEAD + ew_len(s + i, u - i, q) > limit)
                break;
            j = u;
        }
        if (j == i && limit < HDR_WORD_MAX && may_fold) {
            rc = line_fold(l); /* the next text word fits on a fresh line */
            if (rc)
                goto out;
            continue;
        }
        if (j == i) {
            /* A text word longer than an encoded word: cut between characters. */
            while (j < n) {
                uint32_t cp;
                size_t clen = utf8_decode(s + j, n - j, &cp);
                if (clen == 0)
                    clen = 1; /* checked valid before; defensive */
                if (EW_OVERHEAD + ew_len(s + i, j + clen - i, q) > limit && j > i)
                    break;
                j += clen;
            }
        }
        rc = ew_make(&w, s + i, j - i, q);
        if (!rc)
            rc = buf_putc(l->out, ' ');
        if (!rc)
            rc = buf_append(l->out, w.data, w.len);
        if (rc)
            goto out;
        l->col += 1 + w.len;
        l->ew = 1;
        l->bare = 0;
        i = j;
    }
out:
    buf_free(&w);
    return rc;
}

/* 1 if s is printable ASCII words separated by single spaces, no "=?". */
static int plain_words(const char *s, size_t n, int (*ok)(unsigned char))
{
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ') {
            if (s[i + 1] == ' ')
                return 0;
        } else if (!ok(c)) {
            return 0;
        }
        if (c == '=' && i + 1 < n && s[i + 1] == '?')
            return 0;
    }
    return 1;
}

static int vchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static int atext(unsigned char c)
{
    /* RFC 5322 §3.2.3 */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* Writes space-separated words, folding between them; 0 if a word is too long. */
static int words_fit(const struct line *l, const char *s, size_t n)
{
    size_t col = l->col, i = 0;
    int first = 1;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        if (!first && col + 1 + (j - i) > HDR_LINE_MAX)
            col = 0;
        col += 1 + (j - i);
        if (col > HDR_LINE_MAX)
            return 0;
        first = 0;
        i = j + 1;
    }
    return 1;
}

static enum merr words_write(struct line *l, const char *s, size_t n)
{
    size_t i = 0;
    int first = 1;
    enum merr rc = MERR_OK;
    while (i < n && !rc) {
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        rc = line_put(l, s + i, j - i, first);
        first = 0;
        i = j + 1;
    }
    return rc;
}

enum merr hdr_write_text(struct buf *out, const char *field, const char *value)
{
    size_t mark = out->len, n;
    struct line l;
    enum merr rc = hdr_check(field, value);
    if (rc)
        return rc;
    if (!value)
        value = "";
    n = strlen(value);
    rc = line_start(&l, out, field);
    if (rc)
        goto out;
    if (n == 0)
        ;
    else if (plain_words(value, n, vchar) && words_fit(&l, value, n))
        rc = words_write(&l, value, n);
    else
        rc = ew_write(&l, value, n, 0);
    if (!rc)
        rc = buf_append(out, "\r\n", 2);
out:
    if (rc)
        buf_truncate(out, mark);
    return rc;
}

static enum merr addr_check(const char *field, const char *addr)
{
    const char *at;
    if (!addr || !*addr)
        return merr_set(MERR_INVAL, "%s: address is empty", field);
    for (const char *p = addr; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' || c == '\n')
            return merr_set(MERR_INVAL, "%s: address contains CR or LF", field);
        if (!vchar(c) || strchr("<>()[],;:\"\\", c))
            return merr_set(MERR_INVAL, "%s: address contains '%s'", field,
                            c < 0x80 && vchar(c) ? (char[2]){(char)c, 0}
                            : c < 0x80           ? "a space or control character"
                                                 : "non-ASCII text");
    }
    /* RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets, so
     * "<addr>" always fits a folded line of HDR_LINE_MAX */
    if (strlen(addr) > 254)
        return merr_set(MERR_INVAL, "%s: address is over 254 octets", field);
    at = strchr(addr, '@');
    if (!at || at == addr || !at[1] || strchr(at + 1, '@'))
        return merr_set(MERR_INVAL, "%s: \"%s\" is not local@domain", field, addr);
    return MERR_OK;
}

static int qtext_ok(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

enum merr hdr_write_address(struct buf *out, const char *field, const char *name, const char *addr)
{
    size_t mark = out->len, n = name ? strlen(name) : 0;
    struct line l;
    struct buf q;
    enum merr rc;

    buf_init(&q, 0);
    rc = hdr_check(field, name);
    if (!rc)
        rc = addr_check(field, addr);
    if (!rc)
        rc = line_start(&l, out, field);
    if (rc)
        goto out;
    if (n == 0) {
        rc = line_put(&l, addr, strlen(addr), 1);
    } else {
        int ascii = 1, quote = 0;
        for (size_t i = 0; i < n; i++)
            if (!qtext_ok((unsigned char)name[i]))
                ascii = 0;
        if (ascii && !plain_words(name, n, atext))
            quote = 1; /* specials, or spaces that must stay as typed */
        if (ascii && strstr(name, "=?"))
            ascii = 0; /* would be taken for an encoded word */
        if (ascii && quote) {
            /* RFC 5322 §3.2.4 quoted-string: escape DQUOTE and backslash. */
            rc = buf_putc(&q, '"');
            for (size_t i = 0; i < n && !rc; i++) {
                if (name[i] == '"' || name[i] == '\\')
                    rc = buf_putc(&q, '\\');
                if (!rc)
                    rc = buf_putc(&q, name[i]);
            }
            if (!rc)
                rc = buf_putc(&q, '"');
            if (rc)
                goto out;
            if (l.col + 1 + q.len > HDR_LINE_MAX)
                ascii = 0;
        } else if (ascii && !words_fit(&l, name, n)) {
            ascii = 0;
        }
        if (ascii && quote)
            rc = line_put(&l, q.data, q.len, 1);
        else if (ascii)
            rc = words_write(&l, name, n);
        else
            rc = ew_write(&l, name, n, 1);
        if (rc)
            goto out;
        buf_reset(&q);
        rc = buf_printf(&q, "<%s>", addr);
        if (!rc)
            rc = line_put(&l, q.data, q.len, 0);
    }
    if (!rc)
        rc = buf_append(out, "\r\n", 2);
out:
    buf_free(&q);
    if (rc)
        buf_truncate(out, mark);
    return rc;
}

enum merr hdr_write_raw(struct buf *out, const char *field, const char *value)
{
    size_t mark = out->len, i = 0, n;
    struct line l;
    int first = 1;
    enum merr rc;

    if (!value)
        return merr_set(MERR_INVAL, "%s: missing", field);
    n = strlen(value);
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)value[k];
        if (c == '\r' || c == '\n')
            return merr_set(MERR_INVAL, "%s: contains CR, LF or NUL", field);
        if (c != ' ' && !vchar(c))
            return merr_set(MERR_INVAL, "%s: must be printable ASCII", field);
    }
    rc = line_start(&l, out, field);
    while (!rc && i < n) {
        size_t j = i;
        while (j < n && value[j] != ' ')
            j++;
        /* RFC 5322 §2.1.1: after "Field: " or the fold's space, within 998 */
        if ((first ? strlen(field) + 2 : 1) + (j - i) > HDR_HARD_MAX) {
            rc = merr_set(MERR_INVAL, "%s: a word of %zu characters does not fit in a line of %d",
                          field, j - i, HDR_HARD_MAX);
            break;
        }
        if (j > i)
            rc = line_put(&l, value + i, j - i, first);
        first = 0;
        i = j + 1;
    }
    if (!rc)
        rc = buf_append(out, "\r\n", 2);
    if (rc)
        buf_truncate(out, mark);
    return rc;
}

/* ---- decoding (RFC 2047 §6) ---- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/*
 * Tries to decode an encoded word at p[0..n). Returns its length (0 if it
 * is not one) and appends the text to out.
 */
static size_t ew_decode(struct buf *out, const char *p, size_t n, enum merr *rc)
{
    size_t i = 2, cs, enc, text, end;
    char charset[32];
    *rc = MERR_OK;
    if (n < 8 || p[0] != '=' || p[1] != '?')
        return 0;
    cs = i;
    while (i < n && p[i] != '?' && p[i] != ' ')
        i++;
    if (i >= n || p[i] != '?' || i - cs == 0 || i - cs >= sizeof charset)
        return 0;
    memcpy(charset, p + cs, i - cs);
    charset[i - cs] = 0;
    if (strchr(charset, '*')) /* RFC 2231 §5 language suffix */
        *strchr(charset, '*') = 0;
    enc = ++i;
    if (i + 1 >= n || p[i + 1] != '?')
        return 0;
    i += 2;
    text = i;
    while (i + 1 < n && !(p[i] == '?' && p[i + 1] == '=') && p[i] != ' ')
        i++;
    if (i + 1 >= n || p[i] != '?' || p[i + 1] != '=')
        return 0;
    end = i + 2;
    if (strcasecmp(charset, "UTF-8") && strcasecmp(charset, "US-ASCII")) {
        *rc = merr_set(MERR_INVAL, "encoded word in charset %s", charset);
        return end;
    }
    if (p[enc] == 'B' || p[enc] == 'b') {
        unsigned acc = 0;
        int bits = 0;
        for (size_t k = text; k < i && !*rc; k++) {
            int v;
            if (p[k] == '=')
                break;
            v = enc_base64_value((unsigned char)p[k], 0);
            if (v < 0) {
                *rc = merr_set(MERR_INVAL, "bad base64 in encoded word");
                break;
            }
            acc = (acc << 6) | (unsigned)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                *rc = buf_putc(out, (char)((acc >> bits) & 0xff));
            }
        }
    } else if (p[enc] == 'Q' || p[enc] == 'q') {
        for (size_t k = text; k < i && !*rc; k++) {
            if (p[k] == '_') {
                *rc = buf_putc(out, ' ');
            } else if (p[k] == '=' && k + 2 < i + 1 && hexval((unsigned char)p[k + 1]) >= 0 &&
                       hexval((unsigned char)p[k + 2]) >= 0) {
                *rc = buf_putc(out, (char)(hexval((unsigned char)p[k + 1]) * 16 +
                                           hexval((unsigned char)p[k + 2])));
                k += 2;
            } else {
                *rc = buf_putc(out, p[k]);
            }
        }
    } else {
        return 0;
    }
    return end;
}

enum merr hdr_decode(struct buf *out, const char *value, size_t len)
{
    struct buf u;
    size_t i = 0, ws_start = 0, ws_len = 0;
    int prev_ew = 0;
    enum merr rc = MERR_OK;

    /* Unfold: CRLF followed by WSP is removed (RFC 5322 §2.2.3). */
    buf_init(&u, 0);
    for (size_t k = 0; k < len && !rc; k++) {
        if (value[k] == '\r' && k + 2 < len && value[k + 1] == '\n' &&
            (value[k + 2] == ' ' || value[k + 2] == '\t'))
            k++;
        else
            rc = buf_putc(&u, value[k]);
    }
    if (rc)
        goto out;
    while (i < u.len) {
        if (u.data[i] == ' ' || u.data[i] == '\t') {
            ws_start = i;
            while (i < u.len && (u.data[i] == ' ' || u.data[i] == '\t'))
                i++;
            ws_len = i - ws_start;
            continue;
        }
        {
            size_t j = i, used;
            while (j < u.len && u.data[j] != ' ' && u.data[j] != '\t')
                j++;
            /* An encoded word is a whole whitespace-delimited token. */
            used = 0;
            if (j - i >= 8) {
                struct buf tmp;
                buf_init(&tmp, 0);
                used = ew_decode(&tmp, u.data + i, j - i, &rc);
                if (rc) {
                    buf_free(&tmp);
                    goto out;
                }
                if (used == j - i) {
                    if (!prev_ew && ws_len)
                        rc = buf_append(out, u.data + ws_start, ws_len);
                    if (!rc)
                        rc = buf_append(out, tmp.data, tmp.len);
                    buf_free(&tmp);
                    if (rc)
                        goto out;
                    prev_ew = 1;
                    ws_len = 0;
                    i = j;
                    continue;
                }
                buf_free(&tmp);
            }
            if (ws_len)
                rc = buf_append(out, u.data + ws_start, ws_len);
            if (!rc)
                rc = buf_append(out, u.data + i, j - i);
            if (rc)
                goto out;
            prev_ew = 0;
            ws_len = 0;
            i = j;
        }
    }
    if (ws_len)
        rc = buf_append(out, u.data + ws_start, ws_len);
out:
    buf_free(&u);
    return rc;
}
