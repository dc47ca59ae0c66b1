/*
 * transport_helo.c: the name the mailer gives in EHLO.
 *
 * RFC 5321 §4.1.1.1 wants the client's fully qualified domain name, or an
 * address literal. It is [smtp] helo when set, else the machine's FQDN: its
 * name canonicalized by the resolver, as `hostname -f` does. A name
 * without a dot ("vm", "localhost") is refused with what to set, because
 * receivers reject or score down mail from a bare host name; `mailer
 * doctor` reports the same.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

/* RFC 5321 §4.1.2: Domain (LDH labels, at least two) or an address literal in brackets. */
static int helo_ok(const char *s)
{
    size_t n = strlen(s), label = 0, dots = 0;
    if (n == 0 || n > 255)
        return 0;
    if (s[0] == '[')
        return n > 2 && s[n - 1] == ']' && strspn(s + 1, "0123456789abcdefABCDEF.:IPv6") == n - 2;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
            dots++;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return dots > 0 && label > 0 && s[n - 1] != '-';
}

enum merr transport_helo_name(const struct config *cfg, char out[256])
{
    struct addrinfo hints, *ai = NULL;
    char name[256];

    if (cfg->smtp_helo) {
        if (!helo_ok(cfg->smtp_helo))
            return merr_set(MERR_CONFIG,
                            "[smtp] helo \"%s\": not a fully qualified domain name "
                            "(letters, digits, '-' in labels joined by dots, like "
                            "mail.example.org) nor an address literal like [192.0.2.1] "
                            "(RFC 5321 §4.1.1.1)",
                            cfg->smtp_helo);
        snprintf(out, 256, "%s", cfg->smtp_helo);
        return MERR_OK;
    }
    if (gethostname(name, sizeof name) != 0 || !name[0])
        snprintf(name, sizeof name, "localhost");
    name[sizeof name - 1] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_CANONNAME;
    hints.ai_family = AF_UNSPEC;
    if (!strchr(name, '.') && getaddrinfo(name, NULL, &hints, &ai) == 0 && ai && ai->ai_canonname &&
        strlen(ai->ai_canonname) < sizeof name)
        snprintf(name, sizeof name, "%s", ai->ai_canonname);
    if (ai)
        freeaddrinfo(ai);
    if (!helo_ok(name))
        return merr_set(MERR_CONFIG,
                        "[smtp] helo is not set and this machine's name \"%s\" is not a fully "
                        "qualified domain name: receivers reject or mark down mail whose EHLO "
                        "is a bare host name; set [smtp] helo to this machine's public name "
                        "(e.g. mail.example.org, with an A record pointing here)",
                        name);
    snprintf(out, 256, "%s", name);
    return MERR_OK;
}
