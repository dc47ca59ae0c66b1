/*
 * cli_doctor.c: `mailer doctor`: is this configuration fit to send list
 * mail that receivers accept?
 *
 * Checks what the sender controls against what Gmail, Yahoo and the RFCs
 * ask of a bulk sender, one line per check ("ok", "warn", "FAIL") with the
 * reason and the fix, then lists the DNS records to publish with why each
 * one matters:
 *   - delivery goes over SMTP; [site] base_url is https (RFC 8058
 *     one-click unsubscribe); the EHLO name is a fully qualified name
 *     (RFC 5321 §4.1.1.1); TLS is required;
 *   - DKIM (RFC 6376): signing is on, every From domain has its key, the
 *     key files are safe, and the key published at SELECTOR._domainkey.
 *     DOMAIN is this key (one record, parses, not revoked, not testing);
 *   - SPF (RFC 7208) on the return-path domain: exactly one v=spf1 record,
 *     not "+all", and the domain aligned with From for DMARC (RFC 7489 §3.1);
 *   - DMARC (RFC 7489): a v=DMARC1 record for the From domain (or a parent
 *     domain, the organizational domain approximated by dropping labels).
 * The DNS is asked through the system's resolver or --nameserver; with
 * --offline it is not asked and every record is listed to publish.
 *
 * Exit codes (scripts rely on them): 0 nothing to fix (warnings may be
 * printed), 2 something to fix (a FAIL line), 4 the DNS could not be asked
 * and nothing else failed (try again, or --offline), 1 usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "dkimkey.h"
#include "dkimsig.h"
#include "dns.h"
#include "transport.h"

static const char DOCTOR_USAGE[] =
    "usage: mailer doctor [--offline] [--nameserver A.B.C.D[:PORT]]\n\n"
    "Checks the configuration against what receivers ask of a bulk sender\n"
    "(https one-click unsubscribe, a fully qualified EHLO name, TLS, DKIM keys\n"
    "for every From domain, and the DKIM, SPF and DMARC records in the DNS) and\n"
    "prints what is missing, why, and the DNS records to publish.\n\n"
    "  --offline            do not ask the DNS; list every record to publish\n"
    "  --nameserver ADDR    ask this name server (IPv4, optional port) instead of\n"
    "                       the system's resolver\n\n"
    "exit codes: 0 nothing to fix (warnings may be printed), 1 usage,\n"
    "            2 something to fix, 4 the DNS could not be asked (and nothing\n"
    "            else failed): try again or use --offline.\n";

struct doctor {
    const struct config *cfg;
    const char *ns; /* --nameserver, or NULL */
    int offline;
    int fails, warns, dns_down;
    struct buf records; /* zone-file lines to publish, each after a "; why" line */
};

__attribute__((format(printf, 2, 3))) static void ok(struct doctor *d, const char *fmt, ...)
{
    va_list ap;
    (void)d;
    printf("ok    ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* A FAIL (bad = 1) or warn line, then its why and fix lines (either may be NULL). */
__attribute__((format(printf, 5, 6))) static void
problem(struct doctor *d, int bad, const char *why, const char *fix, const char *fmt, ...)
{
    va_list ap;
    printf("%s", bad ? "FAIL  " : "warn  ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (why)
        printf("      why: %s\n", why);
    if (fix)
        printf("      fix: %s\n", fix);
    if (bad)
        d->fails++;
    else
        d->warns++;
}

/* Adds a record to publish: a "; why" comment line, then the zone-file line. */
__attribute__((format(printf, 3, 4))) static void publish(struct doctor *d, const char *why,
                                                          const char *fmt, ...)
{
    va_list ap;
    buf_printf(&d->records, "; %s\n", why);
    va_start(ap, fmt);
    buf_vprintf(&d->records, fmt, ap);
    va_end(ap);
    buf_putc(&d->records, '\n');
}

/* Looks `name` up; 1 with *t filled, 0 if the DNS could not be asked (counted). */
static int lookup(struct doctor *d, const char *name, struct dns_txt *t)
{
    enum merr rc;
    if (d->dns_down)
        return 0; /* one timeout is enough: the rest is listed to publish */
    rc = dns_txt_lookup(d->ns, name, t);
    if (rc == MERR_OK)
        return 1;
    problem(d, 0, "the records below are listed to publish but could not be checked",
            "run again, or check the resolver (or --nameserver)", "%s; the DNS is not asked again",
            merr_msg());
    d->dns_down++;
    return 0;
}

static const char *transport_host(const struct config *cfg, char out[256])
{
    const char *t = cfg->transport, *hp, *colon;
    if (strncmp(t, "smtp://", 7) && strncmp(t, "smtps://", 8))
        return NULL;
    hp = t + (t[4] == 's' ? 8 : 7);
    colon = strrchr(hp, ':');
    snprintf(out, 256, "%.*s", (int)(colon ? colon - hp : (long)strlen(hp)), hp);
    return out;
}

static void check_sending(struct doctor *d)
{
    const struct config *cfg = d->cfg;
    char helo[256];
    int smtp = !strncmp(cfg->transport, "smtp", 4);

    if (smtp)
        ok(d, "[delivery] transport %s sends over SMTP", cfg->transport);
    else
        problem(d, 0,
                "messages are written as files and nothing is sent; the checks below are "
                "for when it sends",
                "set [delivery] transport = smtp://RELAY:587", "[delivery] transport is %s",
                cfg->transport);
    if (!strncmp(cfg->site_base_url, "https://", 8))
        ok(d, "[site] base_url is https: list mail carries one-click unsubscribe (RFC 8058)");
    else
        problem(d, smtp,
                "RFC 8058 one-click unsubscribe needs an https URL, so list mail goes without "
                "List-Unsubscribe-Post; Gmail and Yahoo require one-click unsubscribe of bulk "
                "senders, and links in mail should not be plain http",
                "set [site] base_url to this service's https address (behind a TLS proxy)",
                "[site] base_url %s is not https", cfg->site_base_url);
    if (transport_helo_name(cfg, helo) == MERR_OK)
        ok(d, "EHLO name %s is fully qualified (RFC 5321 §4.1.1.1)", helo);
    else /* the message says why and what to set */
        problem(d, smtp, NULL, NULL, "%s", merr_msg());
    if (cfg->smtp_tls == CFG_TLS_REQUIRED)
        ok(d, "[smtp] tls = required: the relay is reached over verified TLS");
    else if (smtp)
        problem(d, 0,
                "without verified TLS the mail, and any credentials, can be read or "
                "changed on the way to the relay",
                "set [smtp] tls = required", "[smtp] tls = %s",
                cfg->smtp_tls == CFG_TLS_NONE ? "none" : "opportunistic");
}

/* Compares the published record of key `k` at SEL._domainkey.DOMAIN with it. */
static void check_dkim_record(struct doctor *d, const struct dkimkey *k, const char *domain,
                              const char *sel)
{
    static const char WHY[] = "receivers fetch the DKIM public key here to check each "
                              "signature (RFC 6376 §3.6.2)";
    char name[600];
    struct dns_txt t;
    struct dkimkey_txt rec;
    struct buf ours, zone;

    buf_init(&ours, 0);
    buf_init(&zone, 0);
    snprintf(name, sizeof name, "%s._domainkey.%s", sel, domain);
    if (dkimkey_public_b64(k, &ours) || dkimkey_zone_line(k, sel, domain, &zone)) {
        problem(d, 1, NULL, NULL, "DKIM key %s: %s", name, merr_msg());
        goto out;
    }
    if (d->offline) {
        publish(d, WHY, "%s", zone.data);
        goto out;
    }
    if (!lookup(d, name, &t)) {
        publish(d, WHY, "%s", zone.data);
        goto out;
    }
    if (t.n == 0) {
        problem(d, 1, WHY, "publish the record listed below", "no DKIM record at %s", name);
        publish(d, WHY, "%s", zone.data);
    } else if (t.n > 1) {
        problem(d, 1,
                "verifiers may fail a signature whose key name has several TXT records "
                "(RFC 6376 §3.6.2.2)",
                "keep only the record listed below", "%zu TXT records at %s", t.n, name);
        publish(d, WHY, "%s", zone.data);
    } else if (dkimkey_txt_parse(t.rec[0], strlen(t.rec[0]), &rec) != MERR_OK) {
        problem(d, 1, WHY, "replace it with the record listed below", "the record at %s: %s", name,
                merr_msg());
        publish(d, WHY, "%s", zone.data);
    } else if (!rec.p[0]) {
        problem(d, 1, "an empty p= means the key is revoked: every signature fails",
                "publish the record listed below", "the key at %s is revoked (p= empty)", name);
        publish(d, WHY, "%s", zone.data);
    } else if (strcasecmp(rec.k, dkimkey_alg_name(dkimkey_alg(k))) || strcmp(rec.p, ours.data)) {
        problem(d, 1,
                "signatures made with this key fail against the published one (an old "
                "key, or another server's)",
                "publish the record listed below (or set the selector of the published key)",
                "the key at %s is not this key (%s)", name, rec.k);
        publish(d, WHY, "%s", zone.data);
    } else if (strchr(rec.t, 'y')) {
        problem(d, 0,
                "t=y asks receivers to treat the domain as testing DKIM: failures may be "
                "ignored, and so may the signatures (RFC 6376 §3.6.1)",
                "drop t=y from the record once the signatures verify",
                "the key at %s is in testing mode (t=y)", name);
    } else {
        ok(d, "DKIM %s key d=%s s=%s is published at %s", rec.k, domain, sel, name);
    }
    dns_txt_free(&t);
out:
    buf_free(&ours);
    buf_free(&zone);
}

static void check_dkim(struct doctor *d)
{
    const struct config *cfg = d->cfg;
    const char *domains[CFG_FROM_DOMAINS_MAX];
    struct dkimsig *s = NULL;
    size_t nd;
    char fix[700];

    cfg_from_domains(cfg, domains, &nd);
    if (!cfg->dkim_selector) {
        snprintf(fix, sizeof fix,
                 "mailer dkim keygen --domain %s --selector s%d, then set [dkim] selector = s%d "
                 "and publish the record it prints",
                 nd ? domains[0] : "DOMAIN", 2026, 2026);
        problem(d, 1,
                "Gmail and Yahoo require bulk senders to sign with DKIM aligned with the From "
                "domain (DMARC), and RFC 8058 §4 wants the signature to cover "
                "List-Unsubscribe and List-Unsubscribe-Post, which a relay's own signature "
                "does not",
                fix, "[dkim] selector is not set: messages go out without a DKIM signature");
        return;
    }
    if (dkimsig_from_config(cfg, &s) != MERR_OK) {
        problem(d, 1, "the mailer refuses to start delivery with a key it cannot use", NULL, "%s",
                merr_msg());
        return;
    }
    for (size_t i = 0; i < nd; i++) {
        const char *sels[2] = {cfg->dkim_selector, cfg->dkim_ed25519_selector};
        for (int j = 0; j < 2; j++) {
            struct dkimkey *k = NULL;
            char *path;
            if (!sels[j])
                continue;
            path = dkimsig_key_path(cfg, domains[i], sels[j]);
            if (path && dkimkey_load(path, &k) == MERR_OK) {
                ok(d, "DKIM %s key for d=%s s=%s: %s (%d bits, not readable by others)",
                   dkimkey_alg_name(dkimkey_alg(k)), domains[i], sels[j], path, dkimkey_bits(k));
                check_dkim_record(d, k, domains[i], sels[j]);
            }
            dkimkey_free(k);
            free(path);
        }
    }
    if (!cfg->dkim_ed25519_selector)
        printf("note  no [dkim] ed25519_selector: one rsa-sha256 signature (an ed25519-sha256 "
               "one, RFC 8463, is optional)\n");
    dkimsig_free(s);
}

/* 1 if `a` is `b` or a subdomain of it (case-insensitive). */
static int same_or_sub(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    return na >= nb && !strcasecmp(a + na - nb, b) && (na == nb || a[na - nb - 1] == '.');
}

static void check_spf(struct doctor *d)
{
    const struct config *cfg = d->cfg;
    const char *from = cfg_mail_domain(cfg);
    const char *dom = cfg->bounce_domain ? cfg->bounce_domain : from;
    static const char WHY[] = "receivers check that the sending server may send for the "
                              "return-path domain (RFC 7208); list the servers that send for it, "
                              "here the relay of [delivery] transport (a provider documents its "
                              "include:)";
    char host[256], rec[400];
    struct dns_txt t;
    size_t nspf = 0, which = 0;

    if (!transport_host(cfg, host) || !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost"))
        snprintf(rec, sizeof rec, "%s. IN TXT \"v=spf1 mx ~all\"", dom);
    else
        snprintf(rec, sizeof rec, "%s. IN TXT \"v=spf1 a:%s mx ~all\"", dom, host);
    if (same_or_sub(dom, from) || same_or_sub(from, dom))
        ok(d,
           "return path bounces+...@%s is aligned with the From domain %s (DMARC, RFC 7489 "
           "§3.1.2)",
           dom, from);
    else
        problem(d, 0, "SPF can then not align with From for DMARC; only DKIM can",
                "set [mail] bounce_domain to the From domain or a subdomain of it",
                "[mail] bounce_domain %s is not the From domain %s nor under it", dom, from);
    if (d->offline || !lookup(d, dom, &t)) {
        publish(d, WHY, "%s", rec);
        return;
    }
    for (size_t i = 0; i < t.n; i++)
        if (!strncasecmp(t.rec[i], "v=spf1", 6) && (t.rec[i][6] == ' ' || !t.rec[i][6])) {
            nspf++;
            which = i;
        }
    if (nspf == 0) {
        problem(d, 1, WHY, "publish an SPF record (a start is listed below)",
                "no SPF record (v=spf1) at %s", dom);
        publish(d, WHY, "%s", rec);
    } else if (nspf > 1) {
        problem(d, 1, "two SPF records make every SPF check a permanent error (RFC 7208 §4.5)",
                "merge them into one", "%zu SPF records at %s", nspf, dom);
    } else if (strstr(t.rec[which], "+all")) {
        problem(d, 1, "\"+all\" lets any server on the Internet pass SPF for the domain",
                "end the record with ~all or -all", "the SPF record of %s ends in +all: %s", dom,
                t.rec[which]);
    } else {
        ok(d, "SPF record at %s: %s", dom, t.rec[which]);
    }
    dns_txt_free(&t);
}

static void check_dmarc(struct doctor *d)
{
    const char *from = cfg_mail_domain(d->cfg);
    static const char WHY[] = "Gmail and Yahoo require bulk senders to publish DMARC (RFC 7489): "
                              "it tells receivers that From must be aligned with SPF or DKIM "
                              "and where to send reports; p=none starts by only reporting";
    char name[600], rec[700];
    const char *dom = from;

    snprintf(rec, sizeof rec, "_dmarc.%s. IN TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@%s\"",
             from, from);
    if (d->offline) {
        publish(d, WHY, "%s", rec);
        return;
    }
    /* the From domain, then its parents down to two labels (the organizational domain) */
    for (;;) {
        struct dns_txt t;
        size_t n = 0, which = 0;
        snprintf(name, sizeof name, "_dmarc.%s", dom);
        if (!lookup(d, name, &t)) {
            publish(d, WHY, "%s", rec);
            return;
        }
        for (size_t i = 0; i < t.n; i++)
            if (!strncasecmp(t.rec[i], "v=DMARC1", 8)) {
                n++;
                which = i;
            }
        if (n > 1)
            problem(d, 1, "several DMARC records: receivers ignore them all (RFC 7489 §6.6.3)",
                    "keep one", "%zu DMARC records at %s", n, name);
        else if (n == 1)
            ok(d, "DMARC record at %s: %s", name, t.rec[which]);
        dns_txt_free(&t);
        if (n)
            return;
        {
            const char *dot = strchr(dom, '.');
            if (!dot || !strchr(dot + 1, '.'))
                break;
            dom = dot + 1;
        }
    }
    problem(d, 1, WHY, "publish the record listed below", "no DMARC record at _dmarc.%s", from);
    publish(d, WHY, "%s", rec);
}

static int doctor_run(struct app *app, int argc, char **argv)
{
    struct doctor d;
    int code;

    memset(&d, 0, sizeof d);
    d.cfg = &app->cfg;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (!strcmp(argv[i], "--offline"))
            d.offline = 1;
        else if (cli_opt_value(argc, argv, &i, "--nameserver", &d.ns, &missing)) {
            if (missing)
                return cli_usage("doctor", "--nameserver needs an address");
            if (!dns_nameserver_ok(d.ns))
                return cli_usage("doctor", "--nameserver \"%s\": expected A.B.C.D or A.B.C.D:PORT",
                                 d.ns);
        } else
            return cli_usage("doctor", "unknown argument \"%s\"", argv[i]);
    }
    buf_init(&d.records, 0);
    printf("mailer doctor: %s%s\n\n", app->config_path ? app->config_path : "built-in defaults",
           d.offline ? " (offline: the DNS is not asked)" : "");
    check_sending(&d);
    check_dkim(&d);
    check_spf(&d);
    check_dmarc(&d);
    if (d.records.len)
        printf("\nDNS records to publish%s:\n%s", d.offline ? " (not checked)" : "",
               d.records.data);
    code = d.fails ? 2 : d.dns_down ? 4 : 0;
    printf("\n%d to fix, %d warning%s%s: exit %d\n", d.fails, d.warns, d.warns == 1 ? "" : "s",
           d.dns_down ? ", the DNS could not be asked" : "", code);
    buf_free(&d.records);
    return code;
}

const struct cli_command cli_doctor_cmd = {
    .name = "doctor",
    .run = doctor_run,
    .usage = DOCTOR_USAGE,
    .summary = "check the setup for sending: DKIM, SPF, DMARC, https, EHLO",
};
