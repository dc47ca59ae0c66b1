/*
 * dns.c: TXT records through libresolv (res_nquery, ns_parserr).
 *
 * A private resolver state per call (res_ninit), so a given name server
 * changes nothing for the rest of the process; two tries of two seconds
 * each, so a dead server costs a few seconds, not the system default of
 * minutes. The answer is parsed by libresolv's ns_initparse/ns_parserr,
 * which check every offset against the message; the TXT strings inside a
 * record are then walked here, each length checked against the record.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX 65536

void dns_txt_free(struct dns_txt *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->rec[i]);
    free(t->rec);
    t->rec = NULL;
    t->n = 0;
}

/* Joins one TXT RDATA's character-strings into a new string. */
static enum merr txt_join(const unsigned char *p, size_t len, char **out)
{
    struct buf b;
    size_t i = 0;
    enum merr rc = MERR_OK;

    *out = NULL;
    buf_init(&b, ANSWER_MAX);
    while (!rc && i < len) {
        size_t n = p[i++];
        if (n > len - i) {
            rc = merr_set(MERR_INVAL, "DNS: a TXT string runs past its record");
            break;
        }
        if (memchr(p + i, 0, n)) {
            rc = merr_set(MERR_INVAL, "DNS: a TXT string holds a NUL byte");
            break;
        }
        rc = buf_append(&b, p + i, n);
        i += n;
    }
    if (!rc) {
        *out = buf_detach(&b, NULL);
        if (!*out)
            rc = merr_set(MERR_NOMEM, "out of memory");
    }
    buf_free(&b);
    return rc;
}

enum merr dns_txt_answer(const unsigned char *msg, size_t len, struct dns_txt *out)
{
    ns_msg h;
    int count;
    enum merr rc = MERR_OK;

    out->rec = NULL;
    out->n = 0;
    if (len > ANSWER_MAX || ns_initparse(msg, (int)len, &h) != 0)
        return merr_set(MERR_INVAL, "DNS: the answer does not parse");
    count = ns_msg_count(h, ns_s_an);
    out->rec = calloc(DNS_TXT_MAX, sizeof *out->rec);
    if (!out->rec)
        return merr_set(MERR_NOMEM, "out of memory");
    for (int i = 0; i < count && out->n < DNS_TXT_MAX; i++) {
        ns_rr rr;
        if (ns_parserr(&h, ns_s_an, i, &rr) != 0) {
            rc = merr_set(MERR_INVAL, "DNS: answer record %d does not parse", i);
            break;
        }
        if (ns_rr_type(rr) != ns_t_txt || ns_rr_class(rr) != ns_c_in)
            continue; /* a CNAME on the way, say */
        rc = txt_join(ns_rr_rdata(rr), ns_rr_rdlen(rr), &out->rec[out->n]);
        if (rc)
            break;
        out->n++;
    }
    if (rc)
        dns_txt_free(out);
    return rc;
}

/* "A.B.C.D" or "A.B.C.D:PORT" into `sa`. */
static int parse_server(const char *spec, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    long port = 53;
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, spec, n);
    host[n] = 0;
    if (colon) {
        char *end;
        port = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || port <= 0 || port > 65535)
            return -1;
    }
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int dns_nameserver_ok(const char *spec)
{
    struct sockaddr_in sa;
    return parse_server(spec, &sa) == 0;
}

enum merr dns_txt_lookup(const char *nameserver, const char *name, struct dns_txt *out)
{
    struct __res_state st;
    unsigned char *answer = NULL;
    int len;
    enum merr rc;

    out->rec = NULL;
    out->n = 0;
    memset(&st, 0, sizeof st);
    if (res_ninit(&st) != 0)
        return merr_set(MERR_TEMPFAIL, "DNS: the resolver could not start (resolv.conf?)");
    st.retrans = 2;
    st.retry = 2;
    if (nameserver) {
        struct sockaddr_in sa;
        if (parse_server(nameserver, &sa) != 0) {
            res_nclose(&st);
            return merr_set(MERR_CONFIG, "name server \"%s\": expected A.B.C.D or A.B.C.D:PORT",
                            nameserver);
        }
        st.nsaddr_list[0] = sa;
        st.nscount = 1;
    }
    answer = malloc(ANSWER_MAX);
    if (!answer) {
        res_nclose(&st);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    len = res_nquery(&st, name, ns_c_in, ns_t_txt, answer, ANSWER_MAX);
    if (len < 0) {
        switch (st.res_h_errno) {
        case HOST_NOT_FOUND: /* NXDOMAIN */
        case NO_DATA:        /* the name exists, no TXT */
            rc = MERR_OK;
            break;
        case NO_RECOVERY:
            rc = merr_set(MERR_INVAL, "DNS: %s: the query was refused as malformed", name);
            break;
        default:
            rc = merr_set(MERR_TEMPFAIL, "DNS: no answer for %s (timeout or server failure)", name);
            break;
        }
    } else {
        rc = dns_txt_answer(answer, (size_t)len, out);
        if (rc)
            rc = merr_wrap(rc, "%s", name);
    }
    free(answer);
    res_nclose(&st);
    return rc;
}
