/*
 * fuzz_form.c: request bodies of the public pages and the API
 * (mailer/http/http_form.c) on any bytes. The first byte picks what the
 * rest is:
 *   even: an application/x-www-form-urlencoded body (http_form_parse). Every
 *         name and value it returns must be valid UTF-8 without NUL, and the
 *         pairs written back percent-encoded (http_form_escape) must parse
 *         to the same pairs in the same order.
 *   odd:  a JSON body (http_form_json), and the same bytes as a path segment
 *         (http_form_unescape_segment), whose result must not grow.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "utf8.h"
#include "fuzz.h"

static void form(const char *body, size_t n)
{
    struct http_form f, again;
    struct buf b;

    if (http_form_parse(body, n, &f))
        return;
    buf_init(&b, 0);
    for (size_t i = 0; i < f.n; i++) {
        const char *nm = f.v[i].name, *val = f.v[i].value;
        FUZZ_CHECK(utf8_valid(nm, strlen(nm), NULL), "a name is not UTF-8");
        FUZZ_CHECK(utf8_valid(val, strlen(val), NULL), "a value is not UTF-8");
        if (i)
            buf_putc(&b, '&');
        FUZZ_CHECK(http_form_escape(&b, nm) == MERR_OK, "escape of a name failed");
        buf_putc(&b, '=');
        FUZZ_CHECK(http_form_escape(&b, val) == MERR_OK, "escape of a value failed");
    }
    FUZZ_CHECK(http_form_parse(b.data ? b.data : "", b.len, &again) == MERR_OK,
               "the form written back does not parse");
    /* an empty pair ("&&") is dropped on the first parse, so counts match */
    FUZZ_CHECK(again.n == f.n, "the form written back has another number of fields");
    for (size_t i = 0; i < f.n; i++) {
        FUZZ_CHECK(!strcmp(again.v[i].name, f.v[i].name), "a name changed when written back");
        FUZZ_CHECK(!strcmp(again.v[i].value, f.v[i].value), "a value changed when written back");
    }
    http_form_free(&again);
    http_form_free(&f);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data + 1;
    size_t n = size ? size - 1 : 0;

    if (size == 0)
        return 0;
    if (data[0] % 2 == 0) {
        form(body, n);
    } else {
        json_t *j = NULL;
        char *seg = malloc(n + 1);
        if (http_form_json(body, n, &j) == MERR_OK)
            json_decref(j);
        if (seg) {
            memcpy(seg, body, n);
            seg[n] = '\0';
            size_t before = strlen(seg);
            if (http_form_unescape_segment(seg) == MERR_OK)
                FUZZ_CHECK(strlen(seg) <= before, "a path segment grew when unescaped");
            free(seg);
        }
    }
    return 0;
}
