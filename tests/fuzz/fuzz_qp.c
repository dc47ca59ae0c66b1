/*
 * fuzz_qp.c: the quoted-printable body encoder (compose_qp,
 * mailer/compose/compose_mime.c) on any bytes: an article's text and
 * markup come from the CMS. Checked:
 *   - every line ends in CRLF, has at most 76 characters, and holds only
 *     printable ASCII (RFC 2045 §6.7), with no space or tab before its end;
 *   - no line starts with '.' (SMTP's dot) or "From " (mbox);
 *   - decoded, it is the input with its line breaks as LF (CRLF or LF in,
 *     a lone CR kept) and a final LF added when the input had none;
 *   - compose_qp_with gives the same bytes with a memo of the input itself
 *     and with a memo of its second half (lines shared, lines missing).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "compose_mime.h"
#include "fuzz.h"

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf q, want, got;
    const char *s;

    buf_init(&q, 0);
    buf_init(&want, 0);
    buf_init(&got, 0);
    FUZZ_CHECK(compose_qp(&q, (const char *)data, size) == MERR_OK, "the encoder refused");
    s = q.data ? q.data : "";
    for (size_t i = 0, start = 0; i < q.len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') {
            FUZZ_CHECK(i + 1 < q.len && s[i + 1] == '\n', "a CR without its LF");
            FUZZ_CHECK(i - start <= 76, "a line longer than 76");
            FUZZ_CHECK(i == start || (s[i - 1] != ' ' && s[i - 1] != '\t'),
                       "white space ends a line");
            i++;
            start = i + 1;
            continue;
        }
        FUZZ_CHECK(c == ' ' || c == '\t' || (c >= 33 && c <= 126), "a byte that is not printable");
        if (i == start) {
            FUZZ_CHECK(c != '.', "a line starts with a dot");
            FUZZ_CHECK(q.len - i < 5 || memcmp(s + i, "From ", 5), "a line starts with From");
        }
    }
    FUZZ_CHECK(q.len == 0 || (q.len >= 2 && !memcmp(s + q.len - 2, "\r\n", 2)), "no final CRLF");

    for (size_t i = 0; i < q.len; i++) {
        if (s[i] == '=' && s[i + 1] == '\r') {
            i += 2; /* a soft break */
        } else if (s[i] == '=') {
            int hi = hexv(s[i + 1]), lo = i + 2 < q.len ? hexv(s[i + 2]) : -1;
            FUZZ_CHECK(hi >= 0 && lo >= 0, "an '=' without two hex digits");
            buf_putc(&got, (char)(hi * 16 + lo));
            i += 2;
        } else if (s[i] == '\r') {
            buf_putc(&got, '\n');
            i++;
        } else {
            buf_putc(&got, s[i]);
        }
    }
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\r' && i + 1 < size && data[i + 1] == '\n')
            continue; /* CRLF: its LF stands for it */
        buf_putc(&want, (char)data[i]);
    }
    if (size && data[size - 1] != '\n')
        buf_putc(&want, '\n');
    FUZZ_CHECK(got.len == want.len && (!want.len || !memcmp(got.data, want.data, want.len)),
               "decoded, not the input");

    for (int half = 0; half < 2; half++) {
        struct compose_qp_memo *memo = NULL;
        size_t from = half ? size / 2 : 0;
        buf_reset(&got);
        FUZZ_CHECK(compose_qp_memo_new((const char *)data + from, size - from, &memo) == MERR_OK,
                   "no memo");
        FUZZ_CHECK(compose_qp_with(&got, (const char *)data, size, memo) == MERR_OK,
                   "the encoder refused with a memo");
        FUZZ_CHECK(got.len == q.len && (!q.len || !memcmp(got.data, q.data, q.len)),
                   "with a memo, not compose_qp's bytes");
        compose_qp_memo_free(memo);
    }
    buf_free(&q);
    buf_free(&want);
    buf_free(&got);
    return 0;
}
