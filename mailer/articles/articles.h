/*
 * articles.h: article data from the CMS and the photos that go with it.
 *
 * An article arrives as JSON (docs/articles.md): id, url, title, category,
 * author, published_at (ISO 8601 with offset), summary, body_html and
 * images[] of {src, caption, alt}. Adding upserts by id in one transaction:
 * the same id again updates, never duplicates; any bad field refuses the
 * whole article and leaves the database unchanged. Image bytes are read from
 * a path relative to the JSON file's folder (or [media] root), or fetched by
 * http(s) URL, and stored once by SHA-256 in `media` with the content type
 * sniffed from the bytes.
 */
#ifndef MAILER_ARTICLES_ARTICLES_H
#define MAILER_ARTICLES_ARTICLES_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"

struct article_image {
    char *src; /* as in the JSON and in body_html's <img src> */
    char *caption;
    char *alt;
    char *filename;        /* ASCII file name for the MIME part, e.g. "pccc.jpg" */
    char sha256[65];       /* media key */
    char content_type[32]; /* "image/jpeg", "image/png", "image/gif", "image/webp" */
    size_t size;           /* bytes */
    int width, height;     /* from the image header; 0 if unknown */
};

struct article {
    char *id;
    char *url;
    char *title;
    char *category;
    char *author;
    char *summary;
    char *body_html; /* as given by the CMS: sanitize before use */
    time_t published_at;
    int published_offset; /* minutes east of UTC, as given */
    struct article_image *images;
    size_t nimages;
};

/*
 * Parses and stores one article from JSON text. `base_dir` resolves relative
 * image paths (cfg->media_root wins when set); `origin` names the input in
 * error messages (a file name, "-" or "request"). On success `*id_out` (if
 * not NULL) receives the id (caller frees). On failure: MERR_INVAL /
 * MERR_LIMIT with "ORIGIN: FIELD: reason", nothing written (also
 * MERR_TEMPFAIL when an image URL does not answer or the database is busy,
 * MERR_IO / MERR_DB / MERR_NOMEM, all with the origin first).
 */
enum merr article_upsert_json(struct db *db, const struct config *cfg, const char *json, size_t len,
                              const char *base_dir, const char *origin, char **id_out);

/* Reads the file and calls article_upsert_json with its folder as base_dir. */
enum merr article_add_file(struct db *db, const struct config *cfg, const char *path,
                           char **id_out);

/* At most this many images per article (each is held in memory until the commit). */
#define ARTICLE_MAX_IMAGES 64

/*
 * article_upsert_json, also telling whether the id was new: `*created`
 * (if not NULL) is 1 when the article was inserted, 0 when it replaced one.
 * Images are read or fetched before the transaction starts, so the write
 * lock is never held across network time.
 */
enum merr article_upsert(struct db *db, const struct config *cfg, const char *json, size_t len,
                         const char *base_dir, const char *origin, char **id_out, int *created);

/*
 * article_add_file with `*created` as in article_upsert. The file may be at
 * most cfg->article_max_bytes long; "-" is not special here.
 */
enum merr article_upsert_file(struct db *db, const struct config *cfg, const char *path,
                              char **id_out, int *created);

/*
 * Parses and validates article JSON without touching images or the
 * database: every field is checked (docs/articles.md), unknown fields are
 * refused. On success `*out` is a new article (free with article_free) whose
 * images have only src, caption and alt set. MERR_INVAL / MERR_LIMIT with
 * "FIELD: reason" (not prefixed with an origin).
 */
enum merr article_parse(const struct config *cfg, const char *json, size_t len,
                        struct article **out);

/*
 * Appends the article as JSON (2-space indent, UTF-8 kept as is) to `out`:
 * the input fields, published_at in its original offset, and per image its
 * filename, sha256, content_type, size, width and height.
 */
enum merr article_to_json(const struct article *a, struct buf *out);

/* Loads one article with its images (ordered). MERR_NOTFOUND. Free with article_free. */
enum merr article_load(struct db *db, const char *id, struct article **out);

/*
 * As article_load without the body (body_html stays NULL): what pages that
 * show an article's title, summary and photos need, a copy less per request.
 */
enum merr article_load_head(struct db *db, const char *id, struct article **out);

/* Whether the article `id` is stored, in `*exists` (0 or 1); MERR_DB on a failure. */
enum merr article_exists(struct db *db, const char *id, int *exists);

void article_free(struct article *a);

/*
 * Articles published in (since, until], newest first, at most `max`
 * (0 = no limit), optionally only `category` (NULL = all). `*out` is an
 * array of `*n` loaded articles; free with article_list_free.
 */
enum merr article_list(struct db *db, time_t since, time_t until, const char *category, size_t max,
                       struct article ***out, size_t *n);
void article_list_free(struct article **list, size_t n);

/*
 * One page of every article, newest first (published_at, then id), bodies
 * left NULL: those published at or before `before` (0: now and a year on),
 * and of those published exactly at `before` only the ids after `after_id`
 * (NULL: all). Passing the last article's time and id gives the next page.
 */
enum merr article_page(struct db *db, time_t before, const char *after_id, const char *category,
                       size_t max, struct article ***out, size_t *n);

/* As article_list, but body_html is left NULL: for listings. */
enum merr article_index(struct db *db, time_t since, time_t until, const char *category, size_t max,
                        struct article ***out, size_t *n);

/* An image's bytes, appended to `out`. MERR_NOTFOUND. */
enum merr media_bytes(struct db *db, const char *sha256, struct buf *out);

/*
 * An image's MIME base64 form (76-column lines, each ending CRLF), appended
 * to `out`; computed once and cached in media.b64.
 */
enum merr media_base64(struct db *db, const char *sha256, struct buf *out);

#endif
