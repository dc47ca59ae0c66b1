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
#include "testutil.h"
#include "utf8.h"

/* ---- fixtures ---------------------------------------------------------- */

struct fx {
    struct db *db;
    struct config cfg;
    char dir[512];      /* this test's folder: m.db, x.json, images/ */
    char examples[512]; /* examples/articles in the source tree */
};

static void copy_file(const char *from, const char *to)
{
    struct buf b;
    FILE *f;
    buf_init(&b, 0);
    assert_int_equal(buf_read_file(&b, from), MERR_OK);
    f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    assert_int_equal(fclose(f), 0);
    buf_free(&b);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    char path[700];
    const char *name = *state ? (const char *)*state : "articles";

    snprintf(fx->dir, sizeof fx->dir, "%s", test_tmpdir(name));
    snprintf(fx->examples, sizeof fx->examples, "%s/examples/articles", test_source_dir());
    assert_int_equal(cfg_defaults(&fx->cfg), MERR_OK);
    assert_int_equal(date_set_zone("Asia/Ho_Chi_Minh"), MERR_OK);
    fx->db = test_db_fresh(fx->dir, NULL, 0);
    snprintf(path, sizeof path, "%s/images", fx->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    db_close(fx->db);
    cfg_free(&fx->cfg);
    free(fx);
    return 0;
}

/* Photos as stored, not the images derived from them for mail. */
#define SQL_ORIGINALS                                                                              \
    "SELECT count(*) FROM media WHERE sha256 NOT IN (SELECT derived_sha256 FROM media_derived)"

/* Row counts of the four tables plus a hash over every stored value. */
struct snapshot {
    int articles, images, media, derived;
    char hash[65];
};

static void snap(struct db *db, struct snapshot *s)
{
    static const char *const sql[] = {
        "SELECT id, url, title, category, author, published_at, published_offset, summary, "
        "body_html, created_at, updated_at FROM articles ORDER BY id",
        "SELECT article_id, position, src, media_sha256, filename, caption, alt "
        "FROM article_images ORDER BY article_id, position",
        "SELECT sha256, content_type, size, width, height, hex(bytes), b64 FROM media "
        "ORDER BY sha256",
        "SELECT source_sha256, kind, recipe, derived_sha256 FROM media_derived "
        "ORDER BY source_sha256, kind"};
    struct buf all;
    buf_init(&all, 0);
    for (size_t q = 0; q < 4; q++) {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db_sqlite(db), sql[q], -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const unsigned char *t = sqlite3_column_text(st, c);
                assert_int_equal(buf_printf(&all, "%s\x1f", t ? (const char *)t : "NULL"), MERR_OK);
            }
        sqlite3_finalize(st);
        assert_int_equal(buf_putc(&all, '\x1e'), MERR_OK);
    }
    crypto_sha256_hex(s->hash, all.data, all.len);
    buf_free(&all);
    s->articles = test_db_int(db, "SELECT count(*) FROM articles");
    s->images = test_db_int(db, "SELECT count(*) FROM article_images");
    s->media = test_db_int(db, SQL_ORIGINALS);
    s->derived = test_db_int(db, "SELECT count(*) FROM media_derived");
}

static void assert_unchanged(const struct snapshot *a, const struct snapshot *b)
{
    assert_int_equal(a->articles, b->articles);
    assert_int_equal(a->images, b->images);
    assert_int_equal(a->media, b->media);
    assert_int_equal(a->derived, b->derived);
    assert_string_equal(a->hash, b->hash);
}

/* Adds every .json in examples/articles; returns how many were new. */
static int add_examples(struct fx *fx)
{
    DIR *d = opendir(fx->examples);
    struct dirent *e;
    int files = 0, created_n = 0;
    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[900];
        size_t n = strlen(e->d_name);
        char *id = NULL;
        int created = -1;
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", fx->examples, e->d_name);
        if (article_upsert_file(fx->db, &fx->cfg, path, &id, &created) != MERR_OK)
            fail_msg("%s: %s", path, merr_msg());
        assert_non_null(id);
        assert_true(created == 0 || created == 1);
        created_n += created;
        files++;
        free(id);
    }
    closedir(d);
    assert_int_equal(files, 6);
    return created_n;
}

/* Writes `json` to DIR/NAME and adds it. Returns the result; the message is in merr_msg(). */
static enum merr add_text(struct fx *fx, const char *name, const char *json)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    test_write_file(path, json);
    return article_upsert_file(fx->db, &fx->cfg, path, NULL, NULL);
}

static void assert_msg(const char *want)
{
    if (!strstr(merr_msg(), want))
        fail_msg("message \"%s\" lacks \"%s\"", merr_msg(), want);
}

#define GOOD_HEAD                                                                                  \
    "{\n  \"id\": \"probe\",\n  \"url\": \"https://hagiang.gov.vn/p\",\n"                          \
    "  \"published_at\": \"2021-10-05T19:18:00+07:00\",\n  \"body_html\": \"<p>Nội dung</p>\",\n"

/* ---- upsert ------------------------------------------------------------ */

static void examples_twice_leave_six(void **state)
{
    struct fx *fx = *state;
    struct snapshot s1, s2;

    assert_int_equal(add_examples(fx), 6);
    snap(fx->db, &s1);
    assert_int_equal(s1.articles, 6);
    assert_int_equal(s1.images, 12); /* 7 in the long article, 1 in each other */
    assert_int_equal(s1.media, 12);
    assert_int_equal(s1.derived, 24); /* a body image and a thumbnail of each photo */
    assert_int_equal(db_exec(fx->db, "UPDATE media_derived SET created_at = 1"), MERR_OK);
    assert_int_equal(add_examples(fx), 0); /* all six were updates */
    snap(fx->db, &s2);
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
    struct fx *fx = *state;
    struct article *a;
    char src[700], dst[700];
    int created = -1;
    char *id = NULL;

    snprintf(src, sizeof src, "%s/images/pccc.jpg", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/a.jpg", fx->dir);
    copy_file(src, dst);
    snprintf(src, sizeof src, "%s/images/logo.png", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/b.png", fx->dir);
    copy_file(src, dst);

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
}

static void load_keeps_vietnamese_and_order(void **state)
{
    struct fx *fx = *state;
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
    struct fx *fx = *state;
    struct article **v;
    size_t n;
    time_t t_pccc, t_end;

    add_examples(fx);
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
    struct fx *fx = *state;
    char src[700], dst[700], path[700], prefix[800];
    struct snapshot before, after;
    struct article *a;

    /* images/ holds a real JPEG and PNG, a text file named .jpg, and a
     * symlink to a real image outside the folder */
    snprintf(src, sizeof src, "%s/images/pccc.jpg", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/pccc.jpg", fx->dir);
    copy_file(src, dst);
    snprintf(src, sizeof src, "%s/images/logo.png", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/logo.png", fx->dir);
    copy_file(src, dst);
    snprintf(dst, sizeof dst, "%s/images/fake.jpg", fx->dir);
    test_write_file(dst, "this is text, not a photo\n");
    snprintf(src, sizeof src, "%s/images/bac-me-lam-san.jpg", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/outside.jpg", fx->dir);
    assert_int_equal(symlink(src, dst), 0);

    /* an existing "probe" article, so "unchanged" also covers an update */
    assert_int_equal(add_text(fx, "x.json",
                              GOOD_HEAD "  \"title\": \"Gốc\",\n"
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
        snap(fx->db, &before);
        merr_clear();
        rc = add_text(fx, "x.json", c->json);
        fx->cfg.image_max_bytes = old_img;
        fx->cfg.article_max_bytes = old_art;
        if (rc != c->rc)
            fail_msg("%s: got %s (%s), want %s", c->what, merr_str(rc), merr_msg(),
                     merr_str(c->rc));
        if (strncmp(merr_msg(), prefix, strlen(prefix)) != 0 || !strstr(merr_msg(), c->msg))
            fail_msg("%s: message \"%s\" lacks \"%s%s\"", c->what, merr_msg(), prefix, c->msg);
        snap(fx->db, &after);
        assert_unchanged(&before, &after);
    }
    assert_int_equal(article_load(fx->db, "probe", &a), MERR_OK);
    assert_string_equal(a->title, "Gốc");
    assert_int_equal(a->nimages, 1);
    article_free(a);
    assert_int_equal(test_db_int(fx->db, SQL_ORIGINALS), 1);
}

static void json_text_origin_names_input(void **state)
{
    struct fx *fx = *state;
    const char *bad = "{\"id\": \"a\"}";
    struct snapshot before, after;
    char *id = (char *)"x";

    snap(fx->db, &before);
    assert_int_equal(
        article_upsert_json(fx->db, &fx->cfg, bad, strlen(bad), fx->dir, "request", &id),
        MERR_INVAL);
    assert_null(id);
    assert_string_equal(merr_msg(), "request: url: missing (required)");
    snap(fx->db, &after);
    assert_unchanged(&before, &after);
}

/* ---- media ------------------------------------------------------------- */

static void same_photo_stored_once(void **state)
{
    struct fx *fx = *state;
    char src[700], dst[700];
    struct article *a, *b;

    snprintf(src, sizeof src, "%s/images/pccc.jpg", fx->examples);
    snprintf(dst, sizeof dst, "%s/images/one.jpg", fx->dir);
    copy_file(src, dst);
    snprintf(dst, sizeof dst, "%s/images/Ảnh hai.jpeg", fx->dir);
    copy_file(src, dst);
    assert_int_equal(
        add_text(fx, "a.json",
                 "{\"id\": \"a\", \"url\": \"https://a.vn/a\", \"title\": \"A\", \"body_html\": "
                 "\"x\", \"published_at\": \"2021-10-05T19:18:00Z\", "
                 "\"images\": [{\"src\": \"images/one.jpg\"}, {\"src\": \"images/one.jpg\"}]}"),
        MERR_OK);
    assert_int_equal(
        add_text(fx, "b.json",
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
    struct fx *fx = *state;
    char src[700], dst[700], root[700];

    snprintf(root, sizeof root, "%s/media", fx->dir);
    assert_int_equal(mkdir(root, 0755), 0);
    snprintf(src, sizeof src, "%s/images/logo.png", fx->examples);
    snprintf(dst, sizeof dst, "%s/logo.png", root);
    copy_file(src, dst);
    test_set_str(&fx->cfg.media_root, root);
    const char *j = "{\"id\": \"m\", \"url\": \"https://a.vn/m\", \"title\": \"M\", "
                    "\"body_html\": \"x\", \"published_at\": \"2021-10-05T19:18:00Z\", "
                    "\"images\": [{\"src\": \"logo.png\"}]}";
    assert_int_equal(add_text(fx, "m.json", j), MERR_OK);
    assert_int_equal(test_db_int(fx->db, SQL_ORIGINALS), 1);
    /* the JSON's own folder is not searched when a root is set */
    const char *k = "{\"id\": \"n\", \"url\": \"https://a.vn/n\", \"title\": \"N\", "
                    "\"body_html\": \"x\", \"published_at\": \"2021-10-05T19:18:00Z\", "
                    "\"images\": [{\"src\": \"../m.json\"}]}";
    assert_int_equal(add_text(fx, "n.json", k), MERR_INVAL);
    assert_msg("escapes its folder");
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
        assert_msg("not an image");
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
    struct fx *fx = *state;
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

/* ---- fetching by URL: a small HTTP/1.0 server on loopback ------------------ */

struct server {
    int fd;
    int port;
    atomic_int stop; /* set by server_stop, read by the serving thread */
    pthread_t th;
    struct buf png;        /* logo.png */
    long long stream_sent; /* bytes of /stream written before the client left */
    int requests;          /* requests read */
};

static void send_all(int c, const void *p, size_t n)
{
    const char *q = p;
    while (n) {
        ssize_t k = send(c, q, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        q += k;
        n -= (size_t)k;
    }
}

static void respond(struct server *s, int c, const char *path)
{
    char head[512];
    if (!strcmp(path, "/photo.png") || !strncmp(path, "/photo.png?", 11)) {
        snprintf(head, sizeof head,
                 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                 s->png.len);
        send_all(c, head, strlen(head));
        send_all(c, s->png.data, s->png.len);
    } else if (!strcmp(path, "/redirect")) {
        snprintf(head, sizeof head,
                 "HTTP/1.0 302 Found\r\nLocation: http://127.0.0.1:%d/photo.png\r\n"
                 "Content-Length: 0\r\n\r\n",
                 s->port);
        send_all(c, head, strlen(head));
    } else if (!strcmp(path, "/loop")) {
        const char *r = "HTTP/1.0 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    } else if (!strcmp(path, "/to-file")) {
        const char *r = "HTTP/1.0 302 Found\r\nLocation: file:///etc/passwd\r\n"
                        "Content-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    } else if (!strcmp(path, "/big-declared")) {
        const char *r = "HTTP/1.0 200 OK\r\nContent-Length: 999999999\r\n\r\n";
        send_all(c, r, strlen(r));
        send_all(c, s->png.data, s->png.len);
    } else if (!strcmp(path, "/stream")) {
        /* no Content-Length: only the running count can stop this */
        static char chunk[65536];
        long long sent = 0;
        const char *r = "HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n";
        memcpy(chunk, s->png.data, 64);
        send_all(c, r, strlen(r));
        while (sent < (64LL << 20)) {
            ssize_t k = send(c, chunk, sizeof chunk, MSG_NOSIGNAL);
            if (k <= 0)
                break;
            sent += k;
        }
        s->stream_sent = sent;
    } else if (!strcmp(path, "/text.jpg")) {
        const char *r = "HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 5\r\n"
                        "\r\nhello";
        send_all(c, r, strlen(r));
    } else if (!strcmp(path, "/slow")) {
        sleep(2);
    } else if (!strcmp(path, "/broken")) {
        const char *r = "HTTP/1.0 503 Unavailable\r\nContent-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    } else {
        const char *r = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        char req[4096], path[1024];
        size_t n = 0;
        int c;
        if (poll(&p, 1, 50) <= 0)
            continue;
        c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        while (n < sizeof req - 1) {
            ssize_t k = recv(c, req + n, sizeof req - 1 - n, 0);
            if (k <= 0)
                break;
            n += (size_t)k;
            req[n] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[n] = '\0';
        s->requests++;
        if (sscanf(req, "GET %1023s ", path) == 1)
            respond(s, c, path);
        close(c);
    }
    return NULL;
}

static void server_start(struct server *s)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    char path[700];

    memset(s, 0, sizeof *s);
    atomic_init(&s->stop, 0);
    buf_init(&s->png, 0);
    snprintf(path, sizeof path, "%s/examples/articles/images/logo.png", test_source_dir());
    assert_int_equal(buf_read_file(&s->png, path), MERR_OK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    close(s->fd);
    buf_free(&s->png);
}

static void fetch_by_url(void **state)
{
    struct fx *fx = *state;
    struct server srv;
    struct buf b;
    struct snapshot before, after;
    struct article *a;
    char url[256], json[1024];

    server_start(&srv);
    buf_init(&b, 0);
    fx->cfg.fetch_timeout_s = 1;
    fx->cfg.fetch_max_redirects = 3;
    /* loopback is refused unless listed (fetch_refuses_inside shows it) */
    free(fx->cfg.fetch_allow_nets);
    fx->cfg.fetch_allow_nets = strdup("127.0.0.0/8");

    snprintf(url, sizeof url, "http://127.0.0.1:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_OK);
    assert_int_equal(b.len, srv.png.len);
    assert_memory_equal(b.data, srv.png.data, b.len);
    buf_reset(&b);

    /* through a redirect, in an article: stored, named after the URL, typed by bytes */
    snprintf(json, sizeof json,
             "{\"id\": \"u\", \"url\": \"https://a.vn/u\", \"title\": \"U\", \"body_html\": "
             "\"x\", \"published_at\": \"2021-10-05T19:18:00+07:00\", \"images\": "
             "[{\"src\": \"http://127.0.0.1:%d/redirect\", \"caption\": \"Ảnh\"}]}",
             srv.port);
    assert_int_equal(add_text(fx, "u.json", json), MERR_OK);
    assert_int_equal(article_load(fx->db, "u", &a), MERR_OK);
    assert_int_equal(a->nimages, 1);
    assert_string_equal(a->images[0].content_type, "image/png");
    assert_string_equal(a->images[0].filename, "redirect.png");
    assert_int_equal(a->images[0].size, srv.png.len);
    assert_int_equal(a->images[0].width, 240);
    article_free(a);

    /* too many redirects; a redirect to file:; HTTP errors; not an image */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/loop", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_msg("more than 3 redirects");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/to-file", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_msg("redirected to a scheme other than http(s)");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_msg("HTTP status 404");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/broken", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_TEMPFAIL);
    assert_msg("HTTP status 503");
    assert_int_equal(b.len, 0);

    /* over the cap: declared, and streamed without a length (cut while receiving) */
    fx->cfg.image_max_bytes = 100000;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big-declared", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_LIMIT);
    assert_msg("over the image size limit of 100000 bytes");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stream", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_LIMIT);
    assert_msg("over the image size limit of 100000 bytes");
    assert_int_equal(b.len, 0);

    /* each failure inside an article changes nothing */
    static const struct {
        const char *path;
        enum merr rc;
        const char *msg;
    } bad[] = {
        {"/stream", MERR_LIMIT, "over the image size limit of 100000 bytes"},
        {"/text.jpg", MERR_INVAL, "not an image"},
        {"/to-file", MERR_INVAL, "redirected to a scheme"},
        {"/missing", MERR_INVAL, "HTTP status 404"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(json, sizeof json,
                 "{\"id\": \"u\", \"url\": \"https://a.vn/u\", \"title\": \"U2\", \"body_html\": "
                 "\"x\", \"published_at\": \"2021-10-05T19:18:00+07:00\", \"images\": "
                 "[{\"src\": \"http://127.0.0.1:%d%s\"}]}",
                 srv.port, bad[i].path);
        snap(fx->db, &before);
        assert_int_equal(add_text(fx, "u.json", json), bad[i].rc);
        assert_msg("u.json: images[0].src: http://127.0.0.1:");
        assert_msg(bad[i].msg);
        snap(fx->db, &after);
        assert_unchanged(&before, &after);
    }
    /* time-out (last: the server sleeps on it and serves nobody else meanwhile) */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_TEMPFAIL);
    assert_msg("timed out after 1 s");
    server_stop(&srv);
    /* the streamed body was abandoned long before its 64 MiB were sent */
    assert_true(srv.stream_sent < (32LL << 20));

    /* nobody listening: temporary */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_TEMPFAIL);
    buf_free(&b);
}

/*
 * SSRF (issue 16 item 4): loopback, private, link-local and every other
 * spelling of them are refused before anything connects, on the first hop
 * and after a redirect, with one text whatever refused, and nothing reaches
 * the server; the allow-lists open exactly what they name.
 */
static void fetch_refuses_inside(void **state)
{
    struct fx *fx = *state;
    struct server srv;
    struct buf b;
    char url[256], first[1024];
    static const char *const hosts[] = {
        "127.0.0.1",          "0x7f000001", "2130706433", "127.1",   "0177.0.0.1",
        "[::ffff:127.0.0.1]", "[::1]",      "localhost",  "0.0.0.0",
    };
    static const char *const inside[] = {
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/a.png",
        "http://192.168.1.1/a.png",
        "http://100.64.0.1/a.png",
        "http://172.16.0.1/a.png",
        "http://[fe80::1]/a.png",
        "http://[fd00::1]/a.png",
        "http://224.0.0.1/a.png",
    };

    server_start(&srv);
    buf_init(&b, 0);
    fx->cfg.fetch_timeout_s = 1;
    fx->cfg.fetch_max_redirects = 3;
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        snprintf(url, sizeof url, "http://%s:%d/photo.png", hosts[i], srv.port);
        assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
        assert_msg("not fetched: images are fetched only from public addresses");
        assert_int_equal(b.len, 0);
        /* the same words whatever the address: the text depends on the URL alone */
        if (i == 0)
            snprintf(first, sizeof first, "%s", merr_msg() + strlen(url));
        else
            assert_string_equal(merr_msg() + strlen(url), first);
    }
    for (size_t i = 0; i < sizeof inside / sizeof *inside; i++) {
        assert_int_equal(media_fetch(&fx->cfg, inside[i], &b), MERR_INVAL);
        assert_string_equal(merr_msg() + strlen(inside[i]), first);
    }
    /* a closed port answers as an open one: nothing to scan with */
    snprintf(url, sizeof url, "http://127.0.0.1:1/photo.png");
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_string_equal(merr_msg() + strlen(url), first);

    /* allowed inside by network: fetched; a redirect from there to another inside host is not */
    free(fx->cfg.fetch_allow_nets);
    fx->cfg.fetch_allow_nets = strdup("127.0.0.1/32");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_OK);
    assert_int_equal(b.len, srv.png.len);
    buf_reset(&b);
    snprintf(url, sizeof url, "http://127.0.0.2:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_string_equal(merr_msg() + strlen(url), first);

    /* a host list: only those names, on every hop (the redirect goes to 127.0.0.1) */
    free(fx->cfg.fetch_allow_hosts);
    fx->cfg.fetch_allow_hosts = strdup("cms.example.vn, LOCALHOST");
    snprintf(url, sizeof url, "http://localhost:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_OK);
    buf_reset(&b);
    snprintf(url, sizeof url, "http://localhost:%d/redirect", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_string_equal(merr_msg() + strlen(url), first);
    assert_int_equal(b.len, 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/photo.png", srv.port);
    assert_int_equal(media_fetch(&fx->cfg, url, &b), MERR_INVAL);
    assert_string_equal(merr_msg() + strlen(url), first);
    server_stop(&srv);
    assert_int_equal(srv.requests, 3); /* the three allowed ones, nothing else */
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(examples_twice_leave_six, setup, teardown,
                                                 "art-twice"),
        cmocka_unit_test_prestate_setup_teardown(update_replaces_fields_and_images, setup, teardown,
                                                 "art-update"),
        cmocka_unit_test_prestate_setup_teardown(load_keeps_vietnamese_and_order, setup, teardown,
                                                 "art-load"),
        cmocka_unit_test_prestate_setup_teardown(list_window_order_category, setup, teardown,
                                                 "art-list"),
        cmocka_unit_test_prestate_setup_teardown(refusals_name_field_and_change_nothing, setup,
                                                 teardown, "art-bad"),
        cmocka_unit_test_prestate_setup_teardown(json_text_origin_names_input, setup, teardown,
                                                 "art-origin"),
        cmocka_unit_test_prestate_setup_teardown(same_photo_stored_once, setup, teardown,
                                                 "art-dedup"),
        cmocka_unit_test_prestate_setup_teardown(media_root_wins, setup, teardown, "art-root"),
        cmocka_unit_test(sniff_types_and_sizes),
        cmocka_unit_test(safe_filenames),
        cmocka_unit_test_prestate_setup_teardown(base64_computed_once_and_cached, setup, teardown,
                                                 "art-b64"),
        cmocka_unit_test_prestate_setup_teardown(fetch_by_url, setup, teardown, "art-fetch"),
        cmocka_unit_test_prestate_setup_teardown(fetch_refuses_inside, setup, teardown, "art-ssrf"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
