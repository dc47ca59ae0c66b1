/*
 * html_doc.c: parsing untrusted HTML into a tree of bounded depth.
 *
 * libxml2's HTML parser is lenient like a browser, but two of its limits
 * would bite on hostile input: its tree builder stops the whole parse at 256
 * nested elements (silently losing the rest), and lifting that limit
 * (XML_PARSE_HUGE) makes unmatched end tags cost O(open elements) each, so a
 * megabyte of them takes tens of seconds. We keep the parser's defaults and
 * wrap its SAX startElement/endElement: elements deeper than
 * HTML_DOC_MAX_DEPTH are not built (their text lands in the deepest kept
 * ancestor, i.e. the nesting is flattened), and when more than
 * HTML_DOC_MAX_OPEN elements are open at once the parser is stopped and the
 * caller told. The input is given to the parser as the content of a <body>
 * so bare text at the start is not wrapped in an implied <p>, and with
 * HTML_PARSE_IGNORE_ENC so a <meta charset> cannot switch it away from UTF-8.
 *
 * The walker uses the tree's parent/next links instead of recursion, so a
 * deep tree cannot exhaust the C stack either.
 */
#include "html_doc.h"

#include <pthread.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "log.h"
#include "utf8.h"

struct parse_state {
    startElementSAXFunc start; /* libxml2's tree builder */
    endElementSAXFunc end;
    int open; /* elements the parser has open */
    int stopped;
};

static const char *const tags_allowed[] = {
    "a",     "b",  "blockquote", "br", "caption", "code", "div",    "em",  "figcaption", "figure",
    "h1",    "h2", "h3",         "h4", "h5",      "h6",   "hr",     "i",   "img",        "li",
    "ol",    "p",  "pre",        "s",  "small",   "span", "strong", "sub", "sup",        "table",
    "tbody", "td", "tfoot",      "th", "thead",   "tr",   "u",      "ul",
};

static const char *const tags_dropped[] = {
    "applet",   "audio",    "base",   "button", "canvas", "embed",  "form",   "frame",   "frameset",
    "head",     "iframe",   "input",  "link",   "map",    "math",   "meta",   "noembed", "noframes",
    "noscript", "object",   "option", "param",  "script", "select", "source", "style",   "svg",
    "template", "textarea", "title",  "track",  "video",  "xml",
};

static int in_list(const char *name, const char *const *list, size_t n)
{
    /* the lists are sorted: binary search */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, list[mid]);
        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

enum html_tag html_doc_tag(const char *name)
{
    if (in_list(name, tags_allowed, sizeof tags_allowed / sizeof *tags_allowed))
        return HTML_TAG_ALLOWED;
    if (in_list(name, tags_dropped, sizeof tags_dropped / sizeof *tags_dropped))
        return HTML_TAG_DROP;
    return HTML_TAG_UNKNOWN;
}

int html_doc_void(const char *name)
{
    return !strcmp(name, "br") || !strcmp(name, "hr") || !strcmp(name, "img");
}

static void sax_start(void *ctx, const xmlChar *name, const xmlChar **atts)
{
    xmlParserCtxt *ctxt = ctx;
    struct parse_state *st = ctxt->_private;

    if (st->stopped)
        return;
    st->open++;
    if (st->open > HTML_DOC_MAX_OPEN) {
        st->stopped = 1;
        xmlStopParser(ctxt);
        return;
    }
    if (st->open <= HTML_DOC_MAX_DEPTH)
        st->start(ctx, name, atts);
}

static void sax_end(void *ctx, const xmlChar *name)
{
    xmlParserCtxt *ctxt = ctx;
    struct parse_state *st = ctxt->_private;

    if (st->stopped || st->open <= 0)
        return;
    if (st->open <= HTML_DOC_MAX_DEPTH)
        st->end(ctx, name);
    st->open--;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libxml(void)
{
    xmlInitParser();
}

enum merr html_doc_parse(const char *in, size_t len, xmlDoc **doc, int *truncated)
{
    static const char prefix[] = "<body>";
    struct parse_state st = {0};
    xmlParserCtxt *ctxt = NULL;
    struct buf b;
    size_t bad = 0;
    enum merr rc;

    *doc = NULL;
    *truncated = 0;
    buf_init(&b, 0);
    pthread_once(&init_once, init_libxml);

    if (!utf8_valid(in, len, &bad))
        return merr_set(MERR_INVAL, "HTML is not valid UTF-8 at byte %zu", bad);
    if (len > HTML_DOC_MAX_INPUT)
        return merr_set(MERR_LIMIT, "HTML is larger than %zu bytes", HTML_DOC_MAX_INPUT);

    /* HTML input stream preprocessing: newlines normalised, controls out. */
    rc = buf_reserve(&b, sizeof prefix + len);
    if (rc)
        goto out;
    memcpy(b.data, prefix, sizeof prefix - 1);
    b.len = sizeof prefix - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\r') {
            b.data[b.len++] = '\n';
            if (i + 1 < len && in[i + 1] == '\n')
                i++;
        } else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\f') || c == 0x7f) {
            continue;
        } else {
            b.data[b.len++] = (char)c;
        }
    }
    b.data[b.len] = '\0';

    ctxt = htmlNewParserCtxt();
    if (!ctxt || !ctxt->sax) {
        rc = merr_set(MERR_NOMEM, "HTML parser: out of memory");
        goto out;
    }
    st.start = ctxt->sax->startElement;
    st.end = ctxt->sax->endElement;
    ctxt->sax->startElement = sax_start;
    ctxt->sax->endElement = sax_end;
    ctxt->_private = &st;
    *doc = htmlCtxtReadMemory(ctxt, b.data, (int)b.len, NULL, "UTF-8",
                              HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                                  HTML_PARSE_NODEFDTD | HTML_PARSE_IGNORE_ENC);
    if (!*doc) {
        rc = merr_set(MERR_NOMEM, "HTML parser returned no document");
        goto out;
    }
    *truncated = st.stopped;
    rc = MERR_OK;
out:
    if (ctxt)
        htmlFreeParserCtxt(ctxt);
    buf_free(&b);
    return rc;
}

enum merr html_doc_walk(xmlDoc *doc, const struct html_walk *w)
{
    xmlNode *n = doc->children;
    enum merr rc;

    while (n) {
        int descend = 0;
        rc = w->enter(w->arg, n, &descend);
        if (rc)
            return rc;
        if (descend && n->children) {
            n = n->children;
            continue;
        }
        /* n is finished: leave it and every ancestor whose last child it is */
        for (;;) {
            rc = w->leave(w->arg, n);
            if (rc)
                return rc;
            if (n->next) {
                n = n->next;
                break;
            }
            n = n->parent;
            if (!n || n == (xmlNode *)doc) {
                n = NULL;
                break;
            }
        }
    }
    return MERR_OK;
}

enum merr html_doc_parse_walk(const char *in, size_t len, const struct html_walk *w)
{
    xmlDoc *doc = NULL;
    int truncated = 0;
    enum merr rc = html_doc_parse(in, len, &doc, &truncated);

    if (rc)
        return rc;
    if (truncated)
        log_warn("html: markup nested more than %d elements deep; the rest was dropped",
                 HTML_DOC_MAX_OPEN);
    rc = html_doc_walk(doc, w);
    xmlFreeDoc(doc);
    return rc;
}

char *html_doc_attr(xmlNode *n, const char *name)
{
    for (xmlAttr *a = n->properties; a; a = a->next)
        if (a->name && !strcmp((const char *)a->name, name))
            return (char *)xmlNodeGetContent((xmlNode *)a);
    return NULL;
}
