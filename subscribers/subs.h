/*
 * subs.h: lists, subscribers, subscriptions, tokens and suppression.
 *
 * Tokens (confirm and unsubscribe links) are base64url of
 * kind | subscriber id | list id | expiry, followed by a truncated
 * HMAC-SHA256 under [mail] secret; they need no table and cannot be forged
 * or altered (one changed character is refused).
 */
#ifndef MAILER_SUBSCRIBERS_SUBS_H
#define MAILER_SUBSCRIBERS_SUBS_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"

enum subs_token_kind { SUBS_TOKEN_CONFIRM = 1, SUBS_TOKEN_UNSUBSCRIBE = 2 };

#define SUBS_CONFIRM_TTL (7 * 86400)

/*
 * Makes a token for (kind, subscriber, list) valid until `expires` (0 =
 * never, used for unsubscribe), appended to `out` as URL-safe text.
 */
enum merr subs_token_make(const char *secret, enum subs_token_kind kind, long long subscriber_id,
                          long long list_id, time_t expires, struct buf *out);

/*
 * Checks a token. MERR_INVAL if malformed or forged, MERR_LIMIT if expired
 * (the ids are still filled in, so a page can offer to subscribe again).
 */
enum merr subs_token_check(const char *secret, const char *token, enum subs_token_kind kind,
                           time_t now, long long *subscriber_id, long long *list_id);

/* "BASE/unsubscribe/TOKEN" for list mail, appended to out. */
enum merr subs_unsubscribe_url(const struct config *cfg, long long subscriber_id,
                               long long list_id, struct buf *out);

/* "BASE/confirm/TOKEN", valid SUBS_CONFIRM_TTL from `now`, appended to out. */
enum merr subs_confirm_url(const struct config *cfg, long long subscriber_id, long long list_id,
                           time_t now, struct buf *out);

/* 1 if the address (its lower-cased ASCII key) is suppressed, else 0. */
int subs_is_suppressed(struct db *db, const char *email_key);

/* Adds a suppression (reason: hard_bounce, complaint, manual, unsubscribed_all). */
enum merr subs_suppress(struct db *db, const char *email_key, const char *reason,
                        const char *detail);

#endif
