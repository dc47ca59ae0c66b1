/*
 * html_sanitize.c: article HTML rewritten through an allow-list.
 *
 * The input is parsed by libxml2 (html_doc_parse: lenient like a browser,
 * depth bounded) and the tree is written back by this file, never by
 * libxml2's serializer, so nothing reaches the output unless it was chosen
 * here: allowed elements with their allowed attributes, text escaped. An
 * element that is not on the allow-list is unwrapped (its content stays); the
 * dangerous ones (script, style, iframe, object, form, svg, ...) go with
 * everything inside them. Comments, processing instructions and doctypes
 * vanish.
 *
 * URLs (a href, img src) are checked the way a browser would read them:
 * entities are already decoded by the parser, then leading and trailing
 * controls and spaces are trimmed and TAB/LF/CR removed (WHATWG URL parsing),
 * so "jav&#x09;ascript:" and " JAVASCRIPT:" are seen as javascript:. Only
 * http, https, mailto and cid schemes and scheme-less (relative) references
 * pass; relative ones are resolved against the article URL (RFC 3986
 * section 5.2, xmlBuildURI) when one is given. Anything else removes the
 * attribute; an <a> without a usable href is unwrapped and an <img> without a
 * usable src is dropped.
 *
 * Every kept <img> gets alt (empty if missing) and an inline
 * style="display:block;max-width:100%;height:auto": mail clients ignore
 * <style> sheets, and without it a 960 px photo overflows a 600 px message.
 */
#include "html.h"

#include <string.h>
#include <strings.h>

#include <libxml/uri.h>

#include "html_doc.h"
#include "utf8.h"

#define IMG_STYLE "display:block;max-width:100%;height:auto"

struct san {
    struct buf *out;
    const char *base;
    html_img_fn img;
    void *img_arg;
    struct buf url; /* scratch: a cleaned URL */
    struct buf tmp; /* scratch: an escaped relative reference */
};

static char mark_open; /* n->_private == &mark_open: its start tag was written */

/* Appends s[0..n) with &, <, > (and " in attributes) as references. */
static enum merr put_escaped(struct buf *out, const char *s, size_t n, int attr)
{
    size_t run = 0;
    enum merr rc;

    for (size_t i = 0; i < n; i++) {
        const char *ent;
        switch (s[i]) {
        case '&':
            ent = "&amp;";
            break;
        case '<':
            ent = "&lt;";
            break;
        case '>':
            ent = "&gt;";
            break;
        case '"':
            ent = attr ? "&quot;" : NULL;
            break;
        default:
            ent = NULL;
        }
        if (!ent)
            continue;
        rc = buf_append(out, s + run, i - run);
        if (!rc)
            rc = buf_puts(out, ent);
        if (rc)
            return rc;
        run = i + 1;
    }
    return buf_append(out, s + run, n - run);
}

static enum merr put_attr(struct buf *out, const char *name, const char *val)
{
    enum merr rc = buf_printf(out, " %s=\"", name);
    if (!rc)
        rc = put_escaped(out, val, strlen(val), 1);
    if (!rc)
        rc = buf_putc(out, '"');
    return rc;
}

enum url_kind { URL_BAD, URL_RELATIVE, URL_ABSOLUTE };

/* RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
static enum url_kind url_classify(const char *u, size_t n)
{
    static const char *const schemes[] = {"http", "https", "mailto", "cid"};
    size_t i;

    for (i = 0; i < n; i++) {
        if (u[i] == ':')
            break;
        if (u[i] == '/' || u[i] == '?' || u[i] == '#')
            return URL_RELATIVE;
    }
    if (i == n)
        return URL_RELATIVE;
    for (size_t k = 0; k < sizeof schemes / sizeof *schemes; k++)
        if (strlen(schemes[k]) == i && !strncasecmp(u, schemes[k], i))
            return URL_ABSOLUTE;
    /* javascript:, vbscript:, data:, file:, or a colon no scheme explains */
    return URL_BAD;
}

/*
 * Cleans `raw` into s->url as a browser would read it and checks its scheme;
 * relative references are resolved against s->base when there is one.
 * Returns 1 if s->url holds a URL to keep.
 */
static int url_clean(struct san *s, const char *raw, enum merr *rc)
{
    size_t a = 0, b = strlen(raw);
    enum url_kind kind;
    xmlChar *abs;

    buf_reset(&s->url);
    while (a < b && (unsigned char)raw[a] <= 0x20)
        a++;
    while (b > a && (unsigned char)raw[b - 1] <= 0x20)
        b--;
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c < 0x20 || c == 0x7f)
            return 0;
        if ((*rc = buf_putc(&s->url, (char)c)))
            return 0;
    }
    if (s->url.len == 0)
        return 0;
    kind = url_classify(s->url.data, s->url.len);
    if (kind != URL_RELATIVE || !s->base)
        return kind != URL_BAD;

    /* xmlBuildURI wants an RFC 3986 reference: percent-encode the rest */
    buf_reset(&s->tmp);
    for (size_t i = 0; i < s->url.len; i++) {
        unsigned char c = (unsigned char)s->url.data[i];
        if (c >= 0x80 || c == ' ' || strchr("\"<>\\^`{|}", c))
            *rc = buf_printf(&s->tmp, "%%%02X", c);
        else
            *rc = buf_putc(&s->tmp, (char)c);
        if (*rc)
            return 0;
    }
    abs = xmlBuildURI((const xmlChar *)s->tmp.data, (const xmlChar *)s->base);
    if (!abs)
        return 0;
    buf_reset(&s->url);
    *rc = buf_puts(&s->url, (const char *)abs);
    xmlFree(abs);
    if (*rc)
        return 0;
    return url_classify(s->url.data, s->url.len) != URL_BAD;
}

/* A width/height/colspan/rowspan/start value: digits, '%' allowed if pct. */
static int number_ok(const char *v, int pct)
{
    size_t n = strlen(v), digits = strspn(v, "0123456789");
    if (digits == 0 || digits > 5)
        return 0;
    return digits == n || (pct && digits + 1 == n && v[digits] == '%');
}

/* Writes the allowed attributes `names` of n whose values pass `number_ok`. */
static enum merr put_numbers(struct san *s, xmlNode *n, const char *const *names, int pct)
{
    enum merr rc = MERR_OK;
    for (; *names && !rc; names++) {
        char *v = html_doc_attr(n, *names);
        if (v && number_ok(v, pct))
            rc = put_attr(s->out, *names, v);
        xmlFree(v);
    }
    return rc;
}

static enum merr put_text_attr(struct san *s, xmlNode *n, const char *name)
{
    char *v = html_doc_attr(n, name);
    enum merr rc = MERR_OK;
    if (v)
        rc = put_attr(s->out, name, v);
    xmlFree(v);
    return rc;
}

/* <a>: only with a usable href. Sets *open when the start tag was written. */
static enum merr open_a(struct san *s, xmlNode *n, int *open)
{
    char *href = html_doc_attr(n, "href");
    enum merr rc = MERR_OK;

    if (href && url_clean(s, href, &rc)) {
        rc = buf_puts(s->out, "<a");
        if (!rc)
            rc = put_attr(s->out, "href", s->url.data);
        if (!rc)
            rc = put_text_attr(s, n, "title");
        if (!rc)
            rc = buf_putc(s->out, '>');
        *open = !rc;
    }
    xmlFree(href);
    return rc;
}

/* <img>: src through the caller's callback, else cleaned; dropped without one. */
static enum merr open_img(struct san *s, xmlNode *n, int *open)
{
    static const char *const dims[] = {"width", "height", NULL};
    char *src = html_doc_attr(n, "src");
    char *alt = NULL;
    enum merr rc = MERR_OK;
    const char *repl = NULL;
    size_t a = 0, b;

    if (!src)
        goto out;
    b = strlen(src);
    while (a < b && (unsigned char)src[a] <= 0x20)
        a++;
    while (b > a && (unsigned char)src[b - 1] <= 0x20)
        b--;
    src[b] = '\0';
    if (a == b)
        goto out;
    if (s->img)
        repl = s->img(s->img_arg, src + a);
    if (repl) {
        /* the caller's replacement is checked like any other URL, never resolved */
        const char *base = s->base;
        s->base = NULL;
        int ok = url_clean(s, repl, &rc);
        s->base = base;
        if (!ok)
            goto out;
    } else if (!url_clean(s, src + a, &rc)) {
        goto out;
    }
    rc = buf_puts(s->out, "<img");
    if (!rc)
        rc = put_attr(s->out, "src", s->url.data);
    alt = html_doc_attr(n, "alt");
    if (!rc)
        rc = put_attr(s->out, "alt", alt ? alt : "");
    if (!rc)
        rc = put_numbers(s, n, dims, 1);
    if (!rc)
        rc = put_text_attr(s, n, "title");
    if (!rc)
        rc = put_attr(s->out, "style", IMG_STYLE);
    if (!rc)
        rc = buf_putc(s->out, '>');
    *open = !rc;
out:
    xmlFree(src);
    xmlFree(alt);
    return rc;
}

/* The nearest ancestor whose start tag was written, or "" at the top. */
static const char *open_parent(xmlNode *n)
{
    for (n = n->parent; n && n->type == XML_ELEMENT_NODE; n = n->parent)
        if (n->_private == &mark_open)
            return (const char *)n->name;
    return "";
}

/*
 * Table parts, list items and captions are written only where they belong
 * (else unwrapped), so that a client's parser builds the tree we wrote and
 * not one of its own repair.
 */
static int in_context(const char *name, xmlNode *n)
{
    static const char *const rules[][2] = {
        {"td", " tr "},         {"th", " tr "},       {"tr", " table thead tbody tfoot "},
        {"thead", " table "},   {"tbody", " table "}, {"tfoot", " table "},
        {"caption", " table "}, {"li", " ul ol "},    {"figcaption", " figure "},
    };
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        if (strcmp(name, rules[i][0]))
            continue;
        const char *parent = open_parent(n);
        const char *hit = *parent ? strstr(rules[i][1], parent) : NULL;
        return hit && hit[-1] == ' ' && hit[strlen(parent)] == ' ';
    }
    return 1;
}

static enum merr san_enter(void *arg, xmlNode *n, int *descend)
{
    static const char *const spans[] = {"colspan", "rowspan", NULL};
    static const char *const start[] = {"start", NULL};
    struct san *s = arg;
    const char *name = (const char *)n->name;
    enum merr rc = MERR_OK;
    int open = 0;

    n->_private = NULL;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content)
            rc = put_escaped(s->out, (const char *)n->content, strlen((const char *)n->content), 0);
        return rc;
    }
    if (n->type != XML_ELEMENT_NODE || !name)
        return MERR_OK; /* comments, processing instructions, DTD */

    switch (html_doc_tag(name)) {
    case HTML_TAG_DROP:
        return MERR_OK;
    case HTML_TAG_UNKNOWN:
        *descend = 1;
        return MERR_OK;
    case HTML_TAG_ALLOWED:
        if (!in_context(name, n)) {
            *descend = 1;
            return MERR_OK;
        }
        break;
    }
    *descend = 1;
    if (!strcmp(name, "a")) {
        rc = open_a(s, n, &open);
    } else if (!strcmp(name, "img")) {
        rc = open_img(s, n, &open);
        *descend = 0;
    } else {
        rc = buf_printf(s->out, "<%s", name);
        if (!rc && (!strcmp(name, "td") || !strcmp(name, "th")))
            rc = put_numbers(s, n, spans, 0);
        else if (!rc && !strcmp(name, "ol"))
            rc = put_numbers(s, n, start, 0);
        if (!rc)
            rc = buf_putc(s->out, '>');
        open = !rc;
        if (html_doc_void(name))
            *descend = 0;
    }
    if (open)
        n->_private = &mark_open;
    return rc;
}

static enum merr san_leave(void *arg, xmlNode *n)
{
    struct san *s = arg;
    const char *name = (const char *)n->name;

    if (n->_private != &mark_open)
        return MERR_OK;
    n->_private = NULL;
    if (html_doc_void(name))
        return MERR_OK;
    return buf_printf(s->out, "</%s>", name);
}

enum merr html_sanitize(const char *in, size_t len, const char *base_url, html_img_fn img,
                        void *img_arg, struct buf *out)
{
    struct san s = {.out = out, .base = base_url, .img = img, .img_arg = img_arg};
    struct html_walk w = {san_enter, san_leave, &s};
    size_t start = out->len;
    enum merr rc;

    buf_init(&s.url, 0);
    buf_init(&s.tmp, 0);
    if (base_url && !*base_url)
        s.base = NULL;
    rc = html_doc_parse_walk(in, len, &w);
    if (rc)
        goto out;
    if (out->len > start && !utf8_valid(out->data + start, out->len - start, NULL))
        rc = merr_set(MERR_INTERNAL, "html: sanitized output is not UTF-8");
out:
    if (rc)
        buf_truncate(out, start);
    buf_free(&s.url);
    buf_free(&s.tmp);
    return rc;
}
