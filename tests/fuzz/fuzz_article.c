/*
 * fuzz_article.c: article JSON from the CMS (article_parse in
 * mailer/articles/articles.c, docs/articles.md) on any bytes; a parsed
 * article is written back as JSON (article_to_json), which must be valid
 * JSON that jansson reads.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "articles.h"
#include "config.h"

static struct config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (cfg_defaults(&cfg))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct article *a = NULL;
    struct buf out;

    if (article_parse(&cfg, (const char *)data, size, &a))
        return 0;
    buf_init(&out, 0);
    if (article_to_json(a, &out) == MERR_OK) {
        json_error_t e;
        json_t *j = json_loadb(out.data, out.len, 0, &e);
        if (!j) {
            fprintf(stderr, "fuzz_article: article_to_json wrote invalid JSON: %s\n", e.text);
            abort();
        }
        json_decref(j);
    }
    buf_free(&out);
    article_free(a);
    return 0;
}
