/*
 * fuzz_tpl.c: the Mustache engine (mailer/tpl/tpl.c). The input is a
 * template, then optionally a NUL and a JSON data object (as list settings
 * and the spec tests give them); its "partials" member, if an object, is
 * the partials by name. The template is parsed for HTML and for text and
 * rendered with the data; a render must not run away (2^24 steps, the
 * output cap) and a failed render must leave the output as it was.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpl.h"

static json_t *fallback;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fallback =
        json_pack("{s:s, s:s, s:[{s:s},{s:s}], s:{s:s, s:b}, s:i, s:b}", "name",
                  "Nguyễn <b>Hoa</b> & \"bạn\"", "week", "48", "articles", "title", "Tin một",
                  "title", "Tin hai", "list", "name", "Bản tin", "on", 1, "n", 3, "no", 0);
    return fallback ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *nul = memchr(data, '\0', size);
    size_t tlen = nul ? (size_t)(nul - text) : size;
    json_t *ctx = NULL, *partials = NULL;

    if (nul) {
        ctx = json_loadb(nul + 1, size - tlen - 1, 0, NULL);
        if (ctx && !json_is_object(ctx)) {
            json_decref(ctx);
            ctx = NULL;
        }
    }
    if (!ctx)
        ctx = json_incref(fallback);
    partials = json_object_get(ctx, "partials");
    if (!json_is_object(partials))
        partials = NULL;
    for (int esc = 0; esc < 2; esc++) {
        struct tpl *t = NULL;
        struct buf out;
        if (tpl_parse(text, tlen, esc ? TPL_ESCAPE_HTML : TPL_ESCAPE_NONE, &t))
            continue;
        buf_init(&out, 1 << 20);
        buf_puts(&out, "before");
        if (tpl_render(t, NULL, partials, &ctx, 1, &out) != MERR_OK &&
            (out.len != 6 || memcmp(out.data, "before", 6))) {
            fprintf(stderr, "fuzz_tpl: a failed render changed its output\n");
            abort();
        }
        buf_free(&out);
        tpl_free(t);
    }
    json_decref(ctx);
    return 0;
}
