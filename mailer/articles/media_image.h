/*
 * media_image.h: the images that go into mail, derived from an article's
 * photo with libvips: decoded (JPEG, PNG, WebP, GIF's first frame), turned
 * upright by its EXIF orientation, converted to sRGB, resized, and encoded
 * again without any metadata (EXIF, GPS, XMP, IPTC, ICC, maker notes).
 *
 * Two uses, each one derived image per photo:
 *   MEDIA_USE_BODY   the share's photo: at most MEDIA_BODY_MAX_W px wide
 *                    (twice the 600 px layout), never enlarged;
 *   MEDIA_USE_THUMB  the digest's thumbnail: cropped (centre) to the digest
 *                    template's box of MEDIA_THUMB_CSS_W x MEDIA_THUMB_CSS_H
 *                    CSS pixels, at twice that pixel size.
 * A photo becomes a progressive JPEG at [media] jpeg_quality; a graphic
 * (anything with transparency, or a PNG/GIF/WebP whose PNG encoding is at
 * most 1.5 times the JPEG's) stays PNG.
 *
 * Part of the articles module (media.c reads and sniffs the bytes,
 * media_store.c keeps them); other modules use media_mail_image() in
 * articles.h.
 */
#ifndef MAILER_ARTICLES_MEDIA_IMAGE_H
#define MAILER_ARTICLES_MEDIA_IMAGE_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "media.h"

enum media_use { MEDIA_USE_BODY, MEDIA_USE_THUMB };
#define MEDIA_USES 2

/* The digest template's thumbnail box, in CSS pixels (templates/email/digest.html). */
#define MEDIA_THUMB_CSS_W 120
#define MEDIA_THUMB_CSS_H 80
/* The share's photos: at most this wide (2 x the 600 px layout) and this tall. */
#define MEDIA_BODY_MAX_W 1200
#define MEDIA_BODY_MAX_H 3600

/* Room for a recipe string (media_image_recipe). */
#define MEDIA_RECIPE_LEN 64

/* One derived image in memory: `info` describes `bytes` (sha256 of them). */
struct media_image {
    struct media_info info;
    struct buf bytes;
};

/* "body" or "thumb": the name stored in media_derived.kind. */
const char *media_use_name(enum media_use use);

/*
 * The recipe of `use` under `cfg`: every parameter that shapes the result
 * ("v1 body 1200x3600 q80"). A stored image made by another recipe is made
 * again, so changing [media] jpeg_quality takes effect on the next use.
 */
void media_image_recipe(const struct config *cfg, enum media_use use, char out[MEDIA_RECIPE_LEN]);

/*
 * Derives the `use` image of the photo `bytes` (`n` bytes, sniffed as
 * `src`). `name` names the photo in errors (its src). Initialises libvips
 * on first call ([media] threads; operation cache off; every loader but
 * JPEG, PNG, GIF and WebP blocked). Refuses, before decoding anything:
 * more than [media] max_pixels pixels by the header (MERR_LIMIT "NAME:
 * WxH is N pixels, over the limit ..."). Refuses a truncated or corrupt
 * file (MERR_INVAL "NAME: truncated JPEG (libvips: ...)" / "corrupt ...").
 * On success `out` holds the bytes and their description; the caller
 * frees it with media_image_free. On failure `out` is empty.
 */
enum merr media_image_derive(const struct config *cfg, const char *name, const void *bytes,
                             size_t n, const struct media_info *src, enum media_use use,
                             struct media_image *out);

/* Frees the bytes of `img` (which may be zeroed, or already freed). */
void media_image_free(struct media_image *img);

/*
 * The image of photo `sha256` for `use`, ready for a message: its
 * description (of the derived bytes) in `*info`, its MIME base64 (76-column
 * lines, CRLF) appended to `b64`. Made on first use when there is none or
 * it was made by another recipe (a database from before derived images, a
 * changed [media] jpeg_quality), and stored in a transaction of its own; a
 * failure to store it (database busy) is logged and the image still
 * returned. MERR_NOTFOUND when the photo's bytes are gone; MERR_INVAL /
 * MERR_LIMIT when they cannot be used, as media_image_derive.
 */
enum merr media_image_for_mail(struct db *db, const struct config *cfg, const char *sha256,
                               enum media_use use, struct media_info *info, struct buf *b64);

/*
 * The lookup half of media_image_for_mail: the derived image stored under
 * the current recipe, or MERR_NOTFOUND when there is none yet (nothing is
 * made). What it gives is in the database, so any process gives the same.
 */
enum merr media_image_stored(struct db *db, const struct config *cfg, const char *sha256,
                             enum media_use use, struct media_info *info, struct buf *b64);

/*
 * Makes every derived image the photos of stored articles lack under the
 * current recipes (`mailer init` after an upgrade). `*made` counts images
 * made, `*failed` photos that could not be decoded (each logged with its
 * reason; they are linked, not embedded, in messages). MERR_DB / MERR_TEMPFAIL.
 */
enum merr media_image_derive_missing(struct db *db, const struct config *cfg, size_t *made,
                                     size_t *failed);

/* ---- the store (media_store.c, table media_derived) ---------------------- */

/*
 * The `use` image of photo `source` made by `recipe`: fills `info` with the
 * derived image's row. MERR_NOTFOUND when there is none, or only one made
 * by another recipe.
 */
enum merr media_store_derived_get(struct db *db, const char *source, enum media_use use,
                                  const char *recipe, struct media_info *info);

/*
 * Stores `img` as a media row (content-addressed: no-op if present) and
 * records it as the `use` image of `source` by `recipe`, replacing one by
 * another recipe. Call inside the caller's transaction. MERR_DB / MERR_TEMPFAIL.
 */
enum merr media_store_derived_put(struct db *db, const char *source, enum media_use use,
                                  const char *recipe, const struct media_image *img);

/*
 * Photos used by articles that have no `use` image by `recipe`, in key
 * order after key `after` ("" for the first): at most `max` hex SHA-256
 * keys into `out`, their number in `*n`.
 */
enum merr media_store_underived(struct db *db, enum media_use use, const char *recipe,
                                const char *after, char (*out)[65], size_t max, size_t *n);

#endif
