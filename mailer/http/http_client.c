/*
 * http_client.c: who the client is: the address that rate limits, the
 * request log and the consent records (optin_ip, confirmed_ip) name.
 *
 * It is the socket peer, unless that peer is in [http] trusted_proxies
 * (addresses or networks); then it is read from X-Forwarded-For. Every
 * X-Forwarded-For line of the request is taken, in order, joined with
 * commas (RFC 9110 §5.3: repeated lines are one list; HAProxy and others
 * add a line of their own rather than extend the client's), and the list
 * is read right to left: each entry a trusted proxy added is skipped, and
 * the first entry that is not a trusted proxy is the client. Entries left
 * of it are whatever the client claimed and are never read. An entry that
 * is not an address where the client should be (garbage, "unknown") leaves
 * the request to the nearest trusted hop: its client cannot be named, so
 * it is not given a fresh bucket of its own.
 *
 * Addresses are parsed strictly (net_ip_parse) and written in one spelling
 * (net_ip_text; an IPv4-mapped IPv6 address as IPv4), and the key a limit
 * counts under is the IPv4 address or the IPv6 /64 (net_ip_key), so a
 * client cannot multiply its allowance by respelling its address or by
 * walking its own /64.
 */
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "http_int.h"

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

void http_client_pick(const struct net_cidrs *trusted, const struct sockaddr *peer, const char *xff,
                      size_t len, char ip[NET_IP_TEXT], char key[NET_IP_TEXT])
{
    struct sockaddr_storage pick, e;
    size_t end = len;

    memset(&pick, 0, sizeof pick);
    if (peer && peer->sa_family == AF_INET)
        memcpy(&pick, peer, sizeof(struct sockaddr_in));
    else if (peer && peer->sa_family == AF_INET6)
        memcpy(&pick, peer, sizeof(struct sockaddr_in6));
    if (xff && pick.ss_family && net_cidrs_match(trusted, (const struct sockaddr *)&pick)) {
        /* right to left, while the hop that told us is trusted */
        while (end > 0) {
            size_t start = end;
            while (start > 0 && xff[start - 1] != ',')
                start--;
            if (blank(xff + start, end - start)) {
                end = start ? start - 1 : 0; /* an empty element (RFC 9110 §5.6.1) */
                continue;
            }
            if (net_ip_parse(xff + start, end - start, &e))
                break; /* not an address: stay with the trusted hop */
            pick = e;
            if (!net_cidrs_match(trusted, (const struct sockaddr *)&e))
                break; /* the client */
            end = start ? start - 1 : 0;
        }
    }
    if (!pick.ss_family) {
        strcpy(ip, "-");
        strcpy(key, "-");
        return;
    }
    net_ip_text((const struct sockaddr *)&pick, ip);
    net_ip_key((const struct sockaddr *)&pick, key);
}

struct xff_lines {
    struct buf b;
    int bad;
};

static enum MHD_Result xff_line(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    struct xff_lines *x = cls;
    (void)kind;
    if (k && v && !strcasecmp(k, "X-Forwarded-For")) {
        if ((x->b.len && buf_putc(&x->b, ',')) || buf_puts(&x->b, v))
            x->bad = 1;
    }
    return MHD_YES;
}

void http_client_ip(const struct net_cidrs *trusted, struct MHD_Connection *c, struct http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    struct xff_lines x = {.bad = 0};

    buf_init(&x.b, 16 * 1024); /* the header block is capped far below this anyway */
    if (sa && net_cidrs_match(trusted, sa))
        MHD_get_connection_values(c, MHD_HEADER_KIND, xff_line, &x);
    http_client_pick(trusted, sa, x.bad ? NULL : x.b.data, x.bad ? 0 : x.b.len, r->client_ip,
                     r->client_key);
    buf_free(&x.b);
}
