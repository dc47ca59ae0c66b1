/*
 * test_articles.c: article JSON in, rows out; every refusal leaves the
 * database as it was; images sniffed, sized, named, stored once, fetched by
 * URL from a small HTTP server on loopback (redirects, scheme changes,
 * oversize bodies cut off while streaming, time-outs), base64 cached.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "articles.h"
#include "crypto.h"
#include "date.h"
#include "enc.h"
#include "media.h"
#include "articles_fx.h"
#include "testutil.h"
#include "utf8.h"

/* ---- upsert ------------------------------------------------------------ */

static void examples_twice_leave_six(void **state)
{
    struct articles_fx *fx = *state;
    struct articles_fx_snapshot s1, s2;

    assert_int_equal(articles_fx_add_examples(fx), 6);
    articles_fx_snap(fx->db, &s1);
    assert_int_equal(s1.articles, 6);
    assert_int_equal(s1.images, 12); /* 7 in the long article, 1 in each other */
    assert_int_equal(s1.media, 12);
    assert_int_equal(s1.derived, 24); /* a body image and a thumbnail of each photo */
    assert_int_equal(db_exec(fx->db, "UPDATE media_derived SET created_at = 1"), MERR_OK);
    assert_int_equal(articles_fx_add_examples(fx), 0); /* all six were updates */
    articles_fx_snap(fx->db, &s2);
    assert_int_equal(s2.articles, 6);
    assert_int_equal(s2.images, 12);
    assert_int_equal(s2.media, 12);
    assert_int_equal(s2.derived, 24);
    /* nothing was derived again: the store had every image by the current recipe */
    assert_int_equal(test_db_int(fx->db, "SELECT count(*) FROM media_derived WHERE created_at = 1"),
                     24);
    assert_int_equal(test_db_int(fx->db, "SELECT count(DISTINCT id) FROM articles"), 6);
}

static void update_replaces_fields_and_images(void **state)
{
    struct articles_fx *fx = *state;
    struct article *a;
    char src[700], dst[700];
    int created = -1;
    char *id = NULL;

    snprintf(src, sizeof src, "%s/images/pccc.jpg", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/a.jpg", fx->dir);
    articles_fx_copy_file(src, dst);
    snprintf(src, sizeof src, "%s/images/logo.png", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/b.png", fx->dir);
    articles_fx_copy_file(src, dst);

    const char *v1 = GOOD_HEAD "  \"title\": \"Bản một\",\n"
                               "  \"images\": [{\"src\": \"images/a.jpg\", \"caption\": \"Ảnh "
                               "A\"}, {\"src\": \"images/b.png\"}]\n}\n";
    const char *v2 =
        GOOD_HEAD "  \"title\": \"Bản hai\", \"category\": \"Tin\",\n"
                  "  \"images\": [{\"src\": \"images/b.png\", \"alt\": \"Logo\"}]\n}\n";
    char path[700];
    snprintf(path, sizeof path, "%s/x.json", fx->dir);
    test_write_file(path, v1);
    assert_int_equal(article_upsert_file(fx->db, &fx->cfg, path, &id, &created), MERR_OK);
    assert_string_equal(id, "probe");
    assert_int_equal(created, 1);
    free(id);
    assert_int_equal(test_db_int(fx->db, "SELECT count(*) FROM article_images"), 2);

    test_write_file(path, v2);
    assert_int_equal(article_upsert_file(fx->db, &fx->cfg, path, NULL, &created), MERR_OK);
    assert_int_equal(created, 0);
    assert_int_equal(test_db_int(fx->db, "SELECT count(*) FROM articles"), 1);
    assert_int_equal(test_db_int(fx->db, "SELECT count(*) FROM article_images"), 1);

    assert_int_equal(article_load(fx->db, "probe", &a), MERR_OK);
    assert_string_equal(a->title, "Bản hai");
    assert_string_equal(a->category, "Tin");
    assert_string_equal(a->author, "");
    assert_string_equal(a->body_html, "<p>Nội dung</p>");
    assert_int_equal(a->published_offset, 420);
    assert_int_equal((long long)a->published_at, 1633436280LL);
    assert_int_equal(a->nimages, 1);
    assert_string_equal(a->images[0].src, "images/b.png");
    assert_string_equal(a->images[0].alt, "Logo");
    assert_string_equal(a->images[0].caption, "");
    assert_string_equal(a->images[0].filename, "b.png");
    assert_string_equal(a->images[0].content_type, "image/png");
    assert_int_equal(a->images[0].width, 240);
    assert_int_equal(a->images[0].height, 60);
    assert_int_equal(a->images[0].size, 3859);
    article_free(a);

    assert_int_equal(article_load(fx->db, "nope", &a), MERR_NOTFOUND);
    assert_null(a);

    /* the head: the same fields and photos, no body */
    assert_int_equal(article_load_head(fx->db, "probe", &a), MERR_OK);
    assert_string_equal(a->title, "Bản hai");
    assert_null(a->body_html);
    assert_int_equal(a->nimages, 1);
    {
        char sha[65];
        test_db_text(fx->db, "SELECT media_sha256 FROM article_images", sha, sizeof sha);
        assert_string_equal(a->images[0].sha256, sha);
        assert_string_equal(a->images[0].alt, "Logo");
    }
    article_free(a);
    assert_int_equal(article_load_head(fx->db, "nope", &a), MERR_NOTFOUND);
    assert_null(a);

    int exists = -1;
    assert_int_equal(article_exists(fx->db, "probe", &exists), MERR_OK);
    assert_int_equal(exists, 1);
    assert_int_equal(article_exists(fx->db, "nope", &exists), MERR_OK);
    assert_int_equal(exists, 0);
}

static void load_keeps_vietnamese_and_order(void **state)
{
    struct articles_fx *fx = *state;
    struct article *a;
    struct buf js;
    char path[700];
    unsigned char sum[32];
    char hex[65];
    struct buf img;

    snprintf(path, sizeof path, "%s/ha-giang-tong-ket-thi-dua-2021.json", fx->examples);
    assert_int_equal(article_add_file(fx->db, &fx->cfg, path, NULL), MERR_OK);
    assert_int_equal(article_load(fx->db, "ha-giang-tong-ket-thi-dua-2021", &a), MERR_OK);
    assert_non_null(strstr(a->title, "Hà Giang"));
    assert_int_equal(a->nimages, 7);
    assert_string_equal(a->images[0].src, "images/toan-canh-hoi-nghi.jpg");
    assert_string_equal(a->images[6].src, "images/ky-ket-giao-uoc.jpg");
    assert_string_equal(a->images[0].content_type, "image/jpeg");
    assert_string_equal(a->images[0].filename, "toan-canh-hoi-nghi.jpg");

    /* the sha256 is the file's, and media_bytes gives the bytes back */
    snprintf(path, sizeof path, "%s/images/toan-canh-hoi-nghi.jpg", fx->examples);
    buf_init(&img, 0);
    assert_int_equal(buf_read_file(&img, path), MERR_OK);
    crypto_sha256(sum, img.data, img.len);
    enc_hex(hex, sum, 32);
    assert_string_equal(a->images[0].sha256, hex);
    assert_int_equal(a->images[0].size, img.len);
    struct buf back;
    buf_init(&back, 0);
    assert_int_equal(media_bytes(fx->db, hex, &back), MERR_OK);
    assert_int_equal(back.len, img.len);
    assert_memory_equal(back.data, img.data, img.len);
    buf_free(&back);
    buf_free(&img);
    assert_int_equal(media_bytes(fx->db, "00", &back), MERR_NOTFOUND);

    /* JSON out keeps the given offset and carries the media facts */
    buf_init(&js, 0);
    assert_int_equal(article_to_json(a, &js), MERR_OK);
    assert_non_null(strstr(js.data, "\"published_at\": \"2021-12-31T14:15:00+07:00\""));
    assert_non_null(strstr(js.data, hex));
    assert_non_null(strstr(js.data, "\"content_type\": \"image/jpeg\""));
    assert_non_null(strstr(js.data, "Hà Giang"));
    buf_free(&js);
    article_free(a);
}

static void list_window_order_category(void **state)
{
    struct articles_fx *fx = *state;
    struct article **v;
    size_t n;
    time_t t_pccc, t_end;

    articles_fx_add_examples(fx);
    assert_int_equal(date_parse_iso8601("2021-10-05T19:18:00+07:00", &t_pccc, NULL), MERR_OK);
    assert_int_equal(date_parse_iso8601("2021-12-31T14:15:00+07:00", &t_end, NULL), MERR_OK);

    assert_int_equal(article_list(fx->db, 0, t_end + 1, NULL, 0, &v, &n), MERR_OK);
    assert_int_equal(n, 6);
    assert_string_equal(v[0]->id, "ha-giang-tong-ket-thi-dua-2021");
    assert_string_equal(v[5]->id, "tin-bac-me-lam-san-20210813");
    for (size_t i = 1; i < n; i++)
        assert_true(v[i - 1]->published_at >= v[i]->published_at);
    assert_non_null(v[0]->body_html);
    assert_int_equal(v[0]->nimages, 7);
    article_list_free(v, n);

    /* (since, until]: since is excluded, until included */
    assert_int_equal(article_list(fx->db, t_pccc, t_end, NULL, 0, &v, &n), MERR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(v[0]->id, "ha-giang-tong-ket-thi-dua-2021");
    assert_string_equal(v[2]->id, "tin-cuu-chien-binh-20211008");
    article_list_free(v, n);
    assert_int_equal(article_list(fx->db, t_pccc - 1, t_pccc, NULL, 0, &v, &n), MERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0]->id, "tin-pccc-20211005");
    article_list_free(v, n);

    assert_int_equal(article_list(fx->db, 0, t_end, NULL, 2, &v, &n), MERR_OK);
    assert_int_equal(n, 2);
    article_list_free(v, n);

    assert_int_equal(article_list(fx->db, 0, t_end, "no such category", 0, &v, &n), MERR_OK);
    assert_int_equal(n, 0);
    article_list_free(v, n);
    assert_int_equal(article_list(fx->db, 0, t_end, "Tin tức - Sự kiện", 0, &v, &n), MERR_OK);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i]->category, "Tin tức - Sự kiện");
    article_list_free(v, n);

    assert_int_equal(article_index(fx->db, 0, t_end, NULL, 0, &v, &n), MERR_OK);
    assert_int_equal(n, 6);
    assert_null(v[0]->body_html);
    assert_int_equal(v[0]->nimages, 7);
    article_list_free(v, n);
}

/* ---- refusals: message and an unchanged database ------------------------ */

struct bad_case {
    const char *what;
    const char *json; /* written to DIR/x.json */
    enum merr rc;
    const char *msg; /* expected after "DIR/x.json: " */
    size_t image_max;
    size_t article_max;
};

static void refusals_name_field_and_change_nothing(void **state)
{
    struct articles_fx *fx = *state;
    char src[700], dst[700], path[700], prefix[800];
    struct articles_fx_snapshot before, after;
    struct article *a;

    /* images/ holds a real JPEG and PNG, a text file named .jpg, and a
     * symlink to a real image outside the folder */
    snprintf(src, sizeof src, "%s/images/pccc.jpg", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/pccc.jpg", fx->dir);
    articles_fx_copy_file(src, dst);
    snprintf(src, sizeof src, "%s/images/logo.png", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/logo.png", fx->dir);
    articles_fx_copy_file(src, dst);
    snprintf(dst, sizeof dst, "%s/images/fake.jpg", fx->dir);
    test_write_file(dst, "this is text, not a photo\n");
    snprintf(src, sizeof src, "%s/images/bac-me-lam-san.jpg", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/outside.jpg", fx->dir);
    assert_int_equal(symlink(src, dst), 0);

    /* an existing "probe" article, so "unchanged" also covers an update */
    assert_int_equal(articles_fx_add_text(fx, "x.json",
                                          GOOD_HEAD
                                          "  \"title\": \"Gốc\",\n"
                                          "  \"images\": [{\"src\": \"images/pccc.jpg\"}]\n}\n"),
                     MERR_OK);
    assert_int_equal(test_db_int(fx->db, SQL_ORIGINALS), 1);

    static char big[4000];
    snprintf(big, sizeof big, GOOD_HEAD "  \"title\": \"T\", \"summary\": \"%03000d\"}\n", 0);

    const struct bad_case cases[] = {
        {"missing title", GOOD_HEAD "  \"category\": \"Tin\"\n}\n", MERR_INVAL, "title: missing", 0,
         0},
        {"blank title", GOOD_HEAD "  \"title\": \"   \"\n}\n", MERR_INVAL, "title: empty", 0, 0},
        {"title not a string", GOOD_HEAD "  \"title\": 5\n}\n", MERR_INVAL,
         "title: must be a string", 0, 0},
        {"line break in title", GOOD_HEAD "  \"title\": \"a\\nb\"\n}\n", MERR_INVAL,
         "title: contains a control character", 0, 0},
        {"NUL in title", GOOD_HEAD "  \"title\": \"a\\u0000b\"\n}\n", MERR_INVAL,
         "title: contains a NUL character", 0, 0},
        {"invalid UTF-8", "{\n  \"id\": \"probe\",\n  \"title\": \"Kh\xC3\x28n\"\n}\n", MERR_INVAL,
         "invalid UTF-8 at line 3", 0, 0},
        {"UTF-8 surrogate", "{\n\n\n  \"title\": \"\xED\xA0\x80\"\n}\n", MERR_INVAL,
         "invalid UTF-8 at line 4", 0, 0},
        {"not ISO 8601",
         "{\"id\": \"probe\", \"url\": \"https://a.vn/\", \"title\": \"T\", \"body_html\": "
         "\"x\", \"published_at\": \"05/10/2021 19:18\"}",
         MERR_INVAL, "published_at: \"05/10/2021 19:18\" is not an ISO 8601 date-time", 0, 0},
        {"date without offset",
         "{\"id\": \"probe\", \"url\": \"https://a.vn/\", \"title\": \"T\", \"body_html\": "
         "\"x\", \"published_at\": \"2021-10-05T19:18:00\"}",
         MERR_INVAL, "published_at: \"2021-10-05T19:18:00\" has no UTC offset", 0, 0},
        {"missing date",
         "{\"id\": \"probe\", \"url\": \"https://a.vn/\", \"title\": \"T\", \"body_html\": "
         "\"x\"}",
         MERR_INVAL, "published_at: missing", 0, 0},
        {"missing body",
         "{\"id\": \"probe\", \"url\": \"https://a.vn/\", \"title\": \"T\", \"body_html\": "
         "null, \"published_at\": \"2021-10-05T19:18:00+07:00\"}",
         MERR_INVAL, "body_html: missing", 0, 0},
        {"path escape",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"../../etc/passwd\"}]}\n",
         MERR_INVAL, "images[0].src: \"../../etc/passwd\" escapes its folder", 0, 0},
        {"sneaky path escape",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"images/../../x.jpg\"}]}\n",
         MERR_INVAL, "images[0].src: \"images/../../x.jpg\" escapes its folder", 0, 0},
        {"absolute path",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"/etc/passwd\"}]}\n", MERR_INVAL,
         "images[0].src: \"/etc/passwd\": absolute paths are refused", 0, 0},
        {"symlink outside",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"images/outside.jpg\"}]}\n",
         MERR_INVAL, "images[0].src: \"images/outside.jpg\" escapes its folder", 0, 0},
        {"file: URL",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"file:///etc/passwd\"}]}\n",
         MERR_INVAL, "images[0].src: \"file:///etc/passwd\": only a relative path or an http(s)", 0,
         0},
        {"not an image",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"images/fake.jpg\"}]}\n",
         MERR_INVAL, "images[0].src: images/fake.jpg: not an image", 0, 0},
        {"image over the limit",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"images/pccc.jpg\"}]}\n",
         MERR_LIMIT,
         "images[0].src: images/pccc.jpg: 25519 bytes is over the image size limit of 10000 "
         "bytes",
         10000, 0},
        {"missing image file",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"images/none.jpg\"}]}\n",
         MERR_INVAL, "images[0].src: images/none.jpg: no such file", 0, 0},
        {"second image bad, first new",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"images/logo.png\"}, "
                   "{\"src\": \"images/fake.jpg\"}]}\n",
         MERR_INVAL, "images[1].src: images/fake.jpg: not an image", 0, 0},
        {"image without src", GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"alt\": \"x\"}]}\n",
         MERR_INVAL, "images[0].src: missing", 0, 0},
        {"images not an array", GOOD_HEAD "  \"title\": \"T\", \"images\": \"a.jpg\"}\n",
         MERR_INVAL, "images: must be an array", 0, 0},
        {"unknown image field",
         GOOD_HEAD "  \"title\": \"T\", \"images\": [{\"src\": \"images/logo.png\", \"w\": 1}]}\n",
         MERR_INVAL, "images[0].w: unknown field", 0, 0},
        {"bad url scheme",
         "{\"id\": \"probe\", \"url\": \"ftp://hagiang.gov.vn/p\", \"title\": \"T\", "
         "\"body_html\": \"x\", \"published_at\": \"2021-10-05T19:18:00+07:00\"}",
         MERR_INVAL, "url: \"ftp://hagiang.gov.vn/p\" is not an absolute http", 0, 0},
        {"relative url",
         "{\"id\": \"probe\", \"url\": \"/tin-tuc/p\", \"title\": \"T\", "
         "\"body_html\": \"x\", \"published_at\": \"2021-10-05T19:18:00+07:00\"}",
         MERR_INVAL, "url: \"/tin-tuc/p\" is not an absolute http", 0, 0},
        {"url with a space",
         "{\"id\": \"probe\", \"url\": \"https://a.vn/x y\", \"title\": \"T\", "
         "\"body_html\": \"x\", \"published_at\": \"2021-10-05T19:18:00+07:00\"}",
         MERR_INVAL, "url: ", 0, 0},
        {"bad id", "{\"id\": \"Tin PCCC\", \"url\": \"https://a.vn/\"}", MERR_INVAL,
         "id: \"Tin PCCC\" may only hold", 0, 0},
        {"empty id", "{\"id\": \"\"}", MERR_INVAL, "id: empty", 0, 0},
        {"unknown field", GOOD_HEAD "  \"titel\": \"T\"\n}\n", MERR_INVAL, "titel: unknown field",
         0, 0},
        {"duplicate key", GOOD_HEAD "  \"title\": \"A\", \"title\": \"B\"}\n", MERR_INVAL,
         "duplicate", 0, 0},
        {"not JSON", "{\"id\": \"probe\",\n  \"title\": }", MERR_INVAL, "not valid JSON at line 2",
         0, 0},
        {"an array", "[1, 2]", MERR_INVAL, "must be one JSON object", 0, 0},
        {"empty file", "", MERR_INVAL, "not valid JSON", 0, 0},
        {"over the article limit", big, MERR_LIMIT, "over the article size limit of 1024 bytes", 0,
         1024},
    };

    snprintf(path, sizeof path, "%s/x.json", fx->dir);
    snprintf(prefix, sizeof prefix, "%s: ", path);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct bad_case *c = &cases[i];
        size_t old_img = fx->cfg.image_max_bytes, old_art = fx->cfg.article_max_bytes;
        enum merr rc;
        if (c->image_max)
            fx->cfg.image_max_bytes = c->image_max;
        if (c->article_max)
            fx->cfg.article_max_bytes = c->article_max;
        articles_fx_snap(fx->db, &before);
        merr_clear();
        rc = articles_fx_add_text(fx, "x.json", c->json);
        fx->cfg.image_max_bytes = old_img;
        fx->cfg.article_max_bytes = old_art;
        if (rc != c->rc)
            fail_msg("%s: got %s (%s), want %s", c->what, merr_str(rc), merr_msg(),
                     merr_str(c->rc));
        if (strncmp(merr_msg(), prefix, strlen(prefix)) != 0 || !strstr(merr_msg(), c->msg))
            fail_msg("%s: message \"%s\" lacks \"%s%s\"", c->what, merr_msg(), prefix, c->msg);
        articles_fx_snap(fx->db, &after);
        articles_fx_assert_unchanged(&before, &after);
    }
    assert_int_equal(article_load(fx->db, "probe", &a), MERR_OK);
    assert_string_equal(a->title, "Gốc");
    assert_int_equal(a->nimages, 1);
    article_free(a);
    assert_int_equal(test_db_int(fx->db, SQL_ORIGINALS), 1);
}

static void json_text_origin_names_input(void **state)
{
    struct articles_fx *fx = *state;
    const char *bad = "{\"id\": \"a\"}";
    struct articles_fx_snapshot before, after;
    char *id = (char *)"x";

    articles_fx_snap(fx->db, &before);
    assert_int_equal(
        article_upsert_json(fx->db, &fx->cfg, bad, strlen(bad), fx->dir, "request", &id),
        MERR_INVAL);
    assert_null(id);
    assert_string_equal(merr_msg(), "request: url: missing (required)");
    articles_fx_snap(fx->db, &after);
    articles_fx_assert_unchanged(&before, &after);
}

/* ---- media ------------------------------------------------------------- */

static void same_photo_stored_once(void **state)
{
    struct articles_fx *fx = *state;
    char src[700], dst[700];
    struct article *a, *b;

    snprintf(src, sizeof src, "%s/images/pccc.jpg", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/one.jpg", fx->dir);
    articles_fx_copy_file(src, dst);
    snprintf(dst, sizeof dst, "%s/images/Ảnh hai.jpeg", fx->dir);
    articles_fx_copy_file(src, dst);
    assert_int_equal(
        articles_fx_add_text(
            fx, "a.json",
            "{\"id\": \"a\", \"url\": \"https://a.vn/a\", \"title\": \"A\", \"body_html\": "
            "\"x\", \"published_at\": \"2021-10-05T19:18:00Z\", "
            "\"images\": [{\"src\": \"images/one.jpg\"}, {\"src\": \"images/one.jpg\"}]}"),
        MERR_OK);
    assert_int_equal(
        articles_fx_add_text(
            fx, "b.json",
            "{\"id\": \"b\", \"url\": \"https://a.vn/b\", \"title\": \"B\", \"body_html\": "
            "\"x\", \"published_at\": \"2021-10-05T19:18:00Z\", "
            "\"images\": [{\"src\": \"./images/Ảnh hai.jpeg\"}]}"),
        MERR_OK);
    assert_int_equal(test_db_int(fx->db, SQL_ORIGINALS), 1);
    assert_int_equal(test_db_int(fx->db, "SELECT count(*) FROM article_images"), 3);
    assert_int_equal(article_load(fx->db, "a", &a), MERR_OK);
    assert_int_equal(article_load(fx->db, "b", &b), MERR_OK);
    assert_string_equal(a->images[0].sha256, b->images[0].sha256);
    assert_string_equal(b->images[0].filename, "Ảnh hai.jpeg");
    assert_string_equal(b->images[0].src, "./images/Ảnh hai.jpeg");
    assert_int_equal(b->images[0].width, 600);
    assert_int_equal(b->images[0].height, 400);
    article_free(a);
    article_free(b);
}

static void media_root_wins(void **state)
{
    struct articles_fx *fx = *state;
    char src[700], dst[700], root[700];

    snprintf(root, sizeof root, "%s/media", fx->dir);
    assert_int_equal(mkdir(root, 0755), 0);
    snprintf(src, sizeof src, "%s/images/logo.png", fx->examples);
    snprintf(dst, sizeof dst, "%s/logo.png", root);
    articles_fx_copy_file(src, dst);
    test_set_str(&fx->cfg.media_root, root);
    const char *j = "{\"id\": \"m\", \"url\": \"https://a.vn/m\", \"title\": \"M\", "
                    "\"body_html\": \"x\", \"published_at\": \"2021-10-05T19:18:00Z\", "
                    "\"images\": [{\"src\": \"logo.png\"}]}";
    assert_int_equal(articles_fx_add_text(fx, "m.json", j), MERR_OK);
    assert_int_equal(test_db_int(fx->db, SQL_ORIGINALS), 1);
    /* the JSON's own folder is not searched when a root is set */
    const char *k = "{\"id\": \"n\", \"url\": \"https://a.vn/n\", \"title\": \"N\", "
                    "\"body_html\": \"x\", \"published_at\": \"2021-10-05T19:18:00Z\", "
                    "\"images\": [{\"src\": \"../m.json\"}]}";
    assert_int_equal(articles_fx_add_text(fx, "n.json", k), MERR_INVAL);
    articles_fx_assert_msg("escapes its folder");
}

static void sniff_types_and_sizes(void **state)
{
    struct media_info mi;
    struct buf b;
    char path[700];
    (void)state;

    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0,
                                        0,    13,  'I', 'H', 'D',  'R',  0,    0,    1, 0x2C,
                                        0,    0,   0,   200, 8,    2,    0,    0,    0};
    assert_int_equal(media_sniff(png, sizeof png, &mi), MERR_OK);
    assert_string_equal(mi.content_type, "image/png");
    assert_int_equal(mi.width, 300);
    assert_int_equal(mi.height, 200);
    assert_int_equal(mi.size, sizeof png);

    static const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 0x2C, 0x01, 0xC8, 0x00, 0};
    assert_int_equal(media_sniff(gif, sizeof gif, &mi), MERR_OK);
    assert_string_equal(mi.content_type, "image/gif");
    assert_int_equal(mi.width, 300);
    assert_int_equal(mi.height, 200);
    static const unsigned char gif87[] = {'G', 'I', 'F', '8', '7', 'a', 1, 0, 2, 0};
    assert_int_equal(media_sniff(gif87, sizeof gif87, &mi), MERR_OK);
    assert_int_equal(mi.width, 1);
    assert_int_equal(mi.height, 2);

    /* WebP lossy: frame tag, start code 9D 01 2A, 14-bit width/height */
    static const unsigned char vp8[] = {'R',  'I',  'F',  'F',  30,   0,    0,    0,    'W',  'E',
                                        'B',  'P',  'V',  'P',  '8',  ' ',  10,   0,    0,    0,
                                        0x30, 0x01, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01};
    assert_int_equal(media_sniff(vp8, sizeof vp8, &mi), MERR_OK);
    assert_string_equal(mi.content_type, "image/webp");
    assert_int_equal(mi.width, 640);
    assert_int_equal(mi.height, 480);
    /* WebP lossless: 0x2F, then (w-1) | (h-1) << 14 little-endian */
    uint32_t bits = (uint32_t)(300 - 1) | (uint32_t)(200 - 1) << 14;
    unsigned char vp8l[30] = {'R', 'I', 'F', 'F', 22,  0, 0, 0, 'W', 'E', 'B',
                              'P', 'V', 'P', '8', 'L', 5, 0, 0, 0,   0x2F};
    vp8l[21] = (unsigned char)bits;
    vp8l[22] = (unsigned char)(bits >> 8);
    vp8l[23] = (unsigned char)(bits >> 16);
    vp8l[24] = (unsigned char)(bits >> 24);
    assert_int_equal(media_sniff(vp8l, sizeof vp8l, &mi), MERR_OK);
    assert_int_equal(mi.width, 300);
    assert_int_equal(mi.height, 200);
    /* WebP extended: canvas width-1 and height-1 in 24 bits */
    static const unsigned char vp8x[30] = {'R', 'I', 'F', 'F', 22,   0,    0,  0,    'W',  'E',
                                           'B', 'P', 'V', 'P', '8',  'X',  10, 0,    0,    0,
                                           0,   0,   0,   0,   0x7F, 0x07, 0,  0x37, 0x04, 0};
    assert_int_equal(media_sniff(vp8x, sizeof vp8x, &mi), MERR_OK);
    assert_int_equal(mi.width, 1920);
    assert_int_equal(mi.height, 1080);

    /* a real JPEG: SOF0 after APP0 */
    snprintf(path, sizeof path, "%s/examples/articles/images/bi-thu-phat-bieu.jpg",
             test_source_dir());
    buf_init(&b, 0);
    assert_int_equal(buf_read_file(&b, path), MERR_OK);
    assert_int_equal(media_sniff((unsigned char *)b.data, b.len, &mi), MERR_OK);
    assert_string_equal(mi.content_type, "image/jpeg");
    assert_int_equal(mi.width, 960);
    assert_int_equal(mi.height, 640);
    char hex[65];
    crypto_sha256_hex(hex, b.data, b.len);
    assert_string_equal(mi.sha256, hex);
    /* cut before the SOF: still a JPEG, size unknown */
    assert_int_equal(media_sniff((unsigned char *)b.data, 10, &mi), MERR_OK);
    assert_int_equal(mi.width, 0);
    assert_int_equal(mi.height, 0);
    buf_free(&b);

    static const char *const not_images[] = {"hello, world",
                                             "GIF88a......",
                                             "RIFF....WAVEfmt ",
                                             "\x89PNG\r\n",
                                             "\xFF\xD8",
                                             "<svg></svg>",
                                             ""};
    for (size_t i = 0; i < sizeof not_images / sizeof *not_images; i++) {
        merr_clear();
        assert_int_equal(
            media_sniff((const unsigned char *)not_images[i], strlen(not_images[i]), &mi),
            MERR_INVAL);
        articles_fx_assert_msg("not an image");
    }
}

static void safe_filenames(void **state)
{
    static const struct {
        const char *src, *type, *want;
    } cases[] = {
        {"images/pccc.jpg", "image/jpeg", "pccc.jpg"},
        {"images/PCCC.JPEG", "image/jpeg", "PCCC.JPEG"},
        {"images/ảnh đẹp.jpg", "image/jpeg", "ảnh đẹp.jpg"},
        {"https://cdn.example.vn/a/%E1%BA%A3nh%20%C4%91%E1%BA%B9p.jpg?x=1", "image/jpeg",
         "ảnh đẹp.jpg"},
        {"https://cdn.example.vn/a/%FF%FE.jpg", "image/jpeg", "_FF_FE.jpg"},
        {"images/gpj\u202Eexe.jpg", "image/jpeg", "gpj_exe.jpg"},
        {"images/a\xc2\x85"
         "b\xe2\x80\x8b"
         "c.png",
         "image/png", "a_b_c.png"},
        {"images/ lead.jpg", "image/jpeg", "_lead.jpg"},
        {"images/wrong.png", "image/jpeg", "wrong.jpg"},
        {"images/photo.php", "image/png", "photo.php.png"},
        {"images/noext", "image/gif", "noext.gif"},
        {"images/.hidden.webp", "image/webp", "_hidden.webp"},
        {"https://cdn.example.vn/a/b/pic.jpg?w=600#x", "image/jpeg", "pic.jpg"},
        {"https://cdn.example.vn/get?id=5", "image/png", "get.png"},
        {"https://cdn.example.vn", "image/png", "image.png"},
        {"https://cdn.example.vn/", "image/png", "image.png"},
        {"a;b\"c\r.jpg", "image/jpeg", "a_b_c_.jpg"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *f = media_safe_filename(cases[i].src, cases[i].type);
        assert_non_null(f);
        if (strcmp(f, cases[i].want) != 0)
            fail_msg("%s -> %s, want %s", cases[i].src, f, cases[i].want);
        free(f);
    }
    char longname[400];
    memset(longname, 'a', 300);
    strcpy(longname + 300, ".jpg");
    char *f = media_safe_filename(longname, "image/jpeg");
    assert_true(strlen(f) <= 105);
    assert_string_equal(f + strlen(f) - 4, ".jpg");
    free(f);
    /* 100 bytes at most, never cut inside a character */
    longname[0] = 0;
    for (int i = 0; i < 60; i++)
        strcat(longname, "ả");
    strcat(longname, ".jpg");
    f = media_safe_filename(longname, "image/jpeg");
    assert_true(strlen(f) <= 105 && utf8_valid(f, strlen(f), NULL));
    free(f);
}

static void base64_computed_once_and_cached(void **state)
{
    struct articles_fx *fx = *state;
    struct article *a;
    struct buf b64, want, raw, again;
    char path[700];
    sqlite3_stmt *st;

    snprintf(path, sizeof path, "%s/tin-pccc-20211005.json", fx->examples);
    assert_int_equal(article_add_file(fx->db, &fx->cfg, path, NULL), MERR_OK);
    assert_int_equal(article_load(fx->db, "tin-pccc-20211005", &a), MERR_OK);
    const char *sha = a->images[0].sha256;
    assert_int_equal(
        test_db_int(fx->db, "SELECT count(*) FROM media WHERE b64 IS NULL AND sha256 = "
                            "'4a0559e1c4dd23a07fd38093b105b51a380f433c5015731875fac324928719e1'"),
        1);

    buf_init(&b64, 0);
    buf_init(&want, 0);
    buf_init(&raw, 0);
    buf_init(&again, 0);
    assert_int_equal(buf_puts(&b64, "prefix"), MERR_OK); /* appends */
    assert_int_equal(media_base64(fx->db, sha, &b64), MERR_OK);
    assert_int_equal(media_bytes(fx->db, sha, &raw), MERR_OK);
    assert_int_equal(enc_base64(&want, (unsigned char *)raw.data, raw.len, 1), MERR_OK);
    assert_int_equal(b64.len, 6 + want.len);
    assert_memory_equal(b64.data + 6, want.data, want.len);
    /* 76-column lines, each ending CRLF */
    assert_int_equal(memcmp(b64.data + 6 + 76, "\r\n", 2), 0);
    assert_int_equal(memcmp(b64.data + b64.len - 2, "\r\n", 2), 0);
    assert_int_equal(
        test_db_int(fx->db, "SELECT count(*) FROM media WHERE b64 IS NULL AND sha256 = "
                            "'4a0559e1c4dd23a07fd38093b105b51a380f433c5015731875fac324928719e1'"),
        0);

    /* the second call reads the cache: prove it by planting a marker there */
    assert_int_equal(
        sqlite3_prepare_v2(db_sqlite(fx->db), "UPDATE media SET b64 = 'CACHED'", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    assert_int_equal(media_base64(fx->db, sha, &again), MERR_OK);
    assert_string_equal(again.data, "CACHED");

    buf_reset(&again);
    assert_int_equal(media_base64(fx->db, "ffff", &again), MERR_NOTFOUND);
    assert_int_equal(again.len, 0);
    buf_free(&b64);
    buf_free(&want);
    buf_free(&raw);
    buf_free(&again);
    article_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(examples_twice_leave_six, articles_fx_setup,
                                                 articles_fx_teardown, "art-twice"),
        cmocka_unit_test_prestate_setup_teardown(update_replaces_fields_and_images,
                                                 articles_fx_setup, articles_fx_teardown,
                                                 "art-update"),
        cmocka_unit_test_prestate_setup_teardown(load_keeps_vietnamese_and_order, articles_fx_setup,
                                                 articles_fx_teardown, "art-load"),
        cmocka_unit_test_prestate_setup_teardown(list_window_order_category, articles_fx_setup,
                                                 articles_fx_teardown, "art-list"),
        cmocka_unit_test_prestate_setup_teardown(refusals_name_field_and_change_nothing,
                                                 articles_fx_setup, articles_fx_teardown,
                                                 "art-bad"),
        cmocka_unit_test_prestate_setup_teardown(json_text_origin_names_input, articles_fx_setup,
                                                 articles_fx_teardown, "art-origin"),
        cmocka_unit_test_prestate_setup_teardown(same_photo_stored_once, articles_fx_setup,
                                                 articles_fx_teardown, "art-dedup"),
        cmocka_unit_test_prestate_setup_teardown(media_root_wins, articles_fx_setup,
                                                 articles_fx_teardown, "art-root"),
        cmocka_unit_test(sniff_types_and_sizes),
        cmocka_unit_test(safe_filenames),
        cmocka_unit_test_prestate_setup_teardown(base64_computed_once_and_cached, articles_fx_setup,
                                                 articles_fx_teardown, "art-b64"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
