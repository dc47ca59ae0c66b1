/*
 * html.h: article HTML made safe for email, and its plain-text form.
 *
 * Uses libxml2's HTML parser (lenient, like a browser) and writes the tree
 * back through an allow-list: only known-safe tags and attributes survive;
 * script, style, iframe, object, embed, form and their content are dropped;
 * on* attributes and javascript:/vbscript:/data: URLs removed (only http,
 * https, mailto, cid and relative references pass; a caller that wants to
 * embed a data: image replaces its src through the img callback); relative
 * href/src made absolute against the article URL. Hostile input (unclosed
 * tags, 1 MB of nested divs) comes out bounded in time and depth without a
 * crash: nesting past 200 levels is flattened, and past 512 open elements
 * the parser stops and the rest is dropped (logged as a warning).
 *
 * Allowed: p br b strong i em u s sub sup small code pre span div a img
 * figure figcaption h1-h6 ul ol li blockquote hr table thead tbody tfoot tr
 * td th caption, with a: href title; img: src alt width height title;
 * td/th: colspan rowspan; ol: start. No class, id or style from the input.
 * Unknown tags are unwrapped (their text stays). Each kept <img> gets an alt
 * (empty if missing) and style="display:block;max-width:100%;height:auto",
 * the inline CSS mail clients need to fit a wide photo into the message.
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
 * of `in[0..len)` to `out`. `base_url` (may be NULL or "") resolves relative
 * links. `img` (may be NULL) sees every non-empty <img src>, trimmed; its
 * replacement is checked like any URL but not resolved. Text keeps its UTF-8
 * characters; only & < > (and " in attributes) are escaped; void elements
 * are written <br>, <hr>, <img ...>. NUL and C0 controls are removed, CR LF
 * becomes LF. MERR_INVAL (detail names the byte offset) if the input is not
 * UTF-8, MERR_LIMIT past out's cap or over 64 MiB of input, MERR_NOMEM; on
 * error `out` is left as it was.
 */
enum merr html_sanitize(const char *in, size_t len, const char *base_url, html_img_fn img,
                        void *img_arg, struct buf *out);

/*
 * Appends the plain-text form of the (sanitized) HTML fragment to `out`:
 * one paragraph per block, blocks separated by a blank line, wrapped at
 * `width` columns (72) counting code points, never breaking a word or a
 * UTF-8 sequence (a word longer than the width stands alone on its line).
 * <br> breaks the line; list items start "- " or "1. "; blockquote lines
 * "> "; table cells are joined by " | "; a figcaption is its own line in
 * parentheses; an image without a caption shows as "[Ảnh: ALT]" (nothing
 * without alt); links are numbered "text [1]" with a "Liên kết:" list of
 * their URLs at the end (no number when the text is the URL). Lines end
 * with "\n" (the MIME layer makes CRLF), none with a space.
 * MERR_INVAL for non-UTF-8 input or width <= 0, MERR_LIMIT, MERR_NOMEM; on
 * error `out` is left as it was.
 */
enum merr html_to_text(const char *in, size_t len, int width, struct buf *out);

/*
 * Appends plain text wrapped at `width` columns (same rules) to `out`: its
 * line breaks (LF, CR LF or CR) are kept as line breaks and blank lines,
 * leading spaces of a line kept, NUL and other controls but TAB dropped;
 * every line ends with "\n". MERR_INVAL for non-UTF-8 input or width <= 0.
 */
enum merr html_wrap_text(const char *in, size_t len, int width, struct buf *out);

#endif
