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
