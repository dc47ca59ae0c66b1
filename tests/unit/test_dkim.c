/*
 * test_dkim.c: DKIM keys and signatures (compose/dkimkey.c, dkimsig.c).
 *
 * Relaxed canonicalization against fixed vectors (worked out with dkimpy,
 * the verifier of the integration tests) and against a plain step-by-step
 * reference on random bodies; key files (modes, kinds, sizes), generation,
 * records and their parser; signatures: fields, h= over-signing, folding,
 * refusals, and a check of each signature with OpenSSL over our own
 * canonical form (the independent verifiers run in tests/dkim/).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "buf.h"
#include "config.h"
#include "dkimkey.h"
#include "dkimsig.h"
#include "enc.h"
#include "dkim_ref.h"
#include "testutil.h"

/* ---- canonicalization ---- */

static void body_is(const char *in, size_t n, const char *want)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(dkimsig_body_canon(in, n, &b), MERR_OK);
    if (b.len != strlen(want) || memcmp(b.data ? b.data : "", want, b.len))
        fail_msg("body canon of %zu bytes: got %zu bytes \"%.*s\", want \"%s\"", n, b.len,
                 (int)b.len, b.data ? b.data : "", want);
    buf_free(&b);
}

#define BODY(in, want) body_is(in, sizeof(in) - 1, want)

static void test_body_vectors(void **state)
{
    (void)state;
    BODY("", "");
    BODY("\r\n", "");
    BODY("\r\n\r\n", "");
    BODY(" \r\n", "");
    BODY("abc", "abc\r\n");
    BODY("abc  ", "abc \r\n");
    BODY("abc\r\n", "abc\r\n");
    BODY("abc \r\n", "abc\r\n");
    BODY("a  b\t\tc \t\r\n\r\n \r\n", "a b c\r\n");
    BODY("a\r\n\r\nb\r\n\r\n\r\n", "a\r\n\r\nb\r\n");
    BODY("\tlead\r\n", " lead\r\n");
    BODY("x\ry \r z\n \r\n", "x\ry \r z\n\r\n");
    BODY("  ", " \r\n");
    BODY("a\r\n  ", "a\r\n \r\n");
    BODY("a\r\n \t\r\n", "a\r\n");
    BODY("\n\r\n", "\n\r\n");
    BODY("one two  three\r\n", "one two three\r\n");
}

static void test_body_random(void **state)
{
    static const char alphabet[] = {'a', 'b', ' ', ' ', '\t', '\r', '\n', '\r', '\n', 'x'};
    char in[64], want[80];
    struct buf got;
    unsigned seed = 12345;
    (void)state;
    buf_init(&got, 0);
    for (int round = 0; round < 50000; round++) {
        size_t n = (seed = seed * 1103515245u + 12345u) >> 16 & 63, wn;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = alphabet[(seed >> 16) % sizeof alphabet];
        }
        wn = dkim_ref_body(in, n, want);
        buf_reset(&got);
        assert_int_equal(dkimsig_body_canon(in, n, &got), MERR_OK);
        if (got.len != wn || memcmp(got.data ? got.data : "", want, wn)) {
            char hex[200];
            enc_hex(hex, (const unsigned char *)in, n);
            fail_msg("round %d: body %s: canonical forms differ (%zu vs %zu bytes)", round, hex,
                     got.len, wn);
        }
    }
    buf_free(&got);
}

static void header_is(const char *in, const char *want)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(dkimsig_header_canon(in, strlen(in), &b), MERR_OK);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_header_vectors(void **state)
{
    struct buf b;
    (void)state;
    header_is("Subject: Hello   World \r\n", "subject:Hello World\r\n");
    header_is("SUBJECT :\ta\r\n\tb  c", "subject:a b c\r\n");
    header_is("List-Unsubscribe: <https://x.example/u/1>,\r\n <mailto:u@x.example>",
              "list-unsubscribe:<https://x.example/u/1>, <mailto:u@x.example>\r\n");
    header_is("X-Empty:", "x-empty:\r\n");
    header_is("X-Empty:   \r\n", "x-empty:\r\n");
    buf_init(&b, 0);
    assert_int_equal(dkimsig_header_canon("no colon", 8, &b), MERR_INVAL);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* ---- keys ---- */

static char *path_in(const char *dir, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        abort();
    return p;
}

/* Writes a PEM private key of `bits` RSA bits (0: Ed25519, -1: EC P-256) with `mode`. */
static void write_key(const char *path, int bits, mode_t mode)
{
    EVP_PKEY *k = bits > 0    ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)
                  : bits == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                              : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    FILE *f = fopen(path, "w");
    assert_non_null(k);
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    EVP_PKEY_free(k);
    assert_int_equal(chmod(path, mode), 0);
}

static void load_fails(const char *path, const char *needle)
{
    struct dkimkey *k = (struct dkimkey *)1;
    assert_int_equal(dkimkey_load(path, &k), MERR_CONFIG);
    assert_null(k);
    if (!strstr(merr_msg(), needle))
        fail_msg("\"%s\" does not say \"%s\"", merr_msg(), needle);
}

static void test_key_load(void **state)
{
    const char *dir = test_tmpdir("dkim-keys");
    char *rsa = path_in(dir, "rsa.key"), *ed = path_in(dir, "ed.key"),
         *small = path_in(dir, "small.key"), *ec = path_in(dir, "ec.key"),
         *junk = path_in(dir, "junk.key");
    struct dkimkey *k = NULL;
    (void)state;

    write_key(rsa, 2048, 0600);
    assert_int_equal(dkimkey_load(rsa, &k), MERR_OK);
    assert_int_equal(dkimkey_alg(k), DKIMKEY_RSA);
    assert_int_equal(dkimkey_bits(k), 2048);
    dkimkey_free(k);
    write_key(ed, 0, 0400);
    assert_int_equal(dkimkey_load(ed, &k), MERR_OK);
    assert_int_equal(dkimkey_alg(k), DKIMKEY_ED25519);
    dkimkey_free(k);

    /* readable (or merely accessible) by group or others: refused, with the fix */
    assert_int_equal(chmod(rsa, 0640), 0);
    load_fails(rsa, "chmod 600");
    assert_int_equal(chmod(rsa, 0604), 0);
    load_fails(rsa, "mode 0604");
    assert_int_equal(chmod(rsa, 0610), 0);
    load_fails(rsa, "group or others");
    write_key(small, 1024, 0600);
    load_fails(small, "1024 bits");
    write_key(ec, -1, 0600);
    load_fails(ec, "neither an RSA nor an Ed25519 key");
    test_write_file(junk, "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n");
    assert_int_equal(chmod(junk, 0600), 0);
    load_fails(junk, "not a PEM private key");
    load_fails(dir, "not a regular file");
    free(junk);
    junk = path_in(dir, "missing.key");
    load_fails(junk, "No such file");
    free(rsa);
    free(ed);
    free(small);
    free(ec);
    free(junk);
}

static void test_keygen_record(void **state)
{
    const char *dir = test_tmpdir("dkim-gen");
    char *path = path_in(dir, "sub/dir/s1.key");
    struct dkimkey *k = NULL, *again = NULL;
    struct dkimkey_txt t;
    struct buf rec, pub, zone;
    struct stat st;
    (void)state;

    buf_init(&rec, 0);
    buf_init(&pub, 0);
    buf_init(&zone, 0);
    for (int alg = DKIMKEY_RSA; alg <= DKIMKEY_ED25519; alg++) {
        assert_int_equal(dkimkey_generate(path, (enum dkimkey_alg)alg, &k), MERR_OK);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        /* never replaced */
        assert_int_equal(dkimkey_generate(path, DKIMKEY_RSA, NULL), MERR_EXISTS);
        assert_int_equal(dkimkey_load(path, &again), MERR_OK);
        assert_int_equal(dkimkey_alg(again), alg);
        buf_reset(&rec);
        buf_reset(&pub);
        assert_int_equal(dkimkey_record(again, &rec), MERR_OK);
        assert_int_equal(dkimkey_public_b64(k, &pub), MERR_OK);
        assert_int_equal(dkimkey_txt_parse(rec.data, rec.len, &t), MERR_OK);
        assert_string_equal(t.v, "DKIM1");
        assert_string_equal(t.k, alg == DKIMKEY_RSA ? "rsa" : "ed25519");
        assert_string_equal(t.p, pub.data);
        /* Ed25519: the bare 32-byte key (RFC 8463 §4), 44 base64 characters */
        if (alg == DKIMKEY_ED25519)
            assert_int_equal(strlen(t.p), 44);
        buf_reset(&zone);
        assert_int_equal(dkimkey_zone_line(k, "s1", "hagiang.example", &zone), MERR_OK);
        assert_non_null(strstr(zone.data, "s1._domainkey.hagiang.example. IN TXT ( \"v=DKIM1; k="));
        /* every quoted string at most 255 characters */
        for (const char *q = strchr(zone.data, '"'); q; q = strchr(q, '"')) {
            const char *e = strchr(q + 1, '"');
            assert_non_null(e);
            assert_true(e - q - 1 <= 255);
            q = e + 1;
        }
        dkimkey_free(k);
        dkimkey_free(again);
        unlink(path);
    }
    buf_free(&rec);
    buf_free(&pub);
    buf_free(&zone);
    free(path);
}

static void txt_bad(const char *txt, const char *needle)
{
    struct dkimkey_txt t;
    assert_int_equal(dkimkey_txt_parse(txt, strlen(txt), &t), MERR_INVAL);
    if (!strstr(merr_msg(), needle))
        fail_msg("\"%s\": \"%s\" does not say \"%s\"", txt, merr_msg(), needle);
}

static void test_txt_parse(void **state)
{
    struct dkimkey_txt t;
    const char *ok = " v = DKIM1 ;k=rsa; t=y:s; x_unknown=what ever;\tp=AB CD\r\n EF==;";
    (void)state;
    assert_int_equal(dkimkey_txt_parse(ok, strlen(ok), &t), MERR_OK);
    assert_string_equal(t.k, "rsa");
    assert_string_equal(t.t, "y:s");
    assert_string_equal(t.p, "ABCDEF==");
    assert_int_equal(dkimkey_txt_parse("p=", 2, &t), MERR_OK); /* revoked */
    assert_int_equal(t.has_p, 1);
    assert_string_equal(t.p, "");
    assert_string_equal(t.k, "rsa"); /* the default */
    txt_bad("k=rsa", "no p=");
    txt_bad("k=rsa; p=AAAA; v=DKIM1", "v= must be the first");
    txt_bad("v=DKIM2; p=AAAA", "not DKIM1");
    txt_bad("p=AAAA; p=BBBB", "twice");
    txt_bad("p=AA*A", "not base64");
    txt_bad("p=AAA", "not base64");
    txt_bad("k rsa; p=AAAA", "no '='");
    txt_bad("=rsa; p=AAAA", "start with a letter");
    txt_bad("k=averyveryveryverylongkeytype; p=AAAA", "too long");
    txt_bad("k=r\001sa; p=AAAA", "control character");
}

/* ---- signing ---- */

static const char MSG[] = "Date: Sun, 06 Dec 2026 11:01:57 +0700\r\n"
                          "From: =?UTF-8?B?SMOgIEdpYW5n?= <tin-tuc@HaGiang.example>\r\n"
                          "To: a@example.net\r\n"
                          "Subject: =?UTF-8?Q?Tin_m=E1=BB=9Bi?=\r\n"
                          "Message-ID: <x1@hagiang.example>\r\n"
                          "List-Unsubscribe: <https://tin.hagiang.example/unsubscribe/t>,\r\n"
                          " <mailto:unsubscribe@hagiang.example>\r\n"
                          "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=UTF-8\r\n"
                          "\r\n"
                          "Xin ch\xc3\xa0o  b\xe1\xba\xa1n \r\n"
                          "\r\n\r\n";

struct fixture {
    struct dkimsig *s;
    EVP_PKEY *rsa_pub, *ed_pub;
};

static struct fixture fx;

/* Decodes standard base64 (no whitespace) into out; returns the length. */
static size_t b64_decode(const char *s, unsigned char *out)
{
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; s[i] && s[i] != '='; i++) {
        acc = acc << 6 | (unsigned)enc_base64_value((unsigned char)s[i], 0);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

static EVP_PKEY *public_of(const struct dkimkey *k)
{
    struct buf b;
    unsigned char der[600];
    size_t n = 0;
    EVP_PKEY *p;
    buf_init(&b, 0);
    assert_int_equal(dkimkey_public_b64(k, &b), MERR_OK);
    n = b64_decode(b.data, der);
    buf_free(&b);
    if (dkimkey_alg(k) == DKIMKEY_ED25519)
        p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, n);
    else {
        const unsigned char *q = der;
        p = d2i_PUBKEY(NULL, &q, (long)n);
    }
    assert_non_null(p);
    return p;
}

static int setup_signer(void **state)
{
    const char *dir = test_tmpdir("dkim-sign");
    char *rsa = path_in(dir, "rsa.key"), *ed = path_in(dir, "ed.key"),
         *other = path_in(dir, "other.key");
    struct dkimkey *k;
    (void)state;
    assert_int_equal(dkimkey_generate(rsa, DKIMKEY_RSA, &k), MERR_OK);
    fx.rsa_pub = public_of(k);
    assert_int_equal(dkimsig_new(&fx.s), MERR_OK);
    assert_int_equal(dkimsig_add(fx.s, "hagiang.example", "s2026", k), MERR_OK);
    assert_int_equal(dkimkey_generate(ed, DKIMKEY_ED25519, &k), MERR_OK);
    fx.ed_pub = public_of(k);
    assert_int_equal(dkimsig_add(fx.s, "HAGIANG.example", "e2026", k), MERR_OK);
    /* another domain's key, never used for hagiang.example's mail */
    assert_int_equal(dkimkey_generate(other, DKIMKEY_RSA, &k), MERR_OK);
    assert_int_equal(dkimsig_add(fx.s, "other.example", "o1", k), MERR_OK);
    /* one key per algorithm and domain */
    assert_int_equal(dkimkey_load(ed, &k), MERR_OK);
    assert_int_equal(dkimsig_add(fx.s, "hagiang.example", "e2", k), MERR_EXISTS);
    assert_int_equal(dkimsig_add(fx.s, "bad_domain", "e2", k), MERR_INVAL);
    assert_int_equal(dkimsig_add(fx.s, "x.example", "-e2", k), MERR_INVAL);
    dkimkey_free(k);
    free(rsa);
    free(ed);
    free(other);
    return 0;
}

static int teardown_signer(void **state)
{
    (void)state;
    dkimsig_free(fx.s);
    EVP_PKEY_free(fx.rsa_pub);
    EVP_PKEY_free(fx.ed_pub);
    return 0;
}

/* The value of tag `tag` in signature field `sig` (unfolded, spaces removed). */
static void tag_of(const char *sig, size_t n, const char *tag, char *out, size_t size)
{
    size_t tl = strlen(tag), j = 0;
    const char *p = sig + strlen("DKIM-Signature:");
    while (p < sig + n) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ';')
            p++;
        if (!strncmp(p, tag, tl) && p[tl] == '=') {
            p += tl + 1;
            while (p < sig + n && *p != ';') {
                if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && j + 1 < size)
                    out[j++] = *p;
                p++;
            }
            out[j] = 0;
            return;
        }
        while (p < sig + n && *p != ';')
            p++;
    }
    fail_msg("no %s= in the signature", tag);
}

/* Checks signature field sig[0..n) of message m over our canonical form with OpenSSL. */
static void self_verify(const char *m, size_t mlen, const char *sig, size_t n, EVP_PKEY *pub)
{
    char h[600], b[600], bh[64];
    unsigned char raw[600], digest[32], want_bh[32];
    size_t rawn = 0;
    struct buf canon, field, bhb;
    const char *body = strstr(m, "\r\n\r\n") + 4;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned dl;
    int used[64] = {0};

    tag_of(sig, n, "h", h, sizeof h);
    tag_of(sig, n, "b", b, sizeof b);
    tag_of(sig, n, "bh", bh, sizeof bh);
    buf_init(&bhb, 0);
    assert_int_equal(dkimsig_body_hash(body, mlen - (size_t)(body - m), want_bh), MERR_OK);
    assert_int_equal(enc_base64(&bhb, want_bh, 32, 0), MERR_OK);
    assert_string_equal(bh, bhb.data);
    buf_free(&bhb);
    /* the header hash input: the h= fields bottom-up, then the field with b= empty */
    buf_init(&canon, 0);
    for (char *name = strtok(h, ":"); name; name = strtok(NULL, ":")) {
        /* fields of m from the bottom */
        const char *starts[64];
        size_t lens[64], nf = 0;
        for (const char *p = m; p < body - 2;) {
            const char *e = p;
            while (!(e[0] == '\r' && e[1] == '\n' && e[2] != ' ' && e[2] != '\t'))
                e++;
            starts[nf] = p;
            lens[nf++] = (size_t)(e - p);
            p = e + 2;
        }
        for (size_t i = nf; i-- > 0;)
            if (!used[i] && !strncasecmp(starts[i], name, strlen(name)) &&
                starts[i][strlen(name)] == ':') {
                used[i] = 1;
                assert_int_equal(dkimsig_header_canon(starts[i], lens[i], &canon), MERR_OK);
                break;
            }
    }
    buf_init(&field, 0);
    {
        /* the signature field without the b= value */
        const char *bpos = strstr(sig, " b=") ? strstr(sig, " b=") : strstr(sig, "\tb=");
        assert_non_null(bpos);
        assert_int_equal(buf_append(&field, sig, (size_t)(bpos + 3 - sig)), MERR_OK);
        assert_int_equal(dkimsig_header_canon(field.data, field.len, &canon), MERR_OK);
        canon.len -= 2; /* no CRLF after the signature field (§3.7) */
    }
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(md, canon.data, canon.len), 1);
    assert_int_equal(EVP_DigestFinal_ex(md, digest, &dl), 1);
    EVP_MD_CTX_free(md);
    rawn = b64_decode(b, raw);
    if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
        assert_int_equal(EVP_PKEY_verify_init(c), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()), 1);
        assert_int_equal(EVP_PKEY_verify(c, raw, rawn, digest, 32), 1);
        EVP_PKEY_CTX_free(c);
    } else {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit(c, NULL, NULL, NULL, pub), 1);
        assert_int_equal(EVP_DigestVerify(c, raw, rawn, digest, 32), 1);
        EVP_MD_CTX_free(c);
    }
    buf_free(&field);
    buf_free(&canon);
}

static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_sign_message(void **state)
{
    struct buf m;
    const char *sig1, *sig2, *msg;
    char h[600], v[64];
    (void)state;
    buf_init(&m, 0);
    /* something before the message stays as it is: signing starts at `start` */
    assert_int_equal(buf_puts(&m, "PREFIX"), MERR_OK);
    assert_int_equal(buf_append(&m, MSG, sizeof MSG - 1), MERR_OK);
    assert_int_equal(dkimsig_sign(fx.s, &m, 6, 1796529731), MERR_OK);
    assert_memory_equal(m.data, "PREFIXDKIM-Signature: v=1; a=ed25519-sha256;", 44);
    sig1 = m.data + 6;
    sig2 = strstr(sig1 + 1, "\r\nDKIM-Signature: v=1; a=rsa-sha256;");
    assert_non_null(sig2);
    sig2 += 2;
    msg = strstr(sig2, "\r\nDate: ");
    assert_non_null(msg);
    msg += 2;
    /* two signatures, both d= the From domain: never another domain's key */
    assert_int_equal(count_of(m.data, "DKIM-Signature:"), 2);
    assert_null(strstr(m.data, "d=other.example"));
    assert_memory_equal(msg, MSG, sizeof MSG - 1);
    /* no line of the fields over 78 characters */
    for (const char *p = sig1, *ls = sig1; p < msg; p++)
        if (p[0] == '\r') {
            assert_true(p - ls <= 78);
            ls = p + 2;
        }
    tag_of(sig2, (size_t)(msg - sig2), "h", h, sizeof h);
    assert_string_equal(h, "from:from:to:to:subject:subject:date:date:message-id:message-id:"
                           "mime-version:mime-version:content-type:content-type:reply-to:"
                           "list-id:list-unsubscribe:list-unsubscribe:list-unsubscribe-post:"
                           "list-unsubscribe-post:feedback-id:auto-submitted");
    tag_of(sig2, (size_t)(msg - sig2), "d", v, sizeof v);
    assert_string_equal(v, "hagiang.example"); /* the From domain, lower case */
    tag_of(sig1, (size_t)(sig2 - sig1), "s", v, sizeof v);
    assert_string_equal(v, "e2026");
    tag_of(sig2, (size_t)(msg - sig2), "s", v, sizeof v);
    assert_string_equal(v, "s2026");
    tag_of(sig2, (size_t)(msg - sig2), "t", v, sizeof v);
    assert_string_equal(v, "1796529731");
    tag_of(sig2, (size_t)(msg - sig2), "c", v, sizeof v);
    assert_string_equal(v, "relaxed/relaxed");
    self_verify(msg, sizeof MSG - 1, sig1, (size_t)(sig2 - sig1), fx.ed_pub);
    self_verify(msg, sizeof MSG - 1, sig2, (size_t)(msg - sig2), fx.rsa_pub);
    buf_free(&m);
}

static void test_sign_other_domain(void **state)
{
    struct buf m;
    char d[64];
    (void)state;
    buf_init(&m, 0);
    assert_int_equal(
        buf_puts(&m, "From: Tin <tin@Other.Example>\r\nTo: a@example.net\r\n\r\nx\r\n"), MERR_OK);
    assert_int_equal(dkimsig_sign(fx.s, &m, 0, 1), MERR_OK);
    assert_int_equal(count_of(m.data, "DKIM-Signature:"), 1);
    tag_of(m.data, m.len, "d", d, sizeof d);
    assert_string_equal(d, "other.example");
    buf_free(&m);
}

static void sign_fails(const char *msg, enum merr want, const char *needle)
{
    struct buf m;
    buf_init(&m, 0);
    assert_int_equal(buf_puts(&m, msg), MERR_OK);
    assert_int_equal(dkimsig_sign(fx.s, &m, 0, 1), want);
    if (!strstr(merr_msg(), needle))
        fail_msg("\"%s\" does not say \"%s\"", merr_msg(), needle);
    assert_string_equal(m.data, msg);
    buf_free(&m);
}

static void test_sign_refusals(void **state)
{
    (void)state;
    sign_fails("From: a@hagiang.example\r\nFrom: b@hagiang.example\r\n\r\nx\r\n", MERR_INVAL,
               "two From");
    sign_fails("To: a@example.net\r\n\r\nx\r\n", MERR_INVAL, "no From");
    sign_fails("From: a@hagiang.example\r\nTo: b\r\n", MERR_INVAL, "no blank line");
    sign_fails("From: a@hagiang.example\r\nbroken line\r\n\r\n", MERR_INVAL, "has no ':'");
    sign_fails("From: Someone <a@third.example>\r\n\r\nx\r\n", MERR_CONFIG,
               "no key signs for the From domain third.example");
    sign_fails("From: nobody\r\n\r\nx\r\n", MERR_INVAL, "no domain");
}

static void *sign_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        struct buf m;
        buf_init(&m, 0);
        if (buf_append(&m, MSG, sizeof MSG - 1) || dkimsig_sign(fx.s, &m, 0, 1))
            abort();
        buf_free(&m);
    }
    return NULL;
}

static void test_sign_threads(void **state)
{
    pthread_t t[4];
    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sign_thread, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

static void test_from_config(void **state)
{
    const char *dir = test_tmpdir("dkim-config");
    struct config cfg;
    struct dkimsig *s = (struct dkimsig *)1;
    char *p;
    (void)state;
    assert_int_equal(cfg_defaults(&cfg), MERR_OK);
    /* no selector: no signer, no error */
    assert_int_equal(dkimsig_from_config(&cfg, &s), MERR_OK);
    assert_null(s);
    test_set_str(&cfg.dkim_keys_dir, dir);
    test_set_str(&cfg.dkim_selector, "s1");
    assert_int_equal(dkimsig_from_config(&cfg, &s), MERR_CONFIG);
    assert_non_null(
        strstr(merr_msg(), "mailer dkim keygen --domain hagiang.example --selector s1"));
    p = dkimsig_key_path(&cfg, "HaGiang.Example", "s1");
    assert_non_null(strstr(p, "/hagiang.example/s1.key"));
    assert_int_equal(dkimkey_generate(p, DKIMKEY_ED25519, NULL), MERR_OK);
    /* an Ed25519 key where the RSA selector is named */
    assert_int_equal(dkimsig_from_config(&cfg, &s), MERR_CONFIG);
    assert_non_null(strstr(merr_msg(), "is an ed25519 key"));
    unlink(p);
    assert_int_equal(dkimkey_generate(p, DKIMKEY_RSA, NULL), MERR_OK);
    assert_int_equal(dkimsig_from_config(&cfg, &s), MERR_OK);
    assert_true(dkimsig_has_domain(s, "hagiang.example"));
    assert_false(dkimsig_has_domain(s, "other.example"));
    dkimsig_free(s);
    test_set_str(&cfg.dkim_selector, "bad selector");
    assert_int_equal(dkimsig_from_config(&cfg, &s), MERR_CONFIG);
    free(p);
    cfg_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_vectors),
        cmocka_unit_test(test_body_random),
        cmocka_unit_test(test_header_vectors),
        cmocka_unit_test(test_key_load),
        cmocka_unit_test(test_keygen_record),
        cmocka_unit_test(test_txt_parse),
        cmocka_unit_test_setup_teardown(test_sign_message, setup_signer, teardown_signer),
        cmocka_unit_test_setup_teardown(test_sign_refusals, setup_signer, teardown_signer),
        cmocka_unit_test_setup_teardown(test_sign_other_domain, setup_signer, teardown_signer),
        cmocka_unit_test_setup_teardown(test_sign_threads, setup_signer, teardown_signer),
        cmocka_unit_test(test_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
