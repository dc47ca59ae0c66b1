/*
 * bench_media.c: the mailer's photo derivation, measured.
 *
 *   bench_media derive ROUNDS FILE...
 *       Derives each file's body image and digest thumbnail with
 *       media_image_derive() (the code `mailer article add` runs), ROUNDS
 *       times over the files, reading one file at a time. Prints
 *       "photos N seconds S peak_rss_kb K".
 *
 *   bench_media quality Q,Q,... FILE...
 *       For the quality choice: each file is resized as the mailer does
 *       (body size and thumbnail), kept uncompressed as the reference, then
 *       encoded as a progressive JPEG at each quality and decoded again.
 *       Prints per use and quality the mean bytes and the mean SSIM
 *       against the reference (luminance, Gaussian window sigma 1.5, the
 *       constants of Wang et al. 2004), and one line per file.
 *
 * Not part of the test suite (no timings in tests): bench/media/run.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <vips/vips.h>

#include "buf.h"
#include "config.h"
#include "media.h"
#include "media_image.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int load(const char *path, struct buf *b, struct media_info *info)
{
    buf_init(b, 0);
    if (buf_read_file(b, path) || media_sniff((unsigned char *)b->data, b->len, info)) {
        fprintf(stderr, "%s: %s\n", path, merr_msg());
        return -1;
    }
    return 0;
}

/* Reads, derives both uses and frees one file at a time, as article_upsert holds one photo. */
static int derive(struct config *cfg, int rounds, int nfiles, char **files)
{
    struct rusage ru;
    long photos = 0;
    double t0 = now();

    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < nfiles; i++) {
            struct media_info info;
            struct buf bytes;
            if (load(files[i], &bytes, &info))
                return 1;
            for (int u = 0; u < MEDIA_USES; u++) {
                struct media_image img;
                if (media_image_derive(cfg, files[i], bytes.data, bytes.len, &info,
                                       (enum media_use)u, &img)) {
                    fprintf(stderr, "%s\n", merr_msg());
                    return 1;
                }
                media_image_free(&img);
            }
            buf_free(&bytes);
            photos++;
        }
    getrusage(RUSAGE_SELF, &ru);
    printf("photos %ld seconds %.3f peak_rss_kb %ld\n", photos, now() - t0, ru.ru_maxrss);
    return 0;
}

/* Mean SSIM of the luminance of two sRGB images of one size. */
static double ssim(VipsImage *a, VipsImage *b)
{
    VipsImage *ctx = vips_image_new();
    VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(ctx), 24);
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    double mean = -1;

    if (vips_colourspace(a, &t[0], VIPS_INTERPRETATION_B_W, NULL) ||
        vips_colourspace(b, &t[1], VIPS_INTERPRETATION_B_W, NULL) ||
        vips_cast_float(t[0], &t[2], NULL) || vips_cast_float(t[1], &t[3], NULL) ||
        vips_gaussblur(t[2], &t[4], 1.5, "precision", VIPS_PRECISION_FLOAT, NULL) ||
        vips_gaussblur(t[3], &t[5], 1.5, "precision", VIPS_PRECISION_FLOAT, NULL) ||
        vips_multiply(t[2], t[2], &t[6], NULL) || vips_multiply(t[3], t[3], &t[7], NULL) ||
        vips_multiply(t[2], t[3], &t[8], NULL) ||
        vips_gaussblur(t[6], &t[9], 1.5, "precision", VIPS_PRECISION_FLOAT, NULL) ||
        vips_gaussblur(t[7], &t[10], 1.5, "precision", VIPS_PRECISION_FLOAT, NULL) ||
        vips_gaussblur(t[8], &t[11], 1.5, "precision", VIPS_PRECISION_FLOAT, NULL) ||
        vips_multiply(t[4], t[4], &t[12], NULL) ||   /* mu_a^2 */
        vips_multiply(t[5], t[5], &t[13], NULL) ||   /* mu_b^2 */
        vips_multiply(t[4], t[5], &t[14], NULL) ||   /* mu_a mu_b */
        vips_subtract(t[9], t[12], &t[15], NULL) ||  /* var_a */
        vips_subtract(t[10], t[13], &t[16], NULL) || /* var_b */
        vips_subtract(t[11], t[14], &t[17], NULL) || /* cov */
        vips_linear1(t[14], &t[18], 2, c1, NULL) ||  /* 2 mu_a mu_b + c1 */
        vips_linear1(t[17], &t[19], 2, c2, NULL) ||  /* 2 cov + c2 */
        vips_add(t[12], t[13], &t[20], NULL) ||      /* mu_a^2 + mu_b^2 */
        vips_add(t[15], t[16], &t[21], NULL) ||      /* var_a + var_b */
        vips_multiply(t[18], t[19], &t[22], NULL)) { /* numerator */
        fprintf(stderr, "ssim: %s\n", vips_error_buffer());
        g_object_unref(ctx);
        return -1;
    }
    {
        VipsImage *d1 = NULL, *d2 = NULL, *den = NULL, *q = NULL;
        if (!vips_linear1(t[20], &d1, 1, c1, NULL) && !vips_linear1(t[21], &d2, 1, c2, NULL) &&
            !vips_multiply(d1, d2, &den, NULL) && !vips_divide(t[22], den, &q, NULL))
            vips_avg(q, &mean, NULL);
        if (d1)
            g_object_unref(d1);
        if (d2)
            g_object_unref(d2);
        if (den)
            g_object_unref(den);
        if (q)
            g_object_unref(q);
    }
    g_object_unref(ctx);
    return mean;
}

/* The reference of `use`: resized as media_image_derive does, in memory, sRGB, 3 bands. */
static VipsImage *reference(const char *path, enum media_use use)
{
    VipsImage *t = NULL, *s = NULL, *m = NULL;
    int r;
    if (use == MEDIA_USE_THUMB)
        r = vips_thumbnail(path, &t, 2 * MEDIA_THUMB_CSS_W, "height", 2 * MEDIA_THUMB_CSS_H, "size",
                           VIPS_SIZE_BOTH, "crop", VIPS_INTERESTING_CENTRE, NULL);
    else
        r = vips_thumbnail(path, &t, MEDIA_BODY_MAX_W, "height", MEDIA_BODY_MAX_H, "size",
                           VIPS_SIZE_DOWN, NULL);
    if (!r)
        r = vips_colourspace(t, &s, VIPS_INTERPRETATION_sRGB, NULL);
    if (!r && vips_image_hasalpha(s)) {
        VipsImage *f = NULL;
        r = vips_flatten(s, &f, NULL);
        g_object_unref(s);
        s = f;
    }
    if (!r)
        m = vips_image_copy_memory(s);
    if (t)
        g_object_unref(t);
    if (s)
        g_object_unref(s);
    return m;
}

static int quality(const char *qlist, int nfiles, char **files)
{
    int qs[32], nq = 0;
    for (const char *p = qlist; *p && nq < 32;) {
        qs[nq++] = atoi(p);
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    for (int u = 0; u < MEDIA_USES; u++) {
        double sum_ssim[32] = {0}, sum_bytes[32] = {0};
        for (int i = 0; i < nfiles; i++) {
            VipsImage *ref = reference(files[i], (enum media_use)u);
            if (!ref) {
                fprintf(stderr, "%s: %s\n", files[i], vips_error_buffer());
                return 1;
            }
            printf("file %s %s %dx%d", media_use_name((enum media_use)u), files[i], ref->Xsize,
                   ref->Ysize);
            for (int k = 0; k < nq; k++) {
                void *jpg = NULL;
                size_t len = 0;
                VipsImage *dec = NULL;
                double s;
                if (vips_jpegsave_buffer(ref, &jpg, &len, "Q", qs[k], "interlace", TRUE,
                                         "optimize_coding", TRUE, "strip", TRUE, NULL) ||
                    vips_jpegload_buffer(jpg, len, &dec, NULL)) {
                    fprintf(stderr, "%s: %s\n", files[i], vips_error_buffer());
                    return 1;
                }
                s = ssim(ref, dec);
                printf("  q%d %zu %.4f", qs[k], len, s);
                sum_ssim[k] += s;
                sum_bytes[k] += (double)len;
                g_object_unref(dec);
                g_free(jpg);
            }
            printf("\n");
            g_object_unref(ref);
        }
        for (int k = 0; k < nq; k++)
            printf("mean %s q%d bytes %.0f ssim %.4f\n", media_use_name((enum media_use)u), qs[k],
                   sum_bytes[k] / nfiles, sum_ssim[k] / nfiles);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    int rc;
    if (argc < 4) {
        fprintf(stderr, "usage: bench_media derive ROUNDS FILE... | quality Q,Q,... FILE...\n");
        return 2;
    }
    if (cfg_load(&cfg, getenv("MAILER_CONFIG"))) {
        fprintf(stderr, "%s\n", merr_msg());
        return 2;
    }
    if (VIPS_INIT(argv[0]))
        return 2;
    if (!strcmp(argv[1], "derive"))
        rc = derive(&cfg, atoi(argv[2]), argc - 3, argv + 3);
    else if (!strcmp(argv[1], "quality"))
        rc = quality(argv[2], argc - 3, argv + 3);
    else
        rc = 2;
    cfg_free(&cfg);
    return rc;
}
