/*
 * image_meta.h: does an image still carry metadata? Read from the bytes by
 * the tests themselves (unit.media_image, fuzz.media), not by libvips, so a
 * derived image that keeps EXIF, GPS, XMP, IPTC, ICC or text is seen
 * whatever libvips says of it. Header-only, like testutil.h.
 */
#ifndef MAILER_TESTS_IMAGE_META_H
#define MAILER_TESTS_IMAGE_META_H

#include <stddef.h>
#include <string.h>

/*
 * 1 if the JPEG in `p` has an APPn segment other than APP0 (JFIF) or a
 * comment before its scan: EXIF and GPS (APP1), ICC (APP2), IPTC (APP13),
 * XMP (APP1), maker notes (inside EXIF) all live there (ITU T.81 B.2.4).
 */
static inline int image_meta_jpeg(const unsigned char *p, size_t n)
{
    size_t i = 2;
    while (i + 4 <= n && p[i] == 0xFF) {
        unsigned m = p[i + 1], len = (unsigned)p[i + 2] << 8 | p[i + 3];
        if (m == 0xDA)
            return 0;
        if ((m >= 0xE1 && m <= 0xEF) || m == 0xFE)
            return 1;
        i += 2 + len;
    }
    return 0;
}

/* 1 if the PNG has a text, eXIf, iCCP or time chunk (PNG §11.3). */
static inline int image_meta_png(const unsigned char *p, size_t n)
{
    static const char *const kinds[] = {"tEXt", "zTXt", "iTXt", "eXIf", "iCCP", "tIME"};
    for (size_t i = 8; i + 8 <= n;) {
        size_t len = (size_t)p[i] << 24 | (size_t)p[i + 1] << 16 | (size_t)p[i + 2] << 8 | p[i + 3];
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
            if (!memcmp(p + i + 4, kinds[k], 4))
                return 1;
        if (len > n - i - 12)
            break;
        i += 12 + len;
    }
    return 0;
}

#endif
