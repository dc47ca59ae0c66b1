/*
 * share.c: validate a "Gửi Email" request and enqueue it, for the CLI and
 * the web form alike.
 *
 * Everything is checked before anything is written: the article exists,
 * the recipients parse (addr_parse) and, once duplicates are merged (by
 * their lower-cased key), number between 1 and share_max_recipients; the
 * sender's name and the note pass the one filter for typed text (text.h:
 * no control or formatting characters, no link or domain name; a share
 * form is a favourite spam relay, and both land in a message to an address
 * the sender chose); the name is one line of at most SHARE_NAME_MAX_CHARS,
 * the note at most share_note_max_chars code points with line breaks (it
 * is body text, never a header); the sender's address parses. Suppressed recipients are then
 * dropped without telling the sender, who must not learn who unsubscribed. The send (with the plan
 * JSON compose_plan_new reads), its envelopes and the share_log row are
 * written in one transaction: a refusal or failure leaves nothing.
 *
 * The refused field's name is kept per thread for the HTTP layer, next to
 * the reason in merr_msg().
 */
#include "share.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "articles.h"
#include "date.h"
#include "outbox.h"
#include "share_store.h"
#include "subs.h"
#include "text.h"
#include "utf8.h"

#define ARTICLE_ID_MAX 200

enum merr share_find_form(struct db *db, const char *form_key, long long *send_id)
{
    return share_store_by_form(db, form_key, send_id);
}

/* A refusal naming the request's field at fault (merr_field). */
static enum merr refuse(enum merr rc, const char *field)
{
    return merr_set_field(rc, field);
}

/* Copies `s` without surrounding spaces and tabs into a new string. */
static char *trimmed(const char *s)
{
    const char *e;
    char *out;
    if (!s)
        s = "";
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    out = malloc((size_t)(e - s) + 1);
    if (out) {
        memcpy(out, s, (size_t)(e - s));
        out[e - s] = '\0';
    }
    return out;
}

/* The sender's name and the note through the one filter for typed text (text.h). */
static enum merr check_name(const char *name)
{
    enum text_fault f = text_check_name(name, strlen(name), SHARE_NAME_MAX_CHARS);
    if (f == TEXT_TOO_LONG)
        return merr_setr(MERR_LIMIT, text_fault_reason(f, 0),
                         "sender name: longer than %d characters", SHARE_NAME_MAX_CHARS);
    if (f)
        return merr_setr(MERR_INVAL, text_fault_reason(f, 0), "sender name: %s", text_fault_en(f));
    return MERR_OK;
}

static enum merr check_note(const char *note, int max_chars)
{
    size_t len = strlen(note);
    enum text_fault f = text_check_note(note, len, (size_t)max_chars);
    if (f == TEXT_TOO_LONG)
        return merr_setr(MERR_LIMIT, text_fault_reason(f, 1),
                         "note: %zu characters, at most %d allowed", utf8_count(note, len),
                         max_chars);
    if (f)
        return merr_setr(MERR_INVAL, text_fault_reason(f, 1), "note: %s", text_fault_en(f));
    return MERR_OK;
}

static enum merr check_article_id(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (!len)
        return merr_set(MERR_INVAL, "article: missing");
    if (len > ARTICLE_ID_MAX || !utf8_valid(id, len, NULL) || utf8_has_crlf_nul(id, len))
        return merr_set(MERR_INVAL, "article: not a valid article id");
    return MERR_OK;
}

/* Parses and merges the recipients into `out` (room for `max`), `*n` kept. */
static enum merr parse_recipients(const struct share_request *req, int max, struct addr *out,
                                  size_t *n)
{
    struct addr a;
    size_t count = 0, typed = 0;

    *n = 0;
    if (req->nto > (size_t)max * 4 + 16)
        return merr_setr(MERR_LIMIT, "to.too_many", "to: at most %d recipients", max);
    for (size_t i = 0; i < req->nto; i++) {
        const char *s = req->to[i];
        int dup = 0;
        if (!s || !s[strspn(s, " \t")])
            continue; /* an empty field of the form */
        typed++;
        enum merr rc = addr_parse(s, &a);
        if (rc)
            return merr_wrap(rc, "to: recipient %zu", typed);
        for (size_t k = 0; k < count; k++)
            if (!strcmp(out[k].key, a.key))
                dup = 1;
        if (dup)
            continue;
        if (count == (size_t)max)
            return merr_setr(MERR_LIMIT, "to.too_many", "to: at most %d recipients", max);
        out[count++] = a;
    }
    if (!count)
        return merr_setr(MERR_INVAL, "to.missing", "to: at least one recipient is needed");
    *n = count;
    return MERR_OK;
}

static char *plan_json(const char *article, const char *name, const char *email, const char *note)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", outbox_kind_name(OUTBOX_SHARE), "article",
                  article, "sender_name", name, "sender_email", email, "note", note);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

enum merr share_enqueue(struct db *db, const struct config *cfg, const struct share_request *req,
                        long long *send_id, size_t *accepted)
{
    struct addr *to = NULL, sender;
    char *name = NULL, *note = NULL, *plan = NULL;
    size_t nto = 0, kept = 0;
    int max = cfg->share_max_recipients > 0 ? cfg->share_max_recipients : 1;
    int in_tx = 0, exists = 0;
    enum merr rc;

    *send_id = 0;
    *accepted = 0;
    merr_clear();
    if (req->form_key) { /* the same form a second time: the share it made, no other */
        rc = share_store_by_form(db, req->form_key, send_id);
        if (rc == MERR_OK)
            return merr_set(MERR_EXISTS, "share: this form was sent already (send %lld)", *send_id);
        if (rc != MERR_NOTFOUND)
            return rc;
    }
    rc = check_article_id(req->article_id);
    if (rc)
        return refuse(rc, "article");
    rc = article_exists(db, req->article_id, &exists);
    if (rc)
        return refuse(rc, "article");
    if (!exists)
        return refuse(merr_set(MERR_NOTFOUND, "article: no article \"%s\"", req->article_id),
                      "article");

    to = calloc((size_t)max, sizeof *to);
    name = trimmed(req->sender_name);
    note = trimmed(req->note);
    if (!to || !name || !note) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    rc = parse_recipients(req, max, to, &nto);
    if (rc) {
        refuse(rc, "to");
        goto out;
    }
    rc = check_name(name);
    if (rc) {
        refuse(rc, "sender_name");
        goto out;
    }
    if (!req->sender_email || !req->sender_email[strspn(req->sender_email, " \t")]) {
        rc = refuse(merr_setr(MERR_INVAL, "sender_email.missing", "sender email: missing"),
                    "sender_email");
        goto out;
    }
    rc = addr_parse(req->sender_email, &sender);
    if (rc) {
        merr_wrap(rc, "sender email");
        refuse(rc, "sender_email");
        goto out;
    }
    rc = check_note(note, cfg->share_note_max_chars);
    if (rc) {
        refuse(rc, "note");
        goto out;
    }
    plan = plan_json(req->article_id, name, sender.ascii, note);
    if (!plan) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }

    rc = db_begin(db);
    if (rc)
        goto out;
    in_tx = 1;
    rc = outbox_send_create(db, OUTBOX_SHARE, 0, plan, send_id);
    if (rc)
        goto out;
    for (size_t i = 0; i < nto; i++) {
        if (subs_is_suppressed(db, to[i].key))
            continue; /* dropped silently: the sender must not learn who left */
        rc = outbox_envelope_add(db, *send_id, 0, to[i].ascii, "", NULL);
        if (rc)
            goto out;
        kept++;
    }
    rc = share_store_log(db, req->article_id, *send_id, sender.ascii, name, req->client_ip, kept,
                         req->form_key);
    if (rc)
        goto out;
    if (!kept) {
        rc = outbox_send_finish_if_idle(db, *send_id, date_now());
        if (rc)
            goto out;
    }
    rc = db_commit(db);
    if (rc)
        goto out;
    in_tx = 0;
    *accepted = kept;
out:
    if (rc) {
        if (in_tx)
            db_rollback(db);
        *send_id = 0;
    }
    free(to);
    free(name);
    free(note);
    free(plan);
    return rc;
}

/*
 * Everything stored about a person: the subscribers module's view (with
 * their envelopes) plus the shares they sent. It lives here because share
 * is the module that sees both (share links subscribers, not the reverse).
 */
enum merr share_person_show(struct db *db, const char *email, json_t **out)
{
    struct share_person sp;
    json_t *o = NULL, *shares = NULL, *part;
    int found = 0;
    enum merr rc;

    *out = NULL;
    rc = subs_show_person(db, email, &o, &found);
    if (!rc)
        rc = share_person_summary(db, json_string_value(json_object_get(o, "email_key")), &sp);
    if (rc)
        goto out;
    shares = json_array();
    if (!shares)
        goto nomem;
    for (size_t i = 0; i < sp.n; i++) {
        const struct share_person_row *r = &sp.last[i];
        json_t *j = json_pack(
            "{s:I, s:s, s:o, s:s, s:s, s:I, s:I}", "id", (json_int_t)r->id, "article",
            r->article_id, "send", r->send_id ? json_integer((json_int_t)r->send_id) : json_null(),
            "sender_name", r->sender_name, "client_ip", r->client_ip, "recipients",
            (json_int_t)r->recipients, "created_at", (json_int_t)r->created_at);
        if (!j || json_array_append_new(shares, j))
            goto nomem;
    }
    part = json_pack("{s:I, s:O}", "total", (json_int_t)sp.total, "last", shares);
    if (!part || json_object_set_new(o, "shares", part))
        goto nomem;
    if (!found && sp.total == 0) {
        rc = merr_set(MERR_NOTFOUND, "nothing is stored about %.300s", email);
        goto out;
    }
    *out = o;
    o = NULL;
    goto out;
nomem:
    rc = merr_set(MERR_NOMEM, "out of memory");
out:
    json_decref(shares);
    json_decref(o);
    return rc;
}

/*
 * The share part is called here rather than inside subs_erase because
 * mailer/share links subscribers: calling share from subscribers would make
 * the two libraries depend on each other.
 */
enum merr share_erase_person(struct db *db, const char *email, time_t now,
                             struct subs_erase_result *er, long long *shares)
{
    enum merr rc = db_begin(db);
    *shares = 0;
    if (rc)
        return rc;
    rc = subs_erase_tx(db, email, now, er);
    if (!rc)
        rc = share_erase_sender(db, er->email_key, shares);
    if (!rc && !er->found && *shares == 0)
        rc = merr_set(MERR_NOTFOUND, "nothing is stored about %.300s", email);
    if (!rc)
        rc = db_commit(db);
    if (rc)
        db_rollback(db);
    return rc;
}
