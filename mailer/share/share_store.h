/*
 * share_store.h: the share log (table share_log), one row per accepted
 * share: who shared which article with how many recipients, from where.
 */
#ifndef MAILER_SHARE_SHARE_STORE_H
#define MAILER_SHARE_SHARE_STORE_H

#include <stddef.h>

#include "db.h"
#include "err.h"

/*
 * Adds a share_log row (inside the caller's transaction). `client_ip` may be
 * NULL (the CLI): stored as "". `form_key` may be NULL; MERR_EXISTS if
 * another share has it. MERR_DB.
 */
enum merr share_store_log(struct db *db, const char *article_id, long long send_id,
                          const char *sender_email, const char *sender_name, const char *client_ip,
                          size_t recipients, const char *form_key);

/* The send of the share made by form `form_key`. MERR_NOTFOUND if none. */
enum merr share_store_by_form(struct db *db, const char *form_key, long long *send_id);

#endif
