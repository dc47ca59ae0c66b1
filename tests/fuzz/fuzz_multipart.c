/*
 * fuzz_multipart.c: multipart/form-data bodies (mailer/http/http_multipart.c,
 * the admin's CSV upload) on any bytes. The first byte picks the
 * Content-Type's boundary (plain, quoted, or one taken from the body's
 * first line, so that the fuzzer can make it match); the rest is the body.
 * Accepted, every part must have a UTF-8 name; a form field (no filename)
 * must be UTF-8 without NUL and as long as its string; a file's bytes must
 * be a piece of the body, NUL-terminated after `len`; at most 64 parts.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "http_int.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data + 1;
    size_t n = size ? size - 1 : 0;
    char ct[160];
    struct http_form f;

    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        snprintf(ct, sizeof ct, "multipart/form-data; boundary=XyZ");
        break;
    case 1:
        snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"a b\"; charset=utf-8");
        break;
    default: { /* the body's first line, after "--", as the boundary */
        size_t k = 0;
        while (k < n && k < 100 && body[k] != '\r' && body[k] != '\n' && body[k] != '\0')
            k++;
        snprintf(ct, sizeof ct, "multipart/form-data; boundary=%.*s", (int)(k > 2 ? k - 2 : 0),
                 k > 2 ? body + 2 : "");
    }
    }
    if (http_form_multipart(body, n, ct, &f) != MERR_OK)
        return 0;
    FUZZ_CHECK(f.n <= 64, "more than 64 parts");
    for (size_t i = 0; i < f.n; i++) {
        const struct http_field *x = &f.v[i];
        FUZZ_CHECK(x->name && *x->name && utf8_valid(x->name, strlen(x->name), NULL),
                   "a part name is empty or not UTF-8");
        FUZZ_CHECK(x->value[x->len] == '\0', "a value is not NUL-terminated");
        FUZZ_CHECK(x->len <= n && memmem(body, n, x->value, x->len),
                   "a value is not from the body");
        if (!x->filename) {
            FUZZ_CHECK(strlen(x->value) == x->len, "a form field holds a NUL");
            FUZZ_CHECK(utf8_valid(x->value, x->len, NULL), "a form field is not UTF-8");
        } else {
            FUZZ_CHECK(utf8_valid(x->filename, strlen(x->filename), NULL),
                       "a file name is not UTF-8");
        }
    }
    http_form_free(&f);
    return 0;
}
