/*
 * delivery_rate.c: how fast delivery may go: [delivery] rate overall and
 * per_domain_rate per recipient domain.
 *
 * Token buckets shared by all workers: one for everything and one per
 * recipient domain, in a small table whose least recently used entry is
 * replaced when a new domain comes. A bucket holds at most one second of
 * tokens (at least one), so a burst after a quiet time is short. A worker
 * reserves its tokens, which may take a bucket below zero, and sleeps
 * until they are due: the reservation is made under the lock, the sleep
 * outside it, so the average rate holds across threads without a worker
 * ever waiting for another's sleep.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "delivery_int.h"

static void bucket_init(struct delivery_bucket *b, double rate, double now)
{
    b->rate = rate;
    b->burst = rate >= 1 ? rate : 1;
    b->tokens = b->burst;
    b->last = now;
}

/* Takes one token; returns the seconds until it is due (0 = now). */
static double bucket_take(struct delivery_bucket *b, double now)
{
    if (b->rate <= 0)
        return 0;
    b->tokens += (now - b->last) * b->rate;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last = now;
    b->tokens -= 1;
    return b->tokens >= 0 ? 0 : -b->tokens / b->rate;
}

static struct delivery_bucket *domain_bucket(struct delivery_rate *r, const char *domain,
                                             double now)
{
    size_t slot;
    for (size_t i = 0; i < r->ndomains; i++)
        if (!strcasecmp(r->domains[i].domain, domain))
            return &r->domains[i].b;
    if (r->ndomains < DELIVERY_DOMAIN_SLOTS) {
        slot = r->ndomains++;
    } else {
        /* replace the domain served longest ago */
        slot = 0;
        for (size_t i = 1; i < DELIVERY_DOMAIN_SLOTS; i++)
            if (r->domains[i].b.last < r->domains[slot].b.last)
                slot = i;
    }
    snprintf(r->domains[slot].domain, sizeof r->domains[slot].domain, "%s", domain);
    bucket_init(&r->domains[slot].b, r->per_domain, now);
    return &r->domains[slot].b;
}

void delivery_rate_init(struct delivery_rate *r, const struct config *cfg)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->per_domain = cfg->per_domain_rate;
    bucket_init(&r->global, cfg->rate, date_mono());
}

void delivery_rate_free(struct delivery_rate *r)
{
    pthread_mutex_destroy(&r->mu);
}

double delivery_rate_reserve(struct delivery_rate *r, const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');
    double now, wait = 0, w;

    if (r->global.rate <= 0 && r->per_domain <= 0)
        return 0;
    pthread_mutex_lock(&r->mu);
    now = date_mono();
    wait = bucket_take(&r->global, now);
    if (r->per_domain > 0 && at) {
        w = bucket_take(domain_bucket(r, at + 1, now), now);
        if (w > wait)
            wait = w;
    }
    pthread_mutex_unlock(&r->mu);
    return wait;
}
