/*
 * bounce_store.h: the SQL of mailer/bounce (bounce_store.c), for its own
 * files only. Every function returns MERR_DB (detail on the handle) on a
 * database error; writes run inside the caller's transaction.
 */
#ifndef MAILER_BOUNCE_BOUNCE_STORE_H
#define MAILER_BOUNCE_BOUNCE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "bounce.h"
#include "db.h"

/* The bounce with this content hash: its id and state. MERR_NOTFOUND. */
enum merr bounce_store_seen(struct db *db, const char *sha, long long *id, char state[16]);

struct bounce_store_row {
    const char *sha256, *mailbox, *role, *kind, *state, *note;
    const char *message_id, *from, *subject; /* may be NULL */
    size_t size;
    const char *raw;
    size_t raw_len;
    time_t received_at;
};

enum merr bounce_store_insert(struct db *db, const struct bounce_store_row *b, long long *id);
enum merr bounce_store_set_state(struct db *db, long long id, const char *state, const char *note,
                                 const char *kind);

/* How one recipient was tied to an envelope, and what the policy did. */
struct bounce_store_attr {
    long long envelope_id, send_id, subscriber_id; /* 0: none */
    char address_key[320];                         /* "" if none */
    const char *by;                                /* verp, envid, ... or NULL */
    const char *action;                            /* suppressed, counted, ... */
};

enum merr bounce_store_rcpt(struct db *db, long long bounce_id, int position,
                            const struct bounce_rcpt *r, const struct bounce_store_attr *a);

enum merr bounce_store_effect(struct db *db, long long bounce_id, int seq, const char *kind,
                              const char *target, const char *detail);

struct bounce_store_effect {
    int seq;
    char kind[16];
    char *target;
    char *detail;
};

/* The effects of a bounce not undone yet, newest first (free with bounce_store_effects_free). */
enum merr bounce_store_effects(struct db *db, long long bounce_id, struct bounce_store_effect **out,
                               size_t *n);
void bounce_store_effects_free(struct bounce_store_effect *v, size_t n);
enum merr bounce_store_effect_undone(struct db *db, long long bounce_id, int seq, time_t now);
enum merr bounce_store_undone(struct db *db, long long bounce_id, time_t now, int *changed);

/*
 * Soft bounces of `address_key` since `since` that count, over how many
 * sends, and how many of them are of `send_id`.
 */
enum merr bounce_store_soft_count(struct db *db, const char *address_key, time_t since,
                                  long long send_id, int *count, int *sends, int *of_send);

enum merr bounce_store_mailbox_poll(struct db *db, const char *name, int ok, const char *error,
                                    time_t now);
enum merr bounce_store_pop3_seen(struct db *db, const char *mailbox, const char *uidl, int *seen);
enum merr bounce_store_pop3_mark(struct db *db, const char *mailbox, const char *uidl, time_t now);

enum merr bounce_store_list(struct db *db, const struct bounce_filter *f, json_t **out);
enum merr bounce_store_show(struct db *db, long long id, json_t **out, char **raw, size_t *raw_len);
enum merr bounce_store_metrics(struct db *db,
                               void (*fn)(void *arg, const char *mailbox, const char *what,
                                          const char *value, int attributed, long long count),
                               void *arg);
enum merr bounce_store_health(struct db *db, json_t **out);

#endif
