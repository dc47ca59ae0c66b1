/*
 * test_admin.c: admin accounts, Argon2id passwords, sessions and their
 * expiry, the audit log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "db.h"
#include "testutil.h"

#define PW   "mật-khẩu-đủ-dài"
#define IDLE 1800
#define MAX  (12 * 3600)

static struct db *fresh(void)
{
    return test_db_fresh(test_tmpdir("admin"), NULL, 0);
}

static long long count(struct db *db, const char *sql)
{
    sqlite3_stmt *st;
    long long n = -1;
    assert_int_equal(sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void accounts_and_passwords(void **state)
{
    struct db *db = fresh();
    struct admin_user u;
    long long id = 0;
    char hash[256] = "";
    sqlite3_stmt *st;
    (void)state;

    assert_int_equal(admin_user_add(db, " Hoa@HaGiang.Example.vn ", "Nguyễn Thị Hoa", ADMIN_ADMIN,
                                    PW, 1000, &id),
                     MERR_OK);
    assert_true(id > 0);
    /* the stored hash is Argon2id, never the password */
    assert_int_equal(sqlite3_prepare_v2(db_sqlite(db),
                                        "SELECT password_hash FROM admin_users WHERE id = 1", -1,
                                        &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(hash, sizeof hash, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    assert_true(strncmp(hash, "$argon2id$", 10) == 0);
    assert_null(strstr(hash, PW));

    /* the login is the lower-cased address, in any case */
    assert_int_equal(admin_login_check(db, "hoa@hagiang.example.vn", PW, &u), MERR_OK);
    assert_string_equal(u.email, "hoa@hagiang.example.vn");
    assert_string_equal(u.name, "Nguyễn Thị Hoa");
    assert_int_equal(u.role, ADMIN_ADMIN);
    assert_int_equal(admin_login_check(db, "HOA@hagiang.example.vn", PW, &u), MERR_OK);
    assert_int_equal(admin_login_check(db, "hoa@hagiang.example.vn", PW "x", &u), MERR_NOTFOUND);
    assert_int_equal(admin_login_check(db, "ai@hagiang.example.vn", PW, &u), MERR_NOTFOUND);
    assert_int_equal(admin_login_check(db, "", "", &u), MERR_NOTFOUND);

    /* refusals name what is wrong */
    assert_int_equal(admin_user_add(db, "hoa@hagiang.example.vn", "", ADMIN_EDITOR, PW, 1, NULL),
                     MERR_EXISTS);
    assert_int_equal(admin_user_add(db, "khong-hop-le", "", ADMIN_EDITOR, PW, 1, NULL), MERR_INVAL);
    assert_int_equal(admin_user_add(db, "b@x.vn", "", ADMIN_EDITOR, "ngắn", 1, NULL), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "ít nhất 10"));
    assert_int_equal(admin_user_add(db, "b@x.vn", "a\nb", ADMIN_EDITOR, PW, 1, NULL), MERR_INVAL);
    assert_int_equal(admin_user_add(db, "b@x.vn", "", ADMIN_EDITOR, "0123456789\r", 1, NULL),
                     MERR_INVAL);

    /* a new password works, the old one not */
    assert_int_equal(admin_user_passwd(db, "hoa@hagiang.example.vn", "mật khẩu mới 2", 2000),
                     MERR_OK);
    assert_int_equal(admin_login_check(db, "hoa@hagiang.example.vn", PW, &u), MERR_NOTFOUND);
    assert_int_equal(admin_login_check(db, "hoa@hagiang.example.vn", "mật khẩu mới 2", &u),
                     MERR_OK);
    assert_int_equal(admin_user_passwd(db, "ai@x.vn", "mật khẩu mới 2", 2000), MERR_NOTFOUND);
    db_close(db);
}

static void always_one_admin(void **state)
{
    struct db *db = fresh();
    long long a = 0, e = 0;
    struct admin_user *v = NULL;
    size_t n = 0;
    (void)state;

    assert_int_equal(admin_user_add(db, "a@x.vn", "A", ADMIN_ADMIN, PW, 1, &a), MERR_OK);
    assert_int_equal(admin_user_add(db, "e@x.vn", "E", ADMIN_EDITOR, PW, 1, &e), MERR_OK);
    assert_int_equal(admin_user_remove(db, "a@x.vn"), MERR_INVAL);
    assert_int_equal(admin_user_update(db, a, ADMIN_EDITOR, NULL, 2), MERR_INVAL);
    assert_int_equal(admin_user_update(db, e, ADMIN_ADMIN, "Biên tập", 2), MERR_OK);
    assert_int_equal(admin_user_update(db, a, ADMIN_EDITOR, NULL, 2), MERR_OK);
    assert_int_equal(admin_user_list(db, &v, &n), MERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].email, "a@x.vn");
    assert_int_equal(v[0].role, ADMIN_EDITOR);
    assert_string_equal(v[1].name, "Biên tập");
    assert_int_equal(v[1].role, ADMIN_ADMIN);
    free(v);
    assert_int_equal(admin_user_remove(db, "e@x.vn"), MERR_INVAL); /* now the only admin */
    assert_int_equal(admin_user_remove(db, "a@x.vn"), MERR_OK);
    assert_int_equal(admin_user_remove(db, "a@x.vn"), MERR_NOTFOUND);
    assert_int_equal(admin_user_update(db, 999, 0, "x", 2), MERR_NOTFOUND);
    db_close(db);
}

static void sessions_expire(void **state)
{
    struct db *db = fresh();
    struct admin_session s;
    struct buf c1, c2;
    long long id = 0;
    char hash[65];
    (void)state;

    assert_int_equal(admin_user_add(db, "a@x.vn", "A", ADMIN_EDITOR, PW, 1, &id), MERR_OK);
    buf_init(&c1, 0);
    buf_init(&c2, 0);
    assert_int_equal(admin_session_start(db, id, "127.0.0.1", 10000, &c1, hash), MERR_OK);
    assert_int_equal(strlen(c1.data), ADMIN_SESSION_ID_LEN);
    /* only the hash is stored */
    assert_int_equal(count(db, "SELECT count(*) FROM admin_sessions WHERE id_hash LIKE '%-%' OR "
                               "length(id_hash) <> 64"),
                     0);
    assert_int_equal(admin_session_check(db, c1.data, 10010, IDLE, MAX, &s), MERR_OK);
    assert_int_equal(s.user.id, id);
    assert_int_equal(s.user.role, ADMIN_EDITOR);
    assert_string_equal(s.id_hash, hash);
    assert_int_equal(s.user.last_login_at, 10000);

    /* a second login is another session; ids differ */
    assert_int_equal(admin_session_start(db, id, "127.0.0.1", 10000, &c2, NULL), MERR_OK);
    assert_string_not_equal(c1.data, c2.data);

    /* idle: within the limit is kept (and seen), past it ends */
    assert_int_equal(admin_session_check(db, c1.data, 10000 + IDLE, IDLE, MAX, &s), MERR_OK);
    assert_int_equal(s.last_seen_at, 10000 + IDLE);
    assert_int_equal(admin_session_check(db, c1.data, 10000 + 2 * IDLE + 1, IDLE, MAX, &s),
                     MERR_LIMIT);
    assert_int_equal(admin_session_check(db, c1.data, 10000 + 2 * IDLE + 1, IDLE, MAX, &s),
                     MERR_NOTFOUND);

    /* absolute: kept busy, it still ends after MAX */
    for (time_t t = 10000; t <= 10000 + MAX; t += IDLE / 2)
        assert_int_equal(admin_session_check(db, c2.data, t, IDLE, MAX, &s), MERR_OK);
    assert_int_equal(admin_session_check(db, c2.data, 10000 + MAX + IDLE / 2, IDLE, MAX, &s),
                     MERR_LIMIT);

    /* malformed and unknown cookies */
    assert_int_equal(admin_session_check(db, "", 10000, IDLE, MAX, &s), MERR_NOTFOUND);
    assert_int_equal(admin_session_check(db, "x", 10000, IDLE, MAX, &s), MERR_NOTFOUND);
    assert_int_equal(admin_session_check(db, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 10000,
                                         IDLE, MAX, &s),
                     MERR_NOTFOUND);

    /* logout, password change and removal end sessions */
    buf_reset(&c1);
    buf_reset(&c2);
    assert_int_equal(admin_session_start(db, id, "", 20000, &c1, NULL), MERR_OK);
    assert_int_equal(admin_session_start(db, id, "", 20000, &c2, NULL), MERR_OK);
    assert_int_equal(admin_session_end(db, c1.data), MERR_OK);
    assert_int_equal(admin_session_check(db, c1.data, 20001, IDLE, MAX, &s), MERR_NOTFOUND);
    assert_int_equal(admin_session_check(db, c2.data, 20001, IDLE, MAX, &s), MERR_OK);
    assert_int_equal(admin_user_passwd(db, "a@x.vn", "mật khẩu mới 2", 20002), MERR_OK);
    assert_int_equal(admin_session_check(db, c2.data, 20003, IDLE, MAX, &s), MERR_NOTFOUND);
    buf_reset(&c1);
    assert_int_equal(admin_session_start(db, id, "", 30000, &c1, NULL), MERR_OK);
    assert_int_equal(admin_user_add(db, "b@x.vn", "B", ADMIN_ADMIN, PW, 1, NULL), MERR_OK);
    assert_int_equal(admin_user_remove(db, "a@x.vn"), MERR_OK);
    assert_int_equal(admin_session_check(db, c1.data, 30001, IDLE, MAX, &s), MERR_NOTFOUND);

    /* housekeeping deletes what nobody came back for */
    buf_reset(&c1);
    assert_int_equal(admin_user_find(db, "b@x.vn", &s.user), MERR_OK);
    assert_int_equal(admin_session_start(db, s.user.id, "", 40000, &c1, NULL), MERR_OK);
    assert_int_equal(admin_housekeep_sessions(db, 40000 + IDLE, IDLE, MAX), MERR_OK);
    assert_int_equal(count(db, "SELECT count(*) FROM admin_sessions"), 1);
    assert_int_equal(admin_housekeep_sessions(db, 40001 + IDLE, IDLE, MAX), MERR_OK);
    assert_int_equal(count(db, "SELECT count(*) FROM admin_sessions"), 0);
    buf_free(&c1);
    buf_free(&c2);
    db_close(db);
}

static void audit_log(void **state)
{
    struct db *db = fresh();
    struct admin_actor cli = {0, "cli", NULL}, hoa = {0, "hoa@x.vn", "10.0.0.1"};
    struct admin_audit_row *v = NULL;
    size_t n = 0;
    (void)state;

    assert_int_equal(admin_user_add(db, "hoa@x.vn", "Hoa", ADMIN_ADMIN, PW, 1, &hoa.user_id),
                     MERR_OK);
    assert_int_equal(admin_audit(db, &cli, 100, "user.add", "hoa@x.vn", "vai trò %s", "admin"),
                     MERR_OK);
    assert_int_equal(admin_audit(db, &hoa, 200, "list.create", "tin-tuc", "tên \"<b>\"\r\nx"),
                     MERR_OK);
    assert_int_equal(admin_audit(db, &hoa, 300, "list.remove", "tin-tuc", NULL), MERR_OK);
    assert_int_equal(admin_audit_list(db, 0, 2, &v, &n), MERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].action, "list.remove");
    assert_string_equal(v[1].detail, "tên \"<b>\"  x");
    assert_string_equal(v[1].actor, "hoa@x.vn");
    assert_string_equal(v[1].ip, "10.0.0.1");
    long long before = v[1].id;
    free(v);
    assert_int_equal(admin_audit_list(db, before, 10, &v, &n), MERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].actor, "cli");
    assert_int_equal(v[0].at, 100);
    free(v);
    /* rows keep the actor's address when the account goes */
    assert_int_equal(admin_user_add(db, "b@x.vn", "B", ADMIN_ADMIN, PW, 1, NULL), MERR_OK);
    assert_int_equal(admin_user_remove(db, "hoa@x.vn"), MERR_OK);
    assert_int_equal(count(db, "SELECT count(*) FROM admin_audit WHERE actor = 'hoa@x.vn' AND "
                               "user_id IS NULL"),
                     2);
    assert_string_equal(admin_audit_label("subscriber.erase"), "Xoá toàn bộ dữ liệu");
    assert_string_equal(admin_audit_label("no.such"), "no.such");
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accounts_and_passwords),
        cmocka_unit_test(always_one_admin),
        cmocka_unit_test(sessions_expire),
        cmocka_unit_test(audit_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
