/*
 * addr.h: email address validation for real-world mail.
 *
 * Policy (also in docs/addresses.md): we accept the dot-atom form only.
 *
 * Accepted: dot-atom local parts (RFC 5322 §3.2.3: atext and single dots,
 * not first or last) of 1..64 octets, domains of dot-separated labels
 * (letters, digits, hyphens, not at either end of a label, each 1..63
 * octets in ASCII form) with at least two labels and a top-level label that
 * is not all digits, the whole ASCII address <= 254 octets (RFC 5321
 * §4.5.3.1.1-3). IDN domains (UTF-8, or xn-- labels) are converted to
 * punycode with libidn2 (IDNA 2008 with UTS #46 mapping, NFC) for sending and
 * kept in Unicode for display. Surrounding spaces are trimmed.
 *
 * Refused, each with a reason naming what is wrong:
 *  - non-ASCII local parts: the SMTP library has no SMTPUTF8 (RFC 6531);
 *  - quoted strings ("a b"@x.vn), comments (a(x)@x.vn), quoted pairs (\),
 *    address literals (a@[1.2.3.4], a@[IPv6:::1]) and the obsolete forms of
 *    RFC 5322 §4.4 (CFWS around dots, source routes): legal, but rare in
 *    real subscriptions, mostly typos or abuse, and badly supported by
 *    receivers;
 *  - CR, LF, NUL, tabs, spaces and other control characters;
 *  - a display name or angle brackets ("A <a@b.vn>"): give the bare address;
 *  - a missing @, two @, empty parts, a domain without a dot, a numeric TLD.
 * Domains are lower-cased; local parts are kept as typed; the key (all
 * lower-cased ASCII) finds duplicates case-insensitively.
 */
#ifndef MAILER_SUBSCRIBERS_ADDR_H
#define MAILER_SUBSCRIBERS_ADDR_H

#include <stddef.h>

#include "err.h"

#define ADDR_MAX 255 /* 254 octets + NUL */

struct addr {
    char ascii[ADDR_MAX];       /* for SMTP and headers: local@punycode-domain */
    char unicode[ADDR_MAX * 4]; /* for display: local@unicode-domain */
    char key[ADDR_MAX];         /* lower-cased ascii: finds duplicates */
};

/*
 * Validates `input` (surrounding spaces are trimmed; nothing else is
 * changed). MERR_INVAL with the reason in merr_msg(), e.g. "local part is
 * longer than 64 octets", "domain label \"-abc\" starts with a hyphen",
 * and its machine name in merr_reason() (addr.empty, addr.bad_char,
 * addr.display_name, addr.quoted, addr.space, addr.no_at, addr.many_at,
 * addr.literal, addr.too_long, addr.local_empty, addr.local_unicode,
 * addr.local_dots, addr.local_char, addr.domain_empty, addr.domain_dots,
 * addr.domain_char, addr.domain_hyphen, addr.domain_no_dot,
 * addr.domain_numeric, addr.domain_invalid) for the pages' words.
 * Allocates nothing; `out` is filled only on success.
 */
enum merr addr_parse(const char *input, struct addr *out);

/*
 * The same for `n` bytes that may contain NUL (CSV fields, form values):
 * an embedded NUL is refused with a reason.
 */
enum merr addr_parse_n(const char *input, size_t n, struct addr *out);

#endif
