/*
 * rnd.h: cryptographically secure random bytes (getrandom(2)).
 *
 * Used for Message-IDs, MIME boundaries, tokens and CSRF values; never use
 * random() or rand() for those (libetpan's unseeded random() is why).
 */
#ifndef MAILER_CORE_RND_H
#define MAILER_CORE_RND_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Fills `p` with `n` random bytes. MERR_IO if the kernel refuses. */
enum merr rnd_bytes(void *p, size_t n);

/* A uniformly random integer in [0, bound), bound > 0. Aborts on failure. */
uint64_t rnd_uniform(uint64_t bound);

/*
 * Writes `nbytes` random bytes as lowercase hex into `out`, which must hold
 * 2 * nbytes + 1 characters. Aborts if no randomness can be had: continuing
 * with predictable identifiers would be worse.
 */
void rnd_hex(char *out, size_t nbytes);

#endif
