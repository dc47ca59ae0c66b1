/*
 * http_form.c: request bodies, as hostile input.
 *
 * Forms arrive as application/x-www-form-urlencoded (WHATWG URL §5.1:
 * pairs split on '&', name and value on the first '=', '+' is a space,
 * %XX a byte). The decoded bytes must be valid UTF-8 (RFC 3629) without
 * NUL, else the request is refused naming the field: a page is never
 * rendered from text we could not check. JSON bodies are checked for UTF-8
 * before jansson sees them, so the error says which byte is wrong instead of
 * a parser message. A refusal names its field in the error detail
 * (merr_field), for the {"error": {"field": ...}} answer.
 */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "utf8.h"

/* Names the field (its first `n` bytes, as it came) in the current error. */
static void set_field(const char *name, size_t n)
{
    char f[64];
    if (n >= sizeof f)
        n = sizeof f - 1;
    memcpy(f, name, n);
    f[n] = '\0';
    merr_set_field(MERR_OK, f);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes p[0..n) into a new NUL-terminated string; plus: '+' means space. */
static enum merr decode(const char *p, size_t n, int plus, char **out, size_t *outlen)
{
    char *s = malloc(n + 1);
    size_t j = 0;
    if (!s)
        return merr_set(MERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%') {
            int a, b;
            if (i + 2 >= n) {
                free(s);
                return merr_set(MERR_INVAL, "bad percent escape");
            }
            a = hexval(p[i + 1]);
            b = hexval(p[i + 2]);
            if (a < 0 || b < 0) {
                free(s);
                return merr_set(MERR_INVAL, "bad percent escape");
            }
            s[j++] = (char)(a * 16 + b);
            i += 2;
        } else if (plus && p[i] == '+') {
            s[j++] = ' ';
        } else {
            s[j++] = p[i];
        }
    }
    s[j] = '\0';
    *out = s;
    *outlen = j;
    return MERR_OK;
}

enum merr http_form_text_ok(const char *s, size_t n, const char *what)
{
    size_t bad = 0;
    if (memchr(s, '\0', n))
        return merr_set(MERR_INVAL, "%s: contains a NUL byte", what);
    if (!utf8_valid(s, n, &bad))
        return merr_set(MERR_INVAL, "%s: not valid UTF-8 at byte %zu", what, bad);
    return MERR_OK;
}

void http_form_free(struct http_form *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].name);
        free(f->v[i].value);
        free(f->v[i].filename);
    }
    free(f->v);
    memset(f, 0, sizeof *f);
}

enum merr http_form_add(struct http_form *f, char *name, char *value, size_t vlen, char *filename)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct http_field *nv = realloc(f->v, cap * sizeof *nv);
        if (!nv) {
            free(name);
            free(value);
            free(filename);
            return merr_set(MERR_NOMEM, "out of memory");
        }
        f->v = nv;
        f->cap = cap;
    }
    f->v[f->n].name = name;
    f->v[f->n].value = value;
    f->v[f->n].len = vlen;
    f->v[f->n].filename = filename;
    f->n++;
    return MERR_OK;
}

enum merr http_form_parse(const char *body, size_t len, struct http_form *out)
{
    enum merr rc = MERR_OK;
    size_t i = 0;

    memset(out, 0, sizeof *out);
    merr_clear();
    while (i < len) {
        size_t end = i, eq;
        char *name = NULL, *value = NULL;
        size_t nlen, vlen;

        while (end < len && body[end] != '&')
            end++;
        if (end == i) {
            i = end + 1;
            continue;
        }
        eq = i;
        while (eq < end && body[eq] != '=')
            eq++;
        rc = decode(body + i, eq - i, 1, &name, &nlen);
        if (rc) {
            set_field(body + i, eq - i);
            goto fail;
        }
        rc = http_form_text_ok(name, nlen, "field name");
        if (rc) {
            free(name);
            goto fail;
        }
        rc =
            decode(body + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0, 1, &value, &vlen);
        if (!rc)
            rc = http_form_text_ok(value, vlen, name);
        if (rc) {
            set_field(name, nlen);
            merr_wrap(rc, "%s", name);
            free(name);
            free(value);
            goto fail;
        }
        rc = http_form_add(out, name, value, vlen, NULL);
        if (rc)
            goto fail;
        i = end + 1;
    }
    return MERR_OK;
fail:
    http_form_free(out);
    return rc;
}

const struct http_field *http_form_field(const struct http_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].name, name) == 0)
            return &f->v[i];
    return NULL;
}

const char *http_form_get(const struct http_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].name, name) == 0)
            return f->v[i].value;
    return NULL;
}

enum merr http_form_json(const char *body, size_t len, json_t **out)
{
    json_error_t jerr;
    size_t bad = 0;

    *out = NULL;
    merr_clear();
    if (!utf8_valid(body, len, &bad))
        return merr_set(MERR_INVAL, "body is not valid UTF-8 at byte %zu", bad);
    *out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*out)
        return merr_set(MERR_INVAL, "malformed JSON at line %d column %d: %s", jerr.line,
                        jerr.column, jerr.text);
    return MERR_OK;
}

enum merr http_form_unescape_segment(char *s)
{
    char *d = NULL;
    size_t n = strlen(s), outlen = 0;
    enum merr rc = decode(s, n, 0, &d, &outlen);
    if (rc)
        return rc;
    rc = http_form_text_ok(d, outlen, "path");
    if (!rc)
        memcpy(s, d, outlen + 1);
    free(d);
    return rc;
}

enum merr http_form_escape(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    enum merr rc = MERR_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            rc = buf_putc(out, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = buf_append(out, e, 3);
        }
    }
    return rc;
}
