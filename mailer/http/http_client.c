/*
 * http_client.c: who the client is: the address that rate limits, the
 * request log and the consent records (optin_ip, confirmed_ip) name.
 *
 * It is the socket peer, unless that peer is one of [http]
 * trusted_proxies; then it is taken from X-Forwarded-For, right to left:
 * the right-most entry that is not itself a trusted proxy (entries further
 * left are whatever the client claimed, and a garbage entry makes
 * everything before it untrusted). The front calls http_client_ip once per
 * request, before any handler, and handlers read r->client_ip.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_int.h"

enum merr http_client_proxies_parse(struct http_proxies *s, const char *list)
{
    char *copy, *save = NULL, *tok;
    if (!list || !*list)
        return MERR_OK;
    copy = strdup(list);
    if (!copy)
        return merr_set(MERR_NOMEM, "out of memory");
    for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char **nv = realloc(s->v, (s->n + 1) * sizeof *nv);
        if (!nv || !(nv[s->n] = strdup(tok))) {
            if (nv)
                s->v = nv;
            free(copy);
            return merr_set(MERR_NOMEM, "out of memory");
        }
        s->v = nv;
        s->n++;
    }
    free(copy);
    return MERR_OK;
}

static int trusted_proxy(const struct http_proxies *s, const char *ip)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], ip) == 0)
            return 1;
    return 0;
}

/*
 * The client's address: the socket peer, unless that peer is a trusted
 * proxy; then the right-most X-Forwarded-For entry that is not itself a
 * trusted proxy (entries further left are whatever the client claimed).
 */
void http_client_ip(const struct http_proxies *s, struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const char *xff;

    snprintf(out, n, "-");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
    if (!s->n || !trusted_proxy(s, out))
        return;
    xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    if (!xff)
        return;
    char *copy = strdup(xff), *save = NULL, *tok, *pick = NULL;
    if (!copy)
        return;
    for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        unsigned char tmp[16];
        if (inet_pton(AF_INET, tok, tmp) != 1 && inet_pton(AF_INET6, tok, tmp) != 1) {
            pick = NULL; /* garbage: trust nothing before it */
            continue;
        }
        if (!trusted_proxy(s, tok))
            pick = tok;
    }
    if (pick)
        snprintf(out, n, "%s", pick);
    free(copy);
}

void http_client_proxies_free(struct http_proxies *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}
