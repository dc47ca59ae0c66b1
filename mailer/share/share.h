/*
 * share.h: "Gửi Email" - a reader sends an article to colleagues.
 *
 * The one place a share is validated and enqueued, used by both
 * `mailer share` and POST /share/{id}: the article must exist; 1 to
 * [limits] share_max_recipients addresses (addr_parse, duplicates merged);
 * the sender's name without URLs, CR or LF; the sender's email valid; the
 * note plain text of at most share_note_max_chars characters, valid UTF-8.
 * Recipients on the suppression list are dropped silently (the sender is
 * not told). One send and its envelopes are written in one transaction,
 * with a share_log row. The message will be From the site's address with
 * Reply-To the sender.
 */
#ifndef MAILER_SHARE_SHARE_H
#define MAILER_SHARE_SHARE_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "err.h"

struct share_request {
    const char *article_id;
    const char *const *to; /* recipient addresses as typed */
    size_t nto;
    const char *sender_name;  /* may be NULL or "" */
    const char *sender_email; /* required */
    const char *note;         /* may be NULL or "" */
    const char *client_ip;    /* for the share log; NULL from the CLI */
    const char *form_key;     /* the form's one-time id (32 hex), or NULL: see share_enqueue */
};

/*
 * Validates and enqueues. On success `*send_id` is the new send and
 * `*accepted` the number of envelopes (suppressed recipients excluded).
 * MERR_NOTFOUND for an unknown article; MERR_INVAL / MERR_LIMIT with the
 * field named in merr_field() ("to", "note", ...; "" on success) and the
 * reason in merr_msg() and merr_reason(). With req->form_key, a form whose
 * share was made already makes none: MERR_EXISTS with `*send_id` the first
 * one's (a second submit of one form is the same share).
 */
enum merr share_enqueue(struct db *db, const struct config *cfg, const struct share_request *req,
                        long long *send_id, size_t *accepted);

/*
 * The send made by the form `form_key` (share_request.form_key), in
 * `*send_id`: MERR_OK, or MERR_NOTFOUND when that form made none.
 */
enum merr share_find_form(struct db *db, const char *form_key, long long *send_id);

/* ---- erasing a sender and showing their shares (mailer sub erase/show) ---- */

/*
 * For `mailer sub erase`, inside the caller's transaction: the share_log
 * rows whose sender is `email_key` (lower-cased ASCII address) lose the
 * sender's address ("erased"), name and IP; their sends lose the sender's
 * name, address and note from the plan, and what is not sent yet is
 * cancelled. `*n` = share_log rows anonymised. MERR_DB, MERR_NOMEM.
 */
enum merr share_erase_sender(struct db *db, const char *email_key, long long *n);

/*
 * Erases a person entirely, in one transaction: what subscribers keeps
 * (subs_erase_tx: subscriber, subscriptions, envelopes; a hashed
 * suppression stays if they had asked not to be mailed) and the shares
 * they sent (share_erase_sender). Used by `mailer sub erase` and the
 * admin's person page. `*shares` = share_log rows anonymised. MERR_NOTFOUND
 * if nothing was stored about them, MERR_INVAL for an address that does
 * not parse, MERR_DB.
 */
struct subs_erase_result;
enum merr share_erase_person(struct db *db, const char *email, time_t now,
                             struct subs_erase_result *er, long long *shares);

#define SHARE_PERSON_LAST 10

/* A sender's name: at most this many characters. */
#define SHARE_NAME_MAX_CHARS 100

struct share_person_row {
    long long id;
    char article_id[128];
    long long send_id; /* 0 if the send is gone */
    char sender_name[256];
    char client_ip[64];
    long long recipients;
    time_t created_at;
};

/* The shares one person sent, for `mailer sub show`. */
struct share_person {
    long long total;                                 /* share_log rows */
    size_t n;                                        /* entries in last[] */
    struct share_person_row last[SHARE_PERSON_LAST]; /* newest first */
};

/* Fills `out` (allocates nothing) for sender `email_key`. MERR_DB. */
enum merr share_person_summary(struct db *db, const char *email_key, struct share_person *out);

/*
 * `sub show` and GET /api/subscribers/EMAIL: everything stored about the
 * person with address `email` as one JSON object (subscriber, attributes,
 * subscriptions with opt-in times and IPs, suppression, envelopes, and the
 * shares they sent). `*out` belongs to the caller (json_decref).
 * MERR_NOTFOUND if nothing is stored about them, MERR_INVAL for a bad
 * address, MERR_DB.
 */
enum merr share_person_show(struct db *db, const char *email, json_t **out);

/* ---- the most shared articles (the admin's dashboard) ---- */

struct share_top_row {
    char article_id[128];
    long long shares;     /* shares of the article in the period */
    long long recipients; /* people they went to */
};

/*
 * The articles shared most in the `days` local days ending today (`now`),
 * most shares first, at most `max` into out[] (`*n` filled). Read from the
 * per-day counters (share_counts, the counters migration), which a trigger keeps
 * with each share_log row: a week is a few hundred rows at most. MERR_DB.
 */
enum merr share_top(struct db *db, time_t now, int days, struct share_top_row *out, size_t max,
                    size_t *n);

#endif
