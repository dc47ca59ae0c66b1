/*
 * http_subs.c: the subscription pages: subscribe, confirm, unsubscribe.
 *
 * A GET on a link from a mail never changes anything (mail scanners and
 * link previews fetch links): it shows a page with a button, and the POST
 * of that button acts. The one exception is the RFC 8058 one-click POST
 * (body `List-Unsubscribe=One-Click`, §3.1), sent by mail clients from the
 * List-Unsubscribe-Post header: it unsubscribes and answers 200 with no
 * redirect. The subscribe page answers with one page for every outcome
 * (subscribed now, a confirmation mail sent, already subscribed, a
 * confirmation sent minutes ago, suppressed, a cap reached), in words true
 * for each of them, depending on the list's opt-in only, so the form does
 * not tell who is on a list. Its refusals name the field at fault in the
 * catalogue's words (http_msg.c). The subscribe form carries a CSRF token
 * bound to the browser (http_csrf.c), checked with the Origin before
 * anything is written, its nonce stored only once the rate limit let the
 * request through; the confirm and unsubscribe POSTs (whose link token is
 * the capability) are refused when their Origin names another site. The
 * link tokens are secrets: they are never logged (http.c logs these paths
 * as "/confirm/…").
 */
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "addr.h"
#include "http_int.h"
#include "http_msg.h"
#include "log.h"
#include "subs.h"

#define SUBSCRIBE_WINDOW 3600

static void unavailable(struct http_req *r)
{
    log_error("http: subscriptions: %s", merr_msg());
    http_header(r, "Retry-After", "5");
    http_page_error(r, 503, "page.unavailable");
}

/* What the subscribe form holds wrong: up to one reason per field, in the page's order. */
struct sub_errors {
    const char *list, *email, *name; /* catalogue reasons, NULL: the field is fine */
    const char *form;                /* the whole form's (the CSRF check), shown alone */
};

/* The catalogue's words for `reason` as a new JSON string. */
static json_t *msg(const char *reason)
{
    return http_msg_json(reason, "field.invalid", NULL);
}

/*
 * The subscribe form with every public list (private ones are for editors
 * only); `chosen`, `email`, `name`, `errs` may be NULL. A field at fault
 * gets its message beside it, aria-invalid and a link from the summary at
 * the top; the first one gets the focus.
 */
static void subscribe_form(struct http_req *r, int status, const char *chosen, const char *email,
                           const char *name, const struct sub_errors *errs)
{
    struct db *db = http_db(r);
    struct subs_list *lists = NULL;
    size_t n = 0, shown = 0;
    json_t *arr, *d, *summary;
    struct buf tok;
    const char *first = !errs         ? NULL
                        : errs->list  ? "list"
                        : errs->email ? "email"
                        : errs->name  ? "name"
                                      : NULL;
    int focus_done = 0;

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
    for (size_t i = 0; i < n; i++) {
        if (!lists[i].is_public)
            continue;
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:b}", "slug", lists[i].slug, "name",
                      lists[i].name ? lists[i].name : lists[i].slug, "description",
                      lists[i].description ? lists[i].description : "", "checked",
                      (chosen && strcmp(chosen, lists[i].slug) == 0) || (!chosen && shown == 1));
        if (first && !strcmp(first, "list") && !focus_done) {
            json_object_set_new(o, "focus", json_true());
            focus_done = 1;
        }
        json_array_append_new(arr, o);
    }
    d = json_pack("{s:o, s:s, s:s, s:b, s:s}", "lists", arr, "email", email ? email : "", "name",
                  name ? name : "", "has_lists", shown > 0, "csrf", tok.data);
    buf_free(&tok);
    if (d && errs && errs->form) { /* the whole form: in the summary, beside no field */
        json_object_set_new(
            d, "errors",
            json_pack("[{s:o}]", "message", http_msg_json(errs->form, "page.error", NULL)));
        json_object_set_new(d, "has_errors", json_true());
    } else if (d && first) {
        static const char *const fields[] = {"list", "email", "name"};
        const char *reasons[] = {errs->list, errs->email, errs->name};
        summary = json_array();
        for (size_t i = 0; i < 3; i++) {
            char key[32], href[32];
            if (!reasons[i])
                continue;
            snprintf(key, sizeof key, "%s_error", fields[i]);
            json_object_set_new(d, key, msg(reasons[i]));
            if (!strcmp(first, fields[i]) && strcmp(fields[i], "list") != 0) {
                snprintf(key, sizeof key, "%s_focus", fields[i]);
                json_object_set_new(d, key, json_true());
            }
            /* the summary links to the field (the first list's radio for the list) */
            if (!strcmp(fields[i], "list") && json_array_size(arr))
                snprintf(href, sizeof href, "list-%s",
                         json_string_value(json_object_get(json_array_get(arr, 0), "slug")));
            else
                snprintf(href, sizeof href, "%s", fields[i]);
            json_array_append_new(
                summary, json_pack("{s:s, s:o}", "href", href, "message", msg(reasons[i])));
        }
        json_object_set_new(d, "errors", summary);
        json_object_set_new(d, "has_errors", json_true());
    }
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
        http_page_error(r, 415, "form.content_type");
        return 1;
    }
    if (http_form_parse(r->body.data ? r->body.data : "", r->body.len, f)) {
        http_page_error(r, 400, "form.invalid");
        return 1;
    }
    return 0;
}

void http_subs_subscribe_post(struct http_req *r)
{
    const struct config *cfg = r->ctx->cfg;
    struct http_form f;
    struct subs_result res;
    struct sub_errors errs = {0};
    struct addr a;
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
        errs.form = http_csrf_fault_reason(cf);
        subscribe_form(r, 403, list, email, name, &errs);
        goto out;
    }
    /* every field checked before anything is written: the reader sees every mistake at once */
    if (!list || !*list)
        errs.list = "list.missing";
    if (!email || !email[strspn(email, " \t")])
        errs.email = "addr.empty";
    else if (addr_parse(email, &a))
        errs.email = merr_reason()[0] ? merr_reason() : "field.invalid";
    if (name && subs_check_name(name, strlen(name)))
        errs.name = merr_reason()[0] ? merr_reason() : "field.invalid";
    if (errs.list || errs.email || errs.name) {
        subscribe_form(r, 400, list, email, name, &errs);
        goto out;
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
        errs.form = http_csrf_fault_reason(HTTP_CSRF_USED);
        subscribe_form(r, 403, list, email, name, &errs);
        goto out;
    }
    if (!rc)
        rc = subs_subscribe(db, cfg, list, email, name, r->client_ip, now, SUBS_ADD_PUBLIC, &res);
    pthread_mutex_unlock(&r->ctx->write_lock);
    if (rc == MERR_LIMIT) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", retry_after);
        http_page_error(r, 429, "rate.subscribe");
        http_header(r, "Retry-After", ra);
    } else if (rc == MERR_INVAL) { /* what the checks above let through: the module's word */
        const char *why = merr_reason()[0] ? merr_reason() : "field.invalid";
        if (!strncmp(why, "name.", 5))
            errs.name = why;
        else
            errs.email = why;
        subscribe_form(r, 400, list, email, name, &errs);
    } else if (rc == MERR_NOTFOUND) {
        errs.list = "list.not_found";
        subscribe_form(r, 404, NULL, email, name, &errs);
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
        http_page_error(r, 400, "link.invalid");
    else if (rc == MERR_NOTFOUND)
        http_page_error(r, 404, gone);
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
        return http_page_error(r, 403, "link.confirm_other_site");
    if (post) {
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = subs_confirm(db, cfg, token, r->client_ip, now, &info);
        pthread_mutex_unlock(&r->ctx->write_lock);
    } else {
        rc = subs_token_inspect(db, cfg, token, SUBS_TOKEN_CONFIRM, now, &info);
    }
    if (rc == MERR_LIMIT) /* expired: offer to subscribe again, the address filled in */
        return link_page(r, 410, "confirm", &info, action, "expired");
    if (link_failed(r, rc, "link.confirm_gone"))
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
        return http_page_error(r, 403, "link.unsubscribe_other_site");
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
    if (link_failed(r, rc, "link.unsubscribe_gone"))
        return;
    if (post)
        link_page(r, 200, "unsubscribe", &info, action, all ? "done_all" : "done");
    else
        link_page(r, 200, "unsubscribe", &info, action,
                  info.status == SUBS_UNSUBSCRIBED ? "already" : "ask");
}
