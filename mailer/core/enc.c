/*
 * enc.c: hex and base64 encoders, written here because they sit on the hot
 * path of every message (photos are encoded once per send, personal parts
 * once per recipient) and must fold lines exactly as MIME wants.
 */
#include "enc.h"

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void enc_hex(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static char *b64_chunk(char *o, const unsigned char *p, size_t n, const char *alpha, int pad)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        *o++ = alpha[(v >> 6) & 63];
        *o++ = alpha[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        if (pad) {
            *o++ = '=';
            *o++ = '=';
        }
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        *o++ = alpha[(v >> 6) & 63];
        if (pad)
            *o++ = '=';
    }
    return o;
}

enum merr enc_base64(struct buf *out, const unsigned char *p, size_t n, int fold)
{
    size_t chars = (n + 2) / 3 * 4;
    size_t lines = fold ? (chars + 75) / 76 : 0;
    enum merr rc = buf_reserve(out, chars + 2 * lines);
    char *o;

    if (rc)
        return rc;
    o = out->data + out->len;
    if (!fold) {
        o = b64_chunk(o, p, n, b64std, 1);
    } else {
        /* 57 input bytes make one 76-character line. */
        for (size_t i = 0; i < n; i += 57) {
            size_t k = n - i < 57 ? n - i : 57;
            o = b64_chunk(o, p + i, k, b64std, 1);
            *o++ = '\r';
            *o++ = '\n';
        }
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return MERR_OK;
}

enum merr enc_base64url(struct buf *out, const unsigned char *p, size_t n)
{
    enum merr rc = buf_reserve(out, (n + 2) / 3 * 4);
    char *o;
    if (rc)
        return rc;
    o = b64_chunk(out->data + out->len, p, n, b64url, 0);
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return MERR_OK;
}

int enc_base64_value(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

enum merr dec_base64url(unsigned char *out, size_t cap, size_t *outlen, const char *s, size_t n)
{
    size_t o = 0, i = 0;
    unsigned acc = 0;
    int bits = 0;

    if (n % 4 == 1)
        return merr_set(MERR_INVAL, "base64url: impossible length %zu", n);
    if (n / 4 * 3 + n % 4 * 3 / 4 > cap) /* n characters carry n * 6 / 8 bytes */
        return merr_set(MERR_INVAL, "base64url: longer than %zu bytes", cap);
    for (; i < n; i++) {
        int v = enc_base64_value((unsigned char)s[i], 1);
        if (v < 0)
            return merr_set(MERR_INVAL, "base64url: bad character at %zu", i);
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return merr_set(MERR_INVAL, "base64url: non-canonical trailing bits");
    *outlen = o;
    return MERR_OK;
}
