/*
 * tpl_spec.c: runs the official Mustache specification against tpl.
 *
 * Usage: tpl_spec DIR [FILE.json...]. Each file holds {"tests": [{name,
 * template, data, partials?, expected}]}; every case is parsed with
 * tpl_parse, rendered with tpl_render (partials from the case's JSON
 * object), and compared byte for byte. Prints "FILE: passed/total" per file
 * and, for each failure, the case name, the template, what was expected
 * and what came out. Exits 1 if any case fails or a file is unreadable.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tpl.h"

static const char *const default_files[] = {
    "comments.json", "delimiters.json", "interpolation.json", "inverted.json",
    "partials.json", "sections.json",   "~inheritance.json",
};

static void show(const char *label, const char *s, size_t n)
{
    printf("    %-9s \"", label);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    puts("\"");
}

static int run_case(const char *file, json_t *tc)
{
    const char *name = json_string_value(json_object_get(tc, "name"));
    json_t *tmpl = json_object_get(tc, "template");
    json_t *expected = json_object_get(tc, "expected");
    json_t *data = json_object_get(tc, "data");
    json_t *partials = json_object_get(tc, "partials");
    struct tpl *t = NULL;
    struct buf out;
    enum merr rc;
    int ok;

    if (!json_is_string(tmpl) || !json_is_string(expected)) {
        printf("  FAIL %s / %s: malformed case\n", file, name ? name : "?");
        return 0;
    }
    buf_init(&out, 1 << 20);
    rc = tpl_parse(json_string_value(tmpl), json_string_length(tmpl), TPL_ESCAPE_HTML, &t);
    if (!rc)
        rc = tpl_render(t, NULL, partials, data ? &data : NULL, data ? 1 : 0, &out);
    ok = !rc && out.len == json_string_length(expected) &&
         memcmp(out.data ? out.data : "", json_string_value(expected), out.len) == 0;
    if (!ok) {
        printf("  FAIL %s / %s\n", file, name ? name : "?");
        show("template:", json_string_value(tmpl), json_string_length(tmpl));
        show("expected:", json_string_value(expected), json_string_length(expected));
        if (rc)
            printf("    error:    %s: %s\n", merr_str(rc), merr_msg());
        else
            show("got:", out.data ? out.data : "", out.len);
    }
    tpl_free(t);
    buf_free(&out);
    return ok;
}

static int run_file(const char *dir, const char *file)
{
    char path[4096];
    json_error_t jerr;
    json_t *root, *tests, *tc;
    size_t i, passed = 0, total;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    root = json_load_file(path, 0, &jerr);
    tests = json_object_get(root, "tests");
    if (!json_is_array(tests)) {
        printf("%s: cannot load: %s\n", path, jerr.text);
        json_decref(root);
        return 0;
    }
    total = json_array_size(tests);
    json_array_foreach(tests, i, tc) passed += (size_t)run_case(file, tc);
    printf("%s: %zu/%zu\n", file, passed, total);
    json_decref(root);
    return passed == total && total > 0;
}

int main(int argc, char **argv)
{
    int ok = 1;

    if (argc < 2) {
        fprintf(stderr, "usage: %s SPEC_DIR [FILE.json...]\n", argv[0]);
        return 2;
    }
    if (argc > 2) {
        for (int i = 2; i < argc; i++)
            ok &= run_file(argv[1], argv[i]);
    } else {
        for (size_t i = 0; i < sizeof default_files / sizeof default_files[0]; i++)
            ok &= run_file(argv[1], default_files[i]);
    }
    puts(ok ? "mustache spec: all cases pass" : "mustache spec: FAILURES");
    return ok ? 0 : 1;
}
