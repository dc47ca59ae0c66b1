/*
 * fuzz_html.c: the article HTML sanitizer and the plain-text renderer
 * (mailer/html) on any bytes. The sanitized HTML must hold only what the
 * sanitizer promises: tags on the allow-list, attributes from a fixed set,
 * href/src with an allowed scheme (everything is resolved against a base
 * URL here, so none stays relative), no raw '<' in text. The text forms
 * (html_to_text of the sanitized HTML, html_wrap_text of the input) must be
 * valid UTF-8 with "\n" line ends and no line ending in a space.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html.h"
#include "html_doc.h"
#include "utf8.h"
#include "fuzz.h"

/* as compose does: photos it knows become cid: references */
static const char *img_cb(void *arg, const char *src)
{
    (void)arg;
    return strstr(src, "photo") ? "cid:photo-1@mailer" : NULL;
}

static int url_ok(const char *v, size_t n)
{
    static const char *const ok[] = {"http:", "https:", "mailto:", "cid:"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (n >= strlen(ok[i]) && !strncasecmp(v, ok[i], strlen(ok[i])))
            return 1;
    return 0;
}

/* Walks the sanitized output tag by tag (it is our own, regular, markup). */
static void check_markup(const char *s, size_t n)
{
    static const char *const attrs[] = {"href",  "src",   "alt",     "width",   "height",
                                        "title", "style", "colspan", "rowspan", "start"};
    size_t i = 0;
    while (i < n) {
        if (s[i] != '<') {
            FUZZ_CHECK(s[i] != '>', "a raw > in text");
            i++;
            continue;
        }
        i++;
        if (i < n && s[i] == '/')
            i++;
        size_t ns = i;
        while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            i++;
        FUZZ_CHECK(i > ns, "a '<' that does not start a tag");
        char name[32];
        FUZZ_CHECK(i - ns < sizeof name, "tag name too long");
        memcpy(name, s + ns, i - ns);
        name[i - ns] = '\0';
        FUZZ_CHECK(html_doc_tag(name) == HTML_TAG_ALLOWED, "a tag not on the allow-list");
        while (i < n && s[i] != '>') {
            if (s[i] == ' ') {
                i++;
                continue;
            }
            size_t as = i;
            while (i < n && s[i] != '=' && s[i] != '>' && s[i] != ' ')
                i++;
            size_t al = i - as;
            int known = 0;
            for (size_t k = 0; k < sizeof attrs / sizeof *attrs; k++)
                known |= strlen(attrs[k]) == al && !memcmp(attrs[k], s + as, al);
            FUZZ_CHECK(known, "an attribute not on the allow-list");
            FUZZ_CHECK(i < n && s[i] == '=' && i + 1 < n && s[i + 1] == '"',
                       "attribute not name=\"");
            i += 2;
            size_t vs = i;
            while (i < n && s[i] != '"') {
                FUZZ_CHECK(s[i] != '<' && s[i] != '>', "raw < or > in an attribute value");
                i++;
            }
            FUZZ_CHECK(i < n, "unterminated attribute value");
            if ((al == 4 && !memcmp(s + as, "href", 4)) || (al == 3 && !memcmp(s + as, "src", 3)))
                FUZZ_CHECK(url_ok(s + vs, i - vs), "href/src with a scheme not allowed");
            i++;
        }
        FUZZ_CHECK(i < n, "unterminated tag");
        i++;
    }
}

static void check_text(const struct buf *t)
{
    FUZZ_CHECK(utf8_valid(t->data ? t->data : "", t->len, NULL), "text is not UTF-8");
    for (size_t i = 0; i < t->len; i++) {
        FUZZ_CHECK(t->data[i] != '\r', "CR in text");
        if (t->data[i] == '\n')
            FUZZ_CHECK(i == 0 || t->data[i - 1] != ' ', "a text line ends with a space");
    }
}

/* The text of our own markup: tags and ASCII whitespace left out. */
static void text_of(const struct buf *b, struct buf *out)
{
    int in_tag = 0;
    buf_reset(out);
    for (size_t i = 0; i < b->len; i++) {
        char c = b->data[i];
        if (c == '<')
            in_tag = 1;
        else if (c == '>')
            in_tag = 0;
        else if (!in_tag && c != ' ' && c != '\n' && c != '\t' && c != '\r')
            buf_putc(out, c);
    }
}

/*
 * Sanitizing the output again keeps it clean and keeps its text (libxml2
 * may nest the same tags differently, and drop whitespace between table
 * parts, the second time).
 */
static void check_stable(const struct buf *san)
{
    struct buf again, t1, t2;
    buf_init(&again, 0);
    buf_init(&t1, 0);
    buf_init(&t2, 0);
    FUZZ_CHECK(html_sanitize(san->data ? san->data : "", san->len, NULL, NULL, NULL, &again) ==
                   MERR_OK,
               "our own sanitized HTML is refused by the sanitizer");
    check_markup(again.data ? again.data : "", again.len);
    text_of(san, &t1);
    text_of(&again, &t2);
    FUZZ_CHECK(t1.len == t2.len && (t1.len == 0 || !memcmp(t1.data, t2.data, t1.len)),
               "sanitizing the sanitized HTML again changed its text");
    buf_free(&again);
    buf_free(&t1);
    buf_free(&t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf san, text, wrapped;
    const char *in = (const char *)data;

    buf_init(&san, 0);
    buf_init(&text, 0);
    buf_init(&wrapped, 0);
    if (html_sanitize(in, size, "https://hagiang.gov.vn/tin/bai-viet.html", img_cb, NULL, &san) ==
        MERR_OK) {
        FUZZ_CHECK(utf8_valid(san.data ? san.data : "", san.len, NULL),
                   "sanitized HTML is not UTF-8");
        check_markup(san.data ? san.data : "", san.len);
        check_stable(&san);
        if (html_to_text(san.data ? san.data : "", san.len, 72, &text) == MERR_OK)
            check_text(&text);
    }
    if (html_wrap_text(in, size, 40, &wrapped) == MERR_OK)
        check_text(&wrapped);
    buf_free(&san);
    buf_free(&text);
    buf_free(&wrapped);
    return 0;
}
