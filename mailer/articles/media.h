/*
 * media.h: image bytes for articles: where they come from (a file under a
 * root folder, or an http(s) URL), what they are (sniffed from the bytes),
 * and how they are stored (content-addressed by SHA-256 in `media`).
 *
 * Part of the articles module; the public entry points for other modules are
 * media_bytes() and media_base64() in articles.h. These are exposed for the
 * articles code, its tests and anything that needs to check an image before
 * storing it.
 */
#ifndef MAILER_ARTICLES_MEDIA_H
#define MAILER_ARTICLES_MEDIA_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"

/* What the bytes of one image are. */
struct media_info {
    char sha256[65];       /* hex SHA-256 of the bytes */
    char content_type[32]; /* "image/jpeg", "image/png", "image/gif" or "image/webp" */
    size_t size;
    int width, height; /* 0 when the header does not tell */
};

/*
 * Sniffs the content type from the magic bytes (JPEG FF D8 FF, PNG's 8-byte
 * signature, GIF87a/GIF89a, RIFF....WEBP) and reads the dimensions from the
 * header when it can (JPEG SOFn, PNG IHDR, GIF logical screen, WebP
 * VP8/VP8L/VP8X). Fills `info` (sha256 included). MERR_INVAL "not an image
 * (...)" for anything else. Allocates nothing.
 */
enum merr media_sniff(const unsigned char *p, size_t n, struct media_info *info);

/* The usual file extension for a sniffed content type ("jpg", ...); "bin" if unknown. */
const char *media_extension(const char *content_type);

/*
 * 1 if `src` is an absolute http:// or https:// URL (scheme case-insensitive,
 * non-empty host, no spaces or control characters), else 0.
 */
int media_is_http_url(const char *src);

/*
 * A file name for a MIME part from `src`'s base name (for a URL: the last
 * path segment, without query or fragment, %XX-decoded when that gives
 * UTF-8), kept in UTF-8 for RFC 2231 (compose_image_part): letters, digits,
 * '.', '_', '-', spaces and non-ASCII characters are kept; '_' replaces
 * ASCII punctuation and controls, C1 controls, and the invisible or
 * direction-changing characters that could disguise a name (U+200B-U+200F,
 * U+202A-U+202E, U+2028, U+2029, U+2060-U+206F, U+FEFF); no leading dot or
 * space, at most 100 bytes (cut between characters), and an extension
 * matching `content_type` (a wrong image extension is replaced, another
 * one kept and the right one appended). "image.EXT" when nothing usable is
 * left. Returns a malloc'd string (caller frees), NULL if out of memory.
 */
char *media_safe_filename(const char *src, const char *content_type);

/*
 * Reads the image named by relative path `src` under folder `root` into
 * `out` (appending). Refuses an empty or absolute path, a path whose `..`
 * climbs above `root`, and one that resolves (realpath, symlinks followed)
 * outside `root`: MERR_INVAL "... escapes its folder". MERR_INVAL "no such
 * file" (the article is bad data) or not a regular file, MERR_LIMIT when larger
 * than `max` bytes (the limit is in the message), MERR_IO otherwise. The
 * message starts with `src`.
 */
enum merr media_read_file(const char *root, const char *src, size_t max, struct buf *out);

/*
 * Fetches `url` with libcurl into `out` (appending): only http and https,
 * also on redirects; at most cfg->fetch_max_redirects redirects; the whole
 * transfer within cfg->fetch_timeout_s; at most cfg->image_max_bytes bytes,
 * checked against Content-Length and again while receiving, so an oversize
 * body is abandoned as soon as it passes the cap. Errors (message starts
 * with the URL): MERR_LIMIT over the cap; MERR_TEMPFAIL for time-outs,
 * connection failures and HTTP 5xx; MERR_INVAL for HTTP 4xx, too many
 * redirects, a redirect to another scheme or a malformed URL.
 */
enum merr media_fetch(const struct config *cfg, const char *url, struct buf *out);

/*
 * Loads one image `src` as an article names it: an http(s) URL is fetched,
 * anything else with a scheme ("file:", "data:", ...) is refused, a path is
 * read under cfg->media_root if set, else under `base_dir`. Sniffs it into
 * `info`. Errors as media_read_file / media_fetch / media_sniff.
 */
enum merr media_load(const struct config *cfg, const char *base_dir, const char *src,
                     struct buf *out, struct media_info *info);

/*
 * Stores the bytes under info->sha256 unless already there (the same photo
 * used by two articles is stored once). Call inside the caller's
 * transaction. MERR_DB / MERR_TEMPFAIL.
 */
enum merr media_store_put(struct db *db, const struct media_info *info, const void *bytes);

#endif
