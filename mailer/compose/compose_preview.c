/*
 * compose_preview.c: a message we composed, taken apart again for a person
 * to look at (the admin's digest and breaking-news previews).
 *
 * The preview must show exactly what is delivered, so it starts from the
 * delivered bytes (digest_preview renders them through the same plan and
 * personal parts as delivery) and only decodes them: libetpan parses the
 * MIME tree (RFC 2045/2046), the text/plain and text/html parts are decoded
 * from quoted-printable, the photos' base64 is kept, and each `cid:` URL in
 * the HTML (RFC 2392) is replaced by a `data:` URL of its part, so a browser
 * shows the photos without any other request. Subject, From and To are
 * decoded from RFC 2047.
 *
 * Only our own composition comes here (never mail from outside: LIBNOTES'
 * boundary overflow in mailmime_parse needs a hostile boundary, and ours
 * come from the CSPRNG), and the input is capped by [limits]
 * message_max_bytes where it was rendered.
 */
#include <libetpan/libetpan.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compose.h"
#include "hdr.h"

struct image {
    char *cid;
    char *type;
    const char *b64; /* into the message: the part's encoded body */
    size_t b64len;
};

struct walk {
    struct buf text;
    struct buf html;
    struct image img[64];
    size_t nimg;
    enum merr rc;
};

/* The decoded body of a single part into `out` (libetpan decodes QP and base64). */
static enum merr part_body(struct mailmime *m, struct buf *out)
{
    struct mailmime_data *d = m->mm_data.mm_single;
    int enc = MAILMIME_MECHANISM_8BIT;
    char *res = NULL;
    size_t idx = 0, rlen = 0;
    enum merr rc;

    if (!d || d->dt_type != MAILMIME_DATA_TEXT)
        return MERR_OK;
    if (m->mm_mime_fields) {
        clistiter *it;
        for (it = clist_begin(m->mm_mime_fields->fld_list); it; it = clist_next(it)) {
            struct mailmime_field *f = clist_content(it);
            if (f->fld_type == MAILMIME_FIELD_TRANSFER_ENCODING)
                enc = f->fld_data.fld_encoding->enc_type;
        }
    }
    if (mailmime_part_parse(d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length, &idx, enc,
                            &res, &rlen) != MAILIMF_NO_ERROR)
        return merr_set(MERR_INVAL, "preview: a part does not decode");
    rc = buf_append(out, res, rlen);
    mailmime_decoded_part_free(res);
    return rc;
}

static char *content_id(struct mailmime *m)
{
    clistiter *it;
    if (!m->mm_mime_fields)
        return NULL;
    for (it = clist_begin(m->mm_mime_fields->fld_list); it; it = clist_next(it)) {
        struct mailmime_field *f = clist_content(it);
        if (f->fld_type == MAILMIME_FIELD_ID && f->fld_data.fld_id)
            return f->fld_data.fld_id;
    }
    return NULL;
}

static void walk(struct mailmime *m, struct walk *w, int depth)
{
    struct mailmime_content *ct = m->mm_content_type;
    if (w->rc || depth > 8)
        return;
    if (m->mm_type == MAILMIME_MESSAGE) {
        if (m->mm_data.mm_message.mm_msg_mime)
            walk(m->mm_data.mm_message.mm_msg_mime, w, depth + 1);
        return;
    }
    if (m->mm_type == MAILMIME_MULTIPLE) {
        clistiter *it;
        for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it))
            walk(clist_content(it), w, depth + 1);
        return;
    }
    if (!ct || !ct->ct_type)
        return;
    if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
        ct->ct_type->tp_data.tp_discrete_type->dt_type == MAILMIME_DISCRETE_TYPE_TEXT) {
        if (!strcasecmp(ct->ct_subtype, "plain") && !w->text.len)
            w->rc = part_body(m, &w->text);
        else if (!strcasecmp(ct->ct_subtype, "html") && !w->html.len)
            w->rc = part_body(m, &w->html);
        return;
    }
    if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
        ct->ct_type->tp_data.tp_discrete_type->dt_type == MAILMIME_DISCRETE_TYPE_IMAGE &&
        w->nimg < sizeof w->img / sizeof w->img[0] && m->mm_data.mm_single &&
        m->mm_data.mm_single->dt_type == MAILMIME_DATA_TEXT) {
        struct image *im = &w->img[w->nimg];
        char *cid = content_id(m);
        if (!cid)
            return;
        im->cid = cid;
        im->type = ct->ct_subtype;
        im->b64 = m->mm_data.mm_single->dt_data.dt_text.dt_data;
        im->b64len = m->mm_data.mm_single->dt_data.dt_text.dt_length;
        w->nimg++;
    }
}

/* Appends `s` with every "cid:ID" of a known image replaced by its data: URL. */
static enum merr inline_images(struct buf *out, const struct buf *html, const struct walk *w)
{
    const char *p = html->data ? html->data : "", *end = p + html->len;
    enum merr rc = MERR_OK;
    while (!rc && p < end) {
        const char *c = memmem(p, (size_t)(end - p), "cid:", 4);
        size_t k = 0;
        const struct image *im = NULL;
        if (!c)
            return buf_append(out, p, (size_t)(end - p));
        rc = buf_append(out, p, (size_t)(c - p));
        c += 4;
        while (c + k < end && c[k] != '"' && c[k] != '\'' && c[k] != ')' && c[k] != ' ' &&
               c[k] != '>')
            k++;
        for (size_t i = 0; i < w->nimg && !im; i++)
            if (strlen(w->img[i].cid) == k && !memcmp(w->img[i].cid, c, k))
                im = &w->img[i];
        if (!rc && im) {
            rc = buf_printf(out, "data:image/%s;base64,", im->type);
            for (size_t i = 0; !rc && i < im->b64len; i++)
                if (im->b64[i] != '\r' && im->b64[i] != '\n')
                    rc = buf_putc(out, im->b64[i]);
        } else if (!rc) {
            rc = buf_puts(out, "cid:");
            if (!rc)
                rc = buf_append(out, c, k);
        }
        p = c + k;
    }
    return rc;
}

/* Decodes the first header `name` of the top-level fields into *out. */
static enum merr header(struct mailimf_fields *f, const char *name, char **out)
{
    clistiter *it;
    struct buf b;
    enum merr rc = MERR_OK;
    *out = NULL;
    if (!f)
        return MERR_OK;
    for (it = clist_begin(f->fld_list); it; it = clist_next(it)) {
        struct mailimf_field *x = clist_content(it);
        const char *v = NULL;
        if (x->fld_type == MAILIMF_FIELD_OPTIONAL_FIELD &&
            !strcasecmp(x->fld_data.fld_optional_field->fld_name, name))
            v = x->fld_data.fld_optional_field->fld_value;
        if (!v)
            continue;
        buf_init(&b, 0);
        rc = hdr_decode(&b, v, strlen(v));
        if (!rc)
            *out = buf_detach(&b, NULL);
        buf_free(&b);
        break;
    }
    return rc;
}

enum merr compose_preview(const char *msg, size_t len, struct compose_preview *out)
{
    struct mailmime *mime = NULL;
    struct mailimf_fields *fields = NULL;
    struct walk w;
    struct buf html;
    size_t idx = 0;
    enum merr rc;

    memset(out, 0, sizeof *out);
    memset(&w, 0, sizeof w);
    buf_init(&w.text, 0);
    buf_init(&w.html, 0);
    buf_init(&html, 0);
    out->size = len;
    /* headers as unparsed fields, so each is decoded by our RFC 2047 decoder */
    if (mailimf_optional_fields_parse(msg, len, &idx, &fields) != MAILIMF_NO_ERROR)
        fields = NULL;
    idx = 0;
    if (mailmime_parse(msg, len, &idx, &mime) != MAILIMF_NO_ERROR) {
        rc = merr_set(MERR_INVAL, "preview: the message does not parse as MIME");
        goto out;
    }
    walk(mime, &w, 0);
    rc = w.rc;
    if (!rc)
        rc = inline_images(&html, &w.html, &w);
    if (!rc)
        rc = header(fields, "Subject", &out->subject);
    if (!rc)
        rc = header(fields, "From", &out->from);
    if (!rc)
        rc = header(fields, "To", &out->to);
    if (rc)
        goto out;
    out->text = buf_detach(&w.text, NULL);
    out->html = buf_detach(&html, NULL);
    if (!out->text)
        out->text = strdup("");
    if (!out->html)
        out->html = strdup("");
    if (!out->text || !out->html)
        rc = merr_set(MERR_NOMEM, "out of memory");
out:
    if (mime)
        mailmime_free(mime);
    if (fields)
        mailimf_fields_free(fields);
    buf_free(&w.text);
    buf_free(&w.html);
    buf_free(&html);
    if (rc)
        compose_preview_clear(out);
    return rc;
}

void compose_preview_clear(struct compose_preview *p)
{
    if (!p)
        return;
    free(p->subject);
    free(p->from);
    free(p->to);
    free(p->text);
    free(p->html);
    memset(p, 0, sizeof *p);
}
