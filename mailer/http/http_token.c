/*
 * http_token.c: the admin API's bearer tokens (RFC 6750), the public side.
 *
 * A token is made here, printed once by the caller and forgotten: the
 * table keeps only the hex SHA-256 of the whole token text (prefix
 * included), so checking a request's token is one hash and one indexed
 * lookup, and a copy of the database holds nothing that authenticates.
 * 32 bytes from the CSPRNG give 256 bits: a token cannot be guessed, so no
 * slow hash is needed. The SQL lives in http_store.c.
 */
#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "http.h"
#include "http_int.h"
#include "rnd.h"
#include "utf8.h"

#define TOKEN_RANDOM_BYTES 32

enum merr http_token_create(struct db *db, const char *name, int read_only, time_t now,
                            struct buf *out, long long *id)
{
    unsigned char raw[TOKEN_RANDOM_BYTES];
    char hash[2 * CRYPTO_SHA256_LEN + 1];
    size_t start = out->len, n = name ? strlen(name) : 0;
    long long tid = 0;
    enum merr rc;

    if (!n || n > HTTP_TOKEN_NAME_MAX)
        return merr_set(MERR_INVAL, "token name: 1 to %d bytes", HTTP_TOKEN_NAME_MAX);
    if (!utf8_valid(name, n, NULL) || utf8_has_crlf_nul(name, n))
        return merr_set(MERR_INVAL, "token name: one line of UTF-8 text");
    rc = rnd_bytes(raw, sizeof raw);
    if (!rc)
        rc = buf_puts(out, HTTP_TOKEN_PREFIX);
    if (!rc)
        rc = enc_base64url(out, raw, sizeof raw);
    if (!rc) {
        crypto_sha256_hex(hash, out->data + start, out->len - start);
        rc = http_store_token_create(db, name, read_only, hash, now, &tid);
    }
    memset(raw, 0, sizeof raw);
    if (rc) {
        /* never leave half a token (or one that was not stored) in `out` */
        if (out->data)
            memset(out->data + start, 0, out->len - start);
        buf_truncate(out, start);
        return rc;
    }
    if (id)
        *id = tid;
    return MERR_OK;
}

enum merr http_token_check(struct db *db, const char *token, time_t now, long long *id,
                           int *read_only)
{
    char hash[2 * CRYPTO_SHA256_LEN + 1];
    long long tid = 0;
    int ro = 0;
    enum merr rc;

    if (!token || !*token)
        return merr_set(MERR_NOTFOUND, "no token");
    crypto_sha256_hex(hash, token, strlen(token));
    rc = http_store_token_find(db, hash, now, &tid, &ro);
    if (!rc && id)
        *id = tid;
    if (!rc && read_only)
        *read_only = ro;
    return rc;
}

enum merr http_token_list(struct db *db, struct http_token **out, size_t *n)
{
    return http_store_token_list(db, out, n);
}

enum merr http_token_revoke(struct db *db, const char *id_or_name, time_t now, int *revoked)
{
    int k = 0;
    enum merr rc;
    if (!id_or_name || !*id_or_name)
        return merr_set(MERR_NOTFOUND, "no token named");
    rc = http_store_token_revoke(db, id_or_name, now, &k);
    if (revoked)
        *revoked = k;
    return rc;
}
