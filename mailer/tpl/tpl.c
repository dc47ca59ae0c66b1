/*
 * tpl.c: the Mustache parser: text to a tree of nodes (tpl_int.h).
 *
 * Parsing is one pass over the text with an explicit stack of open
 * sections (no recursion, so 10,000 nested sections are an error, not a
 * crash). It produces a tree of nodes whose strings live in a chunk arena
 * owned by the template. All whitespace rules of the spec are settled here,
 * once: a "standalone" tag (alone on its line but for blanks) drops its
 * line's leading blanks and its line end; a standalone partial or parent
 * keeps the dropped blanks as the indentation of what it expands to; blocks
 * ({{$x}}) drop their "intrinsic indentation" (the leading blanks of the
 * line after a standalone opening tag) from each line of their content and
 * record the indentation to add back where they are expanded (see the
 * spec's whitespace.md: standalone *tags* decide what text is dropped,
 * standalone *pairs* decide the indentation).
 *
 * Rendering the tree is tpl_render.c's. Limits here: sections nested 256
 * deep in one template, delimiters of at most 16 bytes.
 */
#include "tpl.h"
#include "tpl_int.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPL_MAX_NEST  256 /* open sections in one template */
#define TPL_MAX_DELIM 16
#define TPL_CHUNK     4096

struct tpl_chunk {
    struct tpl_chunk *next;
    size_t used;
    size_t cap;
    char data[];
};

static char *arena_alloc(struct tpl *t, size_t n)
{
    struct tpl_chunk *c = t->chunks;
    char *p;

    if (!c || c->cap - c->used < n) {
        size_t cap = n > TPL_CHUNK ? n : TPL_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = t->chunks;
        t->chunks = c;
    }
    p = c->data + c->used;
    c->used += n;
    return p;
}

static const char *arena_copy(struct tpl *t, const char *s, size_t n)
{
    char *p = arena_alloc(t, n ? n : 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

static void node_free(struct tpl_node *n)
{
    for (uint32_t i = 0; i < n->nkids; i++)
        node_free(&n->kids[i]);
    free(n->kids);
}

void tpl_free(struct tpl *t)
{
    struct tpl_chunk *c, *next;

    if (!t)
        return;
    /* node_free recurses: the parser bounds nesting at TPL_MAX_NEST */
    node_free(&t->root);
    for (c = t->chunks; c; c = next) {
        next = c->next;
        free(c);
    }
    free(t);
}

/* ---- parser ---- */

struct pframe {
    struct tpl_node *n;
    unsigned line;
    int32_t ws_node;   /* index (in the container) of the text before the opening tag */
    size_t ws_len;     /* its trailing blanks: the opening tag's leading whitespace */
    uint8_t open_left; /* the opening tag had only blanks before it on its line */
    uint8_t is_arg;    /* a block directly inside a parent: an argument */
    uint8_t has_strip; /* a block whose intrinsic indentation is dropped */
    const char *strip; /* that indentation (points into the source) */
    size_t strip_len;
};

struct parser {
    const char *src;
    size_t len;
    struct tpl *t;
    char otag[TPL_MAX_DELIM + 1];
    char ctag[TPL_MAX_DELIM + 2]; /* room for the "}" or "=" of {{{ }}} and {{= =}} */
    size_t olen, clen;
    struct pframe stack[TPL_MAX_NEST + 1];
    size_t depth;
    size_t line_pos; /* lines counted up to here */
    unsigned line;
    unsigned *err_line;
    char *err;
    size_t errsz;
};

static unsigned line_at(struct parser *p, size_t pos)
{
    while (p->line_pos < pos) {
        const char *nl = memchr(p->src + p->line_pos, '\n', pos - p->line_pos);
        if (!nl) {
            p->line_pos = pos;
            break;
        }
        p->line++;
        p->line_pos = (size_t)(nl - p->src) + 1;
    }
    return p->line;
}

static enum merr perr(struct parser *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum merr perr(struct parser *p, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errsz, fmt, ap);
    va_end(ap);
    *p->err_line = line;
    return MERR_INVAL;
}

static struct tpl_node *add_kid(struct tpl_node *parent)
{
    struct tpl_node *k;

    if (parent->nkids == parent->capkids) {
        uint32_t cap = parent->capkids ? parent->capkids * 2 : 4;
        k = realloc(parent->kids, cap * sizeof *k);
        if (!k)
            return NULL;
        parent->kids = k;
        parent->capkids = cap;
    }
    k = &parent->kids[parent->nkids++];
    memset(k, 0, sizeof *k);
    return k;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Skips the intrinsic indentations of the open blocks at a line start. */
static size_t skip_strips(const struct parser *p, size_t x, size_t end)
{
    for (size_t i = 1; i <= p->depth; i++) {
        const struct pframe *f = &p->stack[i];
        if (!f->has_strip || !f->strip_len)
            continue;
        if (end - x < f->strip_len || memcmp(p->src + x, f->strip, f->strip_len) != 0)
            break;
        x += f->strip_len;
    }
    return x;
}

static int have_strips(const struct parser *p)
{
    for (size_t i = 1; i <= p->depth; i++)
        if (p->stack[i].has_strip && p->stack[i].strip_len)
            return 1;
    return 0;
}

/*
 * Adds the source text [a, b) to the open container as a text node, minus
 * the intrinsic indentation of open blocks at each line start. Text directly
 * inside a parent is dropped (the spec ignores it). *idx receives the node's
 * index, or -1 when nothing was added.
 */
static enum merr flush(struct parser *p, size_t a, size_t b, int32_t *idx)
{
    struct tpl_node *c = p->stack[p->depth].n, *k;
    char *dst;
    size_t n = 0;

    *idx = -1;
    if (a >= b || c->kind == TPL_N_PARENT)
        return MERR_OK;
    dst = arena_alloc(p->t, b - a);
    if (!dst)
        return merr_set(MERR_NOMEM, "out of memory parsing a template");
    if (!have_strips(p)) {
        memcpy(dst, p->src + a, b - a);
        n = b - a;
    } else {
        size_t x = a;
        while (x < b) {
            const char *nl;
            size_t e;
            if (x == 0 || p->src[x - 1] == '\n')
                x = skip_strips(p, x, b);
            nl = memchr(p->src + x, '\n', b - x);
            e = nl ? (size_t)(nl - p->src) + 1 : b;
            memcpy(dst + n, p->src + x, e - x);
            n += e - x;
            x = e;
        }
    }
    if (!n)
        return MERR_OK;
    k = add_kid(c);
    if (!k)
        return merr_set(MERR_NOMEM, "out of memory parsing a template");
    k->kind = TPL_N_TEXT;
    k->str = dst;
    k->len = n;
    *idx = (int32_t)(c->nkids - 1);
    return MERR_OK;
}

static size_t trailing_blanks(const struct tpl_node *k)
{
    size_t w = 0;
    while (w < k->len && is_blank(k->str[k->len - 1 - w]))
        w++;
    return w;
}

/*
 * Flushes [a, b) and removes the blanks that end it (the leading whitespace
 * of a standalone tag's line), returning them in *ind (still readable in the
 * arena) for use as indentation.
 */
static enum merr flush_trim(struct parser *p, size_t a, size_t b, const char **ind, size_t *ind_len)
{
    struct tpl_node *c = p->stack[p->depth].n;
    int32_t idx;
    enum merr rc = flush(p, a, b, &idx);

    *ind = NULL;
    *ind_len = 0;
    if (rc || idx < 0)
        return rc;
    {
        struct tpl_node *k = &c->kids[idx];
        size_t w = trailing_blanks(k);
        k->len -= w;
        *ind = k->str + k->len;
        *ind_len = w;
        if (!k->len)
            c->nkids--; /* it is the last kid */
    }
    return MERR_OK;
}

/* Only blanks between the line start and the tag at `ts`. */
static int left_clear(const struct parser *p, size_t text_start, size_t ts)
{
    size_t x = ts;
    while (x > text_start && is_blank(p->src[x - 1]))
        x--;
    return x == 0 || p->src[x - 1] == '\n';
}

/* Only blanks after the tag ending at `te` up to a line end or the end; *re is past it. */
static int right_clear(const struct parser *p, size_t te, size_t *re)
{
    size_t y = te;
    while (y < p->len && is_blank(p->src[y]))
        y++;
    if (y == p->len) {
        *re = y;
        return 1;
    }
    if (p->src[y] == '\n') {
        *re = y + 1;
        return 1;
    }
    if (p->src[y] == '\r' && y + 1 < p->len && p->src[y + 1] == '\n') {
        *re = y + 2;
        return 1;
    }
    return 0;
}

/* The intrinsic indentation of a block: blanks starting the line at `q`. */
static void intrinsic(const struct parser *p, size_t q, const char **s, size_t *n)
{
    size_t x = skip_strips(p, q, p->len), y = x;
    while (y < p->len && is_blank(p->src[y]))
        y++;
    *s = p->src + x;
    *n = y - x;
}

/*
 * A parent or block tag with only blanks before it on its line: remember
 * the text node holding those blanks (`idx`, -1 if none) so they can be
 * dropped if the tag turns out to be standalone.
 */
static void open_left(struct pframe *f, const struct pframe *top, int idx)
{
    f->open_left = 1;
    if (idx >= 0) {
        f->ws_node = idx;
        f->ws_len = trailing_blanks(&top->n->kids[idx]);
    }
}

static enum merr push(struct parser *p, enum tpl_kind kind, const char *name, size_t nlen,
                      unsigned line, struct pframe **out)
{
    struct tpl_node *k;
    struct pframe *f;

    if (p->depth >= TPL_MAX_NEST)
        return perr(p, line, "sections nested deeper than %d", TPL_MAX_NEST);
    k = add_kid(p->stack[p->depth].n);
    if (!k || !(k->str = arena_copy(p->t, name, nlen)))
        return merr_set(MERR_NOMEM, "out of memory parsing a template");
    k->kind = (uint8_t)kind;
    k->len = nlen;
    k->line = line;
    f = &p->stack[++p->depth];
    memset(f, 0, sizeof *f);
    f->n = k;
    f->line = line;
    f->ws_node = -1;
    *out = f;
    return MERR_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static enum merr set_delims(struct parser *p, const char *s, size_t n, unsigned line)
{
    size_t i = 0, a, b, c, d;

    while (i < n && is_space(s[i]))
        i++;
    a = i;
    while (i < n && !is_space(s[i]))
        i++;
    b = i;
    while (i < n && is_space(s[i]))
        i++;
    c = i;
    while (i < n && !is_space(s[i]))
        i++;
    d = i;
    while (i < n && is_space(s[i]))
        i++;
    if (b == a || d == c || i != n || b - a > TPL_MAX_DELIM || d - c > TPL_MAX_DELIM ||
        memchr(s + a, '=', b - a) || memchr(s + c, '=', d - c))
        return perr(p, line,
                    "bad set-delimiters tag (expected two delimiters of 1 to %d "
                    "characters, without spaces or '=')",
                    TPL_MAX_DELIM);
    memcpy(p->otag, s + a, b - a);
    p->otag[b - a] = '\0';
    p->olen = b - a;
    memcpy(p->ctag, s + c, d - c);
    p->ctag[d - c] = '\0';
    p->clen = d - c;
    return MERR_OK;
}

static const char *kind_name(uint8_t kind)
{
    switch (kind) {
    case TPL_N_SECTION:
        return "section";
    case TPL_N_INVERTED:
        return "inverted section";
    case TPL_N_PARENT:
        return "parent";
    case TPL_N_BLOCK:
        return "block";
    default:
        return "tag";
    }
}

static enum merr parse_tag(struct parser *p, size_t ts, size_t *pos, size_t *text_start);

static enum merr parse(struct parser *p)
{
    size_t pos = 0, text_start = 0;
    int32_t idx;
    enum merr rc;

    for (;;) {
        const char *o = memmem(p->src + pos, p->len - pos, p->otag, p->olen);
        if (!o)
            break;
        rc = parse_tag(p, (size_t)(o - p->src), &pos, &text_start);
        if (rc)
            return rc;
    }
    if (p->depth > 0) {
        const struct pframe *f = &p->stack[p->depth];
        return perr(p, f->line, "%s '%.*s' is not closed", kind_name(f->n->kind), (int)f->n->len,
                    f->n->str);
    }
    return flush(p, text_start, p->len, &idx);
}

static enum merr parse_tag(struct parser *p, size_t ts, size_t *pos, size_t *text_start)
{
    const char *src = p->src, *close, *ind, *name;
    char closepat[TPL_MAX_DELIM + 2];
    size_t cs = ts + p->olen, ce, te, re = 0, nlen, ind_len, closelen, ts0;
    unsigned line = line_at(p, ts);
    char type = cs < p->len ? src[cs] : '\0';
    struct pframe *top = &p->stack[p->depth], *f;
    int in_parent = top->n->kind == TPL_N_PARENT;
    int left, right, standalone;
    int32_t idx;
    enum merr rc;

    switch (type) {
    case '#':
    case '^':
    case '/':
    case '!':
    case '>':
    case '<':
    case '$':
    case '=':
    case '&':
    case '{':
        cs++;
        break;
    default:
        type = '\0';
    }
    closelen = 0;
    if (type == '{' || type == '=')
        closepat[closelen++] = type == '{' ? '}' : '=';
    memcpy(closepat + closelen, p->ctag, p->clen);
    closelen += p->clen;
    close = cs <= p->len ? memmem(src + cs, p->len - cs, closepat, closelen) : NULL;
    if (!close)
        return perr(p, line, "tag is not closed (expected \"%.*s\")", (int)closelen, closepat);
    ce = (size_t)(close - src);
    te = ce + closelen;

    if (type == '!') {
        name = NULL;
        nlen = 0;
    } else if (type == '=') {
        name = src + cs;
        nlen = ce - cs;
    } else {
        size_t a = cs, b = ce;
        while (a < b && is_space(src[a]))
            a++;
        while (b > a && is_space(src[b - 1]))
            b--;
        name = src + a;
        nlen = b - a;
        if (!nlen)
            return perr(p, line, "empty tag name");
        for (size_t i = 0; i < nlen; i++)
            if (is_space(name[i]) || name[i] == '\0')
                return perr(p, line, "bad tag name '%.*s' (blanks inside)", (int)nlen, name);
    }

    left = left_clear(p, *text_start, ts);
    right = right_clear(p, te, &re);
    ts0 = *text_start;
    *pos = *text_start = te;

    switch (type) {
    case '\0':
    case '&':
    case '{': {
        struct tpl_node *k;
        rc = flush(p, ts0, ts, &idx);
        if (rc)
            return rc;
        k = add_kid(p->stack[p->depth].n);
        if (!k || !(k->str = arena_copy(p->t, name, nlen)))
            return merr_set(MERR_NOMEM, "out of memory parsing a template");
        k->kind = type == '\0' ? TPL_N_VAR : TPL_N_RAW;
        k->len = nlen;
        k->line = line;
        return MERR_OK;
    }
    case '!':
    case '=':
    case '>':
    case '#':
    case '^':
        standalone = left && right;
        rc = standalone ? flush_trim(p, ts0, ts, &ind, &ind_len) : flush(p, ts0, ts, &idx);
        if (rc)
            return rc;
        if (standalone)
            *pos = *text_start = re;
        if (type == '=')
            return set_delims(p, name, nlen, line);
        if (type == '>') {
            struct tpl_node *k = add_kid(p->stack[p->depth].n);
            if (!k || !(k->str = arena_copy(p->t, name, nlen)))
                return merr_set(MERR_NOMEM, "out of memory parsing a template");
            k->kind = TPL_N_PARTIAL;
            k->len = nlen;
            k->line = line;
            if (standalone) {
                k->bol = 1;
                k->ind_len = ind_len;
                k->ind = ind_len ? ind : NULL;
            }
            return MERR_OK;
        }
        if (type == '#' || type == '^')
            return push(p, type == '#' ? TPL_N_SECTION : TPL_N_INVERTED, name, nlen, line, &f);
        return MERR_OK;
    case '<':
        rc = flush(p, ts0, ts, &idx);
        if (rc)
            return rc;
        rc = push(p, TPL_N_PARENT, name, nlen, line, &f);
        if (rc)
            return rc;
        if (left)
            open_left(f, top, idx);
        return MERR_OK;
    case '$':
        if (in_parent) {
            /* an argument: the line end after the tag belongs to the tag */
            rc = push(p, TPL_N_BLOCK, name, nlen, line, &f);
            if (rc)
                return rc;
            f->is_arg = 1;
            if (right) {
                *pos = *text_start = re;
                intrinsic(p, re, &f->strip, &f->strip_len);
                f->has_strip = 1;
            }
            return MERR_OK;
        }
        standalone = left && right;
        rc = standalone ? flush_trim(p, ts0, ts, &ind, &ind_len) : flush(p, ts0, ts, &idx);
        if (rc)
            return rc;
        if (standalone) {
            const char *s;
            size_t n;
            *pos = *text_start = re;
            intrinsic(p, re, &s, &n);
            rc = push(p, TPL_N_BLOCK, name, nlen, line, &f);
            if (rc)
                return rc;
            f->open_left = 1;
            f->has_strip = 1;
            f->strip = s;
            f->strip_len = n;
            f->n->bol = 1;
            f->n->ind_default = 1;
            f->n->ind_len = n;
            if (n && !(f->n->ind = arena_copy(p->t, s, n)))
                return merr_set(MERR_NOMEM, "out of memory parsing a template");
            return MERR_OK;
        }
        rc = push(p, TPL_N_BLOCK, name, nlen, line, &f);
        if (rc)
            return rc;
        if (left)
            open_left(f, top, idx);
        return MERR_OK;
    case '/':
        break;
    default:
        return perr(p, line, "unknown tag");
    }

    /* a closing tag */
    if (p->depth == 0)
        return perr(p, line, "closing tag '%.*s' without an open section", (int)nlen, name);
    f = top;
    if (f->n->len != nlen || memcmp(f->n->str, name, nlen) != 0)
        return perr(p, line, "closing tag '%.*s' does not match %s '%.*s' opened on line %u",
                    (int)nlen, name, kind_name(f->n->kind), (int)f->n->len, f->n->str, f->line);
    switch (f->n->kind) {
    case TPL_N_PARENT: {
        /* a standalone pair: the opening tag's blanks become indentation */
        struct tpl_node *c = p->stack[p->depth - 1].n;
        rc = flush(p, ts0, ts, &idx);
        if (rc)
            return rc;
        if (f->open_left && right) {
            *pos = *text_start = re;
            f->n->bol = 1;
            if (f->ws_node >= 0 && f->ws_len) {
                struct tpl_node *k = &c->kids[f->ws_node];
                k->len -= f->ws_len;
                f->n->ind = k->str + k->len;
                f->n->ind_len = f->ws_len;
            }
        }
        break;
    }
    case TPL_N_BLOCK:
        if (f->is_arg) {
            /* the end of an argument never takes the line end after it */
            rc = left ? flush_trim(p, ts0, ts, &ind, &ind_len) : flush(p, ts0, ts, &idx);
            if (rc)
                return rc;
            break;
        }
        standalone = left && right;
        rc = standalone ? flush_trim(p, ts0, ts, &ind, &ind_len) : flush(p, ts0, ts, &idx);
        if (rc)
            return rc;
        if (standalone)
            *pos = *text_start = re;
        if (!f->n->bol && f->open_left && right && f->ws_node >= 0 && f->ws_len) {
            /* a standalone pair whose opening tag is followed by content: its
             * leading blanks stay as text and indent the argument's next lines */
            const struct tpl_node *k = &p->stack[p->depth - 1].n->kids[f->ws_node];
            f->n->ind = k->str + k->len - f->ws_len;
            f->n->ind_len = f->ws_len;
        }
        break;
    default:
        standalone = left && right;
        rc = standalone ? flush_trim(p, ts0, ts, &ind, &ind_len) : flush(p, ts0, ts, &idx);
        if (rc)
            return rc;
        if (standalone)
            *pos = *text_start = re;
    }
    p->depth--;
    return MERR_OK;
}

enum merr tpl_parse_ex(const char *text, size_t len, enum tpl_escape esc, struct tpl **out,
                       unsigned *err_line, char *err, size_t errsz)
{
    struct parser *p;
    struct tpl *t;
    enum merr rc;

    *out = NULL;
    t = calloc(1, sizeof *t);
    p = malloc(sizeof *p);
    if (!t || !p) {
        free(t);
        free(p);
        return merr_set(MERR_NOMEM, "out of memory parsing a template");
    }
    t->esc = esc;
    t->root.kind = TPL_N_SECTION;
    t->root.str = "";
    memset(p, 0, offsetof(struct parser, stack));
    p->src = text ? text : "";
    p->len = text ? len : 0;
    p->t = t;
    memcpy(p->otag, "{{", 3);
    memcpy(p->ctag, "}}", 3);
    p->olen = p->clen = 2;
    p->depth = 0;
    memset(&p->stack[0], 0, sizeof p->stack[0]);
    p->stack[0].n = &t->root;
    p->stack[0].ws_node = -1;
    p->line = 1;
    p->line_pos = 0;
    p->err_line = err_line;
    p->err = err;
    p->errsz = errsz;
    *err_line = 0;
    if (errsz)
        err[0] = '\0';
    rc = parse(p);
    free(p);
    if (rc) {
        tpl_free(t);
        return rc;
    }
    *out = t;
    return MERR_OK;
}

enum merr tpl_parse(const char *text, size_t len, enum tpl_escape esc, struct tpl **out)
{
    char err[256];
    unsigned line;
    enum merr rc = tpl_parse_ex(text, len, esc, out, &line, err, sizeof err);

    if (rc == MERR_INVAL)
        return merr_set(MERR_INVAL, "line %u: %s", line, err);
    return rc;
}

enum merr tpl_check_names(const struct tpl *t, const char *const *known, char *bad, size_t cap)
{
    for (uint32_t i = 0; i < t->root.nkids; i++) {
        const struct tpl_node *k = &t->root.kids[i];
        int ok = 0;
        if (k->kind == TPL_N_TEXT)
            continue;
        if (k->kind == TPL_N_VAR || k->kind == TPL_N_RAW || k->kind == TPL_N_SECTION ||
            k->kind == TPL_N_INVERTED)
            for (const char *const *n = known; *n && !ok; n++)
                ok = strlen(*n) == k->len && !memcmp(*n, k->str, k->len);
        if (ok)
            continue;
        if (cap)
            snprintf(bad, cap, "%.*s", (int)k->len, k->str);
        if (k->kind == TPL_N_PARTIAL || k->kind == TPL_N_PARENT || k->kind == TPL_N_BLOCK)
            return merr_set(MERR_INVAL, "line %u: {{%c%.*s}}: no partials, parents or blocks here",
                            k->line,
                            k->kind == TPL_N_PARTIAL  ? '>'
                            : k->kind == TPL_N_PARENT ? '<'
                                                      : '$',
                            (int)k->len, k->str);
        return merr_set(MERR_INVAL, "line %u: {{%.*s}} is not a name this template knows", k->line,
                        (int)k->len, k->str);
    }
    return MERR_OK;
}
