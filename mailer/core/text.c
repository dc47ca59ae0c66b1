/*
 * text.c: the filter of text.h, one pass over the code points for the
 * characters and one for links. The link scan splits the text into words
 * at anything that is not a letter, digit, hyphen or dot, and looks at each
 * word's dotted labels, so punctuation around a domain ("(evil.example)",
 * "evil.example/win", "evil.example,") does not hide it.
 */
#include "text.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

/* U+3002 ideographic full stop, U+FF0E fullwidth full stop, U+FF61 halfwidth ideographic */
static int is_dot(uint32_t cp)
{
    return cp == '.' || cp == 0x3002 || cp == 0xFF0E || cp == 0xFF61;
}

static int is_line_break(uint32_t cp)
{
    return cp == '\r' || cp == '\n' || cp == 0x0B || cp == 0x0C || cp == 0x85 || cp == 0x2028 ||
           cp == 0x2029;
}

/* C0 and C1 controls, DEL, and the format characters that hide or reorder text. */
static int is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xAD ||
           (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206F) || cp == 0xFEFF ||
           (cp >= 0xFFF9 && cp <= 0xFFFB);
}

/* A character of a word: letters and digits of any script, the hyphen. */
static int is_word(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
               cp == '-' || cp == '_';
    /* non-ASCII: everything but spaces and punctuation blocks we know of */
    return !(cp == 0xA0 || (cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000 ||
             (cp >= 0x3001 && cp <= 0x3003) || (cp >= 0xFF01 && cp <= 0xFF0F) || cp == 0xFF61 ||
             cp == 0xFE56 || cp == 0xFE57);
}

static int is_digit(uint32_t cp)
{
    return cp >= '0' && cp <= '9';
}

/* What the labels of one run of a dotted word say. */
struct run {
    size_t labels, numeric, last_len;
    int last_alpha;
};

/* A link: two labels or more ending in a top-level-domain-like label, or four numbers. */
static int run_is_domain(const struct run *r)
{
    return (r->labels >= 2 && r->last_len >= 2 && r->last_alpha) ||
           (r->labels == 4 && r->numeric == 4);
}

/*
 * Looks at one word (code points w[0..n)): split at dots into labels; an
 * empty label (two dots, or one at an end) ends a run. A run is a link if
 * its last label has 2+ characters and no digit, hyphen or underscore (a
 * top-level domain, ASCII or not), or it is four all-digit labels.
 */
static int word_is_domain(const uint32_t *w, size_t n)
{
    struct run r = {0, 0, 0, 1};
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !is_dot(w[i]))
            continue;
        if (i == start) {
            if (run_is_domain(&r))
                return 1;
            r = (struct run){0, 0, 0, 1};
        } else {
            int alpha = 1, numeric = 1;
            for (size_t k = start; k < i; k++) {
                if (is_digit(w[k]) || w[k] == '-' || w[k] == '_')
                    alpha = 0;
                if (!is_digit(w[k]))
                    numeric = 0;
            }
            r.labels++;
            r.numeric += (size_t)numeric;
            r.last_len = i - start;
            r.last_alpha = alpha;
        }
        start = i + 1;
    }
    return run_is_domain(&r);
}

/*
 * 1 if one of the marks below is anywhere in s, in any case. One pass: only
 * a byte that can start a mark (its first character, ASCII, either case)
 * is compared with the marks; a share's name and note made some 700
 * strncasecmp calls before, 5 % of the front's instructions per share.
 */
static int has_scheme_or_www(const char *s, size_t n)
{
    static const char *const marks[] = {
        "http", "://", "www.", "mailto:", "ftp:", "file:", "javascript:", "data:", "xn--"};
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        for (size_t m = 0; m < sizeof marks / sizeof *marks; m++) {
            size_t k;
            if ((unsigned char)marks[m][0] != c)
                continue;
            k = strlen(marks[m]);
            if (k <= n - i && !strncasecmp(s + i, marks[m], k))
                return 1;
        }
    }
    return 0;
}

int text_has_link(const char *s, size_t n)
{
    uint32_t word[512];
    size_t wn = 0, i = 0;
    uint32_t prev = 0;

    if (has_scheme_or_www(s, n))
        return 1;
    while (i <= n) {
        uint32_t cp = 0;
        size_t len = 1;
        if (i < n) {
            len = utf8_decode(s + i, n - i, &cp);
            if (len == 0)
                return 1; /* not text: the caller refuses it anyway */
        }
        if (i < n && cp == '@' && prev && is_word(prev) && i + 1 < n)
            return 1; /* an address: name@host */
        if (i < n && (is_word(cp) || is_dot(cp))) {
            if (wn == sizeof word / sizeof *word)
                return 1; /* a 512-character word is no name */
            word[wn++] = cp;
        } else {
            if (wn && word_is_domain(word, wn))
                return 1;
            wn = 0;
        }
        prev = cp;
        i += len;
    }
    return 0;
}

static enum text_fault check(const char *s, size_t n, size_t max_chars, int note)
{
    size_t chars = 0;
    if (!utf8_valid(s, n, NULL))
        return TEXT_BAD_UTF8;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        if (len == 0)
            return TEXT_BAD_UTF8;
        if (note && (cp == '\r' || cp == '\n' || cp == '\t')) {
            /* body text: ordinary line breaks and tabs */
        } else if (is_line_break(cp)) {
            return note ? TEXT_CONTROL : TEXT_LINE_BREAK;
        } else if (is_control(cp)) {
            return TEXT_CONTROL;
        }
        chars++;
        i += len;
    }
    if (text_has_link(s, n))
        return TEXT_LINK;
    if (chars > max_chars)
        return TEXT_TOO_LONG;
    return TEXT_OK;
}

enum text_fault text_check_name(const char *s, size_t n, size_t max_chars)
{
    return check(s, n, max_chars, 0);
}

enum text_fault text_check_note(const char *s, size_t n, size_t max_chars)
{
    return check(s, n, max_chars, 1);
}

const char *text_fault_en(enum text_fault f)
{
    switch (f) {
    case TEXT_OK:
        return "ok";
    case TEXT_BAD_UTF8:
        return "is not valid UTF-8";
    case TEXT_LINE_BREAK:
        return "contains a line break";
    case TEXT_CONTROL:
        return "contains a control or invisible formatting character";
    case TEXT_LINK:
        return "contains a link or a domain name";
    case TEXT_TOO_LONG:
        return "is too long";
    }
    return "?";
}

const char *text_fault_reason(enum text_fault f, int note)
{
    switch (f) {
    case TEXT_OK:
        return NULL;
    case TEXT_BAD_UTF8:
        return note ? "note.bad_utf8" : "name.bad_utf8";
    case TEXT_LINE_BREAK:
        return note ? "note.control" : "name.line_break";
    case TEXT_CONTROL:
        return note ? "note.control" : "name.control";
    case TEXT_LINK:
        return note ? "note.link" : "name.link";
    case TEXT_TOO_LONG:
        return note ? "note.too_long" : "name.too_long";
    }
    return note ? "note.control" : "name.control";
}
