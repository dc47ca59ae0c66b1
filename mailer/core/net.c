/*
 * net.c: which addresses are public, lists of networks, one spelling of an
 * address.
 *
 * "Public" is decided on the bytes of the address, never on its text, so
 * every spelling a resolver or libcurl accepts for one address
 * (0x7f000001, 2130706433, 127.1, ::ffff:127.0.0.1) lands on the same
 * answer. The IPv4 rules are the special-purpose registry of RFC 6890 (as
 * updated by RFC 6598 and 8190) plus multicast (RFC 5771) and the reserved
 * 240/4; an IPv6 address is public only inside global unicast 2000::/3
 * (RFC 4291 §2.4) and outside its special-purpose blocks, and the address
 * forms that carry an IPv4 address (mapped, compatible, NAT64 RFC 6052,
 * 6to4 RFC 3056) are judged by that IPv4 address, since that is where the
 * packets end up.
 *
 * Parsing for X-Forwarded-For goes through inet_pton only (strict dotted
 * quads, no octal or hex parts), and the canonical text is inet_ntop of
 * the bytes, with IPv4-mapped addresses written as IPv4: six spellings of
 * one client are one client.
 */
#include "net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* ---- public or not ------------------------------------------------------ */

struct v4net {
    unsigned char a, b, c;
    unsigned bits;
};

/* RFC 6890 §2.2.2 and the blocks added since; multicast and 240/4 below. */
static const struct v4net v4_special[] = {
    {0, 0, 0, 8},       /* "this network" (RFC 1122) */
    {10, 0, 0, 8},      /* private (RFC 1918) */
    {100, 64, 0, 10},   /* shared address space, CGNAT (RFC 6598) */
    {127, 0, 0, 8},     /* loopback */
    {169, 254, 0, 16},  /* link-local, incl. cloud metadata (RFC 3927) */
    {172, 16, 0, 12},   /* private */
    {192, 0, 0, 24},    /* IETF protocol assignments (RFC 6890) */
    {192, 0, 2, 24},    /* TEST-NET-1 (RFC 5737) */
    {192, 88, 99, 24},  /* 6to4 relay anycast (RFC 7526) */
    {192, 168, 0, 16},  /* private */
    {198, 18, 0, 15},   /* benchmarking (RFC 2544) */
    {198, 51, 100, 24}, /* TEST-NET-2 */
    {203, 0, 113, 24},  /* TEST-NET-3 */
};

static int v4_public(const unsigned char *a)
{
    unsigned long ip =
        (unsigned long)a[0] << 24 | (unsigned long)a[1] << 16 | (unsigned long)a[2] << 8 | a[3];
    if (a[0] >= 224) /* multicast 224/4 (RFC 5771), reserved 240/4, broadcast */
        return 0;
    for (size_t i = 0; i < sizeof v4_special / sizeof v4_special[0]; i++) {
        const struct v4net *n = &v4_special[i];
        unsigned long net =
            (unsigned long)n->a << 24 | (unsigned long)n->b << 16 | (unsigned long)n->c << 8;
        unsigned long mask = 0xFFFFFFFFUL << (32 - n->bits) & 0xFFFFFFFFUL;
        if ((ip & mask) == net)
            return 0;
    }
    return 1;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static int v6_public(const unsigned char *a)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const unsigned char nat64[12] = {0, 0x64, 0xFF, 0x9B};

    if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12)) /* RFC 4291 §2.5.5.2, RFC 6052 */
        return v4_public(a + 12);
    if (all_zero(a, 12)) /* ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d */
        return !all_zero(a + 12, 3) && v4_public(a + 12);
    if ((a[0] & 0xE0) != 0x20) /* outside global unicast 2000::/3: ULA, link-local, multicast... */
        return 0;
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x00 && a[3] <= 0x01)
        return 0; /* 2001::/23 IETF protocol assignments, incl. Teredo 2001::/32 */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8)
        return 0;                     /* 2001:db8::/32 documentation (RFC 3849) */
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: the IPv4 in bits 16-47 (RFC 3056) */
        return v4_public(a + 2);
    if (a[0] == 0x3F && a[1] == 0xFF && (a[2] & 0xF0) == 0)
        return 0; /* 3fff::/20 documentation (RFC 9637) */
    return 1;
}

int net_addr_public(const struct sockaddr *sa)
{
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET)
        return v4_public(
            (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6)
        return v6_public(
            (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
    return 0;
}

/* ---- the bytes of an address ---------------------------------------------- */

/* Family and bytes of `sa`, an IPv4-mapped IPv6 address as IPv4; 0 for another family. */
static int addr_bytes(const struct sockaddr *sa, unsigned char out[16])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a =
            (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (!memcmp(a, mapped, 12)) {
            memcpy(out, a + 12, 4);
            return AF_INET;
        }
        memcpy(out, a, 16);
        return AF_INET6;
    }
    return 0;
}

static void fill(struct sockaddr_storage *ss, int family, const unsigned char *bytes)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, bytes, 4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, bytes, 16);
    }
}

/* ---- parsing ---------------------------------------------------------------- */

static int digits(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

enum merr net_ip_parse(const char *s, size_t len, struct sockaddr_storage *ss)
{
    char text[INET6_ADDRSTRLEN + 1];
    const char *host = s, *end;
    size_t hl;
    unsigned char a[16];
    int family;

    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    end = s + len;
    host = s;
    if (len && *s == '[') { /* "[v6]" or "[v6]:port" (RFC 7239 §6) */
        const char *rb = memchr(s, ']', len);
        if (!rb)
            return merr_set(MERR_INVAL, "not an IP address");
        host = s + 1;
        hl = (size_t)(rb - host);
        if (rb + 1 < end && (rb[1] != ':' || !digits(rb + 2, (size_t)(end - rb - 2), 5)))
            return merr_set(MERR_INVAL, "not an IP address");
        family = AF_INET6;
    } else {
        const char *colon = memchr(s, ':', len);
        hl = len;
        family = colon ? AF_INET6 : AF_INET;
        if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) { /* "a.b.c.d:port" */
            if (!digits(colon + 1, (size_t)(end - colon - 1), 5))
                return merr_set(MERR_INVAL, "not an IP address");
            hl = (size_t)(colon - s);
            family = AF_INET;
        }
    }
    if (hl == 0 || hl >= sizeof text)
        return merr_set(MERR_INVAL, "not an IP address");
    memcpy(text, host, hl);
    text[hl] = '\0';
    if (inet_pton(family, text, a) != 1)
        return merr_set(MERR_INVAL, "not an IP address");
    fill(ss, family, a);
    return MERR_OK;
}

void net_ip_text(const struct sockaddr *sa, char out[NET_IP_TEXT])
{
    unsigned char a[16];
    int family = addr_bytes(sa, a);
    if (!family || !inet_ntop(family, a, out, NET_IP_TEXT))
        strcpy(out, "-");
}

void net_ip_key(const struct sockaddr *sa, char out[NET_IP_TEXT])
{
    unsigned char a[16];
    int family = addr_bytes(sa, a);
    if (family == AF_INET6) {
        size_t n;
        memset(a + 8, 0, 8); /* the /64 */
        if (!inet_ntop(AF_INET6, a, out, NET_IP_TEXT - 4)) {
            strcpy(out, "-");
            return;
        }
        n = strlen(out);
        memcpy(out + n, "/64", 4);
        return;
    }
    if (!family || !inet_ntop(family, a, out, NET_IP_TEXT))
        strcpy(out, "-");
}

/* ---- lists of networks ------------------------------------------------------ */

enum merr net_cidrs_parse(struct net_cidrs *out, const char *list, const char *what)
{
    const char *p = list;
    memset(out, 0, sizeof *out);
    while (p && *p) {
        size_t n;
        const char *slash;
        struct net_cidr c;
        struct sockaddr_storage ss;
        struct net_cidr *nv;
        unsigned max;

        p += strspn(p, ", \t");
        n = strcspn(p, ", \t");
        if (!n)
            break;
        slash = memchr(p, '/', n);
        memset(&c, 0, sizeof c);
        if (net_ip_parse(p, slash ? (size_t)(slash - p) : n, &ss) ||
            (slash && !digits(slash + 1, (size_t)(p + n - slash - 1), 3)))
            goto bad;
        c.family = addr_bytes((const struct sockaddr *)&ss, c.addr);
        max = c.family == AF_INET ? 32 : 128;
        c.bits = slash ? (unsigned)atoi(slash + 1) : max;
        if (c.bits > max)
            goto bad;
        nv = realloc(out->v, (out->n + 1) * sizeof *nv);
        if (!nv) {
            net_cidrs_free(out);
            return merr_set(MERR_NOMEM, "out of memory");
        }
        out->v = nv;
        out->v[out->n++] = c;
        p += n;
        continue;
    bad:
        net_cidrs_free(out);
        return merr_set(MERR_CONFIG, "%s%s\"%.*s\" is not an address or network", what ? what : "",
                        what ? ": " : "", (int)(n > 100 ? 100 : n), p);
    }
    return MERR_OK;
}

int net_cidrs_match(const struct net_cidrs *s, const struct sockaddr *sa)
{
    unsigned char a[16];
    int family = addr_bytes(sa, a);
    if (!family)
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct net_cidr *c = &s->v[i];
        unsigned full = c->bits / 8, rest = c->bits % 8;
        if (c->family != family || memcmp(a, c->addr, full))
            continue;
        if (rest && ((a[full] ^ c->addr[full]) & (0xFF << (8 - rest)) & 0xFF))
            continue;
        return 1;
    }
    return 0;
}

void net_cidrs_free(struct net_cidrs *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}
