/*
 * subs_store.h: every SQL statement on lists, subscribers, subscriptions
 * and suppressions (private to subscribers/). The flows in subs*.c call
 * these inside their own transactions; nothing here begins or commits.
 */
#ifndef MAILER_SUBSCRIBERS_SUBS_STORE_H
#define MAILER_SUBSCRIBERS_SUBS_STORE_H

#include <jansson.h>
#include <time.h>

#include "addr.h"
#include "db.h"
#include "err.h"
#include "subs.h"

/* lists */
enum merr subs_store_list_insert(struct db *db, const char *slug, const char *name,
                                 const char *description, int double_optin, time_t now,
                                 long long *id);
enum merr subs_store_list_by_slug(struct db *db, const char *slug, struct subs_list *out);
enum merr subs_store_list_by_id(struct db *db, long long id, struct subs_list *out);
enum merr subs_store_list_all(struct db *db, struct subs_list **out, size_t *n);
enum merr subs_store_list_delete(struct db *db, long long id);

/* subscribers */
struct subs_store_sub {
    long long id;
    char email[ADDR_MAX * 4];
    char email_ascii[ADDR_MAX];
    char email_key[ADDR_MAX];
    char name[1024];
    time_t created_at;
    unsigned char salt[SUBS_SALT_MAX]; /* token salt (subs_token.c) */
    size_t salt_len;
};
enum merr subs_store_sub_find(struct db *db, const char *key, long long *id); /* NOTFOUND */
enum merr subs_store_sub_get(struct db *db, long long id, struct subs_store_sub *out);
/* MERR_EXISTS (and *id set) if the key is taken already. */
enum merr subs_store_sub_insert(struct db *db, const struct addr *a, const char *name,
                                const char *attrs_json, time_t now, long long *id);
/* Fills an empty name with `name` (if not empty) and merges `attrs_json` (may be NULL). */
enum merr subs_store_sub_merge(struct db *db, long long id, const char *name,
                               const char *attrs_json, time_t now);
enum merr subs_store_sub_delete(struct db *db, long long id);
/* The subscriber row as JSON (attributes parsed). */
enum merr subs_store_sub_json(struct db *db, long long id, json_t **out);

/* subscriptions */
struct subs_store_subscription {
    enum subs_status status; /* SUBS_NONE if there is none */
    time_t optin_at;
    char pending_name[1024]; /* typed with the opt-in, applied on confirmation */
};
enum merr subs_store_subn_get(struct db *db, long long list_id, long long sub_id,
                              struct subs_store_subscription *out);
/* Upsert: a fresh opt-in as `status` (UNCONFIRMED or CONFIRMED) by `ip` now. */
enum merr subs_store_subn_put(struct db *db, long long list_id, long long sub_id,
                              enum subs_status status, const char *ip, time_t now);
/* Sets the name that waits for this subscription's confirmation ("" clears it). */
enum merr subs_store_subn_pending_name(struct db *db, long long list_id, long long sub_id,
                                       const char *name);
/* unconfirmed -> confirmed; *changed = 1 if it was unconfirmed. */
enum merr subs_store_subn_confirm(struct db *db, long long list_id, long long sub_id,
                                  const char *ip, time_t now, int *changed);
enum merr subs_store_subn_unsub(struct db *db, long long list_id, long long sub_id, time_t now);
enum merr subs_store_subn_unsub_all(struct db *db, long long sub_id, time_t now);
enum merr subs_store_subn_delete(struct db *db, long long list_id, long long sub_id, int *deleted);
/* The lists (and statuses) the subscriber has not left, at most `max`. */
enum merr subs_store_subn_active(struct db *db, long long sub_id, long long *list_ids,
                                 enum subs_status *statuses, size_t max, size_t *n);
/* unsubscribed (at `left_at`) -> status; *changed = 1 if it was so. */
enum merr subs_store_subn_rejoin(struct db *db, long long list_id, long long sub_id,
                                 enum subs_status status, time_t left_at, time_t now, int *changed);
/* Number of subscriptions and of unsubscribed ones. */
enum merr subs_store_subn_count(struct db *db, long long sub_id, int *total, int *unsubscribed);
enum merr subs_store_subn_json(struct db *db, long long sub_id, json_t **out);

/* suppressions, keyed by hex SHA-256 of the email key */
void subs_store_key_hash(const char *key, char hash[65]);
/*
 * The one key of an address: `key` gets it lower-cased (ASCII, at most
 * ADDR_MAX - 1 bytes; "" for NULL) and `hash` that key's hash, which a
 * suppression is found by.
 */
void subs_store_key_of(const char *address, char key[ADDR_MAX], char hash[65]);
/* `reason` (holds 32) receives the reason; MERR_NOTFOUND if not suppressed. */
enum merr subs_store_supp_get(struct db *db, const char *hash, char reason[32]);
enum merr subs_store_supp_insert(struct db *db, const char *hash, const char *key,
                                 const char *reason, const char *detail, time_t now, int *added);
enum merr subs_store_supp_delete_if(struct db *db, const char *hash, const char *reason);
/* 1 if the table has any row (or on error), 0 if empty. */
int subs_store_supp_any(struct db *db);
enum merr subs_store_supp_anonymise(struct db *db, const char *hash);
enum merr subs_store_supp_json(struct db *db, const char *hash, json_t **out);

/* iteration for ls and export */
enum merr subs_store_each(struct db *db, long long list_id, const struct subs_filter *f,
                          enum merr (*fn)(void *arg, const struct subs_row *row), void *arg);

/* ---- helpers shared by the flows (not SQL; in subs.c) ---- */

/* Creates the confirm send of list `l` (outbox_send_create with its plan). */
enum merr subs_confirm_send(struct db *db, const struct subs_list *l, long long *send_id);

/*
 * Import tuning, called outside any transaction: `on` = 1 before the
 * import's BEGIN (foreign key checks off, statement journals in memory,
 * page cache SUBS_STORE_IMPORT_CACHE_KIB), 0 after its COMMIT or ROLLBACK
 * (all back to the defaults).
 */
#define SUBS_STORE_IMPORT_CACHE_KIB "16384"
enum merr subs_store_import_tuning(struct db *db, int on);

/* ---- bulk insert for the import ---- */

/* Rows per multi-row INSERT statement. */
#define SUBS_STORE_BATCH 64

struct subs_store_new {
    const struct addr *a;
    const char *hash;  /* subs_store_key_hash of a->key */
    const char *name;  /* "" if none */
    const char *attrs; /* JSON object text, NULL: {} */
};

/* max(subscribers.id) + 1: the first id a batch may give. */
enum merr subs_store_sub_next_id(struct db *db, long long *id);

/*
 * Inserts v[0..n) as subscribers with ids first_id + k, skipping each row
 * whose email key exists already (in the table or earlier in v): so the
 * row k was inserted iff the key's subscriber now has id first_id + k.
 * SUBS_STORE_BATCH rows go in one statement, fewer one by one.
 * `*inserted` = rows inserted. Skipped rows leave their id unused.
 */
enum merr subs_store_sub_insert_many(struct db *db, const struct subs_store_new *v, size_t n,
                                     long long first_id, time_t now, long long *inserted);

/*
 * Adds `n` new subscriptions in `status` to the list's maintained counters
 * (list_counts), inside the caller's transaction: the code that inserts
 * subscriptions counts them; status changes and deletions are counted by
 * triggers. MERR_DB.
 */
enum merr subs_store_count_add(struct db *db, long long list_id, enum subs_status status,
                               long long n);

/*
 * Subscribes every subscriber with first_id <= id <= last_id to `list_id`
 * as `status` (a fresh opt-in by `ip` now), in one INSERT ... SELECT; rows
 * that have a subscription to the list already are left alone.
 */
enum merr subs_store_subn_put_range(struct db *db, long long list_id, long long first_id,
                                    long long last_id, enum subs_status status, const char *ip,
                                    time_t now);

/* Applies a checked subs_list_update (digest_category "" stored as NULL). MERR_NOTFOUND. */
enum merr subs_store_list_update(struct db *db, const char *slug, const struct subs_list_update *u,
                                 time_t now);

#endif
