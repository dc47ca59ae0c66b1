/*
 * dkimkey.c: loading, making and publishing DKIM keys.
 *
 * Keys are parsed once, at start, into an OpenSSL EVP_PKEY that the signer
 * then uses from every thread (OpenSSL 3 keys are immutable once built and
 * may be shared; each signature makes its own context). The file is opened
 * once and checked through that descriptor (fstat), so what is checked is
 * what is read. A key that group or others can access is refused rather
 * than used: whoever reads it can sign mail as the domain.
 *
 * A new key is written with O_CREAT|O_EXCL and mode 0600 (fchmod as well,
 * so a umask cannot widen it), fsync'd, and never replaces an existing
 * file: rotating keys means a new selector, and the old key stays until
 * its DNS record is gone.
 *
 * The record parser reads what the DNS says (outside data, so it has a
 * fuzz harness): the tag=value list of RFC 6376 §3.2, strict about syntax,
 * tolerant of unknown tags as §3.2 requires.
 */
#include "dkimkey.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "enc.h"

#define KEY_FILE_MAX (64 * 1024)

struct dkimkey {
    EVP_PKEY *pkey;
    enum dkimkey_alg alg;
    int bits;
};

/* The first OpenSSL error's text, for messages ("" if none); clears the queue. */
static const char *ossl_reason(char *b, size_t n)
{
    unsigned long e = ERR_get_error();
    b[0] = 0;
    if (e)
        ERR_error_string_n(e, b, n);
    ERR_clear_error();
    return b;
}

enum merr dkimkey_load(const char *path, struct dkimkey **out)
{
    struct dkimkey *k = NULL;
    struct stat st;
    struct buf text;
    BIO *bio = NULL;
    char why[256];
    int fd = -1;
    enum merr rc = MERR_OK;

    *out = NULL;
    buf_init(&text, KEY_FILE_MAX);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return merr_set(MERR_CONFIG, "DKIM key %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = merr_set(MERR_CONFIG, "DKIM key %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = merr_set(MERR_CONFIG, "DKIM key %s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = merr_set(MERR_CONFIG,
                      "DKIM key %s: group or others may access it (mode %04o); whoever reads "
                      "it can sign mail as the domain: chmod 600 %s",
                      path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    rc = buf_read_fd(&text, fd, path);
    if (rc == MERR_LIMIT)
        rc = merr_set(MERR_CONFIG, "DKIM key %s: larger than %d bytes, not a key", path,
                      KEY_FILE_MAX);
    else if (rc)
        rc = merr_set(MERR_CONFIG, "DKIM key %s", merr_msg());
    if (rc)
        goto out;
    k = calloc(1, sizeof *k);
    bio = BIO_new_mem_buf(text.data ? text.data : "", (int)text.len);
    if (!k || !bio) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    k->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    if (!k->pkey) {
        rc = merr_set(MERR_CONFIG, "DKIM key %s: not a PEM private key (%s)", path,
                      ossl_reason(why, sizeof why));
        goto out;
    }
    switch (EVP_PKEY_get_base_id(k->pkey)) {
    case EVP_PKEY_RSA:
        k->alg = DKIMKEY_RSA;
        k->bits = EVP_PKEY_get_bits(k->pkey);
        /* RFC 8301 §3.2 wants at least 1024; the mailbox providers 2048. */
        if (k->bits < DKIMKEY_RSA_BITS) {
            rc = merr_set(MERR_CONFIG,
                          "DKIM key %s: RSA key of %d bits; at least %d are needed "
                          "(mailer dkim keygen makes one)",
                          path, k->bits, DKIMKEY_RSA_BITS);
            goto out;
        }
        break;
    case EVP_PKEY_ED25519:
        k->alg = DKIMKEY_ED25519;
        k->bits = 256;
        break;
    default:
        rc = merr_set(MERR_CONFIG, "DKIM key %s: neither an RSA nor an Ed25519 key", path);
        goto out;
    }
out:
    if (bio)
        BIO_free(bio);
    if (text.data)
        OPENSSL_cleanse(text.data, text.len);
    buf_free(&text);
    if (fd >= 0)
        close(fd);
    if (rc) {
        dkimkey_free(k);
        return rc;
    }
    *out = k;
    return MERR_OK;
}

void dkimkey_free(struct dkimkey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

enum dkimkey_alg dkimkey_alg(const struct dkimkey *k)
{
    return k->alg;
}

const char *dkimkey_alg_name(enum dkimkey_alg alg)
{
    return alg == DKIMKEY_ED25519 ? "ed25519" : "rsa";
}

int dkimkey_bits(const struct dkimkey *k)
{
    return k->bits;
}

void *dkimkey_pkey(const struct dkimkey *k)
{
    return k->pkey;
}

/* mkdir -p with mode 0700 for the folders it makes. */
static enum merr make_dirs(const char *path)
{
    char *copy = strdup(path), *dir;
    enum merr rc = MERR_OK;
    if (!copy)
        return merr_set(MERR_NOMEM, "out of memory");
    dir = dirname(copy);
    if (strcmp(dir, ".") && strcmp(dir, "/") && access(dir, F_OK) != 0) {
        rc = make_dirs(dir);
        if (!rc && mkdir(dir, 0700) != 0 && errno != EEXIST)
            rc = merr_set(MERR_IO, "%s: %s", dir, strerror(errno));
    }
    free(copy);
    return rc;
}

enum merr dkimkey_generate(const char *path, enum dkimkey_alg alg, struct dkimkey **out)
{
    struct dkimkey *k = NULL;
    BIO *bio = NULL;
    char *pem = NULL, why[256];
    long len = 0;
    int fd = -1;
    enum merr rc = MERR_OK;

    if (out)
        *out = NULL;
    k = calloc(1, sizeof *k);
    if (!k)
        return merr_set(MERR_NOMEM, "out of memory");
    k->alg = alg;
    if (alg == DKIMKEY_RSA)
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)DKIMKEY_RSA_BITS);
    else
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k->pkey) {
        rc = merr_set(MERR_INTERNAL, "OpenSSL could not make a key: %s",
                      ossl_reason(why, sizeof why));
        goto out;
    }
    k->bits = alg == DKIMKEY_RSA ? EVP_PKEY_get_bits(k->pkey) : 256;
    bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL)) {
        rc = merr_set(MERR_INTERNAL, "OpenSSL could not write the key: %s",
                      ossl_reason(why, sizeof why));
        goto out;
    }
    len = BIO_get_mem_data(bio, &pem);
    rc = make_dirs(path);
    if (rc)
        goto out;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            rc =
                merr_set(MERR_EXISTS,
                         "%s exists: a key is never replaced (use a new selector to rotate)", path);
        else
            rc = merr_set(MERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) != 0) {
        rc = merr_set(MERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    for (long off = 0; off < len;) {
        ssize_t w = write(fd, pem + off, (size_t)(len - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = merr_set(MERR_IO, "%s: %s", path, strerror(errno));
            goto out;
        }
        off += w;
    }
    if (fsync(fd) != 0) {
        rc = merr_set(MERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
out:
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = merr_set(MERR_IO, "%s: %s", path, strerror(errno));
    if (fd >= 0 && rc)
        unlink(path);
    if (pem)
        OPENSSL_cleanse(pem, (size_t)len);
    BIO_free(bio);
    if (rc || !out)
        dkimkey_free(k);
    else
        *out = k;
    return rc;
}

enum merr dkimkey_public_b64(const struct dkimkey *k, struct buf *out)
{
    unsigned char *der = NULL, raw[64];
    size_t rawlen = sizeof raw;
    int n;
    enum merr rc;

    if (k->alg == DKIMKEY_ED25519) {
        /* RFC 8463 §4: the bare 32-byte public key, not wrapped in SPKI. */
        if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen) != 1)
            return merr_set(MERR_INTERNAL, "OpenSSL could not give the Ed25519 public key");
        return enc_base64(out, raw, rawlen, 0);
    }
    /* RFC 6376 §3.6.1: an RSA key as SubjectPublicKeyInfo (what opendkim-genkey writes). */
    n = i2d_PUBKEY(k->pkey, &der);
    if (n <= 0)
        return merr_set(MERR_INTERNAL, "OpenSSL could not give the RSA public key");
    rc = enc_base64(out, der, (size_t)n, 0);
    OPENSSL_free(der);
    return rc;
}

enum merr dkimkey_record(const struct dkimkey *k, struct buf *out)
{
    enum merr rc = buf_printf(out, "v=DKIM1; k=%s; p=", dkimkey_alg_name(k->alg));
    if (!rc)
        rc = dkimkey_public_b64(k, out);
    return rc;
}

enum merr dkimkey_zone_line(const struct dkimkey *k, const char *selector, const char *domain,
                            struct buf *out)
{
    struct buf rec;
    enum merr rc;
    size_t off = 0;

    buf_init(&rec, 0);
    rc = dkimkey_record(k, &rec);
    if (!rc)
        rc = buf_printf(out, "%s._domainkey.%s. IN TXT (", selector, domain);
    /* one string for the tags before p=, then p= in pieces of at most 255 */
    while (!rc && off < rec.len) {
        const char *p = strstr(rec.data + off, "p=");
        size_t n = rec.len - off;
        if (off == 0 && p)
            n = (size_t)(p - rec.data);
        if (n > 255)
            n = 255;
        rc = buf_printf(out, " \"%.*s\"", (int)n, rec.data + off);
        off += n;
    }
    if (!rc)
        rc = buf_puts(out, " )");
    buf_free(&rec);
    return rc;
}

/* ---- the record's tag=value list (RFC 6376 §3.2) ---- */

static int wsp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Copies v[0..n) into field (size `size`) without whitespace if `squeeze`. */
static enum merr set_field(char *field, size_t size, const char *tag, const char *v, size_t n,
                           int squeeze)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (squeeze && wsp(v[i]))
            continue;
        if (j + 1 >= size)
            return merr_set(MERR_INVAL, "DKIM record: %s= is too long", tag);
        field[j++] = v[i];
    }
    field[j] = 0;
    return MERR_OK;
}

static int base64_ok(const char *s)
{
    size_t n = strlen(s), pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad || !(alpha(c) || digit(c) || c == '+' || c == '/'))
            return 0;
    }
    return pad <= 2 && n % 4 == 0;
}

enum merr dkimkey_txt_parse(const char *txt, size_t n, struct dkimkey_txt *out)
{
    size_t i = 0;
    int ntags = 0;
    unsigned seen = 0;
    enum merr rc = MERR_OK;

    memset(out, 0, sizeof *out);
    snprintf(out->k, sizeof out->k, "rsa");
    while (i < n) {
        size_t ts, te, vs, ve;
        while (i < n && wsp(txt[i]))
            i++;
        if (i >= n)
            break;
        ts = i;
        if (!alpha(txt[i]))
            return merr_set(MERR_INVAL, "DKIM record: a tag name must start with a letter");
        while (i < n && (alpha(txt[i]) || digit(txt[i]) || txt[i] == '_'))
            i++;
        te = i;
        while (i < n && wsp(txt[i]))
            i++;
        if (i >= n || txt[i] != '=')
            return merr_set(MERR_INVAL, "DKIM record: tag \"%.*s\" has no '='", (int)(te - ts),
                            txt + ts);
        i++;
        while (i < n && wsp(txt[i]))
            i++;
        vs = i;
        while (i < n && txt[i] != ';')
            i++;
        ve = i;
        while (ve > vs && wsp(txt[ve - 1]))
            ve--;
        if (i < n)
            i++; /* the ';' */
        for (size_t k = vs; k < ve; k++)
            if ((unsigned char)txt[k] < 0x20 && !wsp(txt[k]))
                return merr_set(MERR_INVAL, "DKIM record: a control character in a value");
        ntags++;
        {
            static const char *const known[] = {"v", "k", "h", "s", "t", "p", "n"};
            size_t tl = te - ts, which = sizeof known / sizeof known[0];
            for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
                if (strlen(known[k]) == tl && !memcmp(known[k], txt + ts, tl))
                    which = k;
            if (which == sizeof known / sizeof known[0])
                continue; /* unknown tags are ignored (§3.2) */
            if (seen & (1u << which))
                return merr_set(MERR_INVAL, "DKIM record: tag %s= appears twice", known[which]);
            seen |= 1u << which;
            switch (which) {
            case 0:
                if (ntags != 1)
                    return merr_set(MERR_INVAL, "DKIM record: v= must be the first tag");
                rc = set_field(out->v, sizeof out->v, "v", txt + vs, ve - vs, 0);
                if (!rc && strcmp(out->v, "DKIM1"))
                    return merr_set(MERR_INVAL, "DKIM record: v=%s is not DKIM1", out->v);
                break;
            case 1:
                rc = set_field(out->k, sizeof out->k, "k", txt + vs, ve - vs, 0);
                break;
            case 2:
                rc = set_field(out->h, sizeof out->h, "h", txt + vs, ve - vs, 1);
                break;
            case 3:
                rc = set_field(out->s, sizeof out->s, "s", txt + vs, ve - vs, 1);
                break;
            case 4:
                rc = set_field(out->t, sizeof out->t, "t", txt + vs, ve - vs, 1);
                break;
            case 5:
                out->has_p = 1;
                rc = set_field(out->p, sizeof out->p, "p", txt + vs, ve - vs, 1);
                if (!rc && !base64_ok(out->p))
                    return merr_set(MERR_INVAL, "DKIM record: p= is not base64");
                break;
            default:
                break; /* n= (notes) */
            }
            if (rc)
                return rc;
        }
    }
    if (!out->has_p)
        return merr_set(MERR_INVAL, "DKIM record: no p= tag (the public key)");
    return MERR_OK;
}
