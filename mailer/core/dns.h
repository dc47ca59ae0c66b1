/*
 * dns.h: TXT lookups, for `mailer doctor` (DKIM keys, SPF, DMARC records).
 *
 * Through the C library's resolver (libresolv), by default with the
 * system's name servers, or with one given name server (an IPv4 address and
 * port), as the tests do and as an admin may to ask a zone's own server.
 */
#ifndef MAILER_CORE_DNS_H
#define MAILER_CORE_DNS_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* The TXT records found at one name: each one's strings joined. */
struct dns_txt {
    char **rec; /* NUL-terminated texts (a NUL inside a record is refused) */
    size_t n;
};

#define DNS_TXT_MAX 32 /* records kept per name */

/*
 * Looks up the TXT records of `name`. `nameserver` is NULL (the system's
 * resolver configuration) or "A.B.C.D" or "A.B.C.D:PORT". On MERR_OK, *out
 * holds the records (n = 0 when the name does not exist or has no TXT);
 * the caller frees it with dns_txt_free. MERR_TEMPFAIL when no answer came
 * (timeout, SERVFAIL, refused), MERR_CONFIG for a bad `nameserver`,
 * MERR_INVAL for a malformed answer or name; each with merr_msg() saying
 * which name.
 */
enum merr dns_txt_lookup(const char *nameserver, const char *name, struct dns_txt *out);

/*
 * Parses a DNS response message `msg[0..len)` (RFC 1035 §4) and keeps the
 * TXT records of its answer section, each record's character-strings
 * (§3.3.14) joined without separator (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
 * MERR_INVAL for a message that does not parse or a string that runs past
 * its record. For data from the network: has a fuzz harness.
 */
enum merr dns_txt_answer(const unsigned char *msg, size_t len, struct dns_txt *out);

void dns_txt_free(struct dns_txt *t);

/* 1 if `spec` is a name server dns_txt_lookup takes: "A.B.C.D" or "A.B.C.D:PORT". */
int dns_nameserver_ok(const char *spec);

#endif
