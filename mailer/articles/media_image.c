/*
 * media_image.c: photos made fit for mail with libvips.
 *
 * libvips is started once per process, the first time an image is derived,
 * and set up for a server rather than for a desktop: [media] threads worker
 * threads per image (default 1: the JPEG decoder is single-threaded anyway,
 * photos are derived one at a time when an article is added, and the same
 * cores deliver mail and answer HTTP; bench/media measures 1 against 2); the
 * operation cache off (it keeps up to 100 MB of results for re-use, and a
 * server never derives the same photo twice); every loader blocked except
 * the four formats media_sniff() admits, so bytes that libvips would hand to
 * ImageMagick, PDF or SVG code are refused before any of it runs; libvips'
 * warnings go to our log at debug level instead of raw to stderr.
 *
 * Memory stays small because nothing is decoded at full size that does not
 * need to be: the pixel count is checked from the header (media_sniff's
 * reading, then libvips' own) before any decoding, against [media]
 * max_pixels, so a 20,000 x 20,000 PNG of a few hundred KB is refused
 * without allocating its 1.6 GB; vips_thumbnail_buffer() then decodes with
 * shrink-on-load (a 4000 x 3000 JPEG is decoded at 2000 x 1500 for the body
 * size and at 500 x 375 for the thumbnail) and streams the rest; the result
 * (at most 1200 x 3600) is held in memory once, where decode errors surface.
 *
 * libvips 8.14 traps (README "Library traps"): vips_thumbnail_buffer()
 * ignores its own fail_on argument (only the file variant passes it to the
 * loader), so "fail_on=error" goes in its option_string, or a truncated
 * JPEG is silently completed with grey; the pipeline is lazy, so errors
 * appear at the first evaluation (vips_image_copy_memory here), not at the
 * call that built it; the error buffer is process-wide, so it is read and
 * cleared in one step with vips_error_buffer_copy().
 */
#include "media_image.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

#include "articles.h"
#include "enc.h"
#include "log.h"

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static int init_state; /* 0 not yet, 1 ready, -1 failed */

/* The loader classes (and their File/Buffer/Source subclasses) left unblocked. */
static const char *const LOADERS[] = {"VipsForeignLoadJpeg", "VipsForeignLoadPng",
                                      "VipsForeignLoadNsgif", "VipsForeignLoadWebp"};

const char *media_use_name(enum media_use use)
{
    switch (use) {
    case MEDIA_USE_BODY:
        return "body";
    case MEDIA_USE_THUMB:
        return "thumb";
    }
    return "?";
}

void media_image_recipe(const struct config *cfg, enum media_use use, char out[MEDIA_RECIPE_LEN])
{
    if (use == MEDIA_USE_THUMB)
        snprintf(out, MEDIA_RECIPE_LEN, "v1 thumb %dx%d crop-centre q%d", 2 * MEDIA_THUMB_CSS_W,
                 2 * MEDIA_THUMB_CSS_H, cfg->media_jpeg_quality);
    else
        snprintf(out, MEDIA_RECIPE_LEN, "v1 body %dx%d q%d", MEDIA_BODY_MAX_W, MEDIA_BODY_MAX_H,
                 cfg->media_jpeg_quality);
}

static void image_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    (void)domain;
    (void)level;
    (void)data;
    log_debug("libvips: %s", msg);
}

static enum merr image_init(const struct config *cfg)
{
    int state;
    pthread_mutex_lock(&init_mu);
    if (init_state == 0) {
        if (VIPS_INIT("mailer")) {
            char *e = vips_error_buffer_copy();
            log_error("libvips: cannot initialise: %s", e ? e : "");
            g_free(e);
            init_state = -1;
        } else {
            vips_concurrency_set(cfg->media_threads);
            vips_cache_set_max(0);
            vips_cache_set_max_mem(0);
            vips_cache_set_max_files(0);
            vips_block_untrusted_set(TRUE);
            vips_operation_block_set("VipsForeignLoad", TRUE);
            for (size_t i = 0; i < sizeof LOADERS / sizeof *LOADERS; i++)
                vips_operation_block_set(LOADERS[i], FALSE);
            g_log_set_handler("VIPS",
                              G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO |
                                  G_LOG_LEVEL_DEBUG,
                              image_log, NULL);
            init_state = 1;
        }
    }
    state = init_state;
    pthread_mutex_unlock(&init_mu);
    return state > 0 ? MERR_OK : merr_set(MERR_INTERNAL, "libvips: cannot initialise");
}

static const char *format_name(const char *content_type)
{
    if (!strcmp(content_type, "image/jpeg"))
        return "JPEG";
    if (!strcmp(content_type, "image/png"))
        return "PNG";
    if (!strcmp(content_type, "image/gif"))
        return "GIF";
    if (!strcmp(content_type, "image/webp"))
        return "WebP";
    return "image";
}

/*
 * The error of a failed libvips call, with libvips' text (read and cleared):
 * "NAME: truncated JPEG (libvips: ...)" or "NAME: corrupt JPEG (...)".
 */
static enum merr decode_failed(const char *name, const char *content_type)
{
    char *e = vips_error_buffer_copy();
    size_t n = e ? strlen(e) : 0;
    int truncated;
    enum merr rc;

    for (size_t i = 0; i < n; i++)
        if (e[i] == '\n' || e[i] == '\r')
            e[i] = (i + 1 == n) ? '\0' : ' ';
    truncated = e && (strcasestr(e, "premature end") || strcasestr(e, "truncated") ||
                      strcasestr(e, "unexpected end") || strcasestr(e, "end of file") ||
                      strcasestr(e, "not enough data"));
    rc = merr_set(MERR_INVAL, "%.200s: %s %s, cannot be decoded (libvips: %.300s)", name,
                  truncated ? "truncated" : "corrupt", format_name(content_type),
                  e && *e ? e : "no detail");
    g_free(e);
    return rc;
}

static enum merr too_many_pixels(const struct config *cfg, const char *name, long long w,
                                 long long h)
{
    if (w * h <= (long long)cfg->media_max_pixels)
        return MERR_OK;
    return merr_set(MERR_LIMIT,
                    "%.200s: %lldx%lld is %lld pixels, over the limit of %d ([media] "
                    "max_pixels): refused before decoding",
                    name, w, h, w * h, cfg->media_max_pixels);
}

/*
 * A thumbnail fills its box and is then cropped (VIPS_SIZE_BOTH with
 * VIPS_INTERESTING_CENTRE): an image far narrower or flatter than the box
 * is first scaled up until it covers the box, and that intermediate image
 * must fit the pixel limit too. A 20 x 36,740 GIF (734,800 pixels) would
 * become 240 x 440,880 before the crop: 2 GB of memory (found by
 * fuzz_media).
 */
static enum merr thumb_too_large(const struct config *cfg, const char *name, long long w,
                                 long long h)
{
    double sw = (double)(2 * MEDIA_THUMB_CSS_W) / (double)(w > 0 ? w : 1);
    double sh = (double)(2 * MEDIA_THUMB_CSS_H) / (double)(h > 0 ? h : 1);
    double s = sw > sh ? sw : sh;
    double px = (double)w * s * (double)h * s;

    if (s <= 1.0 || px <= (double)cfg->media_max_pixels)
        return MERR_OK;
    return merr_set(MERR_LIMIT,
                    "%.200s: %lldx%lld is too narrow or too flat for a thumbnail: filling its "
                    "%dx%d box would take %.0f pixels, over the limit of %d ([media] "
                    "max_pixels): refused before decoding",
                    name, w, h, 2 * MEDIA_THUMB_CSS_W, 2 * MEDIA_THUMB_CSS_H, px,
                    cfg->media_max_pixels);
}

void media_image_free(struct media_image *img)
{
    if (img)
        buf_free(&img->bytes);
}

enum merr media_image_derive(const struct config *cfg, const char *name, const void *bytes,
                             size_t n, const struct media_info *src, enum media_use use,
                             struct media_image *out)
{
    VipsImage *hdr = NULL, *thumb = NULL, *rgb = NULL, *mem = NULL, *tmp = NULL;
    void *jpg = NULL, *png = NULL;
    size_t jlen = 0, plen = 0;
    int alpha, as_png, r;
    enum merr rc;

    memset(out, 0, sizeof *out);
    buf_init(&out->bytes, 0);
    rc = image_init(cfg);
    if (rc)
        return rc;
    /* The header, twice (ours, then libvips'), before a pixel is decoded. */
    if (src->width > 0 && src->height > 0) {
        rc = too_many_pixels(cfg, name, src->width, src->height);
        if (!rc && use == MEDIA_USE_THUMB)
            rc = thumb_too_large(cfg, name, src->width, src->height);
        if (rc)
            return rc;
    }
    hdr = vips_image_new_from_buffer(bytes, n, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!hdr)
        return decode_failed(name, src->content_type);
    rc = too_many_pixels(cfg, name, hdr->Xsize, hdr->Ysize);
    if (!rc && use == MEDIA_USE_THUMB)
        rc = thumb_too_large(cfg, name, hdr->Xsize, hdr->Ysize);
    g_object_unref(hdr);
    if (rc)
        return rc;

    /* Upright (EXIF orientation), sRGB (embedded profile, or the CMYK fallback), resized. */
    if (use == MEDIA_USE_THUMB)
        r = vips_thumbnail_buffer((void *)bytes, n, &thumb, 2 * MEDIA_THUMB_CSS_W, "height",
                                  2 * MEDIA_THUMB_CSS_H, "size", VIPS_SIZE_BOTH, "crop",
                                  VIPS_INTERESTING_CENTRE, "option_string", "fail_on=error", NULL);
    else
        r = vips_thumbnail_buffer((void *)bytes, n, &thumb, MEDIA_BODY_MAX_W, "height",
                                  MEDIA_BODY_MAX_H, "size", VIPS_SIZE_DOWN, "option_string",
                                  "fail_on=error", NULL);
    if (r)
        return decode_failed(name, src->content_type);
    r = vips_colourspace(thumb, &rgb, VIPS_INTERPRETATION_sRGB, NULL);
    if (!r && rgb->BandFmt != VIPS_FORMAT_UCHAR) {
        r = vips_cast_uchar(rgb, &tmp, NULL);
        g_object_unref(rgb);
        rgb = tmp;
        tmp = NULL;
    }
    /* Decoding happens here: truncated and corrupt files fail at this point. */
    if (!r && !(mem = vips_image_copy_memory(rgb)))
        r = -1;
    if (r) {
        rc = decode_failed(name, src->content_type);
        goto out;
    }

    /* An alpha channel that is opaque everywhere is no transparency. */
    alpha = vips_image_hasalpha(mem);
    if (alpha) {
        double min = 0;
        r = vips_extract_band(mem, &tmp, mem->Bands - 1, NULL);
        if (!r)
            r = vips_min(tmp, &min, NULL);
        g_object_unref(tmp);
        tmp = NULL;
        if (!r && min >= 255) {
            r = vips_extract_band(mem, &tmp, 0, "n", mem->Bands - 1, NULL);
            if (!r) {
                g_object_unref(mem);
                mem = tmp;
                tmp = NULL;
                alpha = 0;
            }
        }
        if (r) {
            rc = decode_failed(name, src->content_type);
            goto out;
        }
    }

    /* strip: no EXIF, GPS, XMP, IPTC, ICC or comments in what goes into mail. */
    if (!alpha && vips_jpegsave_buffer(mem, &jpg, &jlen, "Q", cfg->media_jpeg_quality, "interlace",
                                       TRUE, "optimize_coding", TRUE, "strip", TRUE, NULL)) {
        rc = decode_failed(name, src->content_type);
        goto out;
    }
    if ((alpha || strcmp(src->content_type, "image/jpeg") != 0) &&
        vips_pngsave_buffer(mem, &png, &plen, "strip", TRUE, NULL)) {
        rc = decode_failed(name, src->content_type);
        goto out;
    }
    as_png = alpha || (png && plen * 2 <= jlen * 3);
    rc = buf_append(&out->bytes, as_png ? png : jpg, as_png ? plen : jlen);
    if (!rc)
        rc = media_sniff((const unsigned char *)out->bytes.data, out->bytes.len, &out->info);
    if (rc)
        rc = merr_wrap(rc, "%.200s: derived %s image", name, media_use_name(use));
out:
    g_free(jpg);
    g_free(png);
    if (thumb)
        g_object_unref(thumb);
    if (rgb)
        g_object_unref(rgb);
    if (mem)
        g_object_unref(mem);
    if (rc)
        media_image_free(out);
    return rc;
}

/* ---- derived images in the store ---------------------------------------- */

/*
 * Stores `img` in a transaction of its own. Inside someone's transaction it
 * is not stored (it would share that transaction's fate); a failure is
 * logged: the image is made again next time.
 */
static void store_own(struct db *db, const char *source, enum media_use use, const char *recipe,
                      const struct media_image *img)
{
    enum merr rc;
    if (!sqlite3_get_autocommit(db_sqlite(db)))
        return;
    rc = db_begin(db);
    if (!rc)
        rc = media_store_derived_put(db, source, use, recipe, img);
    if (!rc)
        rc = db_commit(db);
    if (rc) {
        db_rollback(db);
        log_warn("media %.64s: cannot store its %s image: %s", source, media_use_name(use),
                 merr_msg());
    }
}

/* Reads photo `sha256` from the store and derives its `use` image into `img`. */
static enum merr derive_stored(struct db *db, const struct config *cfg, const char *sha256,
                               enum media_use use, struct media_image *img)
{
    struct media_info src;
    struct buf orig;
    char name[80];
    enum merr rc;

    memset(img, 0, sizeof *img);
    snprintf(name, sizeof name, "photo %.64s", sha256);
    buf_init(&orig, 0);
    rc = media_bytes(db, sha256, &orig);
    if (!rc)
        rc = media_sniff((const unsigned char *)orig.data, orig.len, &src);
    if (rc == MERR_INVAL)
        merr_wrap(rc, "%s", name);
    if (!rc)
        rc = media_image_derive(cfg, name, orig.data, orig.len, &src, use, img);
    buf_free(&orig);
    return rc;
}

enum merr media_image_stored(struct db *db, const struct config *cfg, const char *sha256,
                             enum media_use use, struct media_info *info, struct buf *b64)
{
    char recipe[MEDIA_RECIPE_LEN];
    enum merr rc;

    media_image_recipe(cfg, use, recipe);
    rc = media_store_derived_get(db, sha256, use, recipe, info);
    return rc ? rc : media_base64(db, info->sha256, b64);
}

enum merr media_image_for_mail(struct db *db, const struct config *cfg, const char *sha256,
                               enum media_use use, struct media_info *info, struct buf *b64)
{
    struct media_image img;
    char recipe[MEDIA_RECIPE_LEN];
    enum merr rc;

    rc = media_image_stored(db, cfg, sha256, use, info, b64);
    if (rc != MERR_NOTFOUND)
        return rc;
    media_image_recipe(cfg, use, recipe);
    /* First use: a database from before derived images, or a new recipe. */
    rc = derive_stored(db, cfg, sha256, use, &img);
    if (rc)
        return rc;
    log_info("media %.64s: %s image made on first use (%dx%d, %zu bytes)", sha256,
             media_use_name(use), img.info.width, img.info.height, img.info.size);
    store_own(db, sha256, use, recipe, &img);
    *info = img.info;
    rc = enc_base64(b64, (const unsigned char *)img.bytes.data, img.bytes.len, 1);
    media_image_free(&img);
    return rc;
}

enum merr media_image_derive_missing(struct db *db, const struct config *cfg, size_t *made,
                                     size_t *failed)
{
    char keys[32][65], after[65];
    enum merr rc = MERR_OK;

    *made = *failed = 0;
    for (int u = 0; u < MEDIA_USES && !rc; u++) {
        enum media_use use = (enum media_use)u;
        char recipe[MEDIA_RECIPE_LEN];
        size_t n;
        media_image_recipe(cfg, use, recipe);
        after[0] = '\0';
        do {
            rc = media_store_underived(db, use, recipe, after, keys, 32, &n);
            for (size_t i = 0; !rc && i < n; i++) {
                struct media_image img;
                enum merr drc = derive_stored(db, cfg, keys[i], use, &img);
                if (drc == MERR_INVAL || drc == MERR_LIMIT || drc == MERR_NOTFOUND) {
                    log_warn("%s", merr_msg());
                    (*failed)++;
                    continue;
                }
                rc = drc;
                if (!rc)
                    rc = db_begin(db);
                if (!rc) {
                    rc = media_store_derived_put(db, keys[i], use, recipe, &img);
                    rc = rc ? rc : db_commit(db);
                    if (rc)
                        db_rollback(db);
                }
                media_image_free(&img);
                if (!rc)
                    (*made)++;
            }
            if (n)
                memcpy(after, keys[n - 1], sizeof after);
        } while (!rc && n == 32);
    }
    return rc;
}
