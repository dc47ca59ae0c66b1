/*
 * http_csrf.c: the public forms' CSRF tokens, bound to the browser that got
 * the form, accepted once, and the Origin check; the admin forms'
 * tokens, bound to a session.
 *
 * A token is base64url (RFC 4648 §5) of 16 random bytes, the issue time as
 * 8 big-endian bytes and the first 16 bytes of HMAC-SHA256("csrf" | nonce |
 * time | bind) under the [mail] secret: no table is needed to issue one,
 * and a forged or altered token fails the MAC. `bind` is the value of the
 * browser's form cookie (HTTP_CSRF_COOKIE: 16 random bytes, HttpOnly,
 * SameSite=Lax), set with the first form page it gets: a token fetched by
 * someone else (an attacker's own GET) carries another cookie's MAC and is
 * refused when a victim's browser posts it (the "signed double-submit
 * cookie" of OWASP's CSRF cheat sheet). It is good for HTTP_CSRF_TTL
 * seconds. When a form comes back its nonce is inserted into `csrf_used`
 * (primary key), so a second use of the same token is refused even under
 * parallel requests; rows older than the lifetime are deleted by the
 * server's housekeeping, after which the token has expired anyway. The
 * check is in two steps so that the handler can put its rate limits
 * between them: http_csrf_form_check writes nothing, and the nonce is
 * written (http_store_csrf_use) only for a request the limits let through,
 * so a flood of fresh tokens cannot grow the table faster than the limits.
 *
 * Every form POST is also refused when the browser says it comes from
 * another site: an Origin header (RFC 6454 §7; Fetch sends it on every
 * POST) must be the origin of [site] base_url or of the request's own Host;
 * "null" (sandboxed or privacy-redirected documents) is refused. Without
 * Origin (old browsers, non-browser clients) the token alone decides.

 * The admin pages are only for a signed-in session, so their token is
 * derived from it (http_csrf_session: an HMAC of the session's stored name,
 * the synchronizer token of OWASP's CSRF cheat sheet without a table): it
 * cannot be computed without the server's secret, is the same for every
 * form of one session and dies with it. An admin POST must carry it AND
 * pass the Origin check.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "enc.h"
#include "http_int.h"
#include "rnd.h"

#define NONCE_LEN 16
#define MAC_LEN   16
#define RAW_LEN   (NONCE_LEN + 8 + MAC_LEN)

static void mac(const char *secret, const unsigned char *nonce_time, const char *bind,
                unsigned char out[MAC_LEN])
{
    unsigned char msg[4 + NONCE_LEN + 8 + HTTP_CSRF_BIND_LEN], full[CRYPTO_SHA256_LEN];
    size_t bl = bind ? strnlen(bind, HTTP_CSRF_BIND_LEN) : 0;
    memcpy(msg, "csrf", 4);
    memcpy(msg + 4, nonce_time, NONCE_LEN + 8);
    if (bl)
        memcpy(msg + 4 + NONCE_LEN + 8, bind, bl);
    crypto_hmac_sha256(full, secret, strlen(secret), msg, 4 + NONCE_LEN + 8 + bl);
    memcpy(out, full, MAC_LEN);
}

enum merr http_csrf_make(const char *secret, const char *bind, time_t now, struct buf *out)
{
    unsigned char raw[RAW_LEN];
    unsigned long long t = (unsigned long long)now;
    enum merr rc = rnd_bytes(raw, NONCE_LEN);
    if (rc)
        return rc;
    for (int i = 0; i < 8; i++)
        raw[NONCE_LEN + i] = (unsigned char)(t >> (56 - 8 * i));
    mac(secret, raw, bind, raw + NONCE_LEN + 8);
    return enc_base64url(out, raw, sizeof raw);
}

enum merr http_csrf_verify(const char *secret, const char *bind, const char *token, time_t now,
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
    mac(secret, raw, bind, want);
    if (!crypto_equal(want, raw + NONCE_LEN + 8, MAC_LEN))
        return merr_set(MERR_INVAL, "the form's security token is not genuine");
    for (int i = 0; i < 8; i++)
        t = (t << 8) | raw[NONCE_LEN + i];
    if ((time_t)t > now + 60 || now - (time_t)t > HTTP_CSRF_TTL)
        return merr_set(MERR_LIMIT, "the form has expired");
    enc_hex(nonce_hex, raw, NONCE_LEN);
    return MERR_OK;
}

enum merr http_csrf_check(struct db *db, const char *secret, const char *bind, const char *token,
                          time_t now)
{
    char nonce_hex[HTTP_CSRF_NONCE_HEX + 1];
    enum merr rc = http_csrf_verify(secret, bind, token, now, nonce_hex);
    if (rc)
        return rc;
    return http_store_csrf_use(db, nonce_hex, now);
}

int http_cookie(const struct http_req *r, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    for (const char *p = r->cookie; p && *p;) { /* RFC 6265 §5.4: "a=1; b=2" */
        size_t n;
        p += strspn(p, " \t;");
        n = strcspn(p, ";");
        if (n > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            size_t vl = n - nl - 1;
            while (vl && (p[nl + 1 + vl - 1] == ' ' || p[nl + 1 + vl - 1] == '\t'))
                vl--;
            if (vl >= size)
                return 0;
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return 1;
        }
        p += n;
    }
    return 0;
}

/* The browser's form cookie, if it sent one of the right shape. */
static int bind_get(const struct http_req *r, char bind[HTTP_CSRF_BIND_LEN + 1])
{
    if (!http_cookie(r, HTTP_CSRF_COOKIE, bind, HTTP_CSRF_BIND_LEN + 1) ||
        strlen(bind) != HTTP_CSRF_BIND_LEN)
        return 0;
    for (const char *p = bind; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

enum merr http_csrf_form_token(struct http_req *r, time_t now, struct buf *out)
{
    const struct config *cfg = r->ctx->cfg;
    char bind[HTTP_CSRF_BIND_LEN + 1];
    enum merr rc;

    if (!bind_get(r, bind)) {
        unsigned char raw[16];
        struct buf b;
        char cookie[160];
        buf_init(&b, 64);
        rc = rnd_bytes(raw, sizeof raw);
        if (!rc)
            rc = enc_base64url(&b, raw, sizeof raw);
        if (!rc && b.len != HTTP_CSRF_BIND_LEN)
            rc = merr_set(MERR_INTERNAL, "form cookie of %zu characters", b.len);
        if (rc) {
            buf_free(&b);
            return rc;
        }
        memcpy(bind, b.data, HTTP_CSRF_BIND_LEN + 1);
        buf_free(&b);
        /* RFC 6265 §4.1; Secure when the site is served over https */
        snprintf(cookie, sizeof cookie, "%s=%s; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax%s",
                 HTTP_CSRF_COOKIE, bind,
                 strncmp(cfg->site_base_url, "https://", 8) == 0 ? "; Secure" : "");
        http_header(r, "Set-Cookie", cookie);
    }
    return http_csrf_make(cfg->secret, bind, now, out);
}

void http_csrf_session(const char *secret, const char *session, char out[HTTP_CSRF_SESSION_LEN + 1])
{
    unsigned char full[CRYPTO_SHA256_LEN];
    unsigned char msg[10 + 128];
    size_t n = strlen(session);
    struct buf b;

    if (n > 128)
        n = 128;
    memcpy(msg, "admin-csrf", 10);
    memcpy(msg + 10, session, n);
    crypto_hmac_sha256(full, secret, strlen(secret), msg, 10 + n);
    buf_init(&b, 64);
    out[0] = '\0';
    if (enc_base64url(&b, full, 24) == MERR_OK && b.len == HTTP_CSRF_SESSION_LEN)
        memcpy(out, b.data, HTTP_CSRF_SESSION_LEN + 1);
    buf_free(&b);
}

int http_csrf_session_ok(const char *secret, const char *session, const char *token)
{
    char want[HTTP_CSRF_SESSION_LEN + 1];
    if (!token || strlen(token) != HTTP_CSRF_SESSION_LEN)
        return 0;
    http_csrf_session(secret, session, want);
    return want[0] && crypto_equal(want, token, HTTP_CSRF_SESSION_LEN);
}

/* Length of the origin ("scheme://host[:port]") at the start of a URL, 0 if none. */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    p += 3;
    return (size_t)(p - url) + strcspn(p, "/?#");
}

int http_csrf_origin_ok(const struct http_req *r)
{
    const char *o = r->origin, *base = r->ctx->cfg->site_base_url;
    size_t n;
    if (!o)
        return 1;
    n = strlen(o);
    if (!n || !strcmp(o, "null"))
        return 0;
    if (n == origin_len(base) && strncasecmp(o, base, n) == 0)
        return 1;
    /* the request's own host, for a server reached by another name than base_url */
    if (r->host) {
        const char *h = strstr(o, "://");
        if (h && strcasecmp(h + 3, r->host) == 0)
            return 1;
    }
    return 0;
}

enum http_csrf_fault http_csrf_form_check(const struct http_req *r, const char *token, time_t now,
                                          char nonce_hex[HTTP_CSRF_NONCE_HEX + 1])
{
    char bind[HTTP_CSRF_BIND_LEN + 1];
    enum merr rc;

    if (!http_csrf_origin_ok(r))
        return HTTP_CSRF_OTHER_SITE;
    if (!bind_get(r, bind))
        return HTTP_CSRF_NO_COOKIE;
    rc = http_csrf_verify(r->ctx->cfg->secret, bind, token, now, nonce_hex);
    if (rc == MERR_LIMIT)
        return HTTP_CSRF_EXPIRED;
    return rc ? HTTP_CSRF_BAD : HTTP_CSRF_OK;
}

const char *http_csrf_fault_reason(enum http_csrf_fault f)
{
    switch (f) {
    case HTTP_CSRF_OK:
        return NULL;
    case HTTP_CSRF_OTHER_SITE:
        return "csrf.other_site";
    case HTTP_CSRF_NO_COOKIE:
        return "csrf.no_cookie";
    case HTTP_CSRF_BAD:
        return "csrf.invalid";
    case HTTP_CSRF_EXPIRED:
        return "csrf.expired";
    case HTTP_CSRF_USED:
        return "csrf.used";
    }
    return "csrf.invalid";
}
