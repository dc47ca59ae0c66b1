/*
 * compose_mime.h: the MIME pieces of a message (RFC 2045-2047, RFC 2387).
 *
 * Shared by compose_plan.c (image parts, written once per plan) and
 * compose.c (the per-recipient message). Not part of the module's contract
 * but public so the unit tests and the benchmark can reach the pieces.
 */
#ifndef MAILER_COMPOSE_COMPOSE_MIME_H
#define MAILER_COMPOSE_COMPOSE_MIME_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* "=_" + 32 hex digits + NUL: cannot occur in QP or base64 output. */
#define COMPOSE_BOUNDARY_LEN 40

/*
 * Writes the boundary of one multipart of a message into `out`: "=_" and
 * 32 hex digits of SHA-256("boundary:" MESSAGE_ID ":" PART), so the same
 * message (a retry, a preview of it) has the same bytes and two messages
 * differ. The "=_" prefix makes it impossible in quoted-printable (where
 * '=' is always followed by hex digits or a line end) and in base64, so it
 * never occurs in a part whatever the content.
 */
void compose_boundary(char out[COMPOSE_BOUNDARY_LEN], const char *message_id, const char *part);

/*
 * Appends `text` (UTF-8, lines ending "\n" or "\r\n") quoted-printable
 * encoded (RFC 2045 §6.7): CRLF hard line breaks, lines of at most 76
 * characters with soft breaks, '=' and non-ASCII as =XX, trailing spaces
 * encoded, a '.' or "From " at a line start encoded so no line can end an
 * SMTP DATA or be mangled by mbox. Output always ends with CRLF.
 * MERR_LIMIT past out's cap (out unchanged).
 */
enum merr compose_qp(struct buf *out, const char *text, size_t n);

/*
 * The lines of one rendering of a body and their quoted-printable
 * encodings, for the bodies of list mail: a digest's recipients differ in
 * a few lines (the greeting, the unsubscribe link) and share the rest.
 * compose_qp never looks across a line end (every line starts at column 0
 * and the rules about a trailing space, a leading '.' or "From " look
 * inside the line), so a body's encoding is the concatenation of its
 * lines' encodings and a line seen before can be copied.
 */
struct compose_qp_memo;

/* Encodes `text` line by line into a new memo. MERR_NOMEM. */
enum merr compose_qp_memo_new(const char *text, size_t n, struct compose_qp_memo **out);
void compose_qp_memo_free(struct compose_qp_memo *memo);

/*
 * compose_qp with the memo's lines (memo NULL: compose_qp): the same bytes
 * and the same MERR_LIMIT. Lines are looked up in the memo's order, up to
 * two ahead, so a line inserted or left out (a greeting with or without
 * a name) or changed (a personal link) costs its own encoding only.
 */
enum merr compose_qp_with(struct buf *out, const char *text, size_t n,
                          const struct compose_qp_memo *memo);

/*
 * Appends one inline image part: its MIME header fields (Content-Type
 * `content_type`, Content-Transfer-Encoding: base64, Content-ID <cid>,
 * Content-Disposition: inline with the file name: filename="..." when it is
 * plain ASCII, else RFC 2231 filename*=utf-8''... in UTF-8, cut into
 * continuations for 78-column lines), a blank line and `b64[0..len)`, which
 * is already MIME base64 (76-column CRLF lines), written as is. The file
 * name keeps its last path segment, loses control characters,
 * and is cut at 120 bytes. MERR_INVAL for a bad content type or Content-ID;
 * `out` unchanged on failure.
 */
enum merr compose_image_part(struct buf *out, const char *content_type, const char *filename,
                             const char *cid, const char *b64, size_t len);

#endif
