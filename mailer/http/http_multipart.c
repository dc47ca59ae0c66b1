/*
 * http_multipart.c: multipart/form-data bodies (RFC 7578), the way a
 * browser uploads a file without JavaScript (the admin's CSV import).
 *
 * The body is already in memory and capped by the front. The boundary
 * comes from the Content-Type's `boundary` parameter (RFC 2046 §5.1.1: 1 to
 * 70 characters, possibly quoted). Parts are separated by CRLF "--"
 * boundary; the first delimiter may open the body; "--" after a delimiter
 * closes it and whatever follows (the epilogue) is ignored. Each part's
 * header block ends at the first empty line and may be at most 8 KiB; the
 * only header read is Content-Disposition (form-data; name="..."
 * [; filename="..."]), with quoted strings whose backslash escapes are
 * undone (RFC 7578 §4.2 leaves escaping to the browser; Chromium and
 * Firefox percent-encode '"' as %22, which is kept as it is). A part with a
 * filename is a file and keeps its bytes; any other part is a form field
 * and must be UTF-8 without NUL, as urlencoded fields are. Everything that
 * does not fit is refused with a reason (MERR_INVAL); nothing is guessed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "utf8.h"

#define MAX_PARTS  64
#define MAX_HEADER 8192
#define MAX_BOUND  70

/* The boundary parameter of a Content-Type header into out[MAX_BOUND + 1]. */
static enum merr boundary_of(const char *ct, char *out)
{
    const char *p = ct;
    size_t n = 0;
    while (p && (p = strchr(p, ';'))) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) != 0)
            continue;
        p += 9;
        if (*p == '"') {
            const char *e = strchr(p + 1, '"');
            if (!e)
                break;
            n = (size_t)(e - p - 1);
            p++;
        } else {
            n = strcspn(p, "; \t");
        }
        if (n == 0 || n > MAX_BOUND)
            break;
        memcpy(out, p, n);
        out[n] = '\0';
        return MERR_OK;
    }
    return merr_set(MERR_INVAL, "multipart/form-data without a usable boundary");
}

static const char *find(const char *hay, size_t hn, const char *needle, size_t nn)
{
    return memmem(hay, hn, needle, nn);
}

/*
 * The value of parameter `name` in a Content-Disposition header value
 * `v[0..n)`: a new string, or NULL (absent). `*bad` is set for a malformed
 * quoted string.
 */
static char *param(const char *v, size_t n, const char *name, int *bad)
{
    size_t nl = strlen(name), i = 0;
    while (i < n) {
        while (i < n && v[i] != ';')
            i++;
        if (i >= n)
            break;
        i++;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (n - i > nl && strncasecmp(v + i, name, nl) == 0 && v[i + nl] == '=') {
            size_t j = i + nl + 1, k = 0;
            char *out = malloc(n - j + 1);
            if (!out)
                return NULL;
            if (j < n && v[j] == '"') {
                for (j++; j < n && v[j] != '"'; j++) {
                    if (v[j] == '\\' && j + 1 < n)
                        j++;
                    out[k++] = v[j];
                }
                if (j >= n) {
                    free(out);
                    *bad = 1;
                    return NULL;
                }
            } else {
                while (j < n && v[j] != ';' && v[j] != ' ' && v[j] != '\t')
                    out[k++] = v[j++];
            }
            out[k] = '\0';
            return out;
        }
    }
    return NULL;
}

/* Finds the Content-Disposition line of a header block h[0..n). */
static const char *disposition(const char *h, size_t n, size_t *vlen)
{
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && h[e] != '\r')
            e++;
        if (e - i > 20 && strncasecmp(h + i, "content-disposition:", 20) == 0) {
            size_t s = i + 20;
            while (s < e && (h[s] == ' ' || h[s] == '\t'))
                s++;
            *vlen = e - s;
            return h + s;
        }
        i = e + 2;
    }
    return NULL;
}

static enum merr part(struct http_form *out, const char *h, size_t hn, const char *c, size_t cn)
{
    size_t dl = 0;
    const char *d = disposition(h, hn, &dl);
    int bad = 0;
    char *name, *filename, *value;
    enum merr rc;

    if (!d || dl < 9 || strncasecmp(d, "form-data", 9) != 0)
        return merr_set(MERR_INVAL, "a part has no Content-Disposition: form-data");
    name = param(d, dl, "name", &bad);
    filename = bad ? NULL : param(d, dl, "filename", &bad);
    if (bad || !name || !*name) {
        free(name);
        free(filename);
        return merr_set(MERR_INVAL, "a part has no name");
    }
    rc = http_form_text_ok(name, strlen(name), "part name");
    if (!rc && filename)
        rc = http_form_text_ok(filename, strlen(filename), "file name");
    if (!rc && !filename)
        rc = http_form_text_ok(c, cn, name);
    value = rc ? NULL : malloc(cn + 1);
    if (!rc && !value)
        rc = merr_set(MERR_NOMEM, "out of memory");
    if (rc) {
        free(name);
        free(filename);
        return rc;
    }
    memcpy(value, c, cn);
    value[cn] = '\0';
    return http_form_add(out, name, value, cn, filename);
}

enum merr http_form_multipart(const char *body, size_t len, const char *content_type,
                              struct http_form *out)
{
    char b[MAX_BOUND + 1], delim[MAX_BOUND + 5];
    size_t dn, pos;
    const char *p;
    enum merr rc;

    memset(out, 0, sizeof *out);
    if (!content_type)
        return merr_set(MERR_INVAL, "multipart/form-data without a Content-Type");
    rc = boundary_of(content_type, b);
    if (rc)
        return rc;
    /* "\r\n--boundary": the body may also open with "--boundary" */
    dn = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", b);
    if (len >= dn - 2 && memcmp(body, delim + 2, dn - 2) == 0) {
        pos = dn - 2;
    } else {
        p = find(body, len, delim, dn);
        if (!p)
            return merr_set(MERR_INVAL, "multipart body without its boundary");
        pos = (size_t)(p - body) + dn;
    }
    for (;;) {
        const char *h, *he, *next;
        size_t hn;
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-')
            return MERR_OK; /* the closing delimiter */
        while (pos < len && (body[pos] == ' ' || body[pos] == '\t'))
            pos++;
        if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n') {
            rc = merr_set(MERR_INVAL, "multipart: a boundary is not followed by a line end");
            break;
        }
        pos += 2;
        if (out->n == MAX_PARTS) {
            rc = merr_set(MERR_INVAL, "multipart: more than %d parts", MAX_PARTS);
            break;
        }
        h = body + pos;
        if (len - pos >= 2 && h[0] == '\r' && h[1] == '\n') {
            hn = 0;
            he = h + 2;
        } else {
            const char *e = find(h, len - pos < MAX_HEADER ? len - pos : MAX_HEADER, "\r\n\r\n", 4);
            if (!e) {
                rc = merr_set(MERR_INVAL, "multipart: a part's headers do not end");
                break;
            }
            hn = (size_t)(e - h);
            he = e + 4;
        }
        next = find(he, len - (size_t)(he - body), delim, dn);
        if (!next) {
            rc = merr_set(MERR_INVAL, "multipart: the body ends before its closing boundary");
            break;
        }
        rc = part(out, h, hn, he, (size_t)(next - he));
        if (rc)
            break;
        pos = (size_t)(next - body) + dn;
    }
    http_form_free(out);
    return rc;
}
