/*
 * admin.h: the people who run the lists (admin accounts), their signed-in
 * sessions, and the audit log of what they change.
 *
 * Accounts (table admin_users) have an address as login, a display name, a
 * role and an Argon2id password hash made by libsodium (crypto_pwhash_str,
 * OPSLIMIT/MEMLIMIT_INTERACTIVE: about 64 MiB and a few tens of
 * milliseconds per check). Roles: ADMIN_ADMIN may do everything; an
 * ADMIN_EDITOR manages lists, subscribers, digests, sends, the queue and
 * bounces, but not accounts, API tokens or the audit log. The last admin
 * can be neither removed nor made an editor, so the site always has one.
 *
 * A session is 32 random bytes given to the browser as base64url (43
 * characters) in a cookie; the table keeps only their SHA-256, so a copy of
 * the database holds no working session. A session ends at logout, after
 * `idle` seconds without a request, after `max` seconds in all, when the
 * user's password is changed, and when the user is removed. A login always
 * makes a new session: an id planted in a browser before the login is
 * never promoted to a signed-in one.
 *
 * The audit log (admin_audit) records who changed what and when; the
 * admin pages and `mailer user` write it after each change succeeds.
 *
 * Every function returns MERR_DB (with the detail) when SQLite fails.
 */
#ifndef MAILER_ADMIN_ADMIN_H
#define MAILER_ADMIN_ADMIN_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "db.h"
#include "err.h"

enum admin_role { ADMIN_ADMIN = 1, ADMIN_EDITOR = 2 };

/* "admin" / "editor". */
const char *admin_role_name(enum admin_role r);
/* ADMIN_ADMIN / ADMIN_EDITOR for "admin" / "editor", else 0. */
int admin_role_parse(const char *s);

#define ADMIN_PASSWORD_MIN   10   /* characters */
#define ADMIN_PASSWORD_MAX   1024 /* bytes */
#define ADMIN_NAME_MAX       200  /* characters */
#define ADMIN_SESSION_ID_LEN 43   /* base64url of 32 bytes */

struct admin_user {
    long long id;
    char email[256]; /* lower-cased ASCII */
    char name[808];  /* up to ADMIN_NAME_MAX characters of UTF-8 */
    enum admin_role role;
    time_t created_at;
    time_t updated_at;
    time_t last_login_at; /* 0: never */
};

/*
 * Checks a password: ADMIN_PASSWORD_MIN..ADMIN_PASSWORD_MAX, valid UTF-8,
 * no NUL, CR or LF. MERR_INVAL with the reason (in Vietnamese: it is shown
 * on the admin pages too).
 */
enum merr admin_password_ok(const char *password);

/*
 * Adds an account. `email` must parse (addr_parse) and is stored as its
 * lower-cased key; `name` may be NULL or "" (one line, ADMIN_NAME_MAX
 * characters). `*id` (may be NULL) receives the new id. MERR_INVAL naming
 * what is wrong, MERR_EXISTS if the address has an account.
 */
enum merr admin_user_add(struct db *db, const char *email, const char *name, enum admin_role role,
                         const char *password, time_t now, long long *id);

/*
 * Sets a new password for the account `email` and ends all its sessions.
 * MERR_INVAL (password refused), MERR_NOTFOUND.
 */
enum merr admin_user_passwd(struct db *db, const char *email, const char *password, time_t now);

/*
 * Changes an account's role (0: unchanged) and/or name (NULL: unchanged).
 * MERR_INVAL for a bad name or for making the last admin an editor,
 * MERR_NOTFOUND.
 */
enum merr admin_user_update(struct db *db, long long id, enum admin_role role, const char *name,
                            time_t now);

/*
 * Removes the account `email` (its sessions go with it; its audit rows keep
 * its address). MERR_INVAL when it is the last admin, MERR_NOTFOUND.
 */
enum merr admin_user_remove(struct db *db, const char *email);

/* Every account by address. `*out` is malloc'd (free()), `*n` rows. */
enum merr admin_user_list(struct db *db, struct admin_user **out, size_t *n);

/* One account by id / by address (any case). MERR_NOTFOUND. */
enum merr admin_user_get(struct db *db, long long id, struct admin_user *out);
enum merr admin_user_find(struct db *db, const char *email, struct admin_user *out);

/*
 * Checks a login. MERR_OK and `*out` filled when `email` has an account
 * and `password` is its password; MERR_NOTFOUND otherwise, for an unknown
 * address and a wrong password alike, taking about the same time (an
 * unknown address is checked against a dummy hash). The caller throttles.
 */
enum merr admin_login_check(struct db *db, const char *email, const char *password,
                            struct admin_user *out);

/* ---- sessions ---- */

struct admin_session {
    char id_hash[65]; /* hex SHA-256 of the cookie value: the session's name in the database */
    struct admin_user user;
    time_t created_at;
    time_t last_seen_at;
};

/*
 * Starts a session for user `user_id` at `now` from `ip`: appends the
 * cookie value (ADMIN_SESSION_ID_LEN characters) to `cookie`, and notes the
 * login time on the account. `*id_hash` (may be NULL; 65 bytes) receives
 * the stored name. MERR_NOMEM, MERR_LIMIT (`cookie` full).
 */
enum merr admin_session_start(struct db *db, long long user_id, const char *ip, time_t now,
                              struct buf *cookie, char *id_hash);

/*
 * Looks up the session named by a cookie value at `now`. MERR_OK and `*out`
 * filled for a live session; its last_seen_at moves to `now` when it is
 * more than a minute old (a write at most once a minute per session).
 * MERR_NOTFOUND for an unknown or malformed value, MERR_LIMIT for a session
 * past `idle_s` without a request or `max_s` in all (it is deleted).
 */
enum merr admin_session_check(struct db *db, const char *cookie, time_t now, int idle_s, int max_s,
                              struct admin_session *out);

/* Ends the session named by a cookie value (logout); an unknown one is MERR_OK. */
enum merr admin_session_end(struct db *db, const char *cookie);

/* Deletes sessions past their idle or absolute expiry at `now`. */
enum merr admin_housekeep_sessions(struct db *db, time_t now, int idle_s, int max_s);

/* ---- audit log ---- */

/* Who makes a change: an account (user_id, its address) or "cli" (user_id 0). */
struct admin_actor {
    long long user_id;
    const char *who; /* the account's address, or "cli" */
    const char *ip;  /* may be NULL */
};

/*
 * Records one change at `now`: `action` a short code ("list.create",
 * "subscriber.erase", ...: see admin_audit_label), `object` what it was
 * done to (may be NULL), `detail` one line for people (printf-like; may be
 * NULL). CR and LF in the texts are replaced by spaces.
 */
enum merr admin_audit(struct db *db, const struct admin_actor *a, time_t now, const char *action,
                      const char *object, const char *detail_fmt, ...)
    __attribute__((format(printf, 6, 7)));

struct admin_audit_row {
    long long id;
    time_t at;
    char actor[256];
    char ip[64];
    char action[64];
    char object[512];
    char detail[512];
};

/*
 * The newest audit rows first, those with id below `before` (0: from the
 * newest), at most `limit`. `*out` is malloc'd (free()).
 */
enum merr admin_audit_list(struct db *db, long long before, size_t limit,
                           struct admin_audit_row **out, size_t *n);

/* The Vietnamese label of an action code, or the code itself when unknown. */
const char *admin_audit_label(const char *action);

#endif
