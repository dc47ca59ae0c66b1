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
 * (400) with the values typed, every field at fault marked (aria-invalid,
 * its message beside it, linked from a summary at the top, the first one
 * focused) or a 303 to the thank-you page; JSON gets {"error": ...,
 * "errors": [...]} (code, reason, field, index, message) or 202 {"send_id",
 * "accepted"}. The words are the message catalogue's (http_msg.c).
 *
 * The form carries a one-time id (`fid`, 32 hex digits) stored with the
 * share it makes: a second submit of the same form (a double tap, "send"
 * again after the back button, a retry after a slow answer) finds that
 * share and gets the same 303 to the thank-you page, and no second share
 * is made. The look-up, the CSRF token, the rate limits and the enqueue
 * run under the write lock as one step and one transaction, on the front's
 * write handle (http_db_write), so two submits at the same moment cannot
 * both pass and a refusal inside the step leaves nothing written.
 *
 * On a phone the form is one recipient box; "Thêm người nhận" opens the
 * next one (a <details> element: no script, no round trip), up to [limits]
 * share_max_recipients.
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
#include "http_msg.h"
#include "text.h"
#include "log.h"
#include "media.h"
#include "metrics.h"
#include "rnd.h"
#include "share.h"
#include "utf8.h"

#define RATE_WINDOW 3600

/* What a POST carried, borrowed from the parsed form or JSON. */
struct share_input {
    const char *to[64]; /* every recipient box as sent, empty ones too (the form's order) */
    size_t nto;
    int too_many; /* more "to" values than `to` holds */
    const char *sender_name;
    const char *sender_email;
    const char *note;
    const char *csrf;
    const char *honeypot;
    const char *fid; /* the form's one-time id, when well-formed */
};

/* A field at fault: its name, the recipient box for "to", the catalogue's reason. */
struct form_error {
    const char *field; /* "to", "sender_name", "sender_email", "note"; NULL: the whole form */
    size_t index;      /* recipient box, 0-based */
    const char *reason;
};

#define FORM_ERRORS_MAX 16

struct form_errors {
    struct form_error e[FORM_ERRORS_MAX];
    size_t n;
};

/* Records a refusal; `reason` "" or NULL gives the catalogue's fallback for the field. */
static void add_error(struct form_errors *errs, const char *field, size_t index, const char *reason)
{
    if (errs->n == FORM_ERRORS_MAX)
        return;
    errs->e[errs->n].field = field;
    errs->e[errs->n].index = index;
    errs->e[errs->n].reason = reason && *reason ? reason : field ? "field.invalid" : "page.error";
    errs->n++;
}

/* The error of `field` (box `index` for "to"), or NULL. */
static const struct form_error *error_of(const struct form_errors *errs, const char *field,
                                         size_t index)
{
    for (size_t i = 0; errs && i < errs->n; i++)
        if (errs->e[i].field && !strcmp(errs->e[i].field, field) &&
            (strcmp(field, "to") != 0 || errs->e[i].index == index))
            return &errs->e[i];
    return NULL;
}

/* The values a message may name: {{max}} recipients, {{note_max}} characters. */
static json_t *msg_vars(const struct config *cfg)
{
    return json_pack("{s:i, s:i}", "max", cfg->share_max_recipients, "note_max",
                     cfg->share_note_max_chars);
}

/* The catalogue's words for `e` as a new JSON string. */
static json_t *error_text(const struct form_error *e, json_t *vars)
{
    return http_msg_json(e->reason, e->field ? "field.invalid" : "page.error", vars);
}

/* The id of the form element of a field, as the page names it ("to1", "note"). */
static void field_id(const struct form_error *e, char *out, size_t n)
{
    if (!e->field)
        snprintf(out, n, "send");
    else if (!strcmp(e->field, "to"))
        snprintf(out, n, "to%zu", e->index + 1);
    else
        snprintf(out, n, "%s", e->field);
}

/*
 * Builds the page data for the form; `in` (may be NULL) refills the fields
 * and `errs` (may be NULL) marks them.
 */
static json_t *form_data(struct http_req *r, const struct article *a, const struct share_input *in,
                         const struct form_errors *errs)
{
    const struct config *cfg = r->ctx->cfg;
    json_t *d, *rec, *art, *list, *vars = msg_vars(cfg);
    struct buf tok, url;
    char fid[33];
    size_t shown = 1;
    const struct form_error *first = errs && errs->n ? &errs->e[0] : NULL;

    buf_init(&tok, 256);
    buf_init(&url, 1024);
    /* a new form gets a new id; a refused one keeps its own (it made no share) */
    if (in && in->fid)
        snprintf(fid, sizeof fid, "%s", in->fid);
    else
        rnd_hex(fid, 16);
    if (http_csrf_form_token(r, date_now(), &tok) || http_form_escape(&url, a->id)) {
        buf_free(&tok);
        buf_free(&url);
        json_decref(vars);
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
    /* the boxes shown: up to the last one with a value or an error */
    for (size_t i = 0; in && i < in->nto && i < (size_t)cfg->share_max_recipients; i++)
        if (in->to[i][0] || error_of(errs, "to", i))
            shown = i + 1;
    rec = json_array();
    for (int i = 0; i < cfg->share_max_recipients; i++) {
        const char *v = in && (size_t)i < in->nto ? in->to[i] : "";
        const struct form_error *e = error_of(errs, "to", (size_t)i);
        json_t *o = json_pack("{s:i, s:s, s:b, s:b}", "n", i + 1, "value", v, "first", i == 0,
                              "open", (size_t)i < shown);
        char id[16];
        snprintf(id, sizeof id, "to%d", i + 1);
        json_object_set_new(o, "id", json_string(id));
        if (e) {
            json_object_set_new(o, "error", error_text(e, vars));
            json_object_set_new(o, "focus", json_boolean(e == first));
        }
        json_array_append_new(rec, o);
    }
    d = json_pack("{s:o, s:s, s:s, s:s, s:o, s:i, s:i, s:s, s:s, s:s}", "article", art, "action",
                  url.data ? url.data : "", "csrf", tok.data, "fid", fid, "recipients", rec, "max",
                  cfg->share_max_recipients, "note_max", cfg->share_note_max_chars, "sender_name",
                  in && in->sender_name ? in->sender_name : "", "sender_email",
                  in && in->sender_email ? in->sender_email : "", "note",
                  in && in->note ? in->note : "");
    if (d && errs && errs->n) {
        static const char *const fields[] = {"sender_name", "sender_email", "note"};
        list = json_array();
        for (size_t i = 0; i < errs->n; i++) {
            char id[32];
            const struct form_error *e = &errs->e[i];
            field_id(e, id, sizeof id);
            json_array_append_new(list, json_pack("{s:s, s:o}", "href", e->field ? id : "",
                                                  "message", error_text(e, vars)));
        }
        json_object_set_new(d, "errors", list);
        json_object_set_new(d, "has_errors", json_true());
        for (size_t i = 0; i < 3; i++) {
            const struct form_error *e = error_of(errs, fields[i], 0);
            char key[48];
            if (!e)
                continue;
            snprintf(key, sizeof key, "%s_error", fields[i]);
            json_object_set_new(d, key, error_text(e, vars));
            if (e == first) {
                snprintf(key, sizeof key, "%s_focus", fields[i]);
                json_object_set_new(d, key, json_true());
            }
        }
        if (!first->field) /* nothing to correct: the send button again */
            json_object_set_new(d, "send_focus", json_true());
    }
    buf_free(&tok);
    buf_free(&url);
    json_decref(vars);
    return d;
}

static void db_unavailable(struct http_req *r)
{
    log_error("http: database: %s", merr_msg());
    http_header(r, "Retry-After", "5");
    if (http_wants_json(r))
        http_reply_refusal(r, 503, "unavailable", "page.unavailable", NULL, NULL);
    else
        http_page_error(r, 503, "page.unavailable");
}

void http_share_get(struct http_req *r, const char *article_id)
{
    struct db *db = http_db(r);
    struct article *a = NULL;
    enum merr rc;
    json_t *d;

    if (!db)
        return db_unavailable(r);
    rc = article_load_head(db, article_id, &a);
    if (rc == MERR_NOTFOUND)
        return http_page_error(r, 404, "article.not_found");
    if (rc)
        return db_unavailable(r);
    d = form_data(r, a, NULL, NULL);
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
    if (article_load_head(db, article_id, &a))
        return http_page_error(r, 404, "article.not_found");
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
        return http_page_error(r, 404, "media.not_found");
    if (!db)
        return db_unavailable(r);
    buf_init(&bytes, 0);
    rc = media_bytes(db, sha256, &bytes);
    if (rc == MERR_NOTFOUND) {
        buf_free(&bytes);
        return http_page_error(r, 404, "media.not_found");
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

/*
 * Refuses a POST: the form again with its fields marked (400/403/429), or
 * JSON with every error; without the article, an error page.
 */
static void refuse(struct http_req *r, int json, int status, const char *code,
                   const struct form_errors *errs, const struct article *a,
                   const struct share_input *in)
{
    const struct form_error *first = &errs->e[0];
    json_t *d;

    if (json) {
        json_t *vars = msg_vars(r->ctx->cfg), *all = json_array();
        json_t *one = http_refusal_json(code, first->reason, first->field, vars);
        if (one && first->field && !strcmp(first->field, "to"))
            json_object_set_new(one, "index", json_integer((json_int_t)first->index));
        for (size_t i = 0; i < errs->n; i++) {
            const struct form_error *e = &errs->e[i];
            json_t *o = json_pack("{s:s, s:s, s:o}", "code", code, "reason", e->reason, "message",
                                  error_text(e, vars));
            if (e->field)
                json_object_set_new(o, "field", json_string(e->field));
            if (e->field && !strcmp(e->field, "to"))
                json_object_set_new(o, "index", json_integer((json_int_t)e->index));
            json_array_append_new(all, o);
        }
        json_decref(vars);
        http_reply_json(r, status, json_pack("{s:o, s:o}", "error", one, "errors", all));
        return;
    }
    if (!a)
        return http_page_error(r, status, first->reason);
    d = form_data(r, a, in, errs);
    if (d)
        http_page(r, status, "share", d);
    else
        http_page_error(r, status, "page.error");
    json_decref(d);
}

/* One refusal of the whole request or of one field. */
static void refuse1(struct http_req *r, int json, int status, const char *code, const char *field,
                    const char *reason, const struct article *a, const struct share_input *in)
{
    struct form_errors errs = {0};
    add_error(&errs, field, 0, reason);
    refuse(r, json, status, code, &errs, a, in);
}

/* Refuses a form whose CSRF check failed with `f` (403, in the catalogue's words). */
static void csrf_refused(struct http_req *r, enum http_csrf_fault f, const struct article *a,
                         const struct share_input *in)
{
    metrics_share("csrf");
    refuse1(r, 0, 403, "csrf", NULL, http_csrf_fault_reason(f), a, in);
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
        } else if (strcmp(n, "fid") == 0 && strlen(v) == 32 &&
                   strspn(v, "0123456789abcdef") == 32) {
            in->fid = v;
        }
    }
}

/*
 * The shape checks of every field before anything is written, all of
 * them: the reader sees every mistake at once. Sets `sender_key` (the
 * sender's rate key) when the sender's address is good.
 */
static void precheck(const struct config *cfg, const struct share_input *in,
                     struct form_errors *errs, char *sender_key, size_t keylen)
{
    struct addr a;
    size_t typed = 0;

    sender_key[0] = '\0';
    if (in->too_many)
        add_error(errs, "to", 0, "to.too_many");
    for (size_t i = 0; i < in->nto && !in->too_many; i++) {
        if (!in->to[i][strspn(in->to[i], " \t")])
            continue; /* an empty box */
        if (++typed > (size_t)cfg->share_max_recipients) {
            add_error(errs, "to", i, "to.too_many");
            break;
        }
        if (addr_parse(in->to[i], &a))
            add_error(errs, "to", i, merr_reason());
    }
    if (!typed && !in->too_many)
        add_error(errs, "to", 0, "to.missing");
    /* the one filter for typed text (text.h); its reasons name the catalogue's words */
    if (in->sender_name) {
        enum text_fault f =
            text_check_name(in->sender_name, strlen(in->sender_name), SHARE_NAME_MAX_CHARS);
        if (f) { /* the detail for JSON, the reason for the catalogue */
            merr_setr(MERR_INVAL, text_fault_reason(f, 0), "sender name %s", text_fault_en(f));
            add_error(errs, "sender_name", 0, text_fault_reason(f, 0));
        }
    }
    if (!in->sender_email || !in->sender_email[strspn(in->sender_email, " \t")])
        add_error(errs, "sender_email", 0, "sender_email.missing");
    else if (addr_parse(in->sender_email, &a))
        add_error(errs, "sender_email", 0, merr_reason());
    else
        snprintf(sender_key, keylen, "sender:%s", a.key);
    if (in->note) {
        enum text_fault f =
            text_check_note(in->note, strlen(in->note), (size_t)cfg->share_note_max_chars);
        if (f) {
            merr_setr(MERR_INVAL, text_fault_reason(f, 1), "note %s", text_fault_en(f));
            add_error(errs, "note", 0, text_fault_reason(f, 1));
        }
    }
}

/* 303 to the thank-you page of article `a`. */
static void to_thanks(struct http_req *r, const struct article *a)
{
    struct buf loc;
    buf_init(&loc, 2048);
    if (buf_puts(&loc, "/share/") || http_form_escape(&loc, a->id) || buf_puts(&loc, "/sent"))
        http_reply(r, 500, "text/plain; charset=utf-8", "internal error\n", 15);
    else
        http_redirect(r, loc.data);
    buf_free(&loc);
}

/* Ends the share's step under the lock: what was not committed is rolled back. */
static void share_unlock(struct http_req *r, struct db *db, int *in_tx, int *locked)
{
    if (*in_tx)
        db_rollback(db);
    *in_tx = 0;
    if (*locked)
        pthread_mutex_unlock(&r->ctx->write_lock);
    *locked = 0;
}

void http_share_post(struct http_req *r, const char *article_id)
{
    const struct config *cfg = r->ctx->cfg;
    struct db *db = NULL, *wdb = NULL; /* the thread's handle; the front's for the step */
    struct http_form form;
    struct share_input in;
    struct form_errors errs = {0};
    struct article *a = NULL;
    json_t *j = NULL;
    int json, locked = 0, in_tx = 0;
    const char *field = NULL;
    char why_field[64];
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

    memset(&form, 0, sizeof form);
    memset(&in, 0, sizeof in);
    if (!r->content_type || (strcmp(r->content_type, "application/x-www-form-urlencoded") != 0 &&
                             strcmp(r->content_type, "application/json") != 0)) {
        metrics_share("content_type");
        http_header(r, "Accept-Post", "application/x-www-form-urlencoded, application/json");
        if (r->accept && strstr(r->accept, "text/html"))
            http_page_error(r, 415, "form.content_type");
        else
            http_reply_refusal(r, 415, "unsupported_media_type", "form.content_type", NULL, NULL);
        return;
    }
    json = strcmp(r->content_type, "application/json") == 0;
    if (json) {
        rc = http_form_json(r->body.data ? r->body.data : "", r->body.len, &j);
        if (!rc)
            rc = json_input(j, &in, &field);
        if (rc) {
            metrics_share("invalid");
            refuse1(r, 1, 400, "invalid", field, merr_reason()[0] ? merr_reason() : "form.invalid",
                    NULL, NULL);
            goto out;
        }
    } else {
        rc = http_form_parse(r->body.data ? r->body.data : "", r->body.len, &form);
        if (rc) {
            metrics_share("invalid");
            http_page_error(r, 400, "form.invalid");
            goto out;
        }
        form_input(&form, &in);
    }

    db = http_db(r);
    if (!db) {
        db_unavailable(r);
        goto out;
    }
    rc = article_load_head(db, article_id, &a);
    if (rc == MERR_NOTFOUND) {
        metrics_share("not_found");
        refuse1(r, json, 404, "not_found", "article_id", "article.not_found", NULL, NULL);
        goto out;
    }
    if (rc) {
        db_unavailable(r);
        goto out;
    }
    /* the same form again, after its share was made: the same answer, no second share */
    if (in.fid && share_find_form(db, in.fid, &send_id) == MERR_OK) {
        metrics_share("repeat");
        to_thanks(r, a);
        goto out;
    }
    precheck(cfg, &in, &errs, senderkey, sizeof senderkey);
    if (errs.n) {
        metrics_share("invalid");
        refuse(r, json, 400, "invalid", &errs, a, &in);
        goto out;
    }
    if (!json && in.honeypot && *in.honeypot) {
        metrics_share("honeypot");
        refuse1(r, 0, 400, "invalid", NULL, "form.honeypot", a, &in);
        goto out;
    }

    if (!json) {
        /* the Origin and the token against the browser's form cookie: nothing written yet */
        enum http_csrf_fault cf = http_csrf_form_check(r, in.csrf, now, nonce);
        if (cf) {
            csrf_refused(r, cf, a, &in);
            goto out;
        }
    }

    /* one step under the lock, and one transaction: a second submit waits for the first and
     * then finds its share; the look-up, the limits, the token's use and the send are one
     * commit (each function's own transaction nests in it as a savepoint, db.h) */
    pthread_mutex_lock(&r->ctx->write_lock);
    locked = 1;
    wdb = http_db_write(r);
    if (!wdb || db_begin(wdb)) {
        share_unlock(r, wdb, &in_tx, &locked);
        db_unavailable(r);
        goto out;
    }
    in_tx = 1;
    if (in.fid && share_find_form(wdb, in.fid, &send_id) == MERR_OK) {
        share_unlock(r, wdb, &in_tx, &locked);
        metrics_share("repeat");
        to_thanks(r, a);
        goto out;
    }
    snprintf(ipkey, sizeof ipkey, "ip:%s", r->client_key);
    keys[0] = ipkey;
    limits[0] = cfg->share_per_ip_per_hour;
    keys[1] = senderkey;
    limits[1] = cfg->share_per_sender_per_hour;
    keys[2] = "global";
    limits[2] = cfg->share_global_per_hour;
    rc = http_store_rate_take(wdb, keys, limits, 3, now, RATE_WINDOW, &refused, &retry_after);
    if (rc == MERR_LIMIT) {
        static const char *const reasons[] = {"rate_ip", "rate_sender", "rate_global"};
        static const char *const msgs[] = {"rate.ip", "rate.sender", "rate.global"};
        char ra[24];
        metrics_share(reasons[refused]);
        /* nothing taken; the prunes of what left the window are kept */
        if (db_commit(wdb))
            log_warn("http: share: keeping the rate limits' prunes: %s", merr_msg());
        else
            in_tx = 0;
        share_unlock(r, wdb, &in_tx, &locked);
        snprintf(ra, sizeof ra, "%d", retry_after);
        refuse1(r, json, 429, "rate_limited", NULL, msgs[refused], a, &in);
        http_header(r, "Retry-After", ra);
        goto out;
    }
    if (rc) {
        share_unlock(r, wdb, &in_tx, &locked);
        db_unavailable(r);
        goto out;
    }
    /* the single use of the form's token, written only now that the limits
     * let the request through (a refused one writes nothing: its rollback takes
     * the units back too) */
    if (!json && (rc = http_store_csrf_use(wdb, nonce, now)) != MERR_OK) {
        share_unlock(r, wdb, &in_tx, &locked);
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
            .form_key = in.fid,
        };
        rc = share_enqueue(wdb, cfg, &req, &send_id, &accepted);
    }
    if (rc) {
        const char *reason = merr_reason();
        char why[512];
        snprintf(why, sizeof why, "%s", merr_msg());
        snprintf(why_field, sizeof why_field, "%s", merr_field());
        field = why_field[0] ? why_field : NULL;
        /* the form's token stays used, as for a share; the units come back */
        if (http_store_rate_give_back(wdb, keys, 3))
            log_warn("http: share: giving back rate units: %s", merr_msg());
        merr_setr(rc, reason, "%s", why); /* the refusal's reason, for the answer */
    }
    if (db_commit(wdb)) {
        /* nothing of it is written: not the share, not the units, not the token's use */
        log_warn("http: share: commit: %s", merr_msg());
        rc = MERR_TEMPFAIL;
    } else {
        in_tx = 0;
    }
    share_unlock(r, wdb, &in_tx, &locked);
    if (rc == MERR_INVAL || rc == MERR_LIMIT) {
        metrics_share("invalid");
        refuse1(r, json, 400, "invalid", field, merr_reason(), a, &in);
        goto out;
    }
    if (rc == MERR_NOTFOUND) {
        metrics_share("not_found");
        refuse1(r, json, 404, "not_found", "article_id", "article.not_found", NULL, NULL);
        goto out;
    }
    if (rc) {
        metrics_share("error");
        db_unavailable(r);
        goto out;
    }
    metrics_share(NULL);
    if (json)
        http_reply_json(r, 202,
                        json_pack("{s:I, s:I}", "send_id", (json_int_t)send_id, "accepted",
                                  (json_int_t)accepted));
    else
        to_thanks(r, a);
out:
    share_unlock(r, wdb, &in_tx, &locked);
    json_decref(j);
    http_form_free(&form);
    article_free(a);
}
