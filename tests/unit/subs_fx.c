/*
 * subs_fx.c: the subscribers' unit-test fixture (subs_fx.h): each test gets
 * its own folder and freshly migrated database, a config with the secret the
 * tokens are signed with and the site's base URL, and a clock held at NOW.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "date.h"
#include "db.h"
#include "subs.h"
#include "subs_fx.h"
#include "testutil.h"

int subs_fx_setup(void **state)
{
    struct subs_fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s", test_tmpdir("subs"));
    f->db = test_db_fresh(f->dir, NULL, 0);
    assert_int_equal(cfg_defaults(&f->cfg), MERR_OK);
    test_set_str(&f->cfg.secret, "test-secret-0123456789abcdef");
    test_set_str(&f->cfg.site_base_url, "https://tin.example.vn/");
    date_set_fake_now(NOW);
    *state = f;
    return 0;
}

int subs_fx_teardown(void **state)
{
    struct subs_fx *f = *state;
    db_close(f->db);
    cfg_free(&f->cfg);
    free(f);
    date_set_fake_now(0);
    return 0;
}

long long subs_fx_mklist(struct subs_fx *f, const char *slug, const char *optin)
{
    long long id;
    assert_int_equal(subs_list_create(f->db, slug, "Bản tin Tuần", "Tin mới", optin, NOW, &id),
                     MERR_OK);
    return id;
}
