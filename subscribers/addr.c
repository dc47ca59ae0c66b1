/*
 * addr.c: the address policy of addr.h, in one pass per part.
 *
 * The checks run from the most telling reason to the least: bytes that can
 * never be in an address (NUL, CR, LF, controls, bad UTF-8), then the
 * structures we refuse on purpose (display names, quoted strings,
 * comments, literals) so that "a b"@x.vn is reported as a quoted string
 * rather than as "contains a space", then the @, then each part. ASCII
 * domains never touch libidn2 (the import of a million rows goes through
 * here); a domain with non-ASCII bytes or an xn-- label is converted both
 * ways so the stored ASCII and Unicode forms agree and are lower-case.
 */
#include "addr.h"

#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* RFC 5322 §3.2.3 atext, besides letters and digits. */
static int is_atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* RFC 5321 §4.1.2 / RFC 5322 §3.2.3: dot-atom local part. */
static enum merr check_local(const char *p, size_t n)
{
    if (n == 0)
        return merr_setr(MERR_INVAL, "addr.local_empty", "local part (before the @) is empty");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return merr_setr(MERR_INVAL, "addr.local_unicode",
                             "local part \"%.*s\" has non-ASCII characters: they need SMTPUTF8 "
                             "(RFC 6531), which this server's SMTP library does not support",
                             (int)n, p);
    /* RFC 5321 §4.5.3.1.1 */
    if (n > 64)
        return merr_setr(MERR_INVAL, "addr.too_long", "local part is longer than 64 octets (%zu)",
                         n);
    if (p[0] == '.')
        return merr_setr(MERR_INVAL, "addr.local_dots", "local part starts with a dot");
    if (p[n - 1] == '.')
        return merr_setr(MERR_INVAL, "addr.local_dots", "local part ends with a dot");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '.') {
            if (p[i + 1] == '.')
                return merr_setr(MERR_INVAL, "addr.local_dots",
                                 "local part has consecutive dots (\"..\")");
            continue;
        }
        if (c == '\\')
            return merr_setr(MERR_INVAL, "addr.quoted",
                             "local part has a backslash (quoted pairs are not "
                             "accepted)");
        if (c == '[' || c == ']')
            return merr_setr(MERR_INVAL, "addr.literal",
                             "local part contains \"%c\" (address literals and "
                             "brackets are not accepted)",
                             c);
        if (!is_atext(c))
            return merr_setr(MERR_INVAL, "addr.local_char",
                             "local part contains \"%c\", which is only allowed in quoted strings "
                             "(not accepted)",
                             c);
    }
    return MERR_OK;
}

/*
 * RFC 1035 §2.3.1 / RFC 5321 §4.1.2 (Domain): ASCII labels of letters,
 * digits and hyphens, 1..63 octets, no hyphen at either end, at least two
 * labels, a TLD that is not all digits. `d` is lower-case already.
 */
static enum merr check_ascii_domain(const char *d, size_t n)
{
    size_t start = 0, labels = 0;

    if (n == 0)
        return merr_setr(MERR_INVAL, "addr.domain_empty", "domain (after the @) is empty");
    if (d[0] == '.')
        return merr_setr(MERR_INVAL, "addr.domain_dots", "domain starts with a dot");
    if (d[n - 1] == '.')
        return merr_setr(MERR_INVAL, "addr.domain_dots", "domain ends with a dot");
    /* RFC 5321 §4.5.3.1.2 */
    if (n > 253)
        return merr_setr(MERR_INVAL, "addr.too_long", "domain is longer than 253 octets (%zu)", n);
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '.') {
            char c = d[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return merr_setr(MERR_INVAL, "addr.domain_char",
                                 "domain contains \"%c\": only letters, digits, hyphens and dots "
                                 "are allowed",
                                 c);
            continue;
        }
        size_t len = i - start;
        const char *l = d + start;
        if (len == 0)
            return merr_setr(MERR_INVAL, "addr.domain_dots",
                             "domain has an empty label (consecutive dots)");
        if (len > 63)
            return merr_setr(MERR_INVAL, "addr.domain_invalid",
                             "domain label \"%.*s\" is longer than 63 octets (%zu)", (int)len, l,
                             len);
        if (l[0] == '-')
            return merr_setr(MERR_INVAL, "addr.domain_hyphen",
                             "domain label \"%.*s\" starts with a hyphen", (int)len, l);
        if (l[len - 1] == '-')
            return merr_setr(MERR_INVAL, "addr.domain_hyphen",
                             "domain label \"%.*s\" ends with a hyphen", (int)len, l);
        labels++;
        start = i + 1;
    }
    if (labels < 2)
        return merr_setr(MERR_INVAL, "addr.domain_no_dot",
                         "domain \"%.*s\" has no dot: a top-level domain alone cannot receive mail",
                         (int)n, d);
    {
        const char *tld = d + start - 1;
        while (tld > d && tld[-1] != '.')
            tld--;
        size_t tl = (size_t)(d + n - tld), digits = 0;
        for (size_t i = 0; i < tl; i++)
            digits += tld[i] >= '0' && tld[i] <= '9';
        if (digits == tl)
            return merr_setr(MERR_INVAL, "addr.domain_numeric",
                             "top-level domain \"%.*s\" is numeric (an IP address needs a domain "
                             "name here)",
                             (int)tl, tld);
    }
    return MERR_OK;
}

static int has_ace_label(const char *d, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if ((i == 0 || d[i - 1] == '.') && !strncmp(d + i, "xn--", 4))
            return 1;
    return 0;
}

/*
 * Converts the domain (UTF-8 or ASCII with xn-- labels) to its lower-case
 * ASCII form and Unicode form. IDNA 2008 (RFC 5891) with the UTS #46
 * mapping, which lower-cases and NFC-normalises what people type.
 */
/*
 * A few recent conversions per thread: imports repeat the same domains and
 * libidn2 (NFC, mapping, punycode both ways) costs far more than the rest
 * of the parse. Only successes are kept.
 */
#define IDN_CACHE 8
struct idn_entry {
    char in[256];
    char ascii[256];
    char uni[ADDR_MAX * 4];
};
static _Thread_local struct idn_entry idn_cache[IDN_CACHE];
static _Thread_local unsigned idn_next;

static const struct idn_entry *idn_cached(const char *dom, size_t n)
{
    for (int i = 0; i < IDN_CACHE; i++)
        if (idn_cache[i].in[0] && strlen(idn_cache[i].in) == n && !memcmp(idn_cache[i].in, dom, n))
            return &idn_cache[i];
    return NULL;
}

static enum merr idn_convert(const char *dom, size_t n, char *ascii, size_t asz, char *uni,
                             size_t usz);

static enum merr idn_domain(const char *dom, size_t n, char *ascii, size_t asz, char *uni,
                            size_t usz)
{
    const struct idn_entry *e = idn_cached(dom, n);
    char key[256];
    enum merr rc;
    if (e && strlen(e->ascii) < asz && strlen(e->uni) < usz) {
        strcpy(ascii, e->ascii);
        strcpy(uni, e->uni);
        return MERR_OK;
    }
    if (n >= sizeof key)
        return idn_convert(dom, n, ascii, asz, uni, usz);
    memcpy(key, dom, n); /* dom may be the same buffer as ascii */
    key[n] = '\0';
    rc = idn_convert(key, n, ascii, asz, uni, usz);
    if (rc == MERR_OK && n < sizeof idn_cache[0].in && strlen(ascii) < sizeof idn_cache[0].ascii &&
        strlen(uni) < sizeof idn_cache[0].uni) {
        struct idn_entry *slot = &idn_cache[idn_next++ % IDN_CACHE];
        memcpy(slot->in, key, n + 1);
        strcpy(slot->ascii, ascii);
        strcpy(slot->uni, uni);
    }
    return rc;
}

static enum merr idn_convert(const char *dom, size_t n, char *ascii, size_t asz, char *uni,
                             size_t usz)
{
    char tmp[1024];
    char *a = NULL, *u = NULL;
    enum merr rc = MERR_OK;
    int irc;

    if (n >= sizeof tmp)
        return merr_setr(MERR_INVAL, "addr.too_long", "domain is longer than 253 octets");
    memcpy(tmp, dom, n);
    tmp[n] = '\0';
    irc = idn2_to_ascii_8z(tmp, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (irc != IDN2_OK) {
        rc = merr_setr(MERR_INVAL, "addr.domain_invalid",
                       "domain \"%s\" is not a valid international domain name: %s", tmp,
                       idn2_strerror(irc));
        goto out;
    }
    if (a[0] == '\0') {
        /* UTS #46 deletes some characters (U+200B, U+00AD): nothing may be left */
        rc = merr_setr(MERR_INVAL, "addr.domain_invalid",
                       "domain \"%s\" has only characters that international domain names "
                       "ignore (such as a zero-width space): nothing is left of it",
                       tmp);
        goto out;
    }
    for (char *p = a; *p; p++)
        *p = lower(*p);
    irc = idn2_to_unicode_8z8z(a, &u, 0);
    if (irc != IDN2_OK) {
        rc = merr_setr(MERR_INVAL, "addr.domain_invalid",
                       "domain \"%s\" is not a valid international domain name: %s", tmp,
                       idn2_strerror(irc));
        goto out;
    }
    if (has_ace_label(a, strlen(a))) {
        /* a round trip catches xn-- labels that are not valid punycode */
        char *back = NULL;
        irc = idn2_to_ascii_8z(u, &back, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
        int same = irc == IDN2_OK && !strcmp(back, a);
        idn2_free(back);
        if (!same) {
            rc = merr_setr(MERR_INVAL, "addr.domain_invalid",
                           "domain \"%s\" has an invalid punycode (xn--) label", tmp);
            goto out;
        }
    }
    if (strlen(a) >= asz) {
        rc = merr_setr(MERR_INVAL, "addr.too_long",
                       "domain is longer than 253 octets in its ASCII form");
        goto out;
    }
    if (strlen(u) >= usz) {
        rc = merr_setr(MERR_INVAL, "addr.too_long", "domain is too long");
        goto out;
    }
    strcpy(ascii, a);
    strcpy(uni, u);
out:
    idn2_free(a);
    idn2_free(u);
    return rc;
}

enum merr addr_parse_n(const char *input, size_t n, struct addr *out)
{
    const char *p = input, *at = NULL, *dom;
    size_t ln, dn, nat = 0, bad;
    int ascii_dom = 1;
    char dascii[ADDR_MAX + 16], duni[ADDR_MAX * 4];
    enum merr rc;

    while (n && (*p == ' '))
        p++, n--;
    while (n && p[n - 1] == ' ')
        n--;
    if (n == 0)
        return merr_setr(MERR_INVAL, "addr.empty", "address is empty");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\0')
            return merr_setr(MERR_INVAL, "addr.bad_char", "address contains a NUL byte");
        if (c == '\r' || c == '\n')
            return merr_setr(MERR_INVAL, "addr.bad_char",
                             "address contains a line break (CR or LF)");
        if (c == '\t')
            return merr_setr(MERR_INVAL, "addr.bad_char", "address contains a tab");
        if (c < 0x20 || c == 0x7f)
            return merr_setr(MERR_INVAL, "addr.bad_char",
                             "address contains a control character (0x%02x)", c);
    }
    if (!utf8_valid(p, n, &bad))
        return merr_setr(MERR_INVAL, "addr.bad_char", "address is not valid UTF-8 (byte %zu)",
                         bad + 1);
    if (memchr(p, '<', n) || memchr(p, '>', n))
        return merr_setr(MERR_INVAL, "addr.display_name",
                         "address has angle brackets or a display name "
                         "(\"Name <a@b.vn>\"): give the bare address only");
    if (memchr(p, '"', n))
        return merr_setr(MERR_INVAL, "addr.quoted",
                         "address has a quoted string: quoted local parts are not "
                         "accepted (dot-atom only)");
    if (memchr(p, '(', n) || memchr(p, ')', n))
        return merr_setr(MERR_INVAL, "addr.quoted",
                         "address has a comment in parentheses: comments are not "
                         "accepted");
    if (memchr(p, ' ', n))
        return merr_setr(MERR_INVAL, "addr.space", "address contains a space");
    for (size_t i = 0; i < n; i++)
        if (p[i] == '@') {
            nat++;
            at = p + i;
        }
    if (nat == 0)
        return merr_setr(MERR_INVAL, "addr.no_at", "address has no @");
    if (nat > 1)
        return merr_setr(MERR_INVAL, "addr.many_at", "address has more than one @");
    ln = (size_t)(at - p);
    dom = at + 1;
    dn = n - ln - 1;
    rc = check_local(p, ln);
    if (rc)
        return rc;
    if (dn == 0)
        return merr_setr(MERR_INVAL, "addr.domain_empty", "domain (after the @) is empty");
    if (dom[0] == '[')
        return merr_setr(MERR_INVAL, "addr.literal",
                         "address literals like [1.2.3.4] or [IPv6:...] are not "
                         "accepted: give a domain name");
    for (size_t i = 0; i < dn; i++)
        if ((unsigned char)dom[i] >= 0x80)
            ascii_dom = 0;
    if (dn > 253 * 4)
        return merr_setr(MERR_INVAL, "addr.too_long", "domain is longer than 253 octets (%zu)", dn);
    if (ascii_dom) {
        /* RFC 5321 §4.5.3.1.2, checked before the copy: dascii holds 253 octets + NUL */
        if (dn > 253)
            return merr_setr(MERR_INVAL, "addr.too_long", "domain is longer than 253 octets (%zu)",
                             dn);
        for (size_t i = 0; i < dn; i++)
            dascii[i] = lower(dom[i]);
        dascii[dn] = '\0';
        rc = check_ascii_domain(dascii, dn);
        if (rc)
            return rc;
        if (has_ace_label(dascii, dn)) {
            rc = idn_domain(dascii, dn, dascii, sizeof dascii, duni, sizeof duni);
            if (rc)
                return rc;
        } else {
            memcpy(duni, dascii, dn + 1);
        }
    } else {
        /* cheap structural checks first: they give clearer reasons than libidn2 */
        if (dom[0] == '.')
            return merr_setr(MERR_INVAL, "addr.domain_dots", "domain starts with a dot");
        if (dom[dn - 1] == '.')
            return merr_setr(MERR_INVAL, "addr.domain_dots", "domain ends with a dot");
        for (size_t i = 0; i + 1 < dn; i++)
            if (dom[i] == '.' && dom[i + 1] == '.')
                return merr_setr(MERR_INVAL, "addr.domain_dots",
                                 "domain has an empty label (consecutive dots)");
        rc = idn_domain(dom, dn, dascii, sizeof dascii, duni, sizeof duni);
        if (rc)
            return rc;
        rc = check_ascii_domain(dascii, strlen(dascii));
        if (rc)
            return rc;
    }
    size_t an = strlen(dascii);
    /* RFC 5321 §4.5.3.1.3 (path <= 256 with the brackets: 254 for the address) */
    if (ln + 1 + an > 254)
        return merr_setr(MERR_INVAL, "addr.too_long", "address is longer than 254 octets (%zu)",
                         ln + 1 + an);
    size_t un = strlen(duni);
    if (ln + 1 + un >= sizeof out->unicode)
        return merr_setr(MERR_INVAL, "addr.too_long", "address is too long");
    memcpy(out->ascii, p, ln);
    out->ascii[ln] = '@';
    memcpy(out->ascii + ln + 1, dascii, an + 1);
    memcpy(out->unicode, p, ln);
    out->unicode[ln] = '@';
    memcpy(out->unicode + ln + 1, duni, un + 1);
    for (size_t i = 0; i < ln + 1 + an + 1; i++)
        out->key[i] = lower(out->ascii[i]);
    return MERR_OK;
}

enum merr addr_parse(const char *input, struct addr *out)
{
    if (!input)
        return merr_setr(MERR_INVAL, "addr.empty", "address is empty");
    return addr_parse_n(input, strlen(input), out);
}
