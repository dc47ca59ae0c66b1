/*
 * rnd.c: getrandom(2) wrappers.
 */
#include "rnd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "enc.h"

enum merr rnd_bytes(void *p, size_t n)
{
    unsigned char *c = p;
    while (n > 0) {
        ssize_t got = getrandom(c, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return merr_set(MERR_IO, "getrandom: %s", strerror(errno));
        }
        c += got;
        n -= (size_t)got;
    }
    return MERR_OK;
}

static void must(enum merr rc)
{
    if (rc) {
        fprintf(stderr, "fatal: no secure randomness: %s\n", merr_msg());
        abort();
    }
}

uint64_t rnd_uniform(uint64_t bound)
{
    uint64_t x, lim = UINT64_MAX - UINT64_MAX % bound;
    do
        must(rnd_bytes(&x, sizeof x));
    while (x >= lim);
    return x % bound;
}

void rnd_hex(char *out, size_t nbytes)
{
    unsigned char tmp[64];
    while (nbytes > 0) {
        size_t k = nbytes < sizeof tmp ? nbytes : sizeof tmp;
        must(rnd_bytes(tmp, k));
        enc_hex(out, tmp, k);
        out += 2 * k;
        nbytes -= k;
    }
    *out = '\0';
}
