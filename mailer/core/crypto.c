/*
 * crypto.c: thin wrappers over OpenSSL's one-shot digest and HMAC calls,
 * and a prepared HMAC key (struct crypto_hmac) for hot paths: an EVP_MAC
 * context keyed once, re-initialised per MAC with a NULL key, which
 * OpenSSL 3's HMAC provider defines as "same key again" (it restarts from
 * the stored pads). The key is kept too, for crypto_hmac_has_key and for
 * the one-shot fallback should OpenSSL ever fail mid-way.
 */
#include "crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <stdlib.h>
#include <string.h>

#include "enc.h"

struct crypto_hmac {
    EVP_MAC_CTX *ctx;
    unsigned char *key;
    size_t keylen;
};

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

enum merr crypto_hmac_new(const void *key, size_t keylen, struct crypto_hmac **out)
{
    struct crypto_hmac *h = NULL;
    EVP_MAC *mac = NULL;
    OSSL_PARAM params[2];
    enum merr rc = MERR_OK;

    *out = NULL;
    h = calloc(1, sizeof *h);
    if (!h || !(h->key = malloc(keylen ? keylen : 1))) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    if (keylen)
        memcpy(h->key, key, keylen);
    h->keylen = keylen;
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    h->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!h->ctx || !EVP_MAC_init(h->ctx, h->key, keylen, params)) {
        rc = merr_set(MERR_INTERNAL, "OpenSSL cannot prepare HMAC-SHA256");
        goto out;
    }
    *out = h;
    h = NULL;
out:
    EVP_MAC_free(mac);
    crypto_hmac_free(h);
    return rc;
}

void crypto_hmac_sha256_with(struct crypto_hmac *h, unsigned char out[CRYPTO_SHA256_LEN],
                             const void *msg, size_t msglen)
{
    size_t len = 0;
    /* key NULL: restart from the pads of the key set in crypto_hmac_new */
    if (EVP_MAC_init(h->ctx, NULL, 0, NULL) && EVP_MAC_update(h->ctx, msg, msglen) &&
        EVP_MAC_final(h->ctx, out, &len, CRYPTO_SHA256_LEN) && len == CRYPTO_SHA256_LEN)
        return;
    crypto_hmac_sha256(out, h->key, h->keylen, msg, msglen);
}

int crypto_hmac_has_key(const struct crypto_hmac *h, const void *key, size_t keylen)
{
    return h && h->keylen == keylen && (!keylen || !memcmp(h->key, key, keylen));
}

void crypto_hmac_free(struct crypto_hmac *h)
{
    if (!h)
        return;
    EVP_MAC_CTX_free(h->ctx);
    if (h->key)
        OPENSSL_cleanse(h->key, h->keylen);
    free(h->key);
    free(h);
}

int crypto_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
