/*
 * test_media_image.c: the images derived for mail (mailer/articles/media_image.c):
 * sizes and formats, EXIF orientation applied and every metadata segment
 * gone from the bytes, a decompression bomb and a truncated file refused by
 * name with nothing stored, derived images made on first use and by
 * `mailer init` for a database from before them, and made again for a new
 * recipe. The camera-sized photos (4000 x 3000 with GPS, CMYK, WebP,
 * animated GIF) are in tests/media/test_images.py, checked with exiftool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles.h"
#include "date.h"
#include "media.h"
#include "media_image.h"
#include "image_meta.h"
#include "testutil.h"

struct fx {
    struct db *db;
    struct config cfg;
    char dir[512];
    char examples[512];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    char path[700];
    snprintf(fx->dir, sizeof fx->dir, "%s", test_tmpdir((const char *)*state));
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

static void read_example(const struct fx *fx, const char *name, struct buf *b)
{
    char path[700];
    snprintf(path, sizeof path, "%s/images/%s", fx->examples, name);
    buf_init(b, 0);
    assert_int_equal(buf_read_file(b, path), MERR_OK);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void assert_msg(const char *want)
{
    if (!strstr(merr_msg(), want))
        fail_msg("message \"%s\" lacks \"%s\"", merr_msg(), want);
}

/* Derives `use` from `b`; fails the test on an error. */
static void derive(const struct fx *fx, const struct buf *b, enum media_use use,
                   struct media_image *out)
{
    struct media_info src;
    assert_int_equal(media_sniff((unsigned char *)b->data, b->len, &src), MERR_OK);
    if (media_image_derive(&fx->cfg, "test", b->data, b->len, &src, use, out))
        fail_msg("%s", merr_msg());
}

/*
 * `b` with an EXIF APP1 segment put after SOI: orientation `orient` and a
 * GPS IFD holding a latitude (the TIFF layout of EXIF 2.32 §4.6).
 */
static void add_exif(struct buf *b, int orient)
{
    static const unsigned char tiff[] = {
        'M',  'M',  0, 42, 0, 0, 0, 8,                /* big-endian TIFF, IFD0 at 8 */
        0,    2,                                      /* IFD0: 2 entries */
        0x01, 0x12, 0, 3,  0, 0, 0, 1, 0,   0, 0, 0,  /* Orientation SHORT = patched below */
        0x88, 0x25, 0, 4,  0, 0, 0, 1, 0,   0, 0, 38, /* GPS IFD pointer LONG -> 38 */
        0,    0,    0, 0,                             /* no next IFD */
        0,    1,                                      /* GPS IFD at 38: 1 entry */
        0x00, 0x01, 0, 2,  0, 0, 0, 2, 'N', 0, 0, 0,  /* GPSLatitudeRef ASCII "N" */
        0,    0,    0, 0};
    unsigned char seg[4 + 6 + sizeof tiff];
    struct buf out;
    size_t len = 2 + 6 + sizeof tiff;
    seg[0] = 0xFF;
    seg[1] = 0xE1;
    seg[2] = (unsigned char)(len >> 8);
    seg[3] = (unsigned char)len;
    memcpy(seg + 4, "Exif\0\0", 6);
    memcpy(seg + 10, tiff, sizeof tiff);
    seg[10 + 19] = (unsigned char)orient;
    buf_init(&out, 0);
    assert_int_equal(buf_append(&out, b->data, 2), MERR_OK);
    assert_int_equal(buf_append(&out, seg, sizeof seg), MERR_OK);
    assert_int_equal(buf_append(&out, b->data + 2, b->len - 2), MERR_OK);
    buf_free(b);
    *b = out;
}

static void sizes_formats_and_no_metadata(void **state)
{
    struct fx *fx = *state;
    struct media_image body, thumb, logo;
    struct buf b, png;

    read_example(fx, "pccc.jpg", &b); /* 600 x 400 */
    add_exif(&b, 6);                  /* "rotate 90 CW to display" */
    assert_int_equal(image_meta_jpeg((unsigned char *)b.data, b.len), 1);
    derive(fx, &b, MEDIA_USE_BODY, &body);
    derive(fx, &b, MEDIA_USE_THUMB, &thumb);
    /* never enlarged; upright: the 600 x 400 photo is shown 400 x 600 */
    assert_string_equal(body.info.content_type, "image/jpeg");
    assert_int_equal(body.info.width, 400);
    assert_int_equal(body.info.height, 600);
    /* the thumbnail is the digest's box at twice its size, whatever the photo's shape */
    assert_string_equal(thumb.info.content_type, "image/jpeg");
    assert_int_equal(thumb.info.width, 2 * MEDIA_THUMB_CSS_W);
    assert_int_equal(thumb.info.height, 2 * MEDIA_THUMB_CSS_H);
    assert_int_equal(image_meta_jpeg((unsigned char *)body.bytes.data, body.bytes.len), 0);
    assert_int_equal(image_meta_jpeg((unsigned char *)thumb.bytes.data, thumb.bytes.len), 0);
    assert_null(memmem(body.bytes.data, body.bytes.len, "Exif", 4));
    /* progressive: SOF2 (ITU T.81 B.1.1.3) */
    assert_non_null(memmem(body.bytes.data, body.bytes.len, "\xFF\xC2", 2));
    assert_int_equal(body.info.size, body.bytes.len);

    /* a graphic with transparency stays PNG */
    read_example(fx, "logo.png", &png);
    derive(fx, &png, MEDIA_USE_BODY, &logo);
    assert_string_equal(logo.info.content_type, "image/png");
    assert_int_equal(logo.info.width, 240);
    assert_int_equal(logo.info.height, 60);
    /* the 16-bit logo becomes 8-bit RGBA (IHDR bit depth 8, colour type 6: PNG §11.2.2) */
    assert_int_equal(png.data[24], 16);
    assert_int_equal(logo.bytes.data[24], 8);
    assert_int_equal(logo.bytes.data[25], 6);
    media_image_free(&logo);
    media_image_free(&body);
    media_image_free(&thumb);
    buf_free(&b);
    buf_free(&png);
}

/* A PNG of `w` x `h` as far as its header goes (signature and IHDR, PNG §11.2.2). */
static void png_header(struct buf *b, unsigned w, unsigned h)
{
    unsigned char p[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n',
                           0,    0,   0,   13,  'I',  'H',  'D',  'R'};
    for (int i = 0; i < 4; i++) {
        p[16 + i] = (unsigned char)(w >> (24 - 8 * i));
        p[20 + i] = (unsigned char)(h >> (24 - 8 * i));
    }
    p[24] = 1; /* bit depth 1, grey */
    buf_init(b, 0);
    assert_int_equal(buf_append(b, p, sizeof p), MERR_OK);
}

static void bomb_and_truncated_refused_by_name(void **state)
{
    struct fx *fx = *state;
    struct media_image img;
    struct media_info src;
    struct buf b;

    png_header(&b, 20000, 20000);
    assert_int_equal(media_sniff((unsigned char *)b.data, b.len, &src), MERR_OK);
    assert_int_equal(
        media_image_derive(&fx->cfg, "images/bomb.png", b.data, b.len, &src, MEDIA_USE_BODY, &img),
        MERR_LIMIT);
    assert_msg("images/bomb.png: 20000x20000 is 400000000 pixels, over the limit of 50000000");
    assert_msg("[media] max_pixels");
    assert_null(img.bytes.data);
    buf_free(&b);

    /*
     * A sliver within the limit (20 x 2,000,000 = 40 M pixels) is refused as
     * a thumbnail: covering the 240 x 160 box scales it to 240 x 24,000,000
     * before the crop (found by fuzz_media as a 20 x 36,740 GIF: 2 GB). As
     * the share's photo (never enlarged) it passes the check.
     */
    png_header(&b, 20, 2000000);
    assert_int_equal(media_sniff((unsigned char *)b.data, b.len, &src), MERR_OK);
    assert_int_equal(media_image_derive(&fx->cfg, "images/sliver.png", b.data, b.len, &src,
                                        MEDIA_USE_THUMB, &img),
                     MERR_LIMIT);
    assert_msg("images/sliver.png: 20x2000000 is too narrow or too flat for a thumbnail: filling "
               "its 240x160 box would take 5760000000 pixels, over the limit of 50000000");
    assert_null(img.bytes.data);
    buf_free(&b);

    read_example(fx, "pccc.jpg", &b);
    b.len /= 2;
    assert_int_equal(media_sniff((unsigned char *)b.data, b.len, &src), MERR_OK);
    for (int u = 0; u < MEDIA_USES; u++) {
        assert_int_equal(media_image_derive(&fx->cfg, "images/cut.jpg", b.data, b.len, &src,
                                            (enum media_use)u, &img),
                         MERR_INVAL);
        assert_msg("images/cut.jpg: truncated JPEG, cannot be decoded (libvips: ");
        assert_null(img.bytes.data);
    }
    /* garbage where the markers should be: corrupt (garbage inside the scan is not
     * detectable: libjpeg decodes it to garbage pixels with a warning) */
    memset(b.data + 3, 0x5A, 200);
    assert_int_equal(
        media_image_derive(&fx->cfg, "images/bad.jpg", b.data, b.len, &src, MEDIA_USE_BODY, &img),
        MERR_INVAL);
    assert_msg("images/bad.jpg: ");
    assert_msg("JPEG, cannot be decoded");
    buf_free(&b);
}

static int count(struct db *db, const char *sql)
{
    return (int)test_db_int(db, sql);
}

static void article_with_bad_photo_stores_nothing(void **state)
{
    struct fx *fx = *state;
    struct buf b, bomb;
    char path[700], json[2000];
    const char *head = "{\"id\": \"x\", \"url\": \"https://a.vn/x\", \"title\": \"X\", "
                       "\"body_html\": \"x\", \"published_at\": \"2021-10-05T19:18:00Z\", ";

    read_example(fx, "pccc.jpg", &b);
    snprintf(path, sizeof path, "%s/images/good.jpg", fx->dir);
    write_bytes(path, b.data, b.len);
    snprintf(path, sizeof path, "%s/images/cut.jpg", fx->dir);
    write_bytes(path, b.data, b.len - 3000);
    png_header(&bomb, 20000, 20000);
    snprintf(path, sizeof path, "%s/images/bomb.png", fx->dir);
    write_bytes(path, bomb.data, bomb.len);

    /* the good photo first: its derived images are made, then the article is refused */
    snprintf(path, sizeof path, "%s/x.json", fx->dir);
    snprintf(json, sizeof json,
             "%s\"images\": [{\"src\": \"images/good.jpg\"}, {\"src\": \"images/cut.jpg\"}]}",
             head);
    test_write_file(path, json);
    assert_int_equal(article_add_file(fx->db, &fx->cfg, path, NULL), MERR_INVAL);
    assert_msg("x.json: images[1].src: images/cut.jpg: truncated JPEG");
    snprintf(json, sizeof json,
             "%s\"images\": [{\"src\": \"images/good.jpg\"}, {\"src\": \"images/bomb.png\"}]}",
             head);
    test_write_file(path, json);
    assert_int_equal(article_add_file(fx->db, &fx->cfg, path, NULL), MERR_LIMIT);
    assert_msg("x.json: images[1].src: images/bomb.png: 20000x20000 is 400000000 pixels");
    assert_int_equal(count(fx->db, "SELECT count(*) FROM media"), 0);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM media_derived"), 0);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM articles"), 0);
    buf_free(&b);
    buf_free(&bomb);
}

static void add_pccc(struct fx *fx, struct article **a)
{
    char path[700];
    snprintf(path, sizeof path, "%s/tin-pccc-20211005.json", fx->examples);
    assert_int_equal(article_add_file(fx->db, &fx->cfg, path, NULL), MERR_OK);
    assert_int_equal(article_load(fx->db, "tin-pccc-20211005", a), MERR_OK);
}

static void first_use_and_init_make_missing_images(void **state)
{
    struct fx *fx = *state;
    struct article *a;
    struct media_info info, stored;
    struct buf b64;
    char recipe[MEDIA_RECIPE_LEN];
    size_t made, failed;

    add_pccc(fx, &a);
    const char *sha = a->images[0].sha256;
    assert_int_equal(count(fx->db, "SELECT count(*) FROM media_derived"), 2);

    /* a database from before derived images: none stored */
    assert_int_equal(db_exec(fx->db, "DELETE FROM media_derived"), MERR_OK);
    buf_init(&b64, 0);
    assert_int_equal(media_image_for_mail(fx->db, &fx->cfg, sha, MEDIA_USE_THUMB, &info, &b64),
                     MERR_OK);
    assert_int_equal(info.width, 240);
    assert_int_equal(info.height, 160);
    assert_true(b64.len > info.size * 4 / 3);
    /* made on first use, and kept */
    media_image_recipe(&fx->cfg, MEDIA_USE_THUMB, recipe);
    assert_int_equal(media_store_derived_get(fx->db, sha, MEDIA_USE_THUMB, recipe, &stored),
                     MERR_OK);
    assert_string_equal(stored.sha256, info.sha256);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM media_derived"), 1);

    /* `mailer init` makes the rest */
    assert_int_equal(media_image_derive_missing(fx->db, &fx->cfg, &made, &failed), MERR_OK);
    assert_int_equal(made, 1);
    assert_int_equal(failed, 0);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM media_derived"), 2);
    assert_int_equal(media_image_derive_missing(fx->db, &fx->cfg, &made, &failed), MERR_OK);
    assert_int_equal(made, 0);

    /* another quality is another recipe: made again on next use, row replaced */
    fx->cfg.media_jpeg_quality = 50;
    buf_reset(&b64);
    assert_int_equal(media_image_for_mail(fx->db, &fx->cfg, sha, MEDIA_USE_BODY, &info, &b64),
                     MERR_OK);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM media_derived WHERE recipe LIKE '%q50'"),
                     1);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM media_derived"), 2);

    /* a photo whose bytes are gone: not found, nothing made */
    assert_int_equal(db_exec(fx->db, "DELETE FROM media_derived"), MERR_OK);
    assert_int_equal(media_image_for_mail(fx->db, &fx->cfg, "ffff", MEDIA_USE_BODY, &info, &b64),
                     MERR_NOTFOUND);
    buf_free(&b64);
    article_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(sizes_formats_and_no_metadata, setup, teardown,
                                                 "img-sizes"),
        cmocka_unit_test_prestate_setup_teardown(bomb_and_truncated_refused_by_name, setup,
                                                 teardown, "img-bad"),
        cmocka_unit_test_prestate_setup_teardown(article_with_bad_photo_stores_nothing, setup,
                                                 teardown, "img-article"),
        cmocka_unit_test_prestate_setup_teardown(first_use_and_init_make_missing_images, setup,
                                                 teardown, "img-first-use"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
