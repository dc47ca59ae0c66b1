/*
 * http_bounce.c: the bounces in the admin API (bearer token, http_api.c).
 *
 *   GET  /api/bounces[?state=processed|unparsed|refused][&mailbox=NAME]
 *        [&match=CLASS|ADDRESS][&limit=1..1000][&before=ID]
 *        newest first, each with its recipients in one line; a full page
 *        has "next_before", else null
 *   GET  /api/bounces/ID[?raw=1]  one bounce: recipients, attribution,
 *        effects (and whether undone); with raw=1 also "raw", the kept
 *        bytes of the message as text
 *   POST /api/bounces/ID/undo     lifts exactly what it caused:
 *        {"id", "lifted"}; a second undo lifts 0
 *
 * The undo writes under the front's write lock like every other API write.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "date.h"
#include "http_int.h"

static void list(struct http_req *r, struct db *db)
{
    struct bounce_filter f;
    long long limit, before;
    json_t *arr = NULL, *last;
    enum merr rc;

    memset(&f, 0, sizeof f);
    f.state = http_query(r, "state");
    f.mailbox = http_query(r, "mailbox");
    f.match = http_query(r, "match");
    if (f.state && strcmp(f.state, "processed") && strcmp(f.state, "unparsed") &&
        strcmp(f.state, "refused"))
        return http_reply_error(r, 400, "invalid", "state: processed, unparsed or refused",
                                "state");
    if ((limit = http_api_query_number(r, "limit", 1000)) < 0 ||
        (before = http_api_query_number(r, "before", INT64_MAX)) < 0)
        return;
    f.limit = limit ? (int)limit : 50;
    f.before = before;
    rc = bounce_view_list(db, &f, &arr);
    if (rc)
        return http_api_fail(r, rc, NULL);
    last = json_array_size(arr) == (size_t)f.limit ? json_array_get(arr, json_array_size(arr) - 1)
                                                   : NULL;
    http_reply_json(r, 200,
                    json_pack("{s:o, s:o}", "bounces", arr, "next_before",
                              last ? json_incref(json_object_get(last, "id")) : json_null()));
}

void http_bounce_api(struct http_req *r, struct db *db, const char *rest)
{
    long long id;
    char *end;
    enum merr rc;

    if (!*rest) {
        if (!http_api_method(r, "GET"))
            return http_api_bad_method(r, "GET");
        return list(r, db);
    }
    id = strtoll(rest, &end, 10);
    if (id <= 0 || !isdigit((unsigned char)rest[0]) || (*end && strcmp(end, "/undo") != 0))
        return http_reply_error(r, 404, "not_found", "no such bounce", NULL);
    if (*end) {
        int lifted = 0;
        if (!http_api_method(r, "POST"))
            return http_api_bad_method(r, "POST");
        pthread_mutex_lock(&r->ctx->write_lock);
        rc = bounce_policy_undo(db, id, date_now(), &lifted);
        pthread_mutex_unlock(&r->ctx->write_lock);
        if (rc)
            return http_api_fail(r, rc, NULL);
        return http_reply_json(r, 200,
                               json_pack("{s:I, s:i}", "id", (json_int_t)id, "lifted", lifted));
    }
    if (!http_api_method(r, "GET"))
        return http_api_bad_method(r, "GET");
    {
        const char *raw = http_query(r, "raw");
        char *msg = NULL;
        size_t len = 0;
        json_t *o;
        rc = bounce_view_show(db, id, &o, raw && !strcmp(raw, "1") ? &msg : NULL, &len);
        if (rc)
            return http_api_fail(r, rc, NULL);
        if (msg) {
            /* the kept bytes as text: invalid UTF-8 (a cut, another charset) made U+FFFD */
            struct buf b;
            buf_init(&b, 0);
            if (bounce_view_text(msg, len, &b) == MERR_OK)
                json_object_set_new(o, "raw", json_stringn(b.data ? b.data : "", b.len));
            buf_free(&b);
            free(msg);
        }
        http_reply_json(r, 200, o);
    }
}
