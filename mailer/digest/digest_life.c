/*
 * digest_life.c: a digest after it is made: looked up (one, or a list's
 * newest first) with its send's state and, for one, its envelopes counted
 * per state; paused, resumed and cancelled through its send (outbox). A
 * skipped digest, or one whose send was deleted, has nothing to pause
 * (MERR_INVAL naming it); cancelling twice is not an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "digest.h"
#include "digest_int.h"
#include "digest_store.h"
#include "log.h"
#include "outbox.h"
#include "subs.h"

/* Fills the parts of `out` that come from the send and the list. */
static enum merr info_details(struct db *db, struct digest_info *out, int with_counts)
{
    struct outbox_send s;
    struct subs_list l;
    enum merr rc;

    if (subs_list_get_id(db, out->list_id, &l) == MERR_OK) {
        snprintf(out->list_slug, sizeof out->list_slug, "%s", l.slug);
        subs_list_clear(&l);
    }
    if (!out->send_id)
        return MERR_OK;
    memset(&s, 0, sizeof s);
    rc = outbox_send_get(db, out->send_id, &s);
    if (rc == MERR_NOTFOUND) {
        snprintf(out->status, sizeof out->status, "deleted");
        return MERR_OK;
    }
    if (rc)
        return rc;
    snprintf(out->status, sizeof out->status, "%s", s.status);
    outbox_send_clear(&s);
    if (!with_counts)
        return MERR_OK;
    rc = outbox_counts(db, out->send_id, &out->counts);
    if (rc)
        return rc;
    out->recipients = 0;
    for (int i = OUTBOX_QUEUED; i <= OUTBOX_CANCELLED; i++)
        out->recipients += out->counts.by_state[i];
    return MERR_OK;
}

enum merr digest_get(struct db *db, long long id, struct digest_info *out)
{
    struct digest_row r;
    enum merr rc;

    memset(out, 0, sizeof *out);
    rc = digest_store_get(db, id, &r);
    if (rc)
        return rc;
    digest_info_from_row(&r, NULL, out);
    return info_details(db, out, 1);
}

enum merr digest_list(struct db *db, const char *list_slug, size_t limit, struct digest_info **out,
                      size_t *n)
{
    struct digest_row *rows = NULL;
    struct digest_info *v = NULL;
    long long list_id = 0;
    size_t k = 0;
    enum merr rc;

    *out = NULL;
    *n = 0;
    if (list_slug) {
        struct subs_list l;
        rc = digest_list_load(db, list_slug, &l);
        if (rc)
            return rc;
        list_id = l.id;
        subs_list_clear(&l);
    }
    rc = digest_store_list(db, list_id, limit, &rows, &k);
    if (rc)
        return rc;
    v = calloc(k ? k : 1, sizeof *v);
    if (!v) {
        free(rows);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < k; i++) {
        digest_info_from_row(&rows[i], NULL, &v[i]);
        rc = info_details(db, &v[i], 0);
    }
    free(rows);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return MERR_OK;
}

/* The send of a digest that has one. */
static enum merr send_of(struct db *db, long long id, long long *send_id)
{
    struct digest_row r;
    enum merr rc = digest_store_get(db, id, &r);
    if (rc)
        return rc;
    if (!r.send_id)
        return merr_set(MERR_INVAL,
                        "digest %lld (%s) was skipped or its send deleted: nothing "
                        "to send",
                        id, r.period);
    *send_id = r.send_id;
    return MERR_OK;
}

enum merr digest_pause(struct db *db, long long id)
{
    long long send_id = 0;
    enum merr rc = send_of(db, id, &send_id);
    if (!rc)
        rc = outbox_send_pause(db, send_id);
    if (rc == MERR_INVAL)
        rc = merr_wrap(rc, "digest %lld", id);
    else if (!rc)
        log_info("digest %lld: paused", id);
    return rc;
}

enum merr digest_resume(struct db *db, long long id)
{
    long long send_id = 0;
    enum merr rc = send_of(db, id, &send_id);
    if (!rc)
        rc = outbox_send_resume(db, send_id, date_now());
    if (rc == MERR_INVAL)
        rc = merr_wrap(rc, "digest %lld", id);
    else if (!rc)
        log_info("digest %lld: resumed", id);
    return rc;
}

enum merr digest_cancel(struct db *db, long long id)
{
    struct outbox_send s;
    long long send_id = 0, cancelled = 0;
    enum merr rc = send_of(db, id, &send_id);

    if (rc)
        return rc;
    memset(&s, 0, sizeof s);
    rc = outbox_send_get(db, send_id, &s);
    if (rc)
        return rc;
    if (!strcmp(s.status, "cancelled")) {
        outbox_send_clear(&s);
        return MERR_OK;
    }
    outbox_send_clear(&s);
    rc = outbox_send_cancel(db, send_id, date_now(), &cancelled);
    if (rc == MERR_INVAL)
        return merr_wrap(rc, "digest %lld", id);
    if (!rc)
        log_info("digest %lld: cancelled, %lld envelopes not sent", id, cancelled);
    return rc;
}
