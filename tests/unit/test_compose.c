/*
 * test_compose.c: header encoding (RFC 2047 words, folding, injection),
 * quoted-printable bodies, image parts, and whole messages from plans over
 * the sample articles (structure, cid references, line rules, threads).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "articles.h"
#include "compose.h"
#include "compose_mime.h"
#include "config.h"
#include "date.h"
#include "db.h"
#include "hdr.h"
#include "testutil.h"
#include "tpl.h"
#include "utf8.h"

/* ---- helpers ---- */

/* Every line ends CRLF, no bare CR or LF, none longer than `max`. */
static void assert_lines(const char *s, size_t n, size_t max)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            assert_true(i + 1 < n && s[i + 1] == '\n');
            i++;
            col = 0;
            continue;
        }
        assert_true(s[i] != '\n');
        col++;
        if (col > max)
            fail_msg("line over %zu at offset %zu: %.80s", max, i, s + i - col + 1);
    }
    assert_int_equal(col, 0);
}

/* Every line holding an encoded word ("=?") is at most 76 characters (RFC 2047 §2). */
static void assert_ew_lines(const char *s, size_t n)
{
    const char *line = s, *end = s + n;
    while (line < end) {
        const char *e = memmem(line, (size_t)(end - line), "\r\n", 2);
        size_t len = e ? (size_t)(e - line) : (size_t)(end - line);
        if (memmem(line, len, "=?", 2) && len > HDR_EW_LINE_MAX)
            fail_msg("line with an encoded word of %zu characters: %.*s", len, (int)len, line);
        line += len + 2;
    }
}

/*
 * Encoded words are cut only where the text has spaces: each one but the
 * last decodes to text ending in a space (the texts given have no word too
 * long for one encoded word).
 */
static void assert_cut_at_spaces(const char *v)
{
    const char *p = v, *next;
    struct buf d;
    buf_init(&d, 0);
    while ((p = strstr(p, "=?"))) {
        const char *e = strstr(p + 10, "?=");
        assert_non_null(e);
        next = strstr(e + 2, "=?");
        buf_reset(&d);
        assert_int_equal(hdr_decode(&d, p, (size_t)(e + 2 - p)), MERR_OK);
        if (next && (!d.len || d.data[d.len - 1] != ' '))
            fail_msg("encoded word cut inside a word: \"%s\" in %s", d.data, v);
        p = e + 2;
    }
    buf_free(&d);
}

/* The value of a header block "Field: value CRLF" as written (folds included). */
static const char *value_of(const struct buf *b, const char *field)
{
    size_t n = strlen(field);
    assert_true(b->len > n + 2);
    assert_memory_equal(b->data, field, n);
    assert_memory_equal(b->data + n, ":", 1);
    return b->data + n + 1;
}

/* Checks each encoded word: <= 75 characters and whole UTF-8 characters inside. */
static void assert_words(const char *v)
{
    const char *p = v;
    while ((p = strstr(p, "=?"))) {
        const char *e = strstr(p + 2, "?=");
        struct buf d;
        assert_non_null(e);
        /* skip the "?B?" / "?Q?" question marks */
        e = strstr(p + 10, "?=");
        assert_non_null(e);
        assert_true((size_t)(e + 2 - p) <= HDR_WORD_MAX);
        buf_init(&d, 0);
        assert_int_equal(hdr_decode(&d, p, (size_t)(e + 2 - p)), MERR_OK);
        assert_true(utf8_valid(d.data, d.len, NULL));
        buf_free(&d);
        p = e + 2;
    }
}

static void roundtrip_text(const char *field, const char *in)
{
    struct buf b, d;
    const char *v;
    size_t n;
    buf_init(&b, 0);
    buf_init(&d, 0);
    assert_int_equal(hdr_write_text(&b, field, in), MERR_OK);
    assert_lines(b.data, b.len, HDR_LINE_MAX);
    assert_ew_lines(b.data, b.len);
    /* never "Subject:" alone on its line (Python then decodes a leading space) */
    if (strlen(field) < 40 && *in)
        assert_memory_not_equal(b.data + strlen(field), ":\r\n", 3);
    v = value_of(&b, field);
    assert_words(v);
    /* value without the final CRLF, and without the folding whitespace after ':' */
    while (*v == ' ' || *v == '\r' || *v == '\n')
        v++;
    n = strlen(v);
    if (n >= 2 && v[n - 2] == '\r')
        n -= 2;
    assert_int_equal(hdr_decode(&d, v, n), MERR_OK);
    assert_string_equal(d.data ? d.data : "", in);
    buf_free(&b);
    buf_free(&d);
}

/* ---- hdr ---- */

static void test_hdr_text_roundtrip(void **state)
{
    (void)state;
    char long_vi[2048] = "";
    const char *unit = "Tỉnh Hà Giang tổ chức Hội nghị tổng kết thi đua ";
    while (utf8_count(long_vi, strlen(long_vi)) < 300)
        strcat(long_vi, unit);
    /* exactly 300 characters */
    {
        size_t i = 0, chars = 0;
        uint32_t cp;
        while (chars < 300)
            i += utf8_decode(long_vi + i, strlen(long_vi) - i, &cp), chars++;
        long_vi[i] = 0;
    }
    roundtrip_text("Subject", "Á");
    roundtrip_text("Subject", "a");
    roundtrip_text("Subject", long_vi);
    roundtrip_text("Subject", "Tin mới 😀🇻🇳 ở Hà Giang, \"trích dẫn\" (ngoặc)");
    /* fits in one encoded word, but not after "Subject:" */
    roundtrip_text("Subject", "Bản tin tuần 1 – Cổng TTĐT Hà Giang");
    roundtrip_text("Subject", "Hello world, plain ASCII stays plain");
    roundtrip_text("Subject", "  leading and  double  spaces ");
    roundtrip_text("Subject", "=?UTF-8?B?SGk=?= looks encoded");
    roundtrip_text("Subject", "tab\there");
    roundtrip_text("Subject",
                   "averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongword"
                   "thatcannotfold");
    roundtrip_text("X-A-Very-Long-Header-Field-Name-For-Testing-Folding-Of-The-First-Line",
                   "Đây là tiêu đề");
    /* every 1..4-byte sequence at every split position */
    for (int k = 0; k < 80; k++) {
        char s[400] = "";
        for (int j = 0; j < k; j++)
            strcat(s, j % 4 == 0 ? "a" : j % 4 == 1 ? "ế" : j % 4 == 2 ? "𝄞" : "ñ");
        roundtrip_text("Subject", s);
    }
}

static void test_hdr_words_whole(void **state)
{
    static const char *const texts[] = {
        "Sở Thông tin và Truyền thông tỉnh Hà Giang",
        "Khen thưởng kỷ niệm 60 năm Ngày Truyền thống lực lượng Cảnh sát PCCC và CNCH",
        "Tỉnh Hà Giang tổ chức Hội nghị tổng kết Công tác Thi đua, Khen thưởng năm 2021 và "
        "Phát động phong trào thi đua yêu nước năm 2022",
        "Nguyễn  Thị   Hoa ở Hà Giang 😀 😀 😀 😀 😀 😀 😀 😀 😀 😀 😀 😀 😀 😀 😀 😀 😀",
    };
    static const char *const fields[] = {"Subject", "From", "X-A-Long-Field-Name-Of-Thirty-Two"};
    struct buf b, d;
    (void)state;
    buf_init(&b, 0);
    buf_init(&d, 0);
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++)
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            buf_reset(&b);
            if (f == 1)
                assert_int_equal(hdr_write_address(&b, "From", texts[t], "a@hagiang.example"),
                                 MERR_OK);
            else
                assert_int_equal(hdr_write_text(&b, fields[f], texts[t]), MERR_OK);
            assert_lines(b.data, b.len, HDR_LINE_MAX);
            assert_ew_lines(b.data, b.len);
            assert_words(b.data);
            assert_cut_at_spaces(b.data);
        }
    buf_free(&b);
    buf_free(&d);
}

/* hdr_write_raw never writes a line over 998 (RFC 5322 §2.1.1), found by fuzzing at 999. */
static void test_hdr_raw_998(void **state)
{
    char word[1100];
    struct buf b;
    const char *field = "List-Unsubscribe"; /* "List-Unsubscribe: " is 18 */
    (void)state;
    buf_init(&b, 0);
    memset(word, 'a', sizeof word);
    word[980] = 0;
    assert_int_equal(hdr_write_raw(&b, field, word), MERR_OK);
    assert_lines(b.data, b.len, HDR_HARD_MAX);
    assert_int_equal(b.len, 18 + 980 + 2);
    buf_reset(&b);
    word[980] = 'a';
    word[981] = 0;
    assert_int_equal(hdr_write_raw(&b, field, word), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "981 characters"));
    assert_int_equal(b.len, 0);
    /* a later word has the whole folded line but its leading space */
    memset(word, 'a', sizeof word);
    word[0] = 'x';
    word[1] = ' ';
    word[999] = 0;
    assert_int_equal(hdr_write_raw(&b, field, word), MERR_OK);
    assert_lines(b.data, b.len, HDR_HARD_MAX);
    buf_reset(&b);
    word[999] = 'a';
    word[1000] = 0;
    assert_int_equal(hdr_write_raw(&b, field, word), MERR_INVAL);
    /* and every field name length at the edge */
    for (size_t fl = 1; fl < 40; fl++) {
        char name[64];
        memset(name, 'F', fl);
        name[fl] = 0;
        memset(word, 'w', sizeof word);
        word[HDR_HARD_MAX - fl - 2] = 0;
        buf_reset(&b);
        assert_int_equal(hdr_write_raw(&b, name, word), MERR_OK);
        assert_lines(b.data, b.len, HDR_HARD_MAX);
        word[HDR_HARD_MAX - fl - 2] = 'w';
        word[HDR_HARD_MAX - fl - 1] = 0;
        assert_int_equal(hdr_write_raw(&b, name, word), MERR_INVAL);
    }
    buf_free(&b);
}

static void test_hdr_plain_ascii_kept(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(hdr_write_text(&b, "Subject", "Weekly news"), MERR_OK);
    assert_string_equal(b.data, "Subject: Weekly news\r\n");
    buf_free(&b);
}

static void test_hdr_address_forms(void **state)
{
    (void)state;
    struct buf b, d;
    buf_init(&b, 0);
    buf_init(&d, 0);
    assert_int_equal(hdr_write_address(&b, "To", "John Smith", "j@x.example"), MERR_OK);
    assert_string_equal(b.data, "To: John Smith <j@x.example>\r\n");
    buf_reset(&b);
    assert_int_equal(hdr_write_address(&b, "To", "Smith, John \"JJ\" \\", "j@x.example"), MERR_OK);
    assert_string_equal(b.data, "To: \"Smith, John \\\"JJ\\\" \\\\\" <j@x.example>\r\n");
    buf_reset(&b);
    assert_int_equal(hdr_write_address(&b, "To", NULL, "j@x.example"), MERR_OK);
    assert_string_equal(b.data, "To: j@x.example\r\n");
    buf_reset(&b);
    assert_int_equal(hdr_write_address(&b, "From", "Cổng TTĐT Hà Giang, \"😀\"", "a@b.example"),
                     MERR_OK);
    assert_lines(b.data, b.len, HDR_LINE_MAX);
    assert_ew_lines(b.data, b.len);
    assert_words(b.data);
    {
        const char *v = value_of(&b, "From") + 1;
        const char *lt = strrchr(v, '<');
        assert_non_null(lt);
        assert_int_equal(hdr_decode(&d, v, (size_t)(lt - v) - 1), MERR_OK);
        /* folding whitespace before <addr> may remain: compare the trimmed text */
        while (d.len && (d.data[d.len - 1] == ' '))
            d.data[--d.len] = 0;
        assert_string_equal(d.data, "Cổng TTĐT Hà Giang, \"😀\"");
        assert_string_equal(lt, "<a@b.example>\r\n");
    }
    buf_free(&b);
    buf_free(&d);
}

static void test_hdr_injection_refused(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "X: y\r\n"), MERR_OK);
    assert_int_equal(hdr_write_text(&b, "Subject", "hi\r\nBcc: victim@x.example"), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "Subject"));
    assert_int_equal(hdr_write_text(&b, "Subject", "hi\nthere"), MERR_INVAL);
    assert_int_equal(hdr_write_address(&b, "To", "Evil\r\nBcc: v@x.example", "a@b.example"),
                     MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "To"));
    assert_int_equal(hdr_write_address(&b, "Reply-To", "ok", "a@b.example\r\nBcc: x@y.z"),
                     MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "Reply-To"));
    assert_int_equal(hdr_write_address(&b, "To", "ok", "a b@c.example"), MERR_INVAL);
    assert_int_equal(hdr_write_address(&b, "To", "ok", "người@c.example"), MERR_INVAL);
    assert_int_equal(hdr_write_raw(&b, "List-Id", "<a\r\n.b>"), MERR_INVAL);
    assert_int_equal(hdr_write_text(&b, "Subject", "bad \xff utf8"), MERR_INVAL);
    assert_string_equal(b.data, "X: y\r\n"); /* nothing was written */
    buf_free(&b);
}

static void test_hdr_decode_vectors(void **state)
{
    (void)state;
    struct buf d;
    const char *v;
    buf_init(&d, 0);
    v = "=?UTF-8?Q?a_b?= =?UTF-8?B?w6E=?=";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_OK);
    assert_string_equal(d.data, "a bá");
    buf_reset(&d);
    v = "plain  =?utf-8?q?x=3Dy?= tail";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_OK);
    assert_string_equal(d.data, "plain  x=y tail");
    buf_reset(&d);
    v = "=?UTF-8?B?w6E=?=\r\n =?UTF-8?B?w6E=?=";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_OK);
    assert_string_equal(d.data, "áá");
    buf_reset(&d);
    v = "a\r\n b";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_OK);
    assert_string_equal(d.data, "a b");
    buf_reset(&d);
    v = "=?ISO-8859-1?Q?caf=E9?=";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_INVAL);
    buf_reset(&d);
    v = "=?UTF-8?B?!!!!?=";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_INVAL);
    buf_free(&d);
}

/* ---- QP ---- */

static int hexv(char c)
{
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

static void qp_decode(const char *s, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else if (s[i] == '=') {
            assert_true(i + 2 < n);
            buf_putc(out, (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2])));
            i += 2;
        } else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
            buf_putc(out, '\n');
            i++;
        } else {
            buf_putc(out, s[i]);
        }
    }
}

static void test_qp_roundtrip(void **state)
{
    (void)state;
    const char *inputs[] = {
        "Dòng một có dấu tiếng Việt rất dài để thử ngắt dòng mềm trong quoted-printable ok\n",
        ".\n.dot\nFrom here\ntrailing space \ntab\t\n= equals =3D\n",
        "no final newline ếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếế",
        "",
    };
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        struct buf q, d;
        size_t n = strlen(inputs[k]);
        buf_init(&q, 0);
        buf_init(&d, 0);
        assert_int_equal(compose_qp(&q, inputs[k], n), MERR_OK);
        if (q.len) {
            assert_lines(q.data, q.len, 76);
            assert_null(strstr(q.data, "\r\n.")); /* no line starts with a dot */
            assert_true(q.data[0] != '.');
            assert_null(strstr(q.data, " \r\n")); /* no trailing space */
        }
        qp_decode(q.data ? q.data : "", q.len, &d);
        /* the encoder ends the body with a line break */
        if (n && inputs[k][n - 1] != '\n')
            assert_int_equal(d.len, n + 1);
        else
            assert_int_equal(d.len, n);
        if (n)
            assert_memory_equal(d.data, inputs[k], n);
        buf_free(&q);
        buf_free(&d);
    }
}

/*
 * RFC 2045 §6.7 as compose_qp applies it, one byte at a time and nothing
 * else: literal 33-126 but '=', space and tab literal unless a line break
 * or the end follows, a '.' or "From " starting a line encoded, a soft
 * break before a line would pass 76 with its '=', CRLF for LF or CRLF.
 */
static void qp_reference(const unsigned char *s, size_t n, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '\n' || (c == '\r' && i + 1 < n && s[i + 1] == '\n')) {
            i += c == '\r';
            buf_puts(out, "\r\n");
            col = 0;
            continue;
        }
        int from = c == 'F' && n - i >= 5 && !memcmp(s + i, "From ", 5);
        int lit = c >= 33 && c <= 126 && c != '=';
        if (c == ' ' || c == '\t')
            lit = i + 1 < n && s[i + 1] != '\n' && s[i + 1] != '\r';
        else if (col == 0 && (c == '.' || from))
            lit = 0;
        if (col + (lit ? 1 : 3) > 75) {
            buf_puts(out, "=\r\n");
            col = 0;
            if (c == '.' || from)
                lit = 0;
        }
        if (lit) {
            buf_putc(out, (char)c);
            col++;
        } else {
            buf_printf(out, "=%c%c", hex[c >> 4], hex[c & 15]);
            col += 3;
        }
    }
    if (col)
        buf_puts(out, "\r\n");
}

/*
 * compose_qp writes exactly the reference's bytes, whatever its fast paths
 * do: 3,000 random texts made of the pieces that matter (ASCII runs of
 * every length, spaces and tabs before line breaks and at the end, '=',
 * dots and "From " at line starts, CR, LF, CRLF, Vietnamese UTF-8, other
 * bytes), at every offset of the input buffer.
 */
static void test_qp_matches_reference(void **state)
{
    static const char *const pieces[] = {
        "a",        "The quick brown fox ",
        "abcdefgh", "abcdefghijklmnopqrstuvwxyz0123456789",
        " ",        "  ",
        "\t",       "=",
        "==",       ".",
        "From ",    "From",
        "\n",       "\r\n",
        "\r",       "Cổng Thông tin điện tử ",
        "ế",        "ạ",
        "\"",       "<p style=\"margin:0\">",
        "~",        "\x7f",
        "\x01",     "\xff",
        "x y",      " \n",
        "\t\r\n",   ". \n",
        "abcdefg ", "abcdefg\t",
        "abcdefg=",
    };
    const size_t np = sizeof pieces / sizeof pieces[0];
    unsigned long long seed = 0x9E3779B97F4A7C15ULL;
    char in[4096 + 8];
    (void)state;
    for (int t = 0; t < 3000; t++) {
        size_t off = (size_t)t % 8, n = 0;
        int count = 1 + t % 120;
        for (int k = 0; k < count; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *piece = pieces[(seed >> 33) % np];
            size_t len = strlen(piece);
            if (off + n + len > 4096)
                break;
            memcpy(in + off + n, piece, len);
            n += len;
        }
        struct buf got, want;
        buf_init(&got, 0);
        buf_init(&want, 0);
        assert_int_equal(compose_qp(&got, in + off, n), MERR_OK);
        qp_reference((const unsigned char *)in + off, n, &want);
        assert_int_equal(got.len, want.len);
        if (want.len)
            assert_memory_equal(got.data, want.data, want.len);
        buf_free(&got);
        buf_free(&want);
    }
}

/*
 * compose_qp_with gives compose_qp's bytes whatever its memo holds: the
 * same text, a text with lines changed, left out or added (a digest's
 * greeting and links), an unrelated one; lines of every piece of the test
 * above, the last one with or without its line end; and the same
 * MERR_LIMIT at every cap around the output's size.
 */
static void test_qp_memo_same_bytes(void **state)
{
    static const char *const pieces[] = {
        "a",
        "The quick brown fox ",
        "abcdefghijklmnopqrstuvwxyz0123456789",
        " ",
        "\t",
        "=",
        ".",
        "From ",
        "\r",
        "ế",
        "Cổng Thông tin điện tử ",
        "<p style=\"margin:0\">",
        "x y",
        "\x01",
        "https://tin.hagiang.example/huy?t=abc",
    };
    const size_t np = sizeof pieces / sizeof pieces[0];
    unsigned long long seed = 0x2545F4914F6CDD1DULL;
    (void)state;
#define RND() (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL, seed >> 33)
    for (int t = 0; t < 2000; t++) {
        char lines[24][300];
        size_t nl = 1 + RND() % 24;
        struct buf a, b, got, want;
        struct compose_qp_memo *memo = NULL;
        buf_init(&a, 0);
        buf_init(&b, 0);
        for (size_t i = 0; i < nl; i++) {
            size_t len = 0;
            int count = (int)(RND() % 12);
            for (int k = 0; k < count; k++) {
                const char *piece = pieces[RND() % np];
                if (len + strlen(piece) < 250) {
                    memcpy(lines[i] + len, piece, strlen(piece));
                    len += strlen(piece);
                }
            }
            strcpy(lines[i] + len, RND() % 3 ? "\n" : "\r\n");
        }
        /* the memo's text and the recipient's: the same lines, each kept,
         * changed, left out or doubled on either side */
        for (size_t i = 0; i < nl; i++) {
            for (int side = 0; side < 2; side++) {
                struct buf *x = side ? &b : &a;
                unsigned long long r = RND() % 10;
                if (r == 0)
                    continue; /* left out */
                if (r == 1)
                    assert_int_equal(buf_puts(x, "Chào bạn Độc giả số 7,\n"), MERR_OK);
                if (r == 2)
                    assert_int_equal(buf_puts(x, side ? "<a href=\"\">\n" : "<a href=\"x\">\n"),
                                     MERR_OK);
                else
                    assert_int_equal(buf_puts(x, lines[i]), MERR_OK);
            }
        }
        if (RND() % 2 && a.len && a.data[a.len - 1] == '\n')
            a.len--, a.data[a.len] = 0; /* the last line without its end */
        if (t % 7 == 0) {               /* the memo of the recipient's own text */
            buf_reset(&b);
            assert_int_equal(buf_append(&b, a.data ? a.data : "", a.len), MERR_OK);
        }
        assert_int_equal(compose_qp_memo_new(b.data ? b.data : "", b.len, &memo), MERR_OK);
        buf_init(&want, 0);
        assert_int_equal(compose_qp(&want, a.data ? a.data : "", a.len), MERR_OK);
        buf_init(&got, 0);
        assert_int_equal(compose_qp_with(&got, a.data ? a.data : "", a.len, memo), MERR_OK);
        assert_int_equal(got.len, want.len);
        if (want.len)
            assert_memory_equal(got.data, want.data, want.len);
        if (t % 50 == 0) {
            /* a cap anywhere around the reservation: the same answer */
            for (size_t cap = want.len / 2; cap < 4 * a.len + 16; cap += 1 + cap / 64) {
                struct buf g, w;
                buf_init(&g, cap);
                buf_init(&w, cap);
                enum merr rg = compose_qp_with(&g, a.data ? a.data : "", a.len, memo);
                enum merr rw = compose_qp(&w, a.data ? a.data : "", a.len);
                if (rg != rw || g.len != w.len || (w.len && memcmp(g.data, w.data, w.len)))
                    fail_msg("text %d, cap %zu: %d (%zu bytes), compose_qp %d (%zu bytes)", t, cap,
                             rg, g.len, rw, w.len);
                buf_free(&g);
                buf_free(&w);
            }
        }
        compose_qp_memo_free(memo);
        buf_free(&a);
        buf_free(&b);
        buf_free(&got);
        buf_free(&want);
    }
#undef RND
}

/* The filename parameter(s) of a part, decoded as RFC 2231 §3-§4 say. */
static void part_filename(const char *part, char *out)
{
    const char *p = strstr(part, "Content-Disposition: inline;");
    size_t n = 0;
    assert_non_null(p);
    if (strstr(p, "filename=\"")) {
        const char *q = strstr(p, "filename=\"") + 10, *e = strchr(q, '"');
        memcpy(out, q, (size_t)(e - q));
        out[e - q] = 0;
        return;
    }
    for (int k = 0;; k++) {
        char tag[32];
        const char *q;
        snprintf(tag, sizeof tag, "filename*%d*=%s", k, k ? "" : "utf-8''");
        q = strstr(p, tag);
        if (!q)
            break;
        for (q += strlen(tag); *q && *q != ';' && *q != '\r'; q++) {
            if (*q == '%') {
                out[n++] = (char)(hexv(q[1]) * 16 + hexv(q[2]));
                q += 2;
            } else {
                out[n++] = *q;
            }
        }
    }
    out[n] = 0;
}

static void test_image_part(void **state)
{
    static const char *const names[][2] = {
        {"ảnh hội nghị.jpg", "ảnh hội nghị.jpg"},
        {"plain-name_1.jpg", "plain-name_1.jpg"},
        {"with space.png", "with space.png"},
        {"../../etc/Ảnh\r\n\"x\".jpg", "Ảnh\"x\".jpg"},
        {"dir\\sub\\tên.jpg", "tên.jpg"},
        {"", "image"},
        {NULL, "image"},
        {"Tỉnh Hà Giang tổ chức Hội nghị tổng kết Công tác Thi đua, Khen thưởng năm 2021 "
         "và Phát động phong trào.jpg",
         NULL},
    };
    struct buf p;
    const char *b64 = "QUJD\r\n";
    char got[600];
    (void)state;
    buf_init(&p, 0);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        buf_reset(&p);
        assert_int_equal(
            compose_image_part(&p, "image/jpeg", names[i][0], "abc@x.example", b64, strlen(b64)),
            MERR_OK);
        assert_memory_equal(p.data,
                            "Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n"
                            "Content-ID: <abc@x.example>\r\nContent-Disposition: inline;",
                            strlen("Content-Type: image/jpeg\r\nContent-Transfer-Encoding: "
                                   "base64\r\nContent-ID: <abc@x.example>\r\n"
                                   "Content-Disposition: inline;"));
        for (size_t k = 0; k < p.len; k++)
            assert_true((unsigned char)p.data[k] < 0x80);
        assert_lines(p.data, p.len, HDR_LINE_MAX);
        assert_non_null(strstr(p.data, "\r\n\r\nQUJD\r\n"));
        part_filename(p.data, got);
        if (names[i][1])
            assert_string_equal(got, names[i][1]);
        else /* cut at 120 bytes, between characters */
            assert_true(strlen(got) <= 120 && utf8_valid(got, strlen(got), NULL) &&
                        !strncmp(got, names[i][0], strlen(got)) && strlen(got) > 100);
        /* UTF-8 names go as RFC 2231, never mangled to ASCII */
        if (names[i][0] && strstr(names[i][0], "ả"))
            assert_non_null(strstr(p.data, "filename*0*=utf-8''%E1%BA%A3nh"));
    }
    assert_int_equal(compose_image_part(&p, "image/jpeg\r\nX: y", "a.jpg", "c@x", b64, 6),
                     MERR_INVAL);
    assert_int_equal(compose_image_part(&p, "image/jpeg", "a.jpg", "c@x>\r\nX: y", b64, 6),
                     MERR_INVAL);
    buf_free(&p);
}

static void test_boundary_random(void **state)
{
    (void)state;
    char a[COMPOSE_BOUNDARY_LEN], b[COMPOSE_BOUNDARY_LEN], c[COMPOSE_BOUNDARY_LEN];
    compose_boundary(a, "1.0a1b@hagiang.example", "alternative");
    compose_boundary(b, "2.9f8e@hagiang.example", "alternative");
    assert_int_equal(strlen(a), 34);
    assert_memory_equal(a, "=_", 2);
    assert_string_not_equal(a, b); /* two messages differ */
    compose_boundary(c, "1.0a1b@hagiang.example", "related");
    assert_string_not_equal(a, c); /* two parts of one message differ */
    compose_boundary(c, "1.0a1b@hagiang.example", "alternative");
    assert_string_equal(a, c); /* the same message renders the same */
}

/* ---- whole messages from the sample articles ---- */

struct fixture {
    struct config cfg;
    struct db *db;
    struct tpl_set *tpls;
    struct compose_env env;
};

static struct fixture *fx;

static int setup_db(void **state)
{
    char path[700], tdir[600];
    const char *ids[] = {"ha-giang-tong-ket-thi-dua-2021", "tin-bac-me-lam-san-20210813",
                         "tin-ca-do-bong-da-20210928",     "tin-cuu-chien-binh-20211008",
                         "tin-nguoi-khuyet-tat-20211020",  "tin-pccc-20211005"};
    (void)state;
    fx = calloc(1, sizeof *fx);
    if (!fx || cfg_defaults(&fx->cfg) || date_set_zone("Asia/Ho_Chi_Minh"))
        return -1;
    snprintf(path, sizeof path, "%s/compose.db", test_tmpdir("compose"));
    if (db_open(path, 5000, &fx->db) || db_migrate(fx->db, 0))
        return -1;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char *id = NULL;
        snprintf(path, sizeof path, "%s/examples/articles/%s.json", test_source_dir(), ids[i]);
        if (article_add_file(fx->db, &fx->cfg, path, &id)) {
            print_error("article_add_file %s: %s\n", path, merr_msg());
            return -1;
        }
        free(id);
    }
    snprintf(tdir, sizeof tdir, "%s/templates", test_source_dir());
    if (tpl_set_open(tdir, NULL, &fx->tpls))
        return -1;
    fx->env.cfg = &fx->cfg;
    fx->env.db = fx->db;
    fx->env.tpls = fx->tpls;
    return 0;
}

static int teardown_db(void **state)
{
    (void)state;
    tpl_set_free(fx->tpls);
    db_close(fx->db);
    cfg_free(&fx->cfg);
    free(fx);
    return 0;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/*
 * The message with QP soft breaks removed and =3D turned back into '=', so
 * that HTML text can be searched (base64 lines lose their padding: harmless).
 */
static char *unfold_qp(const struct buf *m)
{
    char *o = malloc(m->len + 1), *q = o;
    assert_non_null(o);
    for (size_t i = 0; i < m->len; i++) {
        if (m->data[i] == '=' && i + 2 < m->len && m->data[i + 1] == '\r' && m->data[i + 2] == '\n')
            i += 2;
        else if (m->data[i] == '=' && i + 2 < m->len && m->data[i + 1] == '3' &&
                 m->data[i + 2] == 'D')
            *q++ = '=', i += 2;
        else
            *q++ = m->data[i];
    }
    *q = 0;
    return o;
}

/* Every cid: in the message has exactly one part, and every part is referenced. */
static size_t assert_cids(const struct buf *m)
{
    char *msg = unfold_qp(m);
    const char *p;
    size_t parts = 0;
    for (p = msg; (p = strstr(p, "Content-ID: <")); p++) {
        char cid[128], ref[140];
        const char *e = strchr(p + 13, '>');
        assert_non_null(e);
        snprintf(cid, sizeof cid, "%.*s", (int)(e - p - 13), p + 13);
        snprintf(ref, sizeof ref, "cid:%s", cid);
        assert_true(count(msg, ref) >= 1);
        snprintf(ref, sizeof ref, "Content-ID: <%s>", cid);
        assert_int_equal(count(msg, ref), 1);
        parts++;
    }
    /* and every cid: reference has its part */
    for (p = msg; (p = strstr(p, "cid:")); p++) {
        char ref[140];
        size_t n = strcspn(p + 4, "\"' >");
        snprintf(ref, sizeof ref, "Content-ID: <%.*s>", (int)n, p + 4);
        assert_int_equal(count(msg, ref), 1);
    }
    free(msg);
    return parts;
}

static struct compose_plan *plan_from(const char *json)
{
    json_error_t jerr;
    json_t *in = json_loads(json, 0, &jerr);
    struct compose_plan *plan = NULL;
    enum merr rc;
    assert_non_null(in);
    rc = compose_plan_new(&fx->env, in, &plan);
    if (rc)
        fail_msg("compose_plan_new: %s", merr_msg());
    json_decref(in);
    return plan;
}

static void test_share_message(void **state)
{
    (void)state;
    struct compose_plan *plan = plan_from(
        "{\"kind\":\"share\",\"article\":\"ha-giang-tong-ket-thi-dua-2021\","
        "\"sender_name\":\"Nguyễn Văn \\\"Bình\\\", 😀\",\"sender_email\":\"binh@example.org\","
        "\"note\":\"Anh xem bài này nhé <b>\\ndòng hai\"}");
    struct compose_recipient r = {
        .email = "an@example.com", .name = "Trần An", .message_id = "abc123@hagiang.example"};
    struct buf m;
    buf_init(&m, 0);
    assert_int_equal(compose_render(plan, &r, &m), MERR_OK);
    assert_lines(m.data, m.len, 998);
    assert_non_null(strstr(m.data, "\r\nMessage-ID: <abc123@hagiang.example>\r\n"));
    assert_non_null(strstr(m.data, "\r\nMIME-Version: 1.0\r\n"));
    assert_non_null(strstr(m.data, "Reply-To: "));
    assert_null(strstr(m.data, "List-Unsubscribe"));
    assert_non_null(strstr(m.data, "Content-Type: multipart/related"));
    assert_int_equal(assert_cids(&m), 7); /* seven distinct photos, once each */
    assert_int_equal(count(m.data, "Content-Transfer-Encoding: base64"), 7);
    /* the note is escaped in HTML with its line break kept */
    {
        char *u = unfold_qp(&m);
        assert_non_null(strstr(u, "Anh xem b=C3=A0i n=C3=A0y nh=C3=A9 &lt;b&gt;<br>"));
        free(u);
    }
    buf_free(&m);

    /* CR/LF in the recipient's name: refused, nothing written */
    r.name = "Evil\r\nBcc: x@y.example";
    assert_int_equal(compose_render(plan, &r, &m), MERR_INVAL);
    assert_int_equal(m.len, 0);
    compose_plan_free(plan);
}

/* A share of the one-photo sample article, planned with `media` as the env's cache, rendered. */
static void share_with_cache(struct compose_media_cache *media, struct buf *m)
{
    struct compose_recipient r = {
        .email = "an@example.com", .name = "Trần An", .message_id = "cache1@hagiang.example"};
    struct compose_plan *plan;
    fx->env.media = media;
    plan = plan_from("{\"kind\":\"share\",\"article\":\"tin-pccc-20211005\","
                     "\"sender_name\":\"Hoa\",\"sender_email\":\"\",\"note\":\"\"}");
    fx->env.media = NULL;
    buf_reset(m);
    assert_int_equal(compose_render(plan, &r, m), MERR_OK);
    assert_int_equal(count(m->data, "Content-Transfer-Encoding: base64"), 1);
    compose_plan_free(plan);
}

/*
 * The derived images kept between plans (compose_media_cache): a second
 * plan embeds the first one's bytes without reading them again, so with
 * the database's base64 changed under it (inside a transaction rolled back
 * at the end) the cached plan still sends the photo and a plan without
 * the cache sends the change; a cache too small for the photo keeps
 * nothing; an image made on first use is not kept (only what the database
 * holds is), the next plan's read of it is.
 */
static void test_media_cache_between_plans(void **state)
{
    static const char marker[] = "TUFSS0VS"; /* base64 of "MARKER" */
    /* the derived images' base64 in the database changed to the marker */
    static const char mark_sql[] =
        "UPDATE media SET b64 = CAST('TUFSS0VS' || char(13, 10) AS BLOB) "
        "WHERE sha256 IN (SELECT derived_sha256 FROM media_derived)";
    struct compose_media_cache *media = NULL, *tiny = NULL, *fresh = NULL;
    struct buf first, m;
    (void)state;
    buf_init(&first, 0);
    buf_init(&m, 0);
    date_set_fake_now(1701000000); /* one Date header for every message compared */
    assert_int_equal(compose_media_cache_new((size_t)16 << 20, &media), MERR_OK);
    assert_int_equal(compose_media_cache_new(10, &tiny), MERR_OK);
    assert_int_equal(compose_media_cache_new((size_t)16 << 20, &fresh), MERR_OK);
    assert_int_equal(db_begin(fx->db), MERR_OK);

    share_with_cache(media, &first);
    share_with_cache(tiny, &m);
    /* with that photo's body image kept: a digest of its article (thumbnails)
     * and a share of another (seven other photos) are what they are without
     * the cache, byte for byte */
    {
        static const char *const inputs[] = {
            "{\"kind\":\"digest\",\"articles\":[\"tin-pccc-20211005\"],"
            "\"list\":{\"id\":1,\"slug\":\"tin-tuc\",\"name\":\"Tin\"},\"week\":\"2021-W40\"}",
            "{\"kind\":\"share\",\"article\":\"ha-giang-tong-ket-thi-dua-2021\","
            "\"sender_name\":\"Hoa\",\"sender_email\":\"\",\"note\":\"\"}",
        };
        struct compose_recipient r = {.email = "an@example.com",
                                      .name = "Trần An",
                                      .message_id = "cache2@hagiang.example",
                                      .unsubscribe_url = "https://tin.hagiang.example/u/x"};
        for (size_t i = 0; i < 2; i++) {
            struct compose_plan *with, *without;
            struct buf a, b;
            buf_init(&a, 0);
            buf_init(&b, 0);
            fx->env.media = media;
            with = plan_from(inputs[i]);
            fx->env.media = NULL;
            without = plan_from(inputs[i]);
            assert_int_equal(compose_render(with, &r, &a), MERR_OK);
            assert_int_equal(compose_render(without, &r, &b), MERR_OK);
            assert_true(count(a.data, "Content-Transfer-Encoding: base64") >= 1);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.data, b.data, b.len);
            compose_plan_free(with);
            compose_plan_free(without);
            buf_free(&a);
            buf_free(&b);
        }
    }
    assert_int_equal(db_exec(fx->db, mark_sql), MERR_OK);
    share_with_cache(media, &m); /* from the cache: the same bytes as the first */
    assert_null(strstr(m.data, marker));
    assert_int_equal(m.len, first.len);
    assert_memory_equal(m.data, first.data, first.len);
    share_with_cache(NULL, &m); /* from the database: the change */
    assert_non_null(strstr(m.data, marker));
    share_with_cache(tiny, &m); /* nothing kept in 10 bytes */
    assert_non_null(strstr(m.data, marker));

    db_rollback(fx->db);

    /* made on first use (outside a transaction, so that it is stored): not
     * kept; read from the database next time: kept */
    assert_int_equal(db_exec(fx->db, "DELETE FROM media_derived"), MERR_OK);
    share_with_cache(fresh, &m);
    assert_null(strstr(m.data, marker));
    assert_int_equal(db_exec(fx->db, mark_sql), MERR_OK);
    share_with_cache(fresh, &m);
    assert_non_null(strstr(m.data, marker));
    /* the base64 made again from the bytes for the tests after this one */
    assert_int_equal(db_exec(fx->db, "UPDATE media SET b64 = NULL"), MERR_OK);
    share_with_cache(fresh, &m);
    assert_non_null(strstr(m.data, marker));
    share_with_cache(NULL, &m);
    assert_null(strstr(m.data, marker));
    assert_int_equal(m.len, first.len);
    date_set_fake_now(0);
    compose_media_cache_free(media);
    compose_media_cache_free(tiny);
    compose_media_cache_free(fresh);
    buf_free(&first);
    buf_free(&m);
}

static void test_digest_message(void **state)
{
    (void)state;
    struct compose_plan *plan = plan_from(
        "{\"kind\":\"digest\",\"articles\":[\"ha-giang-tong-ket-thi-dua-2021\","
        "\"tin-bac-me-lam-san-20210813\",\"tin-ca-do-bong-da-20210928\","
        "\"tin-cuu-chien-binh-20211008\",\"tin-nguoi-khuyet-tat-20211020\","
        "\"tin-pccc-20211005\"],\"list\":{\"id\":1,\"slug\":\"tin-tuc\",\"name\":\"Tin tức\"},"
        "\"week\":\"48\"}");
    struct compose_recipient r = {.email = "an@example.com",
                                  .name = "An",
                                  .message_id = "d1@hagiang.example",
                                  .list_id = "tin-tuc.hagiang.example",
                                  .unsubscribe_url = "https://tin.example/unsubscribe/TOKEN",
                                  .unsubscribe_mailto =
                                      "mailto:unsubscribe@hagiang.example?subject=unsubscribe"};
    struct buf m;
    buf_init(&m, 0);
    assert_int_equal(compose_render(plan, &r, &m), MERR_OK);
    assert_lines(m.data, m.len, 998);
    assert_non_null(strstr(m.data, "\r\nList-Id: <tin-tuc.hagiang.example>\r\n"));
    assert_non_null(strstr(m.data, "List-Unsubscribe: <https://tin.example/unsubscribe/TOKEN>,"));
    assert_non_null(strstr(m.data, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
    assert_int_equal(assert_cids(&m), 6);
    /* one-click only over https (RFC 8058 §3.1); the http link stays in List-Unsubscribe */
    buf_reset(&m);
    r.unsubscribe_url = "http://tin.example/unsubscribe/TOKEN";
    assert_int_equal(compose_render(plan, &r, &m), MERR_OK);
    assert_non_null(strstr(m.data, "List-Unsubscribe: <http://tin.example/unsubscribe/TOKEN>,"));
    assert_null(strstr(m.data, "List-Unsubscribe-Post"));
    buf_free(&m);
    compose_plan_free(plan);
}

static void test_confirm_message(void **state)
{
    (void)state;
    struct compose_plan *plan = plan_from(
        "{\"kind\":\"confirm\",\"list\":{\"id\":1,\"slug\":\"tin-tuc\",\"name\":\"Tin tức\"}}");
    json_t *vars = json_pack("{s:s}", "confirm_url", "https://tin.example/confirm/TOK123");
    struct compose_recipient r = {.email = "an@example.com",
                                  .message_id = "c1@hagiang.example",
                                  .list_id = "tin-tuc.hagiang.example",
                                  .unsubscribe_url = "https://tin.example/unsubscribe/X",
                                  .vars = vars};
    struct buf m;
    char *u;
    buf_init(&m, 0);
    assert_int_equal(compose_render(plan, &r, &m), MERR_OK);
    assert_lines(m.data, m.len, 998);
    /* transactional: no list headers even when given */
    assert_null(strstr(m.data, "List-Unsubscribe"));
    assert_null(strstr(m.data, "List-Id"));
    assert_non_null(strstr(m.data, "Content-Type: multipart/alternative"));
    assert_null(strstr(m.data, "multipart/related"));
    u = unfold_qp(&m);
    assert_non_null(strstr(u, "https://tin.example/confirm/TOK123"));
    assert_non_null(strstr(u, "7 ng=C3=A0y")); /* "7 ngày" */
    free(u);
    buf_free(&m);
    json_decref(vars);
    compose_plan_free(plan);
}

struct job {
    const struct compose_plan *plan;
    int ok;
};

static void *render_many(void *arg)
{
    struct job *j = arg;
    struct compose_recipient r = {.email = "a@example.com", .message_id = "t@x.example"};
    struct buf m;
    buf_init(&m, 0);
    j->ok = 1;
    for (int i = 0; i < 50 && j->ok; i++) {
        buf_reset(&m);
        if (compose_render(j->plan, &r, &m) || !strstr(m.data, "Content-ID"))
            j->ok = 0;
    }
    buf_free(&m);
    return NULL;
}

static void test_render_threads(void **state)
{
    (void)state;
    struct compose_plan *plan = plan_from("{\"kind\":\"share\",\"article\":\"tin-pccc-20211005\","
                                          "\"sender_email\":\"b@example.org\"}");
    pthread_t th[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].plan = plan;
        assert_int_equal(pthread_create(&th[i], NULL, render_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(jobs[i].ok);
    }
    compose_plan_free(plan);
}

static void test_plan_errors(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s,s:s}", "kind", "share", "article", "no-such-article");
    struct compose_plan *plan = NULL;
    assert_int_equal(compose_plan_new(&fx->env, in, &plan), MERR_NOTFOUND);
    assert_null(plan);
    json_decref(in);
    in = json_pack("{s:s}", "kind", "fax");
    assert_int_equal(compose_plan_new(&fx->env, in, &plan), MERR_INVAL);
    json_decref(in);
    in = json_pack("{s:s,s:s,s:s}", "kind", "share", "article", "tin-pccc-20211005", "sender_name",
                   "a\r\nBcc: x");
    assert_int_equal(compose_plan_new(&fx->env, in, &plan), MERR_INVAL);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_hdr_text_roundtrip),   cmocka_unit_test(test_hdr_plain_ascii_kept),
        cmocka_unit_test(test_hdr_address_forms),    cmocka_unit_test(test_hdr_injection_refused),
        cmocka_unit_test(test_hdr_decode_vectors),   cmocka_unit_test(test_hdr_words_whole),
        cmocka_unit_test(test_hdr_raw_998),          cmocka_unit_test(test_qp_roundtrip),
        cmocka_unit_test(test_qp_matches_reference), cmocka_unit_test(test_qp_memo_same_bytes),
        cmocka_unit_test(test_image_part),           cmocka_unit_test(test_boundary_random),
    };
    const struct CMUnitTest msgs[] = {
        cmocka_unit_test(test_share_message),   cmocka_unit_test(test_digest_message),
        cmocka_unit_test(test_confirm_message), cmocka_unit_test(test_render_threads),
        cmocka_unit_test(test_plan_errors),     cmocka_unit_test(test_media_cache_between_plans),
    };
    int failed = cmocka_run_group_tests_name("compose.hdr_mime", unit, NULL, NULL);
    failed += cmocka_run_group_tests_name("compose.messages", msgs, setup_db, teardown_db);
    return failed ? 1 : 0;
}
