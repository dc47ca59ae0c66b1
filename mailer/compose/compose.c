/*
 * compose.c: one recipient's message from a send's plan.
 *
 * compose_render layers the recipient's data over the plan's shared data
 * (tpl data stack: shared, then ours, then the caller's vars), renders the
 * subject and the text and HTML bodies, and writes the message:
 *
 *   header fields (hdr.c: checked, RFC 2047-encoded, folded)
 *   multipart/related (RFC 2387), type="multipart/alternative"
 *     multipart/alternative (RFC 2046 §5.1.4)
 *       text/plain; charset=UTF-8, quoted-printable
 *       text/html; charset=UTF-8, quoted-printable
 *     the plan's image parts, copied as written once per plan
 *
 * or just the multipart/alternative when the plan embeds no photo, then
 * the DKIM-Signature fields on top when the plan has a signer. Only
 * the personal bytes are produced here; the photos' base64 is one memcpy
 * each. Boundaries are fresh CSPRNG values per message (compose_mime.h
 * explains why they can never occur inside a part). Every line ends with
 * CRLF and none is longer than 78 (headers) or 76 (bodies) characters,
 * except base64 lines of 76. The plan is only read, so any number of
 * threads may render from one plan at once.
 */
#include "compose.h"

#include <string.h>

#include "compose_int.h"
#include "compose_mime.h"
#include "date.h"
#include "dkimsig.h"
#include "hdr.h"

/* Renders `t` into `out` (emptied first). */
static enum merr render(const struct compose_plan *plan, const struct tpl *t, json_t *const *ctx,
                        size_t nctx, struct buf *out)
{
    buf_reset(out);
    return tpl_render(t, plan->set, NULL, ctx, nctx, out);
}

/* The personal layer: recipient, unsubscribe and confirm links. */
static enum merr personal_json(const struct compose_recipient *r, json_t **out)
{
    json_t *o = json_object(), *rec = json_object();
    const char *name = r->name ? r->name : "";
    *out = NULL;
    if (!o || !rec || json_object_set_new(o, "recipient", rec)) {
        json_decref(o);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    if (json_object_set_new(rec, "name", json_string(name)) ||
        json_object_set_new(rec, "email", json_string(r->email)) ||
        (r->unsubscribe_url &&
         json_object_set_new(o, "unsubscribe_url", json_string(r->unsubscribe_url)))) {
        json_decref(o);
        return merr_set(MERR_INVAL, "recipient: name, email or unsubscribe_url is not UTF-8");
    }
    *out = o;
    return MERR_OK;
}

static enum merr check_id(const char *field, const char *v)
{
    if (!v || !*v)
        return merr_set(MERR_INVAL, "%s: missing", field);
    for (const char *c = v; *c; c++)
        if (*c <= ' ' || *c >= 0x7f || *c == '<' || *c == '>')
            return merr_set(MERR_INVAL, "%s: \"%s\" has a space, angle bracket or non-ASCII", field,
                            v);
    return MERR_OK;
}

/* Strips the line end a subject template file leaves; CR/LF inside stays and is refused. */
static void chomp(struct buf *b)
{
    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
        b->data[--b->len] = 0;
}

static enum merr write_headers(const struct compose_plan *plan, const struct compose_recipient *r,
                               const char *subject, struct buf *out)
{
    char date[DATE_RFC5322_LEN];
    struct buf v;
    enum merr rc;

    buf_init(&v, 0);
    date_rfc5322(date_now(), date);
    rc = hdr_write_raw(out, "Date", date);
    if (!rc)
        rc = hdr_write_address(out, "From", plan->from_name, plan->from_address);
    if (!rc)
        rc = hdr_write_address(out, "To", r->name, r->email);
    if (!rc && plan->reply_address)
        rc = hdr_write_address(out, "Reply-To", plan->reply_name, plan->reply_address);
    if (!rc)
        rc = hdr_write_text(out, "Subject", subject);
    if (!rc)
        rc = check_id("Message-ID", r->message_id);
    if (!rc)
        rc = buf_printf(&v, "<%s>", r->message_id);
    if (!rc)
        rc = hdr_write_raw(out, "Message-ID", v.data);
    /* List mail (RFC 2369, RFC 2919, RFC 8058); a confirm request is not. */
    if (!rc && plan->kind != OUTBOX_CONFIRM && r->list_id) {
        rc = check_id("List-Id", r->list_id);
        buf_reset(&v);
        if (!rc)
            rc = buf_printf(&v, "<%s>", r->list_id);
        if (!rc)
            rc = hdr_write_raw(out, "List-Id", v.data);
    }
    if (!rc && plan->kind != OUTBOX_CONFIRM && (r->unsubscribe_url || r->unsubscribe_mailto)) {
        if (r->unsubscribe_url)
            rc = check_id("List-Unsubscribe", r->unsubscribe_url);
        if (!rc && r->unsubscribe_mailto)
            rc = check_id("List-Unsubscribe", r->unsubscribe_mailto);
        if (!rc && r->unsubscribe_url && strncmp(r->unsubscribe_url, "https://", 8) &&
            strncmp(r->unsubscribe_url, "http://", 7))
            rc = merr_set(MERR_INVAL, "List-Unsubscribe: \"%s\" is not an http(s) URL",
                          r->unsubscribe_url);
        buf_reset(&v);
        if (!rc && r->unsubscribe_url)
            rc = buf_printf(&v, "<%s>", r->unsubscribe_url);
        if (!rc && r->unsubscribe_mailto)
            rc = buf_printf(&v, "%s<%s>", v.len ? ", " : "", r->unsubscribe_mailto);
        if (!rc)
            rc = hdr_write_raw(out, "List-Unsubscribe", v.data);
        /* RFC 8058 §3.1: one-click only with an https URI (the POST must not leak) */
        if (!rc && r->unsubscribe_url && !strncmp(r->unsubscribe_url, "https://", 8))
            rc = hdr_write_raw(out, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
    }
    /*
     * Feedback-ID (Google's feedback loop, https://support.google.com/mail/answer/6254652):
     * "campaign:customer:type:sender", here send:list:kind:mail domain, so complaint
     * reports count per send, list and kind; signed (dkimsig's h=), as it must be.
     */
    if (!rc) {
        buf_reset(&v);
        rc = buf_printf(&v, "%lld:%s", r->send_id, plan->feedback);
        if (!rc)
            rc = check_id("Feedback-ID", v.data);
        if (!rc)
            rc = hdr_write_raw(out, "Feedback-ID", v.data);
    }
    /* RFC 3834 §5: sent by software on a request, not by a person; no auto-replies */
    if (!rc && plan->kind == OUTBOX_CONFIRM)
        rc = hdr_write_raw(out, "Auto-Submitted", "auto-generated");
    if (!rc)
        rc = buf_puts(out, "MIME-Version: 1.0\r\n");
    buf_free(&v);
    return rc;
}

static enum merr write_text_part(struct buf *out, const char *boundary, const char *type,
                                 const struct buf *body, const struct compose_qp_memo *memo)
{
    enum merr rc = buf_printf(out,
                              "--%s\r\nContent-Type: %s; charset=UTF-8\r\n"
                              "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                              boundary, type);
    if (!rc)
        rc = compose_qp_with(out, body->data ? body->data : "", body->len, memo);
    return rc;
}

enum merr compose_render(const struct compose_plan *plan, const struct compose_recipient *r,
                         struct buf *out)
{
    size_t mark = out->len, nparts = 0, reserve = 0;
    char rel[COMPOSE_BOUNDARY_LEN], alt[COMPOSE_BOUNDARY_LEN];
    json_t *personal = NULL;
    json_t *ctx[3];
    size_t nctx = 0;
    enum merr rc;

    struct {
        struct buf subject, text, html;
    } w;

    buf_init(&w.subject, plan->max_bytes);
    buf_init(&w.text, plan->max_bytes);
    buf_init(&w.html, plan->max_bytes);
    /* Sized from the plan's trial render: no regrowth for the usual recipient. */
    if (buf_reserve(&w.text, plan->text_hint) || buf_reserve(&w.html, plan->html_hint))
        rc = merr_set(MERR_NOMEM, "out of memory");
    else
        rc = MERR_OK;
    if (rc)
        goto out;
    if (!rc)
        rc = hdr_check("To", r->email);
    if (!rc)
        rc = hdr_check("name", r->name);
    if (!rc)
        rc = personal_json(r, &personal);
    if (rc)
        goto out;
    ctx[nctx++] = plan->shared;
    ctx[nctx++] = personal;
    if (r->vars)
        ctx[nctx++] = r->vars;

    rc = render(plan, plan->subject ? plan->subject : plan->subject_file, ctx, nctx, &w.subject);
    if (rc)
        goto out;
    chomp(&w.subject);
    rc = render(plan, plan->txt, ctx, nctx, &w.text);
    if (!rc)
        rc = render(plan, plan->html, ctx, nctx, &w.html);
    if (rc)
        goto out;

    for (size_t i = 0; i < plan->nimages; i++)
        if (plan->images[i].embedded) {
            nparts++;
            reserve += plan->images[i].part.len + COMPOSE_BOUNDARY_LEN + 8;
        }
    rc = buf_reserve(out, reserve + 2048 + w.text.len * 3 + w.html.len * 3);
    if (!rc)
        rc = write_headers(plan, r, w.subject.data ? w.subject.data : "", out);
    if (rc)
        goto out;
    compose_boundary(alt, r->message_id, "alternative");
    if (nparts) {
        compose_boundary(rel, r->message_id, "related");
        rc = buf_printf(out,
                        "Content-Type: multipart/related; type=\"multipart/alternative\";\r\n"
                        " boundary=\"%s\"\r\n\r\n"
                        "--%s\r\n",
                        rel, rel);
    }
    if (!rc)
        rc = buf_printf(out, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n",
                        alt);
    if (!rc)
        rc = write_text_part(out, alt, "text/plain", &w.text, plan->text_memo);
    if (!rc)
        rc = write_text_part(out, alt, "text/html", &w.html, plan->html_memo);
    if (!rc)
        rc = buf_printf(out, "--%s--\r\n", alt);
    for (size_t i = 0; !rc && i < plan->nimages; i++) {
        const struct compose_image *im = &plan->images[i];
        if (!im->embedded)
            continue;
        rc = buf_printf(out, "--%s\r\n", rel);
        if (!rc)
            rc = buf_append(out, im->part.data, im->part.len);
    }
    if (!rc && nparts)
        rc = buf_printf(out, "--%s--\r\n", rel);
    /* the signature over exactly these bytes, fields inserted on top */
    if (!rc && plan->signer)
        rc = dkimsig_sign(plan->signer, out, mark, date_now());
out:
    json_decref(personal);
    buf_free(&w.subject);
    buf_free(&w.text);
    buf_free(&w.html);
    if (rc) {
        buf_truncate(out, mark);
        if (rc == MERR_LIMIT)
            merr_set(rc, "message is larger than [limits] message_max_bytes");
    }
    return rc;
}
