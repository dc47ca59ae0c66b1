/*
 * admin_store.h: every SQL statement on the admin module's tables
 * (admin_users, admin_sessions, admin_audit; the admin migration). Private to
 * mailer/admin.
 */
#ifndef MAILER_ADMIN_ADMIN_STORE_H
#define MAILER_ADMIN_ADMIN_STORE_H

#include "admin.h"

/* Inserts an account; MERR_EXISTS if the address has one. */
enum merr admin_store_user_insert(struct db *db, const char *email, const char *name,
                                  const char *role, const char *hash, time_t now, long long *id);
/* One account by id or address with its hash (`hash` 256 bytes; may be NULL). MERR_NOTFOUND. */
enum merr admin_store_user_get(struct db *db, long long id, const char *email,
                               struct admin_user *out, char *hash);
enum merr admin_store_user_list(struct db *db, struct admin_user **out, size_t *n);
/* Sets the hash of `email` (MERR_NOTFOUND) and deletes its sessions. */
enum merr admin_store_user_set_hash(struct db *db, const char *email, const char *hash, time_t now);
/* Sets role (NULL: unchanged) and name (NULL: unchanged) of `id`. MERR_NOTFOUND. */
enum merr admin_store_user_update(struct db *db, long long id, const char *role, const char *name,
                                  time_t now);
enum merr admin_store_user_delete(struct db *db, const char *email);
/* The number of accounts with role admin. */
enum merr admin_store_admin_count(struct db *db, long long *n);
enum merr admin_store_user_login(struct db *db, long long id, time_t now);

enum merr admin_store_session_insert(struct db *db, const char *id_hash, long long user_id,
                                     const char *ip, time_t now);
/* The session and its user. MERR_NOTFOUND. */
enum merr admin_store_session_get(struct db *db, const char *id_hash, struct admin_session *out);
enum merr admin_store_session_seen(struct db *db, const char *id_hash, time_t now);
enum merr admin_store_session_delete(struct db *db, const char *id_hash);
enum merr admin_store_session_expire(struct db *db, time_t idle_before, time_t created_before);

enum merr admin_store_audit_insert(struct db *db, time_t at, long long user_id, const char *actor,
                                   const char *ip, const char *action, const char *object,
                                   const char *detail);
enum merr admin_store_audit_list(struct db *db, long long before, size_t limit,
                                 struct admin_audit_row **out, size_t *n);

#endif
