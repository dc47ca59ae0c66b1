/*
 * compose_personal.c: the one place where a recipient's personal parts
 * are made.
 *
 * Delivery, a digest's preview and `mailer compose` all call
 * compose_personal and render with what it gives, so there is one way to
 * make a Message-ID, one VERP address, one List-Id, one unsubscribe link
 * and one set of template variables: a preview cannot differ from the
 * delivered message except by its Date (compose_render derives the MIME
 * boundaries from the Message-ID too). Whatever is added per recipient
 * later (a signature, a Feedback-ID, an opaque Message-ID) goes here.
 *
 * Identifiers. The Message-ID is 32 hex digits "@domain" that hide the
 * envelope id and a tag under the send's salt behind [mail] secret
 * (outbox_message_id): fixed when the envelope is created, so a retry is
 * the same message, and it reveals no internal id. A message of no
 * envelope gets 32 random hex digits instead. The send id goes to
 * Feedback-ID (compose_render). The VERP return path is
 * "bounces+ID.MAC@bounce domain" under [mail] secret, and the same token
 * is the DSN ENVID (RFC 3461 §4.4). Prepared keys (compose_person's
 * salt_key and secret_key, one per worker thread) give the same bytes
 * faster.
 *
 * By kind: list mail (a digest) carries List-Id (RFC 2919: "<slug>.<mail
 * domain>"), List-Unsubscribe with the one-click URL (RFC 8058) and the
 * mailto: address carrying the subscription's signed token (RFC 2369;
 * mailer/bounce unsubscribes whoever mails it), and the URL, which
 * compose() also gives the templates as the unsubscribe_url variable;
 * a confirmation carries the confirm_url variable, valid from the
 * envelope's creation. Every message carries `name`.
 */
#include <stdio.h>
#include <string.h>

#include "compose.h"
#include "rnd.h"
#include "subs.h"

static void message_id(const struct config *cfg, const struct compose_person *who, char out[128])
{
    const char *domain = cfg_mail_domain(cfg);
    if (!who->envelope_id || !who->salt) {
        char hex[33];
        rnd_hex(hex, 16);
        snprintf(out, 128, "%s@%s", hex, domain);
    } else {
        outbox_message_id(cfg->secret, who->secret_key, who->salt, who->salt_key, who->envelope_id,
                          domain, out);
    }
}

static void return_path(const struct config *cfg, const struct compose_person *who,
                        struct compose_personal *p)
{
    const char *domain =
        cfg->bounce_domain && cfg->bounce_domain[0] ? cfg->bounce_domain : cfg_mail_domain(cfg);
    outbox_verp_token(cfg->secret ? cfg->secret : "", who->secret_key, who->envelope_id, p->envid);
    outbox_verp_of_token(p->envid, domain, p->return_path);
}

/* The subscription's signed mailto (subs_unsubscribe_mailto), which mailer/bounce reads back. */
static enum merr unsubscribe_mailto(const struct config *cfg, const struct compose_person *who,
                                    char out[320])
{
    struct buf m;
    enum merr rc;
    buf_init(&m, 319);
    rc = subs_unsubscribe_mailto(cfg, who->subscriber_id, who->list_id, &m);
    if (!rc)
        snprintf(out, 320, "%s", m.data);
    buf_free(&m);
    return rc;
}

enum merr compose_personal(const struct config *cfg, struct db *db,
                           const struct compose_person *who, struct compose_personal *out)
{
    enum merr rc = MERR_OK;

    memset(out, 0, sizeof *out);
    buf_init(&out->unsubscribe_url, 4096);
    buf_init(&out->confirm_url, 4096);
    message_id(cfg, who, out->message_id);
    return_path(cfg, who, out);
    out->rcpt.email = who->email;
    out->rcpt.name = who->name;
    out->rcpt.message_id = out->message_id;
    out->rcpt.send_id = who->send_id;
    out->vars = json_pack("{s:s}", "name", who->name ? who->name : "");
    if (!out->vars)
        return merr_set(MERR_INVAL, "recipient name is not UTF-8");
    switch (who->kind) {
    case OUTBOX_SHARE:
        break;
    case OUTBOX_DIGEST:
    case OUTBOX_BREAKING:
    case OUTBOX_TEST:
        /* a test is list mail to an editor: the list's headers, and an
         * unsubscribe link of subscriber 0, which unsubscribes nobody */
        if (who->kind == OUTBOX_TEST && who->subscriber_id)
            return merr_set(MERR_INVAL, "a test send to a subscriber");
        if (!who->list_slug || !who->list_slug[0] ||
            (who->envelope_id &&
             (!who->list_id || (!who->subscriber_id && who->kind != OUTBOX_TEST))))
            return merr_set(MERR_INVAL, "list mail without a list slug, list id or subscriber");
        snprintf(out->list_id, sizeof out->list_id, "%s.%s", who->list_slug, cfg_mail_domain(cfg));
        rc = unsubscribe_mailto(cfg, who, out->mailto);
        if (!rc)
            rc = subs_unsubscribe_url(db, cfg, who->subscriber_id, who->list_id,
                                      &out->unsubscribe_url);
        if (rc)
            return rc;
        out->rcpt.list_id = out->list_id;
        out->rcpt.unsubscribe_url = out->unsubscribe_url.data;
        out->rcpt.unsubscribe_mailto = out->mailto;
        break;
    case OUTBOX_CONFIRM:
        if (!who->list_id || !who->subscriber_id)
            return merr_set(MERR_INVAL, "confirmation without a list or subscriber");
        rc = subs_confirm_url(db, cfg, who->subscriber_id, who->list_id, who->created_at,
                              &out->confirm_url);
        if (rc)
            return rc;
        if (json_object_set_new(out->vars, "confirm_url", json_string(out->confirm_url.data)))
            return merr_set(MERR_NOMEM, "out of memory");
        break;
    }
    out->rcpt.vars = out->vars;
    return MERR_OK;
}

void compose_personal_free(struct compose_personal *p)
{
    if (!p)
        return;
    json_decref(p->vars);
    p->vars = NULL;
    buf_free(&p->unsubscribe_url);
    buf_free(&p->confirm_url);
}
