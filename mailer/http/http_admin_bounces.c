/*
 * http_admin_bounces.c: what came back on the return path (mailer/bounce):
 * each message with the class of each recipient, what it caused, the raw
 * message for review, and undo.
 *
 *   GET  /admin/bounces[?state=&q=&before=]  newest first (keyset), q a
 *                                   class ("hard", "complaint", ...) or an
 *                                   address
 *   GET  /admin/bounces/ID          recipients (class, reason, status, reply
 *                                   code, diagnostic, envelope), effects,
 *                                   the raw message as kept (escaped text)
 *   POST /admin/bounces/ID/undo     lift exactly what it caused
 *                                   (bounce_policy_undo)
 *
 * The bounce module's JSON (bounce_view_list/show, the same as `mailer
 * bounce ls|show`) is rendered as it is; the raw bytes may be anything a
 * stranger sent, so they are shown as text: invalid UTF-8 becomes U+FFFD
 * and the template escapes the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "date.h"
#include "http_admin.h"
#include "utf8.h"

#define PAGE 50

static const char *class_label(const char *c)
{
    static const struct {
        const char *k, *v;
    } m[] = {{"hard", "vĩnh viễn"},      {"soft", "tạm thời"},
             {"complaint", "khiếu nại"}, {"auto-reply", "trả lời tự động"},
             {"delivered", "đã nhận"},   {"unknown", "không rõ"}};
    for (size_t i = 0; c && i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(m[i].k, c))
            return m[i].v;
    return c ? c : "";
}

static const char *str_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

static json_t *time_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? http_admin_time((time_t)json_integer_value(v)) : json_string("");
}

/* `raw` as valid UTF-8 text: each invalid byte becomes U+FFFD. */
static json_t *text_of(const char *raw, size_t n)
{
    struct buf b;
    json_t *j;
    size_t i = 0;
    buf_init(&b, 0);
    while (i < n) {
        uint32_t c;
        size_t k = utf8_decode(raw + i, n - i, &c);
        if (!k || c == 0) {
            buf_puts(&b, "\xEF\xBF\xBD");
            i++;
            continue;
        }
        buf_append(&b, raw + i, k);
        i += k;
    }
    j = json_string(b.data ? b.data : "");
    buf_free(&b);
    return j ? j : json_string("");
}

/* Bounces of one address, for the person page (http_admin_subs.c). */
json_t *http_admin_bounces_of(struct http_admin *a, const char *email_key)
{
    struct bounce_filter f;
    json_t *v = NULL, *rows = json_array(), *o;
    size_t i;
    memset(&f, 0, sizeof f);
    f.match = email_key;
    f.limit = 20;
    if (bounce_view_list(a->db, &f, &v))
        return rows;
    json_array_foreach(v, i, o) json_array_append_new(
        rows, json_pack("{s:I, s:o, s:s, s:s, s:s}", "id",
                        (json_int_t)json_integer_value(json_object_get(o, "id")), "at",
                        time_of(o, "received_at"), "kind", str_of(o, "kind"), "state",
                        str_of(o, "state"), "recipients", str_of(o, "recipients")));
    json_decref(v);
    return rows;
}

static void list_page(struct http_admin *a)
{
    struct bounce_filter f;
    json_t *v = NULL, *rows, *o, *d;
    const char *q = http_query(a->r, "q"), *state = http_query(a->r, "state");
    size_t i;
    long long last = 0;
    enum merr rc;

    memset(&f, 0, sizeof f);
    f.before = http_admin_id(http_query(a->r, "before"));
    f.state = state && *state ? state : NULL;
    f.match = q && *q ? q : NULL;
    f.limit = PAGE;
    rc = bounce_view_list(a->db, &f, &v);
    if (rc)
        return http_admin_fail(a, rc, "bounces");
    rows = json_array();
    json_array_foreach(v, i, o)
    {
        last = (long long)json_integer_value(json_object_get(o, "id"));
        json_array_append_new(
            rows, json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:b}", "id", (json_int_t)last,
                            "at", time_of(o, "received_at"), "mailbox", str_of(o, "mailbox"),
                            "kind", str_of(o, "kind"), "state", str_of(o, "state"), "recipients",
                            str_of(o, "recipients"), "subject", str_of(o, "subject"), "undone",
                            json_is_integer(json_object_get(o, "undone_at"))));
    }
    d = json_pack("{s:s, s:o, s:s, s:s}", "title", "Thư trả lại", "rows", rows, "q", q ? q : "",
                  "state", state ? state : "");
    if (json_array_size(v) == PAGE) {
        struct buf next;
        buf_init(&next, 1024);
        buf_puts(&next, "/admin/bounces?q=");
        http_form_escape(&next, q ? q : "");
        buf_puts(&next, "&state=");
        http_form_escape(&next, state ? state : "");
        buf_printf(&next, "&before=%lld", last);
        json_object_set_new(d, "next", json_string(next.data));
        buf_free(&next);
    }
    json_decref(v);
    http_admin_page(a, 200, "bounces", "bounces", d);
}

static void show_page(struct http_admin *a, long long id)
{
    json_t *o = NULL, *rc_arr, *eff, *x, *d;
    char *raw = NULL;
    size_t raw_len = 0, i;
    enum merr rc = bounce_view_show(a->db, id, &o, &raw, &raw_len);
    if (rc)
        return http_admin_fail(a, rc, "bounce");
    rc_arr = json_array();
    json_array_foreach(json_object_get(o, "recipients"), i, x)
    {
        json_t *eid = json_object_get(x, "envelope_id");
        json_array_append_new(
            rc_arr,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "address",
                      str_of(x, "address"), "class", class_label(str_of(x, "class")), "reason",
                      str_of(x, "reason"), "status", str_of(x, "status"), "code",
                      str_of(x, "reply_code"), "diagnostic", str_of(x, "diagnostic"), "action",
                      str_of(x, "action"), "envelope",
                      json_is_integer(eid) ? json_copy(eid) : json_null(), "send",
                      json_copy(json_object_get(x, "send_id")), "by", str_of(x, "attributed_by")));
    }
    eff = json_array();
    json_array_foreach(json_object_get(o, "effects"), i, x) json_array_append_new(
        eff, json_pack("{s:s, s:s, s:b}", "kind", str_of(x, "kind"), "target", str_of(x, "target"),
                       "undone", json_is_integer(json_object_get(x, "undone_at"))));
    d = json_pack("{s:s, s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b}", "title",
                  "Thư trả lại", "id", (json_int_t)id, "at", time_of(o, "received_at"), "mailbox",
                  str_of(o, "mailbox"), "kind", str_of(o, "kind"), "state", str_of(o, "state"),
                  "note", str_of(o, "note"), "from", str_of(o, "from"), "subject",
                  str_of(o, "subject"), "recipients", rc_arr, "effects", eff, "raw",
                  raw ? text_of(raw, raw_len) : json_string(""), "undone",
                  json_is_integer(json_object_get(o, "undone_at")));
    free(raw);
    json_decref(o);
    http_admin_page(a, 200, "bounce", "bounces", d);
}

static void undo(struct http_admin *a, long long id)
{
    char loc[64], obj[32];
    int lifted = 0;
    enum merr rc;
    http_admin_lock(a);
    rc = bounce_policy_undo(a->db, id, date_now(), &lifted);
    if (!rc) {
        snprintf(obj, sizeof obj, "thư trả lại #%lld", id);
        http_admin_audit(a, "bounce.undo", obj, "%d việc được hoàn tác", lifted);
    }
    http_admin_unlock(a);
    if (rc)
        return http_admin_fail(a, rc, "bounce undo");
    snprintf(loc, sizeof loc, "/admin/bounces/%lld", id);
    http_admin_done(a, loc, "undone");
}

void http_admin_bounces(struct http_admin *a, const char *rest)
{
    const char *action;
    long long id;

    if (!*rest) {
        if (!http_admin_get_only(a))
            return;
        return list_page(a);
    }
    if (!(id = http_admin_split(rest, &action)))
        return http_admin_error(a, 404, "Không tìm thấy", "");
    if (!*action) {
        if (!http_admin_get_only(a))
            return;
        return show_page(a, id);
    }
    if (!strcmp(action, "undo")) {
        if (!a->post)
            return http_admin_bad_method(a, "POST");
        return undo(a, id);
    }
    http_admin_error(a, 404, "Không tìm thấy trang", "");
}
