/*
 * digest_int.h: what the digest module's files share (internal to
 * mailer/digest): the one way a digest comes to be (digest.c), used by the
 * scheduler (digest_schedule.c), and the look-ups digest_life.c needs.
 */
#ifndef MAILER_DIGEST_DIGEST_INT_H
#define MAILER_DIGEST_DIGEST_INT_H

#include <time.h>

#include "config.h"
#include "db.h"
#include "digest.h"
#include "digest_store.h"
#include "err.h"
#include "subs.h"

/*
 * The list named `slug` into *l (the caller clears it with
 * subs_list_clear). MERR_INVAL without a slug, MERR_NOTFOUND naming it.
 */
enum merr digest_list_load(struct db *db, const char *slug, struct subs_list *l);

/* *out filled from a digests row (and the list's slug, if known; NULL: ""). */
void digest_info_from_row(const struct digest_row *r, const char *slug, struct digest_info *out);

/*
 * The one way a digest comes to be, in one transaction (digest.c's design):
 * the list's digest of `period` with the articles since `since_arg` (0:
 * since the previous digest). `manual`: by hand (no articles is an error
 * and writes nothing; a skipped row may be filled in); else the scheduler
 * (no articles is recorded as skipped). MERR_EXISTS when the period has its
 * digest already.
 */
enum merr digest_make(struct db *db, const struct config *cfg, const struct subs_list *l,
                      const char *period, time_t since_arg, time_t now, int manual,
                      struct digest_info *out);

#endif
