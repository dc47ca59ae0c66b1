/*
 * http_admin_lists.c: lists and every setting of a list.
 *
 *   GET  /admin/lists                 the lists with their counts by state
 *   GET  /admin/lists/new, POST       create (slug, name, description, opt-in)
 *   GET  /admin/lists/SLUG, POST      every setting: name, description,
 *                                     opt-in, the digest's weekday, time,
 *                                     category, size, subject, template and
 *                                     whether it is sent at all
 *   POST /admin/lists/SLUG/remove     delete the list and its subscriptions
 *   GET  /admin/lists/SLUG/export.csv the list as CSV (subs_export_csv)
 *
 * Settings are changed all or none by subs_list_update, which checks each
 * field (a template must exist and parse, a subject must parse); a refusal
 * shows the form again with what was typed, the field marked
 * (aria-invalid) and a Vietnamese message beside it. Counts are the
 * maintained counters (list_counts), not a count of the subscriptions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "http_admin.h"
#include "subs.h"

static const char *const weekdays[7] = {"Chủ nhật", "Thứ hai", "Thứ ba", "Thứ tư",
                                        "Thứ năm",  "Thứ sáu", "Thứ bảy"};

/* The Vietnamese message for a refused field (names as in struct subs_list_update). */
static const char *field_message(const char *field)
{
    static const struct {
        const char *field;
        const char *text;
    } m[] = {
        {"slug", "Mã danh sách: 1 đến 64 ký tự a-z, 0-9 và dấu gạch ngang, không bắt đầu hay kết "
                 "thúc bằng gạch ngang, chưa có danh sách nào dùng."},
        {"name", "Tên: 1 đến 200 ký tự trên một dòng."},
        {"description", "Mô tả: tối đa 2000 ký tự, không có ký tự điều khiển."},
        {"optin", "Cách xác nhận: chọn một lần hoặc hai lần."},
        {"digest_weekday", "Ngày gửi: chọn một ngày trong tuần."},
        {"digest_time", "Giờ gửi: dạng HH:MM, từ 00:00 đến 23:59."},
        {"digest_category", "Chuyên mục: một dòng văn bản, hoặc để trống để lấy mọi chuyên mục."},
        {"digest_max_articles", "Số bài tối đa: từ 1 đến 100."},
        {"digest_subject", "Tiêu đề: không để trống, một dòng, tối đa 300 ký tự, đúng cú pháp "
                           "Mustache (ví dụ {{week}}, {{site}})."},
        {"digest_template", "Mẫu thư: tên một mẫu có sẵn (email/TÊN.html và email/TÊN.txt), chỉ "
                            "gồm a-z, 0-9, - và _."},
        {"digest_enabled", "Gửi bản tin: có hoặc không."},
    };
    for (size_t i = 0; field && i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(m[i].field, field))
            return m[i].text;
    return NULL;
}

static json_t *list_json(const struct subs_list *l)
{
    json_t *days = json_array();
    for (int i = 0; i < 7; i++) {
        int d = (i + 1) % 7; /* Monday first */
        json_array_append_new(days, json_pack("{s:i, s:s, s:b}", "value", d, "label", weekdays[d],
                                              "selected", l->digest_weekday == d));
    }
    return json_pack(
        "{s:s, s:s, s:s, s:b, s:o, s:s, s:s, s:i, s:s, s:s, s:b, s:I, s:I, s:I, s:s, s:o, s:o}",
        "slug", l->slug, "name", l->name ? l->name : "", "description",
        l->description ? l->description : "", "double", l->double_optin, "weekdays", days,
        "weekday_label", weekdays[l->digest_weekday % 7], "digest_time", l->digest_time,
        "digest_max", l->digest_max_articles, "digest_subject",
        l->digest_subject ? l->digest_subject : "", "digest_template",
        l->digest_template ? l->digest_template : "", "digest_enabled", l->digest_enabled,
        "confirmed", (json_int_t)l->n_confirmed, "unconfirmed", (json_int_t)l->n_unconfirmed,
        "unsubscribed", (json_int_t)l->n_unsubscribed, "digest_category",
        l->digest_category ? l->digest_category : "", "created", http_admin_time(l->created_at),
        "updated", http_admin_time(l->updated_at));
}

static void index_page(struct http_admin *a)
{
    struct subs_list *v = NULL;
    size_t n = 0;
    json_t *arr;
    enum merr rc = subs_list_all(a->db, &v, &n);
    if (rc)
        return http_admin_fail(a, rc, "lists");
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, list_json(&v[i]));
    subs_lists_free(v, n);
    http_admin_page(a, 200, "lists", "lists",
                    json_pack("{s:s, s:o}", "title", "Danh sách", "lists", arr));
}

/* Marks `field` refused on the page data: "bad": {FIELD: true} and its message. */
static void mark(json_t *d, const char *field, const char *fallback)
{
    const char *m = field_message(field);
    json_object_set_new(d, "error", json_string(m ? m : fallback));
    if (field)
        json_object_set_new(d, "bad", json_pack("{s:b}", field, 1));
}

static void new_page(struct http_admin *a, int status, const char *field, const char *fallback)
{
    const char *slug = http_admin_field(a, "slug"), *name = http_admin_field(a, "name");
    const char *desc = http_admin_field(a, "description"), *optin = http_admin_field(a, "optin");
    json_t *d = json_pack("{s:s, s:{s:s, s:s, s:s, s:b}}", "title", "Tạo danh sách", "form", "slug",
                          slug ? slug : "", "name", name ? name : "", "description",
                          desc ? desc : "", "single", optin && !strcmp(optin, "single"));
    if (status != 200)
        mark(d, field, fallback);
    http_admin_page(a, status, "list_new", "lists", d);
}

static void create(struct http_admin *a)
{
    const char *slug = http_admin_field(a, "slug"), *name = http_admin_field(a, "name");
    const char *desc = http_admin_field(a, "description"), *optin = http_admin_field(a, "optin");
    long long id = 0;
    enum merr rc;

    http_admin_lock(a);
    rc = subs_list_create(a->db, slug ? slug : "", name ? name : "", desc, optin, date_now(), &id);
    if (!rc)
        http_admin_audit(a, "list.create", slug, "tên \"%s\", xác nhận %s", name,
                         optin && !strcmp(optin, "single") ? "một lần" : "hai lần");
    http_admin_unlock(a);
    if (rc == MERR_INVAL || rc == MERR_EXISTS) {
        const char *m = merr_msg();
        return new_page(a, rc == MERR_EXISTS ? 409 : 400,
                        strstr(m, "slug") || rc == MERR_EXISTS ? "slug"
                        : strstr(m, "opt-in")                  ? "optin"
                        : strstr(m, "description")             ? "description"
                                                               : "name",
                        m);
    }
    if (rc)
        return http_admin_fail(a, rc, "list create");
    {
        char loc[128];
        snprintf(loc, sizeof loc, "/admin/lists/%s", slug);
        http_admin_done(a, loc, "created");
    }
}

static void edit_page(struct http_admin *a, const char *slug, int status, const char *field,
                      const char *fallback)
{
    struct subs_list l;
    json_t *d, *lj;
    enum merr rc = subs_list_get(a->db, slug, &l);
    if (rc)
        return http_admin_fail(a, rc, "list");
    lj = list_json(&l);
    if (status != 200) {
        /* show what was typed, not what is stored */
        static const char *const keep[] = {"name",           "description",
                                           "digest_time",    "digest_category",
                                           "digest_subject", "digest_template"};
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
            const char *v = http_admin_field(a, keep[i]);
            if (v)
                json_object_set_new(lj, keep[i], json_string(v));
        }
    }
    d = json_pack("{s:s, s:o}", "title", l.name ? l.name : l.slug, "list", lj);
    subs_list_clear(&l);
    if (status != 200)
        mark(d, field, fallback);
    http_admin_page(a, status, "list", "lists", d);
}

/* A whole number field (SUBS_UNCHANGED when absent); -2 when it is not a number. */
static int int_field(struct http_admin *a, const char *name)
{
    const char *v = http_admin_field(a, name);
    char *end;
    long x;
    if (!v || !*v)
        return SUBS_UNCHANGED;
    x = strtol(v, &end, 10);
    if (*end || x < 0 || x > 100000)
        return -2;
    return (int)x;
}

static void save(struct http_admin *a, const char *slug)
{
    struct subs_list_update u;
    const char *field = NULL, *optin = http_admin_field(a, "optin");
    enum merr rc;

    subs_list_update_init(&u);
    u.name = http_admin_field(a, "name");
    u.description = http_admin_field(a, "description");
    u.optin = optin && *optin ? optin : NULL;
    u.digest_time = http_admin_field(a, "digest_time");
    u.digest_category = http_admin_field(a, "digest_category");
    u.digest_subject = http_admin_field(a, "digest_subject");
    u.digest_template = http_admin_field(a, "digest_template");
    u.digest_weekday = int_field(a, "digest_weekday");
    u.digest_max_articles = int_field(a, "digest_max_articles");
    /* a checkbox: present when checked; the form always sends digest_form */
    if (http_admin_field(a, "digest_form"))
        u.digest_enabled = http_admin_field(a, "digest_enabled") != NULL;
    if (u.digest_weekday == -2 || u.digest_weekday > 6)
        return edit_page(a, slug, 400, "digest_weekday", NULL);
    if (u.digest_max_articles == -2 || u.digest_max_articles == 0 ||
        u.digest_max_articles > SUBS_DIGEST_MAX_ARTICLES)
        return edit_page(a, slug, 400, "digest_max_articles", NULL);
    http_admin_lock(a);
    rc = subs_list_update(a->db, a->r->ctx->cfg, slug, &u, &field);
    if (!rc)
        http_admin_audit(a, "list.update", slug, "tên \"%s\", bản tin %s, %s %s",
                         u.name ? u.name : "",
                         u.digest_enabled == 1   ? "bật"
                         : u.digest_enabled == 0 ? "tắt"
                                                 : "không đổi",
                         u.digest_weekday >= 0 ? weekdays[u.digest_weekday] : "",
                         u.digest_time ? u.digest_time : "");
    http_admin_unlock(a);
    if (rc == MERR_INVAL)
        return edit_page(a, slug, 400, field, merr_msg());
    if (rc)
        return http_admin_fail(a, rc, "list save");
    char loc[128];
    snprintf(loc, sizeof loc, "/admin/lists/%s", slug);
    http_admin_done(a, loc, "saved");
}

static void remove_list(struct http_admin *a, const char *slug)
{
    enum merr rc;
    http_admin_lock(a);
    rc = subs_list_remove(a->db, slug);
    if (!rc)
        http_admin_audit(a, "list.remove", slug, NULL);
    http_admin_unlock(a);
    if (rc)
        return http_admin_fail(a, rc, "list remove");
    http_admin_done(a, "/admin/lists", "removed");
}

static void export_csv(struct http_admin *a, const char *slug)
{
    struct subs_filter f;
    char *data = NULL, disp[160];
    size_t len = 0;
    FILE *out;
    enum merr rc;

    memset(&f, 0, sizeof f);
    f.list_slug = slug;
    out = open_memstream(&data, &len);
    if (!out)
        return http_admin_fail(a, merr_set(MERR_NOMEM, "out of memory"), "export");
    rc = subs_export_csv(a->db, &f, out, SUBS_EXPORT_BOM, NULL);
    fclose(out);
    if (rc) {
        free(data);
        return http_admin_fail(a, rc, "export");
    }
    http_reply(a->r, 200, "text/csv; charset=utf-8", data, len);
    free(data);
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.csv\"", slug);
    http_header(a->r, "Content-Disposition", disp);
    http_header(a->r, "Cache-Control", "no-store");
}

void http_admin_lists(struct http_admin *a, const char *rest)
{
    char slug[SUBS_SLUG_MAX + 1];
    const char *slash = strchr(rest, '/'), *action;
    size_t n;

    if (!*rest) {
        if (!http_admin_get_only(a))
            return;
        return index_page(a);
    }
    if (!strcmp(rest, "new")) {
        if (a->post)
            return create(a);
        return new_page(a, 200, NULL, NULL);
    }
    n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!n || n > SUBS_SLUG_MAX)
        return http_admin_error(a, 404, "Không tìm thấy danh sách", "");
    memcpy(slug, rest, n);
    slug[n] = '\0';
    action = slash ? slash + 1 : "";
    if (!*action) {
        if (a->post)
            return save(a, slug);
        return edit_page(a, slug, 200, NULL, NULL);
    }
    if (!strcmp(action, "remove")) {
        if (!a->post)
            return http_admin_bad_method(a, "POST");
        return remove_list(a, slug);
    }
    if (!strcmp(action, "export.csv")) {
        if (!http_admin_get_only(a))
            return;
        return export_csv(a, slug);
    }
    http_admin_error(a, 404, "Không tìm thấy trang", "");
}
