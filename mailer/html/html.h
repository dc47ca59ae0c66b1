/*
 * html.h: article HTML made safe for email, and its plain-text form.
 *
 * Uses libxml2's HTML parser (lenient, like a browser) and writes the tree
 * back through an allow-list: only known-safe tags and attributes survive;
 * script, style, iframe, object, embed, form and their content are dropped;
 * on* attributes and javascript:/vbscript:/data: URLs removed (data: kept
 * only for images if the caller allows); relative href/src made absolute
 * against the article URL. Hostile input (unclosed tags, 1 MB of nested
 * divs) must come out bounded in time and depth without a crash.
 */
#ifndef MAILER_HTML_HTML_H
#define MAILER_HTML_HTML_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * Called for every <img src> with the src as written (before making it
 * absolute). Return a replacement (e.g. "cid:img1.x@host" for an embedded
 * photo) that stays valid until html_sanitize returns, or NULL to keep the
 * (absolutized) src.
 */
typedef const char *(*html_img_fn)(void *arg, const char *src);

/*
 * Appends the sanitized HTML fragment (body content only, no <html>/<body>)
 * of `in[0..len)` to `out`. `base_url` (may be NULL) resolves relative
 * links. MERR_INVAL if the input is not UTF-8, MERR_LIMIT past out's cap.
 */
enum merr html_sanitize(const char *in, size_t len, const char *base_url, html_img_fn img,
                        void *img_arg, struct buf *out);

/*
 * Appends the plain-text form of the (sanitized) HTML fragment to `out`:
 * one paragraph per block, wrapped at `width` columns (72) counting
 * characters, never breaking a word or a UTF-8 sequence (a word longer than
 * the width stands alone on its line), figure captions kept on their own
 * line, and links numbered [1] with a "Liên kết:" list of their URLs at
 * the end. Lines end with "\n" (the MIME layer makes CRLF).
 */
enum merr html_to_text(const char *in, size_t len, int width, struct buf *out);

/* Wraps plain text at `width` columns (same rules) into `out`. */
enum merr html_wrap_text(const char *in, size_t len, int width, struct buf *out);

#endif
