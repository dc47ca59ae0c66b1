/*
 * admin_store.c: every SQL statement on admin_users, admin_sessions and
 * admin_audit (the admin migration).
 *
 * Statements are static literals handed to db_stmt (cached per handle).
 * A session is found by the hash of its cookie value, joined to its user
 * in the same statement, so a request costs one index lookup; its
 * last_seen_at is written at most once a minute (admin_session.c decides).
 * Ending all sessions of a user is part of the password change's
 * transaction, so no old session outlives a new password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_store.h"

static const char SQL_USER_INSERT[] =
    "INSERT INTO admin_users(email, name, role, password_hash, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
#define USER_COLS "u.id, u.email, u.name, u.role, u.created_at, u.updated_at, u.last_login_at "
static const char SQL_USER_BY_ID[] =
    "SELECT " USER_COLS ", u.password_hash FROM admin_users u WHERE u.id = ?1";
static const char SQL_USER_BY_EMAIL[] =
    "SELECT " USER_COLS ", u.password_hash FROM admin_users u WHERE u.email = lower(?1)";
static const char SQL_USER_LIST[] = "SELECT " USER_COLS " FROM admin_users u ORDER BY u.email";
static const char SQL_USER_SET_HASH[] =
    "UPDATE admin_users SET password_hash = ?2, updated_at = ?3 WHERE email = lower(?1) "
    "RETURNING id";
static const char SQL_SESSIONS_OF_USER[] = "DELETE FROM admin_sessions WHERE user_id = ?1";
static const char SQL_USER_UPDATE[] =
    "UPDATE admin_users SET role = coalesce(?2, role), name = coalesce(?3, name), "
    "updated_at = ?4 WHERE id = ?1";
static const char SQL_USER_DELETE[] = "DELETE FROM admin_users WHERE email = lower(?1)";
static const char SQL_ADMIN_COUNT[] = "SELECT count(*) FROM admin_users WHERE role = 'admin'";
static const char SQL_USER_LOGIN[] = "UPDATE admin_users SET last_login_at = ?2 WHERE id = ?1";

static const char SQL_SESSION_INSERT[] =
    "INSERT INTO admin_sessions(id_hash, user_id, created_at, last_seen_at, ip) "
    "VALUES (?1, ?2, ?3, ?3, ?4)";
static const char SQL_SESSION_GET[] =
    "SELECT " USER_COLS ", s.created_at, s.last_seen_at FROM admin_sessions s "
    "JOIN admin_users u ON u.id = s.user_id WHERE s.id_hash = ?1";
static const char SQL_SESSION_SEEN[] =
    "UPDATE admin_sessions SET last_seen_at = ?2 WHERE id_hash = ?1";
static const char SQL_SESSION_DELETE[] = "DELETE FROM admin_sessions WHERE id_hash = ?1";
static const char SQL_SESSION_EXPIRE[] =
    "DELETE FROM admin_sessions WHERE last_seen_at < ?1 OR created_at < ?2";

static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO admin_audit(at, user_id, actor, ip, action, object, detail) "
    "VALUES (?1, nullif(?2, 0), ?3, ?4, ?5, ?6, ?7)";
static const char SQL_AUDIT_LIST[] =
    "SELECT id, at, actor, ip, action, object, detail FROM admin_audit "
    "WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2";

static sqlite3_stmt *stmt(struct db *db, const char *sql, enum merr *rc)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    *rc = st ? MERR_OK : MERR_DB;
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Reads USER_COLS starting at column `c`. */
static void user_row(sqlite3_stmt *st, int c, struct admin_user *u)
{
    char role[16];
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, c);
    db_col_copy(st, c + 1, u->email, sizeof u->email);
    db_col_copy(st, c + 2, u->name, sizeof u->name);
    db_col_copy(st, c + 3, role, sizeof role);
    u->role = (enum admin_role)admin_role_parse(role);
    u->created_at = (time_t)sqlite3_column_int64(st, c + 4);
    u->updated_at = (time_t)sqlite3_column_int64(st, c + 5);
    u->last_login_at = (time_t)sqlite3_column_int64(st, c + 6);
}

enum merr admin_store_user_insert(struct db *db, const char *email, const char *name,
                                  const char *role, const char *hash, time_t now, long long *id)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_USER_INSERT, &rc);
    if (!st)
        return rc;
    bind_text(st, 1, email);
    bind_text(st, 2, name ? name : "");
    bind_text(st, 3, role);
    bind_text(st, 4, hash);
    sqlite3_bind_int64(st, 5, now);
    rc = db_step_done(db, st, "admin user add");
    if (rc == MERR_EXISTS)
        return merr_set(MERR_EXISTS, "%s đã có tài khoản", email);
    if (!rc && id)
        *id = sqlite3_last_insert_rowid(db_sqlite(db));
    return rc;
}

enum merr admin_store_user_get(struct db *db, long long id, const char *email,
                               struct admin_user *out, char *hash)
{
    enum merr rc;
    int src;
    sqlite3_stmt *st = stmt(db, email ? SQL_USER_BY_EMAIL : SQL_USER_BY_ID, &rc);
    if (!st)
        return rc;
    if (email)
        bind_text(st, 1, email);
    else
        sqlite3_bind_int64(st, 1, id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        user_row(st, 0, out);
        if (hash)
            db_col_copy(st, 7, hash, 256);
    }
    rc = db_row_end(db, st, src, MERR_NOTFOUND, "admin user");
    if (rc == MERR_NOTFOUND)
        merr_set(rc, "không có tài khoản này");
    return rc;
}

enum merr admin_store_user_list(struct db *db, struct admin_user **out, size_t *n)
{
    enum merr rc;
    int src;
    struct admin_user *v = NULL, *nv;
    size_t cnt = 0, cap = 0;
    sqlite3_stmt *st = stmt(db, SQL_USER_LIST, &rc);

    *out = NULL;
    *n = 0;
    if (!st)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                sqlite3_reset(st);
                free(v);
                return merr_set(MERR_NOMEM, "out of memory");
            }
            v = nv;
        }
        user_row(st, 0, &v[cnt++]);
    }
    sqlite3_reset(st);
    rc = db_fail(db, src, "admin user list");
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return MERR_OK;
}

enum merr admin_store_user_set_hash(struct db *db, const char *email, const char *hash, time_t now)
{
    enum merr rc;
    int src;
    long long id = 0;
    sqlite3_stmt *st = stmt(db, SQL_USER_SET_HASH, &rc);
    if (!st)
        return rc;
    bind_text(st, 1, email);
    bind_text(st, 2, hash);
    sqlite3_bind_int64(st, 3, now);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        src = sqlite3_step(st);
    }
    sqlite3_reset(st);
    rc = db_fail(db, src, "admin passwd");
    if (rc)
        return rc;
    if (!id)
        return merr_set(MERR_NOTFOUND, "không có tài khoản %s", email);
    st = stmt(db, SQL_SESSIONS_OF_USER, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    return db_step_done(db, st, "admin passwd: sessions");
}

enum merr admin_store_user_update(struct db *db, long long id, const char *role, const char *name,
                                  time_t now)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_USER_UPDATE, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, role);
    bind_text(st, 3, name);
    sqlite3_bind_int64(st, 4, now);
    rc = db_step_done(db, st, "admin user update");
    if (!rc && db_changes(db) == 0)
        return merr_set(MERR_NOTFOUND, "không có tài khoản này");
    return rc;
}

enum merr admin_store_user_delete(struct db *db, const char *email)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_USER_DELETE, &rc);
    if (!st)
        return rc;
    bind_text(st, 1, email);
    rc = db_step_done(db, st, "admin user remove");
    if (!rc && db_changes(db) == 0)
        return merr_set(MERR_NOTFOUND, "không có tài khoản %s", email);
    return rc;
}

enum merr admin_store_admin_count(struct db *db, long long *n)
{
    enum merr rc;
    int src;
    sqlite3_stmt *st = stmt(db, SQL_ADMIN_COUNT, &rc);
    if (!st)
        return rc;
    src = sqlite3_step(st);
    *n = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    return db_row_end(db, st, src, MERR_DB, "admin count");
}

enum merr admin_store_user_login(struct db *db, long long id, time_t now)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_USER_LOGIN, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    return db_step_done(db, st, "admin login time");
}

enum merr admin_store_session_insert(struct db *db, const char *id_hash, long long user_id,
                                     const char *ip, time_t now)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_SESSION_INSERT, &rc);
    if (!st)
        return rc;
    bind_text(st, 1, id_hash);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int64(st, 3, now);
    bind_text(st, 4, ip ? ip : "");
    return db_step_done(db, st, "admin session");
}

enum merr admin_store_session_get(struct db *db, const char *id_hash, struct admin_session *out)
{
    enum merr rc;
    int src;
    sqlite3_stmt *st = stmt(db, SQL_SESSION_GET, &rc);
    if (!st)
        return rc;
    bind_text(st, 1, id_hash);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        snprintf(out->id_hash, sizeof out->id_hash, "%s", id_hash);
        user_row(st, 0, &out->user);
        out->created_at = (time_t)sqlite3_column_int64(st, 7);
        out->last_seen_at = (time_t)sqlite3_column_int64(st, 8);
    }
    return db_row_end(db, st, src, MERR_NOTFOUND, "admin session");
}

enum merr admin_store_session_seen(struct db *db, const char *id_hash, time_t now)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_SESSION_SEEN, &rc);
    if (!st)
        return rc;
    bind_text(st, 1, id_hash);
    sqlite3_bind_int64(st, 2, now);
    return db_step_done(db, st, "admin session seen");
}

enum merr admin_store_session_delete(struct db *db, const char *id_hash)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_SESSION_DELETE, &rc);
    if (!st)
        return rc;
    bind_text(st, 1, id_hash);
    return db_step_done(db, st, "admin session end");
}

enum merr admin_store_session_expire(struct db *db, time_t idle_before, time_t created_before)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_SESSION_EXPIRE, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, idle_before);
    sqlite3_bind_int64(st, 2, created_before);
    return db_step_done(db, st, "admin session expiry");
}

enum merr admin_store_audit_insert(struct db *db, time_t at, long long user_id, const char *actor,
                                   const char *ip, const char *action, const char *object,
                                   const char *detail)
{
    enum merr rc;
    sqlite3_stmt *st = stmt(db, SQL_AUDIT_INSERT, &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, at);
    sqlite3_bind_int64(st, 2, user_id);
    bind_text(st, 3, actor);
    bind_text(st, 4, ip ? ip : "");
    bind_text(st, 5, action);
    bind_text(st, 6, object ? object : "");
    bind_text(st, 7, detail ? detail : "");
    return db_step_done(db, st, "audit");
}

enum merr admin_store_audit_list(struct db *db, long long before, size_t limit,
                                 struct admin_audit_row **out, size_t *n)
{
    enum merr rc;
    int src = SQLITE_DONE;
    struct admin_audit_row *v;
    size_t cnt = 0;
    sqlite3_stmt *st = stmt(db, SQL_AUDIT_LIST, &rc);

    *out = NULL;
    *n = 0;
    if (!st)
        return rc;
    if (!limit)
        limit = 1;
    v = calloc(limit, sizeof *v);
    if (!v)
        return merr_set(MERR_NOMEM, "out of memory");
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, (long long)limit);
    while (cnt < limit && (src = sqlite3_step(st)) == SQLITE_ROW) {
        struct admin_audit_row *a = &v[cnt++];
        a->id = sqlite3_column_int64(st, 0);
        a->at = (time_t)sqlite3_column_int64(st, 1);
        db_col_copy(st, 2, a->actor, sizeof a->actor);
        db_col_copy(st, 3, a->ip, sizeof a->ip);
        db_col_copy(st, 4, a->action, sizeof a->action);
        db_col_copy(st, 5, a->object, sizeof a->object);
        db_col_copy(st, 6, a->detail, sizeof a->detail);
    }
    if (cnt == limit)
        src = SQLITE_DONE;
    sqlite3_reset(st);
    rc = db_fail(db, src, "audit list");
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return MERR_OK;
}
