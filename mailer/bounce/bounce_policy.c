/*
 * bounce_policy.c: which envelope a report is about, what that does, and
 * how to take it back.
 *
 * Attribution, in this order (the first that applies decides):
 *  1. the VERP token of the address the message was sent to
 *     (bounces+ID.MAC@domain: the pipe's recipient, Delivered-To and its
 *     cousins, To), or of the returned message's Return-Path; its HMAC is
 *     checked (outbox_verp_parse): a token that fails is a forgery or an
 *     alteration, and the whole message is refused and counted, changing
 *     nothing;
 *  2. the DSN's ENVID (RFC 3461 §4.4), which is the same token;
 *  3. the Message-ID of the returned message, which hides the envelope id
 *     under [mail] secret (outbox_message_id_envelope) with a tag under its
 *     send's salt that must match (outbox_message_id);
 *  then per recipient:
 *  4. the List-Id of the returned message (our "slug.domain") and the
 *     address: the newest envelope of that list's sends to it;
 *  5. the address alone: the newest envelope sent to it within
 *     [bounce] attribution_days.
 * A recipient none of these finds is kept and counted as unattributed;
 * nothing is guessed. With an envelope found by 1-3 the report speaks
 * about that envelope: the recipient whose address (or original address)
 * is the envelope's takes it; if none is (the mail was forwarded), the
 * most severe failure does.
 *
 * Consequences (docs/bounces.md), applied by the code that owns each
 * thing, inside the transaction that records the bounce, each one kept as
 * an effect so that bounce_policy_undo lifts exactly it:
 *  - hard: the address is suppressed (subscribers) and the envelope turns
 *    failed with the bounce's code and text (outbox);
 *  - soft: counted; [bounce] soft_limit soft bounces of one address over
 *    at least two sends within soft_days suppress it (delay notices never
 *    count);
 *  - complaint: the subscriber leaves every list and the address is
 *    suppressed (a share's recipient has no subscriber: the suppression
 *    alone stops further shares to them);
 *  - a mail to unsubscribe+TOKEN@: that subscription ends; without a valid
 *    token nothing changes;
 *  - auto-reply, delivered, unknown: recorded only.
 * Each attributed hard or soft bounce and each complaint is also counted
 * for the day (outbox_daily_add: the admin dashboard's chart).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_int.h"
#include "bounce_store.h"
#include "config.h"
#include "outbox.h"
#include "subs.h"

struct apply {
    struct db *db;
    const struct config *cfg;
    long long bounce_id;
    time_t now;
    int seq; /* of the next effect */
    struct bounce_result *res;
};

static void lower_copy(char *out, size_t n, const char *in)
{
    size_t i = 0;
    for (; in && in[i] && i + 1 < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

/* "ID.MAC" with MAC 20 hex digits: the shape of our tokens (VERP, ENVID). */
static int token_shaped(const char *t)
{
    const char *p = t;
    int d = 0, h = 0;
    while (*p >= '0' && *p <= '9')
        p++, d++;
    if (!d || *p++ != '.')
        return 0;
    while (isxdigit((unsigned char)*p))
        p++, h++;
    return h == 20 && *p == '\0';
}

/* ---- effects ------------------------------------------------------------- */

static enum merr effect(struct apply *a, const char *kind, const char *target, json_t *detail)
{
    char *s = json_dumps(detail, JSON_COMPACT);
    enum merr rc;
    json_decref(detail);
    if (!s)
        return merr_set(MERR_NOMEM, "out of memory");
    rc = bounce_store_effect(a->db, a->bounce_id, a->seq++, kind, target, s);
    free(s);
    return rc;
}

static enum merr suppress(struct apply *a, const char *key, const char *reason, const char *why,
                          int *created)
{
    char detail[300];
    enum merr rc;
    snprintf(detail, sizeof detail, "bounce %lld: %s", a->bounce_id, why);
    rc = subs_block_suppress(a->db, key, reason, detail, a->now, created);
    if (rc || !*created)
        return rc;
    a->res->suppressed++;
    return effect(a, "suppression", key, json_pack("{s:s}", "reason", reason));
}

/* What a bounce writes into its envelope's last_text. */
static void envelope_text(const struct bounce_rcpt *r, long long bounce_id, char out[256])
{
    snprintf(out, 256, "bounce %lld: %s %s%s%.180s", bounce_id, r->reason,
             r->status[0] ? r->status : "", r->diagnostic ? " " : "",
             r->diagnostic ? r->diagnostic : "");
}

static enum merr hard(struct apply *a, const struct bounce_rcpt *r,
                      const struct outbox_bounce_target *t, const char *key, const char **action)
{
    struct outbox_bounce_prev prev;
    char text[256], why[200];
    int created = 0, changed = 0;
    enum merr rc;

    snprintf(why, sizeof why, "%s %s", r->reason, r->status);
    rc = suppress(a, key, "hard_bounce", why, &created);
    if (rc)
        return rc;
    envelope_text(r, a->bounce_id, text);
    rc = outbox_bounce_record(a->db, t->envelope_id, atoi(r->reply_code), text, a->now, &prev,
                              &changed);
    if (rc)
        return rc;
    if (changed) {
        char target[32];
        snprintf(target, sizeof target, "%lld", t->envelope_id);
        rc = effect(a, "envelope", target,
                    json_pack("{s:s, s:o, s:o, s:s}", "state", outbox_state_name(prev.state),
                              "code", prev.has_code ? json_integer(prev.last_code) : json_null(),
                              "text", prev.has_text ? json_string(prev.last_text) : json_null(),
                              "bounce_text", text));
    }
    *action = created ? "suppressed" : "already suppressed";
    return rc;
}

static enum merr soft(struct apply *a, const struct bounce_rcpt *r,
                      const struct outbox_bounce_target *t, const char *key, const char **action)
{
    int count, sends, of_send, created = 0;
    char why[200];
    enum merr rc;

    *action = "none";
    if (!strcmp(r->reason, "delayed"))
        return MERR_OK; /* a delay notice: the message may still arrive */
    rc = bounce_store_soft_count(a->db, key, a->now - (time_t)a->cfg->bounce_soft_days * 86400,
                                 t->send_id, &count, &sends, &of_send);
    if (rc)
        return rc;
    count++; /* this one */
    if (!of_send)
        sends++;
    *action = "counted";
    if (count < a->cfg->bounce_soft_limit || sends < 2)
        return MERR_OK;
    snprintf(why, sizeof why, "%d soft bounces over %d sends in %d days", count, sends,
             a->cfg->bounce_soft_days);
    rc = suppress(a, key, "hard_bounce", why, &created);
    if (!rc && created)
        *action = "suppressed";
    return rc;
}

static enum merr complaint(struct apply *a, const struct outbox_bounce_target *t, const char *key,
                           const char **action)
{
    struct subs_block_change ch[SUBS_BLOCK_MAX_LISTS];
    size_t n = 0;
    int created = 0;
    enum merr rc = MERR_OK;

    if (t->subscriber_id) {
        rc = subs_block_leave(a->db, t->subscriber_id, 0, a->now, ch, SUBS_BLOCK_MAX_LISTS, &n);
        for (size_t i = 0; i < n && !rc; i++) {
            char target[64];
            snprintf(target, sizeof target, "%lld:%lld", t->subscriber_id, ch[i].list_id);
            rc = effect(a, "subscription", target,
                        json_pack("{s:s, s:I}", "before", subs_status_name(ch[i].before), "left_at",
                                  (json_int_t)a->now));
        }
    }
    if (!rc)
        rc = suppress(a, key, "complaint", "complaint (feedback report)", &created);
    *action = n ? "unsubscribed" : created ? "suppressed" : "already suppressed";
    return rc;
}

/* ---- attribution ------------------------------------------------------- */

/*
 * Steps 1-3: an envelope for the whole message. 0 and *eid when found, 0
 * and eid 0 when nothing applies, -1 when a token is forged (note set).
 */
static int attribute_message(struct apply *a, const struct bounce_report *r, const char *hint,
                             long long *eid, const char **by)
{
    const char *cands[3] = {
        hint && !strncasecmp(hint, OUTBOX_VERP_PREFIX, sizeof OUTBOX_VERP_PREFIX - 1) ? hint : NULL,
        r->verp, r->returned_verp};
    *eid = 0;
    for (int i = 0; i < 3; i++) {
        long long id;
        if (!cands[i])
            continue;
        if (outbox_verp_parse(a->cfg->secret, cands[i], &id) != MERR_OK) {
            snprintf(a->res->note, sizeof a->res->note,
                     "refused: VERP token forged or altered (%.150s)", cands[i]);
            return -1;
        }
        if (!*eid) {
            *eid = id;
            *by = "verp";
        }
    }
    if (*eid)
        return 0;
    if (r->envid && token_shaped(r->envid)) {
        char addr[128];
        long long id;
        snprintf(addr, sizeof addr, OUTBOX_VERP_PREFIX "%s@x", r->envid);
        if (outbox_verp_parse(a->cfg->secret, addr, &id) != MERR_OK) {
            snprintf(a->res->note, sizeof a->res->note, "refused: ENVID forged or altered (%.100s)",
                     r->envid);
            return -1;
        }
        *eid = id;
        *by = "envid";
        return 0;
    }
    if (r->returned_msgid) {
        const char *at = strrchr(r->returned_msgid, '@');
        long long id = 0;
        struct outbox_bounce_target t;
        char want[128];
        if (at && !strcasecmp(at + 1, cfg_mail_domain(a->cfg)) &&
            (id = outbox_message_id_envelope(a->cfg->secret, r->returned_msgid)) > 0 &&
            outbox_bounce_target(a->db, id, &t) == MERR_OK) {
            outbox_message_id(a->cfg->secret, NULL, t.salt, NULL, id, cfg_mail_domain(a->cfg),
                              want);
            if (!strcasecmp(want, r->returned_msgid)) {
                *eid = id;
                *by = "message_id";
            }
        }
    }
    return 0;
}

/* Steps 4-5 for one recipient: an envelope by List-Id and address, or by address. */
static enum merr attribute_rcpt(struct apply *a, const struct bounce_report *r,
                                const struct bounce_rcpt *x, long long *eid, const char **by)
{
    time_t since = a->now - (time_t)a->cfg->bounce_attribution_days * 86400;
    const char *addrs[2] = {x->address, x->original};
    enum merr rc;

    *eid = 0;
    if (r->returned_list_id) {
        const char *dom = cfg_mail_domain(a->cfg);
        size_t ll = strlen(r->returned_list_id), dl = strlen(dom);
        struct subs_list l;
        char slug[SUBS_SLUG_MAX + 1];
        if (ll > dl + 1 && r->returned_list_id[ll - dl - 1] == '.' &&
            !strcasecmp(r->returned_list_id + ll - dl, dom) && ll - dl - 1 <= SUBS_SLUG_MAX) {
            snprintf(slug, sizeof slug, "%.*s", (int)(ll - dl - 1), r->returned_list_id);
            if (subs_list_get(a->db, slug, &l) == MERR_OK) {
                for (int i = 0; i < 2 && !*eid; i++) {
                    char key[BOUNCE_ADDR_MAX];
                    if (!addrs[i][0])
                        continue;
                    lower_copy(key, sizeof key, addrs[i]);
                    rc = outbox_bounce_recent(a->db, key, l.id, since, eid);
                    if (rc && rc != MERR_NOTFOUND) {
                        subs_list_clear(&l);
                        return rc;
                    }
                }
                subs_list_clear(&l);
                if (*eid) {
                    *by = "list_id";
                    return MERR_OK;
                }
            }
        }
    }
    for (int i = 0; i < 2 && !*eid; i++) {
        char key[BOUNCE_ADDR_MAX];
        if (!addrs[i][0])
            continue;
        lower_copy(key, sizeof key, addrs[i]);
        rc = outbox_bounce_recent(a->db, key, 0, since, eid);
        if (rc && rc != MERR_NOTFOUND)
            return rc;
    }
    if (*eid)
        *by = "recipient";
    return MERR_OK;
}

static int severity(const struct bounce_rcpt *x)
{
    switch (x->cls) {
    case BOUNCE_HARD:
        return 5;
    case BOUNCE_COMPLAINT:
        return 4;
    case BOUNCE_SOFT:
        return strcmp(x->reason, "delayed") ? 3 : 1;
    case BOUNCE_UNKNOWN:
        return 2;
    default:
        return 0;
    }
}

/* ---- applying one report -------------------------------------------------- */

static enum merr consequences(struct apply *a, const struct bounce_rcpt *x,
                              const struct outbox_bounce_target *t, const char *key,
                              const char **action)
{
    enum merr rc;
    *action = "none";
    /* the dashboard's counters of the day, in the transaction that records the bounce */
    if (x->cls == BOUNCE_HARD || x->cls == BOUNCE_SOFT || x->cls == BOUNCE_COMPLAINT) {
        rc = outbox_daily_add(
            a->db, a->now, x->cls == BOUNCE_COMPLAINT ? OUTBOX_DAY_COMPLAINTS : OUTBOX_DAY_BOUNCED,
            1);
        if (rc)
            return rc;
    }
    switch (x->cls) {
    case BOUNCE_HARD:
        return hard(a, x, t, key, action);
    case BOUNCE_SOFT:
        return soft(a, x, t, key, action);
    case BOUNCE_COMPLAINT:
        return complaint(a, t, key, action);
    default:
        return MERR_OK;
    }
}

static enum merr unsubscribe_mail(struct apply *a, const struct bounce_report *r, const char *addr)
{
    struct subs_block_change ch[1];
    struct bounce_rcpt x;
    struct bounce_store_attr at;
    long long sub = 0, list = 0;
    size_t n = 0;
    enum merr rc;

    memset(&x, 0, sizeof x);
    memset(&at, 0, sizeof at);
    snprintf(x.address, sizeof x.address, "%s", r->from ? r->from : "");
    x.cls = BOUNCE_UNKNOWN;
    x.reason = "unsubscribe";
    snprintf(a->res->kind, sizeof a->res->kind, "unsubscribe");
    if (subs_mailto_check(a->cfg->secret, addr, &sub, &list) != MERR_OK) {
        snprintf(a->res->state, sizeof a->res->state, "refused");
        snprintf(a->res->note, sizeof a->res->note,
                 "refused: unsubscribe mail without a valid token (%.150s)", addr);
        at.action = "none";
        a->res->recipients = 1;
        return bounce_store_rcpt(a->db, a->bounce_id, 0, &x, &at);
    }
    rc = subs_block_leave(a->db, sub, list, a->now, ch, 1, &n);
    if (!rc && n) {
        char target[64];
        snprintf(target, sizeof target, "%lld:%lld", sub, list);
        rc = effect(a, "subscription", target,
                    json_pack("{s:s, s:I}", "before", subs_status_name(ch[0].before), "left_at",
                              (json_int_t)a->now));
    }
    if (rc)
        return rc;
    at.subscriber_id = sub;
    at.by = "token";
    at.action = n ? "unsubscribed" : "none (not subscribed)";
    snprintf(a->res->note, sizeof a->res->note, "subscriber %lld %s list %lld by mail", sub,
             n ? "left" : "was not on", list);
    a->res->recipients = 1;
    a->res->attributed = 1;
    return bounce_store_rcpt(a->db, a->bounce_id, 0, &x, &at);
}

enum merr bounce_policy_apply(struct db *db, const struct config *cfg, long long bounce_id,
                              const struct bounce_report *r, const char *role, const char *hint,
                              time_t now, struct bounce_result *res)
{
    struct apply a = {db, cfg, bounce_id, now, 0, res};
    struct outbox_bounce_target t;
    long long eid = 0;
    const char *by = NULL;
    int forged, chosen = -1;
    enum merr rc = MERR_OK;
    const char *unsub =
        hint && !strncasecmp(hint, SUBS_UNSUBSCRIBE_PREFIX, sizeof SUBS_UNSUBSCRIBE_PREFIX - 1)
            ? hint
            : r->unsubscribe;

    if (unsub && r->kind != BOUNCE_KIND_DSN && r->kind != BOUNCE_KIND_ARF &&
        r->kind != BOUNCE_KIND_REPORT)
        return unsubscribe_mail(&a, r, unsub);
    if (!strcmp(role, "unsubscribe") && r->kind == BOUNCE_KIND_NOT_BOUNCE) {
        snprintf(res->kind, sizeof res->kind, "unsubscribe");
        snprintf(res->state, sizeof res->state, "refused");
        snprintf(res->note, sizeof res->note,
                 "refused: a mail to the unsubscribe address without "
                 "a token");
        return MERR_OK;
    }

    forged = attribute_message(&a, r, hint, &eid, &by);
    if (forged)
        snprintf(res->state, sizeof res->state, "refused");
    if (eid) {
        rc = outbox_bounce_target(db, eid, &t);
        if (rc == MERR_NOTFOUND) { /* a genuine token of an envelope since purged */
            eid = 0;
            rc = MERR_OK;
        }
        if (rc)
            return rc;
    }
    if (eid) {
        for (size_t i = 0; i < r->n_rcpts && chosen < 0; i++)
            if (!strcasecmp(r->rcpts[i].address, t.recipient) ||
                !strcasecmp(r->rcpts[i].original, t.recipient))
                chosen = (int)i;
        if (chosen < 0 && r->n_rcpts) { /* forwarded: the most severe failure */
            chosen = 0;
            for (size_t k = 1; k < r->n_rcpts; k++)
                if (severity(&r->rcpts[k]) > severity(&r->rcpts[chosen]))
                    chosen = (int)k;
        }
    }
    for (size_t i = 0; i < r->n_rcpts && !rc; i++) {
        const struct bounce_rcpt *x = &r->rcpts[i];
        struct bounce_store_attr at;
        struct outbox_bounce_target rt;
        long long reid = 0;
        const char *rby = NULL;

        memset(&at, 0, sizeof at);
        at.action = "none";
        lower_copy(at.address_key, sizeof at.address_key, x->address);
        if (forged) {
            rc = bounce_store_rcpt(db, bounce_id, (int)i, x, &at);
            continue;
        }
        if (eid && (int)i == chosen) {
            reid = eid;
            rby = by;
            rt = t;
        } else if (!eid) {
            rc = attribute_rcpt(&a, r, x, &reid, &rby);
            if (!rc && reid)
                rc = outbox_bounce_target(db, reid, &rt);
            if (rc == MERR_NOTFOUND) {
                reid = 0;
                rc = MERR_OK;
            }
        }
        if (rc)
            break;
        if (reid) {
            at.envelope_id = reid;
            at.send_id = rt.send_id;
            at.subscriber_id = rt.subscriber_id;
            at.by = rby;
            lower_copy(at.address_key, sizeof at.address_key, rt.recipient);
            res->attributed++;
            rc = consequences(&a, x, &rt, at.address_key, &at.action);
        }
        if (!rc)
            rc = bounce_store_rcpt(db, bounce_id, (int)i, x, &at);
        res->recipients++;
    }
    if (!rc && !forged && !res->note[0])
        snprintf(res->note, sizeof res->note, "%d of %d recipients attributed, %d suppressed",
                 res->attributed, res->recipients, res->suppressed);
    return rc;
}

/* ---- undo ------------------------------------------------------------------ */

static enum merr undo_one(struct db *db, const struct bounce_store_effect *e, time_t now,
                          int *lifted)
{
    json_error_t jerr;
    json_t *d = json_loads(e->detail, 0, &jerr);
    enum merr rc = MERR_OK;
    int done = 0;

    if (!d)
        return merr_set(MERR_INTERNAL, "bounce effect %d: bad detail", e->seq);
    if (!strcmp(e->kind, "suppression")) {
        rc = subs_block_lift(db, e->target, json_string_value(json_object_get(d, "reason")), &done);
    } else if (!strcmp(e->kind, "subscription")) {
        long long sub = 0, list = 0;
        int st = subs_status_parse(json_string_value(json_object_get(d, "before")));
        if (sscanf(e->target, "%lld:%lld", &sub, &list) == 2 && st > 0)
            rc = subs_block_rejoin(db, sub, list, (enum subs_status)st,
                                   (time_t)json_integer_value(json_object_get(d, "left_at")), now,
                                   &done);
    } else if (!strcmp(e->kind, "envelope")) {
        struct outbox_bounce_prev prev;
        json_t *code = json_object_get(d, "code"), *text = json_object_get(d, "text");
        memset(&prev, 0, sizeof prev);
        prev.state = OUTBOX_SENT;
        prev.has_code = json_is_integer(code);
        prev.last_code = (int)json_integer_value(code);
        prev.has_text = json_is_string(text);
        snprintf(prev.last_text, sizeof prev.last_text, "%s",
                 prev.has_text ? json_string_value(text) : "");
        rc =
            outbox_bounce_restore(db, atoll(e->target), &prev,
                                  json_string_value(json_object_get(d, "bounce_text")), now, &done);
    }
    json_decref(d);
    *lifted += done;
    return rc;
}

enum merr bounce_policy_undo(struct db *db, long long id, time_t now, int *lifted)
{
    struct bounce_store_effect *v = NULL;
    size_t n = 0;
    int changed = 0;
    enum merr rc;
    json_t *show;

    *lifted = 0;
    rc = bounce_store_show(db, id, &show, NULL, NULL); /* MERR_NOTFOUND for an unknown id */
    if (rc)
        return rc;
    json_decref(show);
    rc = db_begin(db);
    if (rc)
        return rc;
    rc = bounce_store_undone(db, id, now, &changed);
    if (!rc && changed)
        rc = bounce_store_effects(db, id, &v, &n);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = undo_one(db, &v[i], now, lifted);
        if (!rc)
            rc = bounce_store_effect_undone(db, id, v[i].seq, now);
    }
    bounce_store_effects_free(v, n);
    if (!rc)
        rc = db_commit(db);
    if (rc)
        db_rollback(db);
    return rc;
}
