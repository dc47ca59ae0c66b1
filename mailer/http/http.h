/*
 * http.h: `mailer serve`, the HTTP service (libmicrohttpd).
 *
 * Public pages (share form, subscribe, confirm, unsubscribe), the admin JSON
 * API under /api/, /healthz and /metrics, served by a pool of
 * cfg->http_threads threads with limits on connections, header size
 * (connection memory), body size (counted as it streams in) and time per
 * connection. The delivery workers and the digest scheduler run in the
 * same process.
 */
#ifndef MAILER_HTTP_HTTP_H
#define MAILER_HTTP_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"

/*
 * Serves until *stop becomes non-zero (the caller's SIGTERM/SIGINT handler
 * sets it), then shuts down gracefully: stops accepting, lets requests in
 * flight finish (up to connection_timeout), stops the digest scheduler,
 * stops the delivery workers after their batch and closes every database
 * handle. With `workers` 0 neither the delivery workers nor the digest
 * scheduler is started (tests of the web part alone, or a web-only process
 * beside `mailer deliver` and a cron `mailer digest tick`).
 * `cfg->secret` must be set (app_db loads it from the database). MERR_IO if
 * the address cannot be bound, MERR_CONFIG for a bad listen address.
 */
enum merr http_serve(const struct config *cfg, atomic_int *stop, int workers);

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
    time_t created_at;
    time_t last_used_at; /* 0 = never */
    time_t revoked_at;   /* 0 = active */
};

/*
 * Creates a token called `name` (1..HTTP_TOKEN_NAME_MAX bytes of UTF-8 on
 * one line: no CR, LF or NUL) at `now`: appends the new token to `out`
 * (the only time it exists in clear: print it once) and stores its hash.
 * `*id` (may be NULL) receives its id. Names need not be unique (revoking
 * by name revokes all active tokens of that name). MERR_INVAL for a bad
 * name, MERR_LIMIT if `out` is full, MERR_DB.
 */
enum merr http_token_create(struct db *db, const char *name, time_t now, struct buf *out,
                            long long *id);

/*
 * Checks a token as it came in a request: MERR_OK and `*id` (may be NULL)
 * if it is an active token (its last use is set to `now`), MERR_NOTFOUND
 * if it is unknown or revoked, MERR_DB. The token itself is never logged.
 */
enum merr http_token_check(struct db *db, const char *token, time_t now, long long *id);

/* Every token, oldest first. `*out` is malloc'd (caller free()s), `*n` rows. MERR_DB. */
enum merr http_token_list(struct db *db, struct http_token **out, size_t *n);

/*
 * Revokes the active token with this id (all digits) or every active token
 * with this name, at `now`; `*revoked` (may be NULL) = how many.
 * MERR_NOTFOUND if none was active, MERR_DB.
 */
enum merr http_token_revoke(struct db *db, const char *id_or_name, time_t now, int *revoked);

#endif
