/*
 * fuzz_addr.c: the address parser (subscribers/addr.c, docs/addresses.md)
 * on any bytes, as the public forms, the API and CSV imports give them.
 * An accepted address must be what SMTP and the database are given: ASCII
 * printable, one @, at most 254 octets, its key the lower-cased ASCII form,
 * its display form valid UTF-8; and parsing its ASCII or its display form
 * again gives the same key (so a stored address always finds its row).
 * A refusal must say why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "utf8.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct addr a, again;
    size_t n, ats = 0;

    if (addr_parse_n((const char *)data, size, &a)) {
        FUZZ_CHECK(merr_msg()[0] != '\0', "a refusal without a reason");
        return 0;
    }
    n = strlen(a.ascii);
    FUZZ_CHECK(n >= 3 && n <= 254, "accepted address length out of 3..254");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a.ascii[i];
        FUZZ_CHECK(c > 0x20 && c < 0x7f, "accepted address is not printable ASCII");
        ats += c == '@';
        char lc = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        FUZZ_CHECK(a.key[i] == lc, "key is not the lower-cased ASCII form");
    }
    FUZZ_CHECK(a.key[n] == '\0', "key longer than the address");
    FUZZ_CHECK(ats == 1, "accepted address without exactly one @");
    FUZZ_CHECK(utf8_valid(a.unicode, strlen(a.unicode), NULL), "display form is not UTF-8");
    FUZZ_CHECK(addr_parse(a.ascii, &again) == MERR_OK, "the ASCII form does not parse again");
    FUZZ_CHECK(!strcmp(again.key, a.key), "the ASCII form parses to another key");
    FUZZ_CHECK(addr_parse(a.unicode, &again) == MERR_OK, "the display form does not parse again");
    FUZZ_CHECK(!strcmp(again.key, a.key), "the display form parses to another key");
    return 0;
}
