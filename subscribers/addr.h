/*
 * addr.h: email address validation for real-world mail.
 *
 * Accepted: dot-atom local parts (RFC 5322 §3.2.3) up to 64 octets,
 * domains of dot-separated labels (letters, digits, hyphens, not at either
 * end, each <= 63) with at least two labels, the whole address <= 254
 * octets (RFC 5321 §4.5.3.1). IDN domains are converted to punycode
 * (libidn2) for sending and kept in Unicode for display. Refused, each with
 * a reason naming what is wrong: non-ASCII local parts (no SMTPUTF8 in the
 * SMTP library), quoted strings, comments, address literals and obsolete
 * forms (see the README's address policy), CR, LF, NUL, spaces, a display
 * name or angle brackets. Domains are lower-cased; local parts kept as typed.
 */
#ifndef MAILER_SUBSCRIBERS_ADDR_H
#define MAILER_SUBSCRIBERS_ADDR_H

#include "err.h"

#define ADDR_MAX 255 /* 254 octets + NUL */

struct addr {
    char ascii[ADDR_MAX];   /* for SMTP and headers: local@punycode-domain */
    char unicode[ADDR_MAX * 4]; /* for display: local@unicode-domain */
    char key[ADDR_MAX];     /* lower-cased ascii: finds duplicates */
};

/*
 * Validates `input` (surrounding spaces are trimmed; nothing else is
 * changed). MERR_INVAL with the reason, e.g. "local part is longer than 64
 * octets", "domain label \"-abc\" starts with a hyphen".
 */
enum merr addr_parse(const char *input, struct addr *out);

#endif
