/*
 * bounce_text.c: bounces written in prose, without an RFC 3464 part.
 *
 * qmail ("Hi. This is the qmail-send program ... <addr>:"), Exim ("The
 * following address(es) failed:"), Sendmail's and Postfix's older texts,
 * Exchange and Lotus Notes ("The following recipient(s) could not be
 * reached", "Failure Reasons"), Gmail ("Delivery to the following recipient
 * failed permanently"), Yahoo, Outlook.com and the rest all follow one
 * shape: some prose, then for each failed address the address on a line
 * and the reason (often the remote server's reply) next to it or on the
 * lines after, then a copy of the message. So rather than one parser per
 * MTA, the reader:
 *
 *  1. cuts the text where the returned copy starts (a separator line that
 *     names the original, returned or copied message, or the first run of
 *     header lines), so addresses in the copy are never taken;
 *  2. takes the recipients from X-Failed-Recipients (Exim, Gmail) when
 *     present, else every address in the remaining text that is not the
 *     bounce's own (its From and To: our return path) nor a daemon's, in
 *     the order they appear;
 *  3. takes as each recipient's diagnostic the text from its address to the
 *     next recipient, or to another recipient named again (a list repeated
 *     in a second language), or to the cut, and finds the status and reply code in
 *     it; when that says nothing, the whole text before the cut is used
 *     for the reason (Lotus Notes puts the reason above the address).
 * A text that reads like a delay warning ("will be retried") is not final.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_int.h"

/* Lines that start the returned copy. */
static const char *const CUT_MARKS[] = {
    "below this line is a copy of the message",
    "this is a copy of the message",
    "original message follows",
    "original message",
    "returned message",
    "undelivered message",
    "message headers follow",
    "message header follows", /* T-Online */
    "header of the original message",
    "headers of the original message",
    "the original message was",
    "copy of the original",
    "returned mail follows",
    "text of the original",
    "content of the original",
    "unsent message below",
    "unsent message follows",
    "your message reads",
    "message text follows",
    "originalnachricht",
    "ursprüngliche nachricht",
    "message original",
    "mensaje original",
    "messaggio originale",
    "mensagem original",
    "oorspronkelijk bericht",
    "исходное сообщение",
    "元のメッセージ",
    "thư gốc",
    NULL,
};

/* A separator line: three or more of - = _ at its start, and some words. */
static int is_separator(const char *line, size_t ll)
{
    size_t k = 0, marks = 0;
    int letters = 0;
    while (k < ll && (line[k] == ' ' || line[k] == '\t'))
        k++;
    while (k < ll && (line[k] == '-' || line[k] == '=' || line[k] == '_'))
        k++, marks++;
    for (; k < ll; k++)
        if (isalpha((unsigned char)line[k]) || (unsigned char)line[k] >= 0x80)
            letters = 1;
    return marks >= 3 && letters;
}

static int starts_header(const char *line, size_t ll, const char *name)
{
    size_t nl = strlen(name);
    return ll > nl && strncasecmp(line, name, nl) == 0;
}

/* 1 if the next non-blank line from t[i] is a header field ("Name: value"). */
static int header_follows(const char *t, size_t i, size_t n)
{
    while (i < n && (t[i] == '\n' || t[i] == ' ' || t[i] == '\t'))
        i++;
    if (i >= n || !isalpha((unsigned char)t[i]))
        return 0;
    while (i < n && (isalnum((unsigned char)t[i]) || t[i] == '-'))
        i++;
    return i < n && t[i] == ':';
}

size_t bounce_text_cut(const char *t, size_t n)
{
    size_t i = 0;
    int headers_run = 0, seen_at = 0;
    size_t run_start = 0;

    while (i < n) {
        const char *line = t + i, *nl = memchr(line, '\n', n - i);
        size_t ll = nl ? (size_t)(nl - line) : n - i;
        char low[160];
        size_t k = 0, dashes = 0;

        for (size_t j = 0; j < ll && k + 1 < sizeof low; j++) {
            unsigned char c = (unsigned char)line[j];
            if (c == '-' || c == '=' || c == '_' || c == '*')
                dashes++;
            low[k++] = (char)tolower(c);
        }
        low[k] = '\0';
        /* a separator, a quote, "... follows", or a heading ending in ':'
           ("Below is a copy of the original message:", OpenSMTPD) */
        size_t lk = k;
        while (lk > 0 && (low[lk - 1] == ' ' || low[lk - 1] == '\t' || low[lk - 1] == '\r'))
            lk--;
        if (dashes >= 3 || strstr(low, "---") || low[0] == '>' || strstr(low, "follow") ||
            (lk > 0 && low[lk - 1] == ':')) {
            for (const char *const *m = CUT_MARKS; *m; m++)
                if (strstr(low, *m))
                    return i;
        }
        /*
         * after the failed addresses, a separator followed by header fields
         * starts the copy (unless it is itself a heading of failures)
         */
        if (seen_at && is_separator(line, ll) && !strstr(low, "follow") && !strstr(low, "error") &&
            !strstr(low, "fail") && !strstr(low, "recipient") && !strstr(low, "address") &&
            header_follows(t, i + ll + (nl ? 1 : 0), n))
            return i;
        if (memchr(line, '@', ll))
            seen_at = 1;
        /* a run of header lines is the returned copy too */
        if (starts_header(line, ll, "Received:") || starts_header(line, ll, "Return-Path:") ||
            starts_header(line, ll, "Message-ID:") || starts_header(line, ll, "DKIM-Signature:") ||
            starts_header(line, ll, "MIME-Version:") || starts_header(line, ll, "Content-Type:") ||
            starts_header(line, ll, "X-Mailer:")) {
            if (!headers_run)
                run_start = i;
            if (++headers_run >= 2)
                return run_start;
        } else if (!(ll > 0 && (line[0] == ' ' || line[0] == '\t')) && ll > 0) {
            headers_run = 0;
        }
        i += ll + (nl ? 1 : 0);
    }
    return n;
}

static int is_local_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80 || (c && strchr("!#$%&'*+-/=?^_`{|}~.", c));
}

static int is_domain_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80 || c == '-' || c == '.';
}

/* The next address in t[from..n): start and length; 0 if none. */
static int next_addr(const char *t, size_t n, size_t from, size_t *start, size_t *len)
{
    for (size_t i = from; i < n; i++) {
        size_t a, b, dots = 0;
        if (t[i] != '@')
            continue;
        a = i;
        while (a > from && is_local_char((unsigned char)t[a - 1]))
            a--;
        while (a < i && t[a] == '.')
            a++;
        b = i + 1;
        while (b < n && is_domain_char((unsigned char)t[b])) {
            if (t[b] == '.')
                dots++;
            b++;
        }
        while (b > i + 1 && (t[b - 1] == '.' || t[b - 1] == '-')) {
            if (t[b - 1] == '.')
                dots--;
            b--;
        }
        if (a == i || b == i + 1 || dots == 0 || b - a >= BOUNCE_ADDR_MAX)
            continue;
        *start = a;
        *len = b - a;
        return 1;
    }
    return 0;
}

static int same_addr(const char *a, size_t al, const char *b)
{
    return strlen(b) == al && strncasecmp(a, b, al) == 0;
}

/* Addresses that are never the failed recipient. */
static int is_own(const char *a, size_t al, const char *const *own)
{
    static const char *const daemons[] = {
        "mailer-daemon@", "postmaster@", "mail-daemon@", "noreply@", "no-reply@",
        "mailerdaemon@",  NULL};
    for (const char *const *d = daemons; *d; d++)
        if (al > strlen(*d) && strncasecmp(a, *d, strlen(*d)) == 0)
            return 1;
    for (; own && *own; own++)
        if (same_addr(a, al, *own))
            return 1;
    return 0;
}

/*
 * 1 if the address t[at..at+al) is where the MTA's own format names a
 * failed recipient, not prose about one: qmail-send's "<address>:" that
 * opens each recipient's paragraph, Postfix's bounce(8) "<address>: ..."
 * and "<address> (expanded from <alias>): ...", both at the start of a
 * line, and the DragonFly Mail Agent's "There was an error delivering your
 * mail to <address>." (dma's bounce.c). Such an address is a recipient
 * even when it is the bounce's own To: (a test mail to oneself; a VERP
 * return path never is one) or a postmaster@ (the daemon exclusion is for
 * the reporting system's own addresses in the prose).
 */
static int in_recipient_slot(const char *t, size_t at, size_t al)
{
    static const char dma[] = "delivering your mail to ";
    size_t ls = at, e = at + al;
    if (at == 0 || t[at - 1] != '<' || t[e] != '>')
        return 0;
    while (ls > 0 && t[ls - 1] != '\n')
        ls--;
    if (ls == at - 1)
        return t[e + 1] == ':' || !strncmp(t + e + 1, " (expanded from ", 16);
    return at - 1 - ls >= sizeof dma - 1 &&
           !strncasecmp(t + at - 1 - (sizeof dma - 1), dma, sizeof dma - 1);
}

/* 1 if the line holding t[at] starts with one of `names` (after blanks). */
static int line_starts(const char *t, size_t at, const char *const *names)
{
    size_t s = at;
    while (s > 0 && t[s - 1] != '\n')
        s--;
    while (t[s] == ' ' || t[s] == '\t')
        s++;
    for (const char *const *k = names; *k; k++)
        if (strncasecmp(t + s, *k, strlen(*k)) == 0)
            return 1;
    return 0;
}

/* 1 if the line holding t[at] is a header-like line that names a sender or a message. */
static int in_skipped_line(const char *t, size_t at)
{
    static const char *const skip[] = {"from:",
                                       "reply-to:",
                                       "return-path:",
                                       "sender:",
                                       "message-id:",
                                       "received:",
                                       "in-reply-to:",
                                       "references:",
                                       "envelope-from",
                                       "original-envelope-id:",
                                       "x-",
                                       NULL};
    return line_starts(t, at, skip);
}

/*
 * 1 if the line holding t[at] echoes the returned message's addressees
 * ("  To: a@b" in the summary Exchange and Oracle Messaging Server print
 * above the failures): those are who the message was for, not who failed;
 * used only when the text names a recipient elsewhere.
 */
static int in_addressee_line(const char *t, size_t at)
{
    static const char *const names[] = {"to:", "cc:", "bcc:", NULL};
    return line_starts(t, at, names);
}

/*
 * 1 if the address at t[at] is offered as a contact ("For further
 * assistance, please contact <support@isp>"): the words come right before it
 * on its line. Never a failed recipient.
 */
static int in_contact_line(const char *t, size_t at)
{
    size_t s = at;
    while (s > 0 && at - s < 32 && t[s - 1] != '\n')
        s--;
    for (size_t i = s; i + 7 <= at; i++)
        if (!strncasecmp(t + i, "contact", 7))
            return 1;
    return 0;
}

struct found {
    size_t pos; /* where the address is in the text (n if not in the text) */
    char addr[BOUNCE_ADDR_MAX];
};

/*
 * A bounce in prose reports a failure, so a success reply in it is a step
 * of a session transcript ("250 2.1.5 Ok" to RCPT TO, then "451 4.3.0" to
 * the data): RFC 5321 §4.2 gives every command its own reply, and the
 * transaction fails at the first failing one. When the first code of the
 * recipient's text is a success (2yz, 2.x.x), the first failure code
 * after it (4yz/5yz, 4.x.x/5.x.x) is the one that counts, if there is one.
 */
static void first_failure(const char *text, char *code, size_t size,
                          int (*find)(const char *text, char *out))
{
    char c[16];
    for (const char *p = text, *at; code[0] == '2' && find(p, c); p = at + 1) {
        if (c[0] != '2') {
            snprintf(code, size, "%s", c);
            return;
        }
        if (!(at = strstr(p, c)))
            return;
    }
}

static void prefer_failure(const char *text, char status[16], char reply[4])
{
    first_failure(text, status, 16, bounce_class_find_status);
    first_failure(text, reply, 4, bounce_class_find_reply);
}

static enum merr add_rcpt(struct bounce_report *r, const char *addr, const char *text, size_t at,
                          size_t from, size_t to, const char *pre, size_t prelen, int final,
                          int delay)
{
    struct bounce_rcpt *rc = bounce_report_add(r);
    struct buf diag, all;
    enum merr e = MERR_OK;
    const char *reason;

    if (!rc)
        return r->n_rcpts >= BOUNCE_RCPT_MAX ? MERR_OK : MERR_NOMEM;
    bounce_addr_copy(rc->address, addr);
    buf_init(&diag, 4 * BOUNCE_DIAG_MAX);
    buf_init(&all, 64 * 1024);
    /* what precedes the address on its line ("Unknown user: a@b") */
    if (at != (size_t)-1) {
        size_t ls = at, a = at, k;
        while (ls > 0 && text[ls - 1] != '\n')
            ls--;
        while (a > ls && (text[a - 1] == '<' || text[a - 1] == ' ' || text[a - 1] == '\t'))
            a--;
        for (k = ls; k < a && strchr(" \t-*", text[k]); k++)
            ;
        if (a > k && a - k < 200)
            e = buf_append(&diag, text + k, a - k);
    }
    /* the rest of the address line, then the lines below, collapsed */
    for (size_t i = from; i < to && diag.len < 3 * BOUNCE_DIAG_MAX; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || c == '\t' || c == ' ') {
            if (diag.len && diag.data[diag.len - 1] != ' ')
                e = buf_putc(&diag, ' ');
        } else if (!(diag.len == 0 && (c == '>' || c == ':' || c == ',' || c == '.'))) {
            e = buf_putc(&diag, (char)c);
        }
        if (e)
            break;
    }
    while (diag.len && strchr(" :", diag.data[diag.len - 1]))
        diag.len--;
    if (!e && diag.len == 0) {
        /* Lotus Notes writes the reason above the address: up to 3 lines before it */
        size_t ls = from, start;
        int lines = 0;
        while (ls > 0 && text[ls - 1] != '\n')
            ls--;
        start = ls;
        while (start > 0 && lines < 3) {
            size_t ps = start - 1;
            while (ps > 0 && text[ps - 1] != '\n')
                ps--;
            if (start - 1 == ps || is_separator(text + ps, start - 1 - ps))
                break; /* blank line or separator */
            start = ps;
            lines++;
        }
        /* capped as above: three long lines would overrun diag's limit and fail the parse */
        for (size_t i = start; i < ls && !e && diag.len < 3 * BOUNCE_DIAG_MAX; i++)
            e = buf_putc(&diag, text[i] == '\n' || text[i] == '\t' ? ' ' : text[i]);
        while (diag.len && diag.data[diag.len - 1] == ' ')
            diag.len--;
    }
    if (diag.data)
        diag.data[diag.len] = '\0';
    if (!e && diag.len) {
        bounce_class_find_status(diag.data, rc->status);
        bounce_class_find_reply(diag.data, rc->reply_code);
        prefer_failure(diag.data, rc->status, rc->reply_code);
    }
    /* what to classify: the recipient's own text, else the whole prose */
    reason = diag.len ? bounce_class_text_reason(diag.data) : NULL;
    if (!e && !reason && !rc->status[0]) {
        e = buf_append(&all, pre, prelen);
        if (!e && !rc->status[0])
            bounce_class_find_status(all.data ? all.data : "", rc->status);
        if (!e && !rc->reply_code[0])
            bounce_class_find_reply(all.data ? all.data : "", rc->reply_code);
    }
    /*
     * A notice that reads as a delay warning before the returned copy and
     * gives this recipient no code at all is the prose form of RFC 3464
     * §2.3.3's Action: delayed: the MTA has not delivered the message yet
     * and keeps trying.
     */
    if (!e && delay && !rc->status[0] && !rc->reply_code[0])
        snprintf(rc->action, sizeof rc->action, "delayed");
    if (!e) {
        const char *ctext = all.len ? all.data : diag.data;
        bounce_class_decide(rc, ctext, final);
        bounce_rcpt_diag(rc, diag.data, diag.len);
    }
    buf_free(&diag);
    buf_free(&all);
    return e;
}

enum merr bounce_text_scan(const struct bounce_text_in *in, struct bounce_report *r)
{
    const char *t = in->text ? in->text : "";
    size_t n = in->text ? in->len : 0, cut = bounce_text_cut(t, n);
    struct found *fv = calloc(BOUNCE_RCPT_MAX, sizeof *fv);
    size_t nf = 0, nh, s, l;
    int final = 1, delay = 0, named = 0, passes;
    enum merr e = MERR_OK;

    if (!fv)
        return MERR_NOMEM;
    /*
     * A delay warning in the notice itself, not in the returned copy's
     * words: a copy that says "no action is required" does not make a
     * permanent failure a warning.
     */
    if (bounce_class_is_warning(t)) {
        char *pre = strndup(t, cut);
        if (!pre) {
            free(fv);
            return MERR_NOMEM;
        }
        delay = bounce_class_is_warning(pre);
        final = !delay;
        free(pre);
    }
    /* X-Failed-Recipients: a comma-separated list (Exim, Gmail) */
    if (in->failed) {
        const char *p = in->failed;
        while (*p && nf < BOUNCE_RCPT_MAX) {
            size_t k = strcspn(p, ",");
            char a[BOUNCE_ADDR_MAX];
            char tmp[BOUNCE_ADDR_MAX];
            snprintf(tmp, sizeof tmp, "%.*s", (int)(k < sizeof tmp ? k : sizeof tmp - 1), p);
            bounce_addr_copy(a, tmp);
            if (a[0] && strchr(a, '@')) {
                fv[nf].pos = cut;
                snprintf(fv[nf].addr, sizeof fv[nf].addr, "%s", a);
                for (size_t i = 0; next_addr(t, cut, i, &s, &l); i = s + l)
                    if (same_addr(t + s, l, a)) {
                        fv[nf].pos = s;
                        named = 1;
                        break;
                    }
                nf++;
            }
            p += k;
            if (*p)
                p++;
        }
    }
    nh = nf;
    /*
     * Else every address of the text before the copy, in order, but not a
     * contact offered for help (nor that address anywhere else), and not an
     * addressee echoed from the returned message's header unless the text
     * names nobody else. When the header names nobody the text names while
     * the text lists failed addresses of its own (a relay rewrote the
     * header, or the report was edited), the text, which says what
     * happened to each, wins over the bare list (the addressee pass is not
     * tried then).
     */
    passes = !nh ? 2 : named ? 0 : 1;
    for (int pass = 0; nf == nh && pass < passes; pass++) {
        char contacts[4][BOUNCE_ADDR_MAX];
        size_t nc = 0;
        for (size_t i = 0; nc < 4 && next_addr(t, cut, i, &s, &l); i = s + l)
            if (in_contact_line(t, s) && l < BOUNCE_ADDR_MAX)
                snprintf(contacts[nc++], BOUNCE_ADDR_MAX, "%.*s", (int)l, t + s);
        for (size_t i = 0; nf < BOUNCE_RCPT_MAX && next_addr(t, cut, i, &s, &l); i = s + l) {
            int dup = 0;
            if ((is_own(t + s, l, in->own) && !in_recipient_slot(t, s, l)) ||
                in_skipped_line(t, s) || (pass == 0 && in_addressee_line(t, s)))
                continue;
            for (size_t k = 0; k < nc && !dup; k++)
                dup = same_addr(t + s, l, contacts[k]);
            for (size_t k = nh; k < nf && !dup; k++)
                dup = same_addr(t + s, l, fv[k].addr);
            if (dup)
                continue;
            fv[nf].pos = s;
            snprintf(fv[nf].addr, sizeof fv[nf].addr, "%.*s", (int)l, t + s);
            nf++;
        }
    }
    if (nf > nh && nh) { /* the text's list replaces the header's */
        memmove(fv, fv + nh, (nf - nh) * sizeof *fv);
        nf -= nh;
    }
    for (size_t k = 0; k < nf && !e; k++) {
        size_t from = fv[k].pos < cut ? fv[k].pos + strlen(fv[k].addr) : cut;
        size_t to = cut;
        for (size_t j = 0; j < nf; j++) /* up to the next recipient's line */
            if (fv[j].pos > fv[k].pos && fv[j].pos < to && fv[j].pos < cut) {
                size_t ls = fv[j].pos;
                while (ls > from && t[ls - 1] != '\n')
                    ls--;
                to = ls > from ? ls : fv[j].pos;
            }
        /* or up to another recipient named again (Mail.Ru: the list twice, in two languages) */
        for (size_t i = from, ss, sl; i < to && next_addr(t, to, i, &ss, &sl); i = ss + sl) {
            int again = 0;
            for (size_t j = 0; j < nf && !again; j++)
                again = j != k && same_addr(t + ss, sl, fv[j].addr);
            if (again) {
                size_t ls = ss;
                while (ls > from && t[ls - 1] != '\n')
                    ls--;
                to = ls > from ? ls : ss;
                break;
            }
        }
        e = add_rcpt(r, fv[k].addr, t, fv[k].pos < cut ? fv[k].pos : (size_t)-1, from, to, t, cut,
                     final, delay);
    }
    free(fv);
    return e;
}
