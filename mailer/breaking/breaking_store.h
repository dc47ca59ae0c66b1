/*
 * breaking_store.h: the SQL of breaking news (table breaking_news,
 * migration *_send_kinds.sql). Private to mailer/breaking.
 */
#ifndef MAILER_BREAKING_BREAKING_STORE_H
#define MAILER_BREAKING_BREAKING_STORE_H

#include "breaking.h"

/* The row of (list, article), inside the caller's transaction. MERR_NOTFOUND. */
enum merr breaking_store_find(struct db *db, long long list_id, const char *article_id,
                              struct breaking_info *out);
/* Adds the row; MERR_EXISTS if (list, article) has one. */
enum merr breaking_store_insert(struct db *db, long long list_id, const char *article_id,
                                long long send_id, time_t now, long long *id);
enum merr breaking_store_list(struct db *db, struct breaking_info *out, size_t max, size_t *n);

#endif
