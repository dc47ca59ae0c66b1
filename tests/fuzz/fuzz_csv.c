/*
 * fuzz_csv.c: the CSV reader of `sub import` (subscribers/subs_csv.c) on
 * any bytes. Besides memory safety it checks what the importer relies on:
 * every field is NUL-terminated at its length and lies inside the record's
 * data, a record has 1..SUBS_CSV_FIELDS_MAX fields, record lines never go
 * backwards and a bad record has a reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subs_csv.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct subs_csv r;
    long long last_line = 0;
    enum merr rc;
    /* fmemopen refuses a zero size: give empty input as an empty file */
    FILE *in = size ? fmemopen((void *)data, size, "rb") : fopen("/dev/null", "rb");

    if (!in)
        return 0;
    subs_csv_init(&r, in);
    while ((rc = subs_csv_next(&r)) == MERR_OK) {
        FUZZ_CHECK(r.record_line >= last_line, "record lines go backwards");
        FUZZ_CHECK(r.record_line <= r.line, "a record starts after the current line");
        last_line = r.record_line;
        if (r.bad) {
            FUZZ_CHECK(r.reason[0] != '\0', "a bad record without a reason");
            continue;
        }
        FUZZ_CHECK(r.nfields >= 1 && r.nfields <= SUBS_CSV_FIELDS_MAX,
                   "field count out of 1..SUBS_CSV_FIELDS_MAX");
        for (size_t i = 0; i < r.nfields; i++) {
            size_t n;
            const char *f = subs_csv_field(&r, i, &n);
            FUZZ_CHECK(f >= r.data.data && f + n < r.data.data + r.data.len + 1,
                       "a field outside the record");
            FUZZ_CHECK(f[n] == '\0', "a field not NUL-terminated at its length");
        }
    }
    FUZZ_CHECK(rc == MERR_NOTFOUND, "reading memory ended with an error");
    FUZZ_CHECK(r.bytes <= (long long)size, "more bytes consumed than given");
    subs_csv_free(&r);
    fclose(in);
    return 0;
}
