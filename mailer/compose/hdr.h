/*
 * hdr.h: message header fields written by our code (RFC 5322, RFC 2047).
 *
 * libetpan writes UTF-8 raw into headers and passes CR/LF through, so every
 * header of an outgoing message is written here: values are checked (CR,
 * LF and NUL refused with MERR_INVAL naming the field), non-ASCII text is
 * turned into RFC 2047 encoded words cut where the text has spaces (inside
 * a word only if it is too long for one encoded word, and then between
 * UTF-8 characters), each encoded word at most 75 characters; lines are
 * folded at 78 characters counting the field name, 76 for a line with an
 * encoded word, and none passes 998. Every line ends with CRLF.
 */
#ifndef MAILER_COMPOSE_HDR_H
#define MAILER_COMPOSE_HDR_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define HDR_LINE_MAX    78  /* RFC 5322 §2.1.1 SHOULD */
#define HDR_EW_LINE_MAX 76  /* RFC 2047 §2: a line with an encoded word */
#define HDR_WORD_MAX    75  /* RFC 2047 §2 */
#define HDR_HARD_MAX    998 /* RFC 5322 §2.1.1 MUST */

/*
 * MERR_INVAL "FIELD: contains CR, LF or NUL" (or "is not valid UTF-8") if
 * `value` cannot go into a header; MERR_OK otherwise. `value` NULL is ok.
 */
enum merr hdr_check(const char *field, const char *value);

/*
 * Appends "Field: value" CRLF for free text (Subject, RFC 5322 §3.2.5
 * unstructured). A value of printable ASCII words separated by single
 * spaces is written as is, folded at spaces; anything else (non-ASCII,
 * control characters, "=?", runs of spaces, a word too long to fold) is
 * written as encoded words, B or Q whichever is shorter, so that a decoder
 * gives back exactly `value`. MERR_INVAL (check above); `out` unchanged on
 * failure.
 */
enum merr hdr_write_text(struct buf *out, const char *field, const char *value);

/*
 * Appends "Field: Name <addr>" CRLF (RFC 5322 §3.4). `name` NULL or "" gives
 * "Field: addr". An ASCII name of atoms is written as is, one with specials
 * (commas, quotes, ...) as a quoted-string (§3.2.4), a non-ASCII one as
 * encoded words (RFC 2047 §5(3) rules). `addr` must be ASCII without
 * spaces, CR, LF, NUL or angle brackets: MERR_INVAL naming the field.
 */
enum merr hdr_write_address(struct buf *out, const char *field, const char *name, const char *addr);

/*
 * Appends "Field: value" CRLF for a structured value we built ourselves
 * (Message-ID, Date, List-Id, List-Unsubscribe, MIME headers): it must be
 * printable ASCII (MERR_INVAL otherwise); long values are folded after
 * ", " or at spaces. A word that cannot fit in a line of 998 characters
 * (with "Field: " before it on the first line) is refused with MERR_INVAL.
 */
enum merr hdr_write_raw(struct buf *out, const char *field, const char *value);

/*
 * Decodes a header value: unfolds (CRLF followed by WSP), and decodes
 * RFC 2047 encoded words (B and Q, charset UTF-8 or US-ASCII), dropping
 * whitespace between adjacent encoded words (§6.2). Appends UTF-8 to out.
 * MERR_INVAL for an encoded word in another charset or with bad base64.
 * Used by the tests and for reading bounces.
 */
enum merr hdr_decode(struct buf *out, const char *value, size_t len);

#endif
