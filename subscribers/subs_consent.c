/*
 * subs_consent.c: "may we mail this person": the one check, asked by the
 * outbox right before it hands an envelope to a worker.
 *
 * One key: a suppression is found by the hex SHA-256 of the lower-cased
 * ASCII address (subs_store_key_of), the only key an erased person's
 * suppression keeps; the address itself is never compared. The rules, in
 * order (the first that holds is the reason the envelope is cancelled):
 *   - the address is suppressed (hard bounce, complaint, manual block,
 *     left every list), whatever the kind of send (a test to an editor
 *     too: nothing else applies to it);
 *   - list mail (a digest, breaking news) or a confirmation whose
 *     subscriber was erased;
 *   - list mail to someone no longer confirmed on the send's list;
 *   - a confirmation of a subscription that no longer awaits it.
 * The outbox gets this through subs_consent_gate (struct outbox_gate): it
 * knows nothing of consent, and names no table of ours. Whom a list's mail
 * is enqueued for in the first place is the view list_audience (migration
 * 0008), on the same key.
 */
#include <stdio.h>
#include <string.h>

#include "subs.h"
#include "subs_store.h"

enum merr subs_consent_check(struct db *db, enum outbox_kind kind, long long list_id,
                             long long subscriber_id, const char *address, char *reason,
                             size_t size)
{
    struct subs_store_subscription sub;
    char key[ADDR_MAX], hash[65];
    enum merr rc;

    reason[0] = '\0';
    subs_store_key_of(address, key, hash);
    rc = subs_store_supp_get(db, hash, NULL);
    if (rc == MERR_OK) {
        snprintf(reason, size, "address is on the suppression list");
        return MERR_OK;
    }
    if (rc != MERR_NOTFOUND)
        return rc;
    if (kind == OUTBOX_SHARE || kind == OUTBOX_TEST) /* a test goes to an editor, no subscriber */
        return MERR_OK;
    if (!subscriber_id) {
        snprintf(reason, size, "subscriber was erased");
        return MERR_OK;
    }
    if (!list_id)
        return MERR_OK;
    rc = subs_store_subn_get(db, list_id, subscriber_id, &sub);
    if (rc)
        return rc;
    if ((kind == OUTBOX_DIGEST || kind == OUTBOX_BREAKING) && sub.status != SUBS_CONFIRMED)
        snprintf(reason, size, "no longer subscribed to the list");
    else if (kind == OUTBOX_CONFIRM && sub.status != SUBS_UNCONFIRMED)
        snprintf(reason, size, "subscription no longer awaits confirmation");
    return MERR_OK;
}

static enum merr gate_check(void *arg, struct db *db, const struct outbox_envelope *e, char *reason,
                            size_t size)
{
    (void)arg;
    return subs_consent_check(db, e->kind, e->list_id, e->subscriber_id, e->recipient, reason,
                              size);
}

const struct outbox_gate subs_consent_gate = {gate_check, NULL};
