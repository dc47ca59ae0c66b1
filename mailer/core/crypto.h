/*
 * crypto.h: hashes and MACs (OpenSSL), for content addresses, API token
 * hashes and the HMAC-SHA256 tokens in confirm, unsubscribe and VERP links.
 */
#ifndef MAILER_CORE_CRYPTO_H
#define MAILER_CORE_CRYPTO_H

#include <stddef.h>

#include "err.h"

#define CRYPTO_SHA256_LEN 32

/* SHA-256 of `p` into `out` (32 bytes). */
void crypto_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *p, size_t n);

/* SHA-256 of `p` as 64 lowercase hex digits plus NUL. */
void crypto_sha256_hex(char out[2 * CRYPTO_SHA256_LEN + 1], const void *p, size_t n);

/* HMAC-SHA256 of `msg` under `key` into `out` (32 bytes). */
void crypto_hmac_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *key, size_t keylen,
                        const void *msg, size_t msglen);

/*
 * A prepared HMAC-SHA256 key: the algorithm is fetched and the key's
 * inner and outer pads computed once, so each MAC costs only the hashing
 * (OpenSSL 3's one-shot HMAC() fetches SHA-256 and keys a fresh context on
 * every call). Not thread-safe: one per thread.
 *
 * crypto_hmac_new keys a new object with a copy of `key` (keylen may be 0);
 * the caller frees it with crypto_hmac_free (NULL is fine). MERR_NOMEM if
 * it cannot be allocated, MERR_INTERNAL if OpenSSL refuses HMAC-SHA256.
 * crypto_hmac_sha256_with gives the same bytes as crypto_hmac_sha256 under
 * the object's key; it never fails (it falls back to the one-shot call).
 * crypto_hmac_has_key is 1 if the object was keyed with exactly `key`.
 */
struct crypto_hmac;
enum merr crypto_hmac_new(const void *key, size_t keylen, struct crypto_hmac **out);
void crypto_hmac_sha256_with(struct crypto_hmac *h, unsigned char out[CRYPTO_SHA256_LEN],
                             const void *msg, size_t msglen);
int crypto_hmac_has_key(const struct crypto_hmac *h, const void *key, size_t keylen);
void crypto_hmac_free(struct crypto_hmac *h);

/* 1 if the two byte strings are equal, compared in constant time for equal lengths. */
int crypto_equal(const void *a, const void *b, size_t n);

#endif
