/*
 * tpl_render.c: the Mustache renderer: a parsed template (tpl.c) and a
 * stack of JSON data to text.
 *
 * Rendering walks the tree with a data stack (the caller's ctx[] plus the
 * values pushed by sections), writing text and escaped values into the
 * caller's buffer in runs. Indentation is applied lazily: after a template
 * line end the next output of a template line is preceded by the current
 * indentation, so interpolated values are never re-indented (the spec's
 * "Standalone Indentation" case). Block arguments of parents are found by
 * walking a chain of scopes kept on the C stack, the outermost argument
 * winning (multi-level inheritance). A render allocates nothing except when
 * partials come from a JSON object (the spec tests), and never mutates the
 * template, so one parsed template can be rendered from many threads
 * (docs/threads.md).
 *
 * Limits: partials/parents 64 deep, 512 levels of render recursion in all,
 * and a work budget per render so that a template that expands
 * exponentially fails instead of spinning.
 */
#include "tpl.h"
#include "tpl_int.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPL_MAX_DEPTH         512 /* render recursion: sections, partials, blocks */
#define TPL_MAX_PARTIAL_DEPTH 64
#define TPL_MAX_INDENT        1024
#define TPL_WORK_LIMIT        (1UL << 24) /* nodes visited by one render */

/* One parent being expanded: its block arguments, and the enclosing parent. */
struct bscope {
    const struct tpl_node *parent;
    const struct bscope *up;
};

/* Partials parsed from a JSON object during one render. */
struct pcache {
    struct pcache *next;
    const char *name;
    size_t len;
    struct tpl *t;
};

struct rstate {
    struct buf *out;
    int html;
    struct tpl_set *set;
    json_t *partials;
    json_t *const *ctx;
    size_t nctx;
    size_t nstack;
    size_t ilen;
    int at_bol;
    unsigned depth;
    unsigned pdepth;
    unsigned long work;
    const struct bscope *scope;
    struct pcache *pc;
    json_t *stack[TPL_MAX_DEPTH];
    char indent[TPL_MAX_INDENT];
};

static const unsigned char html_special[256] = {
    ['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1,
};

enum merr tpl_escape_html(struct buf *out, const char *s, size_t n)
{
    size_t i = 0, run = 0;
    enum merr rc;

    while (i < n) {
        const char *ent;
        size_t elen;
        while (i < n && !html_special[(unsigned char)s[i]])
            i++;
        if (i > run) {
            rc = buf_append(out, s + run, i - run);
            if (rc)
                return rc;
        }
        if (i == n)
            break;
        switch (s[i]) {
        case '&':
            ent = "&amp;";
            elen = 5;
            break;
        case '<':
            ent = "&lt;";
            elen = 4;
            break;
        case '>':
            ent = "&gt;";
            elen = 4;
            break;
        case '"':
            ent = "&quot;";
            elen = 6;
            break;
        default:
            ent = "&#39;";
            elen = 5;
        }
        rc = buf_append(out, ent, elen);
        if (rc)
            return rc;
        run = ++i;
    }
    return MERR_OK;
}

static enum merr put_indent(struct rstate *st)
{
    st->at_bol = 0;
    return st->ilen ? buf_append(st->out, st->indent, st->ilen) : MERR_OK;
}

/* Template text: indented at each line start when an indentation is active. */
static enum merr emit_text(struct rstate *st, const char *s, size_t n)
{
    enum merr rc;

    if (!n)
        return MERR_OK;
    if (!st->ilen) {
        st->at_bol = s[n - 1] == '\n';
        return buf_append(st->out, s, n);
    }
    while (n) {
        const char *nl = memchr(s, '\n', n);
        size_t seg = nl ? (size_t)(nl - s) + 1 : n;
        if (st->at_bol && (rc = put_indent(st)))
            return rc;
        if ((rc = buf_append(st->out, s, seg)))
            return rc;
        st->at_bol = nl != NULL;
        s += seg;
        n -= seg;
    }
    return MERR_OK;
}

/* A value: indented if it starts a line, never re-indented inside. */
static enum merr emit_value(struct rstate *st, const char *s, size_t n, int escape)
{
    enum merr rc;

    if (!n)
        return MERR_OK;
    if (st->at_bol && (rc = put_indent(st)))
        return rc;
    st->at_bol = 0;
    return escape ? tpl_escape_html(st->out, s, n) : buf_append(st->out, s, n);
}

/* The shortest "%g" form that reads back as the same double (1.21 -> "1.21"). */
static int fmt_real(char *b, size_t bsz, double d)
{
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(b, bsz, "%.*g", prec, d);
        if (strtod(b, NULL) == d)
            break;
    }
    return n;
}

static enum merr emit_json(struct rstate *st, const json_t *v, int escape)
{
    char b[64];
    int n;

    switch (json_typeof(v)) {
    case JSON_STRING:
        return emit_value(st, json_string_value(v), json_string_length(v), escape);
    case JSON_INTEGER:
        n = snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_value(st, b, (size_t)n, 0);
    case JSON_REAL:
        n = fmt_real(b, sizeof b, json_real_value(v));
        return emit_value(st, b, (size_t)n, 0);
    case JSON_TRUE:
        return emit_value(st, "true", 4, 0);
    case JSON_FALSE:
        return emit_value(st, "false", 5, 0);
    default:
        return MERR_OK; /* null, objects and arrays print nothing */
    }
}

static json_t *top(const struct rstate *st)
{
    if (st->nstack)
        return st->stack[st->nstack - 1];
    return st->nctx ? st->ctx[st->nctx - 1] : NULL;
}

/*
 * Resolves a name: "." is the top of the stack; otherwise the first part of
 * a dotted name is searched from the top of the stack down (objects only),
 * and the other parts only inside what was found.
 */
static json_t *lookup(const struct rstate *st, const char *name, size_t len)
{
    const char *dot, *end = name + len;
    json_t *v = NULL;
    size_t plen, i;

    if (len == 1 && name[0] == '.')
        return top(st);
    dot = memchr(name, '.', len);
    plen = dot ? (size_t)(dot - name) : len;
    for (i = st->nstack; i-- > 0 && !v;)
        if (json_is_object(st->stack[i]))
            v = json_object_getn(st->stack[i], name, plen);
    for (i = st->nctx; i-- > 0 && !v;)
        if (json_is_object(st->ctx[i]))
            v = json_object_getn(st->ctx[i], name, plen);
    while (v && dot) {
        const char *part = dot + 1;
        dot = memchr(part, '.', (size_t)(end - part));
        plen = dot ? (size_t)(dot - part) : (size_t)(end - part);
        v = json_is_object(v) ? json_object_getn(v, part, plen) : NULL;
    }
    return v;
}

/* Falsey: missing, null, false, an empty list, an empty string. */
static int truthy(const json_t *v)
{
    if (!v)
        return 0;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return 0;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    default:
        return 1;
    }
}

static enum merr render_kids(struct rstate *st, const struct tpl_node *kids, uint32_t n);

static enum merr enter(struct rstate *st, const struct tpl_node *n)
{
    if (st->depth >= TPL_MAX_DEPTH)
        return merr_set(MERR_INVAL, "line %u: templates nested deeper than %d levels", n->line,
                        TPL_MAX_DEPTH);
    st->depth++;
    return MERR_OK;
}

static enum merr render_with(struct rstate *st, const struct tpl_node *n, json_t *v)
{
    enum merr rc;

    st->stack[st->nstack++] = v;
    rc = render_kids(st, n->kids, n->nkids);
    st->nstack--;
    return rc;
}

static enum merr render_section(struct rstate *st, const struct tpl_node *n)
{
    json_t *v = lookup(st, n->str, n->len);
    enum merr rc;

    if (n->kind == TPL_N_INVERTED) {
        if (truthy(v))
            return MERR_OK;
        if ((rc = enter(st, n)))
            return rc;
        rc = render_kids(st, n->kids, n->nkids);
        st->depth--;
        return rc;
    }
    if (!truthy(v))
        return MERR_OK;
    if ((rc = enter(st, n)))
        return rc;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if ((rc = render_with(st, n, e)))
                break;
        }
    } else {
        rc = render_with(st, n, v);
    }
    st->depth--;
    return rc;
}

/* Finds a partial or parent: in the set, or parsed from the JSON object. NULL if none. */
static enum merr find_tpl(struct rstate *st, const struct tpl_node *n, const struct tpl **out)
{
    enum merr rc;

    *out = NULL;
    if (st->set) {
        char name[256];
        if (n->len >= sizeof name)
            return merr_set(MERR_INVAL, "line %u: template name too long", n->line);
        memcpy(name, n->str, n->len);
        name[n->len] = '\0';
        rc = tpl_get(st->set, name, out);
        if (rc == MERR_NOTFOUND) {
            *out = NULL;
            return MERR_OK;
        }
        return rc ? merr_wrap(rc, "line %u", n->line) : MERR_OK;
    }
    if (json_is_object(st->partials)) {
        struct pcache *c;
        const json_t *src;
        char err[256];
        unsigned line;
        for (c = st->pc; c; c = c->next)
            if (c->len == n->len && memcmp(c->name, n->str, n->len) == 0) {
                *out = c->t;
                return MERR_OK;
            }
        src = json_object_getn(st->partials, n->str, n->len);
        if (!json_is_string(src))
            return MERR_OK;
        c = calloc(1, sizeof *c);
        if (!c)
            return merr_set(MERR_NOMEM, "out of memory");
        rc = tpl_parse_ex(json_string_value(src), json_string_length(src),
                          st->html ? TPL_ESCAPE_HTML : TPL_ESCAPE_NONE, &c->t, &line, err,
                          sizeof err);
        if (rc) {
            free(c);
            if (rc == MERR_INVAL)
                return merr_set(rc, "partial '%.*s': line %u: %s", (int)n->len, n->str, line, err);
            return rc;
        }
        c->name = n->str;
        c->len = n->len;
        c->next = st->pc;
        st->pc = c;
        *out = c->t;
    }
    return MERR_OK;
}

/* Adds `ind` to the indentation for what follows; returns the old length. */
static enum merr indent_push(struct rstate *st, const struct tpl_node *n, const char *ind,
                             size_t len, int bol)
{
    if (len) {
        if (st->ilen + len > sizeof st->indent)
            return merr_set(MERR_LIMIT, "line %u: indentation deeper than %d characters", n->line,
                            TPL_MAX_INDENT);
        memcpy(st->indent + st->ilen, ind, len);
        st->ilen += len;
        if (bol)
            st->at_bol = 1;
    }
    return MERR_OK;
}

static enum merr render_include(struct rstate *st, const struct tpl_node *n)
{
    const struct tpl *t;
    struct bscope sc;
    const struct bscope *saved_scope = st->scope;
    size_t saved_ilen = st->ilen;
    enum merr rc = find_tpl(st, n, &t);

    if (rc)
        return rc;
    if (!t) {
        if (n->kind == TPL_N_PARENT)
            return merr_set(MERR_INVAL, "line %u: parent template '%.*s' not found", n->line,
                            (int)n->len, n->str);
        return MERR_OK; /* a missing partial renders as nothing (spec) */
    }
    if (st->pdepth >= TPL_MAX_PARTIAL_DEPTH)
        return merr_set(MERR_INVAL, "line %u: partials nested deeper than %d (at '%.*s')", n->line,
                        TPL_MAX_PARTIAL_DEPTH, (int)n->len, n->str);
    if ((rc = enter(st, n)))
        return rc;
    if ((rc = indent_push(st, n, n->ind, n->ind_len, n->bol)))
        goto out;
    if (n->kind == TPL_N_PARENT) {
        sc.parent = n;
        sc.up = st->scope;
        st->scope = &sc;
    }
    st->pdepth++;
    rc = render_kids(st, t->root.kids, t->root.nkids);
    st->pdepth--;
out:
    st->scope = saved_scope;
    st->ilen = saved_ilen;
    st->depth--;
    return rc;
}

static enum merr render_block(struct rstate *st, const struct tpl_node *n)
{
    const struct tpl_node *arg = NULL;
    size_t saved_ilen = st->ilen;
    enum merr rc;

    /* the outermost parent that passes this block wins */
    for (const struct bscope *sc = st->scope; sc; sc = sc->up)
        for (uint32_t i = 0; i < sc->parent->nkids; i++) {
            const struct tpl_node *k = &sc->parent->kids[i];
            if (k->kind == TPL_N_BLOCK && k->len == n->len && memcmp(k->str, n->str, n->len) == 0) {
                arg = k;
                break;
            }
        }
    if ((rc = enter(st, n)))
        return rc;
    if (arg || n->ind_default)
        rc = indent_push(st, n, n->ind, n->ind_len, n->bol);
    if (!rc)
        rc = arg ? render_kids(st, arg->kids, arg->nkids) : render_kids(st, n->kids, n->nkids);
    st->ilen = saved_ilen;
    st->depth--;
    return rc;
}

static enum merr render_kids(struct rstate *st, const struct tpl_node *kids, uint32_t n)
{
    enum merr rc = MERR_OK;

    for (uint32_t i = 0; i < n && !rc; i++) {
        const struct tpl_node *k = &kids[i];
        if (++st->work > TPL_WORK_LIMIT)
            return merr_set(MERR_LIMIT, "line %u: template expands to more than %lu steps", k->line,
                            (unsigned long)TPL_WORK_LIMIT);
        switch (k->kind) {
        case TPL_N_TEXT:
            rc = emit_text(st, k->str, k->len);
            break;
        case TPL_N_VAR:
        case TPL_N_RAW: {
            const json_t *v = lookup(st, k->str, k->len);
            if (v)
                rc = emit_json(st, v, k->kind == TPL_N_VAR && st->html);
            break;
        }
        case TPL_N_SECTION:
        case TPL_N_INVERTED:
            rc = render_section(st, k);
            break;
        case TPL_N_PARTIAL:
        case TPL_N_PARENT:
            rc = render_include(st, k);
            break;
        case TPL_N_BLOCK:
            rc = render_block(st, k);
            break;
        }
    }
    return rc;
}

enum merr tpl_render(const struct tpl *t, struct tpl_set *set, json_t *partials, json_t *const *ctx,
                     size_t nctx, struct buf *out)
{
    struct rstate *st, local;
    size_t start = out->len;
    enum merr rc;

    st = &local;
    st->out = out;
    st->html = t->esc == TPL_ESCAPE_HTML;
    st->set = set;
    st->partials = partials;
    st->ctx = ctx;
    st->nctx = ctx ? nctx : 0;
    st->nstack = 0;
    st->ilen = 0;
    st->at_bol = 1;
    st->depth = 0;
    st->pdepth = 0;
    st->work = 0;
    st->scope = NULL;
    st->pc = NULL;
    rc = render_kids(st, t->root.kids, t->root.nkids);
    while (st->pc) {
        struct pcache *c = st->pc;
        st->pc = c->next;
        tpl_free(c->t);
        free(c);
    }
    if (rc)
        buf_truncate(out, start);
    return rc;
}
