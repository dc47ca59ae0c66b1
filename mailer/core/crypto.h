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

/* 1 if the two byte strings are equal, compared in constant time for equal lengths. */
int crypto_equal(const void *a, const void *b, size_t n);

#endif
