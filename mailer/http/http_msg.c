/*
 * http_msg.c: the catalogue of what the public pages say when they refuse
 * or fail (see http_msg.h).
 *
 * One table, sorted by nothing but topic, looked up by a linear scan: it
 * has a few dozen entries and is read only when something went wrong. The
 * texts speak to a reader filling a form on a phone: what is wrong with
 * what they typed and how to put it right, never how the server sees it
 * (no RFC, no "local part", no SMTPUTF8). Address refusals never echo the
 * address: the field beside the message shows it. A test walks the table
 * (every entry Vietnamese, every reason a module or handler gives has an
 * entry) and tests/browser shows each on its page.
 */
#include "http_msg.h"

#include <string.h>

#include "tpl.h"

const struct http_msg http_msgs[] = {
    /* ---- an email address (subscribers/addr.c) ---- */
    {"addr.empty", NULL, "Vui lòng nhập địa chỉ email."},
    {"addr.bad_char", NULL,
     "Địa chỉ email có ký tự không dùng được (xuống dòng hoặc ký tự ẩn). Hãy gõ lại địa chỉ."},
    {"addr.display_name", NULL,
     "Chỉ nhập địa chỉ email, ví dụ ten@example.vn, không kèm tên người hay dấu < >."},
    {"addr.quoted", NULL,
     "Địa chỉ email không được có dấu ngoặc kép, ngoặc đơn hay dấu \\. Hãy nhập theo dạng "
     "ten@example.vn."},
    {"addr.space", NULL, "Địa chỉ email không được có dấu cách."},
    {"addr.no_at", NULL, "Địa chỉ email thiếu dấu @. Ví dụ đúng: ten@example.vn."},
    {"addr.many_at", NULL, "Địa chỉ email chỉ có một dấu @."},
    {"addr.literal", NULL,
     "Sau dấu @ phải là tên miền (ví dụ example.vn), không phải địa chỉ IP trong ngoặc vuông."},
    {"addr.too_long", NULL, "Địa chỉ email này quá dài. Hãy kiểm tra lại."},
    {"addr.local_empty", NULL, "Thiếu phần tên trước dấu @. Ví dụ đúng: ten@example.vn."},
    {"addr.local_unicode", NULL,
     "Phần trước dấu @ phải viết không dấu (chữ a–z, chữ số và các dấu . _ - +). Thư chưa gửi "
     "được tới địa chỉ có dấu tiếng Việt."},
    {"addr.local_dots", NULL,
     "Phần trước dấu @ không được bắt đầu hay kết thúc bằng dấu chấm, và không có hai dấu chấm "
     "liền nhau."},
    {"addr.local_char", NULL, "Phần trước dấu @ có ký tự không dùng được trong địa chỉ email."},
    {"addr.domain_empty", NULL, "Thiếu tên miền sau dấu @. Ví dụ đúng: ten@example.vn."},
    {"addr.domain_dots", NULL,
     "Tên miền sau dấu @ có dấu chấm đặt sai chỗ (ở đầu, ở cuối hoặc hai dấu liền nhau)."},
    {"addr.domain_char", NULL,
     "Tên miền sau dấu @ chỉ gồm chữ, chữ số, dấu gạch ngang và dấu chấm."},
    {"addr.domain_hyphen", NULL,
     "Tên miền sau dấu @ không được bắt đầu hay kết thúc bằng dấu gạch ngang."},
    {"addr.domain_no_dot", NULL,
     "Tên miền sau dấu @ chưa đầy đủ, ví dụ đúng: @example.vn hoặc @gmail.com."},
    {"addr.domain_numeric", NULL,
     "Sau dấu @ phải là tên miền (ví dụ example.vn), không phải địa chỉ IP."},
    {"addr.domain_invalid", NULL, "Tên miền sau dấu @ không đúng. Hãy kiểm tra lại địa chỉ."},

    /* ---- a person's name (share sender, subscriber) ---- */
    /* the one filter for typed text (core/text.c, text_fault_reason) */
    {"name.bad_utf8", NULL, "Tên có ký tự không đọc được. Hãy gõ lại tên."},
    {"name.line_break", NULL, "Tên không được có ký tự xuống dòng: hãy viết tên trên một dòng."},
    {"name.control", NULL,
     "Tên có ký tự điều khiển hoặc ký tự ẩn không dùng được. Hãy gõ lại tên."},
    {"name.link", NULL,
     "Tên không được chứa đường dẫn, địa chỉ email hay tên miền (như vi-du.vn). Nếu là chức "
     "danh viết tắt, hãy thêm dấu cách sau dấu chấm (ví dụ: “PGS. TS”)."},
    {"name.too_long", NULL, "Tên quá dài. Hãy viết ngắn lại."},

    /* ---- the share form ---- */
    {"to.missing", NULL, "Vui lòng nhập địa chỉ email của người nhận."},
    {"to.too_many", NULL, "Mỗi lần chỉ gửi được tới tối đa {{max}} người nhận."},
    {"sender_email.missing", NULL, "Vui lòng nhập email của bạn để người nhận có thể trả lời."},
    {"note.bad_utf8", NULL, "Lời nhắn có ký tự không đọc được. Hãy gõ lại lời nhắn."},
    {"note.control", NULL,
     "Lời nhắn có ký tự điều khiển hoặc ký tự ẩn không dùng được. Hãy gõ lại lời nhắn."},
    {"note.link", NULL,
     "Lời nhắn không được chứa đường dẫn, địa chỉ email hay tên miền (như vi-du.vn): người "
     "nhận sẽ có đường dẫn tới bài viết trong thư."},
    {"note.too_long", NULL, "Lời nhắn dài quá {{note_max}} ký tự. Hãy viết ngắn lại."},
    {"form.honeypot", NULL, "Không gửi được biểu mẫu. Vui lòng tải lại trang rồi thử lại."},
    {"csrf.used", NULL,
     "Biểu mẫu này đã được dùng. Các thông tin bạn nhập vẫn còn dưới đây: hãy bấm gửi lại."},
    {"csrf.expired", NULL,
     "Biểu mẫu đã để quá lâu nên hết hạn. Các thông tin bạn nhập vẫn còn dưới đây: hãy bấm gửi "
     "lại."},
    {"csrf.invalid", NULL, "Không gửi được biểu mẫu. Vui lòng tải lại trang rồi thử lại."},
    {"csrf.other_site", NULL,
     "Biểu mẫu này được gửi từ một trang khác. Vui lòng mở trang của chúng tôi và gửi lại."},
    {"csrf.no_cookie", NULL,
     "Trình duyệt không gửi lại cookie của biểu mẫu. Vui lòng cho phép cookie cho trang này rồi "
     "tải lại trang."},
    {"rate.ip", NULL, "Bạn đã gửi nhiều lần trong một giờ qua. Vui lòng thử lại sau ít phút."},
    {"rate.sender", NULL,
     "Địa chỉ email của bạn đã gửi nhiều lần trong một giờ qua. Vui lòng thử lại sau."},
    {"rate.global", NULL, "Hệ thống đang quá tải. Vui lòng thử lại sau ít phút."},
    {"article.not_found", "Không tìm thấy bài viết",
     "Bài viết bạn muốn gửi không tồn tại hoặc đã bị gỡ."},

    /* ---- the subscribe form and the links in mails ---- */
    {"list.missing", NULL, "Vui lòng chọn bản tin bạn muốn nhận."},
    {"list.not_found", NULL,
     "Bản tin này không có hoặc không còn nhận đăng ký. Hãy chọn bản tin khác."},
    {"rate.subscribe", "Quá nhiều yêu cầu",
     "Có quá nhiều lượt đăng ký từ mạng của bạn trong một giờ qua. Vui lòng thử lại sau."},
    {"link.invalid", "Liên kết không hợp lệ",
     "Liên kết này không đúng. Hãy mở lại thư và bấm vào liên kết trong thư, hoặc sao chép đủ "
     "cả địa chỉ."},
    {"link.confirm_gone", "Không tìm thấy đăng ký",
     "Đăng ký này không còn, hoặc bạn đã hủy đăng ký. Bạn có thể đăng ký lại."},
    {"link.confirm_other_site", "Không xác nhận được",
     "Yêu cầu xác nhận này được gửi từ một trang khác. Hãy mở lại thư và bấm vào liên kết trong "
     "thư."},
    {"link.unsubscribe_other_site", "Không hủy đăng ký được",
     "Yêu cầu hủy đăng ký này được gửi từ một trang khác. Hãy mở lại thư và bấm vào liên kết "
     "trong thư."},
    {"link.unsubscribe_gone", "Không tìm thấy đăng ký",
     "Địa chỉ này không còn trong danh sách nhận tin, nên bạn sẽ không nhận thư nữa."},

    /* ---- any page ---- */
    {"field.invalid", NULL, "Thông tin ở ô này chưa đúng. Hãy kiểm tra lại."},
    {"form.invalid", "Không đọc được biểu mẫu",
     "Biểu mẫu gửi lên có ký tự không đọc được. Vui lòng tải lại trang rồi thử lại."},
    {"form.content_type", "Không đọc được biểu mẫu",
     "Trình duyệt đã gửi biểu mẫu theo cách trang này không nhận. Vui lòng tải lại trang rồi "
     "thử lại."},
    {"request.too_large", "Nội dung quá lớn",
     "Thông tin gửi lên quá dài. Hãy rút ngắn lời nhắn rồi thử lại."},
    {"page.not_found", "Không tìm thấy trang", "Trang bạn tìm không có. Hãy kiểm tra lại địa chỉ."},
    {"page.bad_address", "Địa chỉ không hợp lệ",
     "Địa chỉ trang này không đúng. Hãy quay lại bài viết và bấm nút “Gửi Email” một lần nữa."},
    {"page.method", "Không mở được trang", "Trang này không mở được theo cách đó."},
    {"media.not_found", "Không tìm thấy ảnh", "Ảnh này không có hoặc đã bị gỡ."},
    {"page.unavailable", "Dịch vụ tạm thời gián đoạn", "Xin vui lòng thử lại sau ít phút."},
    {"page.error", "Đã có lỗi", "Đã có lỗi xảy ra. Xin vui lòng thử lại sau ít phút."},
    {NULL, NULL, NULL},
};

const struct http_msg *http_msg_get(const char *reason)
{
    if (!reason || !*reason)
        return NULL;
    for (const struct http_msg *m = http_msgs; m->reason; m++)
        if (!strcmp(m->reason, reason))
            return m;
    return NULL;
}

const struct http_msg *http_msg_or(const char *reason, const char *fallback)
{
    const struct http_msg *m = http_msg_get(reason);
    if (!m)
        m = http_msg_get(fallback);
    if (!m)
        m = http_msg_get("page.error");
    return m;
}

enum merr http_msg_text(const char *reason, const char *fallback, json_t *vars, struct buf *out)
{
    const struct http_msg *m = http_msg_or(reason, fallback);
    struct tpl *t = NULL;
    enum merr rc;

    if (!strstr(m->text, "{{"))
        return buf_puts(out, m->text);
    rc = tpl_parse(m->text, strlen(m->text), TPL_ESCAPE_NONE, &t);
    if (!rc)
        rc = tpl_render(t, NULL, NULL, vars ? &vars : NULL, vars ? 1 : 0, out);
    tpl_free(t);
    return rc;
}

json_t *http_msg_json(const char *reason, const char *fallback, json_t *vars)
{
    struct buf b;
    json_t *s;
    buf_init(&b, 4096);
    if (http_msg_text(reason, fallback, vars, &b))
        buf_reset(&b);
    s = json_string(b.data ? b.data : "");
    buf_free(&b);
    return s;
}
