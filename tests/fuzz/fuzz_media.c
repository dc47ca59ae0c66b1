/*
 * fuzz_media.c: photo bytes as an article brings them (a file or a URL the
 * CMS names): media_sniff (our own reading of the JPEG, PNG, GIF and WebP
 * headers, mailer/articles/media.c) on any bytes, then media_image_derive
 * (the pixel limit from the header, then libvips) as `mailer article add`
 * runs it. Checks: sniff names a type only with its magic bytes; a derived
 * image is a JPEG or PNG within its use's size, its own sniff agrees, and it
 * carries no metadata (no APPn/COM segment in a JPEG, no text or eXIf chunk
 * in a PNG); a refusal leaves nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "../unit/image_meta.h"
#include "media.h"
#include "media_image.h"

static struct config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (cfg_defaults(&cfg))
        abort();
    cfg.media_max_pixels = 4000000; /* keep each input's decoding small */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct media_info info, again;
    struct media_image img;
    enum media_use use = (size & 1) ? MEDIA_USE_BODY : MEDIA_USE_THUMB;
    enum merr rc;

    if (media_sniff(data, size, &info))
        return 0;
    FUZZ_CHECK(info.size == size, "sniff: size");
    if (!strcmp(info.content_type, "image/jpeg"))
        FUZZ_CHECK(size >= 3 && data[0] == 0xFF && data[1] == 0xD8, "sniff: JPEG magic");
    else if (!strcmp(info.content_type, "image/png"))
        FUZZ_CHECK(size >= 8 && !memcmp(data, "\x89PNG", 4), "sniff: PNG magic");
    else if (!strcmp(info.content_type, "image/gif"))
        FUZZ_CHECK(size >= 6 && !memcmp(data, "GIF8", 4), "sniff: GIF magic");
    else
        FUZZ_CHECK(!strcmp(info.content_type, "image/webp") && size >= 12, "sniff: WebP");
    FUZZ_CHECK(info.width >= 0 && info.height >= 0, "sniff: dimensions");

    rc = media_image_derive(&cfg, "fuzz", data, size, &info, use, &img);
    if (rc) {
        FUZZ_CHECK(img.bytes.data == NULL, "refused, yet bytes kept");
        FUZZ_CHECK(rc == MERR_INVAL || rc == MERR_LIMIT || rc == MERR_NOMEM, "refusal code");
        return 0;
    }
    FUZZ_CHECK(media_sniff((const uint8_t *)img.bytes.data, img.bytes.len, &again) == MERR_OK,
               "derived bytes are an image");
    FUZZ_CHECK(!strcmp(again.sha256, img.info.sha256), "derived: sha256 of its bytes");
    if (use == MEDIA_USE_THUMB)
        FUZZ_CHECK(img.info.width == 2 * MEDIA_THUMB_CSS_W &&
                       img.info.height == 2 * MEDIA_THUMB_CSS_H,
                   "thumbnail: the box at 2x");
    else
        FUZZ_CHECK(img.info.width >= 1 && img.info.width <= MEDIA_BODY_MAX_W &&
                       img.info.height >= 1 && img.info.height <= MEDIA_BODY_MAX_H,
                   "body: within its bounds");
    if (!strcmp(img.info.content_type, "image/jpeg"))
        FUZZ_CHECK(!image_meta_jpeg((const uint8_t *)img.bytes.data, img.bytes.len),
                   "derived JPEG without metadata");
    else
        FUZZ_CHECK(!strcmp(img.info.content_type, "image/png") &&
                       !image_meta_png((const uint8_t *)img.bytes.data, img.bytes.len),
                   "derived PNG without metadata");
    media_image_free(&img);
    return 0;
}
