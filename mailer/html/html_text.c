/*
 * html_text.c: the text/plain alternative made from (sanitized) HTML, and
 * the word wrapping it shares with plain text such as the sender's note.
 *
 * The HTML is parsed again (html_doc_parse) and walked without recursion. A
 * frame per open element remembers what its end must undo (indentation, a
 * list counter, where an anchor's text began). Inline text accumulates in
 * `para` with whitespace collapsed the way a browser does (runs of ASCII
 * whitespace become one space, none at the start of a line); <br> puts a
 * hard '\n' into it. Every block start and end flushes `para` as wrapped
 * lines. Blocks are separated by a blank line, list items, table rows and
 * captions by a line break only.
 *
 * Rendering choices: headings are paragraphs of their own; list items start
 * with "- " or "N. " and their continuation lines are indented to match;
 * blockquote lines start with "> "; table cells are joined with " | ";
 * <hr> is "* * *"; a figcaption is its own line in parentheses, and an image
 * with no caption of its figure shows as "[Ảnh: ALT]" (nothing without alt);
 * a link is its text followed by " [N]", with "Liên kết:" and the numbered
 * URLs at the end (no number when the text already is the URL); <pre> keeps
 * its spaces and line breaks and is only wrapped where a line is too long.
 *
 * Wrapping counts code points, breaks only at ASCII spaces (so never inside
 * a word or a UTF-8 sequence; U+00A0 does not break), drops the spaces at a
 * break and the ones at the end of a line, and puts a word longer than the
 * width alone on its line rather than cutting it. Indentation is capped at
 * half the width.
 */
#include "html.h"

#include <stdlib.h>
#include <string.h>

#include "html_doc.h"
#include "utf8.h"

enum {
    FR_LINK = 1 << 0,       /* <a href>: mark = where its text starts */
    FR_LIST = 1 << 1,       /* <ul>/<ol>: counter = next number of an <ol> */
    FR_ITEM = 1 << 2,       /* <li> */
    FR_ROW = 1 << 3,        /* <tr>: counter = cells so far */
    FR_FIGURE = 1 << 4,     /* <figure>: counter = 1 if it has a figcaption */
    FR_FIGCAPTION = 1 << 5, /* mark = start of the caption in para */
    FR_PRE = 1 << 6,
    FR_ORDERED = 1 << 7, /* <ol> */
};

struct frame {
    int flags;
    int brk;           /* 0 inline, 1 own line, 2 blank line around */
    size_t indent_len; /* indent to restore at the end */
    size_t mark;
    long counter;
    char *href; /* FR_LINK, xmlFree'd */
};

struct txt {
    struct buf *out;
    int width;
    struct buf para;   /* inline text of the current block */
    int space;         /* collapsed whitespace pending before the next text */
    int pre;           /* inside <pre> */
    int blank;         /* a blank line is due before the next line */
    int written;       /* some line was written */
    struct buf indent; /* prefix of every line */
    char marker[16];   /* list marker due on the next first line */
    size_t marker_at;  /* the marker replaces indent from this length on */
    struct buf line;   /* scratch: a first-line prefix */
    struct buf links;  /* "[N] URL\n" */
    int nlinks;
    struct frame *fr;
    size_t nfr, capfr;
};

static char mark_frame; /* n->_private == &mark_frame: n has a frame on the stack */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int is_gap(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * Writes one line s[0..n) (no '\n' inside) wrapped at `width` code points:
 * the first output line starts with p1, the others with p2. Spaces/tabs are
 * the only break points; leading ones are kept (indentation), the ones at a
 * break or at the end are dropped.
 */
static enum merr wrap_line(struct buf *out, const char *s, size_t n, int width, const char *p1,
                           size_t p1n, const char *p2, size_t p2n)
{
    size_t i = 0, col, p2cols = utf8_count(p2, p2n);
    int first = 1;
    enum merr rc;

    while (n > 0 && is_gap(s[n - 1]))
        n--;
    if (n == 0) {
        while (p1n > 0 && p1[p1n - 1] == ' ')
            p1n--;
        rc = buf_append(out, p1, p1n);
        return rc ? rc : buf_putc(out, '\n');
    }
    rc = buf_append(out, p1, p1n);
    col = utf8_count(p1, p1n);
    while (!rc && i < n) {
        size_t gs = i, ws, wcols, gcols;
        while (i < n && is_gap(s[i]))
            i++;
        ws = i;
        while (i < n && !is_gap(s[i]))
            i++;
        gcols = ws - gs;
        wcols = utf8_count(s + ws, i - ws);
        if (first || col + gcols + wcols <= (size_t)width) {
            rc = buf_append(out, s + gs, i - gs);
            col += gcols + wcols;
            first = 0;
        } else {
            rc = buf_putc(out, '\n');
            if (!rc)
                rc = buf_append(out, p2, p2n);
            if (!rc)
                rc = buf_append(out, s + ws, i - ws);
            col = p2cols + wcols;
        }
    }
    return rc ? rc : buf_putc(out, '\n');
}

/* Writes `para` as wrapped lines and starts a new one. */
static enum merr flush(struct txt *t)
{
    struct buf *p = &t->para;
    size_t a = 0, b = p->len;
    int first = 1;
    enum merr rc = MERR_OK;

    t->space = 0;
    while (b > 0 && (p->data[b - 1] == '\n' || p->data[b - 1] == ' '))
        b--;
    if (!t->pre)
        while (a < b && p->data[a] == '\n')
            a++;
    if (a == b) {
        buf_reset(p);
        return MERR_OK;
    }
    if (t->blank && t->written)
        rc = buf_putc(t->out, '\n');
    t->blank = 0;
    buf_reset(&t->line);
    if (!rc && t->marker[0]) {
        rc = buf_append(&t->line, t->indent.data, t->marker_at);
        if (!rc)
            rc = buf_puts(&t->line, t->marker);
        t->marker[0] = '\0';
    } else if (!rc) {
        rc = buf_append(&t->line, t->indent.data, t->indent.len);
    }
    while (!rc && a <= b) {
        const char *nl = memchr(p->data + a, '\n', b - a);
        size_t e = nl ? (size_t)(nl - p->data) : b;
        if (first)
            rc = wrap_line(t->out, p->data + a, e - a, t->width, t->line.data, t->line.len,
                           t->indent.data, t->indent.len);
        else
            rc = wrap_line(t->out, p->data + a, e - a, t->width, t->indent.data, t->indent.len,
                           t->indent.data, t->indent.len);
        first = 0;
        a = e + 1;
    }
    t->written = 1;
    buf_reset(p);
    return rc;
}

/* Appends text with whitespace collapsed (kept as is inside <pre>). */
static enum merr put_text(struct txt *t, const char *s, size_t n)
{
    enum merr rc = MERR_OK;
    size_t i = 0;

    if (t->pre)
        return buf_append(&t->para, s, n);
    while (!rc && i < n) {
        size_t k = i;
        if (is_ws(s[i])) {
            while (i < n && is_ws(s[i]))
                i++;
            if (t->para.len > 0 && t->para.data[t->para.len - 1] != '\n')
                t->space = 1;
            continue;
        }
        while (i < n && !is_ws(s[i]))
            i++;
        if (t->space) {
            rc = buf_putc(&t->para, ' ');
            t->space = 0;
        }
        if (!rc)
            rc = buf_append(&t->para, s + k, i - k);
    }
    return rc;
}

/* Appends a word of our own ("[1]", "|") with a space before it. */
static enum merr put_word(struct txt *t, const char *w)
{
    if (t->para.len > 0 && t->para.data[t->para.len - 1] != '\n')
        t->space = 1;
    return put_text(t, w, strlen(w));
}

static struct frame *nearest(struct txt *t, int flags)
{
    for (size_t i = t->nfr; i-- > 0;)
        if (t->fr[i].flags & flags)
            return &t->fr[i];
    return NULL;
}

/* Grows the indentation by add[0..n) unless that passes half the width. */
static enum merr indent_add(struct txt *t, const char *add, size_t n)
{
    if (utf8_count(t->indent.data, t->indent.len) + n > (size_t)t->width / 2)
        return MERR_OK;
    return buf_append(&t->indent, add, n);
}

static int block_level(const char *name, struct txt *t)
{
    static const char *const blank[] = {
        "address", "article",  "aside",  "blockquote", "center", "details", "div",
        "dl",      "fieldset", "figure", "footer",     "h1",     "h2",      "h3",
        "h4",      "h5",       "h6",     "header",     "hr",     "main",    "nav",
        "ol",      "p",        "pre",    "section",    "table",  "ul",
    };
    static const char *const line[] = {"caption", "dd", "dt",      "figcaption",
                                       "legend",  "li", "summary", "tr"};
    for (size_t i = 0; i < sizeof line / sizeof *line; i++)
        if (!strcmp(name, line[i]))
            return 1;
    for (size_t i = 0; i < sizeof blank / sizeof *blank; i++)
        if (!strcmp(name, blank[i])) {
            /* a list inside a list item is part of the item */
            if ((!strcmp(name, "ul") || !strcmp(name, "ol")) && nearest(t, FR_ITEM))
                return 1;
            return 2;
        }
    return 0;
}

static int figure_has_caption(xmlNode *fig)
{
    for (xmlNode *c = fig->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "figcaption"))
            return 1;
    return 0;
}

static enum merr put_image(struct txt *t, xmlNode *img)
{
    struct frame *fig = nearest(t, FR_FIGURE);
    char *alt;
    enum merr rc = MERR_OK;
    size_t i = 0, n;

    if (fig && fig->counter)
        return MERR_OK; /* its caption speaks for it */
    alt = html_doc_attr(img, "alt");
    n = alt ? strlen(alt) : 0;
    while (i < n && is_ws(alt[i]))
        i++;
    if (i < n) {
        rc = put_word(t, "[Ảnh:");
        if (!rc) {
            t->space = 1;
            rc = put_text(t, alt + i, n - i);
        }
        t->space = 0;
        if (!rc)
            rc = buf_putc(&t->para, ']');
        t->space = 1;
    }
    xmlFree(alt);
    return rc;
}

static enum merr txt_enter(void *arg, xmlNode *n, int *descend)
{
    struct txt *t = arg;
    const char *name = (const char *)n->name;
    struct frame *f, *up;
    enum merr rc = MERR_OK;

    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
        return n->content ? put_text(t, (const char *)n->content, strlen((char *)n->content))
                          : MERR_OK;
    if (n->type != XML_ELEMENT_NODE || !name || html_doc_tag(name) == HTML_TAG_DROP) {
        n->_private = NULL;
        return MERR_OK;
    }

    if (t->nfr == t->capfr) {
        size_t cap = t->capfr ? t->capfr * 2 : 32;
        struct frame *fr = realloc(t->fr, cap * sizeof *fr);
        if (!fr)
            return merr_set(MERR_NOMEM, "html: out of memory");
        t->fr = fr;
        t->capfr = cap;
    }
    f = &t->fr[t->nfr];
    memset(f, 0, sizeof *f);
    f->indent_len = t->indent.len;
    f->brk = block_level(name, t);
    t->nfr++;
    n->_private = &mark_frame;
    *descend = 1;

    if (f->brk) {
        rc = flush(t);
        if (f->brk == 2)
            t->blank = 1;
    }
    if (rc)
        return rc;

    if (!strcmp(name, "br")) {
        t->space = 0;
        rc = buf_putc(&t->para, '\n');
    } else if (!strcmp(name, "img")) {
        rc = put_image(t, n);
    } else if (!strcmp(name, "hr")) {
        rc = put_text(t, "* * *", 5);
    } else if (!strcmp(name, "a")) {
        f->href = html_doc_attr(n, "href");
        /* a URL with spaces or controls (unsanitized input) is not listed */
        if (f->href && *f->href && !strpbrk(f->href, " \t\n\r\f\v")) {
            f->flags |= FR_LINK;
            f->mark = t->para.len;
        }
    } else if (!strcmp(name, "ul") || !strcmp(name, "ol")) {
        f->flags |= FR_LIST;
        if (!strcmp(name, "ol")) {
            char *start = html_doc_attr(n, "start");
            f->flags |= FR_ORDERED;
            f->counter = start ? strtol(start, NULL, 10) : 1;
            if (f->counter < 0 || f->counter > 1000000)
                f->counter = 1;
            xmlFree(start);
        }
    } else if (!strcmp(name, "li")) {
        up = nearest(t, FR_LIST);
        f->flags |= FR_ITEM;
        if (up && (up->flags & FR_ORDERED) && up->counter < 100000000)
            snprintf(t->marker, sizeof t->marker, "%ld. ", up->counter++);
        else
            strcpy(t->marker, "- ");
        t->marker_at = t->indent.len;
        rc = indent_add(t, "               ", strlen(t->marker));
    } else if (!strcmp(name, "blockquote")) {
        rc = indent_add(t, "> ", 2);
    } else if (!strcmp(name, "pre")) {
        f->flags |= FR_PRE;
        t->pre++;
    } else if (!strcmp(name, "tr")) {
        f->flags |= FR_ROW;
    } else if (!strcmp(name, "td") || !strcmp(name, "th")) {
        up = nearest(t, FR_ROW);
        if (up && up->counter++ > 0) {
            rc = put_word(t, "|");
            t->space = 1;
        }
    } else if (!strcmp(name, "figure")) {
        f->flags |= FR_FIGURE;
        f->counter = figure_has_caption(n);
    } else if (!strcmp(name, "figcaption")) {
        f->flags |= FR_FIGCAPTION;
        f->mark = t->para.len;
    }
    if (html_doc_void(name))
        *descend = 0;
    return rc;
}

/* The end of a link: " [N]" unless its text is its URL. */
static enum merr end_link(struct txt *t, struct frame *f)
{
    const char *text = t->para.data ? t->para.data : "";
    size_t a = f->mark < t->para.len ? f->mark : t->para.len, b = t->para.len;
    size_t hn = strlen(f->href);
    char num[24];
    enum merr rc;

    while (a < b && is_ws(text[a]))
        a++;
    while (b > a && is_ws(text[b - 1]))
        b--;
    if ((b - a == hn && !memcmp(text + a, f->href, hn)) ||
        (!strncmp(f->href, "mailto:", 7) && b - a == hn - 7 &&
         !memcmp(text + a, f->href + 7, hn - 7)))
        return MERR_OK;
    t->nlinks++;
    rc = buf_printf(&t->links, "[%d] %s\n", t->nlinks, f->href);
    if (rc)
        return rc;
    snprintf(num, sizeof num, "[%d]", t->nlinks);
    return put_word(t, num);
}

static enum merr txt_leave(void *arg, xmlNode *n)
{
    struct txt *t = arg;
    struct frame *f;
    enum merr rc = MERR_OK;

    if (n->type != XML_ELEMENT_NODE || !n->_private)
        return MERR_OK;
    n->_private = NULL;
    if (t->nfr == 0)
        return merr_set(MERR_INTERNAL, "html: text frames out of step");
    f = &t->fr[t->nfr - 1];

    if (f->flags & FR_LINK)
        rc = end_link(t, f);
    if (!rc && (f->flags & FR_FIGCAPTION)) {
        /* the caption, if any, in parentheses */
        size_t at = f->mark <= t->para.len ? f->mark : t->para.len, end = t->para.len;
        while (at < end && is_ws(t->para.data[at]))
            at++;
        while (end > at && is_ws(t->para.data[end - 1]))
            end--;
        if (at < end) {
            buf_truncate(&t->para, end);
            rc = buf_putc(&t->para, ')');
            if (!rc)
                rc = buf_putc(&t->para, ')');
            if (!rc) {
                memmove(t->para.data + at + 1, t->para.data + at, end - at);
                t->para.data[at] = '(';
            }
        }
        t->space = 0;
    }
    if (!rc && f->brk) {
        rc = flush(t);
        if (f->brk == 2)
            t->blank = 1;
    }
    if (f->flags & FR_PRE)
        t->pre--;
    if (f->flags & FR_ITEM)
        t->marker[0] = '\0';
    buf_truncate(&t->indent, f->indent_len);
    xmlFree(f->href);
    t->nfr--;
    return rc;
}

enum merr html_to_text(const char *in, size_t len, int width, struct buf *out)
{
    struct txt t = {.out = out, .width = width};
    struct html_walk w = {txt_enter, txt_leave, &t};
    size_t start = out->len;
    enum merr rc;

    buf_init(&t.para, 0);
    buf_init(&t.indent, 0);
    buf_init(&t.line, 0);
    buf_init(&t.links, 0);
    if (width <= 0)
        return merr_set(MERR_INVAL, "html: wrap width %d is not positive", width);
    rc = buf_puts(&t.indent, "");
    if (rc)
        goto out;
    rc = html_doc_parse_walk(in, len, &w);
    if (!rc)
        rc = flush(&t);
    if (!rc && t.nlinks) {
        if (t.written)
            rc = buf_putc(out, '\n');
        if (!rc)
            rc = buf_puts(out, "Liên kết:\n");
        if (!rc)
            rc = buf_append(out, t.links.data, t.links.len);
    }
out:
    while (t.nfr > 0)
        xmlFree(t.fr[--t.nfr].href);
    free(t.fr);
    if (rc)
        buf_truncate(out, start);
    buf_free(&t.para);
    buf_free(&t.indent);
    buf_free(&t.line);
    buf_free(&t.links);
    return rc;
}

enum merr html_wrap_text(const char *in, size_t len, int width, struct buf *out)
{
    size_t start = out->len, bad = 0, a = 0;
    struct buf clean;
    enum merr rc = MERR_OK;

    if (width <= 0)
        return merr_set(MERR_INVAL, "wrap width %d is not positive", width);
    if (!utf8_valid(in, len, &bad))
        return merr_set(MERR_INVAL, "text is not valid UTF-8 at byte %zu", bad);
    buf_init(&clean, 0);
    /* CR LF and CR are line breaks; other controls but TAB are dropped */
    for (size_t i = 0; i < len && !rc; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\r') {
            rc = buf_putc(&clean, '\n');
            if (i + 1 < len && in[i + 1] == '\n')
                i++;
        } else if ((c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n') {
            rc = buf_putc(&clean, (char)c);
        }
    }
    while (!rc && a < clean.len) {
        const char *nl = memchr(clean.data + a, '\n', clean.len - a);
        size_t e = nl ? (size_t)(nl - clean.data) : clean.len;
        rc = wrap_line(out, clean.data + a, e - a, width, "", 0, "", 0);
        a = e + 1;
    }
    if (rc)
        buf_truncate(out, start);
    buf_free(&clean);
    return rc;
}
