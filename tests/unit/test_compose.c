/*
 * test_compose.c: header encoding (RFC 2047 words, folding, injection),
 * quoted-printable bodies, image parts, and whole messages from plans over
 * the sample articles (structure, cid references, line rules, threads).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "articles.h"
#include "compose.h"
#include "compose_mime.h"
#include "config.h"
#include "date.h"
#include "db.h"
#include "hdr.h"
#include "testutil.h"
#include "tpl.h"
#include "utf8.h"

/* ---- helpers ---- */

/* Every line ends CRLF, no bare CR or LF, none longer than `max`. */
static void assert_lines(const char *s, size_t n, size_t max)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            assert_true(i + 1 < n && s[i + 1] == '\n');
            i++;
            col = 0;
            continue;
        }
        assert_true(s[i] != '\n');
        col++;
        if (col > max)
            fail_msg("line over %zu at offset %zu: %.80s", max, i, s + i - col + 1);
    }
    assert_int_equal(col, 0);
}

/* The value of a header block "Field: value CRLF" as written (folds included). */
static const char *value_of(const struct buf *b, const char *field)
{
    size_t n = strlen(field);
    assert_true(b->len > n + 2);
    assert_memory_equal(b->data, field, n);
    assert_memory_equal(b->data + n, ":", 1);
    return b->data + n + 1;
}

/* Checks each encoded word: <= 75 characters and whole UTF-8 characters inside. */
static void assert_words(const char *v)
{
    const char *p = v;
    while ((p = strstr(p, "=?"))) {
        const char *e = strstr(p + 2, "?=");
        struct buf d;
        assert_non_null(e);
        /* skip the "?B?" / "?Q?" question marks */
        e = strstr(p + 10, "?=");
        assert_non_null(e);
        assert_true((size_t)(e + 2 - p) <= HDR_WORD_MAX);
        buf_init(&d, 0);
        assert_int_equal(hdr_decode(&d, p, (size_t)(e + 2 - p)), MERR_OK);
        assert_true(utf8_valid(d.data, d.len, NULL));
        buf_free(&d);
        p = e + 2;
    }
}

static void roundtrip_text(const char *field, const char *in)
{
    struct buf b, d;
    const char *v;
    size_t n;
    buf_init(&b, 0);
    buf_init(&d, 0);
    assert_int_equal(hdr_write_text(&b, field, in), MERR_OK);
    assert_lines(b.data, b.len, HDR_LINE_MAX);
    v = value_of(&b, field);
    assert_words(v);
    /* value without the final CRLF, and without the folding whitespace after ':' */
    while (*v == ' ' || *v == '\r' || *v == '\n')
        v++;
    n = strlen(v);
    if (n >= 2 && v[n - 2] == '\r')
        n -= 2;
    assert_int_equal(hdr_decode(&d, v, n), MERR_OK);
    assert_string_equal(d.data ? d.data : "", in);
    buf_free(&b);
    buf_free(&d);
}

/* ---- hdr ---- */

static void test_hdr_text_roundtrip(void **state)
{
    (void)state;
    char long_vi[2048] = "";
    const char *unit = "Tỉnh Hà Giang tổ chức Hội nghị tổng kết thi đua ";
    while (utf8_count(long_vi, strlen(long_vi)) < 300)
        strcat(long_vi, unit);
    /* exactly 300 characters */
    {
        size_t i = 0, chars = 0;
        uint32_t cp;
        while (chars < 300)
            i += utf8_decode(long_vi + i, strlen(long_vi) - i, &cp), chars++;
        long_vi[i] = 0;
    }
    roundtrip_text("Subject", "Á");
    roundtrip_text("Subject", "a");
    roundtrip_text("Subject", long_vi);
    roundtrip_text("Subject", "Tin mới 😀🇻🇳 ở Hà Giang, \"trích dẫn\" (ngoặc)");
    roundtrip_text("Subject", "Hello world, plain ASCII stays plain");
    roundtrip_text("Subject", "  leading and  double  spaces ");
    roundtrip_text("Subject", "=?UTF-8?B?SGk=?= looks encoded");
    roundtrip_text("Subject", "tab\there");
    roundtrip_text("Subject",
                   "averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongword"
                   "thatcannotfold");
    roundtrip_text("X-A-Very-Long-Header-Field-Name-For-Testing-Folding-Of-The-First-Line",
                   "Đây là tiêu đề");
    /* every 1..4-byte sequence at every split position */
    for (int k = 0; k < 80; k++) {
        char s[400] = "";
        for (int j = 0; j < k; j++)
            strcat(s, j % 4 == 0 ? "a" : j % 4 == 1 ? "ế" : j % 4 == 2 ? "𝄞" : "ñ");
        roundtrip_text("Subject", s);
    }
}

static void test_hdr_plain_ascii_kept(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(hdr_write_text(&b, "Subject", "Weekly news"), MERR_OK);
    assert_string_equal(b.data, "Subject: Weekly news\r\n");
    buf_free(&b);
}

static void test_hdr_address_forms(void **state)
{
    (void)state;
    struct buf b, d;
    buf_init(&b, 0);
    buf_init(&d, 0);
    assert_int_equal(hdr_write_address(&b, "To", "John Smith", "j@x.example"), MERR_OK);
    assert_string_equal(b.data, "To: John Smith <j@x.example>\r\n");
    buf_reset(&b);
    assert_int_equal(hdr_write_address(&b, "To", "Smith, John \"JJ\" \\", "j@x.example"), MERR_OK);
    assert_string_equal(b.data, "To: \"Smith, John \\\"JJ\\\" \\\\\" <j@x.example>\r\n");
    buf_reset(&b);
    assert_int_equal(hdr_write_address(&b, "To", NULL, "j@x.example"), MERR_OK);
    assert_string_equal(b.data, "To: j@x.example\r\n");
    buf_reset(&b);
    assert_int_equal(hdr_write_address(&b, "From", "Cổng TTĐT Hà Giang, \"😀\"", "a@b.example"),
                     MERR_OK);
    assert_lines(b.data, b.len, HDR_LINE_MAX);
    assert_words(b.data);
    {
        const char *v = value_of(&b, "From") + 1;
        const char *lt = strrchr(v, '<');
        assert_non_null(lt);
        assert_int_equal(hdr_decode(&d, v, (size_t)(lt - v) - 1), MERR_OK);
        /* folding whitespace before <addr> may remain: compare the trimmed text */
        while (d.len && (d.data[d.len - 1] == ' '))
            d.data[--d.len] = 0;
        assert_string_equal(d.data, "Cổng TTĐT Hà Giang, \"😀\"");
        assert_string_equal(lt, "<a@b.example>\r\n");
    }
    buf_free(&b);
    buf_free(&d);
}

static void test_hdr_injection_refused(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "X: y\r\n"), MERR_OK);
    assert_int_equal(hdr_write_text(&b, "Subject", "hi\r\nBcc: victim@x.example"), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "Subject"));
    assert_int_equal(hdr_write_text(&b, "Subject", "hi\nthere"), MERR_INVAL);
    assert_int_equal(hdr_write_address(&b, "To", "Evil\r\nBcc: v@x.example", "a@b.example"),
                     MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "To"));
    assert_int_equal(hdr_write_address(&b, "Reply-To", "ok", "a@b.example\r\nBcc: x@y.z"),
                     MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "Reply-To"));
    assert_int_equal(hdr_write_address(&b, "To", "ok", "a b@c.example"), MERR_INVAL);
    assert_int_equal(hdr_write_address(&b, "To", "ok", "người@c.example"), MERR_INVAL);
    assert_int_equal(hdr_write_raw(&b, "List-Id", "<a\r\n.b>"), MERR_INVAL);
    assert_int_equal(hdr_write_text(&b, "Subject", "bad \xff utf8"), MERR_INVAL);
    assert_string_equal(b.data, "X: y\r\n"); /* nothing was written */
    buf_free(&b);
}

static void test_hdr_decode_vectors(void **state)
{
    (void)state;
    struct buf d;
    const char *v;
    buf_init(&d, 0);
    v = "=?UTF-8?Q?a_b?= =?UTF-8?B?w6E=?=";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_OK);
    assert_string_equal(d.data, "a bá");
    buf_reset(&d);
    v = "plain  =?utf-8?q?x=3Dy?= tail";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_OK);
    assert_string_equal(d.data, "plain  x=y tail");
    buf_reset(&d);
    v = "=?UTF-8?B?w6E=?=\r\n =?UTF-8?B?w6E=?=";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_OK);
    assert_string_equal(d.data, "áá");
    buf_reset(&d);
    v = "a\r\n b";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_OK);
    assert_string_equal(d.data, "a b");
    buf_reset(&d);
    v = "=?ISO-8859-1?Q?caf=E9?=";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_INVAL);
    buf_reset(&d);
    v = "=?UTF-8?B?!!!!?=";
    assert_int_equal(hdr_decode(&d, v, strlen(v)), MERR_INVAL);
    buf_free(&d);
}

/* ---- QP ---- */

static int hexv(char c)
{
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

static void qp_decode(const char *s, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else if (s[i] == '=') {
            assert_true(i + 2 < n);
            buf_putc(out, (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2])));
            i += 2;
        } else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
            buf_putc(out, '\n');
            i++;
        } else {
            buf_putc(out, s[i]);
        }
    }
}

static void test_qp_roundtrip(void **state)
{
    (void)state;
    const char *inputs[] = {
        "Dòng một có dấu tiếng Việt rất dài để thử ngắt dòng mềm trong quoted-printable ok\n",
        ".\n.dot\nFrom here\ntrailing space \ntab\t\n= equals =3D\n",
        "no final newline ếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếếế",
        "",
    };
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        struct buf q, d;
        size_t n = strlen(inputs[k]);
        buf_init(&q, 0);
        buf_init(&d, 0);
        assert_int_equal(compose_qp(&q, inputs[k], n), MERR_OK);
        if (q.len) {
            assert_lines(q.data, q.len, 76);
            assert_null(strstr(q.data, "\r\n.")); /* no line starts with a dot */
            assert_true(q.data[0] != '.');
            assert_null(strstr(q.data, " \r\n")); /* no trailing space */
        }
        qp_decode(q.data ? q.data : "", q.len, &d);
        /* the encoder ends the body with a line break */
        if (n && inputs[k][n - 1] != '\n')
            assert_int_equal(d.len, n + 1);
        else
            assert_int_equal(d.len, n);
        if (n)
            assert_memory_equal(d.data, inputs[k], n);
        buf_free(&q);
        buf_free(&d);
    }
}

static void test_image_part(void **state)
{
    (void)state;
    struct buf p;
    const char *b64 = "QUJD\r\n";
    buf_init(&p, 0);
    assert_int_equal(
        compose_image_part(&p, "image/jpeg", "ảnh hội nghị.jpg", "abc@x.example", b64, strlen(b64)),
        MERR_OK);
    assert_non_null(strstr(p.data, "Content-Type: image/jpeg\r\n"));
    assert_non_null(strstr(p.data, "Content-Transfer-Encoding: base64\r\n"));
    assert_non_null(strstr(p.data, "Content-ID: <abc@x.example>\r\n"));
    assert_non_null(strstr(p.data, "Content-Disposition: inline; filename=\""));
    for (size_t i = 0; i < p.len; i++)
        assert_true((unsigned char)p.data[i] < 0x80);
    assert_non_null(strstr(p.data, "\r\n\r\nQUJD\r\n"));
    assert_int_equal(compose_image_part(&p, "image/jpeg\r\nX: y", "a.jpg", "c@x", b64, 6),
                     MERR_INVAL);
    buf_free(&p);
}

static void test_boundary_random(void **state)
{
    (void)state;
    char a[COMPOSE_BOUNDARY_LEN], b[COMPOSE_BOUNDARY_LEN], c[COMPOSE_BOUNDARY_LEN];
    compose_boundary(a, "1.0a1b@hagiang.example", "alternative");
    compose_boundary(b, "2.9f8e@hagiang.example", "alternative");
    assert_int_equal(strlen(a), 34);
    assert_memory_equal(a, "=_", 2);
    assert_string_not_equal(a, b); /* two messages differ */
    compose_boundary(c, "1.0a1b@hagiang.example", "related");
    assert_string_not_equal(a, c); /* two parts of one message differ */
    compose_boundary(c, "1.0a1b@hagiang.example", "alternative");
    assert_string_equal(a, c); /* the same message renders the same */
}

/* ---- whole messages from the sample articles ---- */

struct fixture {
    struct config cfg;
    struct db *db;
    struct tpl_set *tpls;
    struct compose_env env;
};

static struct fixture *fx;

static int setup_db(void **state)
{
    char path[700], tdir[600];
    const char *ids[] = {"ha-giang-tong-ket-thi-dua-2021", "tin-bac-me-lam-san-20210813",
                         "tin-ca-do-bong-da-20210928",     "tin-cuu-chien-binh-20211008",
                         "tin-nguoi-khuyet-tat-20211020",  "tin-pccc-20211005"};
    (void)state;
    fx = calloc(1, sizeof *fx);
    if (!fx || cfg_defaults(&fx->cfg) || date_set_zone("Asia/Ho_Chi_Minh"))
        return -1;
    snprintf(path, sizeof path, "%s/compose.db", test_tmpdir("compose"));
    if (db_open(path, 5000, &fx->db) || db_migrate(fx->db, 0))
        return -1;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char *id = NULL;
        snprintf(path, sizeof path, "%s/examples/articles/%s.json", test_source_dir(), ids[i]);
        if (article_add_file(fx->db, &fx->cfg, path, &id)) {
            print_error("article_add_file %s: %s\n", path, merr_msg());
            return -1;
        }
        free(id);
    }
    snprintf(tdir, sizeof tdir, "%s/templates", test_source_dir());
    if (tpl_set_open(tdir, NULL, &fx->tpls))
        return -1;
    fx->env.cfg = &fx->cfg;
    fx->env.db = fx->db;
    fx->env.tpls = fx->tpls;
    return 0;
}

static int teardown_db(void **state)
{
    (void)state;
    tpl_set_free(fx->tpls);
    db_close(fx->db);
    cfg_free(&fx->cfg);
    free(fx);
    return 0;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/*
 * The message with QP soft breaks removed and =3D turned back into '=', so
 * that HTML text can be searched (base64 lines lose their padding: harmless).
 */
static char *unfold_qp(const struct buf *m)
{
    char *o = malloc(m->len + 1), *q = o;
    assert_non_null(o);
    for (size_t i = 0; i < m->len; i++) {
        if (m->data[i] == '=' && i + 2 < m->len && m->data[i + 1] == '\r' && m->data[i + 2] == '\n')
            i += 2;
        else if (m->data[i] == '=' && i + 2 < m->len && m->data[i + 1] == '3' &&
                 m->data[i + 2] == 'D')
            *q++ = '=', i += 2;
        else
            *q++ = m->data[i];
    }
    *q = 0;
    return o;
}

/* Every cid: in the message has exactly one part, and every part is referenced. */
static size_t assert_cids(const struct buf *m)
{
    char *msg = unfold_qp(m);
    const char *p;
    size_t parts = 0;
    for (p = msg; (p = strstr(p, "Content-ID: <")); p++) {
        char cid[128], ref[140];
        const char *e = strchr(p + 13, '>');
        assert_non_null(e);
        snprintf(cid, sizeof cid, "%.*s", (int)(e - p - 13), p + 13);
        snprintf(ref, sizeof ref, "cid:%s", cid);
        assert_true(count(msg, ref) >= 1);
        snprintf(ref, sizeof ref, "Content-ID: <%s>", cid);
        assert_int_equal(count(msg, ref), 1);
        parts++;
    }
    /* and every cid: reference has its part */
    for (p = msg; (p = strstr(p, "cid:")); p++) {
        char ref[140];
        size_t n = strcspn(p + 4, "\"' >");
        snprintf(ref, sizeof ref, "Content-ID: <%.*s>", (int)n, p + 4);
        assert_int_equal(count(msg, ref), 1);
    }
    free(msg);
    return parts;
}

static struct compose_plan *plan_from(const char *json)
{
    json_error_t jerr;
    json_t *in = json_loads(json, 0, &jerr);
    struct compose_plan *plan = NULL;
    enum merr rc;
    assert_non_null(in);
    rc = compose_plan_new(&fx->env, in, &plan);
    if (rc)
        fail_msg("compose_plan_new: %s", merr_msg());
    json_decref(in);
    return plan;
}

static void test_share_message(void **state)
{
    (void)state;
    struct compose_plan *plan = plan_from(
        "{\"kind\":\"share\",\"article\":\"ha-giang-tong-ket-thi-dua-2021\","
        "\"sender_name\":\"Nguyễn Văn \\\"Bình\\\", 😀\",\"sender_email\":\"binh@example.org\","
        "\"note\":\"Anh xem bài này nhé <b>\\ndòng hai\"}");
    struct compose_recipient r = {
        .email = "an@example.com", .name = "Trần An", .message_id = "abc123@hagiang.example"};
    struct buf m;
    buf_init(&m, 0);
    assert_int_equal(compose_render(plan, &r, &m), MERR_OK);
    assert_lines(m.data, m.len, 998);
    assert_non_null(strstr(m.data, "\r\nMessage-ID: <abc123@hagiang.example>\r\n"));
    assert_non_null(strstr(m.data, "\r\nMIME-Version: 1.0\r\n"));
    assert_non_null(strstr(m.data, "Reply-To: "));
    assert_null(strstr(m.data, "List-Unsubscribe"));
    assert_non_null(strstr(m.data, "Content-Type: multipart/related"));
    assert_int_equal(assert_cids(&m), 7); /* seven distinct photos, once each */
    assert_int_equal(count(m.data, "Content-Transfer-Encoding: base64"), 7);
    /* the note is escaped in HTML with its line break kept */
    {
        char *u = unfold_qp(&m);
        assert_non_null(strstr(u, "Anh xem b=C3=A0i n=C3=A0y nh=C3=A9 &lt;b&gt;<br>"));
        free(u);
    }
    buf_free(&m);

    /* CR/LF in the recipient's name: refused, nothing written */
    r.name = "Evil\r\nBcc: x@y.example";
    assert_int_equal(compose_render(plan, &r, &m), MERR_INVAL);
    assert_int_equal(m.len, 0);
    compose_plan_free(plan);
}

static void test_digest_message(void **state)
{
    (void)state;
    struct compose_plan *plan = plan_from(
        "{\"kind\":\"digest\",\"articles\":[\"ha-giang-tong-ket-thi-dua-2021\","
        "\"tin-bac-me-lam-san-20210813\",\"tin-ca-do-bong-da-20210928\","
        "\"tin-cuu-chien-binh-20211008\",\"tin-nguoi-khuyet-tat-20211020\","
        "\"tin-pccc-20211005\"],\"list\":{\"id\":1,\"slug\":\"tin-tuc\",\"name\":\"Tin tức\"},"
        "\"week\":\"48\"}");
    struct compose_recipient r = {.email = "an@example.com",
                                  .name = "An",
                                  .message_id = "d1@hagiang.example",
                                  .list_id = "tin-tuc.hagiang.example",
                                  .unsubscribe_url = "https://tin.example/unsubscribe/TOKEN",
                                  .unsubscribe_mailto =
                                      "mailto:unsubscribe@hagiang.example?subject=unsubscribe"};
    struct buf m;
    buf_init(&m, 0);
    assert_int_equal(compose_render(plan, &r, &m), MERR_OK);
    assert_lines(m.data, m.len, 998);
    assert_non_null(strstr(m.data, "\r\nList-Id: <tin-tuc.hagiang.example>\r\n"));
    assert_non_null(strstr(m.data, "List-Unsubscribe: <https://tin.example/unsubscribe/TOKEN>,"));
    assert_non_null(strstr(m.data, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
    assert_int_equal(assert_cids(&m), 6);
    buf_free(&m);
    compose_plan_free(plan);
}

static void test_confirm_message(void **state)
{
    (void)state;
    struct compose_plan *plan = plan_from(
        "{\"kind\":\"confirm\",\"list\":{\"id\":1,\"slug\":\"tin-tuc\",\"name\":\"Tin tức\"}}");
    json_t *vars = json_pack("{s:s}", "confirm_url", "https://tin.example/confirm/TOK123");
    struct compose_recipient r = {.email = "an@example.com",
                                  .message_id = "c1@hagiang.example",
                                  .list_id = "tin-tuc.hagiang.example",
                                  .unsubscribe_url = "https://tin.example/unsubscribe/X",
                                  .vars = vars};
    struct buf m;
    char *u;
    buf_init(&m, 0);
    assert_int_equal(compose_render(plan, &r, &m), MERR_OK);
    assert_lines(m.data, m.len, 998);
    /* transactional: no list headers even when given */
    assert_null(strstr(m.data, "List-Unsubscribe"));
    assert_null(strstr(m.data, "List-Id"));
    assert_non_null(strstr(m.data, "Content-Type: multipart/alternative"));
    assert_null(strstr(m.data, "multipart/related"));
    u = unfold_qp(&m);
    assert_non_null(strstr(u, "https://tin.example/confirm/TOK123"));
    assert_non_null(strstr(u, "7 ng=C3=A0y")); /* "7 ngày" */
    free(u);
    buf_free(&m);
    json_decref(vars);
    compose_plan_free(plan);
}

struct job {
    const struct compose_plan *plan;
    int ok;
};

static void *render_many(void *arg)
{
    struct job *j = arg;
    struct compose_recipient r = {.email = "a@example.com", .message_id = "t@x.example"};
    struct buf m;
    buf_init(&m, 0);
    j->ok = 1;
    for (int i = 0; i < 50 && j->ok; i++) {
        buf_reset(&m);
        if (compose_render(j->plan, &r, &m) || !strstr(m.data, "Content-ID"))
            j->ok = 0;
    }
    buf_free(&m);
    return NULL;
}

static void test_render_threads(void **state)
{
    (void)state;
    struct compose_plan *plan = plan_from("{\"kind\":\"share\",\"article\":\"tin-pccc-20211005\","
                                          "\"sender_email\":\"b@example.org\"}");
    pthread_t th[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].plan = plan;
        assert_int_equal(pthread_create(&th[i], NULL, render_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(jobs[i].ok);
    }
    compose_plan_free(plan);
}

static void test_plan_errors(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s,s:s}", "kind", "share", "article", "no-such-article");
    struct compose_plan *plan = NULL;
    assert_int_equal(compose_plan_new(&fx->env, in, &plan), MERR_NOTFOUND);
    assert_null(plan);
    json_decref(in);
    in = json_pack("{s:s}", "kind", "fax");
    assert_int_equal(compose_plan_new(&fx->env, in, &plan), MERR_INVAL);
    json_decref(in);
    in = json_pack("{s:s,s:s,s:s}", "kind", "share", "article", "tin-pccc-20211005", "sender_name",
                   "a\r\nBcc: x");
    assert_int_equal(compose_plan_new(&fx->env, in, &plan), MERR_INVAL);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_hdr_text_roundtrip), cmocka_unit_test(test_hdr_plain_ascii_kept),
        cmocka_unit_test(test_hdr_address_forms),  cmocka_unit_test(test_hdr_injection_refused),
        cmocka_unit_test(test_hdr_decode_vectors), cmocka_unit_test(test_qp_roundtrip),
        cmocka_unit_test(test_image_part),         cmocka_unit_test(test_boundary_random),
    };
    const struct CMUnitTest msgs[] = {
        cmocka_unit_test(test_share_message),   cmocka_unit_test(test_digest_message),
        cmocka_unit_test(test_confirm_message), cmocka_unit_test(test_render_threads),
        cmocka_unit_test(test_plan_errors),
    };
    int failed = cmocka_run_group_tests_name("compose.hdr_mime", unit, NULL, NULL);
    failed += cmocka_run_group_tests_name("compose.messages", msgs, setup_db, teardown_db);
    return failed ? 1 : 0;
}
