/*
 * enc.h: byte encodings shared by every module: hex, base64 (RFC 4648 §4,
 * optionally folded for MIME at 76 columns with CRLF, RFC 2045 §6.8) and
 * base64url without padding (RFC 4648 §5) for tokens in URLs.
 */
#ifndef MAILER_CORE_ENC_H
#define MAILER_CORE_ENC_H

#include <stddef.h>

#include "buf.h"

/* Writes 2n lowercase hex digits and a NUL into `out`. */
void enc_hex(char *out, const unsigned char *p, size_t n);

/*
 * Appends base64 of `p` to `out`. With `fold` set, lines are 76 characters
 * and end with CRLF (the last line too), as a MIME body part needs.
 */
enum merr enc_base64(struct buf *out, const unsigned char *p, size_t n, int fold);

/* Appends base64url (no padding) of `p` to `out`. */
enum merr enc_base64url(struct buf *out, const unsigned char *p, size_t n);

/*
 * The 6-bit value of one base64 character: the standard alphabet ('+', '/')
 * when `url` is 0, base64url ('-', '_') otherwise; -1 for anything else.
 */
int enc_base64_value(unsigned char c, int url);

/*
 * Decodes base64url (no padding, no whitespace) into `out`, which holds
 * `cap` bytes; `*outlen` receives the length. MERR_INVAL on any character
 * outside the alphabet, an impossible length, or a text that decodes to
 * more than `cap` bytes (refused before anything past `cap` is written).
 */
enum merr dec_base64url(unsigned char *out, size_t cap, size_t *outlen, const char *s, size_t n);

#endif
