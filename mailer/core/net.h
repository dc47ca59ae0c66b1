/*
 * net.h: IP addresses as the security rules need them: which ones are
 * public, lists of networks, and one canonical spelling of an address.
 *
 * Used by the image fetch (refuse every address that is not public unicast,
 * on the address actually connected) and by the HTTP front (who the client
 * is behind proxies, and the key a rate limit counts under).
 */
#ifndef MAILER_CORE_NET_H
#define MAILER_CORE_NET_H

#include <stddef.h>
#include <sys/socket.h>

#include "err.h"

/* Longest text net_ip_canon or net_ip_key writes, with its NUL. */
#define NET_IP_TEXT 64

/*
 * 1 if `sa` (AF_INET or AF_INET6) is a public unicast address, 0 for
 * anything else: "this network", private (RFC 1918), shared CGNAT space
 * (RFC 6598), loopback, link-local (incl. 169.254.169.254, the cloud
 * metadata address), IETF protocol assignments, documentation and
 * benchmarking ranges, multicast, reserved and broadcast (RFC 6890
 * registries); for IPv6 also the unspecified address, unique-local
 * (fc00::/7), link- and site-local, multicast, discard-only, documentation,
 * and the IPv4 inside IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96)
 * and 6to4 (2002::/16) addresses, which must itself be public; Teredo is
 * refused. Other families: 0.
 */
int net_addr_public(const struct sockaddr *sa);

/* A list of networks ("10.0.0.0/8, 2001:db8::/32, 127.0.0.1"). */
struct net_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network bytes (4 used for AF_INET) */
    unsigned bits;          /* prefix length */
};

struct net_cidrs {
    struct net_cidr *v;
    size_t n;
};

/*
 * Parses `list` (networks or single addresses, separated by commas or
 * spaces; NULL or "" gives an empty list) into `out` (zeroed first; free
 * with net_cidrs_free). MERR_CONFIG "WHAT: "X" is not an address or
 * network" naming the bad entry (without "WHAT: " when `what` is NULL);
 * MERR_NOMEM.
 */
enum merr net_cidrs_parse(struct net_cidrs *out, const char *list, const char *what);

/* 1 if `sa` lies in one of the networks (an IPv4-mapped IPv6 address as its IPv4). */
int net_cidrs_match(const struct net_cidrs *s, const struct sockaddr *sa);

void net_cidrs_free(struct net_cidrs *s);

/*
 * Parses the address in s[0..len) as one entry of X-Forwarded-For or
 * Forwarded may spell it: an IPv4 dotted quad or IPv6 text, optionally in
 * brackets and/or followed by ":port" (IPv6 with a port only in brackets),
 * surrounded by spaces or tabs. Fills `ss` with the address (port 0), as
 * written: an IPv4-mapped IPv6 address stays AF_INET6 (net_ip_text,
 * net_ip_key and net_cidrs_match take it as its IPv4). MERR_INVAL if it is
 * none.
 */
enum merr net_ip_parse(const char *s, size_t len, struct sockaddr_storage *ss);

/*
 * The one text of an address (inet_ntop of the address net_ip_parse
 * gives; IPv4-mapped IPv6 as IPv4), written to out[NET_IP_TEXT].
 */
void net_ip_text(const struct sockaddr *sa, char out[NET_IP_TEXT]);

/*
 * The key a per-client limit counts under: the IPv4 address, or the /64
 * network of an IPv6 address ("2001:db8:1:2::/64": one home or phone gets
 * a whole /64, RFC 6177), written to out[NET_IP_TEXT].
 */
void net_ip_key(const struct sockaddr *sa, char out[NET_IP_TEXT]);

#endif
