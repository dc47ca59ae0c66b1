/*
 * outbox.c: the outbox's pure parts: state names, Message-IDs, VERP
 * addresses and the retry schedule. Everything that touches SQL is in
 * outbox_store.c.
 *
 * Identifiers derived from secrets use HMAC-SHA256, truncated to 80 bits
 * and written in lowercase hex: local parts may be case-folded by relays
 * (RFC 5321 §2.4 allows it, many do), so the MAC must survive lower-casing
 * and is compared after folding. The Message-ID hashes the envelope id
 * under the send's random salt: fixed at creation, the same on every retry,
 * and unguessable across sends.
 */
#include "outbox.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "enc.h"

#define MAC_BYTES 10 /* 80 bits, 20 hex digits */

static const char *const state_names[] = {
    [OUTBOX_QUEUED] = "queued",     [OUTBOX_SENDING] = "sending", [OUTBOX_SENT] = "sent",
    [OUTBOX_DEFERRED] = "deferred", [OUTBOX_FAILED] = "failed",   [OUTBOX_CANCELLED] = "cancelled",
};

static const char *const kind_names[OUTBOX_KINDS] = {"share", "digest", "confirm"};

const char *outbox_kind_name(enum outbox_kind k)
{
    if ((int)k < 0 || (int)k >= OUTBOX_KINDS)
        return "?";
    return kind_names[k];
}

int outbox_kind_parse(const char *name)
{
    for (int i = 0; name && i < OUTBOX_KINDS; i++)
        if (!strcmp(kind_names[i], name))
            return i;
    return -1;
}

const char *outbox_state_name(enum outbox_state s)
{
    if ((int)s < 0 || s > OUTBOX_CANCELLED)
        return "?";
    return state_names[s];
}

int outbox_state_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i <= OUTBOX_CANCELLED; i++)
        if (!strcmp(state_names[i], name))
            return i;
    return -1;
}

/* The MAC of "label:id" under `prepared` (a prepared key) if not NULL, else under `key`. */
static void mac_hex(const char *key, struct crypto_hmac *prepared, const char *label, long long id,
                    char out[2 * MAC_BYTES + 1])
{
    unsigned char mac[CRYPTO_SHA256_LEN];
    char msg[64];
    int n = snprintf(msg, sizeof msg, "%s:%lld", label, id);
    if (prepared)
        crypto_hmac_sha256_with(prepared, mac, msg, (size_t)n);
    else
        crypto_hmac_sha256(mac, key, strlen(key), msg, (size_t)n);
    enc_hex(out, mac, MAC_BYTES);
}

void outbox_message_id(const char *salt, struct crypto_hmac *salt_key, long long envelope_id,
                       const char *domain, char out[128])
{
    char mac[2 * MAC_BYTES + 1];
    mac_hex(salt, salt_key, "message-id", envelope_id, mac);
    /* RFC 5322 §3.6.4: id-left "." id-right; dot-atom-text on both sides */
    snprintf(out, 128, "%lld.%s@%s", envelope_id, mac, domain);
}

void outbox_verp_token(const char *secret, struct crypto_hmac *secret_key, long long envelope_id,
                       char out[64])
{
    char mac[2 * MAC_BYTES + 1];
    mac_hex(secret, secret_key, "verp", envelope_id, mac);
    snprintf(out, 64, "%lld.%s", envelope_id, mac);
}

void outbox_verp_of_token(const char *token, const char *domain, char out[128])
{
    snprintf(out, 128, "bounces+%s@%s", token, domain);
}

void outbox_verp(const char *secret, long long envelope_id, const char *domain, char out[128])
{
    char tok[64];
    outbox_verp_token(secret, NULL, envelope_id, tok);
    snprintf(out, 128, "bounces+%s@%s", tok, domain);
}

enum merr outbox_verp_parse(const char *secret, const char *address, long long *envelope_id)
{
    static const char prefix[] = "bounces+";
    char mac[2 * MAC_BYTES + 1], want[2 * MAC_BYTES + 1];
    const char *p = address;
    long long id = 0;
    int digits = 0;

    *envelope_id = 0;
    if (!address || strncasecmp(p, prefix, sizeof prefix - 1) != 0)
        return merr_set(MERR_INVAL, "not a VERP address: no bounces+ prefix");
    p += sizeof prefix - 1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 18)
            return merr_set(MERR_INVAL, "not a VERP address: id too long");
        id = id * 10 + (*p - '0');
    }
    if (!digits || id <= 0 || *p != '.')
        return merr_set(MERR_INVAL, "not a VERP address: bad envelope id");
    p++;
    for (int i = 0; i < 2 * MAC_BYTES; i++, p++) {
        if (!isxdigit((unsigned char)*p))
            return merr_set(MERR_INVAL, "not a VERP address: bad MAC");
        mac[i] = (char)tolower((unsigned char)*p);
    }
    mac[2 * MAC_BYTES] = '\0';
    if (*p != '@' || !p[1])
        return merr_set(MERR_INVAL, "not a VERP address: no domain");
    mac_hex(secret, NULL, "verp", id, want);
    if (!crypto_equal(mac, want, 2 * MAC_BYTES))
        return merr_set(MERR_INVAL, "VERP address with a forged or altered MAC");
    *envelope_id = id;
    return MERR_OK;
}

enum outbox_state outbox_backoff(time_t now, time_t created_at, int attempts, int base_seconds,
                                 int max_seconds, int max_age_seconds, time_t *next)
{
    long long delay = base_seconds > 0 ? base_seconds : 1;
    time_t deadline = created_at + max_age_seconds;

    *next = now;
    if (now >= deadline)
        return OUTBOX_FAILED;
    for (int i = 1; i < attempts && delay < max_seconds; i++)
        delay *= 2;
    if (delay > max_seconds)
        delay = max_seconds;
    *next = now + (time_t)delay;
    if (*next > deadline)
        *next = deadline;
    return OUTBOX_DEFERRED;
}
