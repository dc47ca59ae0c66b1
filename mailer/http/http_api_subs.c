/*
 * http_api_subs.c: the admin API's lists and subscribers (bearer token,
 * http_api.c routes here).
 *
 *   GET/POST /api/lists (?limit, after), GET/PATCH/DELETE /api/lists/SLUG
 *     (PATCH: settings, digest schedule and content)
 *   GET/POST /api/subscribers (?list, status, q, limit, after), GET/DELETE
 *     /api/subscribers/EMAIL (?list), POST /api/subscribers/import
 *     (text/csv; ?list, mode, dry_run: per-line reasons), GET
 *     /api/subscribers/export (?list, status)
 *
 * A list is answered with its counters and its digest settings named as
 * PATCH takes them; subscriber pages end with a whole subscriber (all of
 * their subscriptions), so `after` never cuts one in two. The handlers call
 * subscribers (subs_*), which owns every row; none has SQL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "http_int.h"
#include "share.h"
#include "subs.h"

#define API_IMPORT_ERRORS_MAX 1000 /* refused rows listed with their reason */

/* ---- lists ---- */

static json_t *list_json(const struct subs_list *l)
{
    json_t *j = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:{s:I, s:I, s:I}, s:o, s:o}", "id", (json_int_t)l->id, "slug",
        l->slug, "name", l->name ? l->name : "", "description",
        l->description ? l->description : "", "optin", l->double_optin ? "double" : "single",
        "subscribers", "confirmed", (json_int_t)l->n_confirmed, "unconfirmed",
        (json_int_t)l->n_unconfirmed, "unsubscribed", (json_int_t)l->n_unsubscribed, "created_at",
        http_api_time_json(l->created_at), "updated_at", http_api_time_json(l->updated_at));
    /* the digest settings, named as PATCH takes them */
    json_t *d = json_pack(
        "{s:b, s:i, s:s, s:s, s:o, s:i, s:s, s:s, s:b}", "public", l->is_public, "digest_weekday",
        l->digest_weekday, "digest_time", l->digest_time, "digest_timezone", date_zone(),
        "digest_category", l->digest_category ? json_string(l->digest_category) : json_null(),
        "digest_max_articles", l->digest_max_articles, "digest_subject",
        l->digest_subject ? l->digest_subject : "", "digest_template",
        l->digest_template ? l->digest_template : "", "digest_enabled", l->digest_enabled);
    if (j && d)
        json_object_update(j, d);
    json_decref(d);
    return j;
}

/*
 * PATCH /api/lists/SLUG with a JSON object of the settings to change:
 * name, description, optin ("single"|"double"), public (true|false: offered
 * on the subscribe page), digest_weekday (0-6, 0 =
 * Sunday), digest_time ("HH:MM"), digest_category (a string; "" or null:
 * all), digest_max_articles (1-100), digest_subject, digest_template,
 * digest_enabled (true|false). An unknown key or a wrong type is refused
 * (400 naming the field) and nothing changes. Answers the list as GET does.
 */
static void list_patch(struct http_req *r, struct db *db, const char *slug)
{
    struct subs_list_update u;
    struct subs_list l;
    const char *key, *field = NULL, *want = NULL;
    json_t *j = http_api_json_body(r), *v;
    enum merr rc;

    if (!j)
        return;
    subs_list_update_init(&u);
    struct {
        const char *name;
        const char **dst;
    } strings[] = {{"name", &u.name},
                   {"description", &u.description},
                   {"optin", &u.optin},
                   {"digest_time", &u.digest_time},
                   {"digest_category", &u.digest_category},
                   {"digest_subject", &u.digest_subject},
                   {"digest_template", &u.digest_template}};
    json_object_foreach(j, key, v)
    {
        size_t i;
        for (i = 0; i < sizeof strings / sizeof strings[0]; i++)
            if (!strcmp(key, strings[i].name))
                break;
        if (i < sizeof strings / sizeof strings[0]) {
            if (json_is_string(v))
                *strings[i].dst = json_string_value(v);
            else if (json_is_null(v) && !strcmp(key, "digest_category"))
                u.digest_category = ""; /* all categories */
            else
                want = "a string";
        } else if (!strcmp(key, "digest_weekday")) {
            if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 6)
                u.digest_weekday = (int)json_integer_value(v);
            else
                want = "an integer 0-6 (0 = Sunday)";
        } else if (!strcmp(key, "digest_max_articles")) {
            if (json_is_integer(v) && json_integer_value(v) >= 1 &&
                json_integer_value(v) <= SUBS_DIGEST_MAX_ARTICLES)
                u.digest_max_articles = (int)json_integer_value(v);
            else
                want = "an integer 1-100";
        } else if (!strcmp(key, "digest_enabled")) {
            if (json_is_boolean(v))
                u.digest_enabled = json_is_true(v);
            else
                want = "true or false";
        } else if (!strcmp(key, "public")) {
            if (json_is_boolean(v))
                u.is_public = json_is_true(v);
            else
                want = "true or false";
        } else {
            want = ""; /* not a setting */
        }
        if (want)
            break;
    }
    if (want) {
        char msg[200];
        if (*want)
            snprintf(msg, sizeof msg, "%.64s: expected %s", key, want);
        else
            snprintf(msg, sizeof msg, "%.64s: not a setting of a list", key);
        http_reply_error(r, 400, "invalid", msg, key);
        json_decref(j);
        return;
    }
    pthread_mutex_lock(&r->ctx->write_lock);
    rc = subs_list_update(db, r->ctx->cfg, slug, &u, &field);
    pthread_mutex_unlock(&r->ctx->write_lock);
    json_decref(j);
    if (!rc)
        rc = subs_list_get(db, slug, &l);
    if (rc)
        return http_api_fail(r, rc, field);
    http_reply_json(r, 200, list_json(&l));
    subs_list_clear(&l);
}

void http_api_subs_lists(struct http_req *r, struct db *db, const char *rest)
{
    enum merr rc;
    struct subs_list l;

    memset(&l, 0, sizeof l);
    if (!*rest) {
        if (http_api_method(r, "GET")) { /* in slug order; ?after=SLUG&limit=N pages through them */
            struct subs_list *v = NULL;
            size_t n = 0, taken = 0;
            const char *after = http_query(r, "after");
            long long limit = http_api_query_number(r, "limit", HTTP_API_LIST_MAX);
            json_t *arr, *next = json_null();
            if (limit < 0)
                return;
            if (!limit)
                limit = HTTP_API_LIST_MAX;
            rc = subs_list_all(db, &v, &n);
            if (rc)
                return http_api_fail(r, rc, NULL);
            arr = json_array();
            for (size_t i = 0; i < n; i++) {
                if (after && strcmp(v[i].slug, after) <= 0)
                    continue;
                if (taken == (size_t)limit) { /* there is more: the page ends here */
                    json_decref(next);
                    next = json_string(v[i - 1].slug);
                    break;
                }
                json_array_append_new(arr, list_json(&v[i]));
                taken++;
            }
            subs_lists_free(v, n);
            return http_reply_json(r, 200,
                                   json_pack("{s:o, s:o}", "lists", arr, "next_after", next));
        }
        if (http_api_method(r, "POST")) {
            json_t *j = http_api_json_body(r);
            long long id;
            if (!j)
                return;
            if (!http_api_str_field(j, "slug") || !http_api_str_field(j, "name")) {
                json_decref(j);
                return http_reply_error(r, 400, "invalid", "slug and name are required",
                                        http_api_str_field(j, "slug") ? "name" : "slug");
            }
            json_t *pub = json_object_get(j, "public");
            if (pub && !json_is_boolean(pub)) {
                json_decref(j);
                return http_reply_error(r, 400, "invalid", "public: expected true or false",
                                        "public");
            }
            pthread_mutex_lock(&r->ctx->write_lock);
            rc = db_begin(db);
            if (!rc)
                rc = subs_list_create(db, http_api_str_field(j, "slug"),
                                      http_api_str_field(j, "name"),
                                      http_api_str_field(j, "description"),
                                      http_api_str_field(j, "optin"), date_now(), &id);
            if (!rc && json_is_true(pub)) { /* a new list is private unless asked */
                struct subs_list_update u;
                subs_list_update_init(&u);
                u.is_public = 1;
                rc = subs_list_update(db, NULL, http_api_str_field(j, "slug"), &u, NULL);
            }
            if (!rc)
                rc = db_commit(db);
            else
                db_rollback(db);
            pthread_mutex_unlock(&r->ctx->write_lock);
            if (!rc)
                rc = subs_list_get_id(db, id, &l);
            json_decref(j);
            if (rc)
                return http_api_fail(r, rc, NULL);
            http_reply_json(r, 201, list_json(&l));
            subs_list_clear(&l);
            return;
        }
        return http_api_bad_method(r, "GET, POST");
    }
    if (http_api_method(r, "GET")) {
        rc = subs_list_get(db, rest, &l);
        if (rc)
            return http_api_fail(r, rc, NULL);
        http_reply_json(r, 200, list_json(&l));
        subs_list_clear(&l);
        return;
    }
    if (http_api_method(r, "PATCH"))
        return list_patch(r, db, rest);
    if (http_api_method(r, "DELETE")) {
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = subs_list_remove(db, rest);
        pthread_mutex_unlock(&r->ctx->write_lock);
        if (rc)
            return http_api_fail(r, rc, NULL);
        return http_reply(r, 204, NULL, NULL, 0);
    }
    return http_api_bad_method(r, "GET, PATCH, DELETE");
}

/* ---- subscribers ---- */

/* One page of subscriber rows: `limit` rows, then the rest of the last subscriber's. */
struct rows {
    json_t *arr;
    size_t n, limit;
    long long last_id; /* the subscriber of the last row taken */
};

static enum merr add_row(void *arg, const struct subs_row *row)
{
    struct rows *rs = arg;
    json_t *attrs;
    if (rs->n >= rs->limit && row->subscriber_id != rs->last_id)
        return MERR_LIMIT; /* the page is full and ends with a whole subscriber */
    attrs = json_loads(row->attributes ? row->attributes : "{}", 0, NULL);
    json_array_append_new(
        rs->arr, json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:o, s:o}", "id",
                           (json_int_t)row->subscriber_id, "email", row->email, "email_ascii",
                           row->email_ascii, "name", row->name ? row->name : "", "list",
                           row->list_slug ? json_string(row->list_slug) : json_null(), "status",
                           subs_status_name(row->status), "confirmed_at",
                           http_api_time_json(row->confirmed_at), "attributes",
                           attrs ? attrs : json_object()));
    rs->n++;
    rs->last_id = row->subscriber_id;
    return MERR_OK;
}

/* The refused rows of an import, as the answer lists them (the first API_IMPORT_ERRORS_MAX). */
struct bad_lines {
    json_t *arr;
    size_t n;
};

static void bad_line(void *arg, long long line, const char *reason)
{
    struct bad_lines *bl = arg;
    if (bl->n++ >= API_IMPORT_ERRORS_MAX)
        return;
    json_array_append_new(bl->arr,
                          json_pack("{s:I, s:s}", "line", (json_int_t)line, "reason", reason));
}

static int filter_from_query(struct http_req *r, struct subs_filter *f)
{
    const char *st = http_query(r, "status");
    memset(f, 0, sizeof *f);
    f->list_slug = http_query(r, "list");
    f->search = http_query(r, "q");
    if (st) {
        int s = subs_status_parse(st);
        if (s < 0) {
            http_reply_error(r, 400, "invalid", "status: unknown", "status");
            return -1;
        }
        f->status = s;
    }
    return 0;
}

void http_api_subs_subscribers(struct http_req *r, struct db *db, const char *rest)
{
    enum merr rc;
    struct subs_filter f;

    if (!*rest) {
        if (http_api_method(r, "GET")) {
            struct rows rs = {json_array(), 0, HTTP_API_LIST_MAX, 0};
            long long limit, after;
            if (filter_from_query(r, &f) ||
                (limit = http_api_query_number(r, "limit", HTTP_API_LIST_MAX)) < 0 ||
                (after = http_api_query_number(r, "after", INT64_MAX)) < 0) {
                json_decref(rs.arr);
                return;
            }
            if (limit)
                rs.limit = (size_t)limit;
            f.after_id = after;
            rc = subs_each(db, &f, add_row, &rs);
            if (rc && rc != MERR_LIMIT) {
                json_decref(rs.arr);
                return http_api_fail(r, rc, NULL);
            }
            /* a full page names where the next starts (`after`); the last page has null */
            return http_reply_json(
                r, 200,
                json_pack("{s:o, s:b, s:o}", "subscribers", rs.arr, "truncated", rc == MERR_LIMIT,
                          "next_after", rc == MERR_LIMIT ? json_integer(rs.last_id) : json_null()));
        }
        if (http_api_method(r, "POST")) {
            json_t *j = http_api_json_body(r);
            struct subs_result res;
            json_t *c;
            if (!j)
                return;
            if (!http_api_str_field(j, "email") || !http_api_str_field(j, "list")) {
                json_decref(j);
                return http_reply_error(r, 400, "invalid", "email and list are required",
                                        http_api_str_field(j, "email") ? "list" : "email");
            }
            c = json_object_get(j, "confirmed");
            pthread_mutex_lock(&r->ctx->write_lock);
            rc = subs_subscribe(db, r->ctx->cfg, http_api_str_field(j, "list"),
                                http_api_str_field(j, "email"), http_api_str_field(j, "name"), NULL,
                                date_now(), json_is_true(c) ? SUBS_ADD_CONFIRMED : 0, &res);
            pthread_mutex_unlock(&r->ctx->write_lock);
            json_decref(j);
            if (rc)
                return http_api_fail(r, rc, NULL);
            static const char *const outcomes[] = {"confirmed", "pending",    "pending",
                                                   "already",   "suppressed", "capped"};
            return http_reply_json(
                r, 201,
                json_pack("{s:I, s:I, s:s}", "subscriber_id", (json_int_t)res.subscriber_id,
                          "list_id", (json_int_t)res.list_id, "outcome", outcomes[res.outcome]));
        }
        return http_api_bad_method(r, "GET, POST");
    }
    if (strcmp(rest, "export") == 0) {
        char *data = NULL;
        size_t len = 0;
        FILE *out;
        if (!http_api_method(r, "GET"))
            return http_api_bad_method(r, "GET");
        if (filter_from_query(r, &f))
            return;
        out = open_memstream(&data, &len);
        if (!out)
            return http_api_fail(r, merr_set(MERR_NOMEM, "out of memory"), NULL);
        rc = subs_export_csv(db, &f, out, 0, NULL);
        fclose(out);
        if (!rc)
            http_reply(r, 200, "text/csv; charset=utf-8", data, len);
        free(data);
        if (rc)
            return http_api_fail(r, rc, NULL);
        http_header(r, "Content-Disposition", "attachment; filename=\"subscribers.csv\"");
        return;
    }
    if (strcmp(rest, "import") == 0) {
        struct subs_import_opts o;
        struct subs_import_report rep;
        struct bad_lines bl = {NULL, 0};
        const char *mode = http_query(r, "mode"), *dry = http_query(r, "dry_run");
        FILE *in;
        json_t *ans;
        if (!http_api_method(r, "POST"))
            return http_api_bad_method(r, "POST");
        if (!r->content_type || strcmp(r->content_type, "text/csv") != 0)
            return http_reply_error(r, 415, "unsupported_media_type", "send text/csv", NULL);
        memset(&o, 0, sizeof o);
        memset(&rep, 0, sizeof rep);
        o.list_slug = http_query(r, "list");
        o.mode = SUBS_IMPORT_CONFIRMED;
        if (mode && strcmp(mode, "unconfirmed") == 0)
            o.mode = SUBS_IMPORT_UNCONFIRMED;
        else if (mode && strcmp(mode, "blocklist") == 0)
            o.mode = SUBS_IMPORT_BLOCKLIST;
        else if (mode && strcmp(mode, "confirmed") != 0)
            return http_reply_error(r, 400, "invalid", "mode: confirmed, unconfirmed or blocklist",
                                    "mode");
        if (dry && strcmp(dry, "1") != 0 && strcmp(dry, "true") != 0 && strcmp(dry, "0") != 0 &&
            strcmp(dry, "false") != 0) {
            return http_reply_error(r, 400, "invalid", "dry_run: 1, true, 0 or false", "dry_run");
        }
        o.dry_run = dry && (!strcmp(dry, "1") || !strcmp(dry, "true"));
        if (!o.list_slug && o.mode != SUBS_IMPORT_BLOCKLIST)
            return http_reply_error(r, 400, "invalid", "list: required", "list");
        if (!(bl.arr = json_array()))
            return http_api_fail(r, merr_set(MERR_NOMEM, "out of memory"), NULL);
        o.on_bad = bad_line;
        o.arg = &bl;
        in = fmemopen(r->body.data ? r->body.data : (char *)"", r->body.len, "r");
        if (!in) {
            json_decref(bl.arr);
            return http_api_fail(r, merr_set(MERR_NOMEM, "out of memory"), NULL);
        }
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = subs_import_csv(db, r->ctx->cfg, in, &o, date_now(), &rep);
        pthread_mutex_unlock(&r->ctx->write_lock);
        fclose(in);
        if (rc) {
            json_decref(bl.arr);
            return http_api_fail(r, rc, NULL);
        }
        ans = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "dry_run",
                        o.dry_run, "rows", (json_int_t)rep.rows, "bad", (json_int_t)rep.bad,
                        "created", (json_int_t)rep.created, "subscribed",
                        (json_int_t)rep.subscribed, "upgraded", (json_int_t)rep.upgraded,
                        "existing", (json_int_t)rep.existing, "left", (json_int_t)rep.left,
                        "suppressed", (json_int_t)rep.suppressed, "blocked",
                        (json_int_t)rep.blocked, "confirm_mails", (json_int_t)rep.confirm_mails);
        if (ans) {
            json_object_set_new(ans, "delimiter",
                                rep.delimiter ? json_string(subs_csv_delim_name(rep.delimiter))
                                              : json_null());
            json_object_set_new(ans, "email_column", json_string(rep.email_column));
            json_object_set_new(ans, "name_column",
                                rep.name_column[0] ? json_string(rep.name_column) : json_null());
            json_object_set_new(ans, "errors", bl.arr);
            json_object_set_new(ans, "errors_truncated",
                                json_boolean(rep.bad > API_IMPORT_ERRORS_MAX));
        } else {
            json_decref(bl.arr);
        }
        return http_reply_json(r, 200, ans);
    }
    {
        char *email = strdup(rest);
        if (!email || http_form_unescape_segment(email)) {
            free(email);
            return http_reply_error(r, 400, "invalid", "bad address in the path", "email");
        }
        if (http_api_method(r, "GET")) {
            json_t *j = NULL;
            rc = share_person_show(db, email, &j);
            free(email);
            if (rc)
                return http_api_fail(r, rc, NULL);
            return http_reply_json(r, 200, j);
        }
        if (http_api_method(r, "DELETE")) {
            pthread_mutex_lock(&r->ctx->write_lock);
            rc = subs_remove(db, email, http_query(r, "list"));
            pthread_mutex_unlock(&r->ctx->write_lock);
            free(email);
            if (rc)
                return http_api_fail(r, rc, NULL);
            return http_reply(r, 204, NULL, NULL, 0);
        }
        free(email);
        return http_api_bad_method(r, "GET, DELETE");
    }
}
