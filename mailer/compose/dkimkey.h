/*
 * dkimkey.h: DKIM private keys and their DNS records (RFC 6376 §3.6,
 * RFC 8463 §4).
 *
 * A key file is a PEM private key (PKCS#8, "BEGIN PRIVATE KEY", as
 * `openssl genpkey` and `mailer dkim keygen` write it): RSA of at least
 * 2048 bits (rsa-sha256) or Ed25519 (ed25519-sha256). A file that group or
 * others may access is refused, as is anything else. The public half is
 * published as a TXT record at SELECTOR._domainkey.DOMAIN:
 *   RSA      "v=DKIM1; k=rsa; p=" base64 of the SubjectPublicKeyInfo DER
 *   Ed25519  "v=DKIM1; k=ed25519; p=" base64 of the raw 32-byte key
 */
#ifndef MAILER_COMPOSE_DKIMKEY_H
#define MAILER_COMPOSE_DKIMKEY_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

enum dkimkey_alg { DKIMKEY_RSA, DKIMKEY_ED25519 };

#define DKIMKEY_RSA_BITS 2048 /* generated, and the least accepted */

struct dkimkey;

/*
 * Loads the private key in `path`. MERR_CONFIG naming the file and the
 * reason when it cannot be read, is not a regular file, is accessible to
 * group or others ("chmod 600" is the fix), is not a PEM private key, is
 * RSA under DKIMKEY_RSA_BITS or another kind of key. The key is owned by
 * the caller (dkimkey_free; NULL is ok) and may be used by any number of
 * threads at once.
 */
enum merr dkimkey_load(const char *path, struct dkimkey **out);
void dkimkey_free(struct dkimkey *k);

enum dkimkey_alg dkimkey_alg(const struct dkimkey *k);

/* "rsa" or "ed25519": the k= tag of the record. */
const char *dkimkey_alg_name(enum dkimkey_alg alg);

/* Bits of the key (2048, 4096 for RSA; 256 for Ed25519). */
int dkimkey_bits(const struct dkimkey *k);

/*
 * The key's OpenSSL EVP_PKEY (borrowed, for the signer), as void * so that
 * this header does not need OpenSSL's.
 */
void *dkimkey_pkey(const struct dkimkey *k);

/*
 * Makes a new key of `alg` and writes it to `path` with mode 0600,
 * creating its folder (0700) if needed. Never replaces a file:
 * MERR_EXISTS if `path` exists. MERR_IO naming the path, MERR_INTERNAL if
 * OpenSSL fails. The key is returned in *out (owned) when out is not NULL.
 */
enum merr dkimkey_generate(const char *path, enum dkimkey_alg alg, struct dkimkey **out);

/* Appends the base64 p= value of the key's public half. */
enum merr dkimkey_public_b64(const struct dkimkey *k, struct buf *out);

/* Appends the TXT record's text: "v=DKIM1; k=rsa; p=MIIB...". */
enum merr dkimkey_record(const struct dkimkey *k, struct buf *out);

/*
 * Appends the record as a zone-file line, its text cut into quoted strings
 * of at most 255 characters (RFC 1035 §3.3.14):
 *   SELECTOR._domainkey.DOMAIN. IN TXT ( "v=DKIM1; k=rsa; " "p=..." )
 */
enum merr dkimkey_zone_line(const struct dkimkey *k, const char *selector, const char *domain,
                            struct buf *out);

/* What a published key record says (RFC 6376 §3.6.1). */
struct dkimkey_txt {
    char v[16];   /* "DKIM1" or "" when absent */
    char k[16];   /* key type; "rsa" when absent (the default) */
    char h[64];   /* acceptable hashes, "" when absent */
    char s[64];   /* service types, "" when absent */
    char t[64];   /* flags ("y" = testing, "s" = strict), "" when absent */
    char p[1400]; /* the public key, base64 with whitespace removed; "" = revoked */
    int has_p;    /* the p= tag was there (it is required) */
};

/*
 * Parses the text of a key record, `txt[0..n)` (the TXT strings already
 * joined), as the tag=value list of RFC 6376 §3.2: tags separated by ';',
 * whitespace allowed around tags, '=' and values, a trailing ';' allowed.
 * MERR_INVAL with the reason for: a tag without '=', a tag name that is not
 * ALPHA *(ALNUM / "_"), the same tag twice, v= not first or not "DKIM1", a
 * value too long for its field, no p= tag, a p= value that is not base64.
 * Unknown tags are ignored (§3.2). `*out` is filled on success.
 */
enum merr dkimkey_txt_parse(const char *txt, size_t n, struct dkimkey_txt *out);

#endif
