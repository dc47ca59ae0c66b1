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
 * tier the first reason whose pattern matches wins. Phrases in other
 * languages come from the bounces MTAs localise (German, French, Spanish,
 * Italian, Portuguese, Dutch, Russian, Polish, Japanese, Chinese,
 * Vietnamese).
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

/* ---- text patterns ------------------------------------------------------- */

struct pattern_set {
    const char *reason;
    const char *const *pats;
};

/* Tier 0: "user unknown" phrases that hold a tier-1 word ("not listed in"). */
static const char *const P_USER_FIRST[] = {"not listed in domino directory",
                                           "not listed in public name",
                                           "not listed in the directory", NULL};

/* Tier 1: specific causes that must win over a "bad mailbox" status. */
/* a refusal of MAIL FROM is about us, never about the recipient's mailbox */
static const char *const P_SENDER_CMD[] = {"after mail from", "in reply to mail from",
                                           "mail from command", "to mail from", NULL};
static const char *const P_SYSTEM[] = {"command died with status",
                                       "command output:",
                                       "loops back to myself",
                                       "mail loop",
                                       "routing loop",
                                       "too many hops",
                                       "hop count exceeded",
                                       "local configuration error",
                                       "mail system configuration",
                                       "internal server error",
                                       "system error",
                                       "insufficient system",
                                       "unable to deliver to a local mailbox",
                                       "mailer error",
                                       "delivery to a pipe",
                                       "pipe to |",
                                       NULL};
static const char *const P_RELAY[] = {"relay access denied",
                                      "relaying denied",
                                      "relaying not allowed",
                                      "relay not permitted",
                                      "unable to relay",
                                      "not permitted to relay",
                                      "we do not relay",
                                      "relay denied",
                                      "not allowed to relay",
                                      "no relaying",
                                      "relaying mail to * is not allowed",
                                      "relay prohibited",
                                      "open relay",
                                      NULL};
static const char *const P_FULL[] = {"mailbox full",
                                     "mailbox is full",
                                     "mail box full",
                                     "mailbox size limit",
                                     "quota exceeded",
                                     "over quota",
                                     "overquota",
                                     "over the quota",
                                     "exceeded storage allocation",
                                     "exceeds quota",
                                     "quota exceed",
                                     "mailbox would exceed",
                                     "would exceed mailbox quota",
                                     "inbox is full",
                                     "disk quota",
                                     "not enough space",
                                     "is over its quota",
                                     "is over their quota",
                                     "over his quota",
                                     "user is over",
                                     "storage quota",
                                     "out of storage",
                                     "mailfolder is full",
                                     "mailbox exceeded",
                                     "mailbox has exceeded",
                                     "exceeded its storage",
                                     "exceeded the storage",
                                     "mailbox is over",
                                     "insufficient storage",
                                     "full mailbox",
                                     "postfach voll",
                                     "postfach ist voll",
                                     "speicherplatz",
                                     "boîte pleine",
                                     "boite pleine",
                                     "boîte aux lettres pleine",
                                     "boite aux lettres pleine",
                                     "quota dépassé",
                                     "buzón lleno",
                                     "buzon lleno",
                                     "casella piena",
                                     "caixa postal cheia",
                                     "caixa de correio cheia",
                                     "cota excedida",
                                     "hộp thư đầy",
                                     "hộp thư đã đầy",
                                     "ящик переполнен",
                                     "邮箱已满",
                                     "容量を超え",
                                     "容量超過",
                                     NULL};
static const char *const P_TOOBIG[] = {"message too large",
                                       "message too big",
                                       "message is too large",
                                       "message is too big",
                                       "message size exceeds",
                                       "message size limit",
                                       "size exceeds",
                                       "exceeds the maximum size",
                                       "exceeded the maximum size",
                                       "message length exceeds",
                                       "too large for",
                                       "message file too big",
                                       "mail size limit",
                                       "maximum message size",
                                       "larger than the current system limit",
                                       "exceeds size limit",
                                       "size limit exceeded",
                                       "exceeds the size limit",
                                       "mail too large",
                                       "message exceeds",
                                       "nachricht zu gro",
                                       "message trop volumineux",
                                       NULL};
static const char *const P_MOVED[] = {"mailbox has moved",
                                      "address has moved",
                                      "account has moved",
                                      "user has moved",
                                      "recipient has moved",
                                      "mailbox moved",
                                      "has moved to",
                                      "address has changed",
                                      "has a new address",
                                      "new address is",
                                      NULL};
static const char *const P_NOMAIL[] = {"does not accept mail",
                                       "does not accept email",
                                       "doesn't accept mail",
                                       "accepts no mail",
                                       "null mx",
                                       "nullmx",
                                       "does not receive mail",
                                       "domain does not accept",
                                       "not receive any mail",
                                       "this domain is not used for mail",
                                       NULL};
static const char *const P_DISABLED[] = {"account disabled",
                                         "account is disabled",
                                         "account has been disabled",
                                         "mailbox disabled",
                                         "mailbox is disabled",
                                         "mailbox has been disabled",
                                         "disabled mailbox",
                                         "user disabled",
                                         "suspended",
                                         "account inactive",
                                         "account is inactive",
                                         "inactive account",
                                         "deactivated",
                                         "mailbox is frozen",
                                         "account is locked",
                                         "account locked",
                                         "account has been locked",
                                         "discontinued",
                                         "temporarily disabled",
                                         "user account is unavailable",
                                         "mailbox is inactive",
                                         "mailbox inactive",
                                         "deaktiviert",
                                         "désactivé",
                                         "desactivado",
                                         "disattivato",
                                         NULL};
static const char *const P_AUTH[] = {"spf",
                                     "dkim",
                                     "dmarc",
                                     "reverse dns",
                                     "reverse-dns",
                                     "rdns",
                                     "ptr record",
                                     "no ptr",
                                     "not authenticated",
                                     "authentication required",
                                     "sender authentication",
                                     "authenticate",
                                     "5.7.26",
                                     "5.7.25",
                                     "5.7.27",
                                     "helo",
                                     "ehlo",
                                     NULL};
static const char *const P_BLOCK[] = {"blocked",
                                      "blacklist",
                                      "black list",
                                      "blocklist",
                                      "block list",
                                      "denylist",
                                      "deny list",
                                      "listed in",
                                      "listed on",
                                      "listed at",
                                      "rbl",
                                      "dnsbl",
                                      "spamhaus",
                                      "spamcop",
                                      "sorbs",
                                      "barracuda",
                                      "reputation",
                                      "client host rejected",
                                      "sender address rejected",
                                      "sender rejected",
                                      "sender denied",
                                      "sender verify failed",
                                      "sender verification",
                                      "sender domain",
                                      "banned",
                                      "sender is not allowed",
                                      "gesperrt",
                                      "bloqueado",
                                      "заблокирован",
                                      "not accepting mail from",
                                      "administrative prohibition",
                                      "sender unknown",
                                      "bad sender",
                                      "rejected for policy",
                                      "recipient preferences",
                                      "email preferences of the person",
                                      NULL};
static const char *const P_SPAM[] = {"spam", "junk",  "unsolicited", "bulk mail",
                                     "ube",  "phish", "scam",        NULL};
static const char *const P_CONTENT[] = {"virus",
                                        "malware",
                                        "infected",
                                        "dangerous attachment",
                                        "banned attachment",
                                        "attachment not allowed",
                                        "mime type not allowed",
                                        "content rejected",
                                        "message content",
                                        "content filter",
                                        "contains a prohibited",
                                        "header error",
                                        "invalid header",
                                        "message not rfc",
                                        "rfc 5322",
                                        "rfc5322",
                                        "rfc 2822",
                                        "rfc2822",
                                        "bare lf",
                                        "bare newline",
                                        "8bit",
                                        "8-bit",
                                        NULL};
static const char *const P_RATE[] = {"too many connections",
                                     "too many messages",
                                     "too many recipients",
                                     "rate limit",
                                     "ratelimit",
                                     "rate-limit",
                                     "throttl",
                                     "too many concurrent",
                                     "exceeded the rate",
                                     "sending rate",
                                     "slow down",
                                     "too fast",
                                     "connection limit",
                                     "frequency limit",
                                     "sent too many",
                                     "receiving mail at a rate",
                                     NULL};

/* Tier 2: the address or the domain does not exist. */
static const char *const P_DOMAIN[] = {"host unknown",
                                       "unknown host",
                                       "host not found",
                                       "domain not found",
                                       "no such domain",
                                       "domain does not exist",
                                       "domain doesn't exist",
                                       "domain name not found",
                                       "unrouteable address",
                                       "unroutable address",
                                       "name or service not known",
                                       "name service error",
                                       "nxdomain",
                                       "no mx record",
                                       "no mx for",
                                       "mx lookup",
                                       "unknown domain",
                                       "domain unknown",
                                       "invalid domain",
                                       "host or domain name not found",
                                       "no valid host",
                                       "no valid mx",
                                       "couldn't find any host",
                                       "could not find any host",
                                       "bad destination system",
                                       "unable to resolve",
                                       "dns error",
                                       "domain is not valid",
                                       "no such host",
                                       "domain could not be found",
                                       "hostname not found",
                                       "domäne existiert nicht",
                                       "domaine inexistant",
                                       "dominio no existe",
                                       NULL};
static const char *const P_USER[] = {"user unknown",
                                     "unknown user",
                                     "no such user",
                                     "no such mailbox",
                                     "no such recipient",
                                     "no such address",
                                     "no such account",
                                     "no such person",
                                     "no such local user",
                                     "unknown recipient",
                                     "recipient unknown",
                                     "unknown mailbox",
                                     "mailbox unknown",
                                     "mailbox not found",
                                     "mailbox does not exist",
                                     "mailbox doesn't exist",
                                     "mailbox unavailable",
                                     "mailbox is unavailable",
                                     "mailbox not available",
                                     "mailbox is not available",
                                     "mailbox name not allowed",
                                     "mailbox invalid",
                                     "invalid mailbox",
                                     "user not found",
                                     "user does not exist",
                                     "user doesn't exist",
                                     "user not exist",
                                     "user not known",
                                     "recipient not found",
                                     "recipient does not exist",
                                     "recipient not exist",
                                     "recipient doesn't exist",
                                     "recipient invalid",
                                     "invalid recipient",
                                     "bad recipient",
                                     "address does not exist",
                                     "address doesn't exist",
                                     "address unknown",
                                     "unknown address",
                                     "address not found",
                                     "address could not be found",
                                     "address couldn't be found",
                                     "address is invalid",
                                     "not a valid mailbox",
                                     "not a valid recipient",
                                     "not a valid user",
                                     "is not a known user",
                                     "no mailbox here by that name",
                                     "no mailbox by that name",
                                     "no account by that name",
                                     "account does not exist",
                                     "account doesn't exist",
                                     "account not found",
                                     "doesn't have a * account",
                                     "does not have a * account",
                                     "tried to reach does not exist",
                                     "recipient address rejected: access denied",
                                     "recipient address rejected: user unknown",
                                     "recipient address rejected: invalid user",
                                     "recipient address rejected: unknown",
                                     "recipnotfound",
                                     "recipientnotfound",
                                     "recipient not found by smtp address lookup",
                                     "address rejected",
                                     "badrcptto",
                                     "validrcptto",
                                     "not listed in domino directory",
                                     "not listed in public name",
                                     "unknown local part",
                                     "unknown local-part",
                                     "unknown virtual user",
                                     "not our customer",
                                     "no longer accepts mail",
                                     "is no longer valid",
                                     "no longer valid",
                                     "wrong or no longer valid",
                                     "no one at this address",
                                     "missing home directory",
                                     "bad destination mailbox",
                                     "destination mailbox address invalid",
                                     "does not exist",
                                     "doesn't exist",
                                     "not a local address",
                                     "unknown or illegal alias",
                                     "user unknown in",
                                     "unbekannt",
                                     "existiert nicht",
                                     "gibt es nicht",
                                     "utilisateur inconnu",
                                     "destinataire inconnu",
                                     "adresse inconnue",
                                     "n'existe pas",
                                     "usuario desconocido",
                                     "usuario no existe",
                                     "no existe",
                                     "destinatario desconocido",
                                     "utente sconosciuto",
                                     "utente inesistente",
                                     "non esiste",
                                     "inesistente",
                                     "usuário desconhecido",
                                     "usuario desconhecido",
                                     "não existe",
                                     "nao existe",
                                     "onbekende gebruiker",
                                     "bestaat niet",
                                     "gebruiker onbekend",
                                     "пользователь не найден",
                                     "нет такого пользователя",
                                     "не существует",
                                     "nie istnieje",
                                     "不存在",
                                     "存在しません",
                                     "ディレクトリのリストにありません",
                                     "宛先不明",
                                     "không tồn tại",
                                     NULL};

/* Tier 3: vague words, used when neither the tiers above nor the status say more. */
static const char *const P_EXPIRED[] = {"delivery time expired",
                                        "retry time",
                                        "retry timeout",
                                        "message expired",
                                        "expired",
                                        "in the queue too long",
                                        "queue too long",
                                        "giving up",
                                        "gave up",
                                        "could not be delivered within",
                                        "undeliverable for",
                                        "maximum time",
                                        "too old",
                                        "has not been delivered for",
                                        "delivery attempts",
                                        "was not delivered for",
                                        NULL};
static const char *const P_NETWORK[] = {"connection refused",
                                        "connection timed out",
                                        "timed out",
                                        "timeout",
                                        "no route to host",
                                        "network is unreachable",
                                        "lost connection",
                                        "connection reset",
                                        "could not connect",
                                        "unable to connect",
                                        "connect to",
                                        "connection closed",
                                        "connection dropped",
                                        "host not responding",
                                        "not reachable",
                                        "unreachable",
                                        NULL};
static const char *const P_TEMP[] = {"greylist",
                                     "grey list",
                                     "graylist",
                                     "try again later",
                                     "try later",
                                     "please retry",
                                     "temporarily deferred",
                                     "temporarily rejected",
                                     "temporary failure",
                                     "temporarily unavailable",
                                     "temporary error",
                                     "temporarily",
                                     NULL};
static const char *const P_POLICY_WEAK[] = {
    "rejected", "refused",    "denied",    "not allowed",   "not authorized", "unauthorized",
    "policy",   "prohibited", "forbidden", "access denied", "not permitted",  NULL};

static const struct pattern_set tier1[] = {
    {"user_unknown", P_USER_FIRST},
    {"policy", P_SENDER_CMD},
    {"system", P_SYSTEM},
    {"policy", P_RELAY},
    {"mailbox_full", P_FULL},
    {"too_big", P_TOOBIG},
    {"moved", P_MOVED},
    {"no_mail", P_NOMAIL},
    {"disabled", P_DISABLED},
    {"policy", P_AUTH},
    {"policy", P_BLOCK},
    {"spam", P_SPAM},
    {"content", P_CONTENT},
    {"rate_limited", P_RATE},
    {NULL, NULL},
};
static const struct pattern_set tier2[] = {
    {"domain_unknown", P_DOMAIN},
    {"user_unknown", P_USER},
    {NULL, NULL},
};
static const struct pattern_set tier3[] = {
    {"expired", P_EXPIRED},    {"temporary", P_TEMP}, {"network", P_NETWORK},
    {"policy", P_POLICY_WEAK}, {NULL, NULL},
};

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

static const char *tier_reason(const char *folded, const struct pattern_set *tier)
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
    r = tier_reason(f, tier1);
    if (!r)
        r = tier_reason(f, tier2);
    free(f);
    return r;
}

static const char *const P_WARNING[] = {"this is a warning",
                                        "warning message only",
                                        "will be retried",
                                        "will retry",
                                        "still trying",
                                        "no action is required",
                                        "not yet been delivered",
                                        "has been delayed",
                                        "delivery delayed",
                                        "delayed mail",
                                        "(delay)",
                                        "will keep trying",
                                        "continue to try",
                                        "still being retried",
                                        NULL};

int bounce_class_is_warning(const char *text)
{
    char *f = text ? fold(text) : NULL;
    int w = 0;
    if (!f)
        return 0;
    for (const char *const *p = P_WARNING; *p && !w; p++)
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

static int is_hard(const char *reason)
{
    return reason && bounce_reason_class(reason) == BOUNCE_HARD;
}

void bounce_class_decide(struct bounce_rcpt *r, const char *text, int final)
{
    const char *reason = NULL, *weak = NULL;
    char *f = NULL;
    int perm, temp;

    if (!strcmp(r->action, "delivered") || !strcmp(r->action, "relayed") ||
        !strcmp(r->action, "expanded") || (!r->action[0] && r->status[0] == '2')) {
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
        reason = tier_reason(f, tier1);
        if (!reason) {
            reason = tier_reason(f, tier2);
            /*
             * "unknown user" only after the message data was sent, with no
             * X.1.x status to back it, is a content filter's refusal more
             * often than a missing mailbox: the address passed RCPT TO.
             */
            if (reason == R("user_unknown") && strncmp(r->status + 1, ".1.", 3) != 0 &&
                (strstr(f, "end of data") || strstr(f, "after data") || strstr(f, "data command") ||
                 strstr(f, ">>> data")))
                reason = R("policy");
            /*
             * RFC 3463 X.2.1 is a disabled mailbox. "User unknown" beside it
             * is a missing mailbox only when the server said so at RCPT;
             * otherwise (a filter, a report that names no stage) believe the
             * softer code.
             */
            if (reason == R("user_unknown") && !strncmp(r->status + 1, ".2.1", 4) &&
                !strstr(f, "rcpt"))
                reason = R("disabled");
        }
        weak = tier_reason(f, tier3);
    }
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
    if (reason == R("no_mail") && !perm) {
        /* a null MX seen through a temporary code may be a DNS accident */
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
