/*
 * subs_fx.h: the fixture the subscribers' unit tests share (test_subs.c,
 * test_subs_csv.c, test_subs_lists.c, test_subs_search.c): a fresh database
 * per test, a config with a secret and the site's address, the clock held at
 * NOW, and a list made in one call.
 */
#ifndef SUBS_FX_H
#define SUBS_FX_H

#include <time.h>

#include "config.h"
#include "db.h"

#define NOW ((time_t)1764000000) /* 2025-11-24 */

struct subs_fx {
    struct db *db;
    struct config cfg;
    char dir[600];
};

/* cmocka setup: *state becomes a struct subs_fx, the clock stands at NOW. */
int subs_fx_setup(void **state);

/* cmocka teardown of subs_fx_setup: closes and frees it, lets the clock run again. */
int subs_fx_teardown(void **state);

/* Creates the list `slug` ("Bản tin Tuần", opt-in `optin`) at NOW; returns its id. */
long long subs_fx_mklist(struct subs_fx *f, const char *slug, const char *optin);

#endif
