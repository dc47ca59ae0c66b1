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
 * The kind is decided in this order, because each later test would also
 * match the earlier kinds: a feedback report is ARF; a delivery-status part
 * with recipients is a DSN; a message that looks like a bounce (a daemon's
 * From, a bounce Subject, X-Failed-Recipients) is read as prose ("report");
 * an RFC 3834 automatic reply (Auto-Submitted and its older cousins, an
 * out-of-office Subject, a challenge-response system's headers) is an
 * auto-reply; anything else is not a bounce. Exim marks its bounces
 * Auto-Submitted: auto-replied, hence bounces before auto-replies.
 */
#include "bounce.h"

#include <ctype.h>
#include <libetpan/libetpan.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_int.h"
#include "html.h"

#define PART_TEXT_MAX (256 * 1024) /* bytes of decoded text kept per part */

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

void bounce_report_free(struct bounce_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_rcpts; i++)
        free(r->rcpts[i].diagnostic);
    free(r->rcpts);
    free(r->unparsed);
    free(r->verp);
    free(r->unsubscribe);
    free(r->envid);
    free(r->returned_msgid);
    free(r->returned_list_id);
    free(r->returned_verp);
    free(r->feedback_type);
    free(r->message_id);
    free(r->from);
    free(r->subject);
    free(r);
}

struct bounce_rcpt *bounce_report_add(struct bounce_report *r)
{
    struct bounce_rcpt *v;
    if (r->n_rcpts >= BOUNCE_RCPT_MAX)
        return NULL;
    v = realloc(r->rcpts, (r->n_rcpts + 1) * sizeof *v);
    if (!v)
        return NULL;
    r->rcpts = v;
    memset(&v[r->n_rcpts], 0, sizeof *v);
    v[r->n_rcpts].cls = BOUNCE_UNKNOWN;
    v[r->n_rcpts].reason = "unknown";
    return &v[r->n_rcpts++];
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

/* ---- header values --------------------------------------------------------- */

/* The address of a header value ("Name <a@b>", "a@b (c)", "<a@b>"); 0 if none. */
static int value_addr(const char *v, char out[BOUNCE_ADDR_MAX])
{
    const char *lt = strchr(v, '<'), *at;
    out[0] = '\0';
    if (lt && strchr(lt, '>') && memchr(lt, '@', (size_t)(strchr(lt, '>') - lt))) {
        bounce_addr_copy(out, lt);
        return out[0] != '\0';
    }
    at = strchr(v, '@');
    if (!at)
        return 0;
    const char *s = at, *e = at;
    while (s > v && !isspace((unsigned char)s[-1]) && s[-1] != ',' && s[-1] != ':')
        s--;
    while (*e && !isspace((unsigned char)*e) && *e != ',' && *e != ';' && *e != '(')
        e++;
    char tmp[BOUNCE_ADDR_MAX];
    snprintf(tmp, sizeof tmp, "%.*s", (int)(e - s < BOUNCE_ADDR_MAX ? e - s : 0), s);
    bounce_addr_copy(out, tmp);
    return out[0] != '\0';
}

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

/* ---- the kinds ---------------------------------------------------------------- */

/* The Diagnostic-Code's text without its type ("smtp; 550 ..." -> "550 ..."). */
static const char *diag_text(const char *v)
{
    const char *semi;
    if (!v)
        return NULL;
    semi = strchr(v, ';');
    if (semi && semi - v < 24) {
        int word = 1;
        for (const char *q = v; q < semi; q++)
            if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != ' ')
                word = 0;
        if (word) {
            v = semi + 1;
            while (*v == ' ')
                v++;
        }
    }
    return v;
}

/* 1 if p[0..n) contains s, ignoring ASCII case. */
static int span_has(const char *p, size_t n, const char *s)
{
    size_t sl = strlen(s);
    for (size_t i = 0; sl && i + sl <= n; i++)
        if (strncasecmp(p + i, s, sl) == 0)
            return 1;
    return 0;
}

/*
 * The paragraph of the human-readable part that names `addr`: from its
 * line to the next blank line (at most 2000 bytes) appended to out.
 */
static void human_paragraph(const char *human, const char *addr, struct buf *out)
{
    const char *p, *s, *e;
    if (!human || !addr[0] || !(p = strcasestr(human, addr)))
        return;
    s = p;
    while (s > human && s[-1] != '\n')
        s--;
    /* to the blank line, or to the line that names the next recipient */
    e = strchr(p, '\n');
    while (e && e[1] && e[1] != '\n' && e - s < 2000) {
        const char *ln = e + 1, *le = strchr(ln, '\n'), *q = ln;
        size_t n = le ? (size_t)(le - ln) : strlen(ln);
        while (*q == ' ' || *q == '\t' || *q == '<')
            q++;
        const char *at = memchr(ln, '@', n);
        if (at && (size_t)(q - ln) < n && (size_t)(at - q) < 64 &&
            !memchr(q, ' ', (size_t)(at - q)) && !span_has(ln, n, addr))
            break;
        e = le;
    }
    if (!e)
        e = p + strlen(p);
    if (e - s > 2000)
        e = s + 2000;
    buf_append(out, s, (size_t)(e - s));
}

/* Domains a and b (without '@') are the same or one is a subdomain of the
 * other (sendmail may name the host it tried: "@mx.example.org"). */
static int domain_related(const char *a, size_t al, const char *b, size_t bl)
{
    if (al == bl)
        return !strncasecmp(a, b, al);
    if (al > bl)
        return a[al - bl - 1] == '.' && !strncasecmp(a + al - bl, b, bl);
    return b[bl - al - 1] == '.' && !strncasecmp(b + bl - al, a, al);
}

/* A Final-Recipient of "@domain" (sendmail writes one when the domain did
 * not resolve): the Original-Recipient, or the one address of that domain
 * (or a parent or child of it) the prose names, or it stays as it is
 * (attribution then falls back to the returned headers). Two different
 * candidates: no guess. */
static void repair_domain_only(char addr[BOUNCE_ADDR_MAX], const char *original, const char *human)
{
    static const char stop[] = " \t\r\n<>()[]\",;:'";
    char found[BOUNCE_ADDR_MAX] = "";
    const char *dom = addr + 1;
    size_t dl = strlen(dom);

    if (original && original[0] && original[0] != '@' && strchr(original, '@')) {
        snprintf(addr, BOUNCE_ADDR_MAX, "%s", original);
        return;
    }
    for (const char *p = human; p && *p && dl; p++) {
        const char *s = p, *e = p + 1;
        if (*p != '@')
            continue;
        while (s > human && !strchr(stop, s[-1]))
            s--;
        while (*e && !strchr(stop, *e))
            e++;
        while (e > p + 1 && e[-1] == '.')
            e--;
        if (s == p || e == p + 1 || (size_t)(e - s) >= BOUNCE_ADDR_MAX ||
            !domain_related(p + 1, (size_t)(e - p - 1), dom, dl))
            continue;
        if (found[0] &&
            (strlen(found) != (size_t)(e - s) || strncasecmp(found, s, (size_t)(e - s))))
            return;
        memcpy(found, s, (size_t)(e - s));
        found[e - s] = '\0';
    }
    if (found[0])
        snprintf(addr, BOUNCE_ADDR_MAX, "%s", found);
}

static int vague(const char *reason)
{
    return !strcmp(reason, "failed") || !strcmp(reason, "temporary") || !strcmp(reason, "unknown");
}

/* RFC 3464 §2.3: one recipient per group of per-recipient fields. */
static enum merr read_dsn(struct bounce_report *r, const char *dsn, size_t n, const char *human)
{
    struct bounce_fields fs;
    struct bounce_rcpt *cur = NULL;
    int cur_group = -1;
    const char *diag_of[BOUNCE_RCPT_MAX] = {0};
    size_t first = r->n_rcpts;
    enum merr rc = bounce_fields_read(dsn, n, &fs);

    if (rc)
        return rc;
    if (!r->envid)
        r->envid = dup_or_null(bounce_fields_get(&fs, "Original-Envelope-Id", 0));
    for (size_t i = 0; i < fs.n; i++) {
        const char *v = fs.f[i].value;
        int g = fs.f[i].group;
        int is_final = bounce_fields_is(&fs, i, "Final-Recipient") ||
                       bounce_fields_is(&fs, i, "X-Actual-Recipient");
        int is_orig = bounce_fields_is(&fs, i, "Original-Recipient");
        int per_rcpt = is_final || is_orig || bounce_fields_is(&fs, i, "Action") ||
                       bounce_fields_is(&fs, i, "Status") ||
                       bounce_fields_is(&fs, i, "Diagnostic-Code") ||
                       bounce_fields_is(&fs, i, "Remote-MTA");
        if (!per_rcpt)
            continue;
        if (!cur || g != cur_group ||
            (is_final && cur->address[0] && !bounce_fields_is(&fs, i, "X-Actual-Recipient")) ||
            (is_orig && cur->original[0])) {
            if (!is_final && !is_orig && cur && g != cur_group && !cur->action[0] &&
                !cur->status[0])
                ; /* the fields of this recipient continue after a stray blank line */
            else {
                cur = bounce_report_add(r);
                if (!cur) {
                    if (r->n_rcpts >= BOUNCE_RCPT_MAX)
                        break;
                    rc = MERR_NOMEM;
                    goto out;
                }
            }
            cur_group = g;
        }
        if (bounce_fields_is(&fs, i, "Final-Recipient")) {
            bounce_addr_copy(cur->address, v);
        } else if (is_orig) {
            bounce_addr_copy(cur->original, v);
        } else if (bounce_fields_is(&fs, i, "Action")) {
            size_t k = 0;
            for (;
                 v[k] && !isspace((unsigned char)v[k]) && v[k] != '(' && k + 1 < sizeof cur->action;
                 k++)
                cur->action[k] = (char)tolower((unsigned char)v[k]);
            cur->action[k] = '\0';
        } else if (bounce_fields_is(&fs, i, "Status")) {
            bounce_class_find_status(v, cur->status);
        } else if (bounce_fields_is(&fs, i, "Diagnostic-Code")) {
            diag_of[cur - r->rcpts] = diag_text(v);
        }
    }
    for (size_t k = first; k < r->n_rcpts; k++) {
        struct bounce_rcpt *x = &r->rcpts[k];
        const char *d = diag_of[k];
        char st[16];
        if (!x->address[0] && x->original[0])
            snprintf(x->address, sizeof x->address, "%s", x->original);
        if (x->address[0] == '@')
            repair_domain_only(x->address, x->original, human);
        if (d) {
            /* a more specific code in the text wins over X.0.0 or a missing Status */
            if (bounce_class_find_status(d, st) &&
                (!x->status[0] || !strcmp(x->status + 1, ".0.0")))
                snprintf(x->status, sizeof x->status, "%s", st);
            bounce_class_find_reply(d, x->reply_code);
            struct buf clean;
            buf_init(&clean, BOUNCE_DIAG_MAX + 4);
            if (bounce_mime_clean(d, strlen(d), BOUNCE_DIAG_MAX, &clean) == MERR_OK && clean.len)
                x->diagnostic = buf_detach(&clean, NULL);
            buf_free(&clean);
        }
        int final = !strcmp(x->action, "failed") ||
                    (!x->action[0] && !bounce_class_is_warning(human ? human : ""));
        bounce_class_decide(x, d, final);
        if (x->cls == BOUNCE_HARD || !strcmp(x->reason, "disabled")) {
            /* the prose may say more (a block, the SMTP command it answered) */
            struct buf para;
            buf_init(&para, 4096);
            human_paragraph(human, x->address, &para);
            if (para.len && buf_putc(&para, '\n') == MERR_OK &&
                buf_puts(&para, d ? d : "") == MERR_OK)
                bounce_class_decide(x, para.data, final);
            buf_free(&para);
        }
        if (vague(x->reason) && human && *human) {
            struct buf both;
            buf_init(&both, 2 * PART_TEXT_MAX);
            if (buf_puts(&both, d ? d : "") == MERR_OK && buf_putc(&both, '\n') == MERR_OK &&
                buf_puts(&both, human) == MERR_OK)
                bounce_class_decide(x, both.data, final);
            buf_free(&both);
        }
    }
    /* recipients without an address or any status are noise (an empty group) */
    for (size_t k = first; k < r->n_rcpts;) {
        struct bounce_rcpt *x = &r->rcpts[k];
        if (!x->address[0] && !x->status[0] && !x->action[0]) {
            free(x->diagnostic);
            memmove(x, x + 1, (r->n_rcpts - k - 1) * sizeof *x);
            r->n_rcpts--;
        } else {
            k++;
        }
    }
out:
    bounce_fields_clear(&fs);
    return rc;
}

struct feedback_map {
    const char *type;
    const char *reason;
};

/* RFC 5965 §7.3 registry, RFC 6430 (not-spam), RFC 6591 (auth-failure) */
static const struct feedback_map feedback_types[] = {
    {"abuse", "abuse"},
    {"fraud", "fraud"},
    {"virus", "virus"},
    {"other", "other"},
    {"opt-out", "opt_out"},
    {"opt_out", "opt_out"},
    {"unsubscribe", "opt_out"},
    {"not-spam", "not_spam"},
    {"auth-failure", "auth_failure"},
    {"dkim", "auth_failure"},
    {NULL, NULL},
};

static enum merr read_arf(struct bounce_report *r, const char *arf, size_t n,
                          const struct bounce_fields *ret)
{
    struct bounce_fields fs;
    const char *type, *reason = "other", *ua;
    char addrs[8][BOUNCE_ADDR_MAX];
    size_t na = 0;
    enum merr rc = bounce_fields_read(arf, n, &fs);

    if (rc)
        return rc;
    type = bounce_fields_get(&fs, "Feedback-Type", 0);
    if (type) {
        char low[32];
        size_t k = 0;
        for (; type[k] && !isspace((unsigned char)type[k]) && k + 1 < sizeof low; k++)
            low[k] = (char)tolower((unsigned char)type[k]);
        low[k] = '\0';
        r->feedback_type = strdup(low);
        if (!r->feedback_type) {
            rc = MERR_NOMEM;
            goto out;
        }
        for (const struct feedback_map *m = feedback_types; m->type; m++)
            if (!strcmp(m->type, low))
                reason = m->reason;
    } else {
        reason = "abuse";
    }
    for (size_t i = 0; i < fs.n && na < 8; i++)
        if (bounce_fields_is(&fs, i, "Original-Rcpt-To") ||
            bounce_fields_is(&fs, i, "Removal-Recipient"))
            bounce_addr_copy(addrs[na++], fs.f[i].value);
    if (!na && ret) {
        const char *to = bounce_fields_get(ret, "To", 0);
        if (to && value_addr(to, addrs[0]))
            na = 1;
    }
    if (!na) {
        addrs[0][0] = '\0';
        na = 1;
    }
    ua = bounce_fields_get(&fs, "User-Agent", 0);
    for (size_t k = 0; k < na; k++) {
        struct bounce_rcpt *x = bounce_report_add(r);
        char d[300];
        if (!x) {
            rc = r->n_rcpts >= BOUNCE_RCPT_MAX ? MERR_OK : MERR_NOMEM;
            break;
        }
        snprintf(x->address, sizeof x->address, "%s", addrs[k]);
        x->reason = reason;
        x->cls = bounce_reason_class(reason);
        for (const char *const *p = bounce_reasons; *p; p++)
            if (!strcmp(*p, reason))
                x->reason = *p;
        snprintf(d, sizeof d, "feedback report: %s%s%s",
                 r->feedback_type ? r->feedback_type : "abuse", ua ? " from " : "", ua ? ua : "");
        struct buf clean;
        buf_init(&clean, BOUNCE_DIAG_MAX + 4);
        if (bounce_mime_clean(d, strlen(d), BOUNCE_DIAG_MAX, &clean) == MERR_OK && clean.len)
            x->diagnostic = buf_detach(&clean, NULL);
        buf_free(&clean);
    }
out:
    bounce_fields_clear(&fs);
    return rc;
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
            if (!r->verp && value_prefixed(top->f[i].value, "bounces+", a) &&
                !(r->verp = strdup(a)))
                return MERR_NOMEM;
            if (!r->unsubscribe && value_prefixed(top->f[i].value, "unsubscribe+", a) &&
                !(r->unsubscribe = strdup(a)))
                return MERR_NOMEM;
        }
    if (ret && ret->n) {
        const char *rp = bounce_fields_get(ret, "Return-Path", 0);
        r->returned_msgid = msgid_of(bounce_fields_get(ret, "Message-ID", 0));
        r->returned_list_id = msgid_of(bounce_fields_get(ret, "List-Id", 0));
        if (rp && value_prefixed(rp, "bounces+", a))
            r->returned_verp = strdup(a);
    }
    r->message_id = msgid_of(bounce_fields_get(top, "Message-ID", 0));
    if (bounce_fields_get(top, "From", 0) && value_addr(bounce_fields_get(top, "From", 0), a))
        r->from = strdup(a);
    r->subject = decode_words(bounce_fields_get(top, "Subject", 0));
    return MERR_OK;
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
        rc = read_arf(r, w.arf.data ? w.arf.data : "", w.arf.len, &ret);
        goto out;
    }
    if (w.has_dsn) {
        rc = read_dsn(r, w.dsn.data ? w.dsn.data : "", w.dsn.len, human);
        if (rc)
            goto out;
        if (r->n_rcpts) {
            r->kind = BOUNCE_KIND_DSN;
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
        if (tov && value_addr(tov, to))
            own[no++] = to;
        struct bounce_text_in in = {human, strlen(human),
                                    bounce_fields_get(&top, "X-Failed-Recipients", 0), own};
        rc = bounce_text_scan(&in, r);
        if (rc)
            goto out;
        r->kind = BOUNCE_KIND_REPORT;
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

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

json_t *bounce_report_json(const struct bounce_report *r, const char *file)
{
    json_t *o = json_object(), *a = json_array();
    if (!o || !a) {
        json_decref(o);
        json_decref(a);
        return NULL;
    }
    if (file)
        json_object_set_new(o, "file", json_string(file));
    json_object_set_new(o, "kind", json_string(bounce_kind_name(r->kind)));
    for (size_t i = 0; i < r->n_rcpts; i++) {
        const struct bounce_rcpt *x = &r->rcpts[i];
        json_array_append_new(
            a, json_pack("{s:o, s:s, s:s, s:o, s:o, s:o}", "address", str_or_null(x->address),
                         "class", bounce_class_name(x->cls), "reason", x->reason, "status",
                         str_or_null(x->status), "reply_code", str_or_null(x->reply_code),
                         "diagnostic", str_or_null(x->diagnostic)));
    }
    json_object_set_new(o, "recipients", a);
    if (r->unparsed)
        json_object_set_new(o, "unparsed", json_string(r->unparsed));
    return o;
}
