/*
 * bounce_class.c: from what a report says about one recipient (RFC 3464
 * Action, RFC 3463 status, SMTP reply code, diagnostic prose) to a class
 * and a reason of the fixed vocabulary.
 *
 * The vocabulary (docs/bounces.md) is small on purpose: the policy acts on
 * the class, people read the reason. Only four reasons are hard, and only
 * when the failure is final: user_unknown, domain_unknown, moved, no_mail.
 * Everything that may pass another day is soft. A wrong hard bounce
 * silences a real reader for good, so the rules lean soft: text that names
 * a block, a full mailbox, a policy or a mailer error wins over a status
 * code that says "bad mailbox" (several MTAs send 5.1.1 for all of those),
 * and a status code wins over the vague words ("rejected", "refused").
 *
 * Text matching works on the text folded to lower case with runs of white
 * space made one space. Patterns are substrings; a '*' in a pattern stands
 * for at most 80 bytes of anything, so "user * unknown" covers "user
 * <a@b> unknown". Patterns are grouped in tiers, tried in order; within a
 * tier the first reason whose pattern matches wins. The patterns are in
 * bounce_words.c.
 *
 * RFC 3463 §3 (and RFC 5248's registry) gives the meaning of the status
 * subjects and details used in status_reason().
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_int.h"

/* ---- vocabulary --------------------------------------------------------- */

struct reason_def {
    const char *name;
    enum bounce_class cls;
};

static const struct reason_def reason_defs[] = {
    {"user_unknown", BOUNCE_HARD},
    {"domain_unknown", BOUNCE_HARD},
    {"moved", BOUNCE_HARD},
    {"no_mail", BOUNCE_HARD},
    {"mailbox_full", BOUNCE_SOFT},
    {"disabled", BOUNCE_SOFT},
    {"too_big", BOUNCE_SOFT},
    {"spam", BOUNCE_SOFT},
    {"content", BOUNCE_SOFT},
    {"policy", BOUNCE_SOFT},
    {"rate_limited", BOUNCE_SOFT},
    {"network", BOUNCE_SOFT},
    {"system", BOUNCE_SOFT},
    {"expired", BOUNCE_SOFT},
    {"delayed", BOUNCE_SOFT},
    {"temporary", BOUNCE_SOFT},
    {"failed", BOUNCE_SOFT},
    {"abuse", BOUNCE_COMPLAINT},
    {"fraud", BOUNCE_COMPLAINT},
    {"virus", BOUNCE_COMPLAINT},
    {"opt_out", BOUNCE_COMPLAINT},
    {"other", BOUNCE_COMPLAINT},
    {"vacation", BOUNCE_AUTO_REPLY},
    {"challenge", BOUNCE_AUTO_REPLY},
    {"auto_reply", BOUNCE_AUTO_REPLY},
    {"delivered", BOUNCE_DELIVERED},
    {"not_spam", BOUNCE_UNKNOWN},
    {"auth_failure", BOUNCE_UNKNOWN},
    {"unsubscribe", BOUNCE_UNKNOWN},
    {"unknown", BOUNCE_UNKNOWN},
};
#define NREASONS (sizeof reason_defs / sizeof reason_defs[0])

const char *const bounce_reasons[] = {
    "user_unknown", "domain_unknown", "moved",    "no_mail",      "mailbox_full", "disabled",
    "too_big",      "spam",           "content",  "policy",       "rate_limited", "network",
    "system",       "expired",        "delayed",  "temporary",    "failed",       "abuse",
    "fraud",        "virus",          "opt_out",  "other",        "vacation",     "challenge",
    "auto_reply",   "delivered",      "not_spam", "auth_failure", "unsubscribe",  "unknown",
    NULL,
};

enum bounce_class bounce_reason_class(const char *reason)
{
    for (size_t i = 0; reason && i < NREASONS; i++)
        if (!strcmp(reason_defs[i].name, reason))
            return reason_defs[i].cls;
    return BOUNCE_UNKNOWN;
}

/* The vocabulary's own copy of a reason name (the pointer the report keeps). */
static const char *R(const char *name)
{
    for (size_t i = 0; i < NREASONS; i++)
        if (!strcmp(reason_defs[i].name, name))
            return reason_defs[i].name;
    return "unknown";
}

const char *bounce_class_name(enum bounce_class c)
{
    switch (c) {
    case BOUNCE_HARD:
        return "hard";
    case BOUNCE_SOFT:
        return "soft";
    case BOUNCE_COMPLAINT:
        return "complaint";
    case BOUNCE_AUTO_REPLY:
        return "auto-reply";
    case BOUNCE_DELIVERED:
        return "delivered";
    case BOUNCE_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}

int bounce_class_parse(const char *name)
{
    for (int c = BOUNCE_HARD; c <= BOUNCE_UNKNOWN; c++)
        if (name && !strcmp(bounce_class_name((enum bounce_class)c), name))
            return c;
    return -1;
}

/* ---- codes ---------------------------------------------------------------- */

int bounce_class_find_status(const char *t, char out[16])
{
    for (const char *p = t; p && *p; p++) {
        const char *q = p;
        int a, b;
        if (*p != '2' && *p != '4' && *p != '5')
            continue;
        if (p > t && (isdigit((unsigned char)p[-1]) || p[-1] == '.'))
            continue;
        if (q[1] != '.')
            continue;
        q += 2;
        for (a = 0; a < 3 && isdigit((unsigned char)q[a]); a++)
            ;
        if (a == 0 || q[a] != '.')
            continue;
        q += a + 1;
        for (b = 0; b < 3 && isdigit((unsigned char)q[b]); b++)
            ;
        if (b == 0 || isdigit((unsigned char)q[b]) ||
            (q[b] == '.' && isdigit((unsigned char)q[b + 1])))
            continue;
        size_t n = (size_t)(q + b - p);
        memcpy(out, p, n);
        out[n] = '\0';
        return 1;
    }
    return 0;
}

int bounce_class_find_reply(const char *t, char out[4])
{
    for (const char *p = t; p && *p; p++) {
        if ((*p != '2' && *p != '4' && *p != '5') || !isdigit((unsigned char)p[1]) ||
            !isdigit((unsigned char)p[2]))
            continue;
        if (p > t && (isalnum((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == '-' ||
                      p[-1] == '#' || p[-1] == '/' || p[-1] == ':'))
            continue;
        if (p[3] && p[3] != ' ' && p[3] != '-' && p[3] != '\t' && p[3] != '\n' && p[3] != ')')
            continue;
        if (p[1] > '5')
            continue;
        memcpy(out, p, 3);
        out[3] = '\0';
        return 1;
    }
    return 0;
}

/* Folds ASCII to lower case and runs of white space to one space, capped. */
static char *fold(const char *t)
{
    size_t n = strlen(t), k = 0;
    char *o;
    if (n > 16384)
        n = 16384;
    o = malloc(n + 1);
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (k && o[k - 1] != ' ')
                o[k++] = ' ';
        } else {
            o[k++] = (char)tolower(c);
        }
    }
    o[k] = '\0';
    return o;
}

/*
 * 1 if `pat` occurs in `t`. A pattern holds at most one '*', which matches
 * at most 80 bytes. Patterns of three bytes or fewer ("ube", "spf",
 * "rbl") must stand alone: no letter right before or after.
 */
static int match(const char *t, const char *pat)
{
    const char *star = strchr(pat, '*');
    size_t pl = star ? (size_t)(star - pat) : strlen(pat);
    size_t tl = strlen(t);
    const char *p = t, *end = t + tl;

    while (p < end && (p = memmem(p, (size_t)(end - p), pat, pl)) != NULL) {
        if (!star) {
            if (pl > 3 ||
                ((p == t || !isalpha((unsigned char)p[-1])) && !isalpha((unsigned char)p[pl])))
                return 1;
        } else {
            const char *rest = star + 1, *q = p + pl;
            size_t rl = strlen(rest);
            for (size_t k = 0; k <= 80 && q + k + rl <= end; k++)
                if (memcmp(q + k, rest, rl) == 0)
                    return 1;
        }
        p++;
    }
    return 0;
}

static const char *tier_reason(const char *folded, const struct bounce_words *tier)
{
    for (; tier->reason; tier++)
        for (const char *const *p = tier->pats; *p; p++)
            if (match(folded, *p))
                return R(tier->reason);
    return NULL;
}

const char *bounce_class_text_reason(const char *text)
{
    char *f = text ? fold(text) : NULL;
    const char *r = NULL;
    if (!f)
        return NULL;
    r = tier_reason(f, bounce_words_tier1);
    if (!r)
        r = tier_reason(f, bounce_words_tier2);
    if (!r)
        r = tier_reason(f, bounce_words_user_weak);
    free(f);
    return r;
}

int bounce_class_is_warning(const char *text)
{
    char *f = text ? fold(text) : NULL;
    int w = 0;
    if (!f)
        return 0;
    for (const char *const *p = bounce_words_warning; *p && !w; p++)
        w = match(f, *p);
    free(f);
    return w;
}

/*
 * RFC 3463 §3 subject.detail to a reason; NULL when the code says nothing
 * specific (X.0.0, unknown details).
 */
static const char *status_reason(const char *status)
{
    int cls, subj, det;
    if (!status || sscanf(status, "%d.%d.%d", &cls, &subj, &det) != 3)
        return NULL;
    if (cls == 2)
        return R("delivered");
    switch (subj) {
    case 1: /* addressing */
        switch (det) {
        case 1: /* bad destination mailbox address */
        case 3: /* bad destination mailbox address syntax */
            return R("user_unknown");
        case 2: /* bad destination system address */
            return R("domain_unknown");
        case 6: /* destination mailbox has moved */
            return R("moved");
        case 10: /* RFC 7505: recipient address has null MX */
            return R("no_mail");
        case 7: /* bad sender's mailbox syntax */
        case 8: /* bad sender's system address */
            return R("policy");
        }
        return NULL;
    case 2: /* mailbox */
        switch (det) {
        case 1:
            return R("disabled");
        case 2:
            return R("mailbox_full");
        case 3:
            return R("too_big");
        case 4:
            return R("system");
        }
        return NULL;
    case 3: /* mail system */
        if (det == 4)
            return R("too_big");
        return det ? R("system") : NULL;
    case 4: /* network and routing */
        switch (det) {
        case 1:
        case 2:
            return R("network");
        case 4: /* unable to route: no MX, no address, an illegal domain name */
            return R("domain_unknown");
        case 7:
            return R("expired");
        case 5:
            return R("rate_limited");
        case 0:
            return NULL;
        }
        return R("system");
    case 5: /* protocol */
        if (det == 3)
            return R("rate_limited");
        return det ? R("system") : NULL;
    case 6: /* content */
        return R("content");
    case 7:            /* security and policy */
        if (det == 13) /* RFC 5248: user account disabled */
            return R("disabled");
        if (det == 17 || det == 18) /* RFC 7293: mailbox / domain owner changed */
            return R("moved");
        return R("policy");
    }
    return NULL;
}

/* RFC 3463 §3.2: X.1.7 and X.1.8 are the sender's address, not the recipient's. */
static int sender_status(const char *status)
{
    return status[0] && !strncmp(status + 1, ".1.", 3) &&
           (!strcmp(status + 4, "7") || !strcmp(status + 4, "8"));
}

/* An RFC 3463 addressing status (X.1.x) about the recipient. */
static int rcpt_address_status(const char *status)
{
    return status[0] && !strncmp(status + 1, ".1.", 3) && !sender_status(status);
}

/*
 * No status, or one that names no cause: X.0.0, and RFC 3463 §3.4/§3.6
 * X.3.0 "other or undefined mail system status" and X.5.0 "other or
 * undefined protocol status", which say the exchange failed but nothing of
 * the mailbox (qmail reports every 5xx reply as #5.5.0).
 */
static int no_specific_status(const char *status)
{
    return !status[0] || !strcmp(status + 1, ".0.0") || !strcmp(status + 1, ".3.0") ||
           !strcmp(status + 1, ".5.0");
}

/* The text says the reply came to RCPT TO (bounce_words_rcpt_stage). */
static int rcpt_stage(const char *folded)
{
    for (const char *const *p = bounce_words_rcpt_stage; *p; p++)
        if (strstr(folded, *p))
            return 1;
    return 0;
}

/*
 * Receiving hosts whose "user unknown" names a missing mailbox where the
 * general rules below would doubt it (a reply after the data, a bare
 * "User unknown" that names no stage), as their operators answer and
 * sisimai's Rhost classes (NTTDOCOMO, KDDI) record. Each names the host or
 * the recipient's domain as it appears in the report, and the reply.
 */
static const struct mailbox_host {
    const char *host, *words;
} MAILBOX_HOSTS[] = {
    /*
     * NTT DOCOMO's MX (mfsmax.docomo.ne.jp) takes every RCPT TO and answers
     * "550 Unknown user <a>" to the end of DATA for a subscriber it does
     * not have.
     */
    {"mfsmax.docomo.ne.jp", "unknown user"},
    /*
     * KDDI's au (ezweb.ne.jp, au.com; MX msmx.au.com, lsean.ezweb.ne.jp)
     * answers "550 <a>: User unknown" for a subscriber it does not have;
     * its "550 : User unknown", naming nobody, is its filter's refusal.
     */
    {"ezweb.ne.jp", ">: user unknown"},
    {"@au.com", ">: user unknown"},
    {".au.com", ">: user unknown"},
    /*
     * Microsoft's consumer mail (Hotmail, Outlook.com): "550 5.5.0
     * Requested action not taken: mailbox unavailable" is an address its
     * lookup did not find (Microsoft's NDR reference for 5.5.0; sisimai's
     * Rhost::Microsoft). RFC 5321 gives these words to any 550, so only
     * from these hosts.
     */
    {"hotmail.com", "requested action not taken: mailbox unavailable"},
    {"outlook.com", "requested action not taken: mailbox unavailable"},
    {NULL, NULL},
};

/*
 * The report's words are a known host's answer for a missing mailbox: the
 * host named in the words or as the recipient's MTA (an RFC 3463 X.2.x
 * status beside them still decides below: the mailbox exists).
 */
static int known_mailbox_host(const char *folded, const char *mta)
{
    for (const struct mailbox_host *h = MAILBOX_HOSTS; h->host; h++)
        if ((strstr(folded, h->host) || strstr(mta, h->host)) && strstr(folded, h->words))
            return 1;
    return 0;
}

/* The text names the reporting system's own directory (bounce_words_directory). */
static int names_directory(const char *folded)
{
    for (const char *const *p = bounce_words_directory; *p; p++)
        if (strstr(folded, *p))
            return 1;
    return 0;
}

static int is_hard(const char *reason)
{
    return reason && bounce_reason_class(reason) == BOUNCE_HARD;
}

void bounce_class_decide(struct bounce_rcpt *r, const char *text, int final)
{
    const char *reason = NULL, *weak = NULL;
    char *f = NULL;
    int perm, temp;

    /*
     * RFC 3464 §2.3.3's delivered, relayed, expanded; Postfix's address
     * verification report (sendmail -bv, verify(8)) says "deliverable"
     * of an address that would be delivered (with a 2.x.x status).
     */
    if (!strcmp(r->action, "delivered") || !strcmp(r->action, "relayed") ||
        !strcmp(r->action, "expanded") ||
        (!strcmp(r->action, "deliverable") && r->status[0] == '2') ||
        (!r->action[0] && r->status[0] == '2')) {
        r->cls = BOUNCE_DELIVERED;
        r->reason = R("delivered");
        return;
    }
    if (!strcmp(r->action, "delayed")) {
        r->cls = BOUNCE_SOFT;
        r->reason = R("delayed");
        return;
    }
    perm = r->status[0] == '5' || (!r->status[0] && r->reply_code[0] == '5');
    temp = r->status[0] == '4' || (!r->status[0] && r->reply_code[0] == '4');

    if (text && (f = fold(text)) != NULL) {
        reason = tier_reason(f, bounce_words_tier1);
        if (!reason) {
            int bare = 0;
            reason = tier_reason(f, bounce_words_tier2);
            if (!reason)
                bare = (reason = tier_reason(f, bounce_words_user_weak)) != NULL;
            /*
             * "unknown user" only after the message data was sent, with no
             * X.1.x status to back it, is a content filter's refusal more
             * often than a missing mailbox: the address passed RCPT TO.
             */
            if (reason == R("user_unknown") && strncmp(r->status + 1, ".1.", 3) != 0 &&
                (strstr(f, "end of data") || strstr(f, "after data") || strstr(f, "data command") ||
                 strstr(f, ">>> data")) &&
                !known_mailbox_host(f, r->mta))
                reason = R("policy");
            /*
             * RFC 3463 X.2.1 is a disabled mailbox. "User unknown" beside it
             * is a missing mailbox only when the server said so at RCPT;
             * otherwise (a filter, a report that names no stage) believe the
             * softer code.
             */
            if (reason == R("user_unknown") && !strncmp(r->status + 1, ".2.1", 4) && !rcpt_stage(f))
                reason = R("disabled");
            /*
             * RFC 3463 X.1.7 / X.1.8: the server refused our sender address
             * ("Domain of sender address ... does not exist"); whatever the
             * words, the recipient's mailbox is not in question.
             */
            if ((reason == R("user_unknown") || reason == R("domain_unknown")) &&
                sender_status(r->status))
                reason = R("policy");
            /*
             * A bare "User unknown" / "No such user" is also what filters and
             * appliances answer to mail they refuse. Believe it only when an
             * X.1.x status backs it, or, with no specific status (or X.2.1,
             * above), the reply to RCPT TO (RFC 5321 §3.3: where a server
             * checks the mailbox); another specific status (5.7.1: refused by
             * policy) says it is not. Otherwise the status decides, or it is
             * a failure of unsure cause: soft, and repeated ones still
             * suppress by count.
             */
            if (bare && reason == R("user_unknown") && !rcpt_address_status(r->status) &&
                !((no_specific_status(r->status) || !strncmp(r->status + 1, ".2.1", 4)) &&
                  (rcpt_stage(f) || known_mailbox_host(f, r->mta))))
                reason = NULL; /* the status or the vague words decide */
            /*
             * RFC 3463 X.7.x: refused for security or policy. Postfix's
             * access(5) REJECT with a text of its own answers "5.7.1 <a@b>:
             * Recipient address rejected: User unknown" as readily as its
             * recipient table answers 5.1.1: beside an X.7 status the words
             * are the site's text, and the status says what was decided.
             */
            if (reason == R("user_unknown") && !strncmp(r->status + 1, ".7.", 3))
                reason = R("policy");
            /*
             * RFC 3463 X.0.0 is "other undefined status": the reporting MTA
             * knew no more than that the delivery failed. Words beside it
             * that are no SMTP reply (no code), name no stage, no known
             * host and no directory of the reporting system's own are text
             * of unknown origin, not a server's verdict on the mailbox: a
             * failure of unsure cause, soft (repeated ones still suppress
             * by count).
             */
            if (reason == R("user_unknown") && !strcmp(r->status + 1, ".0.0") &&
                !r->reply_code[0] && !rcpt_stage(f) && !known_mailbox_host(f, r->mta) &&
                !names_directory(f))
                reason = NULL;
        }
        /*
         * Exchange Online's directory-based edge blocking refuses a
         * recipient its tenant does not have with "550 5.4.1 Recipient
         * address rejected: Access denied" (Microsoft's NDR reference for
         * 5.4.1): X.4.1 is RFC 3463's "no answer from host", but with these
         * words the mailbox does not exist. Postfix's own "Access denied"
         * (an access(5) REJECT, 5.7.1) stays a policy refusal.
         */
        if (!reason && !strcmp(r->status + 1, ".4.1") &&
            strstr(f, "recipient address rejected: access denied"))
            reason = R("user_unknown");
        weak = tier_reason(f, bounce_words_tier3);
    }
    /*
     * RFC 7504 §3: 521 "host does not accept mail" and 556 "domain does not
     * accept mail" say the destination takes no mail at all, whatever the
     * status beside them (dragonfly's "521 5.3.2 ... System not accepting
     * network messages"); RFC 7505's null MX is 556 5.1.10.
     */
    if (!reason && (!strcmp(r->reply_code, "521") || !strcmp(r->reply_code, "556")))
        reason = R("no_mail");
    if (!reason)
        reason = status_reason(r->status);
    if (!reason)
        reason = weak;
    free(f);
    if (reason == R("delivered")) /* a 2.x.x status in a failure report */
        reason = NULL;
    if (!reason) {
        if (!strcmp(r->action, "failed") || perm || final)
            reason = R("failed");
        else if (temp)
            reason = R("temporary");
        else
            reason = R("unknown");
    }
    /*
     * A hard reason is hard only when the failure is final: the MTA gave up
     * (Action: failed, a prose bounce that is not a warning) or the code is
     * permanent. A 4xx "user unknown" the MTA is still retrying is soft.
     */
    if (reason == R("no_mail") && (temp || (!perm && !final))) {
        /*
         * a null MX seen through a temporary code may be a DNS accident; with
         * no code at all, a final report (Exim's "This is a permanent error")
         * says the MTA gave up on it
         */
        r->cls = BOUNCE_SOFT;
        r->reason = R("temporary");
        return;
    }
    if (is_hard(reason) && !(!strcmp(r->action, "failed") || perm || final)) {
        r->cls = BOUNCE_SOFT;
        r->reason = R("temporary");
        return;
    }
    r->reason = reason;
    r->cls = bounce_reason_class(reason);
    if (r->cls != BOUNCE_HARD && r->cls != BOUNCE_SOFT && r->cls != BOUNCE_UNKNOWN) {
        r->cls = BOUNCE_SOFT; /* a failure is never a complaint or an auto-reply */
        r->reason = R("failed");
    }
}
