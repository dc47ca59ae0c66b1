/*
 * digest.h: the weekly digest of each list, exactly once per period.
 *
 * Each list has a schedule (weekday and local time in the configured zone;
 * default Monday 07:00 Asia/Ho_Chi_Minh). The scheduler (digest_tick, run
 * every minute by `mailer serve` through digest_scheduler_run, or by hand
 * with `mailer digest tick`) looks only at the most recent scheduled
 * occurrence at or before now: its period is the ISO week of that
 * occurrence's local date ("2026-W48"), and `digests` has UNIQUE(list_id,
 * period). So after downtime the missed period is sent once, not once per
 * missed week; a restart, a second scheduler or a clock set back cannot
 * create it twice (an occurrence not later than the list's newest digest is
 * never due, so a clock set back does not create an older week either). A
 * list's first scheduled digest is the first occurrence after the list was
 * created. A digest holds the articles published since the previous digest
 * of the list (optionally one category, at most max articles, newest
 * first); a scheduled period without new articles is recorded as skipped,
 * with a log line, so it is not looked at again.
 *
 * Creating a digest writes, in one transaction, the digest row, its send
 * (kind digest, the plan's inputs with the rendered subject) and one
 * envelope per confirmed, non-suppressed subscriber (outbox_enqueue_list).
 * Delivery personalizes each message (name, List-Unsubscribe, VERP).
 */
#ifndef MAILER_DIGEST_DIGEST_H
#define MAILER_DIGEST_DIGEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "outbox.h"

struct digest_schedule {
    int weekday; /* 0 = Sunday .. 6 = Saturday */
    int hour;
    int minute;
};

/* Parses "HH:MM" with a weekday into a schedule. MERR_INVAL with the reason. */
enum merr digest_schedule_parse(int weekday, const char *hhmm, struct digest_schedule *out);

/* The most recent scheduled local time at or before `now`, in the process's zone. */
time_t digest_last_occurrence(const struct digest_schedule *s, time_t now);

/* The period key of an occurrence: its ISO week, e.g. "2026-W48". */
void digest_period(time_t occurrence, char out[16]);

/* 1 if `s` is a period key "YYYY-Www" (week 01..53), else 0. */
int digest_period_valid(const char *s);

struct digest_info {
    long long id;
    long long list_id;
    char period[16];
    long long send_id; /* 0 when skipped (no articles) */
    time_t since, until;
    int articles;
    long long recipients; /* envelopes of its send */
    /* beyond the contract (filled by digest_create and digest_get) */
    char list_slug[72];
    char status[16]; /* "skipped", or the send's: active, paused, done, cancelled */
    time_t created_at;
    struct outbox_counts counts; /* the send's envelopes per state (digest_get) */
};

/*
 * Creates by hand (`mailer digest send`, the API) the digest of `list_slug`
 * for `period` (NULL: the ISO week of now; else "YYYY-Www"), with the
 * articles published in (since, now] where since is the previous digest's
 * end (or `since` if non-zero, or 7 days before now for a list's first).
 * MERR_EXISTS if that period already has a digest (nothing written);
 * a period the scheduler recorded as skipped is filled in. MERR_NOTFOUND
 * for an unknown list, or when there is no new article (then nothing is
 * written, so the editor can add articles and try again). MERR_INVAL for a
 * bad period or a subject template that does not render.
 */
enum merr digest_create(struct db *db, const struct config *cfg, const char *list_slug,
                        const char *period, time_t since, time_t now, struct digest_info *out);

/*
 * One scheduler step at `now`: creates every due digest of the enabled
 * lists (a period without articles is recorded as skipped and logged).
 * `*created` (may be NULL) receives the number of digests created (skipped
 * ones included). A list whose step fails is logged and the others go on;
 * the first error is returned.
 */
enum merr digest_tick(struct db *db, const struct config *cfg, time_t now, int *created);

/*
 * What `mailer serve` runs in a thread of its own: opens its own database
 * handle and calls digest_tick(date_now()) at start and then once a minute
 * until *stop becomes non-zero (checked every 200 ms). Errors of a step are
 * logged, never fatal. Returns MERR_OK when stopped, or the error of
 * opening the database.
 */
enum merr digest_scheduler_run(const struct config *cfg, atomic_int *stop);

/* Looks a digest up by id, with its send's counters. MERR_NOTFOUND. */
enum merr digest_get(struct db *db, long long id, struct digest_info *out);

/*
 * The newest digests first (of one list, or all when `list_slug` is NULL),
 * at most `limit` (0: 100), without counters. `*out` is malloc'd (free()).
 * MERR_NOTFOUND for an unknown list.
 */
enum merr digest_list(struct db *db, const char *list_slug, size_t limit, struct digest_info **out,
                      size_t *n);

/*
 * Pause, resume or cancel the digest's send (idempotent: asking for the
 * state it is in is MERR_OK). Resume continues with the envelopes not yet
 * sent; nobody already sent is sent again. MERR_NOTFOUND; MERR_INVAL for a
 * skipped digest (nothing to send), for pausing or resuming a finished or
 * cancelled one, and for cancelling a finished one.
 */
enum merr digest_pause(struct db *db, long long id);
enum merr digest_resume(struct db *db, long long id);
enum merr digest_cancel(struct db *db, long long id);

/*
 * Appends to `out` the message a subscriber of the list would get this
 * week (articles since the last digest), addressed to `to` (NULL: a sample
 * address; a confirmed subscriber of the list gets their own name and
 * unsubscribe link), without sending or writing anything (the work runs in
 * a transaction that is rolled back). MERR_NOTFOUND for an unknown list or
 * no new articles, MERR_INVAL for a bad address.
 */
enum merr digest_preview(struct db *db, const struct config *cfg, const char *list_slug,
                         const char *to, time_t now, struct buf *out);

/* digest_preview with the articles since `since` (0: since the previous digest). */
enum merr digest_preview_since(struct db *db, const struct config *cfg, const char *list_slug,
                               const char *to, time_t since, time_t now, struct buf *out);

/*
 * Appends to `out` the message of digest `digest_id` as its recipient `to`
 * gets it (or got it): the digest's own plan, its envelope's Message-ID,
 * name and unsubscribe link, so it equals the delivered message but for
 * the Date header. `to` NULL: a sample reader (no envelope). Writes
 * nothing. MERR_NOTFOUND for an unknown or skipped digest or an address
 * that is not among its recipients, MERR_INVAL for a bad address.
 */
enum merr digest_preview_sent(struct db *db, const struct config *cfg, long long digest_id,
                              const char *to, struct buf *out);

/*
 * "Send a test to me": the digest digest_preview_since shows, as a send of
 * kind "test" with one envelope to `to` (not a subscriber: a sample name
 * and an unsubscribe link that unsubscribes nobody), delivered like any
 * other mail. `*send_id` receives it. Nothing of the digests table is
 * written, so the real digest can still be sent. MERR_INVAL for a bad
 * address, MERR_NOTFOUND for an unknown list or no new articles.
 */
enum merr digest_test(struct db *db, const struct config *cfg, const char *list_slug, time_t since,
                      const char *to, time_t now, long long *send_id);

struct subs_list;
/*
 * Renders the list mail of `plan_json` (a digest's or breaking news' plan)
 * for `to` exactly as delivery would (NULL: a sample address; a confirmed
 * subscriber of `l` gets their own name and unsubscribe link), appending
 * it to `out`. Used by the previews.
 */
enum merr digest_render(struct db *db, const struct config *cfg, const struct subs_list *l,
                        const char *plan_json, const char *to, struct buf *out);

#endif
