/*
 * http_share.c: the "Gửi Email" form, its POST, the thank-you page and the
 * article photos it shows.
 *
 * A POST is checked in the order that refuses cheapest first and never
 * lets a refused request cost a share: content type (415), body (400 for
 * bad UTF-8, malformed JSON or a bad field type), field shape (CR/LF/NUL in
 * a one-line field, more recipients than [limits] share_max_recipients,
 * the sender address), for the form the honeypot, the Origin and the CSRF
 * token against the browser's form cookie (http_csrf_form_check: nothing
 * written yet), then the three rate limits taken together
 * and atomically (http_store_rate_take: per client, per sender address,
 * global, each a sliding hour), then for the form the token's single use
 * (its nonce written only for a request the limits let through), then
 * share_enqueue, which validates everything again as the
 * one authority and writes the send. If share_enqueue refuses after the
 * limits were taken, the units are given back. A form gets its page back
 * with the message and the values typed (400) or a 303 to the thank-you
 * page; JSON gets {"error": ...} or 202 {"send_id", "accepted"}.
 *
 * JSON needs no CSRF token: a browser cannot send Content-Type
 * application/json to another origin without a CORS preflight, which this
 * server never grants.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "articles.h"
#include "crypto.h"
#include "date.h"
#include "http_int.h"
#include "http_texts.h"
#include "log.h"
#include "media.h"
#include "metrics.h"
#include "share.h"
#include "utf8.h"

#define RATE_WINDOW 3600

/* What a POST carried, borrowed from the parsed form or JSON. */
struct share_input {
    const char *to[64];
    size_t nto;
    int too_many; /* more "to" values than `to` holds */
    const char *sender_name;
    const char *sender_email;
    const char *note;
    const char *csrf;
    const char *honeypot;
};

/* Builds the page data for the form; `in` (may be NULL) refills the fields. */
static json_t *form_data(struct http_req *r, const struct article *a, const struct share_input *in,
                         const char *error, const char *field)
{
    const struct config *cfg = r->ctx->cfg;
    json_t *d, *rec, *art;
    struct buf tok, url;

    buf_init(&tok, 256);
    buf_init(&url, 1024);
    if (http_csrf_form_token(r, date_now(), &tok) || http_form_escape(&url, a->id)) {
        buf_free(&tok);
        buf_free(&url);
        return NULL;
    }
    art = json_pack("{s:s, s:s, s:s, s:s}", "id", a->id, "title", a->title, "url",
                    a->url ? a->url : "", "summary", a->summary ? a->summary : "");
    if (art && a->nimages > 0) {
        char src[80];
        snprintf(src, sizeof src, "/media/%s", a->images[0].sha256);
        json_object_set_new(art, "image",
                            json_pack("{s:s, s:s, s:s}", "src", src, "alt",
                                      a->images[0].alt ? a->images[0].alt : "", "caption",
                                      a->images[0].caption ? a->images[0].caption : ""));
    }
    rec = json_array();
    for (int i = 0; i < cfg->share_max_recipients; i++) {
        const char *v = in && (size_t)i < in->nto ? in->to[i] : "";
        json_array_append_new(
            rec, json_pack("{s:i, s:s, s:b}", "n", i + 1, "value", v, "first", i == 0));
    }
    d = json_pack("{s:o, s:s, s:s, s:o, s:i, s:i, s:s, s:s, s:s}", "article", art, "action",
                  url.data ? url.data : "", "csrf", tok.data, "recipients", rec, "max",
                  cfg->share_max_recipients, "note_max", cfg->share_note_max_chars, "sender_name",
                  in && in->sender_name ? in->sender_name : "", "sender_email",
                  in && in->sender_email ? in->sender_email : "", "note",
                  in && in->note ? in->note : "");
    if (d && error)
        json_object_set_new(d, "error",
                            json_pack("{s:s, s:s}", "message", error, "field", field ? field : ""));
    buf_free(&tok);
    buf_free(&url);
    return d;
}

static void db_unavailable(struct http_req *r)
{
    log_error("http: database: %s", merr_msg());
    http_header(r, "Retry-After", "5");
    if (http_wants_json(r))
        http_reply_error(r, 503, "unavailable", "service temporarily unavailable", NULL);
    else
        http_page_error(r, 503, "Dịch vụ tạm thời gián đoạn", "Xin vui lòng thử lại sau ít phút.");
}

void http_share_get(struct http_req *r, const char *article_id)
{
    struct db *db = http_db(r);
    struct article *a = NULL;
    enum merr rc;
    json_t *d;

    if (!db)
        return db_unavailable(r);
    rc = article_load(db, article_id, &a);
    if (rc == MERR_NOTFOUND)
        return http_page_error(r, 404, "Không tìm thấy bài viết",
                               "Bài viết bạn muốn gửi không tồn tại hoặc đã bị gỡ.");
    if (rc)
        return db_unavailable(r);
    d = form_data(r, a, NULL, NULL, NULL);
    if (d)
        http_page(r, 200, "share", d);
    json_decref(d);
    article_free(a);
}

void http_share_thanks(struct http_req *r, const char *article_id)
{
    struct db *db = http_db(r);
    struct article *a = NULL;
    json_t *d;

    if (!db)
        return db_unavailable(r);
    if (article_load(db, article_id, &a))
        return http_page_error(r, 404, "Không tìm thấy bài viết",
                               "Bài viết bạn muốn gửi không tồn tại hoặc đã bị gỡ.");
    d = json_pack("{s:{s:s, s:s}}", "article", "title", a->title, "url", a->url ? a->url : "");
    http_page(r, 200, "share_sent", d);
    json_decref(d);
    article_free(a);
}

void http_share_media(struct http_req *r, const char *sha256)
{
    struct db *db = http_db(r);
    struct buf bytes;
    struct media_info info;
    enum merr rc;

    if (strlen(sha256) != 64 || strspn(sha256, "0123456789abcdef") != 64)
        return http_page_error(r, 404, "Không tìm thấy ảnh", "Ảnh không tồn tại.");
    if (!db)
        return db_unavailable(r);
    buf_init(&bytes, 0);
    rc = media_bytes(db, sha256, &bytes);
    if (rc == MERR_NOTFOUND) {
        buf_free(&bytes);
        return http_page_error(r, 404, "Không tìm thấy ảnh", "Ảnh không tồn tại.");
    }
    if (rc || media_sniff((const unsigned char *)bytes.data, bytes.len, &info)) {
        buf_free(&bytes);
        return db_unavailable(r);
    }
    http_reply(r, 200, NULL, bytes.data, bytes.len);
    buf_free(&bytes);
    /* the content type is a string literal of media_sniff's set: copy into a header */
    http_header(r, "Content-Type", info.content_type);
    http_header(r, "Cache-Control", "public, max-age=31536000, immutable");
}

/* Refuses a POST: the form again with the message (400/403/429), or JSON. */
static void refuse(struct http_req *r, int json, int status, const char *code, const char *message,
                   const char *field, const struct article *a, const struct share_input *in)
{
    if (json || !a) {
        if (json)
            http_reply_error(r, status, code, message, field);
        else
            http_page_error(r, status, "Không gửi được", message);
        return;
    }
    json_t *d = form_data(r, a, in, message, field);
    if (d)
        http_page(r, status, "share", d);
    else
        http_page_error(r, status, "Không gửi được", message);
    json_decref(d);
}

/* Refuses a form whose CSRF check failed with `f` (403, in the reader's words). */
static void csrf_refused(struct http_req *r, enum http_csrf_fault f, const struct article *a,
                         const struct share_input *in)
{
    metrics_share("csrf");
    refuse(r, 0, 403, "csrf", http_csrf_fault_text(f), "csrf", a, in);
}

/* Reads a JSON body into `in`. MERR_INVAL naming the field. */
static enum merr json_input(json_t *j, struct share_input *in, const char **field)
{
    json_t *to = json_object_get(j, "to"), *v;
    const char *names[] = {"sender_name", "sender_email", "note"};
    const char **dst[] = {&in->sender_name, &in->sender_email, &in->note};
    size_t i;

    if (!json_is_object(j)) {
        *field = NULL;
        return merr_set(MERR_INVAL, "the body must be a JSON object");
    }
    if (json_is_string(to)) {
        in->to[in->nto++] = json_string_value(to);
    } else if (json_is_array(to)) {
        json_array_foreach(to, i, v)
        {
            if (!json_is_string(v)) {
                *field = "to";
                return merr_set(MERR_INVAL, "to: every recipient must be a string");
            }
            if (in->nto == sizeof in->to / sizeof in->to[0]) {
                in->too_many = 1;
                break;
            }
            in->to[in->nto++] = json_string_value(v);
        }
    } else if (to) {
        *field = "to";
        return merr_set(MERR_INVAL, "to: must be a string or an array of strings");
    }
    for (i = 0; i < 3; i++) {
        v = json_object_get(j, names[i]);
        if (v && !json_is_string(v) && !json_is_null(v)) {
            *field = names[i];
            return merr_set(MERR_INVAL, "%s: must be a string", names[i]);
        }
        *dst[i] = json_is_string(v) ? json_string_value(v) : NULL;
        /* jansson allows \u0000 inside strings: refuse it here */
        if (json_is_string(v) && strlen(*dst[i]) != json_string_length(v)) {
            *field = names[i];
            return merr_set(MERR_INVAL, "%s: contains a NUL character", names[i]);
        }
    }
    return MERR_OK;
}

static void form_input(const struct http_form *f, struct share_input *in)
{
    for (size_t i = 0; i < f->n; i++) {
        const char *n = f->v[i].name, *v = f->v[i].value;
        if (strcmp(n, "to") == 0) {
            if (!*v)
                continue; /* an empty recipient box */
            if (in->nto == sizeof in->to / sizeof in->to[0])
                in->too_many = 1;
            else
                in->to[in->nto++] = v;
        } else if (strcmp(n, "sender_name") == 0) {
            in->sender_name = v;
        } else if (strcmp(n, "sender_email") == 0) {
            in->sender_email = v;
        } else if (strcmp(n, "note") == 0) {
            in->note = v;
        } else if (strcmp(n, "csrf") == 0) {
            in->csrf = v;
        } else if (strcmp(n, "website") == 0) {
            in->honeypot = v;
        }
    }
}

/* Shape checks before anything is written. MERR_INVAL with *field set. */
static enum merr precheck(const struct config *cfg, const struct share_input *in,
                          const char **field, char *sender_key, size_t keylen)
{
    struct addr a;

    if (in->nto == 0) {
        *field = "to";
        return merr_set(MERR_INVAL, "Vui lòng nhập ít nhất một địa chỉ người nhận.");
    }
    if (in->too_many || in->nto > (size_t)cfg->share_max_recipients) {
        *field = "to";
        return merr_set(MERR_INVAL, "Chỉ được gửi tới tối đa %d người nhận.",
                        cfg->share_max_recipients);
    }
    for (size_t i = 0; i < in->nto; i++)
        if (utf8_has_crlf_nul(in->to[i], strlen(in->to[i]))) {
            *field = "to";
            return merr_set(MERR_INVAL, "Địa chỉ người nhận không được chứa ký tự xuống dòng.");
        }
    if (in->sender_name && utf8_has_crlf_nul(in->sender_name, strlen(in->sender_name))) {
        *field = "sender_name";
        return merr_set(MERR_INVAL, "Tên người gửi không được chứa ký tự xuống dòng.");
    }
    if (!in->sender_email || !*in->sender_email) {
        *field = "sender_email";
        return merr_set(MERR_INVAL, "Vui lòng nhập email của bạn.");
    }
    if (utf8_has_crlf_nul(in->sender_email, strlen(in->sender_email))) {
        *field = "sender_email";
        return merr_set(MERR_INVAL, "Email người gửi không được chứa ký tự xuống dòng.");
    }
    if (addr_parse(in->sender_email, &a)) {
        char why[256];
        snprintf(why, sizeof why, "%s", merr_msg());
        *field = "sender_email";
        return merr_set(MERR_INVAL, "Email người gửi không hợp lệ: %s", why);
    }
    /* the one filter for typed text (text.h), told in the reader's words */
    if (in->sender_name) {
        enum text_fault f =
            text_check_name(in->sender_name, strlen(in->sender_name), SHARE_NAME_MAX_CHARS);
        if (f) {
            char why[400];
            http_text_fault(why, sizeof why, "Tên người gửi", f, SHARE_NAME_MAX_CHARS);
            *field = "sender_name";
            return merr_set(MERR_INVAL, "%s", why);
        }
    }
    if (in->note) {
        size_t max = (size_t)cfg->share_note_max_chars;
        enum text_fault f = text_check_note(in->note, strlen(in->note), max);
        if (f) {
            char why[400];
            http_text_fault(why, sizeof why, "Lời nhắn", f, max);
            *field = "note";
            return merr_set(MERR_INVAL, "%s", why);
        }
    }
    snprintf(sender_key, keylen, "sender:%s", a.key);
    return MERR_OK;
}

void http_share_post(struct http_req *r, const char *article_id)
{
    const struct config *cfg = r->ctx->cfg;
    struct db *db;
    struct http_form form;
    struct share_input in;
    struct article *a = NULL;
    json_t *j = NULL;
    int json;
    const char *field = NULL;
    char ipkey[80], senderkey[300];
    const char *keys[3];
    int limits[3];
    size_t refused = 0;
    time_t now = date_now();
    int retry_after = 0;
    char nonce[HTTP_CSRF_NONCE_HEX + 1] = "";
    long long send_id = 0;
    size_t accepted = 0;
    enum merr rc;
    char why[512], why_field[64];

    memset(&form, 0, sizeof form);
    memset(&in, 0, sizeof in);
    if (!r->content_type || (strcmp(r->content_type, "application/x-www-form-urlencoded") != 0 &&
                             strcmp(r->content_type, "application/json") != 0)) {
        metrics_share("content_type");
        http_header(r, "Accept-Post", "application/x-www-form-urlencoded, application/json");
        http_reply_error(r, 415, "unsupported_media_type",
                         "send application/x-www-form-urlencoded or application/json", NULL);
        return;
    }
    json = strcmp(r->content_type, "application/json") == 0;
    if (json) {
        rc = http_form_json(r->body.data ? r->body.data : "", r->body.len, &j);
        if (!rc)
            rc = json_input(j, &in, &field);
        if (rc) {
            metrics_share("invalid");
            refuse(r, 1, 400, "invalid", merr_msg(), field, NULL, NULL);
            goto out;
        }
    } else {
        rc = http_form_parse(r->body.data ? r->body.data : "", r->body.len, &form);
        if (rc) {
            metrics_share("invalid");
            refuse(r, 0, 400, "invalid", merr_msg(), merr_field()[0] ? merr_field() : NULL, NULL,
                   NULL);
            goto out;
        }
        form_input(&form, &in);
    }

    db = http_db(r);
    if (!db) {
        db_unavailable(r);
        goto out;
    }
    rc = article_load(db, article_id, &a);
    if (rc == MERR_NOTFOUND) {
        metrics_share("not_found");
        refuse(r, json, 404, "not_found", "Bài viết không tồn tại.", "article_id", NULL, NULL);
        goto out;
    }
    if (rc) {
        db_unavailable(r);
        goto out;
    }
    if (!json) {
        if (in.honeypot && *in.honeypot) {
            metrics_share("honeypot");
            refuse(r, 0, 400, "invalid", "Biểu mẫu không hợp lệ.", "website", a, &in);
            goto out;
        }
        enum http_csrf_fault cf = http_csrf_form_check(r, in.csrf, now, nonce);
        if (cf) {
            csrf_refused(r, cf, a, &in);
            goto out;
        }
    }
    rc = precheck(cfg, &in, &field, senderkey, sizeof senderkey);
    if (rc) {
        metrics_share("invalid");
        refuse(r, json, 400, "invalid", merr_msg(), field, a, &in);
        goto out;
    }

    snprintf(ipkey, sizeof ipkey, "ip:%s", r->client_key);
    keys[0] = ipkey;
    limits[0] = cfg->share_per_ip_per_hour;
    keys[1] = senderkey;
    limits[1] = cfg->share_per_sender_per_hour;
    keys[2] = "global";
    limits[2] = cfg->share_global_per_hour;
    pthread_mutex_lock(&r->ctx->write_lock);
    rc = http_store_rate_take(db, keys, limits, 3, now, RATE_WINDOW, &refused, &retry_after);
    if (rc == MERR_LIMIT) {
        char ra[24];
        pthread_mutex_unlock(&r->ctx->write_lock);
        static const char *const reasons[] = {"rate_ip", "rate_sender", "rate_global"};
        static const char *const msgs[] = {
            "Bạn đã gửi quá nhiều lần trong một giờ. Vui lòng thử lại sau.",
            "Địa chỉ email này đã gửi quá nhiều lần trong một giờ. Vui lòng thử lại sau.",
            "Hệ thống đang nhận quá nhiều yêu cầu. Vui lòng thử lại sau."};
        metrics_share(reasons[refused]);
        snprintf(ra, sizeof ra, "%d", retry_after);
        refuse(r, json, 429, "rate_limited", msgs[refused], NULL, a, &in);
        http_header(r, "Retry-After", ra);
        goto out;
    }
    if (rc) {
        pthread_mutex_unlock(&r->ctx->write_lock);
        db_unavailable(r);
        goto out;
    }
    /* the single use of the form's token, written only now that the limits
     * let the request through (a refused one writes nothing) */
    if (!json && (rc = http_store_csrf_use(db, nonce, now)) != MERR_OK) {
        pthread_mutex_unlock(&r->ctx->write_lock);
        if (rc == MERR_EXISTS)
            csrf_refused(r, HTTP_CSRF_USED, a, &in);
        else
            db_unavailable(r);
        goto out;
    }
    {
        struct share_request req = {
            .article_id = a->id,
            .to = in.to,
            .nto = in.nto,
            .sender_name = in.sender_name,
            .sender_email = in.sender_email,
            .note = in.note,
            .client_ip = r->client_ip,
        };
        rc = share_enqueue(db, cfg, &req, &send_id, &accepted);
    }
    if (rc) {
        snprintf(why, sizeof why, "%s", merr_msg());
        snprintf(why_field, sizeof why_field, "%s", merr_field());
        enum merr grc = http_store_rate_give_back(db, keys, 3);
        if (grc)
            log_warn("http: share: giving back rate units: %s", merr_msg());
    }
    pthread_mutex_unlock(&r->ctx->write_lock);
    if (rc == MERR_INVAL || rc == MERR_LIMIT) {
        metrics_share("invalid");
        refuse(r, json, 400, "invalid", why, why_field[0] ? why_field : NULL, a, &in);
        goto out;
    }
    if (rc == MERR_NOTFOUND) {
        metrics_share("not_found");
        refuse(r, json, 404, "not_found", "Bài viết không tồn tại.", "article_id", NULL, NULL);
        goto out;
    }
    if (rc) {
        metrics_share("error");
        db_unavailable(r);
        goto out;
    }
    metrics_share(NULL);
    if (json) {
        http_reply_json(r, 202,
                        json_pack("{s:I, s:I}", "send_id", (json_int_t)send_id, "accepted",
                                  (json_int_t)accepted));
    } else {
        struct buf loc;
        buf_init(&loc, 2048);
        if (buf_puts(&loc, "/share/") || http_form_escape(&loc, a->id) || buf_puts(&loc, "/sent")) {
            buf_free(&loc);
            http_reply(r, 500, "text/plain; charset=utf-8", "internal error\n", 15);
            goto out;
        }
        http_redirect(r, loc.data);
        buf_free(&loc);
    }
out:
    json_decref(j);
    http_form_free(&form);
    article_free(a);
}
