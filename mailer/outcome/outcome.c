/*
 * outcome.c: the consequences of an attempt (see outcome.h for the rules).
 *
 * outcome_decide is pure, so the rules are tested without a database and
 * the same report always means the same thing, whoever reports it.
 * outcome_apply is the only place that turns reports into rows: the
 * states go to the outbox in one multi-row statement per chunk
 * (outbox_record), the suppressions to subscribers (subs_suppress), all in
 * one transaction, so an envelope is never failed for a bad mailbox while
 * the suppression is lost, or the other way round. A suppression refused
 * for its input (an address subscribers does not take) is logged and the
 * rest applies; a database error rolls everything back for the caller to
 * retry. Latencies are counted after the commit, so a retried round is
 * counted once.
 */
#include "outcome.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "subs.h"

int outcome_bad_mailbox(int code, const char *text)
{
    const char *p = text ? text : "";
    if (code < 500 || code > 599)
        return 0;
    /* the text may still start with the code ("550 5.1.1 ...") */
    if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
        isdigit((unsigned char)p[2]) && (p[3] == ' ' || p[3] == '-'))
        p += 4;
    while (*p == ' ')
        p++;
    return p[0] == '5' && p[1] == '.' && p[2] == '1' && p[3] == '.' && isdigit((unsigned char)p[4]);
}

void outcome_decide(const struct config *cfg, const struct outcome_report *r, time_t now,
                    struct outcome_verdict *v)
{
    memset(v, 0, sizeof *v);
    switch (r->kind) {
    case OUTCOME_UNSENT:
        v->state = OUTBOX_QUEUED;
        return;
    case OUTCOME_CANCELLED:
        v->state = OUTBOX_CANCELLED;
        return;
    case OUTCOME_ATTEMPT:
        break;
    }
    switch (r->class) {
    case MERR_CLASS_OK:
        v->state = OUTBOX_SENT;
        return;
    case MERR_CLASS_TEMPORARY:
        v->state =
            outbox_backoff(now, r->created_at, r->attempts, cfg->retry_base_seconds,
                           cfg->retry_max_seconds, cfg->max_age_seconds, &v->next_attempt_at);
        return;
    case MERR_CLASS_PERMANENT:
        v->state = OUTBOX_FAILED;
        v->suppress = r->subscriber_id && outcome_bad_mailbox(r->code, r->text);
        return;
    }
}

enum merr outcome_apply(struct db *db, const struct config *cfg, const struct outcome_report *r,
                        size_t n, time_t now, struct outcome_tally *tally)
{
    struct outbox_result *res;
    struct outcome_verdict *v;
    enum merr rc;

    if (n == 0)
        return MERR_OK;
    res = calloc(n, sizeof *res);
    v = calloc(n, sizeof *v);
    if (!res || !v) {
        free(res);
        free(v);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        outcome_decide(cfg, &r[i], now, &v[i]);
        res[i].envelope_id = r[i].envelope_id;
        res[i].state = v[i].state;
        res[i].code = r[i].kind == OUTCOME_ATTEMPT ? r[i].code : 0;
        res[i].next_attempt_at = v[i].next_attempt_at;
        memcpy(res[i].text, r[i].text, sizeof res[i].text);
    }
    rc = db_begin(db);
    if (rc)
        goto out;
    rc = outbox_record(db, res, n, now);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!v[i].suppress)
            continue;
        rc = subs_suppress(db, r[i].recipient, "hard_bounce", r[i].text); /* it keys the address */
        if (rc && rc != MERR_DB && rc != MERR_TEMPFAIL) {
            log_warn("outcome: could not suppress envelope %lld's address: %s", r[i].envelope_id,
                     merr_msg());
            rc = MERR_OK;
        }
    }
    if (!rc)
        rc = db_commit(db);
    if (rc) {
        db_rollback(db);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].state == OUTBOX_SENT || v[i].state == OUTBOX_FAILED)
            metrics_delivery_latency((double)(now - r[i].created_at));
        if (!tally)
            continue;
        switch (v[i].state) {
        case OUTBOX_SENT:
            tally->sent++;
            break;
        case OUTBOX_DEFERRED:
            tally->deferred++;
            break;
        case OUTBOX_FAILED:
            tally->failed++;
            break;
        case OUTBOX_CANCELLED:
            tally->cancelled++;
            break;
        case OUTBOX_QUEUED:
            tally->requeued++;
            break;
        case OUTBOX_SENDING:
            break;
        }
    }
out:
    free(res);
    free(v);
    return rc;
}
