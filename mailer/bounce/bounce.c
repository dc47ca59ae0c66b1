/*
 * bounce.c: one message in, one report out (bounce.h).
 *
 * The raw bytes are screened (bounce_mime_screen), then parsed by
 * libetpan's mailmime_parse, whose tree is walked once to sort the parts:
 * message/delivery-status (RFC 3464; message/global-delivery-status, RFC
 * 6533), message/feedback-report (RFC 5965), the returned message
 * (message/rfc822, text/rfc822-headers, message/global-headers) and the
 * human-readable text (text/plain, else text/html made text). Header
 * fields, of the message and of the returned copy, are read from the raw
 * header bytes with bounce_fields_read, so that what we compare (a
 * Message-ID, a List-Id, an address) is exactly what was written.
 *
 * What the delivery-status and feedback-report parts say is read in
 * bounce_report.c, prose bounces in bounce_text.c, the classes in
 * bounce_class.c.
 *
 * The kind is decided in this order, because each later test would also
 * match the earlier kinds: a feedback report is ARF; a delivery-status part
 * with recipients is a DSN; a message that looks like a bounce (a daemon's
 * From, a bounce Subject, X-Failed-Recipients) is read as prose ("report");
 * an RFC 3834 automatic reply (Auto-Submitted and its older cousins, an
 * out-of-office Subject, a challenge-response system's headers) is an
 * auto-reply; anything else is not a bounce. An Amazon SES notification
 * (JSON in the text, sent by Amazon SNS) is read before the prose, as a
 * DSN (Bounce, Delivery) or ARF (Complaint). Exim marks its bounces
 * Auto-Submitted: auto-replied, hence bounces before auto-replies.
 */
#include "bounce.h"

#include <ctype.h>
#include <libetpan/libetpan.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounce_int.h"
#include "html.h"
#include "outbox.h"
#include "subs.h"

const char *bounce_kind_name(enum bounce_kind k)
{
    switch (k) {
    case BOUNCE_KIND_NOT_BOUNCE:
        return "not-bounce";
    case BOUNCE_KIND_DSN:
        return "dsn";
    case BOUNCE_KIND_ARF:
        return "arf";
    case BOUNCE_KIND_AUTO_REPLY:
        return "auto-reply";
    case BOUNCE_KIND_REPORT:
        return "report";
    }
    return "not-bounce";
}

void bounce_addr_copy(char dst[BOUNCE_ADDR_MAX], const char *src)
{
    const char *p = src, *lt, *gt;
    size_t k = 0;
    /* "rfc822; a@b", "<a@b>", "Name <a@b>" */
    const char *semi = strchr(p, ';');
    if (semi && !memchr(p, '@', (size_t)(semi - p)))
        p = semi + 1;
    lt = strchr(p, '<');
    gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt) {
        for (const char *q = lt + 1; q < gt && k + 1 < BOUNCE_ADDR_MAX; q++)
            if (!isspace((unsigned char)*q))
                dst[k++] = *q;
    } else {
        for (; *p && k + 1 < BOUNCE_ADDR_MAX; p++)
            if (!isspace((unsigned char)*p) && *p != '<' && *p != '>' && *p != '"')
                dst[k++] = *p;
    }
    dst[k] = '\0';
    while (k && (dst[k - 1] == '.' || dst[k - 1] == ',' || dst[k - 1] == ';'))
        dst[--k] = '\0';
}

/* ---- walking the tree ------------------------------------------------------ */

struct walk {
    struct buf text;     /* text/plain parts of the bounce itself */
    struct buf html;     /* text/html parts, as text, if no text/plain */
    struct buf dsn;      /* delivery-status bodies */
    struct buf arf;      /* feedback-report body */
    struct buf returned; /* header section of the returned or reported message */
    int has_dsn, has_arf, has_returned;
    enum merr rc;
};

static void keep_returned(struct walk *w, const char *p, size_t n)
{
    /* the header section: up to the first empty line */
    size_t i = 0;
    if (w->has_returned)
        return;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t ll = nl ? (size_t)(nl - p - i) : n - i;
        if (ll == 0 || (ll == 1 && p[i] == '\r'))
            break;
        i += ll + (nl ? 1 : 0);
    }
    if (!w->rc)
        w->rc = bounce_mime_clean(p, i, 64 * 1024, &w->returned);
    w->has_returned = 1;
}

static void walk_part(struct walk *w, const struct mailmime *m, int depth)
{
    char type[96];

    if (!m || w->rc)
        return;
    if (m->mm_type == MAILMIME_MULTIPLE) {
        for (clistiter *it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it;
             it = clist_next(it))
            walk_part(w, clist_content(it), depth + 1);
        return;
    }
    if (m->mm_type == MAILMIME_MESSAGE) {
        if (depth == 0) { /* the message itself */
            walk_part(w, m->mm_data.mm_message.mm_msg_mime, depth + 1);
        } else if (m->mm_body) { /* a returned or reported message: its headers only */
            keep_returned(w, m->mm_body->dt_data.dt_text.dt_data,
                          m->mm_body->dt_data.dt_text.dt_length);
        }
        return;
    }
    bounce_mime_type(m, type, sizeof type);
    if (!strcmp(type, "message/delivery-status") ||
        !strcmp(type, "message/global-delivery-status")) {
        w->has_dsn = 1;
        if (w->dsn.len)
            w->rc = buf_puts(&w->dsn, "\n\n");
        if (!w->rc)
            w->rc = bounce_mime_text(m, PART_TEXT_MAX, &w->dsn);
    } else if (!strcmp(type, "message/feedback-report")) {
        w->has_arf = 1;
        if (!w->arf.len)
            w->rc = bounce_mime_text(m, PART_TEXT_MAX, &w->arf);
    } else if (!strcmp(type, "text/rfc822-headers") || !strcmp(type, "message/global-headers") ||
               !strcmp(type, "message/rfc822") || !strcmp(type, "message/global")) {
        /* message/rfc822 in base64 or QP arrives here as a single part */
        struct buf b;
        buf_init(&b, PART_TEXT_MAX);
        w->rc = bounce_mime_text(m, PART_TEXT_MAX, &b);
        if (!w->rc && b.len)
            keep_returned(w, b.data, b.len);
        buf_free(&b);
    } else if (!strcmp(type, "text/plain") || !type[0] || !strncmp(type, "multipart/", 10)) {
        /* a multipart without a usable boundary is a single part: read it as text */
        if (w->text.len)
            w->rc = buf_putc(&w->text, '\n');
        if (!w->rc)
            w->rc = bounce_mime_text(m, PART_TEXT_MAX, &w->text);
    } else if (!strcmp(type, "text/html")) {
        struct buf h, clean;
        buf_init(&h, PART_TEXT_MAX);
        buf_init(&clean, 4 * PART_TEXT_MAX);
        w->rc = bounce_mime_text(m, PART_TEXT_MAX, &h);
        /* the bounce's own HTML, made text through the article sanitizer */
        if (!w->rc && h.len && html_sanitize(h.data, h.len, NULL, NULL, NULL, &clean) == MERR_OK &&
            clean.len)
            html_to_text(clean.data, clean.len, 1000, &w->html);
        buf_free(&h);
        buf_free(&clean);
    }
}

/*
 * 1 if the message is a multipart whose declared boundary never starts a
 * line of its body (body[0..n), the bytes after the header): libetpan then
 * finds none of its parts (one part holding a scrap of the body). RFC 2046
 * §5.1.1 leaves such a body undefined; the MTAs that write one (a Sendmail
 * notice whose delimiters carry another queue id than its header, a relay
 * that rewrote the header's boundary) still write their report in it as
 * text.
 */
static int boundary_missing(const struct mailmime *root, const char *body, size_t n)
{
    const struct mailmime *m;
    const char *b = NULL;
    size_t bl;

    if (!root || root->mm_type != MAILMIME_MESSAGE)
        return 0;
    m = root->mm_data.mm_message.mm_msg_mime;
    if (!m || m->mm_type != MAILMIME_MULTIPLE || !m->mm_content_type ||
        !m->mm_content_type->ct_parameters)
        return 0;
    for (clistiter *it = clist_begin(m->mm_content_type->ct_parameters); it; it = clist_next(it)) {
        const struct mailmime_parameter *pa = clist_content(it);
        if (pa && pa->pa_name && pa->pa_value && !strcasecmp(pa->pa_name, "boundary"))
            b = pa->pa_value;
    }
    if (!b || !*b)
        return 0;
    bl = strlen(b);
    for (size_t i = 0; i + 2 + bl <= n;) {
        const char *nl;
        if (body[i] == '-' && body[i + 1] == '-' && !memcmp(body + i + 2, b, bl))
            return 0;
        nl = memchr(body + i, '\n', n - i);
        if (!nl)
            break;
        i = (size_t)(nl - body) + 1;
    }
    return 1;
}

/*
 * Such a body read as text ends where, after the report has named an
 * address, a line opens another part: "--" then a field of the part's
 * header ("Content-Type: message/delivery-status" and the returned
 * message follow), whatever boundary it carries.
 */
static void text_to_next_part(struct buf *t)
{
    int seen_at = 0;
    for (size_t i = 0; i < t->len;) {
        const char *line = t->data + i, *nl = memchr(line, '\n', t->len - i);
        size_t ll = nl ? (size_t)(nl - line) : t->len - i;
        if (seen_at && ll > 2 && line[0] == '-' && line[1] == '-' && nl &&
            !strncasecmp(nl + 1, "content-", 8)) {
            buf_truncate(t, i);
            return;
        }
        if (memchr(line, '@', ll))
            seen_at = 1;
        i += ll + (nl ? 1 : 0);
    }
}

/* ---- header values --------------------------------------------------------- */

/* Finds in a list of addresses the first whose local part starts with `prefix`. */
static int value_prefixed(const char *v, const char *prefix, char out[BOUNCE_ADDR_MAX])
{
    size_t pl = strlen(prefix);
    for (const char *p = v; (p = strcasestr(p, prefix)) != NULL; p += pl) {
        if (p > v && !strchr(" \t<,:;\"", p[-1]))
            continue;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e) && !strchr(">,;\"", *e))
            e++;
        if (!memchr(p, '@', (size_t)(e - p)) || e - p >= BOUNCE_ADDR_MAX)
            continue;
        snprintf(out, BOUNCE_ADDR_MAX, "%.*s", (int)(e - p), p);
        return 1;
    }
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* "<id@host>" -> "id@host" */
static char *msgid_of(const char *v)
{
    const char *lt, *gt;
    if (!v)
        return NULL;
    lt = strchr(v, '<');
    gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt && gt > lt + 1)
        return strndup(lt + 1, (size_t)(gt - lt - 1));
    while (isspace((unsigned char)*v))
        v++;
    return *v ? strndup(v, strcspn(v, " \t")) : NULL;
}

/* RFC 2047 words decoded to UTF-8 (libetpan), cleaned; a copy of v if that fails. */
static char *decode_words(const char *v)
{
    char *dec = NULL;
    size_t idx = 0;
    struct buf b;
    if (!v)
        return NULL;
    buf_init(&b, 2048);
    if (mailmime_encoded_phrase_parse("utf-8", v, strlen(v), &idx, "utf-8", &dec) ==
            MAILIMF_NO_ERROR &&
        dec) {
        bounce_mime_clean(dec, strlen(dec), 998, &b);
        free(dec);
    } else {
        bounce_mime_clean(v, strlen(v), 998, &b);
    }
    char *s = buf_detach(&b, NULL);
    buf_free(&b);
    return s;
}

static int contains_ci(const char *hay, const char *const *needles)
{
    for (; hay && *needles; needles++)
        if (strcasestr(hay, *needles))
            return 1;
    return 0;
}

static const char *const BOUNCE_SUBJECTS[] = {"undeliver",
                                              "undelivered",
                                              "delivery status notification",
                                              "delivery failure",
                                              "delivery failed",
                                              "failure notice",
                                              "returned mail",
                                              "mail delivery failed",
                                              "nondeliverable",
                                              "non-deliverable",
                                              "non delivery",
                                              "non-delivery",
                                              "delivery problem",
                                              "could not be delivered",
                                              "mail system error",
                                              "delivery notification: delivery has failed",
                                              "rejected:",
                                              "unzustellbar",
                                              "nicht zustellbar",
                                              "non remis",
                                              "non distribuable",
                                              "no se puede entregar",
                                              "no entregado",
                                              "non recapitabile",
                                              "mancata consegna",
                                              "não entregue",
                                              "nao entregue",
                                              "onbestelbaar",
                                              "недоставлен",
                                              "не доставлено",
                                              "配信エラー",
                                              "配送エラー",
                                              "未送达",
                                              "退信",
                                              "không gửi được",
                                              NULL};

static const char *const DAEMONS[] = {
    "mailer-daemon", "postmaster",    "post_master", "mail-daemon",
    "mailerdaemon",  "mail delivery", "mdaemon",     NULL};

static const char *const VACATION_WORDS[] = {"out of office",
                                             "out of the office",
                                             "vacation",
                                             "holiday",
                                             "away from",
                                             "absence",
                                             "abwesenheit",
                                             "urlaub",
                                             "absent",
                                             "congé",
                                             "ausente",
                                             "vacaciones",
                                             "fuori ufficio",
                                             "ferie",
                                             "férias",
                                             "afwezig",
                                             "отпуск",
                                             "不在",
                                             "nghỉ phép",
                                             "vắng mặt",
                                             NULL};

static const char *const AUTO_SUBJECTS[] = {"auto:",
                                            "automatic reply",
                                            "autoreply",
                                            "auto-reply",
                                            "auto reply",
                                            "auto response",
                                            "auto-response",
                                            "autoresponse",
                                            "automatische antwort",
                                            "réponse automatique",
                                            "respuesta automática",
                                            "risposta automatica",
                                            "resposta automática",
                                            "automatisch antwoord",
                                            "автоответ",
                                            "自動応答",
                                            "自动回复",
                                            "trả lời tự động",
                                            NULL};

static const char *const CHALLENGE_WORDS[] = {"please confirm your message",
                                              "verify your email",
                                              "confirm your email",
                                              "awaiting your confirmation",
                                              "confirmation required",
                                              "challenge",
                                              "spam protection",
                                              "is protected by",
                                              "please verify",
                                              "verification required",
                                              NULL};

/* RFC 3834 §5 and the older habits it lists: 1 if the message is an automatic reply. */
static int auto_reply(const struct bounce_fields *top, const char *subject)
{
    const char *as = bounce_fields_get(top, "Auto-Submitted", 0);
    const char *prec = bounce_fields_get(top, "Precedence", 0);
    if (as && strncasecmp(as, "no", 2) != 0)
        return 1;
    if (bounce_fields_get(top, "X-Autoreply", 0) || bounce_fields_get(top, "X-Autorespond", 0) ||
        bounce_fields_get(top, "X-Autogenerated", 0) ||
        bounce_fields_get(top, "X-AutoReply-From", 0))
        return 1;
    if (prec && strcasestr(prec, "auto_reply"))
        return 1;
    if (bounce_fields_get(top, "X-Boxbe-Sender", 0) ||
        bounce_fields_get(top, "X-SpamArrest-Challenge", 0) ||
        bounce_fields_get(top, "X-TMDA-Confirm-Done", 0) ||
        bounce_fields_get(top, "X-Challenge", 0))
        return 1;
    return contains_ci(subject, AUTO_SUBJECTS) || contains_ci(subject, VACATION_WORDS);
}

static int looks_like_bounce(const struct bounce_fields *top, const char *from, const char *subject)
{
    if (bounce_fields_get(top, "X-Failed-Recipients", 0))
        return 1;
    if (from && contains_ci(from, DAEMONS))
        return 1;
    return contains_ci(subject, BOUNCE_SUBJECTS);
}

static enum merr set_unparsed(struct bounce_report *r, const char *why)
{
    free(r->unparsed);
    r->unparsed = strdup(why);
    r->kind = BOUNCE_KIND_NOT_BOUNCE;
    return r->unparsed ? MERR_OK : MERR_NOMEM;
}

/* Attribution material from the header fields (bounce.h). */
static enum merr take_attribution(struct bounce_report *r, const struct bounce_fields *top,
                                  const struct bounce_fields *ret)
{
    static const char *const rcpt_fields[] = {"Delivered-To",
                                              "X-Original-To",
                                              "Envelope-To",
                                              "X-Envelope-To",
                                              "X-Rcpt-To",
                                              "X-Original-Recipient",
                                              "To",
                                              "Cc",
                                              NULL};
    char a[BOUNCE_ADDR_MAX];

    for (const char *const *f = rcpt_fields; *f; f++)
        for (size_t i = 0; i < top->n; i++) {
            if (!bounce_fields_is(top, i, *f))
                continue;
            if (!r->verp && value_prefixed(top->f[i].value, OUTBOX_VERP_PREFIX, a) &&
                !(r->verp = strdup(a)))
                return MERR_NOMEM;
            if (!r->unsubscribe && value_prefixed(top->f[i].value, SUBS_UNSUBSCRIBE_PREFIX, a) &&
                !(r->unsubscribe = strdup(a)))
                return MERR_NOMEM;
        }
    if (ret && ret->n) {
        const char *rp = bounce_fields_get(ret, "Return-Path", 0);
        r->returned_msgid = msgid_of(bounce_fields_get(ret, "Message-ID", 0));
        r->returned_list_id = msgid_of(bounce_fields_get(ret, "List-Id", 0));
        if (rp && value_prefixed(rp, OUTBOX_VERP_PREFIX, a))
            r->returned_verp = strdup(a);
    }
    r->message_id = msgid_of(bounce_fields_get(top, "Message-ID", 0));
    if (bounce_fields_get(top, "From", 0) &&
        bounce_fields_addr(bounce_fields_get(top, "From", 0), a))
        r->from = strdup(a);
    r->subject = decode_words(bounce_fields_get(top, "Subject", 0));
    return MERR_OK;
}

/*
 * RFC 3464 §2.1 wants at least one group of per-recipient fields in a
 * delivery-status report; Postfix's bounce(8) sends one without any when it
 * lost the recipient's delivery log ("--- Delivery report unavailable ---"),
 * and its prose then names no one either. The returned message's To: says
 * whom it was for when it names one address that is not the bounce's own:
 * that recipient, with nothing to say why (never hard: no code, no words).
 */
static enum merr returned_addressee(struct bounce_report *r, const struct bounce_fields *ret,
                                    const char *const *own)
{
    const char *tov = ret ? bounce_fields_get(ret, "To", 0) : NULL;
    char a[BOUNCE_ADDR_MAX];
    struct bounce_rcpt *x;

    if (!tov || strchr(tov, ',') || !strchr(tov, '@') || strchr(tov, '@') != strrchr(tov, '@') ||
        !bounce_fields_addr(tov, a))
        return MERR_OK;
    for (const char *const *o = own; *o; o++)
        if (!strcasecmp(*o, a))
            return MERR_OK;
    if (!strncasecmp(a, OUTBOX_VERP_PREFIX, sizeof OUTBOX_VERP_PREFIX - 1))
        return MERR_OK;
    if (!(x = bounce_report_add(r)))
        return MERR_NOMEM;
    snprintf(x->address, sizeof x->address, "%s", a);
    bounce_class_decide(x, NULL, 1);
    return MERR_OK;
}

/*
 * RFC 3464's per-recipient fields written into the prose: a report whose
 * MIME headers were lost on the way (no Content-Type, so the
 * delivery-status part is only text; Sendmail's, as some relays and list
 * archives pass it on). The block starts at the paragraph that holds the
 * first "Final-Recipient:" line and ends at the next MIME boundary or part
 * header, or where the returned copy starts. NULL when the text has none.
 */
static const char *prose_dsn_fields(const char *human, size_t *n)
{
    size_t hl = strlen(human), cut = bounce_text_cut(human, hl);
    const char *p = human, *start, *end;

    for (;;) {
        p = strcasestr(p, "final-recipient:");
        if (!p || (size_t)(p - human) >= cut)
            return NULL;
        if (p == human || p[-1] == '\n')
            break;
        p++;
    }
    start = p;
    while (start > human && !(start[-1] == '\n' && start - 1 > human && start[-2] == '\n'))
        start--;
    for (end = p; (size_t)(end - human) < cut;) {
        const char *nl;
        if (!strncmp(end, "--", 2) || !strncasecmp(end, "content-type:", 13))
            break;
        nl = strchr(end, '\n');
        end = nl ? nl + 1 : human + hl;
    }
    if ((size_t)(end - human) > cut)
        end = human + cut;
    *n = (size_t)(end - start);
    return start;
}

static const char *top_header_end(const char *data, size_t len, size_t *n)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - data - i) : len - i;
        if (ll == 0 || (ll == 1 && data[i] == '\r'))
            break;
        i += ll + (nl ? 1 : 0);
    }
    *n = i;
    return data;
}

/* An mbox separator ("From sender date", as procmail, Postfix's pipe with
 * the F flag and mbox exports put before a message) is not a header line;
 * "From :" (obsolete syntax: space before the colon) is. */
static void skip_from_line(const char **data, size_t *len)
{
    const char *p = *data, *nl;
    size_t i = 5;

    if (*len < 5 || memcmp(p, "From ", 5))
        return;
    while (i < *len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i >= *len || p[i] == ':')
        return;
    nl = memchr(p, '\n', *len);
    if (!nl)
        return;
    *len -= (size_t)(nl + 1 - p);
    *data = nl + 1;
}

enum merr bounce_parse(const char *data, size_t len, const struct bounce_limits *limits,
                       struct bounce_report **out)
{
    struct bounce_limits def;
    struct bounce_report *r = calloc(1, sizeof *r);
    struct bounce_fields top, ret;
    struct mailmime *root = NULL;
    struct walk w;
    char why[256];
    size_t hn;
    const char *human;
    enum merr rc = MERR_OK;

    *out = NULL;
    if (!r)
        return MERR_NOMEM;
    memset(&top, 0, sizeof top);
    memset(&ret, 0, sizeof ret);
    memset(&w, 0, sizeof w);
    buf_init(&w.text, 2 * PART_TEXT_MAX);
    buf_init(&w.html, 8 * PART_TEXT_MAX);
    buf_init(&w.dsn, 2 * PART_TEXT_MAX);
    buf_init(&w.arf, PART_TEXT_MAX);
    buf_init(&w.returned, 128 * 1024);
    if (!limits) {
        bounce_limits_default(&def);
        limits = &def;
    }
    r->kind = BOUNCE_KIND_NOT_BOUNCE;
    skip_from_line(&data, &len);
    if (bounce_mime_screen(data, len, limits, why, sizeof why) ||
        bounce_mime_parse(data, len, limits, &root, why, sizeof why)) {
        rc = set_unparsed(r, why);
        goto out;
    }
    top_header_end(data, len, &hn);
    rc = bounce_fields_read(data, hn, &top);
    if (rc)
        goto out;
    walk_part(&w, root, 0);
    rc = w.rc;
    if (rc)
        goto out;
    /*
     * A multipart whose boundary never occurs: libetpan's one part is a
     * scrap of it; the body, screened like the rest, is read as text.
     */
    if (!w.has_dsn && !w.has_arf && boundary_missing(root, data + hn, len - hn)) {
        buf_reset(&w.text);
        buf_reset(&w.html);
        rc = bounce_mime_clean(data + hn, len - hn, PART_TEXT_MAX, &w.text);
        if (rc)
            goto out;
        text_to_next_part(&w.text);
    }
    human = w.text.len ? w.text.data : (w.html.len ? w.html.data : "");
    /* a prose bounce carries its returned copy inside the text */
    if (!w.has_returned && *human) {
        size_t hl = strlen(human), cut = bounce_text_cut(human, hl);
        if (cut < hl) {
            const char *p = human + cut;
            const char *nl = strchr(p, '\n');
            /* skip the separator line itself */
            if (nl && !strchr(p, ':'))
                p = nl + 1;
            else if (nl && strchr(p, ':') > nl)
                p = nl + 1;
            while (*p == '\n')
                p++;
            keep_returned(&w, p, strlen(p));
        }
    }
    if (w.returned.len) {
        rc = bounce_fields_read(w.returned.data, w.returned.len, &ret);
        if (rc)
            goto out;
    }
    rc = take_attribution(r, &top, &ret);
    if (rc)
        goto out;

    if (w.has_arf) {
        r->kind = BOUNCE_KIND_ARF;
        rc = bounce_report_arf(r, w.arf.data ? w.arf.data : "", w.arf.len, &ret);
        goto out;
    }
    if (w.has_dsn) {
        rc = bounce_report_dsn(r, w.dsn.data ? w.dsn.data : "", w.dsn.len, human);
        if (rc)
            goto out;
        if (r->n_rcpts) {
            r->kind = BOUNCE_KIND_DSN;
            goto out;
        }
    }
    if (!w.has_dsn && *human) {
        int ses = 0;
        rc = bounce_report_ses(r, human, strlen(human), &ses);
        if (rc)
            goto out;
        if (ses) {
            if (!r->n_rcpts)
                rc = set_unparsed(r, "an Amazon SES notification that names no recipient");
            goto out;
        }
    }
    if (w.has_dsn || looks_like_bounce(&top, r->from, r->subject)) {
        const char *own[4] = {NULL, NULL, NULL, NULL};
        char to[BOUNCE_ADDR_MAX];
        const char *tov = bounce_fields_get(&top, "To", 0);
        int no = 0;
        if (r->from)
            own[no++] = r->from;
        if (tov && bounce_fields_addr(tov, to))
            own[no++] = to;
        struct bounce_text_in in = {human, strlen(human),
                                    bounce_fields_get(&top, "X-Failed-Recipients", 0), own};
        rc = bounce_text_scan(&in, r);
        if (rc)
            goto out;
        r->kind = BOUNCE_KIND_REPORT;
        if (!r->n_rcpts && !w.has_dsn) {
            size_t fl = 0;
            const char *fields = prose_dsn_fields(human, &fl);
            if (fields && (rc = bounce_report_dsn(r, fields, fl, human)) != MERR_OK)
                goto out;
        }
        /*
         * A report that names no recipient our way (a DSN without
         * per-recipient fields, a prose notice that says only "Deferred:
         * Connection timed out" above the unsent message): its returned
         * copy's single To:.
         */
        if (!r->n_rcpts) {
            rc = returned_addressee(r, &ret, own);
            if (rc)
                goto out;
        }
        if (!r->n_rcpts)
            rc = set_unparsed(r, "a bounce that names no recipient");
        else if (w.has_dsn)
            r->kind = BOUNCE_KIND_DSN;
        goto out;
    }
    if (auto_reply(&top, r->subject)) {
        struct bounce_rcpt *x = bounce_report_add(r);
        const char *reason = "auto_reply";
        if (!x) {
            rc = MERR_NOMEM;
            goto out;
        }
        r->kind = BOUNCE_KIND_AUTO_REPLY;
        snprintf(x->address, sizeof x->address, "%s", r->from ? r->from : "");
        if (contains_ci(r->subject, CHALLENGE_WORDS) ||
            bounce_fields_get(&top, "X-Boxbe-Sender", 0) ||
            bounce_fields_get(&top, "X-SpamArrest-Challenge", 0) ||
            bounce_fields_get(&top, "X-TMDA-Confirm-Done", 0) ||
            bounce_fields_get(&top, "X-Challenge", 0))
            reason = "challenge";
        else if (contains_ci(r->subject, VACATION_WORDS) || contains_ci(human, VACATION_WORDS))
            reason = "vacation";
        for (const char *const *p = bounce_reasons; *p; p++)
            if (!strcmp(*p, reason))
                x->reason = *p;
        x->cls = BOUNCE_AUTO_REPLY;
        x->diagnostic = dup_or_null(r->subject);
        goto out;
    }
out:
    if (root)
        mailmime_free(root);
    bounce_fields_clear(&top);
    bounce_fields_clear(&ret);
    buf_free(&w.text);
    buf_free(&w.html);
    buf_free(&w.dsn);
    buf_free(&w.arf);
    buf_free(&w.returned);
    if (rc) {
        bounce_report_free(r);
        return rc;
    }
    *out = r;
    return MERR_OK;
}
