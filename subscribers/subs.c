/*
 * subs.c: the subscriber flows: subscribe, inspect a link, confirm,
 * unsubscribe, remove, show and erase, and the suppression list.
 *
 * Each flow is one transaction (BEGIN IMMEDIATE ... COMMIT) so that what
 * it writes to subscribers and to the outbox lands together or not at all.
 * Reading a link (subs_token_inspect) is split from applying it
 * (subs_confirm, subs_unsubscribe): the HTTP layer answers GET with the
 * first only, so a mail scanner that follows links changes nothing.
 *
 * Suppression decisions (documented in subs.h): hard bounces, complaints
 * and manual blocks are never re-subscribed; the public form is told the
 * same as for a pending subscription so it reveals nothing. Someone who
 * left all lists may come back, but only by confirming from their mailbox.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "log.h"
#include "outbox.h"
#include "subs.h"
#include "subs_store.h"
#include "text.h"
#include "utf8.h"

enum merr subs_check_name(const char *s, size_t n)
{
    enum text_fault f = text_check_name(s, n, SUBS_NAME_MAX_CHARS);
    if (f == TEXT_TOO_LONG)
        return merr_setr(MERR_INVAL, text_fault_reason(f, 0), "name is longer than %d characters",
                         SUBS_NAME_MAX_CHARS);
    if (f)
        return merr_setr(MERR_INVAL, text_fault_reason(f, 0), "name %s", text_fault_en(f));
    return MERR_OK;
}

enum merr subs_confirm_send(struct db *db, const struct subs_list *l, long long *send_id)
{
    json_t *plan =
        json_pack("{s:s, s:{s:I, s:s, s:s}, s:s}", "kind", outbox_kind_name(OUTBOX_CONFIRM), "list",
                  "id", (json_int_t)l->id, "slug", l->slug, "name", l->name, "template", "confirm");
    char *text = plan ? json_dumps(plan, JSON_COMPACT) : NULL;
    enum merr rc;
    json_decref(plan);
    if (!text)
        return merr_set(MERR_NOMEM, "out of memory");
    rc = outbox_send_create(db, OUTBOX_CONFIRM, l->id, text, send_id);
    free(text);
    return rc;
}

int subs_is_suppressed(struct db *db, const char *email_key)
{
    char key[ADDR_MAX], hash[65];
    enum merr rc;
    if (!email_key)
        return 0;
    subs_store_key_of(email_key, key, hash);
    rc = subs_store_supp_get(db, hash, NULL);
    if (rc == MERR_OK)
        return 1;
    if (rc == MERR_NOTFOUND)
        return 0;
    /* fail closed: better not to mail than to mail someone who asked not */
    log_warn("subs: suppression lookup failed (%s): treating as suppressed", merr_msg());
    return 1;
}

static int reason_known(const char *r)
{
    return r && (!strcmp(r, "hard_bounce") || !strcmp(r, "complaint") || !strcmp(r, "manual") ||
                 !strcmp(r, "unsubscribed_all"));
}

enum merr subs_suppress(struct db *db, const char *email_key, const char *reason,
                        const char *detail)
{
    char key[ADDR_MAX], hash[65];
    if (!email_key || !email_key[0])
        return merr_set(MERR_INVAL, "suppression: no address");
    if (!reason_known(reason))
        return merr_set(MERR_INVAL,
                        "suppression reason \"%s\" is not one of hard_bounce, "
                        "complaint, manual, unsubscribed_all",
                        reason ? reason : "");
    if (utf8_has_crlf_nul(email_key, strlen(email_key)))
        return merr_set(MERR_INVAL, "suppression: address contains CR, LF or NUL");
    subs_store_key_of(email_key, key, hash);
    return subs_store_supp_insert(db, hash, key, reason, detail, date_now(), NULL);
}

static enum merr parse_email(const char *email, struct addr *a)
{
    enum merr rc = addr_parse(email, a);
    if (rc)
        return merr_wrap(rc, "address \"%.300s\"", email ? email : "");
    return MERR_OK;
}

/*
 * 1 if a confirmation to `email` now would pass a cap (per address in 24 h,
 * in all in an hour; issue 16: the form made the service mail any address
 * any number of times), with a warning for the global one. On a database
 * error *rc is set and 0 returned.
 */
static int confirm_capped(struct db *db, const struct config *cfg, const char *email, time_t now,
                          enum merr *rc)
{
    long long n = 0;
    *rc = outbox_count_since(db, OUTBOX_CONFIRM, email, now - 86400, &n);
    if (*rc)
        return 0;
    if (n >= cfg->confirm_per_address_per_day)
        return 1;
    *rc = outbox_count_since(db, OUTBOX_CONFIRM, NULL, now - 3600, &n);
    if (*rc)
        return 0;
    if (n >= cfg->confirm_global_per_hour) {
        log_warn("subs: %lld confirmation mails in the last hour: [limits] "
                 "confirm_global_per_hour = %d reached, no more sent",
                 n, cfg->confirm_global_per_hour);
        return 1;
    }
    return 0;
}

enum merr subs_subscribe(struct db *db, const struct config *cfg, const char *list_slug,
                         const char *email, const char *name, const char *ip, time_t now, int flags,
                         struct subs_result *res)
{
    struct addr a;
    struct subs_list l;
    struct subs_store_subscription sn;
    char hash[65], reason[32];
    int begun = 0, must_confirm = 0, is_new = 0;
    enum merr rc;

    memset(res, 0, sizeof *res);
    memset(&l, 0, sizeof l);
    rc = parse_email(email, &a);
    if (rc)
        return rc;
    if (!name)
        name = "";
    rc = subs_check_name(name, strlen(name));
    if (rc)
        return rc;
    rc = db_begin(db);
    if (rc)
        return rc;
    begun = 1;
    rc = subs_list_get(db, list_slug, &l);
    if (!rc && (flags & SUBS_ADD_PUBLIC) && !l.is_public) /* as if it did not exist */
        rc = merr_setr(MERR_NOTFOUND, "list.not_found", "no list \"%.64s\"", list_slug);
    if (rc)
        goto out;
    res->list_id = l.id;
    res->double_optin = l.double_optin;
    subs_store_key_hash(a.key, hash);
    rc = subs_store_supp_get(db, hash, reason);
    if (rc == MERR_OK) {
        if (strcmp(reason, "unsubscribed_all") != 0 || (flags & SUBS_ADD_CONFIRMED)) {
            res->outcome = SUBS_OUT_SUPPRESSED;
            goto out; /* nothing written: rolled back below */
        }
        must_confirm = 1;
    } else if (rc != MERR_NOTFOUND) {
        goto out;
    }
    /* a new person starts without a name: it is set below only by a confirmed action */
    rc = subs_store_sub_find(db, a.key, &res->subscriber_id);
    if (rc == MERR_NOTFOUND) {
        is_new = 1;
        rc = subs_store_sub_insert(db, &a, "", NULL, now, &res->subscriber_id);
    }
    if (rc)
        goto out;
    rc = subs_store_subn_get(db, l.id, res->subscriber_id, &sn);
    if (rc)
        goto out;
    if (sn.status == SUBS_CONFIRMED) {
        res->outcome = SUBS_OUT_ALREADY;
        if (flags & SUBS_ADD_CONFIRMED) /* an admin: fills an empty name */
            rc = subs_store_sub_merge(db, res->subscriber_id, name, NULL, now);
    } else if ((flags & SUBS_ADD_CONFIRMED) ||
               (!l.double_optin && !must_confirm && sn.status != SUBS_UNSUBSCRIBED)) {
        rc = subs_store_subn_put(db, l.id, res->subscriber_id, SUBS_CONFIRMED, ip, now);
        /* the person this call created, or an admin's word: the name is theirs */
        if (!rc && (is_new || (flags & SUBS_ADD_CONFIRMED)))
            rc = subs_store_sub_merge(db, res->subscriber_id, name, NULL, now);
        res->outcome = SUBS_OUT_CONFIRMED;
    } else if (sn.status == SUBS_UNCONFIRMED && sn.optin_at > now - SUBS_CONFIRM_RESEND_S) {
        res->outcome = SUBS_OUT_RESENT_TOO_SOON;
    } else {
        struct subs_store_sub s;
        long long env;
        /* mail the address as stored (first typed), like every list mail */
        rc = subs_store_sub_get(db, res->subscriber_id, &s);
        if (!rc && confirm_capped(db, cfg, s.email_ascii, now, &rc)) {
            res->outcome = SUBS_OUT_CAPPED;
            goto out; /* nothing written: rolled back below */
        }
        if (!rc)
            rc = subs_store_subn_put(db, l.id, res->subscriber_id, SUBS_UNCONFIRMED, ip, now);
        if (!rc)
            rc = subs_store_subn_pending_name(db, l.id, res->subscriber_id, name);
        if (!rc)
            rc = subs_confirm_send(db, &l, &res->send_id);
        /* no name on the envelope: a confirmation carries no text a stranger
         * typed, neither in To: nor in its greeting */
        if (!rc)
            rc = outbox_envelope_add(db, res->send_id, res->subscriber_id, s.email_ascii, "", &env);
        res->outcome = SUBS_OUT_PENDING;
    }
    if (rc)
        goto out;
    rc = db_commit(db);
    if (!rc)
        begun = 0;
out:
    if (begun)
        db_rollback(db);
    if (res->outcome == SUBS_OUT_SUPPRESSED || res->outcome == SUBS_OUT_CAPPED)
        res->subscriber_id = 0;
    subs_list_clear(&l);
    return rc;
}

/*
 * Checks a link against the salt of the subscriber it names, read into `s`.
 * MERR_NOTFOUND when no such subscriber is left (erased, removed: their
 * salt went with them, so nothing can check or use the link); MERR_INVAL
 * for a malformed or forged link or one made for another person's salt;
 * MERR_LIMIT for an expired one (ids filled).
 */
static enum merr token_open(struct db *db, const struct config *cfg, const char *token,
                            enum subs_token_kind kind, time_t now, struct subs_store_sub *s,
                            long long *sid, long long *lid)
{
    enum merr rc = subs_token_ids(token, sid, lid);
    if (rc)
        return rc;
    rc = subs_store_sub_get(db, *sid, s);
    if (rc == MERR_NOTFOUND)
        return merr_set(MERR_NOTFOUND, "the subscriber of this link no longer exists");
    if (rc)
        return rc;
    return subs_token_check(cfg->secret, s->salt, s->salt_len, token, kind, now, sid, lid);
}

enum merr subs_token_inspect(struct db *db, const struct config *cfg, const char *token,
                             enum subs_token_kind kind, time_t now, struct subs_token_info *info)
{
    struct subs_list l;
    struct subs_store_sub s;
    struct subs_store_subscription sn;
    enum merr rc, trc;

    memset(info, 0, sizeof *info);
    trc = token_open(db, cfg, token, kind, now, &s, &info->subscriber_id, &info->list_id);
    if (trc && trc != MERR_LIMIT)
        return trc;
    info->expired = trc == MERR_LIMIT;
    rc = subs_list_get_id(db, info->list_id, &l);
    if (rc == MERR_OK) {
        snprintf(info->list_slug, sizeof info->list_slug, "%s", l.slug);
        snprintf(info->list_name, sizeof info->list_name, "%s", l.name);
        subs_list_clear(&l);
    } else if (rc != MERR_NOTFOUND) {
        return rc;
    }
    if (rc == MERR_NOTFOUND)
        return merr_set(MERR_NOTFOUND, "the list of this link no longer exists");
    snprintf(info->email, sizeof info->email, "%s", s.email);
    rc = subs_store_subn_get(db, info->list_id, info->subscriber_id, &sn);
    if (rc)
        return rc;
    info->status = sn.status;
    if (info->expired)
        return merr_set(MERR_LIMIT, "this confirmation link has expired: subscribe again to "
                                    "get a new one");
    return MERR_OK;
}

enum merr subs_confirm(struct db *db, const struct config *cfg, const char *token, const char *ip,
                       time_t now, struct subs_token_info *info)
{
    struct subs_token_info local;
    struct subs_store_sub s;
    struct subs_store_subscription sn;
    int begun = 0, changed = 0;
    char hash[65];
    enum merr rc;

    if (!info)
        info = &local;
    rc = db_begin(db);
    if (rc)
        return rc;
    begun = 1;
    rc = subs_token_inspect(db, cfg, token, SUBS_TOKEN_CONFIRM, now, info);
    if (rc)
        goto out;
    if (info->status == SUBS_CONFIRMED)
        goto out;
    if (info->status != SUBS_UNCONFIRMED) {
        rc = merr_set(MERR_NOTFOUND, "this subscription was cancelled: subscribe again");
        goto out;
    }
    rc = subs_store_subn_get(db, info->list_id, info->subscriber_id, &sn);
    if (!rc)
        rc = subs_store_subn_confirm(db, info->list_id, info->subscriber_id, ip, now, &changed);
    if (rc)
        goto out;
    /* confirmed from the mailbox: the name typed with it fills an empty one */
    if (sn.pending_name[0]) {
        rc = subs_store_sub_merge(db, info->subscriber_id, sn.pending_name, NULL, now);
        if (!rc)
            rc = subs_store_subn_pending_name(db, info->list_id, info->subscriber_id, "");
        if (rc)
            goto out;
    }
    /* coming back after leaving all lists, from their own mailbox */
    rc = subs_store_sub_get(db, info->subscriber_id, &s);
    if (rc)
        goto out;
    subs_store_key_hash(s.email_key, hash);
    rc = subs_store_supp_delete_if(db, hash, "unsubscribed_all");
    if (rc)
        goto out;
    info->status = SUBS_CONFIRMED;
    rc = db_commit(db);
    if (!rc)
        begun = 0;
out:
    if (begun)
        db_rollback(db);
    return rc;
}

enum merr subs_unsubscribe(struct db *db, const struct config *cfg, const char *token,
                           int all_lists, time_t now, struct subs_token_info *info)
{
    struct subs_token_info local;
    struct subs_store_sub s;
    long long cancelled = 0;
    int begun = 0;
    char hash[65];
    enum merr rc;

    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    rc = db_begin(db);
    if (rc)
        return rc;
    begun = 1;
    rc = token_open(db, cfg, token, SUBS_TOKEN_UNSUBSCRIBE, now, &s, &info->subscriber_id,
                    &info->list_id);
    if (rc == MERR_NOTFOUND)
        rc = merr_set(MERR_NOTFOUND, "not subscribed (any more)");
    if (rc)
        goto out;
    if (all_lists) {
        rc = subs_store_subn_unsub_all(db, s.id, now);
        if (!rc)
            rc = outbox_cancel_subscriber(db, s.id, 0, &cancelled);
        if (!rc) {
            subs_store_key_hash(s.email_key, hash);
            rc = subs_store_supp_insert(db, hash, s.email_key, "unsubscribed_all",
                                        "unsubscribe link", now, NULL);
        }
    } else {
        rc = subs_store_subn_unsub(db, info->list_id, s.id, now);
        if (!rc)
            rc = outbox_cancel_subscriber(db, s.id, info->list_id, &cancelled);
    }
    if (rc)
        goto out;
    rc = subs_token_inspect(db, cfg, token, SUBS_TOKEN_UNSUBSCRIBE, now, info);
    if (rc == MERR_NOTFOUND) /* the list is gone: still a success */
        rc = MERR_OK;
    if (rc)
        goto out;
    rc = db_commit(db);
    if (!rc) {
        begun = 0;
        log_info("subs: subscriber %lld left %s (%lld queued cancelled)", s.id,
                 all_lists ? "all lists" : info->list_slug, cancelled);
    }
out:
    if (begun)
        db_rollback(db);
    return rc;
}

enum merr subs_remove(struct db *db, const char *email, const char *list_slug)
{
    struct addr a;
    struct subs_list l;
    long long sid, cancelled;
    int begun = 0, deleted = 0;
    enum merr rc;

    memset(&l, 0, sizeof l);
    rc = parse_email(email, &a);
    if (rc)
        return rc;
    rc = db_begin(db);
    if (rc)
        return rc;
    begun = 1;
    rc = subs_store_sub_find(db, a.key, &sid);
    if (rc == MERR_NOTFOUND)
        rc = merr_set(MERR_NOTFOUND, "no subscriber %s", a.unicode);
    if (rc)
        goto out;
    if (list_slug) {
        rc = subs_list_get(db, list_slug, &l);
        if (!rc)
            rc = outbox_cancel_subscriber(db, sid, l.id, &cancelled);
        if (!rc)
            rc = subs_store_subn_delete(db, l.id, sid, &deleted);
        if (!rc && !deleted)
            rc = merr_set(MERR_NOTFOUND, "%s is not on list %s", a.unicode, list_slug);
    } else {
        rc = outbox_cancel_subscriber(db, sid, 0, &cancelled);
        if (!rc)
            rc = subs_store_sub_delete(db, sid);
    }
    if (rc)
        goto out;
    rc = db_commit(db);
    if (!rc)
        begun = 0;
out:
    if (begun)
        db_rollback(db);
    subs_list_clear(&l);
    return rc;
}

/* The outbox's part of `show`: counts per state and the newest envelopes. */
static enum merr envelopes_json(struct db *db, long long sid, const char *key, json_t **out)
{
    struct outbox_person p;
    json_t *o = NULL, *by = NULL, *last = NULL;
    enum merr rc = outbox_person_summary(db, sid, key, &p);

    *out = NULL;
    if (rc)
        return rc;
    by = json_object();
    last = json_array();
    if (!by || !last)
        goto nomem;
    for (int s = OUTBOX_QUEUED; s <= OUTBOX_CANCELLED; s++)
        if (p.counts.by_state[s] &&
            json_object_set_new(by, outbox_state_name((enum outbox_state)s),
                                json_integer((json_int_t)p.counts.by_state[s])))
            goto nomem;
    for (size_t i = 0; i < p.n; i++) {
        const struct outbox_person_envelope *e = &p.last[i];
        json_t *j =
            json_pack("{s:I, s:I, s:s, s:s, s:i, s:o, s:I, s:I, s:o}", "id", (json_int_t)e->id,
                      "send", (json_int_t)e->send_id, "kind", e->kind, "state",
                      outbox_state_name(e->state), "attempts", e->attempts, "last_code",
                      e->last_code ? json_integer(e->last_code) : json_null(), "created_at",
                      (json_int_t)e->created_at, "updated_at", (json_int_t)e->updated_at, "sent_at",
                      e->sent_at ? json_integer((json_int_t)e->sent_at) : json_null());
        if (!j || json_array_append_new(last, j))
            goto nomem;
    }
    o = json_pack("{s:I, s:o, s:o}", "total", (json_int_t)p.total, "by_state", by, "last", last);
    by = last = NULL;
    if (!o)
        goto nomem;
    *out = o;
    return MERR_OK;
nomem:
    json_decref(by);
    json_decref(last);
    return merr_set(MERR_NOMEM, "out of memory");
}

enum merr subs_show_person(struct db *db, const char *email, json_t **out, int *found)
{
    struct addr a;
    char hash[65];
    long long sid = 0;
    json_t *o = NULL, *sub = NULL, *subns = NULL, *supp = NULL, *env = NULL;
    enum merr rc;

    *out = NULL;
    *found = 0;
    rc = parse_email(email, &a);
    if (rc)
        return rc;
    subs_store_key_hash(a.key, hash);
    rc = subs_store_sub_find(db, a.key, &sid);
    if (rc == MERR_OK) {
        rc = subs_store_sub_json(db, sid, &sub);
        if (!rc)
            rc = subs_store_subn_json(db, sid, &subns);
    } else if (rc == MERR_NOTFOUND) {
        rc = MERR_OK;
    }
    if (rc)
        goto out;
    rc = subs_store_supp_json(db, hash, &supp);
    if (rc == MERR_NOTFOUND)
        rc = MERR_OK;
    if (!rc)
        rc = envelopes_json(db, sid, a.key, &env);
    if (rc)
        goto out;
    *found = sub || supp || json_integer_value(json_object_get(env, "total")) > 0;
    o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "email_key", a.key, "email_hash", hash,
                  "subscriber", sub ? sub : json_null(), "subscriptions",
                  subns ? subns : json_array(), "suppression", supp ? supp : json_null(),
                  "envelopes", env);
    sub = subns = supp = env = NULL;
    if (!o) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    *out = o;
out:
    json_decref(sub);
    json_decref(subns);
    json_decref(supp);
    json_decref(env);
    return rc;
}

enum merr subs_show(struct db *db, const char *email, json_t **out)
{
    int found;
    enum merr rc = subs_show_person(db, email, out, &found);
    if (rc || found)
        return rc;
    json_decref(*out);
    *out = NULL;
    return merr_set(MERR_NOTFOUND, "nothing is stored about %.300s", email);
}

enum merr subs_erase_tx(struct db *db, const char *email, time_t now, struct subs_erase_result *res)
{
    struct addr a;
    char hash[65], reason[32];
    long long sid = 0;
    int asked = 0, has_supp = 0, found = 0, total = 0, unsub = 0;
    enum merr rc;

    memset(res, 0, sizeof *res);
    rc = parse_email(email, &a);
    if (rc)
        return rc;
    snprintf(res->email_key, sizeof res->email_key, "%s", a.key);
    subs_store_key_hash(a.key, hash);
    rc = subs_store_sub_find(db, a.key, &sid);
    if (rc == MERR_OK) {
        found = 1;
        rc = subs_store_subn_count(db, sid, &total, &unsub);
        asked = unsub > 0;
    } else if (rc == MERR_NOTFOUND) {
        rc = MERR_OK;
    }
    if (rc)
        return rc;
    rc = subs_store_supp_get(db, hash, reason);
    if (rc == MERR_OK)
        has_supp = asked = 1;
    else if (rc == MERR_NOTFOUND)
        rc = MERR_OK;
    if (rc)
        return rc;
    /* before the delete: it sets the envelopes' subscriber_id to NULL */
    if (found)
        rc = outbox_cancel_subscriber(db, sid, 0, &res->envelopes_cancelled);
    if (!rc)
        rc = outbox_erase_recipient(db, sid, a.key, &res->envelopes_erased);
    if (rc)
        return rc;
    if (found) {
        rc = subs_store_sub_delete(db, sid);
        if (rc)
            return rc;
        res->subscriber_deleted = 1;
        res->subscriptions = total;
    }
    if (asked) {
        if (!has_supp)
            rc = subs_store_supp_insert(db, hash, NULL, "unsubscribed_all", "", now, NULL);
        else
            rc = subs_store_supp_anonymise(db, hash);
        if (rc)
            return rc;
        res->suppression_kept = 1;
    }
    res->found = found || has_supp || res->envelopes_erased > 0;
    return MERR_OK;
}

enum merr subs_erase(struct db *db, const char *email, time_t now, struct subs_erase_result *res)
{
    enum merr rc;

    memset(res, 0, sizeof *res);
    rc = db_begin(db);
    if (rc)
        return rc;
    rc = subs_erase_tx(db, email, now, res);
    if (!rc && !res->found)
        rc = merr_set(MERR_NOTFOUND, "nothing is stored about %s", res->email_key);
    if (!rc)
        rc = db_commit(db);
    if (rc)
        db_rollback(db);
    return rc;
}

enum merr subs_each(struct db *db, const struct subs_filter *f,
                    enum merr (*fn)(void *arg, const struct subs_row *row), void *arg)
{
    long long list_id = 0;
    if (f && f->list_slug) {
        struct subs_list l;
        enum merr rc = subs_list_get(db, f->list_slug, &l);
        if (rc)
            return rc;
        list_id = l.id;
        subs_list_clear(&l);
    }
    return subs_store_each(db, list_id, f, fn, arg);
}
