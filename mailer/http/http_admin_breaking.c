/*
 * http_admin_breaking.c: breaking news ("tin nóng") from the admin, and
 * "send a test to me" for it and for digests.
 *
 *   GET  /admin/breaking                     choose a list and an article;
 *                                            the breaking news already sent
 *   GET  /admin/breaking/preview?list=&article=   the message as it will be
 *                                            delivered (as the digest preview)
 *   POST /admin/breaking/send (list, article)     send it now: once per list
 *                                            and article (breaking_send); a
 *                                            second click lands on the send
 *                                            the first one made
 *   POST /admin/breaking/test (list, article)     the same message to me
 *
 * A test goes to the signed-in person's address as a send of kind "test"
 * of one envelope, delivered like the rest (through SMTP), and shows up in
 * the sends list with its progress.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles.h"
#include "breaking.h"
#include "date.h"
#include "digest.h"
#include "http_admin.h"
#include "subs.h"

#define ARTICLES_MAX 100
#define SENT_MAX     30

/* The lists and recent articles to choose from, `list`/`article` selected. */
static void choices(struct http_admin *a, json_t *d, const char *list, const char *article)
{
    struct subs_list *v = NULL;
    struct article **arts = NULL;
    size_t n = 0, na = 0;
    json_t *jl = json_array(), *ja = json_array();

    if (subs_list_all(a->db, &v, &n) == MERR_OK) {
        for (size_t i = 0; i < n; i++)
            json_array_append_new(jl,
                                  json_pack("{s:s, s:s, s:I, s:b}", "slug", v[i].slug, "name",
                                            v[i].name, "confirmed", (json_int_t)v[i].n_confirmed,
                                            "selected", list && !strcmp(list, v[i].slug)));
        subs_lists_free(v, n);
    }
    if (article_index(a->db, 0, date_now() + 366 * 86400, NULL, ARTICLES_MAX, &arts, &na) ==
        MERR_OK) {
        for (size_t i = 0; i < na; i++) {
            char when[DATE_ISO_LEN];
            date_display(arts[i]->published_at, when);
            json_array_append_new(ja, json_pack("{s:s, s:s, s:s, s:b}", "id", arts[i]->id, "title",
                                                arts[i]->title, "date", when, "selected",
                                                article && !strcmp(article, arts[i]->id)));
        }
        article_list_free(arts, na);
    }
    json_object_set_new(d, "lists", jl);
    json_object_set_new(d, "articles", ja);
}

static void index_page(struct http_admin *a)
{
    struct breaking_info sent[SENT_MAX];
    size_t n = 0;
    json_t *rows = json_array(), *d;
    enum merr rc = breaking_list(a->db, sent, SENT_MAX, &n);
    if (rc) {
        json_decref(rows);
        return http_admin_fail(a, rc, "breaking");
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            rows, json_pack("{s:s, s:s, s:o, s:I, s:o}", "list", sent[i].list_slug, "article",
                            sent[i].article_id, "send",
                            sent[i].send_id ? json_integer(sent[i].send_id) : json_null(),
                            "recipients", (json_int_t)sent[i].recipients, "created",
                            http_admin_time(sent[i].created_at)));
    d = json_pack("{s:s, s:o}", "title", "Tin nóng", "sent", rows);
    choices(a, d, NULL, NULL);
    http_admin_page(a, 200, "breaking", "breaking", d);
}

static void preview_page(struct http_admin *a, const char *list, const char *article)
{
    struct subs_list l;
    struct buf msg;
    json_t *d;
    enum merr rc;

    if (!list || !*list || !article || !*article)
        return http_admin_error(a, 400, "Thiếu thông tin", "Chọn một danh sách và một bài viết.");
    rc = subs_list_get(a->db, list, &l);
    if (rc)
        return http_admin_fail(a, rc, "list");
    d = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "title", "Xem trước tin nóng", "name",
                  l.name, "slug", l.slug, "article", article, "confirmed",
                  (json_int_t)l.n_confirmed, "action", "/admin/breaking", "article_choice", 1);
    subs_list_clear(&l);
    choices(a, d, list, article);
    buf_init(&msg, a->r->ctx->cfg->message_max_bytes);
    http_admin_lock(a); /* the preview writes in a transaction it rolls back */
    rc = breaking_preview(a->db, a->r->ctx->cfg, list, article, NULL, &msg);
    http_admin_unlock(a);
    if (rc) {
        buf_free(&msg);
        json_decref(d);
        return http_admin_fail(a, rc, "breaking preview");
    }
    {
        /* the list travels with the GET form of the preview page */
        json_object_set_new(d, "list_field", json_string(list));
    }
    http_admin_preview(a, "breaking", d, &msg);
    buf_free(&msg);
}

static void send_now(struct http_admin *a)
{
    struct breaking_info b;
    const char *list = http_admin_field(a, "list"), *article = http_admin_field(a, "article");
    char loc[64];
    enum merr rc;

    http_admin_lock(a);
    rc = breaking_send(a->db, a->r->ctx->cfg, list, article, date_now(), &b);
    if (!rc)
        http_admin_audit(a, "breaking.send", list, "bài %s, %lld người nhận, lần gửi #%lld",
                         article, b.recipients, b.send_id);
    http_admin_unlock(a);
    if (rc == MERR_EXISTS && b.send_id) {
        snprintf(loc, sizeof loc, "/admin/sends/%lld", b.send_id);
        return http_admin_done(a, loc, "already_breaking");
    }
    if (rc == MERR_EXISTS)
        return http_admin_error(a, 409, "Đã gửi rồi", "Bài này đã được gửi cho danh sách này.");
    if (rc)
        return http_admin_fail(a, rc, "breaking send");
    snprintf(loc, sizeof loc, "/admin/sends/%lld", b.send_id);
    http_admin_done(a, loc, "sending");
}

void http_admin_send_test(struct http_admin *a, const char *kind, const char *slug,
                          const char *article, const char *since)
{
    long long send_id = 0;
    time_t since_t = http_admin_day(since);
    struct buf back;
    enum merr rc;

    if (since_t < 0)
        return http_admin_error(a, 400, "Ngày không hợp lệ", "Ngày bắt đầu: dạng năm-tháng-ngày.");
    http_admin_lock(a);
    if (!strcmp(kind, "digest"))
        rc = digest_test(a->db, a->r->ctx->cfg, slug, since_t, a->s.user.email, date_now(),
                         &send_id);
    else
        rc = breaking_test(a->db, a->r->ctx->cfg, slug, article, a->s.user.email, date_now(),
                           &send_id);
    if (!rc)
        http_admin_audit(a, !strcmp(kind, "digest") ? "digest.test" : "breaking.test", slug,
                         "đến %s, lần gửi #%lld", a->s.user.email, send_id);
    http_admin_unlock(a);
    if (rc)
        return http_admin_fail(a, rc, "test");
    /* back to the preview, which says where the test went */
    buf_init(&back, 1024);
    if (!strcmp(kind, "digest")) {
        buf_printf(&back, "/admin/digests/%s?since=", slug);
        http_form_escape(&back, since ? since : "");
    } else {
        buf_puts(&back, "/admin/breaking/preview?list=");
        http_form_escape(&back, slug);
        buf_puts(&back, "&article=");
        http_form_escape(&back, article ? article : "");
    }
    http_admin_done(a, back.data, "test_sent");
    buf_free(&back);
}

void http_admin_breaking(struct http_admin *a, const char *rest)
{
    if (!*rest) {
        if (!http_admin_get_only(a))
            return;
        return index_page(a);
    }
    if (!strcmp(rest, "preview")) {
        if (!http_admin_get_only(a))
            return;
        return preview_page(a, http_query(a->r, "list"), http_query(a->r, "article"));
    }
    if (!strcmp(rest, "send") || !strcmp(rest, "test")) {
        if (!a->post)
            return http_admin_bad_method(a, "POST");
        if (rest[0] == 's')
            return send_now(a);
        return http_admin_send_test(a, "breaking", http_admin_field(a, "list"),
                                    http_admin_field(a, "article"), NULL);
    }
    http_admin_error(a, 404, "Không tìm thấy trang", "");
}
