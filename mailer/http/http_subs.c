/*
 * http_subs.c: the subscription pages: subscribe, confirm, unsubscribe.
 *
 * A GET on a link from a mail never changes anything (mail scanners and
 * link previews fetch links): it shows a page with a button, and the POST
 * of that button acts. The one exception is the RFC 8058 one-click POST
 * (body `List-Unsubscribe=One-Click`, §3.1), sent by mail clients from the
 * List-Unsubscribe-Post header: it unsubscribes and answers 200 with no
 * redirect. The subscribe page answers "check your mail" the same way for
 * a new, an already subscribed and a suppressed address, so the form does
 * not tell who is on a list: the page depends on the list's opt-in only.
 * The subscribe form carries a CSRF token bound to the browser
 * (http_csrf.c), checked with the Origin before anything is written, its
 * nonce stored only once the rate limit let the request through; the
 * confirm and unsubscribe POSTs (whose link token is the capability) are
 * refused when their Origin names another site. The link tokens are
 * secrets: they are never logged (http.c logs these paths as "/confirm/…").
 */
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "http_int.h"
#include "http_texts.h"
#include "log.h"
#include "subs.h"

#define SUBSCRIBE_WINDOW 3600

static void unavailable(struct http_req *r)
{
    log_error("http: subscriptions: %s", merr_msg());
    http_header(r, "Retry-After", "5");
    http_page_error(r, 503, "Dịch vụ tạm thời gián đoạn", "Xin vui lòng thử lại sau ít phút.");
}

/*
 * The subscribe form with every public list (private ones are for editors
 * only); `chosen`, `email`, `name`, `error` may be NULL.
 */
static void subscribe_form(struct http_req *r, int status, const char *chosen, const char *email,
                           const char *name, const char *error)
{
    struct db *db = http_db(r);
    struct subs_list *lists = NULL;
    size_t n = 0, shown = 0;
    json_t *arr, *d;
    struct buf tok;

    if (!db || subs_list_all(db, &lists, &n))
        return unavailable(r);
    buf_init(&tok, 256);
    if (http_csrf_form_token(r, date_now(), &tok)) {
        buf_free(&tok);
        subs_lists_free(lists, n);
        return unavailable(r);
    }
    for (size_t i = 0; i < n; i++)
        shown += (size_t)lists[i].is_public;
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (lists[i].is_public)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:b}", "slug", lists[i].slug, "name",
                               lists[i].name ? lists[i].name : lists[i].slug, "description",
                               lists[i].description ? lists[i].description : "", "checked",
                               (chosen && strcmp(chosen, lists[i].slug) == 0) ||
                                   (!chosen && shown == 1)));
    d = json_pack("{s:o, s:s, s:s, s:b, s:s}", "lists", arr, "email", email ? email : "", "name",
                  name ? name : "", "has_lists", shown > 0, "csrf", tok.data);
    buf_free(&tok);
    if (d && error)
        json_object_set_new(d, "error", json_string(error));
    http_page(r, status, "subscribe", d);
    json_decref(d);
    subs_lists_free(lists, n);
}

void http_subs_subscribe_get(struct http_req *r)
{
    subscribe_form(r, 200, NULL, NULL, NULL, NULL);
}

/* Reads a urlencoded body; answers 415/400 itself and returns non-zero on refusal. */
static int read_form(struct http_req *r, struct http_form *f)
{
    memset(f, 0, sizeof *f);
    if (!r->content_type || strcmp(r->content_type, "application/x-www-form-urlencoded") != 0) {
        http_header(r, "Accept-Post", "application/x-www-form-urlencoded");
        http_page_error(r, 415, "Định dạng không được hỗ trợ",
                        "Biểu mẫu phải được gửi dưới dạng application/x-www-form-urlencoded.");
        return 1;
    }
    if (http_form_parse(r->body.data ? r->body.data : "", r->body.len, f)) {
        http_page_error(r, 400, "Dữ liệu không hợp lệ", merr_msg());
        return 1;
    }
    return 0;
}

void http_subs_subscribe_post(struct http_req *r)
{
    const struct config *cfg = r->ctx->cfg;
    struct http_form f;
    struct subs_result res;
    struct db *db;
    const char *list, *email, *name;
    char key[96];
    const char *keys[1] = {key};
    int limits[1] = {cfg->share_per_ip_per_hour};
    size_t refused;
    int retry_after = SUBSCRIBE_WINDOW;
    time_t now = date_now();
    char nonce[HTTP_CSRF_NONCE_HEX + 1] = "";
    enum http_csrf_fault cf;
    enum merr rc;

    if (read_form(r, &f))
        return;
    list = http_form_get(&f, "list");
    email = http_form_get(&f, "email");
    name = http_form_get(&f, "name");
    cf = http_csrf_form_check(r, http_form_get(&f, "csrf"), now, nonce);
    if (cf) {
        subscribe_form(r, 403, list, email, name, http_csrf_fault_text(cf));
        goto out;
    }
    if (!list || !*list) {
        subscribe_form(r, 400, NULL, email, name, "Vui lòng chọn một bản tin.");
        goto out;
    }
    if (!email || !*email) {
        subscribe_form(r, 400, list, email, name, "Vui lòng nhập địa chỉ email.");
        goto out;
    }
    if (name) { /* the one filter for typed text, told in the reader's words */
        enum text_fault tf = text_check_name(name, strlen(name), SUBS_NAME_MAX_CHARS);
        if (tf) {
            char why[400];
            http_text_fault(why, sizeof why, "Tên", tf, SUBS_NAME_MAX_CHARS);
            subscribe_form(r, 400, list, email, name, why);
            goto out;
        }
    }
    if (!(db = http_db(r))) {
        unavailable(r);
        goto out;
    }
    /* Every subscribe may send a confirm mail: the same per-IP limit as shares. */
    snprintf(key, sizeof key, "subscribe-ip:%s", r->client_key);
    pthread_mutex_lock(&r->ctx->write_lock);
    rc = http_store_rate_take(db, keys, limits, 1, now, SUBSCRIBE_WINDOW, &refused, &retry_after);
    /* the form's single use, written only for a request the limit let through */
    if (!rc && (rc = http_store_csrf_use(db, nonce, now)) == MERR_EXISTS) {
        pthread_mutex_unlock(&r->ctx->write_lock);
        subscribe_form(r, 403, list, email, name, http_csrf_fault_text(HTTP_CSRF_USED));
        goto out;
    }
    if (!rc)
        rc = subs_subscribe(db, cfg, list, email, name, r->client_ip, now, SUBS_ADD_PUBLIC, &res);
    pthread_mutex_unlock(&r->ctx->write_lock);
    if (rc == MERR_LIMIT) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", retry_after);
        http_page_error(r, 429, "Quá nhiều yêu cầu", "Vui lòng thử lại sau.");
        http_header(r, "Retry-After", ra);
    } else if (rc == MERR_INVAL) {
        char why[512];
        snprintf(why, sizeof why, "Không đăng ký được: %s", merr_msg());
        subscribe_form(r, 400, list, email, name, why);
    } else if (rc == MERR_NOTFOUND) {
        subscribe_form(r, 404, NULL, email, name, "Bản tin này không tồn tại.");
    } else if (rc) {
        unavailable(r);
    } else {
        /* one answer for every outcome (new, already, pending, capped,
         * suppressed): the page depends on the list's opt-in alone */
        json_t *d = json_pack("{s:b, s:s}", "double_optin", res.double_optin, "email", email);
        http_page(r, 200, "subscribed", d);
        json_decref(d);
    }
out:
    http_form_free(&f);
}

/*
 * Renders `page` for a link with its data (list, email, status, the form's
 * action) and `flag` set to true: which part of the page to show.
 */
static void link_page(struct http_req *r, int status, const char *page,
                      const struct subs_token_info *info, const char *action, const char *flag)
{
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s}", "list_name",
                          info->list_name[0] ? info->list_name : info->list_slug, "list_slug",
                          info->list_slug, "email", info->email, "status",
                          subs_status_name(info->status), "action", action);
    json_object_set_new(d, flag, json_true());
    http_page(r, status, page, d);
    json_decref(d);
}

/*
 * Answers a link that failed (rc not MERR_OK): 400 for a bad link, 404
 * with `gone` when its subscription is no more, 503 otherwise. Returns 0
 * (nothing sent) for MERR_OK.
 */
static int link_failed(struct http_req *r, enum merr rc, const char *gone)
{
    if (rc == MERR_OK)
        return 0;
    if (rc == MERR_INVAL)
        http_page_error(r, 400, "Liên kết không hợp lệ",
                        "Liên kết này không hợp lệ. Vui lòng kiểm tra lại địa chỉ trong thư.");
    else if (rc == MERR_NOTFOUND)
        http_page_error(r, 404, "Không tìm thấy đăng ký", gone);
    else
        unavailable(r);
    return 1;
}

void http_subs_confirm(struct http_req *r, const char *token)
{
    const struct config *cfg = r->ctx->cfg;
    struct db *db = http_db(r);
    struct subs_token_info info;
    int post = strcmp(r->method, "POST") == 0;
    time_t now = date_now();
    enum merr rc;
    char action[1024];

    if (!db)
        return unavailable(r);
    memset(&info, 0, sizeof info);
    snprintf(action, sizeof action, "/confirm/%s", token);
    if (post && !http_csrf_origin_ok(r))
        return http_page_error(r, 403, "Không xác nhận được",
                               http_csrf_fault_text(HTTP_CSRF_OTHER_SITE));
    if (post) {
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = subs_confirm(db, cfg, token, r->client_ip, now, &info);
        pthread_mutex_unlock(&r->ctx->write_lock);
    } else {
        rc = subs_token_inspect(db, cfg, token, SUBS_TOKEN_CONFIRM, now, &info);
    }
    if (rc == MERR_LIMIT) /* expired: offer to subscribe again, the address filled in */
        return link_page(r, 410, "confirm", &info, action, "expired");
    if (link_failed(r, rc, "Đăng ký này không còn tồn tại hoặc bạn đã hủy đăng ký."))
        return;
    link_page(r, 200, "confirm", &info, action,
              post || info.status == SUBS_CONFIRMED ? "done" : "ask");
}

/*
 * RFC 8058 §3.1: the one-click POST carries List-Unsubscribe=One-Click,
 * urlencoded or as a multipart/form-data field.
 */
static int one_click(const struct http_req *r)
{
    const char *b = r->body.data ? r->body.data : "";
    if (r->body.len == 26 && memcmp(b, "List-Unsubscribe=One-Click", 26) == 0)
        return 1;
    if (r->content_type && strcmp(r->content_type, "multipart/form-data") == 0 &&
        memmem(b, r->body.len, "name=\"List-Unsubscribe\"", 23) &&
        memmem(b, r->body.len, "One-Click", 9))
        return 1;
    return 0;
}

void http_subs_unsubscribe(struct http_req *r, const char *token)
{
    const struct config *cfg = r->ctx->cfg;
    struct db *db = http_db(r);
    struct subs_token_info info;
    struct http_form f;
    int post = strcmp(r->method, "POST") == 0, all = 0;
    time_t now = date_now();
    enum merr rc;
    char action[1024];

    if (!db)
        return unavailable(r);
    memset(&info, 0, sizeof info);
    memset(&f, 0, sizeof f);
    snprintf(action, sizeof action, "/unsubscribe/%s", token);
    if (post && !http_csrf_origin_ok(r))
        return http_page_error(r, 403, "Không hủy đăng ký được",
                               http_csrf_fault_text(HTTP_CSRF_OTHER_SITE));
    if (post && one_click(r)) {
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = subs_unsubscribe(db, cfg, token, 0, now, &info);
        pthread_mutex_unlock(&r->ctx->write_lock);
        if (rc == MERR_INVAL)
            return http_reply(r, 400, "text/plain; charset=utf-8", "invalid link\n", 13);
        if (rc && rc != MERR_NOTFOUND)
            return unavailable(r);
        return http_reply(r, 200, "text/plain; charset=utf-8", "unsubscribed\n", 13);
    }
    if (post) {
        const char *v;
        if (read_form(r, &f))
            return;
        v = http_form_get(&f, "all");
        all = v && strcmp(v, "1") == 0;
        http_form_free(&f);
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = subs_unsubscribe(db, cfg, token, all, now, &info);
        pthread_mutex_unlock(&r->ctx->write_lock);
    } else {
        rc = subs_token_inspect(db, cfg, token, SUBS_TOKEN_UNSUBSCRIBE, now, &info);
    }
    if (link_failed(r, rc, "Địa chỉ này không còn trong danh sách nhận tin."))
        return;
    if (post)
        link_page(r, 200, "unsubscribe", &info, action, all ? "done_all" : "done");
    else
        link_page(r, 200, "unsubscribe", &info, action,
                  info.status == SUBS_UNSUBSCRIBED ? "already" : "ask");
}
