/*
 * utf8.c: RFC 3629 decoding.
 */
#include "utf8.h"

size_t utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t c;
    size_t len;

    if (n == 0)
        return 0;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    } else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        c = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        c = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        c = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

int utf8_valid(const char *p, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k;
        if ((unsigned char)p[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_decode(p + i, n - i, &cp);
        if (!k) {
            if (bad)
                *bad = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

size_t utf8_count(const char *p, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] & 0xc0) != 0x80)
            count++;
    return count;
}

int utf8_has_crlf_nul(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 1;
    return 0;
}

/*
 * Base letters of U+00C0..U+017F ('.' = no Latin base letter: dropped).
 * Latin-1 Supplement, then Latin Extended-A in code point order.
 */
static const char LATIN_BASE[] =
    /* C0 */ "aaaaaaaceeeeiiii"
             /* D0 */ "dnooooo.ouuuuy.s"
             /* E0 */ "aaaaaaaceeeeiiii"
             /* F0 */ "dnooooo.ouuuuy.y"
             /* 100 */ "aaaaaaccccccccdd"
             /* 110 */ "ddeeeeeeeeeegggg"
             /* 120 */ "gggghhhhiiiiiiii"
             /* 130 */ "iiiijjkkklllllll"
             /* 140 */ "lllnnnnnnnnnoooo"
             /* 150 */ "oooorrrrrrssssss"
             /* 160 */ "ssttttttuuuuuuuu"
             /* 170 */ "uuuuwwyyyzzzzzzs";

/* The base letter of a Latin code point, 0 for none (dropped). */
static char latin_base(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z')                               ? (char)(c - 'A' + 'a')
               : ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? (char)c
                                                                    : 0;
    if (c >= 0xc0 && c <= 0x17f) {
        char b = LATIN_BASE[c - 0xc0];
        return b == '.' ? 0 : b;
    }
    if (c == 0x1a0 || c == 0x1a1) /* Ơ ơ */
        return 'o';
    if (c == 0x1af || c == 0x1b0) /* Ư ư */
        return 'u';
    /* Vietnamese in Latin Extended Additional: runs of letters with tone marks */
    if (c >= 0x1ea0 && c <= 0x1eb7)
        return 'a';
    if (c >= 0x1eb8 && c <= 0x1ec7)
        return 'e';
    if (c >= 0x1ec8 && c <= 0x1ecb)
        return 'i';
    if (c >= 0x1ecc && c <= 0x1ee3)
        return 'o';
    if (c >= 0x1ee4 && c <= 0x1ef1)
        return 'u';
    if (c >= 0x1ef2 && c <= 0x1ef9)
        return 'y';
    return 0; /* combining marks (U+0300..U+036F) and everything else */
}

int utf8_fold_key(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = 0, len = 0;
    if (cap == 0)
        return -1;
    while (i < n) {
        uint32_t c;
        size_t k = utf8_decode(s + i, n - i, &c);
        char b;
        if (k == 0)
            return -1;
        i += k;
        b = latin_base(c);
        if (!b)
            continue;
        if (len + 1 >= cap)
            return -1;
        out[len++] = b;
    }
    out[len] = '\0';
    return (int)len;
}
