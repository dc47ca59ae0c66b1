/*
 * test_tpl.c: the template set (override folder first, missing templates,
 * refused names, syntax errors with file and line), escaping chosen by the
 * template name, the layered data stack, and hostile templates (unclosed
 * tags, unbalanced and 10,000-deep sections, recursive and exponential
 * partials, output past the buffer cap). The Mustache spec itself runs in
 * tests/tpl/tpl_spec.c (CTest: conformance.mustache).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "tpl.h"

static char base[600], over[600];

/* Two template folders under a fresh directory: base/ and over/. */
static void folders(const char *name)
{
    const char *d = test_tmpdir(name);
    snprintf(base, sizeof base, "%s/base", d);
    snprintf(over, sizeof over, "%s/over", d);
    assert_int_equal(mkdir(base, 0755), 0);
    assert_int_equal(mkdir(over, 0755), 0);
}

static void put(const char *dir, const char *file, const char *text)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    test_write_file(path, text);
}

/* Renders template text with one JSON context; returns a malloc'd string or NULL on error. */
static char *render_str(const char *text, enum tpl_escape esc, const char *json, json_t *partials,
                        enum merr *rcp)
{
    struct tpl *t = NULL;
    struct buf out;
    json_t *data = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    enum merr rc;
    char *s = NULL;

    buf_init(&out, 0);
    rc = tpl_parse(text, strlen(text), esc, &t);
    if (!rc)
        rc = tpl_render(t, NULL, partials, &data, data ? 1 : 0, &out);
    if (!rc)
        s = buf_detach(&out, NULL);
    if (rcp)
        *rcp = rc;
    buf_free(&out);
    tpl_free(t);
    json_decref(data);
    return s;
}

static void expect(const char *text, const char *json, const char *want)
{
    enum merr rc;
    char *got = render_str(text, TPL_ESCAPE_HTML, json, NULL, &rc);
    if (rc)
        fail_msg("%s: %s", text, merr_msg());
    assert_string_equal(got, want);
    free(got);
}

static void set_render(struct tpl_set *set, const char *name, json_t *data, const char *want)
{
    const struct tpl *t;
    struct buf out;

    buf_init(&out, 0);
    if (tpl_get(set, name, &t) != MERR_OK)
        fail_msg("tpl_get %s: %s", name, merr_msg());
    if (tpl_render(t, set, NULL, &data, 1, &out) != MERR_OK)
        fail_msg("render %s: %s", name, merr_msg());
    assert_string_equal(out.data ? out.data : "", want);
    buf_free(&out);
}

static void set_override_folder_wins(void **state)
{
    struct tpl_set *set;
    json_t *data = json_pack("{s:s}", "x", "<b>");
    (void)state;
    folders("tpl-override");
    put(base, "a.html.mustache", "base {{x}}");
    put(over, "a.html.mustache", "over {{x}} {{>foot}}");
    put(base, "foot.mustache", "base foot");
    put(base, "only-base.mustache", "only base");
    assert_int_equal(tpl_set_open(base, over, &set), MERR_OK);
    set_render(set, "a.html", data, "over &lt;b&gt; base foot");
    set_render(set, "only-base", data, "only base");
    /* cached: the file is not read again */
    put(over, "a.html.mustache", "changed");
    set_render(set, "a.html", data, "over &lt;b&gt; base foot");
    assert_int_equal(tpl_set_preload(set, "foot"), MERR_OK);
    tpl_set_free(set);
    json_decref(data);
}

static void set_missing_template_is_notfound(void **state)
{
    struct tpl_set *set;
    const struct tpl *t = (const struct tpl *)1;
    json_t *data = json_object();
    (void)state;
    folders("tpl-missing");
    put(base, "uses-missing.mustache", "[{{>nothere}}]");
    assert_int_equal(tpl_set_open(base, NULL, &set), MERR_OK);
    assert_int_equal(tpl_get(set, "email/nope.html", &t), MERR_NOTFOUND);
    assert_null(t);
    assert_non_null(strstr(merr_msg(), "email/nope.html"));
    /* the second time comes from the cache, same answer */
    assert_int_equal(tpl_get(set, "email/nope.html", &t), MERR_NOTFOUND);
    /* a missing partial renders as nothing (spec) */
    set_render(set, "uses-missing", data, "[]");
    tpl_set_free(set);
    json_decref(data);
}

static void set_refuses_bad_names(void **state)
{
    static const char *const bad[] = {"../secret", "/etc/passwd", "a/../../secret", "a b", "a\\b",
                                      "",          "x..y",        "naïve",          "a\nb"};
    struct tpl_set *set;
    const struct tpl *t;
    struct buf out;
    json_t *data = json_object();
    char top[700];
    (void)state;
    folders("tpl-names");
    snprintf(top, sizeof top, "%s/..", base);
    put(top, "secret.mustache", "SECRET");
    put(base, "sneaky.mustache", "x{{>../secret}}y");
    assert_int_equal(tpl_set_open(base, NULL, &set), MERR_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tpl_get(set, bad[i], &t), MERR_INVAL);
    assert_int_equal(tpl_name_check("email/share.html"), MERR_OK);
    assert_int_equal(tpl_name_check("pages/sub-scribe_2.txt"), MERR_OK);
    /* a partial tag cannot reach outside the folders either */
    assert_int_equal(tpl_get(set, "sneaky", &t), MERR_OK);
    buf_init(&out, 0);
    assert_int_equal(tpl_render(t, set, NULL, &data, 1, &out), MERR_INVAL);
    assert_int_equal(out.len, 0);
    assert_non_null(strstr(merr_msg(), "line 1"));
    buf_free(&out);
    tpl_set_free(set);
    json_decref(data);
}

static void set_syntax_error_names_file_and_line(void **state)
{
    struct tpl_set *set;
    const struct tpl *t;
    char want[800];
    (void)state;
    folders("tpl-syntax");
    put(base, "bad.html.mustache", "<p>\n{{title}}\n{{#items}}\n<li>{{.}}</li>\n");
    put(base, "worse.mustache", "a\nb\n{{#a}}\n{{/b}}\n");
    assert_int_equal(tpl_set_open(base, NULL, &set), MERR_OK);
    assert_int_equal(tpl_get(set, "bad.html", &t), MERR_INVAL);
    snprintf(want, sizeof want, "%s/bad.html.mustache:3: section 'items' is not closed", base);
    assert_string_equal(merr_msg(), want);
    assert_int_equal(tpl_get(set, "worse", &t), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "worse.mustache:4: closing tag 'b' does not match"));
    tpl_set_free(set);
}

static void escaping_follows_the_name(void **state)
{
    struct tpl_set *set;
    json_t *data = json_pack("{s:s}", "x", "Tôm & <Cá> \"ngon\" 'quá'");
    (void)state;
    folders("tpl-escape");
    put(base, "mail.txt.mustache", "{{x}}|{{>part}}");
    put(base, "mail.html.mustache", "{{x}}|{{{x}}}|{{>part}}");
    put(base, "part.mustache", "{{x}}");
    assert_int_equal(tpl_escape_for("email/share.txt"), TPL_ESCAPE_NONE);
    assert_int_equal(tpl_escape_for("email/share.html"), TPL_ESCAPE_HTML);
    assert_int_equal(tpl_set_open(base, NULL, &set), MERR_OK);
    set_render(set, "mail.txt", data, "Tôm & <Cá> \"ngon\" 'quá'|Tôm & <Cá> \"ngon\" 'quá'");
    set_render(set, "mail.html", data,
               "Tôm &amp; &lt;Cá&gt; &quot;ngon&quot; &#39;quá&#39;|"
               "Tôm & <Cá> \"ngon\" 'quá'|"
               "Tôm &amp; &lt;Cá&gt; &quot;ngon&quot; &#39;quá&#39;");
    tpl_set_free(set);
    json_decref(data);
}

static void escape_html_in_runs(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 0);
    assert_int_equal(tpl_escape_html(&b, "a<b>&\"'z", 8), MERR_OK);
    assert_string_equal(b.data, "a&lt;b&gt;&amp;&quot;&#39;z");
    buf_reset(&b);
    assert_int_equal(tpl_escape_html(&b, "Gửi Email", strlen("Gửi Email")), MERR_OK);
    assert_string_equal(b.data, "Gửi Email");
    buf_free(&b);
}

static void context_stack_layers(void **state)
{
    struct tpl *t;
    struct buf out;
    json_t *ctx[2];
    const char *text = "{{site}} / {{name}} / {{#articles}}[{{title}} {{name}} {{list.name}}]"
                       "{{/articles}} / {{unsub}}";
    (void)state;
    ctx[0] = json_pack("{s:s, s:s, s:{s:s}, s:[{s:s}, {s:s, s:s}]}", "site", "Báo Tỉnh", "name",
                       "shared", "list", "name", "Tin mới", "articles", "title", "A", "title", "B",
                       "name", "own");
    ctx[1] = json_pack("{s:s, s:s}", "name", "Lan", "unsub", "https://x/u?t=1&a=2");
    buf_init(&out, 0);
    assert_int_equal(tpl_parse(text, strlen(text), TPL_ESCAPE_HTML, &t), MERR_OK);
    assert_int_equal(tpl_render(t, NULL, NULL, ctx, 2, &out), MERR_OK);
    assert_string_equal(out.data, "Báo Tỉnh / Lan / [A Lan Tin mới][B own Tin mới] / "
                                  "https://x/u?t=1&amp;a=2");
    /* parse once, render many: the next recipient */
    json_decref(ctx[1]);
    ctx[1] = json_pack("{s:s}", "name", "Minh");
    buf_reset(&out);
    assert_int_equal(tpl_render(t, NULL, NULL, ctx, 2, &out), MERR_OK);
    assert_string_equal(out.data, "Báo Tỉnh / Minh / [A Minh Tin mới][B own Tin mới] / ");
    /* only the shared layer */
    buf_reset(&out);
    assert_int_equal(tpl_render(t, NULL, NULL, ctx, 1, &out), MERR_OK);
    assert_string_equal(out.data, "Báo Tỉnh / shared / [A shared Tin mới][B own Tin mới] / ");
    buf_free(&out);
    tpl_free(t);
    json_decref(ctx[0]);
    json_decref(ctx[1]);
}

static void values_and_truthiness(void **state)
{
    (void)state;
    expect("{{i}} {{r}} {{z}} {{b}} {{n}} {{o}} {{a}}",
           "{\"i\": -42, \"r\": 0.1, \"z\": 3.0, \"b\": true, \"n\": null, \"o\": {}, \"a\": [1]}",
           "-42 0.1 3 true   ");
    expect("{{#e}}E{{/e}}{{^e}}no note{{/e}}{{#z}}zero{{/z}}", "{\"e\": \"\", \"z\": 0}",
           "no notezero");
}

static void parse_errors_give_line_and_reason(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"a\nb {{x", "line 2: tag is not closed"},
        {"{{#a}}\n{{/b}}", "line 2: closing tag 'b' does not match section 'a' opened on line 1"},
        {"x\n\n{{/a}}", "line 3: closing tag 'a' without an open section"},
        {"{{#a}}\n{{^b}}\n{{/b}}", "line 1: section 'a' is not closed"},
        {"{{<p}}{{$b}}{{/p}}", "line 1: closing tag 'p' does not match block 'b'"},
        {"{{=a=}}", "line 1: bad set-delimiters tag"},
        {"{{= a b c =}}", "line 1: bad set-delimiters tag"},
        {"{{}}", "line 1: empty tag name"},
        {"{{a b}}", "line 1: bad tag name"},
        {"{{{x}}", "line 1: tag is not closed"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tpl *t = NULL;
        enum merr rc = tpl_parse(cases[i].text, strlen(cases[i].text), TPL_ESCAPE_HTML, &t);
        if (rc != MERR_INVAL || strncmp(merr_msg(), cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("%s: got %d '%s', want '%s'", cases[i].text, rc, merr_msg(), cases[i].msg);
        assert_null(t);
    }
}

static void hostile_deep_nesting_is_refused(void **state)
{
    struct buf b;
    struct tpl *t = NULL;
    (void)state;
    buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_puts(&b, "{{#a}}"), MERR_OK);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_puts(&b, "{{/a}}"), MERR_OK);
    assert_int_equal(tpl_parse(b.data, b.len, TPL_ESCAPE_HTML, &t), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "nested deeper than 256"));
    assert_null(t);
    /* 200 deep is fine and renders */
    buf_reset(&b);
    for (int i = 0; i < 200; i++)
        assert_int_equal(buf_puts(&b, "{{#a}}"), MERR_OK);
    assert_int_equal(buf_puts(&b, "{{x}}"), MERR_OK);
    for (int i = 0; i < 200; i++)
        assert_int_equal(buf_puts(&b, "{{/a}}"), MERR_OK);
    {
        char *got;
        got = render_str(b.data, TPL_ESCAPE_HTML, "{\"a\": true, \"x\": \"deep\"}", NULL, NULL);
        assert_non_null(got);
        assert_string_equal(got, "deep");
        free(got);
    }
    buf_free(&b);
}

static void hostile_recursion_is_bounded(void **state)
{
    enum merr rc;
    json_t *partials = json_pack("{s:s, s:s, s:s}", "p", "x{{>p}}", "q", "{{<q}}{{/q}}", "r",
                                 "{{#a}}{{>r}}{{/a}}");
    char *got;
    struct tpl_set *set;
    const struct tpl *t;
    struct buf out;
    json_t *data = json_object();
    (void)state;
    got = render_str("{{>p}}", TPL_ESCAPE_HTML, "{}", partials, &rc);
    assert_null(got);
    assert_int_equal(rc, MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "deeper than 64"));
    got = render_str("{{<q}}{{/q}}", TPL_ESCAPE_HTML, "{}", partials, &rc);
    assert_null(got);
    assert_int_equal(rc, MERR_INVAL);
    /* recursion guided by data (like the spec's) is fine */
    got = render_str("{{>r}}", TPL_ESCAPE_HTML, "{\"a\": {\"a\": {\"a\": false}}}", partials, &rc);
    assert_non_null(got);
    assert_string_equal(got, "");
    free(got);
    json_decref(partials);

    /* the same through files, and a parent that does not exist */
    folders("tpl-recursion");
    put(base, "self.mustache", "{{>self}}");
    put(base, "orphan.mustache", "{{<nobody}}{{/nobody}}");
    assert_int_equal(tpl_set_open(base, NULL, &set), MERR_OK);
    buf_init(&out, 0);
    assert_int_equal(tpl_get(set, "self", &t), MERR_OK);
    assert_int_equal(tpl_render(t, set, NULL, &data, 1, &out), MERR_INVAL);
    assert_int_equal(tpl_get(set, "orphan", &t), MERR_OK);
    assert_int_equal(tpl_render(t, set, NULL, &data, 1, &out), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "parent template 'nobody' not found"));
    buf_free(&out);
    tpl_set_free(set);
    json_decref(data);
}

static void hostile_exponential_partials_stop(void **state)
{
    json_t *partials = json_object();
    char name[16], body[64];
    enum merr rc;
    char *got;
    (void)state;
    /* p0 includes p1 twice, ..., p39 is empty: 2^40 steps, no output */
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "p%d", i);
        snprintf(body, sizeof body, "{{>p%d}}{{>p%d}}", i + 1, i + 1);
        json_object_set_new(partials, name, json_string(body));
    }
    json_object_set_new(partials, "p40", json_string(""));
    got = render_str("{{>p0}}", TPL_ESCAPE_HTML, "{}", partials, &rc);
    assert_null(got);
    assert_int_equal(rc, MERR_LIMIT);
    json_decref(partials);
}

static void output_is_bounded_by_the_buffer_cap(void **state)
{
    struct tpl *t;
    struct buf out;
    json_t *data = json_pack("{s:[i,i,i,i,i,i,i,i,i,i], s:s}", "l", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                             "x", "0123456789");
    const char *text = "{{#l}}{{x}}{{x}}{{/l}}";
    (void)state;
    assert_int_equal(tpl_parse(text, strlen(text), TPL_ESCAPE_HTML, &t), MERR_OK);
    buf_init(&out, 150);
    assert_int_equal(buf_puts(&out, "head:"), MERR_OK);
    assert_int_equal(tpl_render(t, NULL, NULL, &data, 1, &out), MERR_LIMIT);
    assert_string_equal(out.data, "head:"); /* left as it was */
    buf_free(&out);
    buf_init(&out, 205);
    assert_int_equal(tpl_render(t, NULL, NULL, &data, 1, &out), MERR_OK);
    assert_int_equal(out.len, 200);
    buf_free(&out);
    tpl_free(t);
    json_decref(data);
}

static void inheritance_layout(void **state)
{
    struct tpl_set *set;
    json_t *data = json_pack("{s:s, s:s}", "title", "Tin mới trong tuần", "name", "Lan");
    (void)state;
    folders("tpl-layout");
    put(base, "layout.html.mustache",
        "<html>\n  <title>{{$title}}Báo{{/title}}</title>\n  <body>\n    {{$body}}\n    "
        "trống\n    {{/body}}\n  </body>\n</html>\n");
    put(base, "digest.html.mustache",
        "{{<layout.html}}\n{{$title}}{{title}}{{/title}}\n{{$body}}\n<p>Chào {{name}},</p>\n"
        "<p>&</p>\n{{/body}}\n{{/layout.html}}\n");
    assert_int_equal(tpl_set_open(base, NULL, &set), MERR_OK);
    set_render(set, "digest.html", data,
               "<html>\n  <title>Tin mới trong tuần</title>\n  <body>\n    <p>Chào Lan,</p>\n"
               "    <p>&</p>\n  </body>\n</html>\n");
    tpl_set_free(set);
    json_decref(data);
}

static void check_names_outside_sections(void **state)
{
    static const char *const known[] = {"week", "list.name", NULL};
    static const struct {
        const char *text, *bad; /* bad NULL: accepted */
    } cases[] = {
        {"Tuần {{week}} – {{list.name}}", NULL},
        {"{{{week}}} {{&list.name}}", NULL},
        {"{{#week}}{{anything}}{{/week}}{{^week}}x{{/week}}", NULL}, /* inside: not checked */
        {"{{! a comment }}plain", NULL},
        {"Bản tin {{list}}", "list"},
        {"{{ list.slug }}", "list.slug"},
        {"{{#tuan}}x{{/tuan}}", "tuan"},
        {"{{.}}", "."},
        {"{{>footer}}", "footer"},
        {"{{$b}}x{{/b}}", "b"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tpl *t = NULL;
        char bad[32] = "";
        assert_int_equal(tpl_parse(cases[i].text, strlen(cases[i].text), TPL_ESCAPE_NONE, &t),
                         MERR_OK);
        enum merr rc = tpl_check_names(t, known, bad, sizeof bad);
        tpl_free(t);
        if (!cases[i].bad) {
            assert_int_equal(rc, MERR_OK);
            continue;
        }
        assert_int_equal(rc, MERR_INVAL);
        assert_string_equal(bad, cases[i].bad);
    }
}

static void random_templates_never_crash(void **state)
{
    static const char *const frag[] = {
        "{{",          "}}",      "{{#a}}", "{{/a}}", "{{^b}}",      "{{/b}}",     "{{>p}}",
        "{{<q}}",      "{{/q}}",  "{{$c}}", "{{/c}}", "{{=<% %>=}}", "<%a%>",      "<%/a%>",
        "<%={{ }}=%>", "\n",      "  ",     "text",   "{{{x}}}",     "{{&x}}",     "{{!c}}",
        "{{.}}",       "{{a.b}}", "\r\n",   "{",      "}",           "%>",         "<%#a%>",
        "{{>q}}",      "\t",      "{{#.}}", "{{/.}}", "{{$c}}\n",    "\n{{/c}}\n", "{{x",
    };
    json_t *partials =
        json_pack("{s:s, s:s}", "p", "{{>p}}{{$c}}x{{/c}}\n", "q", "{{$c}}d{{/c}}\n  {{>p}}\n");
    json_t *data = json_loads("{\"a\": [{\"b\": 1}, {\"x\": \"<\"}], \"x\": \"y\"}", 0, NULL);
    unsigned seed = 12345;
    struct buf text, out;
    int parsed = 0;
    (void)state;
    buf_init(&text, 0);
    buf_init(&out, 1 << 16);
    for (int i = 0; i < 3000; i++) {
        struct tpl *t = NULL;
        int n = 1 + rand_r(&seed) % 30;
        enum merr rc;
        buf_reset(&text);
        for (int j = 0; j < n; j++)
            assert_int_equal(
                buf_puts(&text, frag[(size_t)rand_r(&seed) % (sizeof frag / sizeof frag[0])]),
                MERR_OK);
        rc = tpl_parse(text.data, text.len, TPL_ESCAPE_HTML, &t);
        if (rc) {
            assert_int_equal(rc, MERR_INVAL);
            assert_non_null(strstr(merr_msg(), "line "));
            continue;
        }
        parsed++;
        buf_reset(&out);
        rc = tpl_render(t, NULL, partials, &data, 1, &out);
        assert_true(rc == MERR_OK || rc == MERR_INVAL || rc == MERR_LIMIT);
        tpl_free(t);
    }
    assert_true(parsed > 100); /* the mix exercises rendering, not only the parser */
    buf_free(&text);
    buf_free(&out);
    json_decref(partials);
    json_decref(data);
}

struct worker {
    struct tpl_set *set;
    int id;
    int failures;
};

static void *render_many(void *arg)
{
    struct worker *w = arg;
    const struct tpl *t;
    struct buf out;
    char want[128];
    json_t *data = json_pack("{s:i}", "id", w->id);

    buf_init(&out, 0);
    snprintf(want, sizeof want, "<h1>%d</h1>[%d]", w->id, w->id);
    for (int i = 0; i < 500; i++) {
        buf_reset(&out);
        if (tpl_get(w->set, "page.html", &t) || tpl_render(t, w->set, NULL, &data, 1, &out) ||
            strcmp(out.data, want) != 0)
            w->failures++;
    }
    buf_free(&out);
    json_decref(data);
    return NULL;
}

static void set_renders_from_many_threads(void **state)
{
    struct tpl_set *set;
    struct worker w[4];
    pthread_t th[4];
    (void)state;
    folders("tpl-threads");
    put(base, "page.html.mustache", "{{<frame}}{{$in}}[{{id}}]{{/in}}{{/frame}}");
    put(base, "frame.mustache", "{{>head}}{{$in}}{{/in}}");
    put(base, "head.mustache", "<h1>{{id}}</h1>");
    assert_int_equal(tpl_set_open(base, NULL, &set), MERR_OK);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){set, i + 1, 0};
        assert_int_equal(pthread_create(&th[i], NULL, render_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    tpl_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_override_folder_wins),
        cmocka_unit_test(set_missing_template_is_notfound),
        cmocka_unit_test(set_refuses_bad_names),
        cmocka_unit_test(set_syntax_error_names_file_and_line),
        cmocka_unit_test(escaping_follows_the_name),
        cmocka_unit_test(escape_html_in_runs),
        cmocka_unit_test(context_stack_layers),
        cmocka_unit_test(values_and_truthiness),
        cmocka_unit_test(parse_errors_give_line_and_reason),
        cmocka_unit_test(hostile_deep_nesting_is_refused),
        cmocka_unit_test(hostile_recursion_is_bounded),
        cmocka_unit_test(hostile_exponential_partials_stop),
        cmocka_unit_test(output_is_bounded_by_the_buffer_cap),
        cmocka_unit_test(inheritance_layout),
        cmocka_unit_test(random_templates_never_crash),
        cmocka_unit_test(check_names_outside_sections),
        cmocka_unit_test(set_renders_from_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
