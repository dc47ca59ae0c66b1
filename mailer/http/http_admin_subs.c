/*
 * http_admin_subs.c: finding people and everything about one person.
 *
 *   GET  /admin/subscribers?q=&list=&state=&before=   search, newest first,
 *                                   a page of 50 (keyset: before = the last
 *                                   id shown, never an offset)
 *   GET  /admin/subscribers/ID      the person: everything stored about them
 *                                   (share_person_show: subscriber and
 *                                   attributes, subscriptions with opt-in
 *                                   times and IPs, suppression, envelopes,
 *                                   shares they sent)
 *   GET  /admin/subscribers/ID/data.json   the same, as a download
 *   POST /admin/subscribers/ID/unsubscribe (list=SLUG or all)
 *   POST /admin/subscribers/ID/block
 *   GET  /admin/subscribers/ID/erase       asks to confirm;  POST erases
 *                                          (share_erase_person)
 *
 * The page reads the same JSON object as `mailer sub show` and the
 * download, so the three never disagree about what is stored. Erasing
 * asks for confirmation on a page of its own (no script needed), and the
 * POST must also carry confirm=yes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "http_admin.h"
#include "outbox.h"
#include "share.h"
#include "subs.h"

#define PAGE 50

static const char *status_label(const char *s)
{
    if (!s)
        return "";
    if (!strcmp(s, "confirmed"))
        return "đã xác nhận";
    if (!strcmp(s, "unconfirmed"))
        return "chờ xác nhận";
    if (!strcmp(s, "unsubscribed"))
        return "đã huỷ đăng ký";
    return s;
}

static const char *state_label(const char *s)
{
    static const struct {
        const char *k, *v;
    } m[] = {{"queued", "chờ gửi"},    {"sending", "đang gửi"}, {"sent", "đã gửi"},
             {"deferred", "hoãn"},     {"failed", "thất bại"},  {"cancelled", "đã huỷ"},
             {"share", "chia sẻ"},     {"digest", "bản tin"},   {"confirm", "thư xác nhận"},
             {"breaking", "tin nóng"}, {"test", "thư thử"}};
    for (size_t i = 0; s && i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(m[i].k, s))
            return m[i].v;
    return s ? s : "";
}

const char *http_admin_label(const char *code)
{
    const char *s = status_label(code);
    return s != code ? s : state_label(code);
}

static const char *reason_label(const char *r)
{
    if (!r)
        return "";
    if (!strcmp(r, "hard_bounce"))
        return "thư bị trả lại vĩnh viễn";
    if (!strcmp(r, "complaint"))
        return "người nhận báo thư rác";
    if (!strcmp(r, "manual"))
        return "chặn bởi biên tập viên";
    if (!strcmp(r, "unsubscribed_all"))
        return "tự huỷ mọi danh sách";
    return r;
}

/* ---- search ---- */

static void search_page(struct http_admin *a)
{
    struct subs_search q;
    struct subs_hit *hits;
    struct subs_list *lists = NULL, sel;
    size_t n = 0, nlists = 0;
    const char *list = http_query(a->r, "list"), *state = http_query(a->r, "state");
    const char *text = http_query(a->r, "q");
    json_t *rows, *jl, *d;
    enum merr rc;

    memset(&q, 0, sizeof q);
    memset(&sel, 0, sizeof sel);
    q.q = text;
    q.before = http_admin_id(http_query(a->r, "before"));
    q.limit = PAGE;
    if (state && *state)
        q.state = !strcmp(state, "blocked") ? SUBS_SEARCH_BLOCKED : subs_status_parse(state);
    if (q.state < 0)
        q.state = 0;
    if (list && *list) {
        rc = subs_list_get(a->db, list, &sel);
        if (rc)
            return http_admin_fail(a, rc, "list");
        q.list_id = sel.id;
        subs_list_clear(&sel);
    }
    rc = subs_list_all(a->db, &lists, &nlists);
    if (rc)
        return http_admin_fail(a, rc, "lists");
    jl = json_array();
    for (size_t i = 0; i < nlists; i++)
        json_array_append_new(jl, json_pack("{s:s, s:s, s:b}", "slug", lists[i].slug, "name",
                                            lists[i].name, "selected",
                                            list && !strcmp(list, lists[i].slug)));
    subs_lists_free(lists, nlists);
    hits = calloc(PAGE, sizeof *hits);
    if (!hits) {
        json_decref(jl);
        return http_admin_fail(a, merr_set(MERR_NOMEM, "out of memory"), "search");
    }
    rc = subs_search(a->db, &q, hits, &n);
    if (rc == MERR_INVAL) {
        free(hits);
        json_decref(jl);
        return http_admin_error(a, 400, "Tìm kiếm không hợp lệ", "Từ khoá tìm kiếm quá dài.");
    }
    if (rc) {
        free(hits);
        json_decref(jl);
        return http_admin_fail(a, rc, "search");
    }
    rows = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *subs = json_array();
        char lists_copy[512], *save = NULL, *tok;
        snprintf(lists_copy, sizeof lists_copy, "%s", hits[i].lists);
        for (tok = strtok_r(lists_copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            char *colon = strrchr(tok, ':');
            if (!colon)
                continue;
            *colon = '\0';
            json_array_append_new(
                subs, json_pack("{s:s, s:s}", "list", tok, "status", status_label(colon + 1)));
        }
        json_array_append_new(
            rows, json_pack("{s:I, s:s, s:s, s:o, s:b, s:o}", "id", (json_int_t)hits[i].id, "email",
                            hits[i].email, "name", hits[i].name, "subs", subs, "blocked",
                            hits[i].blocked, "created", http_admin_time(hits[i].created_at)));
    }
    d = json_pack("{s:s, s:o, s:o, s:s, s:{s:b, s:b, s:b, s:b}}", "title", "Người đăng ký", "rows",
                  rows, "lists", jl, "q", text ? text : "", "state", "confirmed",
                  q.state == SUBS_CONFIRMED, "unconfirmed", q.state == SUBS_UNCONFIRMED,
                  "unsubscribed", q.state == SUBS_UNSUBSCRIBED, "blocked",
                  q.state == SUBS_SEARCH_BLOCKED);
    json_object_set_new(d, "searched", json_boolean(text || list || state));
    if (n == PAGE) {
        /* the next page: the same search below the last id shown */
        struct buf next;
        buf_init(&next, 2048);
        buf_puts(&next, "/admin/subscribers?q=");
        http_form_escape(&next, text ? text : "");
        buf_puts(&next, "&list=");
        http_form_escape(&next, list ? list : "");
        buf_puts(&next, "&state=");
        http_form_escape(&next, state ? state : "");
        buf_printf(&next, "&before=%lld", hits[n - 1].id);
        json_object_set_new(d, "next", json_string(next.data));
        buf_free(&next);
    }
    if (q.before)
        json_object_set_new(d, "paged", json_true());
    free(hits);
    http_admin_page(a, 200, "subscribers", "subscribers", d);
}

/* ---- one person ---- */

static json_t *time_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? http_admin_time((time_t)json_integer_value(v)) : json_string("");
}

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The page's data from the person's JSON (share_person_show). */
static json_t *person_data(long long id, json_t *p)
{
    json_t *sub = json_object_get(p, "subscriber"), *attrs = json_array(), *subns = json_array();
    json_t *env = json_object_get(p, "envelopes"), *last = json_array(), *by = json_array();
    json_t *shares = json_object_get(p, "shares"), *sl = json_array(), *supp, *v, *d;
    const char *key;
    size_t i;

    json_object_foreach(json_object_get(sub, "attributes"), key, v)
    {
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        json_array_append_new(attrs, json_pack("{s:s, s:s}", "key", key, "value",
                                               text ? text : json_string_value(v)));
        free(text);
    }
    json_array_foreach(json_object_get(p, "subscriptions"), i, v) json_array_append_new(
        subns,
        json_pack("{s:s, s:s, s:s, s:b, s:o, s:s, s:o, s:s, s:o}", "list", str_of(v, "list"),
                  "list_name", str_of(v, "list_name"), "status", status_label(str_of(v, "status")),
                  "active", strcmp(str_of(v, "status"), "unsubscribed") != 0, "optin_at",
                  time_of(v, "optin_at"), "optin_ip", str_of(v, "optin_ip"), "confirmed_at",
                  time_of(v, "confirmed_at"), "confirmed_ip", str_of(v, "confirmed_ip"),
                  "unsubscribed_at", time_of(v, "unsubscribed_at")));
    json_object_foreach(json_object_get(env, "by_state"), key, v)
        json_array_append_new(by, json_pack("{s:s, s:I}", "state", state_label(key), "n",
                                            (json_int_t)json_integer_value(v)));
    json_array_foreach(json_object_get(env, "last"), i, v) json_array_append_new(
        last, json_pack("{s:I, s:I, s:s, s:s, s:I, s:o, s:o, s:o}", "id",
                        (json_int_t)json_integer_value(json_object_get(v, "id")), "send",
                        (json_int_t)json_integer_value(json_object_get(v, "send")), "kind",
                        state_label(str_of(v, "kind")), "state", state_label(str_of(v, "state")),
                        "attempts", (json_int_t)json_integer_value(json_object_get(v, "attempts")),
                        "code", json_copy(json_object_get(v, "last_code")), "created",
                        time_of(v, "created_at"), "sent", time_of(v, "sent_at")));
    json_array_foreach(json_object_get(shares, "last"), i, v) json_array_append_new(
        sl, json_pack("{s:s, s:I, s:s, s:o}", "article", str_of(v, "article"), "recipients",
                      (json_int_t)json_integer_value(json_object_get(v, "recipients")), "ip",
                      str_of(v, "client_ip"), "created", time_of(v, "created_at")));
    supp = json_object_get(p, "suppression");
    d = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:o, s:o, s:I, s:o}", "id",
                  (json_int_t)id, "email", str_of(sub, "email"), "email_ascii",
                  str_of(sub, "email_ascii"), "name", str_of(sub, "name"), "created",
                  time_of(sub, "created_at"), "attributes", attrs, "subscriptions", subns,
                  "envelopes_total", (json_int_t)json_integer_value(json_object_get(env, "total")),
                  "by_state", by, "last", last, "shares_total",
                  (json_int_t)json_integer_value(json_object_get(shares, "total")), "shares", sl);
    if (json_is_object(supp))
        json_object_set_new(
            d, "suppression",
            json_pack("{s:s, s:s, s:o}", "reason", reason_label(str_of(supp, "reason")), "detail",
                      str_of(supp, "detail"), "created", time_of(supp, "created_at")));
    return d;
}

/* The person's JSON, found by id. */
static enum merr load_person(struct http_admin *a, long long id, char *email, size_t size,
                             json_t **out)
{
    enum merr rc = subs_person_get(a->db, id, email, size);
    if (!rc)
        rc = share_person_show(a->db, email, out);
    return rc;
}

static void person_page(struct http_admin *a, long long id)
{
    char email[1024];
    json_t *p = NULL, *d;
    enum merr rc = load_person(a, id, email, sizeof email, &p);
    if (rc)
        return http_admin_fail(a, rc, "person");
    d = person_data(id, p);
    {
        json_t *sub = json_object_get(p, "subscriber");
        const char *key = json_string_value(json_object_get(sub, "email_key"));
        json_object_set_new(d, "bounces", http_admin_bounces_of(a, key ? key : ""));
    }
    json_decref(p);
    json_object_set_new(d, "title", json_string(email));
    http_admin_page(a, 200, "person", "subscribers",
                    json_pack("{s:s, s:o}", "title", email, "p", d));
}

static void person_json(struct http_admin *a, long long id)
{
    char email[1024], disp[96];
    json_t *p = NULL;
    char *s;
    enum merr rc = load_person(a, id, email, sizeof email, &p);
    if (rc)
        return http_admin_fail(a, rc, "person");
    s = json_dumps(p, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(p);
    if (!s)
        return http_admin_fail(a, merr_set(MERR_NOMEM, "out of memory"), "person");
    http_reply(a->r, 200, "application/json; charset=utf-8", s, strlen(s));
    free(s);
    snprintf(disp, sizeof disp, "attachment; filename=\"subscriber-%lld.json\"", id);
    http_header(a->r, "Content-Disposition", disp);
    http_header(a->r, "Cache-Control", "no-store");
}

/*
 * How the audit log names a person: by id, never by address, so that an
 * erased person's address does not live on in the log (ids are never
 * reused).
 */
static const char *person_ref(long long id, char *out, size_t size)
{
    snprintf(out, size, "người đăng ký #%lld", id);
    return out;
}

static void unsubscribe(struct http_admin *a, long long id)
{
    const char *list = http_admin_field(a, "list");
    struct subs_list l;
    char email[1024], loc[96];
    long long list_id = 0;
    enum merr rc = subs_person_get(a->db, id, email, sizeof email);
    if (rc)
        return http_admin_fail(a, rc, "person");
    memset(&l, 0, sizeof l);
    if (list && strcmp(list, "all") != 0) {
        rc = subs_list_get(a->db, list, &l);
        if (rc)
            return http_admin_fail(a, rc, "list");
        list_id = l.id;
        subs_list_clear(&l);
    }
    http_admin_lock(a);
    rc = subs_person_unsubscribe(a->db, id, list_id, date_now());
    if (!rc)
        http_admin_audit(a, "subscriber.unsubscribe", person_ref(id, loc, sizeof loc), "%s",
                         list_id ? list : "mọi danh sách");
    http_admin_unlock(a);
    if (rc)
        return http_admin_fail(a, rc, "unsubscribe");
    snprintf(loc, sizeof loc, "/admin/subscribers/%lld", id);
    http_admin_done(a, loc, "unsubscribed");
}

static void block(struct http_admin *a, long long id)
{
    char email[1024], loc[96], detail[300];
    enum merr rc = subs_person_get(a->db, id, email, sizeof email);
    if (rc)
        return http_admin_fail(a, rc, "person");
    snprintf(detail, sizeof detail, "chặn bởi %s", a->s.user.email);
    http_admin_lock(a);
    rc = subs_person_block(a->db, id, detail, date_now());
    if (!rc)
        http_admin_audit(a, "subscriber.block", person_ref(id, loc, sizeof loc), NULL);
    http_admin_unlock(a);
    if (rc)
        return http_admin_fail(a, rc, "block");
    snprintf(loc, sizeof loc, "/admin/subscribers/%lld", id);
    http_admin_done(a, loc, "blocked");
}

static void erase(struct http_admin *a, long long id)
{
    struct subs_erase_result er;
    char email[1024];
    long long shares = 0;
    const char *confirm = http_admin_field(a, "confirm");
    enum merr rc = subs_person_get(a->db, id, email, sizeof email);
    if (rc)
        return http_admin_fail(a, rc, "person");
    if (!a->post || !confirm || strcmp(confirm, "yes") != 0)
        return http_admin_page(a, a->post ? 400 : 200, "erase", "subscribers",
                               json_pack("{s:s, s:I, s:s}", "title", "Xoá toàn bộ dữ liệu", "id",
                                         (json_int_t)id, "email", email));
    http_admin_lock(a);
    rc = share_erase_person(a->db, email, date_now(), &er, &shares);
    if (!rc) {
        char obj[32];
        http_admin_audit(a, "subscriber.erase", person_ref(id, obj, sizeof obj),
                         "%d đăng ký, %lld thư, %lld lần chia sẻ", er.subscriptions,
                         er.envelopes_erased, shares);
    }
    http_admin_unlock(a);
    if (rc)
        return http_admin_fail(a, rc, "erase");
    http_admin_done(a, "/admin/subscribers", "erased");
}

void http_admin_subscribers(struct http_admin *a, const char *rest)
{
    const char *action;
    long long id;

    if (!*rest) {
        if (!http_admin_get_only(a))
            return;
        return search_page(a);
    }
    if (!(id = http_admin_split(rest, &action)))
        return http_admin_error(a, 404, "Không tìm thấy", "");
    if (!*action) {
        if (!http_admin_get_only(a))
            return;
        return person_page(a, id);
    }
    if (!strcmp(action, "data.json")) {
        if (!http_admin_get_only(a))
            return;
        return person_json(a, id);
    }
    if (!strcmp(action, "erase"))
        return erase(a, id);
    if (!strcmp(action, "unsubscribe") || !strcmp(action, "block")) {
        if (!a->post)
            return http_admin_bad_method(a, "POST");
        return action[0] == 'u' ? unsubscribe(a, id) : block(a, id);
    }
    http_admin_error(a, 404, "Không tìm thấy trang", "");
}
