/*
 * http_texts.c: see http_texts.h. Each sentence names the field and what
 * to do about it.
 */
#include "http_texts.h"

#include <stdio.h>

void http_text_fault(char *out, size_t size, const char *what, enum text_fault f, size_t max_chars)
{
    switch (f) {
    case TEXT_OK:
        snprintf(out, size, "%s hợp lệ.", what);
        return;
    case TEXT_BAD_UTF8:
        snprintf(out, size, "%s chứa ký tự không hợp lệ.", what);
        return;
    case TEXT_LINE_BREAK:
        snprintf(out, size, "%s không được chứa ký tự xuống dòng.", what);
        return;
    case TEXT_CONTROL:
        snprintf(out, size, "%s chứa ký tự điều khiển hoặc ký tự ẩn không được phép.", what);
        return;
    case TEXT_LINK:
        snprintf(out, size,
                 "%s không được chứa đường dẫn, địa chỉ email hay tên miền (như vi-du.vn). Nếu "
                 "là chức danh viết tắt, hãy thêm dấu cách sau dấu chấm (ví dụ: \"PGS. TS\").",
                 what);
        return;
    case TEXT_TOO_LONG:
        snprintf(out, size, "%s dài quá %zu ký tự.", what, max_chars);
        return;
    }
    snprintf(out, size, "%s không hợp lệ.", what);
}
