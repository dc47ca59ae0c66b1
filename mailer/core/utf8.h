/*
 * utf8.h: UTF-8 checks used wherever outside text enters (JSON, CSV, forms).
 * Validation follows RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF.
 */
#ifndef MAILER_CORE_UTF8_H
#define MAILER_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 if p[0..n) is valid UTF-8; else 0 and `*bad` (if not NULL) = offset of the first bad byte. */
int utf8_valid(const char *p, size_t n, size_t *bad);

/*
 * Decodes one code point at p[0..n): returns its length in bytes (1..4) and
 * stores the code point, or returns 0 on an invalid or truncated sequence.
 */
size_t utf8_decode(const char *p, size_t n, uint32_t *cp);

/* Number of code points in valid UTF-8 `p[0..n)`. */
size_t utf8_count(const char *p, size_t n);

/* 1 if `s` contains CR, LF or NUL within n bytes (header injection guard). */
int utf8_has_crlf_nul(const char *s, size_t n);

#endif
