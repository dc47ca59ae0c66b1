/*
 * http_csrf.c: the share form's CSRF token, accepted once.
 *
 * A token is base64url (RFC 4648 §5) of 16 random bytes, the issue time as
 * 8 big-endian bytes and the first 16 bytes of HMAC-SHA256("csrf" | nonce |
 * time) under the [mail] secret: no table is needed to issue one, and a
 * forged or altered token fails the MAC. It is good for HTTP_CSRF_TTL
 * seconds. When a form comes back its nonce is inserted into `csrf_used`
 * (primary key), so a second use of the same token is refused even under
 * parallel requests; rows older than the lifetime are deleted by the
 * server's housekeeping, after which the token has expired anyway. The
 * check is in two steps so that the handler can put its rate limits
 * between them: http_csrf_verify writes nothing, and the nonce is written
 * (http_store_csrf_use) only for a request the limits let through, so a
 * flood of fresh tokens cannot grow the table faster than the limits.
 */
#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "http_int.h"
#include "rnd.h"

#define NONCE_LEN 16
#define MAC_LEN   16
#define RAW_LEN   (NONCE_LEN + 8 + MAC_LEN)

static void mac(const char *secret, const unsigned char *nonce_time, unsigned char out[MAC_LEN])
{
    unsigned char msg[4 + NONCE_LEN + 8], full[CRYPTO_SHA256_LEN];
    memcpy(msg, "csrf", 4);
    memcpy(msg + 4, nonce_time, NONCE_LEN + 8);
    crypto_hmac_sha256(full, secret, strlen(secret), msg, sizeof msg);
    memcpy(out, full, MAC_LEN);
}

enum merr http_csrf_make(const char *secret, time_t now, struct buf *out)
{
    unsigned char raw[RAW_LEN];
    unsigned long long t = (unsigned long long)now;
    enum merr rc = rnd_bytes(raw, NONCE_LEN);
    if (rc)
        return rc;
    for (int i = 0; i < 8; i++)
        raw[NONCE_LEN + i] = (unsigned char)(t >> (56 - 8 * i));
    mac(secret, raw, raw + NONCE_LEN + 8);
    return enc_base64url(out, raw, sizeof raw);
}

enum merr http_csrf_verify(const char *secret, const char *token, time_t now,
                           char nonce_hex[HTTP_CSRF_NONCE_HEX + 1])
{
    unsigned char raw[RAW_LEN + 4], want[MAC_LEN];
    size_t n = 0, len;
    unsigned long long t = 0;

    if (!token || !*token)
        return merr_set(MERR_INVAL, "the form's security token is missing");
    len = strlen(token);
    if (len > 64 || dec_base64url(raw, sizeof raw, &n, token, len) || n != RAW_LEN)
        return merr_set(MERR_INVAL, "the form's security token is malformed");
    mac(secret, raw, want);
    if (!crypto_equal(want, raw + NONCE_LEN + 8, MAC_LEN))
        return merr_set(MERR_INVAL, "the form's security token is not genuine");
    for (int i = 0; i < 8; i++)
        t = (t << 8) | raw[NONCE_LEN + i];
    if ((time_t)t > now + 60 || now - (time_t)t > HTTP_CSRF_TTL)
        return merr_set(MERR_LIMIT, "the form has expired");
    enc_hex(nonce_hex, raw, NONCE_LEN);
    return MERR_OK;
}

enum merr http_csrf_check(struct db *db, const char *secret, const char *token, time_t now)
{
    char nonce_hex[HTTP_CSRF_NONCE_HEX + 1];
    enum merr rc = http_csrf_verify(secret, token, now, nonce_hex);
    if (rc)
        return rc;
    return http_store_csrf_use(db, nonce_hex, now);
}
