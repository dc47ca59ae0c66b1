/*
 * breaking.h: breaking news ("tin nóng"): one article to a list, now,
 * exactly once.
 *
 * Sending writes, in one BEGIN IMMEDIATE transaction, a breaking_news row
 * whose UNIQUE(list_id, article_id) settles any race, a send of kind
 * "breaking" whose plan is the article in full, and one envelope per
 * confirmed, non-suppressed subscriber (outbox_enqueue_list, whose
 * UNIQUE(send_id, subscriber_id) keeps anyone from getting it twice). A
 * second click, a resubmitted form, a retried API call or two editors at
 * once find the row and get MERR_EXISTS with the send that was made:
 * nobody is mailed twice. Delivery treats it as list mail (List-Id,
 * List-Unsubscribe, a last check that the person is still subscribed).
 *
 * Used by `mailer breaking`, POST /api/breaking and the admin's breaking
 * news page; preview and test show and send exactly what subscribers get.
 */
#ifndef MAILER_BREAKING_BREAKING_H
#define MAILER_BREAKING_BREAKING_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"

struct breaking_info {
    long long id;
    long long list_id;
    char list_slug[72];
    char article_id[128];
    long long send_id; /* 0 if the send was deleted */
    long long recipients;
    time_t created_at;
};

/*
 * Sends article `article_id` to the confirmed subscribers of `list_slug`
 * at `now`. `*out` (may be NULL) describes it. MERR_EXISTS (with `*out`
 * describing the earlier one) if this article already went to this list;
 * MERR_NOTFOUND for an unknown list or article; MERR_INVAL for a plan that
 * does not compose (a template that does not parse).
 */
enum merr breaking_send(struct db *db, const struct config *cfg, const char *list_slug,
                        const char *article_id, time_t now, struct breaking_info *out);

/*
 * Appends to `out` the message a subscriber of the list would get, for
 * `to` (NULL: a sample subscriber), writing nothing. MERR_NOTFOUND,
 * MERR_INVAL for a bad address.
 */
enum merr breaking_preview(struct db *db, const struct config *cfg, const char *list_slug,
                           const char *article_id, const char *to, struct buf *out);

/*
 * "Send a test to me": the same message as a send of kind "test" with one
 * envelope to `to`; nothing else is written (the real one can still go).
 * `*send_id` receives it. MERR_INVAL, MERR_NOTFOUND.
 */
enum merr breaking_test(struct db *db, const struct config *cfg, const char *list_slug,
                        const char *article_id, const char *to, time_t now, long long *send_id);

/* The newest breaking news first, at most `max` into out[]; `*n` filled. MERR_DB. */
enum merr breaking_list(struct db *db, struct breaking_info *out, size_t max, size_t *n);

#endif
