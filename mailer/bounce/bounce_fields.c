/*
 * bounce_fields.c: blocks of "Name: value" fields, as the bodies of
 * message/delivery-status (RFC 3464 §2.1) and message/feedback-report
 * (RFC 5965 §3.1) are written: header-style fields (RFC 5322 §2.2, folded
 * lines continue with white space) in groups separated by blank lines,
 * the per-message group first, then one group per recipient.
 *
 * Real reports bend this: groups without the blank line between them,
 * stray blank lines, fields indented by a space, text that is not a field
 * at all. The reader keeps every well-formed field with the number of its
 * group and leaves the grouping decisions to the caller, which looks at
 * field names (a new Final-Recipient starts a new recipient wherever it is).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_int.h"

void bounce_fields_clear(struct bounce_fields *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        free(fs->f[i].value);
    fs->n = 0;
    fs->groups = 0;
}

/* RFC 5322 §3.6.8 ftext, no space */
static int is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

/* Appends a value piece with one space between pieces; trims spaces. */
static enum merr add_piece(struct buf *v, const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
        n--;
    if (!n)
        return MERR_OK;
    if (v->len && buf_putc(v, ' '))
        return MERR_LIMIT;
    return buf_append(v, p, n);
}

static enum merr finish(struct bounce_fields *fs, struct buf *v)
{
    char *s;
    if (!fs->n || fs->f[fs->n - 1].value)
        return MERR_OK;
    s = buf_detach(v, NULL);
    if (!s)
        return MERR_NOMEM;
    fs->f[fs->n - 1].value = s;
    return MERR_OK;
}

enum merr bounce_fields_read(const char *text, size_t n, struct bounce_fields *fs)
{
    struct buf v;
    size_t i = 0;
    int open = 0; /* the last line was a field (continuations attach to it) */
    int group = 0, blank = 1;
    enum merr rc = MERR_OK;

    memset(fs, 0, sizeof *fs);
    buf_init(&v, 8192);
    while (i < n && !rc) {
        const char *line = text + i, *nl = memchr(line, '\n', n - i);
        size_t ll = nl ? (size_t)(nl - line) : n - i;
        size_t k = 0;
        i += ll + (nl ? 1 : 0);
        if (ll && line[ll - 1] == '\r')
            ll--;
        size_t blanks = 0; /* bounded by the line: the text need not end in a NUL */
        while (blanks < ll && (line[blanks] == ' ' || line[blanks] == '\t'))
            blanks++;
        if (blanks == ll) {
            rc = finish(fs, &v);
            open = 0;
            if (!blank)
                group++;
            blank = 1;
            continue;
        }
        if ((line[0] == ' ' || line[0] == '\t') && open) {
            if (add_piece(&v, line, ll) == MERR_NOMEM)
                rc = MERR_NOMEM;
            continue;
        }
        while (k < ll && (line[k] == ' ' || line[k] == '\t'))
            k++; /* some MTAs indent their fields */
        size_t name_start = k;
        while (k < ll && is_ftext((unsigned char)line[k]))
            k++;
        size_t name_end = k;
        while (k < ll && (line[k] == ' ' || line[k] == '\t'))
            k++;
        rc = finish(fs, &v);
        if (rc)
            break;
        open = 0;
        if (name_end == name_start || k >= ll || line[k] != ':' || fs->n >= BOUNCE_FIELDS_MAX)
            continue; /* not a field */
        blank = 0;
        buf_reset(&v);
        fs->f[fs->n].name = line + name_start;
        fs->f[fs->n].name_len = name_end - name_start;
        fs->f[fs->n].value = NULL;
        fs->f[fs->n].group = group;
        fs->n++;
        open = 1;
        if (add_piece(&v, line + k + 1, ll - k - 1) == MERR_NOMEM)
            rc = MERR_NOMEM;
    }
    if (!rc)
        rc = finish(fs, &v);
    buf_free(&v);
    fs->groups = group + (blank ? 0 : 1);
    if (rc)
        bounce_fields_clear(fs);
    return rc;
}

int bounce_fields_is(const struct bounce_fields *fs, size_t i, const char *name)
{
    size_t nl = strlen(name);
    return i < fs->n && fs->f[i].name_len == nl && strncasecmp(fs->f[i].name, name, nl) == 0;
}

const char *bounce_fields_get(const struct bounce_fields *fs, const char *name, size_t from)
{
    for (size_t i = from; i < fs->n; i++)
        if (bounce_fields_is(fs, i, name))
            return fs->f[i].value;
    return NULL;
}

/* The address of a header value ("Name <a@b>", "a@b (c)", "<a@b>"); 0 if none. */
int bounce_fields_addr(const char *v, char out[BOUNCE_ADDR_MAX])
{
    const char *lt = strchr(v, '<'), *at;
    out[0] = '\0';
    if (lt && strchr(lt, '>') && memchr(lt, '@', (size_t)(strchr(lt, '>') - lt))) {
        bounce_addr_copy(out, lt);
        return out[0] != '\0';
    }
    at = strchr(v, '@');
    if (!at)
        return 0;
    const char *s = at, *e = at;
    while (s > v && !isspace((unsigned char)s[-1]) && s[-1] != ',' && s[-1] != ':')
        s--;
    while (*e && !isspace((unsigned char)*e) && *e != ',' && *e != ';' && *e != '(')
        e++;
    char tmp[BOUNCE_ADDR_MAX];
    snprintf(tmp, sizeof tmp, "%.*s", (int)(e - s < BOUNCE_ADDR_MAX ? e - s : 0), s);
    bounce_addr_copy(out, tmp);
    return out[0] != '\0';
}
