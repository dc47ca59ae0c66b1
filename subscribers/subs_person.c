/*
 * subs_person.c: what the admin does to one person, found by id: read
 * their address, unsubscribe them from a list or from all, block them.
 *
 * Each is one transaction that also cancels their mail not sent yet
 * (outbox_cancel_subscriber), as the person's own unsubscribe link does.
 * Blocking adds a `manual` suppression: every send consults it, and an
 * erase keeps its hash, so a blocked person stays unmailed.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "outbox.h"
#include "subs.h"
#include "subs_store.h"

enum merr subs_person_get(struct db *db, long long id, char *email, size_t size)
{
    struct subs_store_sub s;
    enum merr rc = subs_store_sub_get(db, id, &s);
    if (rc == MERR_NOTFOUND)
        return merr_set(MERR_NOTFOUND, "không có người đăng ký #%lld", id);
    if (!rc)
        snprintf(email, size, "%s", s.email);
    return rc;
}

enum merr subs_person_unsubscribe(struct db *db, long long id, long long list_id, time_t now)
{
    struct subs_store_sub s;
    long long cancelled = 0;
    enum merr rc = db_begin(db);
    if (rc)
        return rc;
    rc = subs_store_sub_get(db, id, &s);
    if (rc == MERR_NOTFOUND)
        rc = merr_set(MERR_NOTFOUND, "không có người đăng ký #%lld", id);
    if (!rc)
        rc = list_id ? subs_store_subn_unsub(db, list_id, id, now)
                     : subs_store_subn_unsub_all(db, id, now);
    if (!rc)
        rc = outbox_cancel_subscriber(db, id, list_id, &cancelled);
    if (!rc)
        rc = db_commit(db);
    if (rc) {
        db_rollback(db);
        return rc;
    }
    log_info("subs: subscriber %lld unsubscribed by an editor from %s (%lld queued cancelled)", id,
             list_id ? "one list" : "all lists", cancelled);
    return MERR_OK;
}

enum merr subs_person_block(struct db *db, long long id, const char *detail, time_t now)
{
    struct subs_store_sub s;
    long long cancelled = 0;
    char hash[65];
    enum merr rc = db_begin(db);
    if (rc)
        return rc;
    rc = subs_store_sub_get(db, id, &s);
    if (rc == MERR_NOTFOUND)
        rc = merr_set(MERR_NOTFOUND, "không có người đăng ký #%lld", id);
    if (!rc) {
        subs_store_key_hash(s.email_key, hash);
        rc = subs_store_supp_insert(db, hash, s.email_key, "manual", detail ? detail : "", now,
                                    NULL);
    }
    if (!rc)
        rc = outbox_cancel_subscriber(db, id, 0, &cancelled);
    if (!rc)
        rc = db_commit(db);
    if (rc) {
        db_rollback(db);
        return rc;
    }
    log_info("subs: subscriber %lld blocked by an editor (%lld queued cancelled)", id, cancelled);
    return MERR_OK;
}
