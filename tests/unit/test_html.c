/*
 * test_html.c: the article HTML sanitizer and the text alternative.
 *
 * Exact outputs for small inputs; hostile markup (scripts, handlers,
 * obfuscated javascript: URLs, unclosed tags, NUL bytes, invalid UTF-8,
 * a megabyte of nesting, random soup) must come out clean, bounded and
 * stable; the wrapping invariants on Vietnamese text; and every sample
 * article in examples/articles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "html.h"
#include "testutil.h"
#include "utf8.h"

#define BASE "https://baohagiang.vn/thoi-su/202201/bai-viet.html"

/* Sanitizes a NUL-terminated input; returns an allocated string. */
static char *san(const char *in, const char *base)
{
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(html_sanitize(in, strlen(in), base, NULL, NULL, &out), MERR_OK);
    return buf_detach(&out, NULL);
}

static char *text(const char *in, int width)
{
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(html_to_text(in, strlen(in), width, &out), MERR_OK);
    return buf_detach(&out, NULL);
}

static void expect_san(const char *in, const char *base, const char *want)
{
    char *got = san(in, base);
    if (strcmp(got, want))
        fail_msg("sanitize(%s)\n got: %s\nwant: %s", in, got, want);
    free(got);
}

static void expect_text(const char *in, const char *want)
{
    char *got = text(in, 72);
    if (strcmp(got, want))
        fail_msg("text(%s)\n got: [%s]\nwant: [%s]", in, got, want);
    free(got);
}

/* ---- invariants over any sanitized output ---- */

static const char *const void_tags[] = {"br", "hr", "img"};

static int is_void(const char *name, size_t n)
{
    for (size_t i = 0; i < 3; i++)
        if (strlen(void_tags[i]) == n && !memcmp(void_tags[i], name, n))
            return 1;
    return 0;
}

/*
 * Checks what a mail client will see: tags balanced and properly nested, no
 * more than 200 deep, only allow-listed attributes, no script, handlers or javascript: URLs,
 * valid UTF-8. Returns the deepest nesting.
 */
static int check_clean(const char *h)
{
    static const char *const attrs[] = {"href",   "title", "src",     "alt",     "width",
                                        "height", "style", "colspan", "rowspan", "start"};
    char stack[256][16];
    int depth = 0, maxdepth = 0;
    size_t len = strlen(h);

    assert_true(utf8_valid(h, len, NULL));
    assert_null(strcasestr(h, "<script"));
    assert_null(strcasestr(h, "javascript:"));
    assert_null(strcasestr(h, "vbscript:"));
    assert_null(strcasestr(h, "<iframe"));
    assert_null(strcasestr(h, "<style"));
    assert_null(strstr(h, "<!--"));
    for (const char *p = h; (p = strchr(p, '<')); p++) {
        const char *e = strchr(p, '>');
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789");
        assert_non_null(e);
        assert_true(n > 0 && n < 16);
        if (closing) {
            assert_true(depth > 0);
            depth--;
            if (strlen(stack[depth]) != n || memcmp(stack[depth], name, n))
                fail_msg("</%.*s> closes <%s>", (int)n, name, stack[depth]);
            continue;
        }
        /* attributes: name="value" pairs from the allow-list only */
        for (const char *a = name + n; a < e;) {
            size_t an;
            const char *q;
            while (*a == ' ')
                a++;
            if (a == e)
                break;
            an = strspn(a, "abcdefghijklmnopqrstuvwxyz");
            int known = 0;
            for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++)
                if (strlen(attrs[i]) == an && !memcmp(attrs[i], a, an))
                    known = 1;
            if (!known)
                fail_msg("attribute %.*s in %.*s", (int)an, a, (int)(e - p + 1), p);
            assert_true(a[an] == '=' && a[an + 1] == '"');
            q = strchr(a + an + 2, '"');
            assert_non_null(q);
            assert_true(q < e || strchr(q, '>') != NULL);
            if (q > e)
                e = strchr(q, '>');
            a = q + 1;
        }
        if (!is_void(name, n)) {
            assert_true(depth < 256);
            memcpy(stack[depth], name, n);
            stack[depth][n] = '\0';
            depth++;
            if (depth > maxdepth)
                maxdepth = depth;
        }
        p = e;
    }
    assert_int_equal(depth, 0);
    assert_true(maxdepth <= 200);
    return maxdepth;
}

/* Every line of `t` ends with \n, is UTF-8, and has at most `width` code
 * points unless it is one word. */
static void check_wrapped(const char *t, int width)
{
    size_t len = strlen(t);
    assert_true(utf8_valid(t, len, NULL));
    assert_null(strchr(t, '\r'));
    if (len)
        assert_int_equal(t[len - 1], '\n');
    for (const char *l = t; *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = (size_t)(nl - l);
        if (utf8_count(l, n) > (size_t)width) {
            /* allowed only for a single word (after an indentation/prefix) */
            const char *w = l;
            while (w < nl && (*w == ' ' || *w == '>' || *w == '-'))
                w++;
            if (memchr(w, ' ', (size_t)(nl - w)) && strncmp(l, "[", 1))
                fail_msg("line over %d: %.*s", width, (int)n, l);
        }
        if (n > 0 && l[n - 1] == ' ')
            fail_msg("trailing space: %.*s", (int)n, l);
        l = nl + 1;
    }
}

/* The text of sanitized HTML: tags removed (allocated). */
static char *strip_tags(const char *h)
{
    char *t = strdup(h ? h : ""), *w = t;
    int in_tag = 0;
    for (const char *p = h ? h : ""; *p; p++) {
        if (*p == '<')
            in_tag = 1;
        else if (*p == '>' && in_tag)
            in_tag = 0;
        else if (!in_tag)
            *w++ = *p;
    }
    *w = '\0';
    return t;
}

/* ---- sanitizer ---- */

static void sanitize_exact_output(void **state)
{
    (void)state;
    expect_san("<p>Xin chào <b>thế giới</b></p>", NULL, "<p>Xin chào <b>thế giới</b></p>");
    expect_san("bare text &amp; <i>more</i>", NULL, "bare text &amp; <i>more</i>");
    expect_san("<P CLASS=x ID=y Style='color:red'>a<BR/>b</P>", NULL, "<p>a<br>b</p>");
    expect_san("<p>1 &lt; 2 &gt; 0 &quot;q&quot; &nbsp;</p>", NULL,
               "<p>1 &lt; 2 &gt; 0 \"q\" \xc2\xa0</p>");
    expect_san("<table><tr><td colspan=2 rowspan=\"x\" onclick=f>c</td></tr></table>", NULL,
               "<table><tr><td colspan=\"2\">c</td></tr></table>");
    expect_san("<a href=\"https://a.vn/?x=1&amp;y=&quot;\" title='Tít \"q\"'>a</a>", NULL,
               "<a href=\"https://a.vn/?x=1&amp;y=&quot;\" title=\"Tít &quot;q&quot;\">a</a>");
    expect_san("<img src=a.jpg>", NULL,
               "<img src=\"a.jpg\" alt=\"\" style=\"display:block;max-width:100%;height:auto\">");
    expect_san("<figure><img src=\"images/a.jpg\" alt=\"Ảnh\" width=\"600\" height=\"40%\" "
               "class=c><figcaption>Chú thích</figcaption></figure>",
               NULL,
               "<figure><img src=\"images/a.jpg\" alt=\"Ảnh\" width=\"600\" height=\"40%\" "
               "style=\"display:block;max-width:100%;height:auto\"><figcaption>Chú "
               "thích</figcaption></figure>");
    expect_san("<img src=a.jpg width=\"600px;x\" height=\"-1\">", NULL,
               "<img src=\"a.jpg\" alt=\"\" style=\"display:block;max-width:100%;height:auto\">");
    expect_san("<hr><ol start=3 type=a><li>x</ol>", NULL, "<hr><ol start=\"3\"><li>x</li></ol>");
    /* unknown tags unwrapped, comments/PIs/doctype gone */
    expect_san("<!DOCTYPE html><section><article>Giữ <font color=red>chữ</font></article>"
               "</section><!-- bí mật --><?php echo 1 ?>",
               NULL, "Giữ chữ");
    /* a full page: head and its content dropped, body content kept */
    expect_san("<html><head><title>T</title><meta charset=iso-8859-1><link rel=stylesheet "
               "href=x.css></head><body onload=evil()><p>Nội dung</p></body></html>",
               NULL, "<p>Nội dung</p>");
    expect_san("", NULL, "");
    /* an <a> without a usable href is unwrapped */
    expect_san("<a name=top>x</a><a href=''>y</a>", NULL, "xy");
}

/*
 * Table parts, list items and captions only inside their parents (else
 * unwrapped, their text kept): a client's parser would otherwise build
 * another tree than the one written.
 */
static void sanitize_parts_only_inside_their_parents(void **state)
{
    (void)state;
    expect_san("<li>lạc</li><p>x</p>", NULL, "lạc<p>x</p>");
    expect_san("<figcaption>chú thích lạc</figcaption>", NULL, "chú thích lạc");
    expect_san("<p>a<caption>c</caption></p>", NULL, "<p>a</p>c");
    expect_san("<ol><figcaption>f</figcaption><li>i</li></ol>", NULL, "<ol>f<li>i</li></ol>");
    expect_san("<figure><figcaption>đúng chỗ</figcaption></figure>", NULL,
               "<figure><figcaption>đúng chỗ</figcaption></figure>");
    expect_san("<table><caption>c</caption><tr><td>x</td></tr></table>", NULL,
               "<table><caption>c</caption><tr><td>x</td></tr></table>");
}

static void sanitize_drops_dangerous_elements(void **state)
{
    (void)state;
    expect_san("<p>a<script>alert(1)</script>b</p>", NULL, "<p>ab</p>");
    expect_san("<p>a<SCRIPT type=text/javascript>document.write('<b>x</b>')</SCRIPT>b</p>", NULL,
               "<p>ab</p>");
    expect_san("<style>p{color:red}</style><p>a</p>", NULL, "<p>a</p>");
    expect_san("<p>a<iframe src=\"https://evil\">fallback</iframe>b</p>", NULL, "<p>ab</p>");
    expect_san("<object data=x><embed src=y><param name=a></object>z", NULL, "z");
    expect_san("<form action=/x><input name=a><button>B</button><select><option>o</select>"
               "<textarea>t</textarea></form>z",
               NULL, "z");
    expect_san("<noscript><p>n</p></noscript><template><p>t</p></template>z", NULL, "z");
    expect_san("<svg onload=alert(1)><script>alert(2)</script><a href=x>s</a></svg>"
               "<math><mi>x</mi></math>z",
               NULL, "z");
    expect_san("<p onclick=\"a()\" onmouseover='b()' ONERROR=c>x</p>", NULL, "<p>x</p>");
    expect_san("<img src=x onerror=alert(1) onload=alert(2)>", NULL,
               "<img src=\"x\" alt=\"\" style=\"display:block;max-width:100%;height:auto\">");
    expect_san("<base href=\"https://evil/\"><a href=/x>x</a>", NULL, "<a href=\"/x\">x</a>");
    /* script text that looks like a closing tag inside a string */
    expect_san("<script>var s = '</scr' + 'ipt>';</script>ok", NULL, "ok");
}

static void sanitize_obfuscated_urls(void **state)
{
    static const char *const bad[] = {
        "javascript:alert(1)",
        " JAVASCRIPT:alert(1)",
        "jav&#x09;ascript:alert(1)",
        "jav&#x0A;ascript:alert(1)",
        "jav&#13;ascript:alert(1)",
        "java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)",
        "&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112"
        "&#0000116&#0000058alert(1)",
        "javascript&#58;alert(1)",
        "\x01javascript:alert(1)",
        "java\x01script:alert(1)",
        "&#1;javascript:alert(1)",
        "  \x0c javascript:alert(1)",
        "vbscript:msgbox(1)",
        "VBScript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        " DATA:image/svg+xml,<svg onload=alert(1)>",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "jar:https://x!/",
        "java script:alert(1)",
        ":alert(1)",
        "\xe2\x80\x8bjavascript:alert(1)",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char in[512];
        snprintf(in, sizeof in, "<p><a href=\"%s\">x</a><img src=\"%s\"></p>", bad[i], bad[i]);
        char *got = san(in, BASE);
        if (strcmp(got, "<p>x</p>"))
            fail_msg("%s\n -> %s", bad[i], got);
        free(got);
        got = san(in, NULL);
        if (strcmp(got, "<p>x</p>"))
            fail_msg("%s (no base)\n -> %s", bad[i], got);
        free(got);
    }
    /* the allowed schemes pass, whatever their case */
    expect_san("<a href=\" HTTPS://a.vn/x \">a</a><a href=mailto:ban@bao.vn>m</a>"
               "<img src=\"cid:img1.x@host\">",
               BASE,
               "<a href=\"HTTPS://a.vn/x\">a</a><a href=\"mailto:ban@bao.vn\">m</a>"
               "<img src=\"cid:img1.x@host\" alt=\"\" "
               "style=\"display:block;max-width:100%;height:auto\">");
}

static void sanitize_relative_to_absolute(void **state)
{
    (void)state;
    expect_san("<a href=\"anh/1.jpg\">a</a>", BASE,
               "<a href=\"https://baohagiang.vn/thoi-su/202201/anh/1.jpg\">a</a>");
    expect_san("<a href=\"/tin-tuc\">a</a>", BASE,
               "<a href=\"https://baohagiang.vn/tin-tuc\">a</a>");
    expect_san("<a href=\"../khac.html?a=1&amp;b=2#c\">a</a>", BASE,
               "<a href=\"https://baohagiang.vn/thoi-su/khac.html?a=1&amp;b=2#c\">a</a>");
    expect_san("<a href=\"//cdn.baohagiang.vn/x.jpg\">a</a>", BASE,
               "<a href=\"https://cdn.baohagiang.vn/x.jpg\">a</a>");
    expect_san("<a href=\"#muc-2\">a</a>", BASE,
               "<a href=\"https://baohagiang.vn/thoi-su/202201/bai-viet.html#muc-2\">a</a>");
    expect_san("<a href=\"?trang=2\">a</a>", BASE,
               "<a href=\"https://baohagiang.vn/thoi-su/202201/bai-viet.html?trang=2\">a</a>");
    /* non-ASCII and spaces are percent-encoded (UTF-8) when resolved */
    expect_san("<a href=\"ảnh 1.jpg\">a</a>", BASE,
               "<a href=\"https://baohagiang.vn/thoi-su/202201/%E1%BA%A3nh%201.jpg\">a</a>");
    expect_san("<img src=\"images/a.jpg\" alt=\"x\">", BASE,
               "<img src=\"https://baohagiang.vn/thoi-su/202201/images/a.jpg\" alt=\"x\" "
               "style=\"display:block;max-width:100%;height:auto\">");
    /* absolute URLs are left alone; without a base relative ones stay */
    expect_san("<a href=\"http://khac.vn/a\">a</a>", BASE, "<a href=\"http://khac.vn/a\">a</a>");
    expect_san("<a href=\"anh/1.jpg\">a</a>", NULL, "<a href=\"anh/1.jpg\">a</a>");
    expect_san("<a href=\"anh/1.jpg\">a</a>", "", "<a href=\"anh/1.jpg\">a</a>");
}

struct seen {
    char srcs[8][128];
    int n;
};

static const char *img_cb(void *arg, const char *src)
{
    struct seen *s = arg;
    if (s->n < 8)
        snprintf(s->srcs[s->n++], sizeof s->srcs[0], "%s", src);
    if (!strcmp(src, "images/a.jpg"))
        return "cid:img1.abc@baohagiang.vn";
    if (!strcmp(src, "images/evil.jpg"))
        return "javascript:alert(1)";
    return NULL;
}

static void sanitize_img_callback(void **state)
{
    const char *in = "<p><img src=\" images/a.jpg \" alt=\"A\"><img src=\"images/b.jpg\">"
                     "<img src=\"images/evil.jpg\"><img alt=\"no src\"><img src=\"\"></p>";
    struct seen s = {0};
    struct buf out;
    (void)state;
    buf_init(&out, 0);
    assert_int_equal(html_sanitize(in, strlen(in), BASE, img_cb, &s, &out), MERR_OK);
    /* called with the src as written (trimmed), before it is made absolute */
    assert_int_equal(s.n, 3);
    assert_string_equal(s.srcs[0], "images/a.jpg");
    assert_string_equal(s.srcs[1], "images/b.jpg");
    assert_string_equal(s.srcs[2], "images/evil.jpg");
    assert_string_equal(out.data,
                        "<p><img src=\"cid:img1.abc@baohagiang.vn\" alt=\"A\" "
                        "style=\"display:block;max-width:100%;height:auto\">"
                        "<img src=\"https://baohagiang.vn/thoi-su/202201/images/b.jpg\" alt=\"\" "
                        "style=\"display:block;max-width:100%;height:auto\"></p>");
    buf_free(&out);
}

static void sanitize_rejects_invalid_utf8(void **state)
{
    static const char *const bad[] = {"<p>ab\xff</p>", "<p>ab\xc0\xaf</p>", "<p>ab\xed\xa0\x80</p>",
                                      "<p>ab\xe1\xba</p>"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct buf out;
        buf_init(&out, 0);
        assert_int_equal(buf_puts(&out, "keep"), MERR_OK);
        assert_int_equal(html_sanitize(bad[i], strlen(bad[i]), NULL, NULL, NULL, &out), MERR_INVAL);
        assert_non_null(strstr(merr_msg(), "byte 5"));
        assert_string_equal(out.data, "keep");
        assert_int_equal(html_to_text(bad[i], strlen(bad[i]), 72, &out), MERR_INVAL);
        assert_int_equal(html_wrap_text(bad[i], strlen(bad[i]), 72, &out), MERR_INVAL);
        assert_string_equal(out.data, "keep");
        buf_free(&out);
    }
}

static void sanitize_nul_and_controls(void **state)
{
    static const char in[] = "<p>a\0b\x01\x7f</p><scr\0ipt>alert(1)</script><a hr\0ef=\"java\0"
                             "script:x\">l</a>\r\nc\rd";
    struct buf out;
    (void)state;
    buf_init(&out, 0);
    assert_int_equal(html_sanitize(in, sizeof in - 1, NULL, NULL, NULL, &out), MERR_OK);
    assert_string_equal(out.data, "<p>ab</p>l\nc\nd");
    buf_free(&out);
}

static void sanitize_unclosed_tags(void **state)
{
    (void)state;
    expect_san("<p><b>đậm<i>nghiêng<a href=/x>liên kết", NULL,
               "<p><b>đậm<i>nghiêng<a href=\"/x\">liên kết</a></i></b></p>");
    expect_san("<ul><li>một<li>hai</ul><p>a<p>b", NULL,
               "<ul><li>một</li><li>hai</li></ul><p>a</p><p>b</p>");
    expect_san("<table><tr><td>a<td>b<tr><td>c", NULL,
               "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>");
    expect_san("</div></p></b>x<b", NULL, "x<b></b>");
    expect_san("<a href=\"/x", NULL, "<a href=\"/x\"></a>");
    expect_san("<p title=\"unterminated>x</p>", NULL, "<p></p>");
    char *got = san("<div><p>a<div><span>b</p>c</div></span></div>", NULL);
    check_clean(got);
    assert_non_null(strstr(got, "a"));
    free(got);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 1 MiB of each hostile shape, each under a second even with ASan. */
static void sanitize_megabyte_of_nesting(void **state)
{
    static const char *const units[] = {
        "<div>",           "<b>",        "<span><i>", "<ul><li>",
        "<table><tr><td>", "<a href=x>", "<p><div>",  "<blockquote>"};
    static const char *const tails[] = {"", "</x>", "</p>", "</div>", "<body>"};
    (void)state;
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        for (size_t k = 0; k < sizeof tails / sizeof *tails; k++) {
            struct buf in, out, txt;
            size_t ul = strlen(units[u]), tl = strlen(tails[k]);
            buf_init(&in, 0);
            buf_init(&out, 0);
            buf_init(&txt, 0);
            /* half nesting, then half of the tail repeated (end tags that
             * match nothing make libxml2 search all open elements) */
            while (in.len + ul + 10 < (512u << 10))
                assert_int_equal(buf_puts(&in, units[u]), MERR_OK);
            assert_int_equal(buf_puts(&in, "sâu"), MERR_OK);
            while (tl && in.len + tl < (1u << 20))
                assert_int_equal(buf_puts(&in, tails[k]), MERR_OK);
            double t0 = now();
            assert_int_equal(html_sanitize(in.data, in.len, BASE, NULL, NULL, &out), MERR_OK);
            double t1 = now();
            check_clean(out.data ? out.data : "");
            assert_int_equal(html_to_text(out.data ? out.data : "", out.len, 72, &txt), MERR_OK);
            double t2 = now();
            check_wrapped(txt.data ? txt.data : "", 72);
            /* the case (nested divs) within a second of CPU; the other
             * shapes are allocation-heavy under ASan but must stay linear */
            double limit = u == 0 ? 1.0 : 3.0;
            if (t1 - t0 > limit || t2 - t1 > limit)
                fail_msg("%s x N + %s: sanitize %.2fs, text %.2fs", units[u], tails[k], t1 - t0,
                         t2 - t1);
            buf_free(&in);
            buf_free(&out);
            buf_free(&txt);
        }
    }
}

/* Deeper than 200 but within what the parser keeps: flattened, text kept. */
static void sanitize_flattens_deep_nesting(void **state)
{
    struct buf in;
    char *got, *t;
    (void)state;
    buf_init(&in, 0);
    for (int i = 0; i < 400; i++)
        assert_int_equal(buf_printf(&in, "<div>%d", i), MERR_OK);
    assert_int_equal(buf_puts(&in, "<b>đáy</b>"), MERR_OK);
    got = san(in.data, NULL);
    /* 200 levels counting the html and body the parser adds */
    assert_int_equal(check_clean(got), 198);
    /* every number and the text at the bottom survive, in order */
    struct buf want;
    buf_init(&want, 0);
    for (int i = 0; i < 400; i++)
        assert_int_equal(buf_printf(&want, "%d", i), MERR_OK);
    assert_int_equal(buf_puts(&want, "đáy"), MERR_OK);
    char *plain = strip_tags(got);
    assert_string_equal(plain, want.data);
    free(plain);
    buf_free(&want);
    t = text(got, 72);
    assert_non_null(strstr(t, "197198199200"));
    assert_non_null(strstr(t, "\n\n196\n\n197198199200"));
    assert_non_null(strstr(t, "399đáy\n"));
    free(t);
    free(got);
    buf_free(&in);
}

/*
 * Random tag soup: clean, and sanitizing the output again keeps it clean and
 * keeps its text (libxml2 may nest the same tags differently the second time).
 */
static void sanitize_random_soup_is_clean_and_stable(void **state)
{
    static const char *const bits[] = {
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<b>",
        "</b>",
        "<i>",
        "</i>",
        "<a href=\"/x\">",
        "<a href=\"javascript:alert(1)\">",
        "</a>",
        "<img src=\"y.jpg\" onerror=\"z\">",
        "<script>",
        "</script>",
        "<style>",
        "</style>",
        "<ul>",
        "<li>",
        "</ul>",
        "<ol>",
        "</ol>",
        "<table>",
        "<tr>",
        "<td>",
        "</table>",
        "<br>",
        "<hr>",
        "<!--",
        "-->",
        "<",
        ">",
        "&",
        "&amp;",
        "&#x6a;",
        "\"",
        "'",
        "=",
        " ",
        "\n",
        "chữ",
        "Việt",
        "x",
        "<iframe>",
        "</iframe>",
        "<figure>",
        "<figcaption>",
        "</figure>",
        "<pre>",
        "</pre>",
        "<svg>",
        "<blockquote>",
        "</blockquote>",
        "<h2>",
        "</h2>",
        "<span onclick=f>",
        "</span>",
        "<unknown>",
        "</unknown>",
        "<?x?>",
        "<![CDATA[",
        "]]>",
        "<a",
        " href=",
        "on",
        "load",
        "<body>",
        "<html>",
        "<head>",
        "<title>",
        "</title>",
        "<noscript>",
        "<textarea>",
        "\0",
    };
    uint32_t seed = 12345;
    (void)state;
    for (int iter = 0; iter < 400; iter++) {
        struct buf in, a, b, t;
        int n;
        buf_init(&in, 0);
        buf_init(&a, 0);
        buf_init(&b, 0);
        buf_init(&t, 0);
        seed = seed * 1103515245u + 12345u;
        n = (int)(seed >> 16) % 300;
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            size_t k = (seed >> 16) % (sizeof bits / sizeof *bits);
            assert_int_equal(buf_append(&in, bits[k], bits[k][0] ? strlen(bits[k]) : 1), MERR_OK);
        }
        assert_int_equal(html_sanitize(in.data ? in.data : "", in.len, BASE, NULL, NULL, &a),
                         MERR_OK);
        check_clean(a.data ? a.data : "");
        assert_int_equal(html_sanitize(a.data ? a.data : "", a.len, BASE, NULL, NULL, &b), MERR_OK);
        check_clean(b.data ? b.data : "");
        char *ta = strip_tags(a.data), *tb = strip_tags(b.data);
        if (strcmp(ta, tb))
            fail_msg("text changed:\n in: %s\n  1: %s\n  2: %s", in.data, a.data, b.data);
        free(ta);
        free(tb);
        assert_int_equal(html_to_text(a.data ? a.data : "", a.len, 40, &t), MERR_OK);
        check_wrapped(t.data ? t.data : "", 40);
        buf_free(&in);
        buf_free(&a);
        buf_free(&b);
        buf_free(&t);
    }
}

/* ---- text ---- */

static void text_exact_output(void **state)
{
    (void)state;
    expect_text("", "");
    expect_text("<p>Một</p><p>Hai   ba\n bốn</p>", "Một\n\nHai ba bốn\n");
    expect_text("<h2>Tiêu đề</h2><p>Dòng một<br>dòng hai<br><br>dòng bốn</p>",
                "Tiêu đề\n\nDòng một\ndòng hai\n\ndòng bốn\n");
    expect_text("<ul><li>táo</li><li>cam <b>ngọt</b></li></ul><ol><li>một</li><li>hai<ul><li>"
                "con</li></ul></li></ol>",
                "- táo\n- cam ngọt\n\n1. một\n2. hai\n   - con\n");
    expect_text("<figure><img src=\"cid:a\" alt=\"Ảnh hội nghị\"><figcaption> Toàn cảnh "
                "hội nghị </figcaption></figure><p>Sau.</p>",
                "(Toàn cảnh hội nghị)\n\nSau.\n");
    expect_text("<figure><img src=\"cid:a\" alt=\"Ảnh hội nghị\"></figure>"
                "<p>Có <img src=x alt=\" \"> ảnh <img src=y alt=\"nhỏ\">.</p>",
                "[Ảnh: Ảnh hội nghị]\n\nCó ảnh [Ảnh: nhỏ] .\n");
    expect_text("<p>Xem <a href=\"https://a.vn/1\">bài một</a>, <a href=\"https://a.vn/\">"
                "https://a.vn/</a> và <a href=\"mailto:ban@bao.vn\">ban@bao.vn</a> hoặc "
                "<a href=\"https://b.vn/2\">bài hai</a>.</p>",
                "Xem bài một [1], https://a.vn/ và ban@bao.vn hoặc bài hai [2].\n\n"
                "Liên kết:\n[1] https://a.vn/1\n[2] https://b.vn/2\n");
    expect_text("<blockquote><p>Trích dẫn</p><p>đoạn hai</p></blockquote>",
                "> Trích dẫn\n\n> đoạn hai\n");
    expect_text("<table><caption>Bảng</caption><tr><th>A</th><th>B</th></tr><tr><td>1</td>"
                "<td>2</td></tr></table>",
                "Bảng\nA | B\n1 | 2\n");
    expect_text("<pre>  mã   nguồn\n    thụt lề</pre><hr><p>x</p>",
                "  mã   nguồn\n    thụt lề\n\n* * *\n\nx\n");
    expect_text("<p>a<script>bí mật</script><style>p{}</style>b</p>", "ab\n");
    expect_text("Chữ &amp; số &lt;3 &#7913;", "Chữ & số <3 ứ\n");
    /* what unsanitized input may hold: odd list starts, hrefs with spaces */
    expect_text("<ol start=99999999999><li>a</li></ol><ol start=0><li>b</li></ol>"
                "<ol start=7><li>c</li><li>d</li></ol>",
                "1. a\n\n0. b\n\n7. c\n8. d\n");
    expect_text("<a href=\"https://a.vn/x y\nz\">a</a> <a href=\"\">b</a> <a>c</a>", "a b c\n");
}

static void text_wraps_vietnamese(void **state)
{
    const char *para =
        "Sáng ngày 30/12/2021, tại Hội trường Tỉnh ủy Hà Giang, UBND tỉnh Hà Giang đã long "
        "trọng tổ chức Hội nghị tổng kết Công tác Thi đua, Khen thưởng năm 2021 và Phát động "
        "phong trào thi đua yêu nước năm 2022. Dự hội nghị có đồng chí Đặng Quốc Khánh - Ủy "
        "viên Ban Chấp hành Trung ương Đảng, Bí thư Tỉnh ủy, Trưởng Đoàn đại biểu Quốc hội "
        "khóa XV tỉnh Hà Giang; các đồng chí Thường trực Tỉnh ủy, HĐND - UBND.";
    char html[2048];
    (void)state;
    snprintf(html, sizeof html, "<p>%s</p>", para);
    for (int width = 10; width <= 100; width += 9) {
        char *t = text(html, width);
        check_wrapped(t, width);
        /* joining the lines with spaces gives the paragraph back exactly */
        for (char *c = t; *c; c++)
            if (*c == '\n')
                *c = ' ';
        t[strlen(t) - 1] = '\0';
        assert_string_equal(t, para);
        free(t);
    }
    /* 72 columns: the lines are as long as they can be */
    char *t = text(html, 72);
    assert_string_equal(t,
                        "Sáng ngày 30/12/2021, tại Hội trường Tỉnh ủy Hà Giang, UBND tỉnh Hà\n"
                        "Giang đã long trọng tổ chức Hội nghị tổng kết Công tác Thi đua, Khen\n"
                        "thưởng năm 2021 và Phát động phong trào thi đua yêu nước năm 2022. Dự\n"
                        "hội nghị có đồng chí Đặng Quốc Khánh - Ủy viên Ban Chấp hành Trung ương\n"
                        "Đảng, Bí thư Tỉnh ủy, Trưởng Đoàn đại biểu Quốc hội khóa XV tỉnh Hà\n"
                        "Giang; các đồng chí Thường trực Tỉnh ủy, HĐND - UBND.\n");
    free(t);
}

static void text_long_word_stands_alone(void **state)
{
    (void)state;
    expect_text("<p>Xem https://baohagiang.vn/thoi-su/202201/ha-giang-tong-ket-cong-tac-thi-dua-"
                "khen-thuong-nam-2021-886a2b1/ ngay hôm nay</p>",
                "Xem\nhttps://baohagiang.vn/thoi-su/202201/ha-giang-tong-ket-cong-tac-thi-dua-"
                "khen-thuong-nam-2021-886a2b1/\nngay hôm nay\n");
    /* exactly 72 code points fits; 73 moves the last word */
    char line[400] = "";
    for (int i = 0; i < 24; i++)
        strcat(line, i ? " ứa" : "ứaa");
    char *t = text(line, 72);
    assert_int_equal(utf8_count(t, strlen(t) - 1), 72);
    free(t);
    strcat(line, "a");
    t = text(line, 72);
    assert_non_null(strchr(t, '\n') < t + strlen(t) - 1 ? t : NULL);
    check_wrapped(t, 72);
    free(t);
}

static void wrap_plain_text(void **state)
{
    struct buf out;
    const char *note = "Chào anh,\r\n\r\nBài này hay lắm, anh đọc thử nhé: nói về công tác thi "
                       "đua khen thưởng năm 2021 của tỉnh Hà Giang.\r\n  -- Lan\n";
    (void)state;
    buf_init(&out, 0);
    assert_int_equal(html_wrap_text(note, strlen(note), 40, &out), MERR_OK);
    assert_string_equal(out.data, "Chào anh,\n\nBài này hay lắm, anh đọc thử nhé: nói về\n"
                                  "công tác thi đua khen thưởng năm 2021\n"
                                  "của tỉnh Hà Giang.\n  -- Lan\n");
    check_wrapped(out.data, 40);
    buf_reset(&out);
    assert_int_equal(html_wrap_text("a\0b\x01", 4, 72, &out), MERR_OK);
    assert_string_equal(out.data, "ab\n");
    buf_reset(&out);
    assert_int_equal(html_wrap_text("", 0, 72, &out), MERR_OK);
    assert_int_equal(out.len, 0);
    assert_int_equal(html_wrap_text("x", 1, 0, &out), MERR_INVAL);
    buf_free(&out);
}

/* ---- the sample articles ---- */

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

struct article_imgs {
    json_t *images;
    int calls;
    int matched;
};

static const char *article_cb(void *arg, const char *src)
{
    struct article_imgs *a = arg;
    size_t i;
    json_t *img;
    a->calls++;
    json_array_foreach(a->images, i, img)
    {
        if (!strcmp(json_string_value(json_object_get(img, "src")), src)) {
            a->matched++;
            return "cid:photo@baohagiang.vn";
        }
    }
    return NULL;
}

static void sample_articles(void **state)
{
    char dir[600];
    DIR *d;
    struct dirent *e;
    int files = 0;
    (void)state;
    snprintf(dir, sizeof dir, "%s/examples/articles", test_source_dir());
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[1200];
        json_error_t jerr;
        json_t *root;
        struct buf html, txt;
        struct article_imgs imgs = {0};
        const char *body, *url;
        if (!strstr(e->d_name, ".json"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        root = json_load_file(path, 0, &jerr);
        if (!root)
            fail_msg("%s: %s", path, jerr.text);
        body = json_string_value(json_object_get(root, "body_html"));
        url = json_string_value(json_object_get(root, "url"));
        assert_non_null(body);
        imgs.images = json_object_get(root, "images");
        buf_init(&html, 0);
        buf_init(&txt, 0);
        assert_int_equal(html_sanitize(body, strlen(body), url, article_cb, &imgs, &html), MERR_OK);
        check_clean(html.data);
        assert_null(strstr(html.data, " on"));
        /* every image kept, and each one the article lists went through the callback */
        assert_int_equal(count(html.data, "<img "), count(body, "<img"));
        assert_int_equal(imgs.calls, count(body, "<img"));
        assert_int_equal(imgs.matched, (int)json_array_size(imgs.images));
        assert_int_equal(count(html.data, "src=\"cid:photo@baohagiang.vn\""), imgs.matched);
        assert_int_equal(html_to_text(html.data, html.len, 72, &txt), MERR_OK);
        check_wrapped(txt.data, 72);
        assert_null(strchr(txt.data, '<'));
        /* captions on their own line; images without one as [Ảnh: alt] */
        size_t i;
        json_t *img;
        json_array_foreach(imgs.images, i, img)
        {
            const char *cap = json_string_value(json_object_get(img, "caption"));
            const char *alt = json_string_value(json_object_get(img, "alt"));
            char want[1024];
            if (cap && *cap && strstr(body, "<figcaption>"))
                snprintf(want, sizeof want, "(%.40s", cap);
            else
                snprintf(want, sizeof want, "[Ảnh: %.30s", alt);
            if (!strstr(txt.data, want))
                fail_msg("%s: %s missing from\n%s", e->d_name, want, txt.data);
        }
        json_decref(root);
        buf_free(&html);
        buf_free(&txt);
        files++;
    }
    closedir(d);
    assert_true(files >= 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sanitize_exact_output),
        cmocka_unit_test(sanitize_parts_only_inside_their_parents),
        cmocka_unit_test(sanitize_drops_dangerous_elements),
        cmocka_unit_test(sanitize_obfuscated_urls),
        cmocka_unit_test(sanitize_relative_to_absolute),
        cmocka_unit_test(sanitize_img_callback),
        cmocka_unit_test(sanitize_rejects_invalid_utf8),
        cmocka_unit_test(sanitize_nul_and_controls),
        cmocka_unit_test(sanitize_unclosed_tags),
        cmocka_unit_test(sanitize_megabyte_of_nesting),
        cmocka_unit_test(sanitize_flattens_deep_nesting),
        cmocka_unit_test(sanitize_random_soup_is_clean_and_stable),
        cmocka_unit_test(text_exact_output),
        cmocka_unit_test(text_wraps_vietnamese),
        cmocka_unit_test(text_long_word_stands_alone),
        cmocka_unit_test(wrap_plain_text),
        cmocka_unit_test(sample_articles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
