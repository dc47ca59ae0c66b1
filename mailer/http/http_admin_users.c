/*
 * http_admin_users.c: the admin-only pages (accounts, API tokens, the
 * audit log) and every person's own account page.
 *
 *   GET  /admin/users              accounts, and the form to add one
 *   POST /admin/users              add (address, name, role, password)
 *   GET  /admin/users/ID           one account: name, role, a new password
 *   POST /admin/users/ID           save;  POST /admin/users/ID/remove
 *   GET  /admin/tokens             API tokens: scope, created, last used
 *   POST /admin/tokens             create: the token is shown once, on
 *                                  the answer to this POST (never again)
 *   POST /admin/tokens/ID/revoke
 *   GET  /admin/audit[?before=ID]  the audit log, newest first
 *   GET  /admin/account, POST      one's own password (the current one
 *                                  is asked for again)
 *
 * The door (http_admin.c) lets only the admin role in here, except
 * /admin/account. Accounts and tokens are the admin and http modules'
 * (admin.h, http.h); every change is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "http.h"
#include "http_admin.h"

#define AUDIT_PAGE 50

static json_t *user_json(const struct admin_user *u)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:b, s:o, s:o}", "id", (json_int_t)u->id, "email",
                     u->email, "name", u->name, "role",
                     u->role == ADMIN_ADMIN ? "Quản trị" : "Biên tập", "is_admin",
                     u->role == ADMIN_ADMIN, "created", http_admin_time(u->created_at),
                     "last_login", http_admin_time(u->last_login_at));
}

/* The accounts page, with the add form refilled and its error (may be NULL). */
static void users_page(struct http_admin *a, int status, const char *error, const char *field)
{
    struct admin_user *v = NULL;
    size_t n = 0;
    json_t *arr, *d;
    enum merr rc = admin_user_list(a->db, &v, &n);
    if (rc)
        return http_admin_fail(a, rc, "users");
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, user_json(&v[i]));
    free(v);
    d = json_pack("{s:s, s:o}", "title", "Người quản trị", "users", arr);
    if (error) {
        const char *email = http_admin_field(a, "email"), *name = http_admin_field(a, "name");
        const char *role = http_admin_field(a, "role");
        json_object_set_new(d, "error",
                            json_pack("{s:s, s:s}", "message", error, "field", field ? field : ""));
        json_object_set_new(d, "form",
                            json_pack("{s:s, s:s, s:b}", "email", email ? email : "", "name",
                                      name ? name : "", "admin", role && !strcmp(role, "admin")));
        if (field)
            json_object_set_new(d,
                                field[0] == 'e'   ? "bad_email"
                                : field[0] == 'p' ? "bad_password"
                                                  : "bad_name",
                                json_true());
    }
    http_admin_page(a, status, "users", "users", d);
}

static void user_add(struct http_admin *a)
{
    const char *email = http_admin_field(a, "email"), *name = http_admin_field(a, "name");
    const char *pw = http_admin_field(a, "password");
    int role = admin_role_parse(http_admin_field(a, "role"));
    long long id = 0;
    enum merr rc;

    if (!role)
        return users_page(a, 400, "Vai trò: chọn Quản trị hoặc Biên tập.", "role");
    http_admin_lock(a);
    rc =
        admin_user_add(a->db, email ? email : "", name, (enum admin_role)role, pw, date_now(), &id);
    if (!rc)
        http_admin_audit(a, "user.add", email, "vai trò %s",
                         admin_role_name((enum admin_role)role));
    http_admin_unlock(a);
    if (rc == MERR_INVAL || rc == MERR_EXISTS) {
        const char *m = merr_msg();
        return users_page(a, 400, m,
                          !strncmp(m, "mật khẩu", 9) ? "password"
                          : !strncmp(m, "tên", 4)    ? "name"
                                                     : "email");
    }
    if (rc)
        return http_admin_fail(a, rc, "user add");
    http_admin_done(a, "/admin/users", "created");
}

static void user_page(struct http_admin *a, long long id, int status, const char *error)
{
    struct admin_user u;
    enum merr rc = admin_user_get(a->db, id, &u);
    json_t *d;
    if (rc)
        return http_admin_fail(a, rc, "user");
    d = json_pack("{s:s, s:o, s:b}", "title", u.email, "user", user_json(&u), "self",
                  u.id == a->s.user.id);
    if (error)
        json_object_set_new(d, "error", json_string(error));
    http_admin_page(a, status, "user", "users", d);
}

static void user_save(struct http_admin *a, long long id)
{
    struct admin_user u;
    const char *name = http_admin_field(a, "name"), *pw = http_admin_field(a, "password");
    int role = admin_role_parse(http_admin_field(a, "role"));
    enum merr rc = admin_user_get(a->db, id, &u);
    if (rc)
        return http_admin_fail(a, rc, "user");
    http_admin_lock(a);
    rc = admin_user_update(a->db, id, (enum admin_role)role, name, date_now());
    if (!rc && pw && *pw)
        rc = admin_user_passwd(a->db, u.email, pw, date_now());
    if (!rc)
        http_admin_audit(a, "user.update", u.email, "vai trò %s%s",
                         role ? admin_role_name((enum admin_role)role) : admin_role_name(u.role),
                         pw && *pw ? ", mật khẩu mới" : "");
    http_admin_unlock(a);
    if (rc == MERR_INVAL)
        return user_page(a, id, 400, merr_msg());
    if (rc)
        return http_admin_fail(a, rc, "user save");
    http_admin_done(a, "/admin/users", "saved");
}

static void user_remove(struct http_admin *a, long long id)
{
    struct admin_user u;
    enum merr rc = admin_user_get(a->db, id, &u);
    if (rc)
        return http_admin_fail(a, rc, "user");
    http_admin_lock(a);
    rc = admin_user_remove(a->db, u.email);
    if (!rc)
        http_admin_audit(a, "user.remove", u.email, NULL);
    http_admin_unlock(a);
    if (rc == MERR_INVAL)
        return user_page(a, id, 400, merr_msg());
    if (rc)
        return http_admin_fail(a, rc, "user remove");
    http_admin_done(a, "/admin/users", "removed");
}

void http_admin_users(struct http_admin *a, const char *rest)
{
    const char *action;
    long long id;
    if (!*rest) {
        if (a->post)
            return user_add(a);
        return users_page(a, 200, NULL, NULL);
    }
    id = http_admin_split(rest, &action);
    if (!id || (*action && strcmp(action, "remove") != 0))
        return http_admin_error(a, 404, "Không tìm thấy trang", "");
    if (*action) {
        if (!a->post)
            return http_admin_bad_method(a, "POST");
        return user_remove(a, id);
    }
    if (a->post)
        return user_save(a, id);
    user_page(a, id, 200, NULL);
}

/* ---- API tokens ---- */

static void tokens_page(struct http_admin *a, int status, const char *created, const char *error)
{
    struct http_token *v = NULL;
    size_t n = 0;
    json_t *arr, *d;
    enum merr rc = http_token_list(a->db, &v, &n);
    if (rc)
        return http_admin_fail(a, rc, "tokens");
    arr = json_array();
    for (size_t i = n; i-- > 0;)
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:b}", "id", (json_int_t)v[i].id, "name",
                           v[i].name, "scope", v[i].read_only ? "chỉ đọc" : "toàn quyền", "created",
                           http_admin_time(v[i].created_at), "last_used",
                           http_admin_time(v[i].last_used_at), "revoked",
                           http_admin_time(v[i].revoked_at), "active", !v[i].revoked_at));
    free(v);
    d = json_pack("{s:s, s:o}", "title", "Khoá API", "tokens", arr);
    if (created)
        json_object_set_new(d, "created", json_string(created));
    if (error)
        json_object_set_new(d, "error", json_string(error));
    http_admin_page(a, status, "tokens", "tokens", d);
}

static void token_create(struct http_admin *a)
{
    const char *name = http_admin_field(a, "name"), *scope = http_admin_field(a, "scope");
    struct buf tok;
    long long id = 0;
    enum merr rc;
    int ro = scope && !strcmp(scope, "read");

    if (!scope || (!ro && strcmp(scope, "full") != 0))
        return tokens_page(a, 400, NULL, "Quyền: chọn Chỉ đọc hoặc Toàn quyền.");
    buf_init(&tok, 128);
    http_admin_lock(a);
    rc = http_token_create(a->db, name ? name : "", ro, date_now(), &tok, &id);
    if (!rc)
        http_admin_audit(a, "token.create", name, "khoá %lld, %s", id,
                         ro ? "chỉ đọc" : "toàn quyền");
    http_admin_unlock(a);
    if (rc == MERR_INVAL)
        tokens_page(a, 400, NULL, "Tên khoá: 1 đến 100 ký tự trên một dòng.");
    else if (rc)
        http_admin_fail(a, rc, "token create");
    else
        tokens_page(a, 201, tok.data, NULL); /* the only time the token is shown */
    if (tok.data)
        memset(tok.data, 0, tok.len);
    buf_free(&tok);
}

void http_admin_tokens(struct http_admin *a, const char *rest)
{
    char num[24];
    const char *action;
    long long id;
    int revoked = 0;
    enum merr rc;

    if (!*rest) {
        if (a->post)
            return token_create(a);
        return tokens_page(a, 200, NULL, NULL);
    }
    id = http_admin_split(rest, &action);
    if (!id || strcmp(action, "revoke") != 0)
        return http_admin_error(a, 404, "Không tìm thấy trang", "");
    snprintf(num, sizeof num, "%lld", id);
    if (!a->post)
        return http_admin_bad_method(a, "POST");
    http_admin_lock(a);
    rc = http_token_revoke(a->db, num, date_now(), &revoked);
    if (!rc)
        http_admin_audit(a, "token.revoke", num, NULL);
    http_admin_unlock(a);
    if (rc)
        return http_admin_fail(a, rc, "token revoke");
    http_admin_done(a, "/admin/tokens", "revoked");
}

/* ---- the audit log ---- */

void http_admin_audit_page(struct http_admin *a, const char *rest)
{
    struct admin_audit_row *v = NULL;
    size_t n = 0;
    long long before = http_admin_id(http_query(a->r, "before"));
    json_t *arr, *d;
    enum merr rc;

    if (*rest)
        return http_admin_error(a, 404, "Không tìm thấy trang", "");
    if (!http_admin_get_only(a))
        return;
    rc = admin_audit_list(a->db, before, AUDIT_PAGE, &v, &n);
    if (rc)
        return http_admin_fail(a, rc, "audit");
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:o, s:s, s:s, s:s, s:s, s:s}", "at",
                                             http_admin_time(v[i].at), "actor", v[i].actor, "ip",
                                             v[i].ip, "action", admin_audit_label(v[i].action),
                                             "object", v[i].object, "detail", v[i].detail));
    d = json_pack("{s:s, s:o}", "title", "Nhật ký thay đổi", "rows", arr);
    if (n == AUDIT_PAGE)
        json_object_set_new(d, "older", json_integer(v[n - 1].id));
    free(v);
    http_admin_page(a, 200, "audit", "audit", d);
}

/* ---- one's own account ---- */

static void account_page(struct http_admin *a, int status, const char *error)
{
    json_t *d =
        json_pack("{s:s, s:o}", "title", "Tài khoản của tôi", "user", user_json(&a->s.user));
    if (error)
        json_object_set_new(d, "error", json_string(error));
    http_admin_page(a, status, "account", NULL, d);
}

void http_admin_account(struct http_admin *a, const char *rest)
{
    struct admin_user u;
    const char *cur, *pw, *again;
    enum merr rc;

    if (*rest)
        return http_admin_error(a, 404, "Không tìm thấy trang", "");
    if (!a->post)
        return account_page(a, 200, NULL);
    cur = http_admin_field(a, "current");
    pw = http_admin_field(a, "password");
    again = http_admin_field(a, "again");
    if (!pw || !again || strcmp(pw, again) != 0)
        return account_page(a, 400, "Hai lần nhập mật khẩu mới không giống nhau.");
    rc = admin_login_check(a->db, a->s.user.email, cur ? cur : "", &u);
    if (rc == MERR_NOTFOUND)
        return account_page(a, 400, "Mật khẩu hiện tại không đúng.");
    if (rc)
        return http_admin_fail(a, rc, "account");
    http_admin_lock(a);
    rc = admin_user_passwd(a->db, u.email, pw, date_now());
    if (!rc)
        http_admin_audit(a, "user.passwd", u.email, NULL);
    http_admin_unlock(a);
    if (rc == MERR_INVAL)
        return account_page(a, 400, merr_msg());
    if (rc)
        return http_admin_fail(a, rc, "passwd");
    /* every session ended with the password, this one too: sign in again */
    http_redirect(a->r, "/admin/login?ok=password");
}
