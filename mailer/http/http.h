/*
 * http.h: the HTTP front of `mailer serve` (libmicrohttpd).
 *
 * Public pages (share form, subscribe, confirm, unsubscribe), the admin
 * JSON API under /api/, /healthz and /metrics, served by a pool of
 * cfg->http_threads threads with limits on connections, header size
 * (connection memory), body size (counted as it streams in) and time per
 * connection. The front is one part of the serve parent (mailer/serve),
 * which starts and stops it beside the delivery workers and the digest
 * scheduler; the front knows none of them. Its files: http_front.c (the
 * daemon), http_client.c (who the client is), http_route.c (which handler),
 * http_reply.c (answers), http_db.c (a database handle per thread),
 * http_health.c (/healthz, /metrics), and one file per area of the site
 * (http_share.c, http_subs.c, http_api.c).
 */
#ifndef MAILER_HTTP_HTTP_H
#define MAILER_HTTP_HTTP_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"

/* At most this many parts are shown by /healthz. */
#define HTTP_HEALTH_PARTS 8

/* One part of the serve parent as /healthz shows it. */
struct http_part_health {
    const char *name; /* its key in the /healthz object: "workers", "scheduler", ... */
    int wanted;       /* the parent runs it in this process ("not started" otherwise) */
    int alive;        /* it is running now ("stopped" if wanted and not alive) */
};

/*
 * How /healthz learns the states of the parent's parts: parts(arg, out,
 * max) fills up to `max` entries and returns how many. It is called from
 * the request threads while the front runs, so it must be thread-safe;
 * the names must live as long as the front. parts NULL: none shown.
 */
struct http_health {
    size_t (*parts)(void *arg, struct http_part_health *out, size_t max);
    void *arg;
};

struct http_front;

/*
 * Starts serving on [http] listen and returns at once (libmicrohttpd runs
 * its own threads): loads every page template, binds, and answers until
 * http_front_stop. `cfg` and what `health` points to must outlive the
 * front (`health` itself is copied; may be NULL). `cfg->secret` must be
 * set (app_db loads it from the database). `*out` is owned by the caller.
 * MERR_IO if the address cannot be bound, MERR_CONFIG for a bad listen
 * address or no secret, errors of the template set.
 */
enum merr http_front_start(const struct config *cfg, const struct http_health *health,
                           struct http_front **out);

/*
 * Stops gracefully and frees the front: stops accepting, lets requests in
 * flight finish (up to [http] connection_timeout), stops the daemon and
 * closes every request thread's database handle. NULL is a no-op.
 */
void http_front_stop(struct http_front *f);

/*
 * The front's housekeeping at `now`, run by the serve parent about once a
 * minute on its own handle: deletes rate-limit windows and used CSRF
 * nonces that can no longer matter. MERR_DB.
 */
enum merr http_housekeep(struct db *db, time_t now);

/* ---- API bearer tokens (`mailer token`, http_token.c) ---- */

/*
 * A token is "mlr_" followed by the base64url of 32 random bytes (43
 * characters): the prefix makes a leaked one recognisable. Only its hex
 * SHA-256 is stored (table api_tokens), so a copy of the database holds no
 * working token. The API takes it as `Authorization: Bearer TOKEN`.
 */
#define HTTP_TOKEN_PREFIX   "mlr_"
#define HTTP_TOKEN_NAME_MAX 100

struct http_token {
    long long id;
    char name[128];
    int read_only; /* scope "read": GET and HEAD only */
    time_t created_at;
    time_t last_used_at; /* 0 = never */
    time_t revoked_at;   /* 0 = active */
};

/*
 * Creates a token called `name` (1..HTTP_TOKEN_NAME_MAX bytes of UTF-8 on
 * one line: no CR, LF or NUL) at `now`, read-only (scope "read": the API
 * answers it GET and HEAD only) or full: appends the new token to `out`
 * (the only time it exists in clear: print it once) and stores its hash.
 * `*id` (may be NULL) receives its id. Names need not be unique (revoking
 * by name revokes all active tokens of that name). MERR_INVAL for a bad
 * name, MERR_LIMIT if `out` is full, MERR_DB.
 */
enum merr http_token_create(struct db *db, const char *name, int read_only, time_t now,
                            struct buf *out, long long *id);

/*
 * Checks a token as it came in a request: MERR_OK, `*id` and `*read_only`
 * (each may be NULL) if it is an active token (its last use is set to
 * `now`), MERR_NOTFOUND
 * if it is unknown or revoked, MERR_DB. The token itself is never logged.
 */
enum merr http_token_check(struct db *db, const char *token, time_t now, long long *id,
                           int *read_only);

/* Every token, oldest first. `*out` is malloc'd (caller free()s), `*n` rows. MERR_DB. */
enum merr http_token_list(struct db *db, struct http_token **out, size_t *n);

/*
 * Revokes the active token with this id (all digits) or every active token
 * with this name, at `now`; `*revoked` (may be NULL) = how many.
 * MERR_NOTFOUND if none was active, MERR_DB.
 */
enum merr http_token_revoke(struct db *db, const char *id_or_name, time_t now, int *revoked);

#endif
