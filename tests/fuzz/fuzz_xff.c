/*
 * fuzz_xff.c: who the client is (mailer/http/http_client.c) and the
 * address parser under it (mailer/core/net.c), on any bytes: the bytes are
 * the joined X-Forwarded-For lines of a request whose peer is a trusted
 * proxy (127.0.0.1; trusted: 127.0.0.0/8 and 10.0.0.0/8). Checked:
 *   - the client found is always a parseable address in one spelling
 *     (parsing its text gives the same text back);
 *   - when it is not a trusted proxy (a client was named), appending
 *     ", 10.1.2.3" (one more trusted hop) never changes it, and prefixing
 *     "1.2.3.4, " (whatever the client claims) never changes it;
 *   - each comma-separated piece alone, when net_ip_parse accepts it, has
 *     a text and a key that parse back.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http_int.h"
#include "net.h"

static struct net_cidrs trusted;

static void pick(const char *x, size_t n, char ip[NET_IP_TEXT], char key[NET_IP_TEXT])
{
    struct sockaddr_in peer;
    memset(&peer, 0, sizeof peer);
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    http_client_pick(&trusted, (const struct sockaddr *)&peer, x, n, ip, key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *x = (const char *)data;
    char ip[NET_IP_TEXT], key[NET_IP_TEXT], ip2[NET_IP_TEXT], key2[NET_IP_TEXT];
    char *more;
    struct sockaddr_storage ss;

    if (!trusted.n && net_cidrs_parse(&trusted, "127.0.0.0/8, 10.0.0.0/8", NULL))
        abort();
    pick(x, size, ip, key);
    FUZZ_CHECK(net_ip_parse(ip, strlen(ip), &ss) == MERR_OK, "the client is not an address");
    net_ip_text((struct sockaddr *)&ss, ip2);
    FUZZ_CHECK(!strcmp(ip, ip2), "the client's text is not its one spelling");

    more = malloc(size + 16);
    if (!more)
        return 0;
    if (!net_cidrs_match(&trusted, (struct sockaddr *)&ss)) { /* a client was named */
        memcpy(more, x, size);
        memcpy(more + size, ", 10.1.2.3", 10);
        pick(more, size + 10, ip2, key2);
        FUZZ_CHECK(!strcmp(ip, ip2) && !strcmp(key, key2),
                   "one more trusted hop changed the client");
        memcpy(more, "1.2.3.4, ", 9);
        memcpy(more + 9, x, size);
        pick(more, size + 9, ip2, key2);
        FUZZ_CHECK(!strcmp(ip, ip2), "an entry further left changed the client");
    }
    free(more);

    for (size_t a = 0; a <= size;) {
        size_t b = a;
        while (b < size && x[b] != ',')
            b++;
        if (net_ip_parse(x + a, b - a, &ss) == MERR_OK) {
            struct sockaddr_storage back;
            net_ip_text((struct sockaddr *)&ss, ip2);
            net_ip_key((struct sockaddr *)&ss, key2);
            FUZZ_CHECK(net_ip_parse(ip2, strlen(ip2), &back) == MERR_OK,
                       "an address's text does not parse");
            (void)net_addr_public((struct sockaddr *)&ss);
        }
        a = b + 1;
    }
    return 0;
}
