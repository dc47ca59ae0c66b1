/*
 * subs_token.c: confirm and unsubscribe tokens without a table.
 *
 * A token is base64url (RFC 4648 §5, no padding) of 41 bytes:
 *
 *   kind (1) | subscriber id (8, big-endian) | list id (8) | expiry (8) |
 *   MAC (16) = HMAC-SHA256(secret, "mailer-subs-token\0" | first 25 bytes |
 *                          the subscriber's token salt) truncated to 128 bits
 *
 * The salt (subscribers.token_salt, 16 random bytes) dies with the person:
 * after `sub erase` or `sub rm` no row holds it, so their old links are
 * worth nothing even to someone who later got the same id (ids are never
 * reused either; migration 0006). Rows older than that migration have an
 * empty salt, which gives the MAC of the tokens already in their mailboxes.
 *
 * The MAC covers the kind, so a confirm token is no unsubscribe token and
 * the other way round. dec_base64url refuses non-canonical trailing bits,
 * so every one of the 55 characters matters: changing any one changes the
 * bytes and the MAC check fails (compared in constant time). Expiry 0 means
 * never (unsubscribe links must keep working in old mail).
 */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "subs.h"
#include "subs_store.h"

#define TOK_BODY 25
#define TOK_MAC  16
#define TOK_LEN  (TOK_BODY + TOK_MAC)

static const char TOK_DOMAIN[] = "mailer-subs-token";

static void put64(unsigned char *p, unsigned long long v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static unsigned long long get64(const unsigned char *p)
{
    unsigned long long v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static enum merr mac(const char *secret, const unsigned char *salt, size_t salt_len,
                     const unsigned char *body, unsigned char out[TOK_MAC])
{
    unsigned char msg[sizeof TOK_DOMAIN + TOK_BODY + SUBS_SALT_MAX], full[CRYPTO_SHA256_LEN];
    if (salt_len > SUBS_SALT_MAX)
        return merr_set(MERR_INVAL, "token salt is longer than %d bytes", SUBS_SALT_MAX);
    memcpy(msg, TOK_DOMAIN, sizeof TOK_DOMAIN); /* with its NUL as separator */
    memcpy(msg + sizeof TOK_DOMAIN, body, TOK_BODY);
    if (salt_len)
        memcpy(msg + sizeof TOK_DOMAIN + TOK_BODY, salt, salt_len);
    crypto_hmac_sha256(full, secret, strlen(secret), msg, sizeof TOK_DOMAIN + TOK_BODY + salt_len);
    memcpy(out, full, TOK_MAC);
    return MERR_OK;
}

enum merr subs_token_make(const char *secret, const unsigned char *salt, size_t salt_len,
                          enum subs_token_kind kind, long long subscriber_id, long long list_id,
                          time_t expires, struct buf *out)
{
    unsigned char t[TOK_LEN];
    enum merr rc;
    if (!secret || !secret[0])
        return merr_set(MERR_CONFIG, "no [mail] secret for tokens");
    t[0] = (unsigned char)kind;
    put64(t + 1, (unsigned long long)subscriber_id);
    put64(t + 9, (unsigned long long)list_id);
    put64(t + 17, (unsigned long long)(expires > 0 ? expires : 0));
    rc = mac(secret, salt, salt_len, t, t + TOK_BODY);
    if (rc)
        return rc;
    return enc_base64url(out, t, sizeof t);
}

/* Decodes a token's TOK_LEN bytes into t; MERR_INVAL if it cannot be one. */
static enum merr decode(const char *token, unsigned char t[TOK_LEN])
{
    size_t n, len;
    if (!token || (len = strlen(token)) != (TOK_LEN * 4 + 2) / 3)
        return merr_set(MERR_INVAL, "link is not valid (wrong length)");
    if (dec_base64url(t, TOK_LEN, &n, token, len) || n != TOK_LEN)
        return merr_set(MERR_INVAL, "link is not valid (bad characters)");
    return MERR_OK;
}

enum merr subs_token_ids(const char *token, long long *subscriber_id, long long *list_id)
{
    unsigned char t[TOK_LEN];
    enum merr rc = decode(token, t);
    if (rc)
        return rc;
    *subscriber_id = (long long)get64(t + 1);
    *list_id = (long long)get64(t + 9);
    return MERR_OK;
}

enum merr subs_token_check(const char *secret, const unsigned char *salt, size_t salt_len,
                           const char *token, enum subs_token_kind kind, time_t now,
                           long long *subscriber_id, long long *list_id)
{
    unsigned char t[TOK_LEN], m[TOK_MAC];
    unsigned long long exp;
    enum merr rc;

    if (!secret || !secret[0])
        return merr_set(MERR_CONFIG, "no [mail] secret for tokens");
    rc = decode(token, t);
    if (rc)
        return rc;
    rc = mac(secret, salt, salt_len, t, m);
    if (rc)
        return rc;
    if (!crypto_equal(m, t + TOK_BODY, TOK_MAC))
        return merr_set(MERR_INVAL, "link is not valid (signature does not match)");
    if (t[0] != (unsigned char)kind)
        return merr_set(MERR_INVAL, "link is not valid (wrong kind of link)");
    *subscriber_id = (long long)get64(t + 1);
    *list_id = (long long)get64(t + 9);
    exp = get64(t + 17);
    if (exp && (unsigned long long)now > exp)
        return merr_set(MERR_LIMIT, "link has expired");
    return MERR_OK;
}

static enum merr url(struct db *db, const struct config *cfg, const char *path,
                     enum subs_token_kind kind, long long sid, long long lid, time_t expires,
                     struct buf *out)
{
    const char *base = cfg->site_base_url ? cfg->site_base_url : "";
    size_t bl = strlen(base), mark = out->len;
    struct subs_store_sub s;
    enum merr rc = MERR_OK;
    while (bl && base[bl - 1] == '/')
        bl--;
    s.salt_len = 0;
    if (sid > 0) /* 0: the sample reader of a preview, whose link leads nowhere */
        rc = subs_store_sub_get(db, sid, &s);
    if (!rc)
        rc = buf_append(out, base, bl);
    if (!rc)
        rc = buf_puts(out, path);
    if (!rc)
        rc = subs_token_make(cfg->secret, s.salt, s.salt_len, kind, sid, lid, expires, out);
    if (rc)
        buf_truncate(out, mark);
    return rc;
}

enum merr subs_unsubscribe_url(struct db *db, const struct config *cfg, long long subscriber_id,
                               long long list_id, struct buf *out)
{
    return url(db, cfg, "/unsubscribe/", SUBS_TOKEN_UNSUBSCRIBE, subscriber_id, list_id, 0, out);
}

enum merr subs_confirm_url(struct db *db, const struct config *cfg, long long subscriber_id,
                           long long list_id, time_t now, struct buf *out)
{
    return url(db, cfg, "/confirm/", SUBS_TOKEN_CONFIRM, subscriber_id, list_id,
               now + SUBS_CONFIRM_TTL, out);
}

/*
 * The List-Unsubscribe mailto token: "S.L.MAC" in the local part, MAC the
 * first 80 bits of HMAC-SHA256(secret, "mailto-unsubscribe:S:L") in
 * lower-case hex, so that a relay folding the local part to lower case
 * (RFC 5321 §2.4 allows it) does not break it. The token has no expiry:
 * old mail must keep unsubscribing.
 */
#define MAILTO_MAC 10

static void mailto_mac(const char *secret, long long s, long long l, char out[2 * MAILTO_MAC + 1])
{
    unsigned char full[CRYPTO_SHA256_LEN];
    char msg[96];
    int n = snprintf(msg, sizeof msg, "mailto-unsubscribe:%lld:%lld", s, l);
    crypto_hmac_sha256(full, secret, strlen(secret), msg, (size_t)n);
    enc_hex(out, full, MAILTO_MAC);
}

enum merr subs_unsubscribe_mailto(const struct config *cfg, long long subscriber_id,
                                  long long list_id, struct buf *out)
{
    const char *base = cfg->unsubscribe_mailto, *at;
    char mac[2 * MAILTO_MAC + 1];
    if (!cfg->secret || !cfg->secret[0])
        return merr_set(MERR_CONFIG, "no [mail] secret for tokens");
    mailto_mac(cfg->secret, subscriber_id, list_id, mac);
    if (base && (at = strchr(base, '@')) != NULL)
        return buf_printf(out, "mailto:%.*s+%lld.%lld.%s%s?subject=unsubscribe", (int)(at - base),
                          base, subscriber_id, list_id, mac, at);
    return buf_printf(out, "mailto:" SUBS_UNSUBSCRIBE_PREFIX "%lld.%lld.%s@%s?subject=unsubscribe",
                      subscriber_id, list_id, mac, cfg_mail_domain(cfg));
}

static int parse_id(const char **p, long long *out)
{
    long long v = 0;
    int digits = 0;
    while (**p >= '0' && **p <= '9') {
        if (++digits > 18)
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    if (!digits || v <= 0)
        return -1;
    *out = v;
    return 0;
}

enum merr subs_mailto_check(const char *secret, const char *address, long long *subscriber_id,
                            long long *list_id)
{
    const char *p = address, *plus;
    char got[2 * MAILTO_MAC + 1], want[2 * MAILTO_MAC + 1];
    long long s, l;

    if (!secret || !address)
        return merr_set(MERR_INVAL, "no unsubscribe token");
    if (*p == '<')
        p++;
    plus = strchr(p, '+');
    if (!plus || (strchr(p, '@') && strchr(p, '@') < plus))
        return merr_set(MERR_INVAL, "no unsubscribe token in \"%.100s\"", address);
    p = plus + 1;
    if (parse_id(&p, &s) || *p++ != '.' || parse_id(&p, &l) || *p++ != '.')
        return merr_set(MERR_INVAL, "malformed unsubscribe token in \"%.100s\"", address);
    for (int i = 0; i < 2 * MAILTO_MAC; i++, p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return merr_set(MERR_INVAL, "malformed unsubscribe token in \"%.100s\"", address);
        got[i] = (char)(c >= 'A' && c <= 'F' ? c + 32 : c);
    }
    got[2 * MAILTO_MAC] = '\0';
    if (*p != '@')
        return merr_set(MERR_INVAL, "malformed unsubscribe token in \"%.100s\"", address);
    mailto_mac(secret, s, l, want);
    if (!crypto_equal(got, want, 2 * MAILTO_MAC))
        return merr_set(MERR_INVAL, "unsubscribe token with a forged or altered MAC");
    *subscriber_id = s;
    *list_id = l;
    return MERR_OK;
}
