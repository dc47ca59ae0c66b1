/*
 * digest_store.h: the `digests` table (internal to mailer/digest).
 */
#ifndef MAILER_DIGEST_DIGEST_STORE_H
#define MAILER_DIGEST_DIGEST_STORE_H

#include <time.h>

#include "db.h"
#include "err.h"

struct digest_row {
    long long id;
    long long list_id;
    char period[16];
    long long send_id; /* 0: skipped (or its send was deleted) */
    time_t since, until;
    int articles;
    time_t created_at;
};

/* The digest of (list, period). MERR_NOTFOUND. */
enum merr digest_store_find(struct db *db, long long list_id, const char *period,
                            struct digest_row *out);

/* A digest by id. MERR_NOTFOUND. */
enum merr digest_store_get(struct db *db, long long id, struct digest_row *out);

/*
 * The latest `until` of the list's digests (skipped ones included): where
 * the next digest's articles start. `*found` = 0 when the list has none.
 */
enum merr digest_store_last_until(struct db *db, long long list_id, time_t *until, int *found);

/* Inserts a row (out->id set). MERR_EXISTS when (list, period) is taken. */
enum merr digest_store_insert(struct db *db, struct digest_row *row);

/*
 * Turns the skipped row `row->id` into a real digest (send, since, until,
 * articles). MERR_EXISTS if it is no longer a skipped row.
 */
enum merr digest_store_fill_skipped(struct db *db, const struct digest_row *row);

/*
 * The newest digests first (all lists when list_id is 0), at most `limit`.
 * `*out` is malloc'd (free()), `*n` rows.
 */
enum merr digest_store_list(struct db *db, long long list_id, size_t limit, struct digest_row **out,
                            size_t *n);

#endif
