/*
 * crypto.c: thin wrappers over OpenSSL's one-shot digest and HMAC calls.
 */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "enc.h"

void crypto_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *p, size_t n)
{
    SHA256(p, n, out);
}

void crypto_sha256_hex(char out[2 * CRYPTO_SHA256_LEN + 1], const void *p, size_t n)
{
    unsigned char d[CRYPTO_SHA256_LEN];
    SHA256(p, n, d);
    enc_hex(out, d, sizeof d);
}

void crypto_hmac_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *key, size_t keylen,
                        const void *msg, size_t msglen)
{
    unsigned int len = CRYPTO_SHA256_LEN;
    HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &len);
}

int crypto_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
