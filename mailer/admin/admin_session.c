/*
 * admin_session.c: signed-in sessions.
 *
 * A session id is 32 bytes from the system's CSPRNG (rnd_bytes), handed to
 * the browser as base64url text; the database keeps the hex SHA-256 of that
 * text. A request's cookie is hashed and looked up with its user in one
 * statement. Expiry is checked on every lookup (idle: now - last_seen_at >
 * idle; absolute: now - created_at > max) and the expired row is deleted
 * then; rows nobody comes back for are deleted by admin_housekeep_sessions,
 * which the serve parent runs with the other housekeeping. last_seen_at is
 * written at most once a minute, so browsing costs no write per page; the
 * idle limit is therefore exact to a minute.
 */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "admin_store.h"
#include "crypto.h"
#include "enc.h"
#include "rnd.h"

#define SEEN_EVERY_S 60

static void cookie_hash(const char *cookie, char out[65])
{
    crypto_sha256_hex(out, cookie, strlen(cookie));
}

/* 1 if `s` looks like a cookie value we made: 43 base64url characters. */
static int cookie_shape(const char *s)
{
    if (!s || strlen(s) != ADMIN_SESSION_ID_LEN)
        return 0;
    for (const char *p = s; *p; p++)
        if (enc_base64_value((unsigned char)*p, 1) < 0)
            return 0;
    return 1;
}

enum merr admin_session_start(struct db *db, long long user_id, const char *ip, time_t now,
                              struct buf *cookie, char *id_hash)
{
    unsigned char raw[32];
    char hash[65];
    size_t start = cookie->len;
    enum merr rc = rnd_bytes(raw, sizeof raw);

    if (!rc)
        rc = enc_base64url(cookie, raw, sizeof raw);
    memset(raw, 0, sizeof raw);
    if (rc)
        return rc;
    cookie_hash(cookie->data + start, hash);
    rc = db_begin(db);
    if (!rc)
        rc = admin_store_session_insert(db, hash, user_id, ip, now);
    if (!rc)
        rc = admin_store_user_login(db, user_id, now);
    if (!rc)
        rc = db_commit(db);
    else
        db_rollback(db);
    if (rc) {
        buf_truncate(cookie, start);
        return rc;
    }
    if (id_hash)
        memcpy(id_hash, hash, sizeof hash);
    return MERR_OK;
}

enum merr admin_session_check(struct db *db, const char *cookie, time_t now, int idle_s, int max_s,
                              struct admin_session *out)
{
    char hash[65];
    enum merr rc;

    if (!cookie_shape(cookie))
        return merr_set(MERR_NOTFOUND, "no session");
    cookie_hash(cookie, hash);
    rc = admin_store_session_get(db, hash, out);
    if (rc == MERR_NOTFOUND)
        return merr_set(MERR_NOTFOUND, "no session");
    if (rc)
        return rc;
    if (now - out->last_seen_at > idle_s || now - out->created_at > max_s) {
        rc = admin_store_session_delete(db, hash);
        return rc ? rc : merr_set(MERR_LIMIT, "the session has expired");
    }
    if (now - out->last_seen_at >= SEEN_EVERY_S) {
        rc = admin_store_session_seen(db, hash, now);
        if (rc)
            return rc;
        out->last_seen_at = now;
    }
    return MERR_OK;
}

enum merr admin_session_end(struct db *db, const char *cookie)
{
    char hash[65];
    if (!cookie_shape(cookie))
        return MERR_OK;
    cookie_hash(cookie, hash);
    return admin_store_session_delete(db, hash);
}

enum merr admin_housekeep_sessions(struct db *db, time_t now, int idle_s, int max_s)
{
    return admin_store_session_expire(db, now - idle_s, now - max_s);
}
