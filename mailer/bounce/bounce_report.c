/*
 * bounce_report.c: the report of one message (bounce.h): its recipients,
 * what its machine-readable parts say, and its JSON.
 *
 * A delivery-status part (RFC 3464 §2.2, §2.3) gives one recipient per
 * group of per-recipient fields: Final-Recipient (Original-Recipient when
 * the final one is only a domain or a local alias), Action, Status (RFC
 * 3463), Diagnostic-Code, and the message's Original-Envelope-Id, our
 * ENVID. Its class comes from bounce_class_decide on the diagnostic; the
 * human-readable paragraph that names the recipient is read too when it
 * may say more than the code (the SMTP command a refusal answered, a
 * block behind a 5.1.1). A feedback-report part (RFC 5965 §3.1) gives a
 * complaint per Original-Rcpt-To (or the returned message's To), its
 * reason from the Feedback-Type. An Amazon SES notification (JSON, sent by
 * Amazon SNS as mail) gives its bounced, complained-of or delivered
 * recipients (bounce_report_ses).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "bounce_int.h"

static char *nonempty_dup(const char *s)
{
    return s && *s ? strdup(s) : NULL;
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

/*
 * An RFC 3464 mta-name field ("dns; mx.example.net" or a bare name) as a
 * lower-case host name, without its type, a trailing dot or an address in
 * brackets; "" when there is none.
 */
static void mta_name(const char *v, char out[64])
{
    size_t k = 0;
    out[0] = '\0';
    if (!(v = diag_text(v))) /* the same "type; value" shape as Diagnostic-Code */
        return;
    v += strspn(v, " \t");
    while (v[k] && k < 63 &&
           (isalnum((unsigned char)v[k]) || v[k] == '.' || v[k] == '-' || v[k] == '_')) {
        out[k] = (char)tolower((unsigned char)v[k]);
        k++;
    }
    while (k && out[k - 1] == '.')
        k--;
    out[k] = '\0';
}

/*
 * A recipient's group without Diagnostic-Code: OpenSMTPD writes the
 * remote reply only in its prose ("a@b: 550 5.1.1 <a@b>: Recipient address
 * rejected: User unknown") under a bare "Status: 5.0.0". The recipient's
 * own lines of the prose, from after its address, when they hold an SMTP
 * reply, are its diagnostic (NULL otherwise); `line` keeps the text.
 */
static const char *prose_reply(const char *human, const char *addr, struct buf *line)
{
    const char *t, *a;
    char code[4];
    human_paragraph(human, addr, line);
    if (!line->len || !line->data || !(a = strcasestr(line->data, addr)))
        return NULL;
    t = a + strlen(addr);
    t += strspn(t, ">:; \t\n");
    return bounce_class_find_reply(t, code) ? t : NULL;
}

void bounce_rcpt_diag(struct bounce_rcpt *x, const char *d, size_t n)
{
    struct buf clean;
    if (!d || !n)
        return;
    buf_init(&clean, BOUNCE_DIAG_MAX + 4);
    if (bounce_mime_clean(d, n, BOUNCE_DIAG_MAX, &clean) == MERR_OK && clean.len)
        x->diagnostic = buf_detach(&clean, NULL);
    buf_free(&clean);
}

/* The vocabulary's own string for a reason name. */
static const char *reason_named(const char *name)
{
    for (const char *const *p = bounce_reasons; *p; p++)
        if (!strcmp(*p, name))
            return *p;
    return "unknown";
}

/*
 * 1 if the prose before the first line that names `addr` (the report's
 * preamble: EZweb's "The user(s) account is disabled.") names a disabled
 * account and no other specific cause.
 */
static int preamble_disabled(const char *human, const char *addr)
{
    const char *p, *reason;
    char *pre;
    if (!human || !addr[0] || !(p = strcasestr(human, addr)))
        return 0;
    while (p > human && p[-1] != '\n')
        p--;
    if (p == human || !(pre = strndup(human, (size_t)(p - human))))
        return 0;
    reason = bounce_class_text_reason(pre);
    free(pre);
    return reason && !strcmp(reason, "disabled");
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

/*
 * A Final-Recipient that is a pipe or a file ("rfc822;|/usr/bin/prog ...",
 * "rfc822;/var/mail/x"), as Exim and Sendmail write for a local delivery
 * that an alias or .forward made: no RFC 5321 mailbox, so not the address
 * the message was sent to (RFC 3464 §2.3.2 wants the address-type's own
 * syntax).
 */
static int pipe_or_file(const char *v)
{
    const char *semi = strchr(v, ';');
    if (semi)
        v = semi + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return *v == '|' || *v == '/';
}

/*
 * Exim names the address a pipe or file delivery came from on the line
 * below it: "pipe to |/usr/bin/prog\n    generated by a@b". The address
 * after the first "generated by " that follows the command `v` names in
 * the human-readable part (after the first one at all when the command is
 * not found there) into out; "" if none.
 */
static void generated_by(const char *human, const char *v, char out[BOUNCE_ADDR_MAX])
{
    const char *semi = strchr(v, ';'), *p;
    char cmd[25], tok[BOUNCE_ADDR_MAX];
    size_t k = 0;

    out[0] = '\0';
    if (!human)
        return;
    for (v = semi ? semi + 1 : v; *v == ' ' || *v == '\t'; v++)
        ;
    while (v[k] && v[k] != '\n' && v[k] != '\r' && k + 1 < sizeof cmd) {
        cmd[k] = v[k];
        k++;
    }
    cmd[k] = '\0';
    p = k ? strstr(human, cmd) : NULL;
    p = strstr(p ? p : human, "generated by ");
    if (!p)
        return;
    for (p += strlen("generated by "); *p == ' ' || *p == '<'; p++)
        ;
    for (k = 0; *p && !isspace((unsigned char)*p) && *p != '>' && k + 1 < sizeof tok;)
        tok[k++] = *p++;
    tok[k] = '\0';
    if (strchr(tok, '@') && tok[0] != '@')
        bounce_addr_copy(out, tok);
}

/* RFC 3464 §2.3: one recipient per group of per-recipient fields. */
enum merr bounce_report_dsn(struct bounce_report *r, const char *dsn, size_t n, const char *human)
{
    struct bounce_fields fs;
    struct bounce_rcpt *cur = NULL;
    int cur_group = -1;
    const char *diag_of[BOUNCE_RCPT_MAX] = {0};
    char reporting_mta[sizeof r->rcpts[0].mta];
    size_t first = r->n_rcpts;
    enum merr rc = bounce_fields_read(dsn, n, &fs);

    if (rc)
        return rc;
    if (!r->envid)
        r->envid = nonempty_dup(bounce_fields_get(&fs, "Original-Envelope-Id", 0));
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
            /* a pipe or a file: the address that made it, when Exim names it */
            if (pipe_or_file(v)) {
                char gen[BOUNCE_ADDR_MAX];
                generated_by(human, v, gen);
                if (gen[0])
                    snprintf(cur->address, sizeof cur->address, "%s", gen);
            }
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
        } else if (bounce_fields_is(&fs, i, "Remote-MTA")) {
            mta_name(v, cur->mta);
        }
    }
    /* the per-message field, the MTA of every recipient that names no Remote-MTA */
    mta_name(bounce_fields_get(&fs, "Reporting-MTA", 0), reporting_mta);
    for (size_t k = first; k < r->n_rcpts; k++) {
        struct bounce_rcpt *x = &r->rcpts[k];
        const char *d = diag_of[k];
        char st[16];
        struct buf line;
        buf_init(&line, 2048);
        if (!x->address[0] && x->original[0])
            snprintf(x->address, sizeof x->address, "%s", x->original);
        if (x->address[0] == '@')
            repair_domain_only(x->address, x->original, human);
        if (!d && x->address[0])
            d = prose_reply(human, x->address, &line);
        if (!x->mta[0])
            memcpy(x->mta, reporting_mta, sizeof x->mta);
        if (d) {
            /* a more specific code in the text wins over X.0.0 or a missing Status */
            if (bounce_class_find_status(d, st) &&
                (!x->status[0] || !strcmp(x->status + 1, ".0.0")))
                snprintf(x->status, sizeof x->status, "%s", st);
            bounce_class_find_reply(d, x->reply_code);
            bounce_rcpt_diag(x, d, strlen(d));
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
            /*
             * The prose about this recipient (its lines up to the next
             * recipient's) when it names it: a report listing "a: 550 5.1.1
             * User unknown" and "b: 552 5.2.2 Mailbox full" under bare
             * "Status: 5.0.0" groups must not give b's words to a. The whole
             * prose only when it does not name the recipient.
             */
            struct buf both;
            buf_init(&both, 2 * PART_TEXT_MAX);
            if (buf_puts(&both, d ? d : "") == MERR_OK && buf_putc(&both, '\n') == MERR_OK) {
                size_t at = both.len;
                human_paragraph(human, x->address, &both);
                if ((both.len > at || buf_puts(&both, human) == MERR_OK) && both.data)
                    bounce_class_decide(x, both.data, final);
            }
            buf_free(&both);
        }
        if (x->cls == BOUNCE_HARD && !strcmp(x->reason, "user_unknown") &&
            strncmp(x->status + 1, ".1.", 3) != 0 && preamble_disabled(human, x->address)) {
            /*
             * The report says, before it names the recipient, that the
             * account is disabled (RFC 3463 X.2.1: the mailbox exists and
             * may take mail again), and only a bare "user unknown" without
             * an X.1.x status says it is gone: the softer cause wins, as a
             * wrong hard bounce silences a reader for good.
             */
            x->reason = reason_named("disabled");
            x->cls = BOUNCE_SOFT;
        }
        buf_free(&line);
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

enum merr bounce_report_arf(struct bounce_report *r, const char *arf, size_t n,
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
        if (to && bounce_fields_addr(to, addrs[0]))
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
        x->reason = reason_named(reason);
        snprintf(d, sizeof d, "feedback report: %s%s%s",
                 r->feedback_type ? r->feedback_type : "abuse", ua ? " from " : "", ua ? ua : "");
        bounce_rcpt_diag(x, d, strlen(d));
    }
out:
    bounce_fields_clear(&fs);
    return rc;
}

/* Bytes of an SES notification read (the JSON; a notification is a few KB). */
#define SES_JSON_MAX (128 * 1024)

/*
 * Amazon SES notifications that Amazon SNS delivers to an email
 * subscription: the body is the notification, one JSON object (AWS's
 * "Amazon SNS notification contents for Amazon SES"; event publishing
 * names its type eventType), then SNS's footer. notificationType Bounce:
 * bounce.bounceType Permanent, Transient or Undetermined, bounceSubType,
 * bounce.bouncedRecipients[] with emailAddress, action, status,
 * diagnosticCode; Complaint: complaint.complainedRecipients[] with
 * emailAddress, complaint.complaintFeedbackType (RFC 5965's types);
 * Delivery: delivery.recipients[] (strings), delivery.smtpResponse.
 */

/* The SES bounce subtypes AWS documents as "remove the address": the mailbox is gone or barred. */
static const char *const SES_HARD_SUBTYPES[] = {"General", "NoEmail", "Suppressed",
                                                "OnAccountSuppressionList", NULL};

static const char *ses_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static enum merr ses_bounce(struct bounce_report *r, json_t *b)
{
    const char *type = ses_str(b, "bounceType"), *sub = ses_str(b, "bounceSubType");
    json_t *list = json_object_get(b, "bouncedRecipients"), *v;
    int permanent = !strcmp(type, "Permanent"), gone = 0;
    size_t i;

    for (const char *const *s = SES_HARD_SUBTYPES; *s; s++)
        gone |= !strcmp(sub, *s);
    r->kind = BOUNCE_KIND_DSN;
    json_array_foreach(list, i, v)
    {
        struct bounce_rcpt *x = bounce_report_add(r);
        const char *d = diag_text(ses_str(v, "diagnosticCode"));
        size_t k = 0;
        if (!x)
            return r->n_rcpts >= BOUNCE_RCPT_MAX ? MERR_OK : MERR_NOMEM;
        bounce_addr_copy(x->address, ses_str(v, "emailAddress"));
        for (const char *a = ses_str(v, "action"); a[k] && k + 1 < sizeof x->action; k++)
            x->action[k] = (char)tolower((unsigned char)a[k]);
        x->action[k] = '\0';
        bounce_class_find_status(ses_str(v, "status"), x->status);
        if (!x->status[0])
            bounce_class_find_status(d, x->status);
        bounce_class_find_reply(d, x->reply_code);
        bounce_rcpt_diag(x, d, strlen(d));
        bounce_class_decide(x, d, permanent);
        if (permanent && (gone || !strncmp(x->status, "5.1.", 4))) {
            /* SES says the address is gone: hard whatever the words */
            x->cls = BOUNCE_HARD;
            if (bounce_reason_class(x->reason) != BOUNCE_HARD)
                x->reason = reason_named("user_unknown");
        } else if (x->cls == BOUNCE_HARD) {
            /* Transient, Undetermined, or a Permanent subtype that is no missing address */
            x->cls = BOUNCE_SOFT;
            x->reason = reason_named(permanent ? "failed" : "temporary");
        }
    }
    return MERR_OK;
}

static enum merr ses_complaint(struct bounce_report *r, json_t *c)
{
    const char *type = ses_str(c, "complaintFeedbackType"), *reason = "abuse";
    json_t *list = json_object_get(c, "complainedRecipients"), *v;
    size_t i;

    r->kind = BOUNCE_KIND_ARF;
    /* kept only as the registry's own token, as an ARF part's is */
    for (const struct feedback_map *m = feedback_types; *type && m->type; m++)
        if (!strcasecmp(m->type, type)) {
            reason = m->reason;
            if (!r->feedback_type && !(r->feedback_type = strdup(m->type)))
                return MERR_NOMEM;
        }
    json_array_foreach(list, i, v)
    {
        struct bounce_rcpt *x = bounce_report_add(r);
        char d[64];
        if (!x)
            return r->n_rcpts >= BOUNCE_RCPT_MAX ? MERR_OK : MERR_NOMEM;
        bounce_addr_copy(x->address, ses_str(v, "emailAddress"));
        x->reason = reason_named(reason);
        x->cls = bounce_reason_class(x->reason);
        snprintf(d, sizeof d, "SES complaint: %s", r->feedback_type ? r->feedback_type : "abuse");
        bounce_rcpt_diag(x, d, strlen(d));
    }
    return MERR_OK;
}

static enum merr ses_delivery(struct bounce_report *r, json_t *dl)
{
    const char *resp = ses_str(dl, "smtpResponse");
    json_t *list = json_object_get(dl, "recipients"), *v;
    size_t i;

    r->kind = BOUNCE_KIND_DSN;
    json_array_foreach(list, i, v)
    {
        struct bounce_rcpt *x = bounce_report_add(r);
        if (!x)
            return r->n_rcpts >= BOUNCE_RCPT_MAX ? MERR_OK : MERR_NOMEM;
        bounce_addr_copy(x->address, json_string_value(v) ? json_string_value(v) : "");
        snprintf(x->action, sizeof x->action, "delivered");
        bounce_class_find_status(resp, x->status);
        bounce_class_find_reply(resp, x->reply_code);
        bounce_rcpt_diag(x, resp, strlen(resp));
        bounce_class_decide(x, resp, 0);
    }
    return MERR_OK;
}

enum merr bounce_report_ses(struct bounce_report *r, const char *text, size_t n, int *found)
{
    json_t *root, *o;
    const char *type;
    size_t i = 0;
    enum merr rc = MERR_OK;

    *found = 0;
    while (i < n && isspace((unsigned char)text[i]))
        i++;
    if (i >= n || text[i] != '{' || n - i > SES_JSON_MAX)
        return MERR_OK;
    /* the object, then SNS's footer: stop after the first value */
    root = json_loadb(text + i, n - i, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, NULL);
    if (!root) {
        /*
         * A line over the mail's length limit folded on the way (RFC 5322
         * §2.1.1: a line break and a blank inserted), inside a JSON string
         * where a raw line break is not allowed: unfold and read again.
         */
        char *u = malloc(n - i + 1);
        size_t k = 0;
        if (!u)
            return MERR_NOMEM;
        for (size_t j = i; j < n; j++) {
            size_t e = j + (text[j] == '\r' && j + 1 < n && text[j + 1] == '\n');
            if ((text[j] == '\n' || e > j) && e + 1 < n &&
                (text[e + 1] == ' ' || text[e + 1] == '\t')) {
                j = e;
                continue;
            }
            u[k++] = text[j];
        }
        root = json_loadb(u, k, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, NULL);
        free(u);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return MERR_OK;
    }
    /*
     * Amazon SNS's JSON envelope (an "email-json" subscription, or a
     * message forwarded as it arrived at an HTTP endpoint): {"Type":
     * "Notification", "Message": "<the SES notification as a JSON string>"}
     */
    if (!json_object_get(root, "notificationType") && !json_object_get(root, "eventType")) {
        const char *type_sns = json_string_value(json_object_get(root, "Type"));
        json_t *msg = json_object_get(root, "Message"), *inner = NULL;
        if (type_sns && !strcmp(type_sns, "Notification") && json_is_string(msg) &&
            json_string_length(msg) <= SES_JSON_MAX)
            inner = json_loadb(json_string_value(msg), json_string_length(msg),
                               JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(inner)) {
            json_decref(root);
            root = inner;
        } else {
            json_decref(inner);
        }
    }
    type = json_string_value(json_object_get(root, "notificationType"));
    if (!type)
        type = json_string_value(json_object_get(root, "eventType"));
    if (type && !strcmp(type, "Bounce") && json_is_object(o = json_object_get(root, "bounce"))) {
        *found = 1;
        rc = ses_bounce(r, o);
    } else if (type && !strcmp(type, "Complaint") &&
               json_is_object(o = json_object_get(root, "complaint"))) {
        *found = 1;
        rc = ses_complaint(r, o);
    } else if (type && !strcmp(type, "Delivery") &&
               json_is_object(o = json_object_get(root, "delivery"))) {
        *found = 1;
        rc = ses_delivery(r, o);
    }
    json_decref(root);
    return rc;
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
