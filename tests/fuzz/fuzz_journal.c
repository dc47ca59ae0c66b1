/*
 * fuzz_journal.c: the sent journal's reader (delivery_journal_parse,
 * mailer/delivery/delivery_journal.c) on any bytes: a journal torn by a
 * crash, damaged on disk, or a stranger's file under a journal's name.
 * Checked:
 *   - a file refused is refused whole (no records, nothing ignored);
 *   - otherwise the header, the records and the ignored tail add up to
 *     the file's length exactly, and every record read is a sent result
 *     for an envelope id > 0 with a NUL-terminated text;
 *   - the ignored tail starts where reading stopped: cutting it off and
 *     reading again gives the same records and nothing ignored.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery_int.h"
#include "fuzz.h"

#define HEADER_SIZE 16
#define RECORD_SIZE (4 + 8 + 4 + 256 + 8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outbox_result *r = NULL, *r2 = NULL;
    size_t n = 99, ignored = 99, n2 = 0, ignored2 = 0;
    enum merr rc = delivery_journal_parse(data, size, &r, &n, &ignored);

    if (rc) {
        FUZZ_CHECK(rc == MERR_INVAL || rc == MERR_NOMEM, "an unexpected error");
        FUZZ_CHECK(n == 0 && ignored == 0 && r == NULL, "a refused file gave records");
        return 0;
    }
    FUZZ_CHECK(size >= HEADER_SIZE, "a file shorter than a header was read");
    FUZZ_CHECK(HEADER_SIZE + n * RECORD_SIZE + ignored == size, "the parts do not add up");
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(r[i].envelope_id > 0, "a record for envelope id <= 0");
        FUZZ_CHECK(r[i].state == OUTBOX_SENT, "a record that is not a sent result");
        FUZZ_CHECK(memchr(r[i].text, 0, sizeof r[i].text) != NULL, "a text without its NUL");
    }
    rc = delivery_journal_parse(data, size - ignored, &r2, &n2, &ignored2);
    FUZZ_CHECK(rc == MERR_OK && n2 == n && ignored2 == 0, "the tail was not where reading stopped");
    FUZZ_CHECK(n == 0 || !memcmp(r, r2, n * sizeof *r), "the records changed without the tail");
    free(r);
    free(r2);
    return 0;
}
