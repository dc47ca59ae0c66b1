/*
 * dkimsig.c: DKIM signing with OpenSSL directly.
 *
 * Why not libopendkim (Debian's libopendkim11, 2.11.0~beta2, which does
 * support ed25519 in this build and is thread-safe per handle): it takes
 * the private key as text on every dkim_sign() handle and parses it again
 * for every message, through OpenSSL 3's decoder framework, and there is no
 * way to hand it a key parsed once. Measured in CPU time per signed 42 KB
 * share message on this machine: libopendkim 1.25-1.35 ms for rsa-sha256
 * and 0.64-0.66 ms for ed25519; this file 0.34 ms for rsa-sha256 and
 * 0.38 ms for both signatures, of which the RSA-2048 signature itself is
 * 0.29 ms and the body hash 0.03 ms. Its signature field also comes with
 * bare-LF folds, and h= is set on the library handle, not per message.
 * So keys are parsed once (dkimkey.c) and each message costs one SHA-256
 * pass over the canonical body, one over a dozen header fields, and the
 * signature(s).
 *
 * Body canonicalization (relaxed, RFC 6376 §3.4.4) without copying: the
 * canonical body equals the body except at runs of spaces or tabs that are
 * longer than one space, contain a tab or end a line, and at the empty
 * lines at the end. So the hasher is fed the longest verbatim stretches
 * (memchr finds spaces; tabs are rare and found once each): the base64 of
 * the photos, most of every message, goes to SHA-256 in one piece. Header
 * fields (§3.4.2) are few and short and are canonicalized into a buffer.
 *
 * The hash of the body's shared parts cannot be computed once per send:
 * the photos come after the personal text parts (multipart/related's root
 * is its first part, RFC 2387 §3.2) and SHA-256 only resumes a prefix;
 * measured, the whole body hash is ~30 us of a message's ~340 us signing
 * cost at 42 KB (SHA-NI), against ~290 us for the RSA signature.
 *
 * The signature field (§3.5) is written with its tags in a fixed order and
 * folded at 78 columns; b= comes last so that the field hashed (with b=
 * empty, §3.7) is the written field minus the b= value. h= lists every
 * signed name once more than the message has it (§5.4.2: an extra name
 * matches no field, so adding one breaks the signature; §8.15).
 */
#include "dkimsig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "enc.h"

#define MAX_FIELDS   128
#define SIG_LINE_MAX 78

/* Signed header names (§5.4.1 "SHOULD" list, RFC 8058 §4, ours). */
static const char *const SIGNED[] = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "reply-to",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
    "auto-submitted",
};
#define NSIGNED (sizeof SIGNED / sizeof SIGNED[0])

struct signkey {
    char *domain;
    char *selector;
    struct dkimkey *key;
};

struct dkimsig {
    EVP_MD *sha256; /* fetched once: no provider lookup per message */
    struct signkey *keys;
    size_t nkeys;
};

enum merr dkimsig_new(struct dkimsig **out)
{
    struct dkimsig *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return merr_set(MERR_NOMEM, "out of memory");
    s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!s->sha256) {
        free(s);
        return merr_set(MERR_INTERNAL, "OpenSSL has no SHA-256");
    }
    *out = s;
    return MERR_OK;
}

int dkimsig_name_ok(const char *s)
{
    size_t label = 0, n = s ? strlen(s) : 0;
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '-')
            return 0;
        if (c == '-' && label == 0)
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0 && s[n - 1] != '-';
}

enum merr dkimsig_add(struct dkimsig *s, const char *domain, const char *selector,
                      struct dkimkey *key)
{
    struct signkey *grown, *k;
    if (!dkimsig_name_ok(domain))
        return merr_set(MERR_INVAL, "DKIM domain \"%s\" is not a DNS name", domain);
    if (!dkimsig_name_ok(selector))
        return merr_set(MERR_INVAL, "DKIM selector \"%s\" is not a DNS name", selector);
    for (size_t i = 0; i < s->nkeys; i++)
        if (!strcasecmp(s->keys[i].domain, domain) &&
            dkimkey_alg(s->keys[i].key) == dkimkey_alg(key))
            return merr_set(MERR_EXISTS, "DKIM: a second %s key for %s",
                            dkimkey_alg_name(dkimkey_alg(key)), domain);
    grown = realloc(s->keys, (s->nkeys + 1) * sizeof *grown);
    if (!grown)
        return merr_set(MERR_NOMEM, "out of memory");
    s->keys = grown;
    k = &s->keys[s->nkeys];
    k->domain = strdup(domain);
    k->selector = strdup(selector);
    if (!k->domain || !k->selector) {
        free(k->domain);
        free(k->selector);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    for (char *c = k->domain; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    k->key = key;
    s->nkeys++;
    return MERR_OK;
}

int dkimsig_has_domain(const struct dkimsig *s, const char *domain)
{
    for (size_t i = 0; s && i < s->nkeys; i++)
        if (!strcasecmp(s->keys[i].domain, domain))
            return 1;
    return 0;
}

void dkimsig_free(struct dkimsig *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nkeys; i++) {
        free(s->keys[i].domain);
        free(s->keys[i].selector);
        dkimkey_free(s->keys[i].key);
    }
    free(s->keys);
    EVP_MD_free(s->sha256);
    free(s);
}

char *dkimsig_key_path(const struct config *cfg, const char *domain, const char *selector)
{
    char *p = NULL;
    size_t n = strlen(cfg->dkim_keys_dir);
    while (n > 1 && cfg->dkim_keys_dir[n - 1] == '/')
        n--;
    if (asprintf(&p, "%.*s/%s/%s.key", (int)n, cfg->dkim_keys_dir, domain, selector) < 0)
        return NULL;
    /* the domain part lower-cased: one file whatever case the config uses */
    for (char *c = p + n + 1; *c && *c != '/'; c++)
        *c = (char)tolower((unsigned char)*c);
    return p;
}

/* Loads d=domain s=selector into `s`, checking that the key is of `alg`. */
static enum merr load_one(const struct config *cfg, struct dkimsig *s, const char *domain,
                          const char *key, const char *selector, enum dkimkey_alg alg)
{
    struct dkimkey *k = NULL;
    char *path;
    enum merr rc;

    if (!dkimsig_name_ok(selector))
        return merr_set(MERR_CONFIG, "[dkim] %s \"%s\": not a DNS name (letters, digits, '-')", key,
                        selector);
    path = dkimsig_key_path(cfg, domain, selector);
    if (!path)
        return merr_set(MERR_NOMEM, "out of memory");
    rc = dkimkey_load(path, &k);
    if (rc == MERR_CONFIG && access(path, F_OK) != 0)
        rc = merr_set(MERR_CONFIG,
                      "[dkim] %s = %s: no key for %s (%s is missing; "
                      "`mailer dkim keygen --domain %s --selector %s%s` makes it)",
                      key, selector, domain, path, domain, selector,
                      alg == DKIMKEY_ED25519 ? " --algorithm ed25519" : "");
    else if (rc)
        rc = merr_wrap(rc, "[dkim] %s", key);
    if (!rc && dkimkey_alg(k) != alg)
        rc = merr_set(MERR_CONFIG, "[dkim] %s: %s is an %s key, %s wants %s", key, path,
                      dkimkey_alg_name(dkimkey_alg(k)), key, dkimkey_alg_name(alg));
    if (!rc)
        rc = dkimsig_add(s, domain, selector, k);
    if (rc)
        dkimkey_free(k);
    free(path);
    return rc;
}

enum merr dkimsig_from_config(const struct config *cfg, struct dkimsig **out)
{
    struct dkimsig *s = NULL;
    const char *domains[8];
    size_t nd = 0;
    enum merr rc;

    *out = NULL;
    if (!cfg->dkim_selector)
        return MERR_OK;
    cfg_from_domains(cfg, domains, &nd);
    rc = dkimsig_new(&s);
    for (size_t i = 0; !rc && i < nd; i++) {
        rc = load_one(cfg, s, domains[i], "selector", cfg->dkim_selector, DKIMKEY_RSA);
        if (!rc && cfg->dkim_ed25519_selector)
            rc = load_one(cfg, s, domains[i], "ed25519_selector", cfg->dkim_ed25519_selector,
                          DKIMKEY_ED25519);
    }
    if (rc) {
        dkimsig_free(s);
        return rc;
    }
    *out = s;
    return MERR_OK;
}

/* ---- canonicalization ---- */

/* Where canonical bytes go: a buffer (tests) or a digest (signing). */
struct sink {
    struct buf *buf;
    EVP_MD_CTX *md;
    int failed;
};

static void put(struct sink *k, const char *p, size_t n)
{
    if (n == 0 || k->failed)
        return;
    if (k->buf)
        k->failed = buf_append(k->buf, p, n) != MERR_OK;
    else
        k->failed = EVP_DigestUpdate(k->md, p, n) != 1;
}

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static int crlf_at(const char *b, size_t i, size_t end)
{
    return i + 1 < end && b[i] == '\r' && b[i + 1] == '\n';
}

/* RFC 6376 §3.4.4, relaxed: see the design note at the top. */
static void body_relaxed(const char *b, size_t n, struct sink *k)
{
    size_t end = n, pos = 0, run = 0, tab;
    const char *t;

    /* The empty (or blank) lines at the end are ignored: cut after the last
     * line that has something besides spaces and tabs, with its CRLF. */
    while (end >= 2 && b[end - 2] == '\r' && b[end - 1] == '\n') {
        size_t r = end - 2;
        while (r > 0 && is_wsp(b[r - 1]))
            r--;
        if (r == 0) {
            end = 0;
            break;
        }
        if (r >= 2 && b[r - 2] == '\r' && b[r - 1] == '\n') {
            end = r;
            continue;
        }
        break;
    }
    t = end ? memchr(b, '\t', end) : NULL;
    tab = t ? (size_t)(t - b) : end;
    while (pos < end) {
        const char *sp = memchr(b + pos, ' ', end - pos);
        size_t w = sp ? (size_t)(sp - b) : end, q;
        if (tab < w)
            w = tab;
        if (w >= end)
            break;
        q = w;
        while (q < end && is_wsp(b[q]))
            q++;
        if (q - w == 1 && b[w] == ' ' && !crlf_at(b, q, end)) {
            pos = q; /* one space inside a line: canonical as it is */
            continue;
        }
        put(k, b + run, w - run);
        if (!crlf_at(b, q, end))
            put(k, " ", 1); /* a run inside a line becomes one space */
        /* else: whitespace at the end of a line goes */
        run = pos = q;
        if (tab < q) {
            t = memchr(b + q, '\t', end - q);
            tab = t ? (size_t)(t - b) : end;
        }
    }
    put(k, b + run, end - run);
    if (end > 0 && !(end >= 2 && b[end - 2] == '\r' && b[end - 1] == '\n'))
        put(k, "\r\n", 2);
}

/* RFC 6376 §3.4.2, relaxed: lower-case name, unfolded, one space per run, trimmed. */
static enum merr header_relaxed(const char *f, size_t n, struct sink *k, int crlf)
{
    const char *colon = memchr(f, ':', n);
    size_t nl, i;
    int pend = 0, started = 0;
    char name[128];

    if (!colon)
        return merr_set(MERR_INVAL, "header field \"%.*s\" has no ':'", (int)(n < 40 ? n : 40), f);
    nl = (size_t)(colon - f);
    while (nl > 0 && is_wsp(f[nl - 1]))
        nl--;
    if (nl == 0 || nl >= sizeof name)
        return merr_set(MERR_INVAL, "header field name of %zu characters", nl);
    for (i = 0; i < nl; i++)
        name[i] = (char)tolower((unsigned char)f[i]);
    name[nl] = ':';
    put(k, name, nl + 1);
    for (i = (size_t)(colon - f) + 1; i < n; i++) {
        size_t s = i;
        if (f[i] == '\r' && i + 1 < n && f[i + 1] == '\n') {
            i++;
            continue; /* unfold */
        }
        if (is_wsp(f[i])) {
            pend = 1;
            continue;
        }
        if (pend && started)
            put(k, " ", 1);
        pend = 0;
        started = 1;
        /* the stretch up to the next whitespace or CR in one piece */
        while (i + 1 < n && !is_wsp(f[i + 1]) && f[i + 1] != '\r')
            i++;
        put(k, f + s, i + 1 - s);
    }
    if (crlf)
        put(k, "\r\n", 2);
    return MERR_OK;
}

enum merr dkimsig_body_canon(const char *body, size_t n, struct buf *out)
{
    struct sink k = {out, NULL, 0};
    size_t mark = out->len;
    body_relaxed(body, n, &k);
    if (k.failed) {
        buf_truncate(out, mark);
        return merr_set(MERR_LIMIT, "canonical body too large");
    }
    return MERR_OK;
}

enum merr dkimsig_header_canon(const char *f, size_t n, struct buf *out)
{
    struct sink k = {out, NULL, 0};
    size_t mark = out->len;
    /* the field's own final CRLF is not part of its value */
    if (n >= 2 && f[n - 2] == '\r' && f[n - 1] == '\n')
        n -= 2;
    enum merr rc = header_relaxed(f, n, &k, 1);
    if (!rc && k.failed)
        rc = merr_set(MERR_LIMIT, "canonical header too large");
    if (rc)
        buf_truncate(out, mark);
    return rc;
}

static enum merr hash_body(const EVP_MD *md, const char *body, size_t n,
                           unsigned char out[DKIMSIG_HASH_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    struct sink k = {NULL, ctx, 0};
    unsigned int len = 0;
    enum merr rc = MERR_OK;
    if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1)
        k.failed = 1;
    else
        body_relaxed(body, n, &k);
    if (k.failed || EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != DKIMSIG_HASH_LEN)
        rc = merr_set(MERR_INTERNAL, "OpenSSL: SHA-256 of the body failed");
    EVP_MD_CTX_free(ctx);
    return rc;
}

enum merr dkimsig_body_hash(const char *body, size_t n, unsigned char out[DKIMSIG_HASH_LEN])
{
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    enum merr rc;
    if (!md)
        return merr_set(MERR_INTERNAL, "OpenSSL has no SHA-256");
    rc = hash_body(md, body, n, out);
    EVP_MD_free(md);
    return rc;
}

/* ---- the message ---- */

struct field {
    const char *p; /* "Name: value" up to and without its final CRLF */
    size_t n;
    size_t name_len;
    int used; /* taken by an h= entry (§5.4.2: bottom-up, each once) */
};

struct msg {
    struct field f[MAX_FIELDS];
    size_t nf;
    const char *body;
    size_t body_len;
};

static enum merr split(const char *m, size_t n, struct msg *out)
{
    size_t i = 0;
    out->nf = 0;
    while (i < n) {
        size_t s = i, e;
        const char *colon;
        if (crlf_at(m, i, n)) {
            out->body = m + i + 2;
            out->body_len = n - i - 2;
            return MERR_OK;
        }
        if (is_wsp(m[i]))
            return merr_set(MERR_INVAL, "DKIM: the header starts with a continuation line");
        /* the field ends at a CRLF not followed by a space or tab */
        for (e = i;; e++) {
            const char *cr = memchr(m + e, '\r', n - e);
            if (!cr)
                return merr_set(MERR_INVAL, "DKIM: no blank line after the header");
            e = (size_t)(cr - m);
            if (crlf_at(m, e, n) && !(e + 2 < n && is_wsp(m[e + 2])))
                break;
        }
        colon = memchr(m + s, ':', e - s);
        if (!colon)
            return merr_set(MERR_INVAL, "DKIM: header line \"%.*s\" has no ':'",
                            (int)(e - s < 40 ? e - s : 40), m + s);
        if (out->nf == MAX_FIELDS)
            return merr_set(MERR_INVAL, "DKIM: more than %d header fields", MAX_FIELDS);
        out->f[out->nf].p = m + s;
        out->f[out->nf].n = e - s;
        out->f[out->nf].name_len = (size_t)(colon - (m + s));
        while (out->f[out->nf].name_len && is_wsp(m[s + out->f[out->nf].name_len - 1]))
            out->f[out->nf].name_len--;
        out->f[out->nf].used = 0;
        out->nf++;
        i = e + 2;
    }
    return merr_set(MERR_INVAL, "DKIM: no blank line after the header");
}

static int name_is(const struct field *f, const char *name)
{
    return strlen(name) == f->name_len && !strncasecmp(f->p, name, f->name_len);
}

/* How often h= names `name`: once per field of that name, and once more (§8.15). */
static size_t h_count(const struct msg *m, const char *name)
{
    size_t n = 0;
    for (size_t j = 0; j < m->nf; j++)
        n += name_is(&m->f[j], name);
    return n + 1;
}

/* The From domain (lower-cased into `out`), from "Name <a@d>" or "a@d". */
static enum merr from_domain(const struct msg *m, char *out, size_t size)
{
    const struct field *from = NULL;
    const char *v, *e, *lt, *at;
    size_t n = 0;
    for (size_t i = 0; i < m->nf; i++)
        if (name_is(&m->f[i], "from")) {
            if (from)
                return merr_set(MERR_INVAL, "DKIM: the message has two From fields");
            from = &m->f[i];
        }
    if (!from)
        return merr_set(MERR_INVAL, "DKIM: the message has no From");
    v = from->p + from->name_len + 1;
    e = from->p + from->n;
    lt = NULL;
    for (const char *p = v; p < e; p++)
        if (*p == '<')
            lt = p;
    if (lt) {
        const char *gt = memchr(lt, '>', (size_t)(e - lt));
        if (!gt)
            return merr_set(MERR_INVAL, "DKIM: From has '<' without '>'");
        v = lt + 1;
        e = gt;
    }
    while (v < e && (is_wsp(*v) || *v == '\r' || *v == '\n'))
        v++;
    while (e > v && (is_wsp(e[-1]) || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    at = NULL;
    for (const char *p = v; p < e; p++)
        if (*p == '@')
            at = p;
    if (!at || at + 1 >= e)
        return merr_set(MERR_INVAL, "DKIM: the From address has no domain");
    for (const char *p = at + 1; p < e; p++) {
        if (n + 1 >= size)
            return merr_set(MERR_INVAL, "DKIM: the From domain is too long");
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = 0;
    return MERR_OK;
}

/*
 * The signature field being written, and the column of its last line: a
 * piece goes after a space (SP_SPACE) or right after (SP_TIGHT), or on a
 * new line "CRLF TAB" if the line would pass SIG_LINE_MAX (FWS is allowed
 * between tags and around h='s colons, §3.5; a tab counts as one).
 */
struct sigline {
    struct buf *b;
    size_t col;
};

enum { SP_SPACE, SP_TIGHT };

static enum merr sl_put(struct sigline *l, const char *text, size_t n, int sep)
{
    enum merr rc = MERR_OK;
    size_t gap = sep == SP_SPACE ? 1 : 0;
    if (l->col + gap + n > SIG_LINE_MAX) {
        rc = buf_append(l->b, "\r\n\t", 3);
        l->col = 1;
    } else if (gap) {
        rc = buf_putc(l->b, ' ');
        l->col++;
    }
    if (!rc)
        rc = buf_append(l->b, text, n);
    l->col += n;
    return rc;
}

/* Signs the 32-byte header hash with `key`. */
static enum merr sign_hash(const struct dkimsig *s, const struct dkimkey *key,
                           const unsigned char *h, unsigned char *sig, size_t *siglen)
{
    EVP_PKEY *pkey = dkimkey_pkey(key);
    int ok = 0;
    if (dkimkey_alg(key) == DKIMKEY_RSA) {
        /* rsa-sha256: RSASSA-PKCS1-v1_5 over the SHA-256 (RFC 6376 §3.3.1) */
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        ok = c && EVP_PKEY_sign_init(c) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(c, s->sha256) == 1 &&
             EVP_PKEY_sign(c, sig, siglen, h, DKIMSIG_HASH_LEN) == 1;
        EVP_PKEY_CTX_free(c);
    } else {
        /* ed25519-sha256: PureEdDSA over the SHA-256 (RFC 8463 §3) */
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        ok = c && EVP_DigestSignInit_ex(c, NULL, NULL, NULL, NULL, pkey, NULL) == 1 &&
             EVP_DigestSign(c, sig, siglen, h, DKIMSIG_HASH_LEN) == 1;
        EVP_MD_CTX_free(c);
    }
    return ok ? MERR_OK : merr_set(MERR_INTERNAL, "OpenSSL could not sign");
}

/* Appends one DKIM-Signature field for `k` to `out`. */
static enum merr sign_one(const struct dkimsig *s, const struct signkey *k, struct msg *m,
                          const unsigned char *bh, time_t now, struct buf *out)
{
    struct sigline l = {out, 0};
    struct buf tmp;
    unsigned char hh[DKIMSIG_HASH_LEN], sig[1024];
    size_t siglen = sizeof sig, mark = out->len, start;
    unsigned int hlen = 0;
    EVP_MD_CTX *md = NULL;
    struct sink sk = {NULL, NULL, 0};
    int first = 1;
    enum merr rc;

    buf_init(&tmp, 0);
    for (size_t i = 0; i < m->nf; i++)
        m->f[i].used = 0;
    /* the tags, in a fixed order, b= last (§3.5) */
    rc = buf_printf(&tmp, "DKIM-Signature: v=1; a=%s-sha256; c=relaxed/relaxed; d=%s;",
                    dkimkey_alg_name(dkimkey_alg(k->key)), k->domain);
    if (!rc)
        rc = buf_append(out, tmp.data, tmp.len);
    l.col = tmp.len;
    buf_reset(&tmp);
    if (!rc)
        rc = buf_printf(&tmp, "s=%s;", k->selector);
    if (!rc)
        rc = sl_put(&l, tmp.data, tmp.len, SP_SPACE);
    buf_reset(&tmp);
    if (!rc)
        rc = buf_printf(&tmp, "t=%lld;", (long long)now);
    if (!rc)
        rc = sl_put(&l, tmp.data, tmp.len, SP_SPACE);
    /* h=: each signed name once per instance, and once more */
    for (size_t i = 0; !rc && i < NSIGNED; i++) {
        size_t count = h_count(m, SIGNED[i]);
        while (!rc && count--) {
            buf_reset(&tmp);
            rc = buf_printf(&tmp, "%s%s", first ? "h=" : ":", SIGNED[i]);
            if (!rc)
                rc = sl_put(&l, tmp.data, tmp.len, first ? SP_SPACE : SP_TIGHT);
            first = 0;
        }
    }
    if (!rc)
        rc = sl_put(&l, ";", 1, SP_TIGHT);
    buf_reset(&tmp);
    if (!rc)
        rc = buf_puts(&tmp, "bh=");
    if (!rc)
        rc = enc_base64(&tmp, bh, DKIMSIG_HASH_LEN, 0);
    if (!rc)
        rc = buf_putc(&tmp, ';');
    if (!rc)
        rc = sl_put(&l, tmp.data, tmp.len, SP_SPACE);
    if (!rc)
        rc = sl_put(&l, "b=", 2, SP_SPACE);
    if (rc)
        goto out;

    /* the header hash: the signed fields bottom-up per name, then this field (§3.7) */
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, s->sha256, NULL) != 1) {
        rc = merr_set(MERR_INTERNAL, "OpenSSL: SHA-256 failed");
        goto out;
    }
    sk.md = md;
    for (size_t i = 0; !rc && i < NSIGNED; i++) {
        size_t count = h_count(m, SIGNED[i]);
        while (!rc && count--) {
            for (size_t j = m->nf; j-- > 0;)
                if (!m->f[j].used && name_is(&m->f[j], SIGNED[i])) {
                    m->f[j].used = 1;
                    rc = header_relaxed(m->f[j].p, m->f[j].n, &sk, 1);
                    break;
                }
        }
    }
    start = mark;
    if (!rc)
        rc = header_relaxed(out->data + start, out->len - start, &sk, 0);
    if (!rc && (sk.failed || EVP_DigestFinal_ex(md, hh, &hlen) != 1))
        rc = merr_set(MERR_INTERNAL, "OpenSSL: SHA-256 failed");
    if (!rc)
        rc = sign_hash(s, k->key, hh, sig, &siglen);
    /* b=, folded in pieces after the tag */
    buf_reset(&tmp);
    if (!rc)
        rc = enc_base64(&tmp, sig, siglen, 0);
    for (size_t off = 0; !rc && off < tmp.len;) {
        size_t n = tmp.len - off, room = SIG_LINE_MAX - l.col;
        if (l.col + 8 > SIG_LINE_MAX) {
            rc = buf_append(out, "\r\n\t", 3);
            l.col = 1;
            continue;
        }
        if (n > room)
            n = room;
        rc = buf_append(out, tmp.data + off, n);
        l.col += n;
        off += n;
    }
    if (!rc)
        rc = buf_puts(out, "\r\n");
out:
    EVP_MD_CTX_free(md);
    buf_free(&tmp);
    if (rc)
        buf_truncate(out, mark);
    return rc;
}

enum merr dkimsig_sign(const struct dkimsig *s, struct buf *msg, size_t start, time_t now)
{
    struct msg *m = NULL;
    struct buf sigs;
    char domain[256];
    unsigned char bh[DKIMSIG_HASH_LEN];
    int any = 0;
    enum merr rc;

    if (start > msg->len)
        return merr_set(MERR_INTERNAL, "dkimsig_sign: start past the end");
    buf_init(&sigs, 0);
    m = malloc(sizeof *m);
    if (!m)
        return merr_set(MERR_NOMEM, "out of memory");
    rc = split(msg->data + start, msg->len - start, m);
    if (!rc)
        rc = from_domain(m, domain, sizeof domain);
    if (rc)
        goto out;
    for (size_t i = 0; i < s->nkeys; i++)
        any |= !strcmp(s->keys[i].domain, domain);
    if (!any) {
        rc = merr_set(MERR_CONFIG,
                      "DKIM: no key signs for the From domain %s (d= must be the From domain "
                      "for DMARC)",
                      domain);
        goto out;
    }
    rc = hash_body(s->sha256, m->body, m->body_len, bh);
    /* Ed25519 first, so the RSA signature, which every verifier knows, is on top. */
    for (int pass = 0; !rc && pass < 2; pass++)
        for (size_t i = 0; !rc && i < s->nkeys; i++) {
            const struct signkey *k = &s->keys[i];
            if (strcmp(k->domain, domain) ||
                (dkimkey_alg(k->key) == DKIMKEY_ED25519) != (pass == 0))
                continue;
            rc = sign_one(s, k, m, bh, now, &sigs);
        }
    if (!rc)
        rc = buf_insert(msg, start, sigs.data, sigs.len);
out:
    buf_free(&sigs);
    free(m);
    return rc;
}
