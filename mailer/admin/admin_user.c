/*
 * admin_user.c: admin accounts and their passwords.
 *
 * Passwords are hashed with Argon2id (RFC 9106) through libsodium's
 * crypto_pwhash_str_alg at the INTERACTIVE cost (2 passes over 64 MiB):
 * the string it returns carries the algorithm, its cost and a random salt,
 * so a later change of cost needs no migration (an old hash still verifies).
 * A login for an address without an account is checked against a dummy
 * hash made once per process, so the answer takes about as long as for a
 * wrong password and does not tell which addresses have accounts.
 *
 * The site always keeps one admin: removing the last one or making it an
 * editor is refused (inside the same transaction as the change, so two
 * admins removing each other at once cannot both succeed).
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "admin.h"
#include "admin_store.h"
#include "utf8.h"

const char *admin_role_name(enum admin_role r)
{
    return r == ADMIN_ADMIN ? "admin" : "editor";
}

int admin_role_parse(const char *s)
{
    if (s && !strcmp(s, "admin"))
        return ADMIN_ADMIN;
    if (s && !strcmp(s, "editor"))
        return ADMIN_EDITOR;
    return 0;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;
static char dummy_hash[crypto_pwhash_STRBYTES];

static void sodium_start(void)
{
    char pw[33];
    if (sodium_init() < 0)
        return;
    randombytes_buf(pw, 32);
    pw[32] = '\0';
    if (crypto_pwhash_str_alg(dummy_hash, pw, 32, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) == 0)
        sodium_ok = 1;
    sodium_memzero(pw, sizeof pw);
}

static enum merr sodium_ready(void)
{
    pthread_once(&sodium_once, sodium_start);
    return sodium_ok ? MERR_OK : merr_set(MERR_INTERNAL, "libsodium could not be initialised");
}

enum merr admin_password_ok(const char *pw)
{
    size_t n = pw ? strlen(pw) : 0;
    if (!pw || !*pw)
        return merr_set(MERR_INVAL, "mật khẩu: chưa nhập");
    if (n > ADMIN_PASSWORD_MAX)
        return merr_set(MERR_INVAL, "mật khẩu: dài quá %d byte", ADMIN_PASSWORD_MAX);
    if (!utf8_valid(pw, n, NULL) || utf8_has_crlf_nul(pw, n))
        return merr_set(MERR_INVAL, "mật khẩu: có ký tự không hợp lệ");
    if (utf8_count(pw, n) < ADMIN_PASSWORD_MIN)
        return merr_set(MERR_INVAL, "mật khẩu: cần ít nhất %d ký tự", ADMIN_PASSWORD_MIN);
    return MERR_OK;
}

static enum merr hash_password(const char *pw, char out[crypto_pwhash_STRBYTES])
{
    enum merr rc = admin_password_ok(pw);
    if (!rc)
        rc = sodium_ready();
    if (rc)
        return rc;
    if (crypto_pwhash_str_alg(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13))
        return merr_set(MERR_NOMEM, "password hashing ran out of memory");
    return MERR_OK;
}

static enum merr name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (!n)
        return MERR_OK;
    if (!utf8_valid(name, n, NULL) || utf8_has_crlf_nul(name, n))
        return merr_set(MERR_INVAL, "tên: có ký tự không hợp lệ");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return merr_set(MERR_INVAL, "tên: có ký tự điều khiển");
    if (utf8_count(name, n) > ADMIN_NAME_MAX)
        return merr_set(MERR_INVAL, "tên: dài quá %d ký tự", ADMIN_NAME_MAX);
    return MERR_OK;
}

enum merr admin_user_add(struct db *db, const char *email, const char *name, enum admin_role role,
                         const char *password, time_t now, long long *id)
{
    struct addr a;
    char hash[crypto_pwhash_STRBYTES];
    enum merr rc;

    if (!email || addr_parse(email, &a))
        return merr_set(MERR_INVAL, "địa chỉ email \"%.80s\" không hợp lệ: %s", email ? email : "",
                        merr_msg());
    if (role != ADMIN_ADMIN && role != ADMIN_EDITOR)
        return merr_set(MERR_INVAL, "vai trò: admin hoặc editor");
    rc = name_ok(name);
    if (!rc)
        rc = hash_password(password, hash);
    if (!rc)
        rc = admin_store_user_insert(db, a.key, name, admin_role_name(role), hash, now, id);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

enum merr admin_user_passwd(struct db *db, const char *email, const char *password, time_t now)
{
    char hash[crypto_pwhash_STRBYTES];
    enum merr rc = hash_password(password, hash);
    if (rc)
        return rc;
    rc = db_begin(db);
    if (!rc)
        rc = admin_store_user_set_hash(db, email, hash, now);
    if (!rc)
        rc = db_commit(db);
    else
        db_rollback(db);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

/* Refuses (MERR_INVAL) when `u` is the only admin. */
static enum merr keeps_an_admin(struct db *db, const struct admin_user *u, const char *what)
{
    long long admins = 0;
    enum merr rc;
    if (u->role != ADMIN_ADMIN)
        return MERR_OK;
    rc = admin_store_admin_count(db, &admins);
    if (rc)
        return rc;
    if (admins <= 1)
        return merr_set(MERR_INVAL, "không thể %s người quản trị cuối cùng", what);
    return MERR_OK;
}

enum merr admin_user_update(struct db *db, long long id, enum admin_role role, const char *name,
                            time_t now)
{
    struct admin_user u;
    enum merr rc = name_ok(name);
    if (rc)
        return rc;
    if (role && role != ADMIN_ADMIN && role != ADMIN_EDITOR)
        return merr_set(MERR_INVAL, "vai trò: admin hoặc editor");
    rc = db_begin(db);
    if (rc)
        return rc;
    rc = admin_store_user_get(db, id, NULL, &u, NULL);
    if (!rc && role == ADMIN_EDITOR)
        rc = keeps_an_admin(db, &u, "đổi vai trò của");
    if (!rc)
        rc = admin_store_user_update(db, id, role ? admin_role_name(role) : NULL, name, now);
    if (!rc)
        return db_commit(db);
    db_rollback(db);
    return rc;
}

enum merr admin_user_remove(struct db *db, const char *email)
{
    struct admin_user u;
    enum merr rc = db_begin(db);
    if (rc)
        return rc;
    rc = admin_store_user_get(db, 0, email, &u, NULL);
    if (!rc)
        rc = keeps_an_admin(db, &u, "xoá");
    if (!rc)
        rc = admin_store_user_delete(db, email);
    if (!rc)
        return db_commit(db);
    db_rollback(db);
    return rc;
}

enum merr admin_user_list(struct db *db, struct admin_user **out, size_t *n)
{
    return admin_store_user_list(db, out, n);
}

enum merr admin_user_get(struct db *db, long long id, struct admin_user *out)
{
    return admin_store_user_get(db, id, NULL, out, NULL);
}

enum merr admin_user_find(struct db *db, const char *email, struct admin_user *out)
{
    return admin_store_user_get(db, 0, email, out, NULL);
}

enum merr admin_login_check(struct db *db, const char *email, const char *password,
                            struct admin_user *out)
{
    char hash[256];
    struct admin_user u;
    size_t n = password ? strlen(password) : 0;
    enum merr rc = sodium_ready();
    int found;

    if (rc)
        return rc;
    rc = email && *email ? admin_store_user_get(db, 0, email, &u, hash) : MERR_NOTFOUND;
    if (rc && rc != MERR_NOTFOUND)
        return rc;
    found = rc == MERR_OK;
    if (!found)
        snprintf(hash, sizeof hash, "%s", dummy_hash);
    /* Always one verification, so the time does not tell whether the account exists. */
    if (crypto_pwhash_str_verify(hash, password ? password : "", n) != 0 || !found ||
        n > ADMIN_PASSWORD_MAX)
        return merr_set(MERR_NOTFOUND, "sai địa chỉ email hoặc mật khẩu");
    *out = u;
    return MERR_OK;
}
