/*
 * outbox.c: the outbox's pure parts: state names, Message-IDs, VERP
 * addresses and the retry schedule. Everything that touches SQL is in
 * outbox_store.c.
 *
 * Identifiers derived from secrets use HMAC-SHA256, truncated to 80 bits
 * and written in lowercase hex: local parts may be case-folded by relays
 * (RFC 5321 §2.4 allows it, many do), so the MAC must survive lower-casing
 * and is compared after folding.
 *
 * The Message-ID reveals no internal id (issue 11): its 32 hex digits are
 * a 128-bit block, the envelope id (64 bits, big-endian) and a tag (the
 * first 64 bits of HMAC-SHA256 of "message-id:ID" under the send's random
 * salt), put through a keyed permutation: a 4-round Feistel network
 * (Luby-Rackoff) whose round function is HMAC-SHA256 under [mail] secret.
 * Without the secret the digits say nothing about the id or how many
 * messages went before; with it a bounce gets the envelope id back
 * (outbox_message_id_envelope), and the tag, checked against that
 * envelope's send, tells a genuine Message-ID from a made-up one. It is
 * fixed when the envelope is created (a retry is the same message), and two
 * envelopes never share one (a permutation of distinct blocks).
 */
#include "outbox.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "enc.h"

#define MAC_BYTES 10 /* 80 bits, 20 hex digits */

static const char *const state_names[] = {
    [OUTBOX_QUEUED] = "queued",     [OUTBOX_SENDING] = "sending", [OUTBOX_SENT] = "sent",
    [OUTBOX_DEFERRED] = "deferred", [OUTBOX_FAILED] = "failed",   [OUTBOX_CANCELLED] = "cancelled",
};

static const char *const kind_names[OUTBOX_KINDS] = {"share", "digest", "confirm", "breaking",
                                                     "test"};

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

/* HMAC-SHA256 under a prepared key if there is one, else under `key` */
static void hmac_any(struct crypto_hmac *k, const char *key, unsigned char out[CRYPTO_SHA256_LEN],
                     const void *msg, size_t n)
{
    if (k)
        crypto_hmac_sha256_with(k, out, msg, n);
    else
        crypto_hmac_sha256(out, key ? key : "", key ? strlen(key) : 0, msg, n);
}

#define FEISTEL_ROUNDS 4

/* The round function: 64 bits of HMAC-SHA256(secret, "message-id:ROUND:" HALF). */
static void feistel_f(struct crypto_hmac *k, const char *secret, int round,
                      const unsigned char half[8], unsigned char out[8])
{
    unsigned char msg[32], mac[CRYPTO_SHA256_LEN];
    int n = snprintf((char *)msg, sizeof msg, "message-id:%d:", round);
    memcpy(msg + n, half, 8);
    hmac_any(k, secret, mac, msg, (size_t)n + 8);
    memcpy(out, mac, 8);
}

static void message_id_make(struct crypto_hmac *secret_k, const char *secret,
                            struct crypto_hmac *salt_k, const char *salt, long long envelope_id,
                            const char *domain, char out[128])
{
    unsigned char l[8], r[8], f[8], tag[CRYPTO_SHA256_LEN], t[8];
    char msg[64], hex[33];
    int n = snprintf(msg, sizeof msg, "message-id:%lld", envelope_id);
    unsigned long long id = (unsigned long long)envelope_id;

    hmac_any(salt_k, salt, tag, msg, (size_t)n);
    for (int i = 0; i < 8; i++)
        l[i] = (unsigned char)(id >> (56 - 8 * i));
    memcpy(r, tag, 8);
    /* (L, R) -> (R, L xor F(R)) */
    for (int round = 0; round < FEISTEL_ROUNDS; round++) {
        feistel_f(secret_k, secret, round, r, f);
        for (int i = 0; i < 8; i++)
            t[i] = l[i] ^ f[i];
        memcpy(l, r, 8);
        memcpy(r, t, 8);
    }
    enc_hex(hex, l, 8);
    enc_hex(hex + 16, r, 8);
    /* RFC 5322 §3.6.4: id-left "@" id-right, dot-atom-text on both sides */
    snprintf(out, 128, "%s@%s", hex, domain);
}

void outbox_message_id(const char *secret, struct crypto_hmac *secret_key, const char *salt,
                       struct crypto_hmac *salt_key, long long envelope_id, const char *domain,
                       char out[128])
{
    message_id_make(secret_key, secret, salt_key, salt, envelope_id, domain, out);
}

long long outbox_message_id_envelope(const char *secret, const char *message_id)
{
    unsigned char l[8], r[8], f[8], t[8];
    unsigned long long id = 0;
    const char *p = message_id;

    if (!p)
        return 0;
    if (*p == '<')
        p++;
    for (int i = 0; i < 32; i++)
        if (!isxdigit((unsigned char)p[i]))
            return 0;
    if (p[32] != '@')
        return 0;
    for (int i = 0; i < 16; i++) {
        char c[3] = {p[2 * i], p[2 * i + 1], 0};
        (i < 8 ? l : r)[i % 8] = (unsigned char)strtoul(c, NULL, 16);
    }
    /* the inverse round: (L', R') -> (R' xor F(L'), L') */
    for (int round = FEISTEL_ROUNDS - 1; round >= 0; round--) {
        feistel_f(NULL, secret, round, l, f);
        for (int i = 0; i < 8; i++)
            t[i] = r[i] ^ f[i];
        memcpy(r, l, 8);
        memcpy(l, t, 8);
    }
    for (int i = 0; i < 8; i++)
        id = id << 8 | l[i];
    return id > 0 && id <= 0x7fffffffffffffffULL ? (long long)id : 0;
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
    snprintf(out, 128, OUTBOX_VERP_PREFIX "%s@%s", token, domain);
}

void outbox_verp(const char *secret, long long envelope_id, const char *domain, char out[128])
{
    char tok[64];
    outbox_verp_token(secret, NULL, envelope_id, tok);
    outbox_verp_of_token(tok, domain, out);
}

enum merr outbox_verp_parse(const char *secret, const char *address, long long *envelope_id)
{
    static const char prefix[] = OUTBOX_VERP_PREFIX;
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
