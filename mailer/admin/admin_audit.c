/*
 * admin_audit.c: the audit log: who changed what, and when.
 *
 * Rows are written after the change they describe has committed (the
 * modules that make the changes run their own transactions); a crash
 * between the two loses the row, never the change. Texts are kept to one
 * line, so the log reads as a table. Each action code has a Vietnamese
 * label for the audit page (labels[] below).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "admin_store.h"

/* Copies `s` into out[size] with CR, LF and tabs made spaces. */
static void one_line(char *out, size_t size, const char *s)
{
    snprintf(out, size, "%s", s ? s : "");
    for (char *p = out; *p; p++)
        if (*p == '\r' || *p == '\n' || *p == '\t')
            *p = ' ';
}

enum merr admin_audit(struct db *db, const struct admin_actor *a, time_t now, const char *action,
                      const char *object, const char *detail_fmt, ...)
{
    char detail[512] = "", obj[512];
    if (detail_fmt) {
        char raw[512];
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(raw, sizeof raw, detail_fmt, ap);
        va_end(ap);
        one_line(detail, sizeof detail, raw);
    }
    one_line(obj, sizeof obj, object);
    return admin_store_audit_insert(db, now, a->user_id, a->who ? a->who : "?", a->ip, action, obj,
                                    detail);
}

enum merr admin_audit_list(struct db *db, long long before, size_t limit,
                           struct admin_audit_row **out, size_t *n)
{
    return admin_store_audit_list(db, before, limit, out, n);
}

/* Keep in step with every admin_audit() call: tests/unit/test_admin.c checks none is missing. */
static const struct {
    const char *code;
    const char *label;
} labels[] = {
    {"user.add", "Thêm người quản trị"},
    {"user.passwd", "Đổi mật khẩu"},
    {"user.update", "Sửa người quản trị"},
    {"user.remove", "Xoá người quản trị"},
    {"token.create", "Tạo khoá API"},
    {"token.revoke", "Thu hồi khoá API"},
    {"list.create", "Tạo danh sách"},
    {"list.update", "Sửa danh sách"},
    {"list.remove", "Xoá danh sách"},
    {"subscriber.unsubscribe", "Huỷ đăng ký"},
    {"subscriber.block", "Chặn địa chỉ"},
    {"subscriber.erase", "Xoá toàn bộ dữ liệu"},
    {"import.run", "Nhập danh sách"},
    {"digest.send", "Gửi bản tin"},
    {"digest.test", "Gửi thử bản tin"},
    {"breaking.send", "Gửi tin nóng"},
    {"breaking.test", "Gửi thử tin nóng"},
    {"send.pause", "Tạm dừng lần gửi"},
    {"send.resume", "Tiếp tục lần gửi"},
    {"send.cancel", "Huỷ lần gửi"},
    {"queue.retry", "Gửi lại thư"},
    {"queue.cancel", "Huỷ thư"},
    {"bounce.undo", "Hoàn tác thư trả lại"},
    {"login", "Đăng nhập"},
    {"logout", "Đăng xuất"},
};

const char *admin_audit_label(const char *action)
{
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (!strcmp(labels[i].code, action))
            return labels[i].label;
    return action;
}
