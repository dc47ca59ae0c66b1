/*
 * subs_block.c: what a bounce, a complaint or a mailed unsubscribe does to
 * a person, each step reversible.
 *
 * mailer/bounce records a bounce and its consequences in one transaction;
 * the consequences on people are this module's (suppressions and
 * subscriptions are its tables), so bounce calls these functions inside
 * its transaction and keeps what each reports as changed. An undo then
 * reverses exactly that, and only where nobody changed it since: a
 * suppression is lifted only while it still carries the reason the bounce
 * gave it, a subscription comes back only while it is still unsubscribed
 * from the moment the bounce ended it.
 */
#include <string.h>

#include "subs.h"
#include "subs_store.h"
#include "utf8.h"

enum merr subs_block_suppress(struct db *db, const char *email_key, const char *reason,
                              const char *detail, time_t now, int *created)
{
    char key[ADDR_MAX], hash[65];
    *created = 0;
    if (!email_key || !email_key[0])
        return merr_set(MERR_INVAL, "suppression: no address");
    if (strcmp(reason, "hard_bounce") && strcmp(reason, "complaint"))
        return merr_set(MERR_INVAL, "a bounce suppresses for hard_bounce or complaint, not \"%s\"",
                        reason);
    if (utf8_has_crlf_nul(email_key, strlen(email_key)))
        return merr_set(MERR_INVAL, "suppression: address contains CR, LF or NUL");
    subs_store_key_of(email_key, key, hash);
    return subs_store_supp_insert(db, hash, key, reason, detail, now, created);
}

enum merr subs_block_lift(struct db *db, const char *email_key, const char *reason, int *lifted)
{
    char key[ADDR_MAX], hash[65], now_reason[32];
    enum merr rc;
    *lifted = 0;
    subs_store_key_of(email_key, key, hash);
    rc = subs_store_supp_get(db, hash, now_reason);
    if (rc == MERR_NOTFOUND)
        return MERR_OK;
    if (rc)
        return rc;
    if (strcmp(now_reason, reason) != 0)
        return MERR_OK; /* suppressed since for another reason: that stays */
    rc = subs_store_supp_delete_if(db, hash, reason);
    if (!rc)
        *lifted = db_changes(db) > 0;
    return rc;
}

enum merr subs_block_leave(struct db *db, long long subscriber_id, long long list_id, time_t now,
                           struct subs_block_change *out, size_t max, size_t *n)
{
    long long ids[SUBS_BLOCK_MAX_LISTS];
    enum subs_status st[SUBS_BLOCK_MAX_LISTS];
    size_t k = 0;
    enum merr rc;

    *n = 0;
    if (max > SUBS_BLOCK_MAX_LISTS)
        max = SUBS_BLOCK_MAX_LISTS;
    rc = subs_store_subn_active(db, subscriber_id, ids, st, max, &k);
    for (size_t i = 0; i < k && !rc; i++) {
        if (list_id && ids[i] != list_id)
            continue;
        rc = subs_store_subn_unsub(db, ids[i], subscriber_id, now);
        if (!rc) {
            out[*n].list_id = ids[i];
            out[*n].before = st[i];
            (*n)++;
        }
    }
    return rc;
}

enum merr subs_block_rejoin(struct db *db, long long subscriber_id, long long list_id,
                            enum subs_status before, time_t left_at, time_t now, int *restored)
{
    return subs_store_subn_rejoin(db, list_id, subscriber_id, before, left_at, now, restored);
}

enum merr subs_find(struct db *db, const char *email, long long *subscriber_id)
{
    struct addr a;
    enum merr rc = addr_parse(email, &a);
    if (rc)
        return merr_wrap(rc, "address \"%.300s\"", email ? email : "");
    return subs_store_sub_find(db, a.key, subscriber_id);
}
