/*
 * http_admin_queue.c: the envelopes that did not go: deferred ones (to be
 * tried again) and failed ones, each with the server's last SMTP code and
 * text, and what an editor may do about them.
 *
 *   GET  /admin/queue[?state=deferred|failed&at=&before=]  a page of 50,
 *                                   newest first (keyset on the time and id)
 *   POST /admin/queue/ID/retry      try again now (a failed one is queued
 *                                   again and its send reopened)
 *   POST /admin/queue/ID/cancel     give up on it
 *   POST /admin/queue/retry-all     every deferred envelope due now
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "http_admin.h"
#include "outbox.h"

#define PAGE 50

static void queue_page(struct http_admin *a)
{
    const char *state_s = http_query(a->r, "state");
    int failed = state_s && !strcmp(state_s, "failed");
    struct outbox_queue_row *v = NULL;
    struct outbox_counts c;
    size_t n = 0;
    json_t *rows, *d;
    enum merr rc;

    rc = outbox_queue_page(a->db, failed ? OUTBOX_FAILED : OUTBOX_DEFERRED,
                           (time_t)http_admin_id(http_query(a->r, "at")),
                           http_admin_id(http_query(a->r, "before")), PAGE, &v, &n);
    if (!rc)
        rc = outbox_counts(a->db, 0, &c);
    if (rc) {
        free(v);
        return http_admin_fail(a, rc, "queue");
    }
    rows = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct outbox_row *e = &v[i].row;
        json_array_append_new(
            rows,
            json_pack("{s:I, s:I, s:s, s:s, s:i, s:o, s:s, s:o, s:o}", "id", (json_int_t)e->id,
                      "send", (json_int_t)e->send_id, "kind", http_admin_label(v[i].kind),
                      "recipient", e->recipient, "attempts", e->attempts, "code",
                      e->last_code ? json_integer(e->last_code) : json_string(""), "text",
                      e->last_text, "when", http_admin_time(e->next_attempt_at), "updated",
                      http_admin_time(e->updated_at)));
    }
    d = json_pack("{s:s, s:o, s:b, s:I, s:I}", "title", "Hàng đợi", "rows", rows, "failed", failed,
                  "n_deferred", (json_int_t)c.by_state[OUTBOX_DEFERRED], "n_failed",
                  (json_int_t)c.by_state[OUTBOX_FAILED]);
    if (n == PAGE) {
        char next[160];
        snprintf(next, sizeof next, "/admin/queue?state=%s&at=%lld&before=%lld",
                 failed ? "failed" : "deferred", (long long)v[n - 1].row.next_attempt_at,
                 v[n - 1].row.id);
        json_object_set_new(d, "next", json_string(next));
    }
    free(v);
    http_admin_page(a, 200, "queue", "queue", d);
}

void http_admin_queue(struct http_admin *a, const char *rest)
{
    char obj[32];
    const char *action;
    long long id, count = 0;
    const char *back = http_admin_field(a, "state");
    enum merr rc;

    if (!*rest) {
        if (!http_admin_get_only(a))
            return;
        return queue_page(a);
    }
    if (!a->post)
        return http_admin_bad_method(a, "POST");
    back = back && !strcmp(back, "failed") ? "/admin/queue?state=failed" : "/admin/queue";
    if (!strcmp(rest, "retry-all")) {
        http_admin_lock(a);
        rc = outbox_retry_all_deferred(a->db, date_now(), &count);
        if (!rc)
            http_admin_audit(a, "queue.retry", "*", "%lld thư hoãn", count);
        http_admin_unlock(a);
        if (rc)
            return http_admin_fail(a, rc, "retry all");
        return http_admin_done(a, back, "retried");
    }
    id = http_admin_split(rest, &action);
    if (!id || (strcmp(action, "retry") && strcmp(action, "cancel")))
        return http_admin_error(a, 404, "Không tìm thấy", "");
    snprintf(obj, sizeof obj, "thư #%lld", id);
    http_admin_lock(a);
    if (!strcmp(action, "retry"))
        rc = outbox_retry(a->db, id, date_now());
    else
        rc = outbox_envelope_cancel(a->db, id, date_now());
    if (!rc)
        http_admin_audit(a, action[0] == 'r' ? "queue.retry" : "queue.cancel", obj, NULL);
    http_admin_unlock(a);
    if (rc == MERR_INVAL)
        return http_admin_error(a, 409, "Không thực hiện được",
                                "Thư này không còn ở trạng thái hoãn hay thất bại.");
    if (rc)
        return http_admin_fail(a, rc, "queue");
    http_admin_done(a, back, action[0] == 'r' ? "retried" : "cancelled");
}
