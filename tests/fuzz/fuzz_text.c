/*
 * fuzz_text.c: the checks of what a reader types as a name or a note
 * (text_check_name, text_check_note, text_has_link; mailer/core/text.c)
 * on any bytes. Checked:
 *   - neither check crashes, and both give a fault for bytes that are not
 *     UTF-8;
 *   - valid UTF-8 that holds one of the link marks (a scheme, "://",
 *     "www.", "xn--"), in any case, anywhere, is a link: the one-pass
 *     search against the plain search at every position;
 *   - a name with a link is refused (TEXT_LINK or an earlier fault), never
 *     accepted.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "text.h"
#include "utf8.h"

static int has_mark(const char *s, size_t n)
{
    static const char *const marks[] = {
        "http", "://", "www.", "mailto:", "ftp:", "file:", "javascript:", "data:", "xn--"};
    for (size_t m = 0; m < sizeof marks / sizeof *marks; m++) {
        size_t k = strlen(marks[m]);
        for (size_t i = 0; i + k <= n; i++)
            if (!strncasecmp(s + i, marks[m], k))
                return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    enum text_fault name = text_check_name(s, size, 200);
    enum text_fault note = text_check_note(s, size, 2000);

    if (!utf8_valid(s, size, NULL)) {
        FUZZ_CHECK(name == TEXT_BAD_UTF8 && note == TEXT_BAD_UTF8, "invalid UTF-8 accepted");
        return 0;
    }
    if (has_mark(s, size)) {
        FUZZ_CHECK(text_has_link(s, size), "a link mark not seen");
        FUZZ_CHECK(name != TEXT_OK, "a name with a link mark accepted");
        FUZZ_CHECK(note != TEXT_OK, "a note with a link mark accepted");
    }
    return 0;
}
