/*
 * subs.h: lists, subscribers, subscriptions, tokens and suppression.
 *
 * Tokens (confirm and unsubscribe links) are base64url of
 * kind | subscriber id | list id | expiry, followed by a truncated
 * HMAC-SHA256 under [mail] secret that also covers the subscriber's random
 * token salt; they need no table, cannot be forged or altered (one changed
 * character is refused), and die with the person: ids are never reused
 * and a new person has a new salt (subs_token.c).
 *
 * Flows (each writes in one transaction of its own):
 *   subs_subscribe     the public form and `sub add`: single opt-in lists
 *                      confirm at once, double opt-in ones get an
 *                      unconfirmed subscription and a confirm mail in the
 *                      outbox.
 *   subs_token_inspect what a GET on /confirm/T or /unsubscribe/T may do:
 *                      read only, never changes anything.
 *   subs_confirm       POST /confirm/T.
 *   subs_unsubscribe   POST /unsubscribe/T (page or RFC 8058 one-click).
 *   subs_erase         `sub erase`: the person goes, a hashed suppression
 *                      stays if they had asked not to be mailed.
 *
 * Suppression (table `suppressions`): addresses never to mail, keyed by the
 * hex SHA-256 of the email key (the lower-cased ASCII address), with the key
 * itself kept until the person is erased. Every send consults it.
 */
#ifndef MAILER_SUBSCRIBERS_SUBS_H
#define MAILER_SUBSCRIBERS_SUBS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "addr.h"
#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "outbox.h"

enum subs_token_kind { SUBS_TOKEN_CONFIRM = 1, SUBS_TOKEN_UNSUBSCRIBE = 2 };

#define SUBS_CONFIRM_TTL (7 * 86400)

/* A subscriber's name: at most this many characters (subs_check_name). */
#define SUBS_NAME_MAX_CHARS 200

/* A new confirm mail for the same pending subscription is not sent sooner. */
#define SUBS_CONFIRM_RESEND_S 600

/* The longest subscriber token salt (subscribers.token_salt: 16 bytes, or empty). */
#define SUBS_SALT_MAX 32

/*
 * Makes a token for (kind, subscriber, list) valid until `expires` (0 =
 * never, used for unsubscribe), appended to `out` as URL-safe text. `salt`
 * (salt_len bytes, 0..SUBS_SALT_MAX) is the subscriber's token salt.
 */
enum merr subs_token_make(const char *secret, const unsigned char *salt, size_t salt_len,
                          enum subs_token_kind kind, long long subscriber_id, long long list_id,
                          time_t expires, struct buf *out);

/*
 * The ids a token names, NOT checked: only to find whose salt checks it.
 * MERR_INVAL if it cannot be a token.
 */
enum merr subs_token_ids(const char *token, long long *subscriber_id, long long *list_id);

/*
 * Checks a token against its subscriber's salt. MERR_INVAL if malformed or
 * forged (or made for another person's salt), MERR_LIMIT if expired (the
 * ids are still filled in, so a page can offer to subscribe again).
 */
enum merr subs_token_check(const char *secret, const unsigned char *salt, size_t salt_len,
                           const char *token, enum subs_token_kind kind, time_t now,
                           long long *subscriber_id, long long *list_id);

/*
 * "BASE/unsubscribe/TOKEN" for list mail, appended to out. Reads the
 * subscriber's salt (subscriber 0: the sample reader of a preview, no
 * salt, a link that leads nowhere). MERR_NOTFOUND if the subscriber is gone.
 */
enum merr subs_unsubscribe_url(struct db *db, const struct config *cfg, long long subscriber_id,
                               long long list_id, struct buf *out);

/* "BASE/confirm/TOKEN", valid SUBS_CONFIRM_TTL from `now`, appended to out; as above. */
enum merr subs_confirm_url(struct db *db, const struct config *cfg, long long subscriber_id,
                           long long list_id, time_t now, struct buf *out);

/* 1 if the address (its lower-cased ASCII key) is suppressed, else 0. */
int subs_is_suppressed(struct db *db, const char *email_key);

/*
 * "May we mail this person", the check right before sending (subs_consent.c):
 * MERR_OK with reason "" if a send of `kind` (of list `list_id`, 0: none) to
 * `address` (subscriber `subscriber_id`, 0: none or erased) may go now;
 * MERR_OK with the reason in reason[size] if not: the address is suppressed
 * (found by the hash of its lower-cased form, the one key), the subscriber
 * was erased, is no longer confirmed on the list (list mail) or no longer
 * awaits confirmation (a confirmation). MERR_DB (nothing decided).
 */
enum merr subs_consent_check(struct db *db, enum outbox_kind kind, long long list_id,
                             long long subscriber_id, const char *address, char *reason,
                             size_t size);

/* subs_consent_check as the outbox's claim asks it (outbox_claim's gate). */
extern const struct outbox_gate subs_consent_gate;

/*
 * Adds a suppression (reason: hard_bounce, complaint, manual,
 * unsubscribed_all). An existing entry is kept as it was (the first reason
 * wins). `email_key` may be in any case: it is lower-cased here, the one key.
 * MERR_INVAL for an unknown reason.
 */
enum merr subs_suppress(struct db *db, const char *email_key, const char *reason,
                        const char *detail);

/* ---- lists ---------------------------------------------------------- */

#define SUBS_SLUG_MAX 64

struct subs_list {
    long long id;
    char slug[SUBS_SLUG_MAX + 1];
    char *name;        /* owned */
    char *description; /* owned */
    int double_optin;  /* 1: double, 0: single */
    int is_public;     /* 1: offered on the subscribe page; 0: editors only (a new list) */
    /* digest settings (mailer/digest) */
    int digest_weekday; /* 0 = Sunday */
    char digest_time[8];
    char *digest_category; /* owned, NULL: all categories */
    int digest_max_articles;
    char *digest_subject;  /* owned */
    char *digest_template; /* owned */
    int digest_enabled;
    time_t created_at;
    time_t updated_at;
    /* counts, filled by subs_list_get / subs_list_all */
    long long n_confirmed, n_unconfirmed, n_unsubscribed;
};

/* Frees what a subs_list owns (not the struct). NULL is ok. */
void subs_list_clear(struct subs_list *l);

/* Frees an array from subs_list_all. */
void subs_lists_free(struct subs_list *v, size_t n);

/*
 * Creates a list, private (not on the subscribe page) and with its weekly
 * digest off: an editor turns either on with subs_list_update. `slug` is
 * [a-z0-9-], 1..64, not starting or ending with a hyphen; `name` 1..200
 * characters of UTF-8 without control characters; `optin` "single" or
 * "double" (NULL: double). MERR_INVAL naming the field, MERR_EXISTS if the
 * slug is taken.
 */
enum merr subs_list_create(struct db *db, const char *slug, const char *name,
                           const char *description, const char *optin, time_t now,
                           long long *list_id);

/* Loads a list by slug / id into `out` (clear with subs_list_clear). MERR_NOTFOUND. */
enum merr subs_list_get(struct db *db, const char *slug, struct subs_list *out);
enum merr subs_list_get_id(struct db *db, long long id, struct subs_list *out);

/* Every list ordered by slug; `*out` freed with subs_lists_free. */
enum merr subs_list_all(struct db *db, struct subs_list **out, size_t *n);

/*
 * Deletes a list and its subscriptions (its sends keep list_id NULL).
 * Queued envelopes of its sends are not touched here. MERR_NOTFOUND.
 */
enum merr subs_list_remove(struct db *db, const char *slug);

/* ---- subscribing ----------------------------------------------------- */

enum subs_status { SUBS_NONE = 0, SUBS_UNCONFIRMED, SUBS_CONFIRMED, SUBS_UNSUBSCRIBED };

const char *subs_status_name(enum subs_status s); /* "unconfirmed", ..., "none" */
int subs_status_parse(const char *s);             /* -1 if unknown */

enum subs_outcome {
    SUBS_OUT_CONFIRMED,       /* subscribed and confirmed now (single opt-in or admin) */
    SUBS_OUT_PENDING,         /* unconfirmed; a confirm mail was enqueued */
    SUBS_OUT_RESENT_TOO_SOON, /* still unconfirmed, last confirm mail < SUBS_CONFIRM_RESEND_S ago */
    SUBS_OUT_ALREADY,         /* was confirmed already: nothing changed */
    SUBS_OUT_SUPPRESSED,      /* address is suppressed: nothing written, nothing sent */
    SUBS_OUT_CAPPED, /* a confirmation mail was due but a cap ([limits] confirm_*) was reached:
                        nothing written, nothing sent */
};

struct subs_result {
    enum subs_outcome outcome;
    long long subscriber_id; /* 0 if SUPPRESSED */
    long long list_id;
    long long send_id; /* the confirm send, 0 if none */
    int double_optin;  /* the list's opt-in (public: the page may depend on it) */
};

/*
 * A person's name through the one filter for typed text (text.h): UTF-8,
 * one line, no control or formatting characters, no link or domain name,
 * at most SUBS_NAME_MAX_CHARS characters. MERR_INVAL with the reason
 * (merr_reason: name.*, text_fault_reason).
 */
enum merr subs_check_name(const char *s, size_t n);

/* Flags for subs_subscribe. */
#define SUBS_ADD_CONFIRMED 1 /* admin: confirmed now, whatever the list's opt-in */
#define SUBS_ADD_PUBLIC    2 /* the public form: a private list is MERR_NOTFOUND */

/*
 * Subscribes `email` (as typed; addr_parse) with `name` (may be NULL; at
 * most 200 characters, no control characters) to the list `list_slug`.
 * `ip` is recorded as the opt-in IP (may be NULL: "cli").
 *
 * - single opt-in list: confirmed at once; double: unconfirmed and one
 *   confirm send with one envelope enqueued (outbox) in the same
 *   transaction. Someone who had unsubscribed from this list, or who left
 *   all lists, must confirm by mail again even on a single opt-in list, so a
 *   third party cannot put them back silently. Confirming removes an
 *   `unsubscribed_all` suppression.
 * - a suppressed address (hard bounce, complaint, manual block) is not
 *   written nor mailed: outcome SUBS_OUT_SUPPRESSED with MERR_OK. The
 *   public page must answer it exactly like SUBS_OUT_PENDING so the form
 *   does not reveal who is blocked; the CLI reports it.
 * - already confirmed: SUBS_OUT_ALREADY (the page should answer as for
 *   PENDING too: the form must not tell who is subscribed).
 * - a confirmation mail due while [limits] confirm_per_address_per_day
 *   mails went to this address in the last 24 hours, or
 *   confirm_global_per_hour in all in the last hour: SUBS_OUT_CAPPED,
 *   nothing written (the public page answers as always).
 * - the name: a new subscriber whose subscription is confirmed by this
 *   call gets it; otherwise it waits on the subscription (pending_name)
 *   and fills an empty name only when the subscription is confirmed from
 *   the mailbox (subs_confirm). An existing subscriber's name is changed
 *   only with SUBS_ADD_CONFIRMED (an admin), and only if it was empty: an
 *   anonymous form sets no one's name.
 * With SUBS_ADD_CONFIRMED (admin) the subscription is confirmed at once,
 *   except for a suppressed address.
 * With SUBS_ADD_PUBLIC (the public form) a private list answers exactly
 *   as a list that does not exist.
 * MERR_INVAL (address or name refused, reason in merr_msg()),
 * MERR_NOTFOUND (no such list), MERR_DB / MERR_TEMPFAIL.
 */
enum merr subs_subscribe(struct db *db, const struct config *cfg, const char *list_slug,
                         const char *email, const char *name, const char *ip, time_t now, int flags,
                         struct subs_result *res);

/* What a confirm or unsubscribe link points at, for its page. */
struct subs_token_info {
    long long subscriber_id;
    long long list_id;
    char list_slug[SUBS_SLUG_MAX + 1];
    char list_name[256];      /* "" if the list is gone */
    char email[ADDR_MAX * 4]; /* Unicode form, for display; "" if erased */
    enum subs_status status;  /* of this subscription now */
    int expired;              /* confirm token past its expiry */
};

/*
 * GET on a link: checks the token and fills `info`; changes nothing.
 * MERR_INVAL: malformed or forged (show "link not valid");
 * MERR_LIMIT: expired confirm link, `info` filled (offer to subscribe again
 *   to info->list_slug);
 * MERR_NOTFOUND: the subscriber or list no longer exists (for unsubscribe,
 *   the page can say "you are not subscribed").
 */
enum merr subs_token_inspect(struct db *db, const struct config *cfg, const char *token,
                             enum subs_token_kind kind, time_t now, struct subs_token_info *info);

/*
 * POST on /confirm/TOKEN: confirms the subscription (records time and IP).
 * Idempotent: confirming a confirmed subscription is MERR_OK. Errors as
 * subs_token_inspect; also MERR_NOTFOUND when the subscription was left
 * (unsubscribed) after the mail was sent: an old confirm link does not undo
 * an unsubscribe. `info` (may be NULL) is filled as by subs_token_inspect,
 * with the new status.
 */
enum merr subs_confirm(struct db *db, const struct config *cfg, const char *token, const char *ip,
                       time_t now, struct subs_token_info *info);

/*
 * POST on /unsubscribe/TOKEN (the page's button or the RFC 8058 one-click
 * POST): marks the subscription unsubscribed and cancels that subscriber's
 * envelopes of this list still queued (outbox_cancel_subscriber); with
 * `all_lists` every subscription of the person, all their queued list
 * envelopes, and an `unsubscribed_all` suppression. Idempotent: a second
 * call is MERR_OK. MERR_INVAL for a bad token; MERR_NOTFOUND if the person
 * was erased (nothing left to do: a one-click handler may answer 200).
 * `info` (may be NULL) is filled as by subs_token_inspect.
 */
enum merr subs_unsubscribe(struct db *db, const struct config *cfg, const char *token,
                           int all_lists, time_t now, struct subs_token_info *info);

/*
 * Removes `email` from the list `list_slug` (deletes the subscription), or
 * when `list_slug` is NULL deletes the subscriber with all subscriptions.
 * Queued envelopes are cancelled first. MERR_NOTFOUND if not there.
 */
enum merr subs_remove(struct db *db, const char *email, const char *list_slug);

/* ---- listing, export, privacy ---------------------------------------- */

struct subs_row {
    long long subscriber_id;
    const char *email; /* Unicode form */
    const char *email_ascii;
    const char *name;
    const char *attributes; /* JSON object text */
    const char *list_slug;  /* NULL: no subscription (export without --list) */
    enum subs_status status;
    time_t created_at; /* the subscriber's */
    time_t optin_at;   /* 0 if none */
    time_t confirmed_at;
};

struct subs_filter {
    const char *list_slug; /* NULL: all lists (one row per subscription; subscribers
                              without any subscription get one row with list NULL) */
    int status;            /* enum subs_status, 0: any */
    const char *search;    /* substring of the email or the name, case-insensitive
                              for ASCII; NULL: all */
    long long after_id;    /* keyset paging: only subscribers whose id is above; 0: from the
                              first (rows come in subscriber id order) */
};

/*
 * Calls `fn` for each matching row in (subscriber id, list) order, streaming: the
 * row's strings are valid during the call only. A non-zero return from
 * `fn` stops with that code. MERR_NOTFOUND for an unknown list.
 */
enum merr subs_each(struct db *db, const struct subs_filter *f,
                    enum merr (*fn)(void *arg, const struct subs_row *row), void *arg);

/* Flags of subs_export_csv. */
#define SUBS_EXPORT_BOM 1 /* start with a UTF-8 BOM (EF BB BF): spreadsheets then read UTF-8 */

/*
 * Writes CSV (RFC 4180, CRLF) to `out`: with SUBS_EXPORT_BOM first a UTF-8
 * byte order mark (Excel otherwise reads the file in the machine's legacy
 * code page and shows Vietnamese as mojibake; subs_import_csv skips it),
 * then a header `email,name,status,list,created_at,attributes` and one row
 * per subscription (created_at ISO 8601 UTC; attributes the JSON object as
 * text), streaming in constant memory. `*rows` (may be NULL) = rows written.
 */
enum merr subs_export_csv(struct db *db, const struct subs_filter *f, FILE *out, int flags,
                          long long *rows);

/*
 * Everything stored about `email` as a new JSON object (caller json_decref):
 * {"email_key":..., "email_hash":..., "subscriber":{...,"attributes":{...}}
 *  or null, "subscriptions":[...], "suppression":{...} or null,
 *  "envelopes":{"total":N, "by_state":{"sent":N,...}, "last":[{"id", "send",
 *  "kind", "state", "attempts", "last_code", "created_at", "updated_at",
 *  "sent_at"}, ...newest first, at most OUTBOX_PERSON_LAST]}}.
 * Envelopes are theirs by subscriber id or by address (shares to them).
 * MERR_NOTFOUND if nothing is stored at all. The shares they sent belong
 * to mailer/share (share_person_summary): `mailer sub show` adds them.
 */
enum merr subs_show(struct db *db, const char *email, json_t **out);

/*
 * The same, but an address with nothing stored is not an error: `*out` is
 * the object with empty parts and `*found` says whether anything was
 * stored. MERR_INVAL for an address that does not parse.
 */
enum merr subs_show_person(struct db *db, const char *email, json_t **out, int *found);

struct subs_erase_result {
    int found;              /* anything was stored (subscriber, suppression, envelopes) */
    int subscriber_deleted; /* a subscriber row was deleted */
    int subscriptions;      /* number deleted with it */
    int suppression_kept;   /* a hashed suppression remains (email_key NULL) */
    long long envelopes_cancelled;
    long long envelopes_erased; /* envelopes whose address and name were removed */
    char email_key[ADDR_MAX];   /* the lower-cased ASCII address that was erased */
};

/*
 * Deletes the person and their subscriptions; their not-yet-sent envelopes
 * are cancelled and all their envelopes anonymised (outbox_erase_recipient:
 * by subscriber id, or by address for shares sent to them). If they had
 * asked not to be mailed (an unsubscribed subscription, or a suppression),
 * only the hash of the address stays in suppressions (email_key and detail
 * cleared) so they are never mailed again. One transaction.
 * MERR_NOTFOUND if nothing was stored. The shares the person sent are
 * mailer/share's (share_log, share sends): `mailer sub erase` erases them in
 * the same transaction through subs_erase_tx + share_erase_sender, since
 * mailer/share builds on this module and not the other way round.
 */
enum merr subs_erase(struct db *db, const char *email, time_t now, struct subs_erase_result *res);

/*
 * subs_erase inside the caller's transaction (which it neither begins nor
 * ends): an address with nothing stored is MERR_OK with res->found 0.
 * res->email_key is filled for the caller's other erasures.
 * MERR_INVAL for an address that does not parse.
 */
enum merr subs_erase_tx(struct db *db, const char *email, time_t now,
                        struct subs_erase_result *res);

/* ---- import ------------------------------------------------------------ */

enum subs_import_mode {
    SUBS_IMPORT_CONFIRMED,   /* subscribed and confirmed */
    SUBS_IMPORT_UNCONFIRMED, /* unconfirmed; one confirm send, one envelope each */
    SUBS_IMPORT_BLOCKLIST,   /* suppressions (reason manual), no subscribers */
};

struct subs_import_opts {
    const char *list_slug; /* required except for BLOCKLIST */
    enum subs_import_mode mode;
    int dry_run; /* everything is done in the transaction, then rolled back */
    char delim;  /* field separator ',', ';' or '\t'; 0: detected from the header */
    /* a bad row: physical line where its record starts, and why */
    void (*on_bad)(void *arg, long long line, const char *reason);
    /* progress: bytes of the file read, rows done; called every 4096 rows */
    void (*on_progress)(void *arg, long long bytes, long long rows);
    void *arg;
};

struct subs_import_report {
    long long rows;          /* data records read (not the header) */
    long long bad;           /* refused rows, each reported to on_bad */
    long long created;       /* new subscribers */
    long long subscribed;    /* new subscriptions to the list */
    long long upgraded;      /* unconfirmed -> confirmed (mode confirmed) */
    long long existing;      /* already subscribed as asked: nothing changed */
    long long left;          /* had unsubscribed from the list: left alone */
    long long suppressed;    /* suppressed addresses: not subscribed */
    long long blocked;       /* blocklist mode: new suppressions */
    long long confirm_mails; /* envelopes enqueued (mode unconfirmed) */
    char delimiter;          /* the separator used (',', ';' or '\t'), 0 if no header */
    char email_column[128];  /* the header cell read as the email column ("Địa chỉ email") */
    char name_column[128];   /* the one read as the name ("Họ và tên"), "" if none */
};

/*
 * Imports CSV from `in` (RFC 4180; UTF-8 with or without BOM; fields
 * separated by commas, semicolons or tabs, detected from the header unless
 * o->delim says; header row with an email column, optional name, optional
 * `attributes` holding a JSON object; the export-only columns status,
 * list, created_at are ignored; every other column becomes a string
 * attribute). Column names match in English and Vietnamese, in any case,
 * with or without accents: email, E-mail, "Địa chỉ email", "Thư điện tử";
 * name, "Full name", "Họ và tên", "Họ tên", "Tên" (the report names the
 * cells it took). All rows go in
 * ONE transaction: a crash or kill leaves the database as before. Good
 * rows go in while bad rows are reported (line and reason) and counted.
 * Importing the same file again adds nobody twice. Existing subscribers
 * keep their data; a non-empty name fills an empty one and new attributes
 * are merged in. Memory does not grow with the file.
 * MERR_INVAL for a file that cannot be imported at all (no header, no
 * email column), MERR_NOTFOUND for an unknown list, MERR_IO.
 */
enum merr subs_import_csv(struct db *db, const struct config *cfg, FILE *in,
                          const struct subs_import_opts *o, time_t now,
                          struct subs_import_report *rep);

/* "comma", "semicolon" or "tab", for reporting a CSV separator. */
const char *subs_csv_delim_name(char delim);

/* ---- the admin's search (subs_search.c) ------------------------------------ */

#define SUBS_SEARCH_MAX     200 /* results per page at most */
#define SUBS_SEARCH_BLOCKED 4   /* a `state`: the address is suppressed */

/* What to look for; zero fields do not filter. */
struct subs_search {
    const char *q; /* an address prefix, or words of the name (each a prefix of a word,
                      accents and case ignored); both are tried when it could be either */
    long long list_id;
    int state;        /* enum subs_status (with a list: on that list; else on any),
                         SUBS_SEARCH_BLOCKED, or 0 */
    long long before; /* keyset paging: only ids below this (0: from the newest) */
    size_t limit;     /* 1..SUBS_SEARCH_MAX (0: the maximum) */
};

struct subs_hit {
    long long id;
    char email[ADDR_MAX * 4];
    char name[1024];
    char lists[512]; /* "slug:status slug:status ..." */
    int blocked;     /* the address is suppressed */
    time_t created_at;
};

/*
 * The matching subscribers, newest (highest id) first, at most q->limit,
 * into out[] (room for q->limit, or SUBS_SEARCH_MAX); `*n` filled. The
 * next page is q->before = the last id shown. MERR_INVAL for a search text
 * over 250 bytes or not UTF-8, MERR_DB.
 */
enum merr subs_search(struct db *db, const struct subs_search *q, struct subs_hit *out, size_t *n);

/*
 * Adds up to `max` subscribers above the name index's high-water mark to
 * it, in one transaction (the serve parent's housekeeping runs it every
 * second). `*indexed` (may be NULL) = how many rows were covered; 0 when
 * the index is complete. MERR_DB.
 */
enum merr subs_search_index(struct db *db, size_t max, size_t *indexed);

/*
 * Folds `s` as the search compares names: lower-case ASCII letters and
 * digits, Vietnamese and other Latin accents removed (ế -> e, đ -> d),
 * words separated by one space. Returns the length written to out[size].
 */
size_t subs_search_fold(const char *s, char *out, size_t size);

/* ---- the admin's actions on one person (subs_person.c) ------------------- */

/* The address (Unicode form) of subscriber `id` into email[size]. MERR_NOTFOUND. */
enum merr subs_person_get(struct db *db, long long id, char *email, size_t size);

/*
 * Marks subscriber `id` unsubscribed from list `list_id` (0: from every
 * list) and cancels their mail of it not sent yet, in one transaction.
 * Unsubscribing again is MERR_OK. MERR_NOTFOUND for an unknown person.
 */
enum merr subs_person_unsubscribe(struct db *db, long long id, long long list_id, time_t now);

/*
 * Blocks subscriber `id`: a `manual` suppression with `detail` (an
 * existing suppression is kept as it was) and all their mail not sent yet
 * cancelled, in one transaction. MERR_NOTFOUND.
 */
enum merr subs_person_block(struct db *db, long long id, const char *detail, time_t now);

/* ---- changing a list's settings (subs_lists_update.c) ---------------------- */

#define SUBS_UNCHANGED           (-1) /* an int field of subs_list_update left as it is */
#define SUBS_DIGEST_MAX_ARTICLES 100
#define SUBS_DIGEST_SUBJECT_MAX  300 /* characters of the subject template */

/*
 * The names a digest subject may use (mailer/digest renders it with these,
 * and a subject naming anything else is refused when it is set): the ISO
 * week number, the ISO week-year, the period "2026-W48", the site's name
 * (twice: {{site}} and {{site_name}}), the list's name and slug.
 */
#define SUBS_DIGEST_SUBJECT_VARS                                                                   \
    "week", "year", "period", "site", "site_name", "list.name", "list.slug"

/*
 * What to change; NULL strings and SUBS_UNCHANGED ints are left as they
 * are. Start from subs_list_update_init().
 */
struct subs_list_update {
    const char *name;            /* 1..200 characters, one line */
    const char *description;     /* up to 2000 characters, line breaks allowed */
    const char *optin;           /* "single" or "double" */
    int digest_weekday;          /* 0 = Sunday .. 6 = Saturday */
    const char *digest_time;     /* "HH:MM", local time in [site] timezone */
    const char *digest_category; /* one category, or "" for all categories */
    int digest_max_articles;     /* 1..SUBS_DIGEST_MAX_ARTICLES */
    const char *digest_subject;  /* a Mustache template of SUBS_DIGEST_SUBJECT_VARS */
    const char *digest_template; /* templates/email/NAME.html and NAME.txt; [a-z0-9_-] */
    int digest_enabled;          /* 0 or 1 */
    int is_public;               /* 0 or 1: offered on the subscribe page */
};

/* Every field unchanged. */
void subs_list_update_init(struct subs_list_update *u);

/*
 * Changes the settings of the list `slug` given in `u`, all or none (one
 * UPDATE, after every field was checked). `cfg` (may be NULL: the name is
 * checked only) gives the template folders in which digest_template must
 * exist as email/NAME.html and email/NAME.txt and parse. The subject must
 * parse as Mustache and hold no line break. `*field` (may be NULL)
 * receives the name of the refused field (as in the struct), or NULL.
 * MERR_INVAL with the reason naming the field, MERR_NOTFOUND for an
 * unknown list, MERR_DB.
 */
enum merr subs_list_update(struct db *db, const struct config *cfg, const char *slug,
                           const struct subs_list_update *u, const char **field);

/* ---- what bounces and complaints do to a person (subs_block.c) ---------- */

/*
 * Each of these runs inside the caller's transaction (the one that records
 * the bounce) and reports what it changed, so that the caller can keep it
 * and undo exactly that later.
 */

/*
 * Adds a suppression (reason as subs_suppress; `detail` says which bounce)
 * at `now`; `*created` is 1 if this call added it, 0 if the address was
 * suppressed already (its first reason stays). MERR_INVAL as subs_suppress.
 */
enum merr subs_block_suppress(struct db *db, const char *email_key, const char *reason,
                              const char *detail, time_t now, int *created);

/* Removes the suppression of `email_key` if its reason is still `reason`; `*lifted`. */
enum merr subs_block_lift(struct db *db, const char *email_key, const char *reason, int *lifted);

#define SUBS_BLOCK_MAX_LISTS 64

/* A subscription a bounce or a complaint ended: the list and the status before. */
struct subs_block_change {
    long long list_id;
    enum subs_status before;
};

/*
 * The subscriber leaves `list_id` (0: every list they have not left) at
 * `now`; each subscription changed is written to out[] (at most `max`,
 * `*n` of them). Queued envelopes are left alone: the claim-time check of
 * the outbox cancels them, and an undo lets them go.
 */
enum merr subs_block_leave(struct db *db, long long subscriber_id, long long list_id, time_t now,
                           struct subs_block_change *out, size_t max, size_t *n);

/*
 * Undoes one subscription of subs_block_leave: back to `before` if it is
 * still unsubscribed since `left_at` (nobody changed it since); `*restored`.
 */
enum merr subs_block_rejoin(struct db *db, long long subscriber_id, long long list_id,
                            enum subs_status before, time_t left_at, time_t now, int *restored);

/* The subscriber id of an address (as typed or its key); MERR_NOTFOUND, MERR_INVAL. */
enum merr subs_find(struct db *db, const char *email, long long *subscriber_id);

/*
 * The List-Unsubscribe mailto of one subscription (RFC 2369 §3.2, RFC 8058
 * §3.1's mailto alternative): "mailto:LOCAL+S.L.MAC@DOMAIN?subject=unsubscribe"
 * where LOCAL@DOMAIN is [mail] unsubscribe_mailto (default unsubscribe@ the
 * mail domain) and MAC is 80 bits of HMAC-SHA256 under [mail] secret in
 * lower-case hex (relays may fold the case of a local part, RFC 5321 §2.4).
 * Appended to out.
 */
#define SUBS_UNSUBSCRIBE_PREFIX "unsubscribe+" /* the mailto's local part starts so */
enum merr subs_unsubscribe_mailto(const struct config *cfg, long long subscriber_id,
                                  long long list_id, struct buf *out);

/*
 * Checks an address written by subs_unsubscribe_mailto (any case, angle
 * brackets allowed). MERR_INVAL if it is not one or its MAC is forged or
 * altered; else the ids.
 */
enum merr subs_mailto_check(const char *secret, const char *address, long long *subscriber_id,
                            long long *list_id);

#endif
