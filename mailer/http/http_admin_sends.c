/*
 * http_admin_sends.c: sends (every share, digest, confirmation, breaking
 * news and test) with live progress, and the digests of each list.
 *
 *   GET  /admin/sends[?kind=&status=&before=]  past and running sends with
 *                                    their counts, newest first (keyset)
 *   GET  /admin/sends/ID             one send: progress and its actions
 *   GET  /admin/sends/ID/progress.json   the same numbers, for the page's
 *                                    script (live progress) and for tests
 *   POST /admin/sends/ID/pause|resume|cancel
 *   GET  /admin/digests              each list: schedule and recent digests
 *   GET  /admin/digests/SLUG[?since=YYYY-MM-DD]   the next digest exactly as
 *                                    it will be delivered: its HTML in a
 *                                    sandboxed iframe, its text part, subject
 *   POST /admin/digests/SLUG/test    the same message to the signed-in
 *                                    person's address (a send of one)
 *   POST /admin/digests/SLUG/send    send it now (digest_create: once per
 *                                    list and week; a second click answers
 *                                    with the digest already made)
 *
 * The counts are the maintained per-send counters, so a million-envelope
 * send's page and its progress JSON cost one row. Without JavaScript a
 * running send's page reloads itself every 3 seconds (<noscript> meta
 * refresh); with it, admin.js updates the numbers from progress.json.
 *
 * The preview is digest_preview's message (rendered through the same plan
 * and personal parts as delivery) taken apart by compose_preview; the HTML
 * goes into <iframe sandbox srcdoc>: no script runs in it, it cannot reach
 * this page, and its photos are data: URLs of the message's own parts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "date.h"
#include "digest.h"
#include "http_admin.h"
#include "outbox.h"
#include "subs.h"

#define PAGE 50

static const char *status_label(const char *s)
{
    if (!strcmp(s, "active"))
        return "đang gửi";
    if (!strcmp(s, "paused"))
        return "tạm dừng";
    if (!strcmp(s, "done"))
        return "đã xong";
    if (!strcmp(s, "cancelled"))
        return "đã huỷ";
    return s;
}

static json_t *send_json(struct db *db, const struct outbox_send_row *s)
{
    json_t *j = http_admin_send_progress(db, s);
    json_object_set_new(j, "kind_label", json_string(http_admin_label(s->kind)));
    json_object_set_new(j, "status_label", json_string(status_label(s->status)));
    json_object_set_new(j, "active", json_boolean(!strcmp(s->status, "active")));
    json_object_set_new(j, "paused", json_boolean(!strcmp(s->status, "paused")));
    json_object_set_new(j, "finished_at", http_admin_time(s->finished_at));
    json_object_set_new(j, "has_failed", json_boolean(s->counts.by_state[OUTBOX_FAILED] > 0));
    return j;
}

static void sends_page(struct http_admin *a)
{
    struct outbox_send_filter f;
    struct outbox_send_row *v = NULL;
    size_t n = 0;
    const char *kind = http_query(a->r, "kind"), *status = http_query(a->r, "status");
    json_t *rows, *d;
    enum merr rc;

    memset(&f, 0, sizeof f);
    f.kind = kind && *kind ? kind : NULL;
    f.status = status && *status ? status : NULL;
    f.before = http_admin_id(http_query(a->r, "before"));
    f.limit = PAGE;
    rc = outbox_send_list(a->db, &f, &v, &n);
    if (rc)
        return http_admin_fail(a, rc, "sends");
    rows = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, send_json(a->db, &v[i]));
    d = json_pack("{s:s, s:o, s:s, s:s}", "title", "Các lần gửi", "sends", rows, "kind",
                  f.kind ? f.kind : "", "status", f.status ? f.status : "");
    if (n == PAGE) {
        char next[256];
        snprintf(next, sizeof next, "/admin/sends?kind=%s&status=%s&before=%lld",
                 f.kind ? f.kind : "", f.status ? f.status : "", v[n - 1].id);
        json_object_set_new(d, "next", json_string(next));
    }
    free(v);
    http_admin_page(a, 200, "sends", "sends", d);
}

static enum merr load_send(struct http_admin *a, long long id, struct outbox_send_row *out)
{
    struct outbox_send_filter f;
    struct outbox_send_row *v = NULL;
    size_t n = 0;
    enum merr rc;
    memset(&f, 0, sizeof f);
    f.id = id;
    f.limit = 1;
    rc = outbox_send_list(a->db, &f, &v, &n);
    if (!rc && !n)
        rc = merr_set(MERR_NOTFOUND, "không có lần gửi #%lld", id);
    if (!rc)
        *out = v[0];
    free(v);
    return rc;
}

static void send_page(struct http_admin *a, long long id)
{
    struct outbox_send_row s;
    json_t *d;
    enum merr rc = load_send(a, id, &s);
    if (rc)
        return http_admin_fail(a, rc, "send");
    d = send_json(a->db, &s);
    http_admin_page(a, 200, "send", "sends",
                    json_pack("{s:s, s:o, s:b}", "title", "Lần gửi", "s", d, "running",
                              !strcmp(s.status, "active") || !strcmp(s.status, "paused")));
}

static void progress_json(struct http_admin *a, long long id)
{
    struct outbox_send_row s;
    json_t *j;
    enum merr rc = load_send(a, id, &s);
    if (rc == MERR_NOTFOUND)
        return http_reply_error(a->r, 404, "not_found", "no such send", NULL);
    if (rc)
        return http_reply_error(a->r, 503, "unavailable", "try again", NULL);
    j = send_json(a->db, &s);
    json_object_set_new(j, "status_label", json_string(status_label(s.status)));
    http_reply_json(a->r, 200, j);
    http_header(a->r, "Cache-Control", "no-store");
}

static void send_action(struct http_admin *a, long long id, const char *action)
{
    char loc[64];
    long long cancelled = 0;
    enum merr rc;
    const char *code;

    http_admin_lock(a);
    if (!strcmp(action, "pause")) {
        rc = outbox_send_pause(a->db, id);
        code = "paused";
    } else if (!strcmp(action, "resume")) {
        rc = outbox_send_resume(a->db, id, date_now());
        code = "resumed";
    } else {
        rc = outbox_send_cancel(a->db, id, date_now(), &cancelled);
        code = "cancelled";
    }
    if (!rc) {
        char obj[32];
        snprintf(obj, sizeof obj, "#%lld", id);
        http_admin_audit(a,
                         !strcmp(action, "pause")    ? "send.pause"
                         : !strcmp(action, "resume") ? "send.resume"
                                                     : "send.cancel",
                         obj, cancelled ? "%lld thư chưa gửi đã huỷ" : NULL, cancelled);
    }
    http_admin_unlock(a);
    if (rc == MERR_INVAL)
        return http_admin_error(a, 409, "Không thực hiện được",
                                "Lần gửi này đã xong hoặc đã bị huỷ.");
    if (rc)
        return http_admin_fail(a, rc, action);
    snprintf(loc, sizeof loc, "/admin/sends/%lld", id);
    http_admin_done(a, loc, code);
}

void http_admin_sends(struct http_admin *a, const char *rest)
{
    const char *action;
    long long id;

    if (!*rest) {
        if (!http_admin_get_only(a))
            return;
        return sends_page(a);
    }
    if (!(id = http_admin_split(rest, &action)))
        return http_admin_error(a, 404, "Không tìm thấy", "");
    if (!*action) {
        if (!http_admin_get_only(a))
            return;
        return send_page(a, id);
    }
    if (!strcmp(action, "progress.json")) {
        if (!http_admin_get_only(a))
            return;
        return progress_json(a, id);
    }
    if (!strcmp(action, "pause") || !strcmp(action, "resume") || !strcmp(action, "cancel")) {
        if (!a->post)
            return http_admin_bad_method(a, "POST");
        return send_action(a, id, action);
    }
    http_admin_error(a, 404, "Không tìm thấy trang", "");
}

/* ---- digests ---- */

/* "YYYY-MM-DD" as local midnight; 0 if absent or empty; -1 if malformed. */
time_t http_admin_day(const char *s)
{
    struct tm tm;
    int y, m, d;
    char tail;
    if (!s || !*s)
        return 0;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 || y > 9999 || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

static void digests_page(struct http_admin *a)
{
    struct subs_list *v = NULL;
    size_t n = 0;
    json_t *arr;
    enum merr rc = subs_list_all(a->db, &v, &n);
    static const char *const days[7] = {"Chủ nhật", "Thứ hai", "Thứ ba", "Thứ tư",
                                        "Thứ năm",  "Thứ sáu", "Thứ bảy"};
    if (rc)
        return http_admin_fail(a, rc, "lists");
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct digest_info *dv = NULL;
        size_t dn = 0;
        json_t *recent = json_array();
        if (digest_list(a->db, v[i].slug, 5, &dv, &dn) == MERR_OK) {
            for (size_t k = 0; k < dn; k++)
                json_array_append_new(
                    recent,
                    json_pack("{s:s, s:o, s:i, s:I, s:o}", "period", dv[k].period, "send",
                              dv[k].send_id ? json_integer(dv[k].send_id) : json_null(), "articles",
                              dv[k].articles, "recipients", (json_int_t)dv[k].recipients, "created",
                              http_admin_time(dv[k].created_at)));
            free(dv);
        }
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:b, s:s, s:s, s:I, s:o}", "slug", v[i].slug, "name",
                           v[i].name, "enabled", v[i].digest_enabled, "weekday",
                           days[v[i].digest_weekday % 7], "time", v[i].digest_time, "confirmed",
                           (json_int_t)v[i].n_confirmed, "recent", recent));
    }
    subs_lists_free(v, n);
    http_admin_page(a, 200, "digests", "digests",
                    json_pack("{s:s, s:o}", "title", "Bản tin", "lists", arr));
}

/*
 * Renders a message preview page ("preview" template) for a composed
 * message, or its error: shared by digests and breaking news.
 */
void http_admin_preview(struct http_admin *a, const char *nav, json_t *d, const struct buf *msg)
{
    struct compose_preview p;
    enum merr rc = compose_preview(msg->data ? msg->data : "", msg->len, &p);
    if (rc) {
        json_decref(d);
        return http_admin_fail(a, rc, "preview");
    }
    json_object_set_new(d, "preview",
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "subject",
                                  p.subject ? p.subject : "", "from", p.from ? p.from : "", "to",
                                  p.to ? p.to : "", "text", p.text, "html", p.html, "kb",
                                  (json_int_t)((p.size + 1023) / 1024)));
    compose_preview_clear(&p);
    http_admin_page(a, 200, "preview", nav, d);
}

static void digest_preview_page(struct http_admin *a, const char *slug, int status,
                                const char *error)
{
    struct subs_list l;
    struct buf msg;
    const char *since_s = http_query(a->r, "since");
    time_t since = http_admin_day(since_s);
    json_t *d;
    enum merr rc = subs_list_get(a->db, slug, &l);
    if (rc)
        return http_admin_fail(a, rc, "list");
    d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "title", "Xem trước bản tin", "kind", "digest",
                  "slug", l.slug, "name", l.name, "since", since_s ? since_s : "", "confirmed",
                  (json_int_t)l.n_confirmed);
    subs_list_clear(&l);
    {
        char action[128];
        snprintf(action, sizeof action, "/admin/digests/%s", slug);
        json_object_set_new(d, "action", json_string(action));
    }
    if (error)
        json_object_set_new(d, "error", json_string(error));
    if (since < 0) {
        json_object_set_new(d, "error", json_string("Ngày bắt đầu: dạng năm-tháng-ngày."));
        return http_admin_page(a, 400, "preview", "digests", d);
    }
    buf_init(&msg, a->r->ctx->cfg->message_max_bytes);
    http_admin_lock(a); /* the preview writes in a transaction it rolls back */
    rc = digest_preview_since(a->db, a->r->ctx->cfg, slug, NULL, since, date_now(), &msg);
    http_admin_unlock(a);
    if (rc == MERR_NOTFOUND) {
        buf_free(&msg);
        json_object_set_new(d, "empty",
                            json_string("Chưa có bài mới nào kể từ bản tin trước. Chọn một "
                                        "ngày bắt đầu sớm hơn để xem và gửi các bài từ ngày "
                                        "đó."));
        return http_admin_page(a, status, "preview", "digests", d);
    }
    if (rc) {
        buf_free(&msg);
        json_decref(d);
        return http_admin_fail(a, rc, "digest preview");
    }
    if (status != 200) {
        buf_free(&msg);
        return http_admin_page(a, status, "preview", "digests", d);
    }
    http_admin_preview(a, "digests", d, &msg);
    buf_free(&msg);
}

static void digest_send(struct http_admin *a, const char *slug)
{
    struct digest_info di;
    const char *since_s = http_admin_field(a, "since");
    time_t since = http_admin_day(since_s);
    char loc[64];
    enum merr rc;

    if (since < 0)
        return digest_preview_page(a, slug, 400, "Ngày bắt đầu: dạng năm-tháng-ngày.");
    memset(&di, 0, sizeof di);
    http_admin_lock(a);
    rc = digest_create(a->db, a->r->ctx->cfg, slug, NULL, since, date_now(), &di);
    if (!rc)
        http_admin_audit(a, "digest.send", slug, "kỳ %s, %d bài, %lld người nhận, lần gửi #%lld",
                         di.period, di.articles, di.recipients, di.send_id);
    http_admin_unlock(a);
    if (rc == MERR_EXISTS) {
        /* a second click, or this week's digest was already made: show it */
        struct digest_info *dv = NULL;
        size_t n = 0;
        if (digest_list(a->db, slug, 1, &dv, &n) == MERR_OK && n && dv[0].send_id) {
            snprintf(loc, sizeof loc, "/admin/sends/%lld", dv[0].send_id);
            free(dv);
            return http_admin_done(a, loc, "already");
        }
        free(dv);
        return http_admin_error(a, 409, "Bản tin tuần này đã được gửi",
                                "Mỗi danh sách chỉ gửi một bản tin mỗi tuần.");
    }
    if (rc == MERR_NOTFOUND)
        return digest_preview_page(a, slug, 409,
                                   "Không có bài mới để gửi. Chọn ngày bắt đầu sớm hơn.");
    if (rc)
        return http_admin_fail(a, rc, "digest send");
    snprintf(loc, sizeof loc, "/admin/sends/%lld", di.send_id);
    http_admin_done(a, loc, "sending");
}

void http_admin_digests(struct http_admin *a, const char *rest)
{
    char slug[SUBS_SLUG_MAX + 1];
    const char *slash = strchr(rest, '/'), *action;
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

    if (!*rest) {
        if (!http_admin_get_only(a))
            return;
        return digests_page(a);
    }
    if (n > SUBS_SLUG_MAX)
        return http_admin_error(a, 404, "Không tìm thấy danh sách", "");
    memcpy(slug, rest, n);
    slug[n] = '\0';
    action = slash ? slash + 1 : "";
    if (!*action) {
        if (!http_admin_get_only(a))
            return;
        return digest_preview_page(a, slug, 200, NULL);
    }
    if (!strcmp(action, "send")) {
        if (!a->post)
            return http_admin_bad_method(a, "POST");
        return digest_send(a, slug);
    }
    if (!strcmp(action, "test")) {
        if (!a->post)
            return http_admin_bad_method(a, "POST");
        return http_admin_send_test(a, "digest", slug, NULL, http_admin_field(a, "since"));
    }
    http_admin_error(a, 404, "Không tìm thấy trang", "");
}
