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

/*
 * A key for matching words people type in several spellings (column names
 * of a spreadsheet: "Họ và tên", "HỌ VÀ TÊN", "Ho_va_ten", "E-mail"): the
 * Latin letters of `s[0..n)` lower-cased and without their diacritics
 * (Vietnamese letters precomposed, U+1EA0..U+1EF9, or decomposed with
 * combining marks U+0300..U+036F; "đ" is "d"), digits kept, and everything
 * else (spaces, punctuation, other scripts) dropped. Writes at most cap-1
 * bytes and a NUL to `out`; returns the key's length, or -1 if `s` is not
 * valid UTF-8 or the key does not fit.
 */
int utf8_fold_key(const char *s, size_t n, char *out, size_t cap);

#endif
