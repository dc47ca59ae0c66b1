/*
 * http_admin_dash.c: the dashboard (GET /admin/), and its chart.
 *
 * Everything on it is read from maintained counters, so it costs the same
 * at a hundred subscribers as at millions: the 30-day chart from
 * daily_counts (outbox_daily_range: 30 rows), the running sends and their
 * progress from send_counts (outbox_send_list), list sizes from
 * list_counts (subs_list_all), the week's most shared articles from
 * share_counts (share_top), the queue from the sum of send_counts, the
 * health of the serve parent's parts from the front's health callback and
 * of each bounce mailbox from its last poll (bounce_view_health).
 *
 * The chart is an SVG drawn here (no script, no image library): one
 * polyline per series over 30 days, each series in its own colour and dash
 * pattern (so it does not rest on colour alone), a y axis with round
 * steps, and the day labels every 5 days. The same numbers are in a table
 * below it for screen readers and for reading exact values.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles.h"
#include "bounce.h"
#include "date.h"
#include "http_admin.h"
#include "outbox.h"
#include "share.h"
#include "subs.h"

#define DAYS    30
#define TOP_MAX 10
#define W       720
#define H       260
#define PAD_L   52
#define PAD_R   12
#define PAD_T   14
#define PAD_B   34

static const struct {
    const char *label;
    const char *color;
    const char *dash;
} series[OUTBOX_DAILY_KINDS] = {
    {"Đã gửi", "#2e7d32", ""},
    {"Hoãn (tạm thời)", "#8a5a00", "6 3"},
    {"Thất bại", "#a30000", "2 3"},
    {"Bị trả lại", "#5e35b1", "10 3 2 3"},
    {"Khiếu nại spam", "#1565c0", "1 2"},
};

/* A round step for the y axis: 1, 2 or 5 times a power of ten, about 4 lines. */
static long long step_for(long long max)
{
    long long s = 1;
    while (s * 5 < max) {
        if (s * 2 * 5 >= max)
            return s * 2;
        if (s * 5 * 5 >= max)
            return s * 5;
        s *= 10;
    }
    return s;
}

/* Appends the chart as SVG markup (trusted: only numbers and our own labels). */
static enum merr chart_svg(struct buf *b, const struct outbox_day *d)
{
    long long max = 0, step;
    double x0 = PAD_L, x1 = W - PAD_R, y0 = H - PAD_B, y1 = PAD_T;
    enum merr rc = MERR_OK;

    for (int i = 0; i < DAYS; i++)
        for (int k = 0; k < OUTBOX_DAILY_KINDS; k++)
            if (d[i].n[k] > max)
                max = d[i].n[k];
    step = step_for(max ? max : 1);
    max = ((max + step - 1) / step) * step;
    if (max == 0)
        max = step;
    rc = buf_printf(b,
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" role=\"img\" "
                    "aria-labelledby=\"chart-title chart-desc\" focusable=\"false\">"
                    "<title id=\"chart-title\">Thư mỗi ngày trong 30 ngày qua</title>"
                    "<desc id=\"chart-desc\">Số thư đã gửi, hoãn, thất bại, bị trả lại và khiếu "
                    "nại mỗi ngày, từ %s đến %s; số liệu chi tiết ở bảng bên dưới.</desc>",
                    W, H, d[0].day, d[DAYS - 1].day);
    for (long long v = 0; !rc && v <= max; v += step) {
        double y = y0 - (y0 - y1) * (double)v / (double)max;
        rc = buf_printf(b,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d9d9d9\"/>"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\" "
                        "fill=\"#333\">%lld</text>",
                        x0, y, x1, y, x0 - 6, y + 4, v);
    }
    for (int i = 0; !rc && i < DAYS; i += 5) {
        double x = x0 + (x1 - x0) * i / (DAYS - 1);
        /* "DD/MM" from "YYYY-MM-DD" */
        rc = buf_printf(b,
                        "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" "
                        "fill=\"#333\">%.2s/%.2s</text>",
                        x, H - 12, d[i].day + 8, d[i].day + 5);
    }
    if (!rc)
        rc =
            buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>",
                       x0, y0, x1, y0);
    for (int k = 0; !rc && k < OUTBOX_DAILY_KINDS; k++) {
        rc = buf_printf(b,
                        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"%s%s%s "
                        "data-series=\"%s\" points=\"",
                        series[k].color, *series[k].dash ? " stroke-dasharray=\"" : "",
                        series[k].dash, *series[k].dash ? "\"" : "",
                        outbox_daily_name((enum outbox_daily_kind)k));
        for (int i = 0; !rc && i < DAYS; i++)
            rc = buf_printf(b, "%s%.1f,%.1f", i ? " " : "", x0 + (x1 - x0) * i / (DAYS - 1),
                            y0 - (y0 - y1) * (double)d[i].n[k] / (double)max);
        if (!rc)
            rc = buf_puts(b, "\"/>");
    }
    if (!rc)
        rc = buf_puts(b, "</svg>");
    return rc;
}

static json_t *chart_json(const struct outbox_day *d)
{
    struct buf svg;
    json_t *legend = json_array(), *rows = json_array(), *j;
    long long total[OUTBOX_DAILY_KINDS] = {0};

    for (int i = DAYS; i-- > 0;) {
        json_t *cells = json_array();
        for (int k = 0; k < OUTBOX_DAILY_KINDS; k++) {
            json_array_append_new(cells, json_integer(d[i].n[k]));
            total[k] += d[i].n[k];
        }
        json_array_append_new(rows, json_pack("{s:s, s:o}", "day", d[i].day, "n", cells));
    }
    for (int k = 0; k < OUTBOX_DAILY_KINDS; k++)
        json_array_append_new(legend, json_pack("{s:s, s:s, s:s, s:I}", "label", series[k].label,
                                                "color", series[k].color, "key",
                                                outbox_daily_name((enum outbox_daily_kind)k),
                                                "total", (json_int_t)total[k]));
    buf_init(&svg, 0);
    j = json_pack("{s:o, s:o}", "legend", legend, "rows", rows);
    if (chart_svg(&svg, d) == MERR_OK)
        json_object_set_new(j, "svg", json_string(svg.data));
    buf_free(&svg);
    return j;
}

/* A send's progress as the pages and the progress JSON show it. */
json_t *http_admin_send_progress(struct db *db, const struct outbox_send_row *s)
{
    const long long *c = s->counts.by_state;
    struct subs_list l;
    char slug[128] = ""; /* its list's, from subscribers (none, or deleted: empty) */
    if (s->list_id && subs_list_get_id(db, s->list_id, &l) == MERR_OK) {
        snprintf(slug, sizeof slug, "%s", l.slug);
        subs_list_clear(&l);
    }
    long long done = c[OUTBOX_SENT] + c[OUTBOX_FAILED] + c[OUTBOX_CANCELLED];
    int pct = s->total ? (int)(done * 100 / s->total) : 100;
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:b, s:o}", "id",
        (json_int_t)s->id, "kind", s->kind, "status", s->status, "list", slug, "total",
        (json_int_t)s->total, "done", (json_int_t)done, "sent", (json_int_t)c[OUTBOX_SENT],
        "queued", (json_int_t)(c[OUTBOX_QUEUED] + c[OUTBOX_SENDING]), "deferred",
        (json_int_t)c[OUTBOX_DEFERRED], "failed", (json_int_t)c[OUTBOX_FAILED], "cancelled",
        (json_int_t)c[OUTBOX_CANCELLED], "left", (json_int_t)(s->total - done), "percent", pct,
        "finished", strcmp(s->status, "active") != 0 && strcmp(s->status, "paused") != 0, "created",
        http_admin_time(s->created_at));
}

static json_t *running_sends(struct http_admin *a)
{
    static const char *const statuses[] = {"active", "paused"};
    json_t *arr = json_array();
    for (int k = 0; k < 2; k++) {
        struct outbox_send_filter f;
        struct outbox_send_row *v = NULL;
        size_t n = 0;
        memset(&f, 0, sizeof f);
        f.status = statuses[k];
        f.limit = 20;
        if (outbox_send_list(a->db, &f, &v, &n))
            continue;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, http_admin_send_progress(a->db, &v[i]));
        free(v);
    }
    return arr;
}

static json_t *lists_json(struct http_admin *a)
{
    struct subs_list *v = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (subs_list_all(a->db, &v, &n))
        return arr;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:I}", "slug", v[i].slug, "name",
                                             v[i].name, "confirmed", (json_int_t)v[i].n_confirmed,
                                             "unconfirmed", (json_int_t)v[i].n_unconfirmed,
                                             "unsubscribed", (json_int_t)v[i].n_unsubscribed));
    subs_lists_free(v, n);
    return arr;
}

static json_t *top_json(struct http_admin *a, time_t now)
{
    struct share_top_row top[TOP_MAX];
    size_t n = 0;
    json_t *arr = json_array();
    if (share_top(a->db, now, 7, top, TOP_MAX, &n))
        return arr;
    for (size_t i = 0; i < n; i++) {
        struct article *art = NULL;
        const char *title = top[i].article_id;
        if (article_load(a->db, top[i].article_id, &art) == MERR_OK)
            title = art->title;
        json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:I, s:I}", "rank", (int)i + 1, "id",
                                             top[i].article_id, "title", title, "shares",
                                             (json_int_t)top[i].shares, "recipients",
                                             (json_int_t)top[i].recipients));
        article_free(art);
    }
    return arr;
}

static json_t *health_json(struct http_admin *a)
{
    static const struct {
        const char *name;
        const char *label;
    } known[] = {{"workers", "Tiến trình gửi thư"},
                 {"scheduler", "Bộ lập lịch bản tin"},
                 {"bounces", "Tiến trình đọc thư trả lại"}};
    struct http_part_health parts[HTTP_HEALTH_PARTS];
    const struct http_health *h = &a->r->ctx->health;
    size_t n = h->parts ? h->parts(h->arg, parts, HTTP_HEALTH_PARTS) : 0;
    json_t *arr = json_array();

    json_array_append_new(
        arr, json_pack("{s:s, s:s, s:b}", "label", "Cơ sở dữ liệu", "state", "hoạt động", "ok", 1));
    for (size_t i = 0; i < n; i++) {
        const char *label = parts[i].name;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (!strcmp(known[k].name, parts[i].name))
                label = known[k].label;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:b}", "label", label, "state",
                                             !parts[i].wanted ? "không chạy trong tiến trình này"
                                             : parts[i].alive ? "hoạt động"
                                                              : "đã dừng: xem nhật ký máy chủ",
                                             "ok", !parts[i].wanted || parts[i].alive));
    }
    /* each bounce mailbox: its last poll, and whether it worked */
    json_t *boxes = NULL, *b;
    size_t k;
    if (bounce_view_health(a->db, &boxes) == MERR_OK) {
        json_array_foreach(boxes, k, b)
        {
            char label[160], state[400];
            json_t *ok_at = json_object_get(b, "last_ok_at"),
                   *err = json_object_get(b, "last_error");
            json_t *poll_at = json_object_get(b, "last_poll_at");
            const char *name = json_string_value(json_object_get(b, "name"));
            /* fine when its last poll is its last good one */
            int ok = json_is_integer(ok_at) &&
                     (!json_is_integer(poll_at) ||
                      json_integer_value(poll_at) <= json_integer_value(ok_at));
            char when[DATE_ISO_LEN] = "";
            if (json_is_integer(ok_at))
                date_display((time_t)json_integer_value(ok_at), when);
            snprintf(label, sizeof label, "Hộp thư %s", name ? name : "?");
            if (ok)
                snprintf(state, sizeof state, "đọc được lúc %s", when);
            else
                snprintf(state, sizeof state, "lỗi: %.300s",
                         json_is_string(err) && *json_string_value(err) ? json_string_value(err)
                                                                        : "chưa đọc được lần nào");
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:b}", "label", label, "state", state, "ok", ok));
        }
        json_decref(boxes);
    }
    return arr;
}

void http_admin_dashboard(struct http_admin *a, const char *rest)
{
    struct outbox_day days[DAYS];
    struct outbox_counts q;
    time_t now = date_now();
    enum merr rc;
    json_t *d;

    if (*rest)
        return http_admin_error(a, 404, "Không tìm thấy trang", "Trang bạn yêu cầu không tồn tại.");
    if (!http_admin_get_only(a))
        return;
    rc = outbox_daily_range(a->db, now, DAYS, days);
    if (!rc)
        rc = outbox_counts(a->db, 0, &q);
    if (rc)
        return http_admin_fail(a, rc, "dashboard");
    d = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I}}", "title", "Tổng quan",
                  "chart", chart_json(days), "running", running_sends(a), "lists", lists_json(a),
                  "top", top_json(a, now), "health", health_json(a), "queue", "waiting",
                  (json_int_t)(q.by_state[OUTBOX_QUEUED] + q.by_state[OUTBOX_SENDING]), "deferred",
                  (json_int_t)q.by_state[OUTBOX_DEFERRED], "failed",
                  (json_int_t)q.by_state[OUTBOX_FAILED]);
    http_admin_page(a, 200, "dashboard", "dash", d);
}
