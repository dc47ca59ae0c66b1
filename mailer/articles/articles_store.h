/*
 * articles_store.h: the SQL behind articles.h for tables `articles` and
 * `article_images` (private to the articles module).
 */
#ifndef MAILER_ARTICLES_ARTICLES_STORE_H
#define MAILER_ARTICLES_ARTICLES_STORE_H

#include <stddef.h>
#include <time.h>

#include "articles.h"

/* `*exists` = 1 if an article with `id` is stored. MERR_DB / MERR_TEMPFAIL. */
enum merr articles_store_exists(struct db *db, const char *id, int *exists);

/*
 * Inserts or updates the article row and replaces its image rows (the media
 * rows must already be stored). Call inside the caller's transaction.
 * MERR_DB / MERR_TEMPFAIL / MERR_EXISTS (a constraint failed).
 */
enum merr articles_store_upsert(struct db *db, const struct article *a);

/*
 * Loads one article and its images in order; body_html only if `with_body`.
 * `*out` is owned by the caller (article_free). MERR_NOTFOUND, MERR_DB.
 */
enum merr articles_store_load(struct db *db, const char *id, int with_body, struct article **out);

/*
 * Ids of the articles published in (since, until], newest first, optionally
 * of one category, at most `max` (0: all). With `after_id` (may be NULL),
 * of those published exactly at `until` only the ids after it (keyset
 * paging in the same order). `*ids` is a malloc'd array of `*n` malloc'd
 * strings; the caller frees each and the array.
 */
enum merr articles_store_ids(struct db *db, time_t since, time_t until, const char *after_id,
                             const char *category, size_t max, char ***ids, size_t *n);

#endif
