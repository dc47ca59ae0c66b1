/*
 * fuzz_rfc2047.c: the header writer and the RFC 2047 decoder
 * (mailer/compose/hdr.c). The first byte picks what the rest is:
 *   0: a Subject (hdr_write_text)
 *   1: a display name and an address, split at the first NUL
 *      (hdr_write_address)
 *   2: a header value from outside, decoded (hdr_decode)
 *   3: a structured value we build (hdr_write_raw), under a field name of
 *      1-40 characters (the second byte): no line over 998 octets either
 * A written header must be lines of at most 998 octets (RFC 5322 §2.1.1)
 * ending in CRLF, folded only as CRLF + space, printable ASCII only, and
 * (0) decode back to exactly the text given (RFC 2047 §6.2: whitespace
 * between adjacent encoded words is dropped). Refused values (CR, LF, NUL,
 * bad UTF-8, a bad address) must leave the buffer as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "fuzz.h"

/* Checks the header lines in b[mark..) and returns where the value starts. */
static size_t check_lines(const struct buf *b, size_t mark, const char *field)
{
    const char *s = b->data + mark;
    size_t n = b->len - mark, col = 0;

    FUZZ_CHECK(n >= strlen(field) + 3, "header too short");
    FUZZ_CHECK(!memcmp(s, field, strlen(field)) && s[strlen(field)] == ':', "field name");
    FUZZ_CHECK(s[n - 2] == '\r' && s[n - 1] == '\n', "header does not end with CRLF");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') {
            FUZZ_CHECK(i + 1 < n && s[i + 1] == '\n', "CR without LF");
            FUZZ_CHECK(i + 2 == n || s[i + 2] == ' ', "a line break that is not a fold");
            FUZZ_CHECK(col <= 998, "a header line over 998 octets");
            col = 0;
            i++;
            continue;
        }
        FUZZ_CHECK(c != '\n', "bare LF");
        FUZZ_CHECK(c == ' ' || (c > 0x20 && c < 0x7f), "not printable ASCII");
        col++;
    }
    return strlen(field) + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf out, dec;
    char *s;

    if (size < 1)
        return 0;
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    buf_init(&out, 0);
    buf_init(&dec, 0);
    buf_puts(&out, "X-Before: 1\r\n");
    size_t mark = out.len;
    switch (data[0] % 4) {
    case 0:
        if (hdr_write_text(&out, "Subject", s) == MERR_OK) {
            size_t v = check_lines(&out, mark, "Subject");
            /* the value without the CRLF at its end, unfolded and decoded */
            FUZZ_CHECK(hdr_decode(&dec, out.data + mark + v, out.len - mark - v - 2) == MERR_OK,
                       "our own Subject does not decode");
            const char *d = dec.data ? dec.data : "";
            size_t skip = dec.len && d[0] == ' ' ? 1 : 0; /* the space after the colon */
            FUZZ_CHECK(dec.len - skip == strlen(s) && !memcmp(d + skip, s, strlen(s)),
                       "Subject does not decode to the text written");
        } else {
            FUZZ_CHECK(out.len == mark, "a refused Subject left bytes behind");
        }
        break;
    case 1: {
        const char *name = s, *nul = memchr(s, '\0', size - 1), *addr = nul ? nul + 1 : "";
        if (hdr_write_address(&out, "To", name, addr) == MERR_OK)
            check_lines(&out, mark, "To");
        else
            FUZZ_CHECK(out.len == mark, "a refused address left bytes behind");
        break;
    }
    case 2:
        hdr_decode(&dec, (const char *)data + 1, size - 1);
        break;
    default: {
        /* a structured value (List-Unsubscribe, Message-ID): the field name
         * comes from the second byte's length, so every name length meets
         * the 998 limit */
        char field[64];
        size_t fl = size > 1 ? 1 + (unsigned char)data[1] % 40 : 1;
        memset(field, 'F', fl);
        field[fl] = 0;
        if (hdr_write_raw(&out, field, size > 1 ? s + 1 : s) == MERR_OK)
            check_lines(&out, mark, field);
        else
            FUZZ_CHECK(out.len == mark, "a refused raw value left bytes behind");
        break;
    }
    }
    buf_free(&out);
    buf_free(&dec);
    free(s);
    return 0;
}
