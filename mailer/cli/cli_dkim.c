/*
 * cli_dkim.c: `mailer dkim keygen|record|sign`: DKIM keys and their DNS
 * records.
 *
 * keygen makes a key under [dkim] keys_dir (KEYS_DIR/DOMAIN/SELECTOR.key,
 * mode 0600, never replacing a file) and prints the TXT record to publish
 * as a zone-file line with comments, so the output can be pasted into a
 * zone as it is. record prints the record of a key that exists (the same
 * line). sign signs one message (a file or standard input, CRLF or LF
 * lines) with the configured keys, as delivery does: for checking a setup
 * with an outside verifier (`mailer dkim sign msg.eml | opendkim-testmsg`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "date.h"
#include "dkimkey.h"
#include "dkimsig.h"

static const char DKIM_USAGE[] =
    "usage: mailer dkim <keygen|record|sign> [options]\n\n"
    "DKIM keys (RFC 6376, RFC 8463) and the DNS records that publish them.\n\n"
    "commands:\n"
    "  keygen --domain D --selector S [--algorithm rsa|ed25519]\n"
    "                     make a key (RSA 2048 by default) under [dkim] keys_dir\n"
    "                     and print the DNS TXT record to publish\n"
    "  record --domain D --selector S\n"
    "                     print the DNS TXT record of an existing key\n"
    "  sign [FILE]        sign a message (FILE or standard input) with the\n"
    "                     configured keys and write it to standard output\n\n"
    "exit codes: 0 ok, 1 usage, 2 configuration (no key, unsafe key file),\n"
    "            3 bad message or key exists already, 7 I/O.\n";

struct kopts {
    const char *domain, *selector, *alg;
};

static int parse_kopts(const char *cmd, int argc, char **argv, struct kopts *o, int with_alg)
{
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_opt_value(argc, argv, &i, "--domain", &o->domain, &missing) ||
            cli_opt_value(argc, argv, &i, "--selector", &o->selector, &missing) ||
            (with_alg && cli_opt_value(argc, argv, &i, "--algorithm", &o->alg, &missing))) {
            if (missing)
                return cli_usage(cmd, "%s needs a value", argv[i]);
        } else {
            return cli_usage(cmd, "unknown argument \"%s\"", argv[i]);
        }
    }
    if (!o->domain || !o->selector)
        return cli_usage(cmd, "--domain and --selector are required");
    if (!dkimsig_name_ok(o->domain))
        return cli_usage(cmd, "--domain \"%s\" is not a DNS name (letters, digits, '-', '.')",
                         o->domain);
    if (!dkimsig_name_ok(o->selector))
        return cli_usage(cmd, "--selector \"%s\" is not a DNS name (letters, digits, '-', '.')",
                         o->selector);
    if (o->alg && strcmp(o->alg, "rsa") && strcmp(o->alg, "ed25519"))
        return cli_usage(cmd, "--algorithm must be rsa or ed25519, not \"%s\"", o->alg);
    return 0;
}

/* Prints the record of `k` with the comments that say what to do with it. */
static int print_record(const struct app *app, const struct dkimkey *k, const struct kopts *o,
                        const char *path, int made)
{
    const char *domains[CFG_FROM_DOMAINS_MAX];
    size_t nd, ours = 0;
    struct buf line;
    enum merr rc;

    buf_init(&line, 0);
    rc = dkimkey_zone_line(k, o->selector, o->domain, &line);
    if (rc) {
        buf_free(&line);
        return app_fail(rc, "dkim");
    }
    printf("; %s %s key %s (%d bits)%s\n", made ? "made a new" : "the",
           dkimkey_alg_name(dkimkey_alg(k)), path, dkimkey_bits(k), made ? ", mode 0600" : "");
    printf("; publish this TXT record in the DNS zone of %s, then set in the config:\n", o->domain);
    printf(";   [dkim] %s = %s\n",
           dkimkey_alg(k) == DKIMKEY_ED25519 ? "ed25519_selector" : "selector", o->selector);
    cfg_from_domains(&app->cfg, domains, &nd);
    for (size_t i = 0; i < nd; i++)
        ours |= !strcasecmp(domains[i], o->domain);
    if (!ours)
        printf("; note: %s is not the domain of a From address of this configuration "
               "([mail] from_address): d= must be the From domain\n",
               o->domain);
    printf("%s\n", line.data);
    buf_free(&line);
    return 0;
}

/* keygen (make = 1) or record (make = 0). */
static int key_command(struct app *app, int argc, char **argv, const char *cmd, int make)
{
    struct kopts o = {0};
    struct dkimkey *k = NULL;
    char *path;
    enum merr rc;
    int code = parse_kopts(cmd, argc, argv, &o, make);

    if (code)
        return code;
    path = dkimsig_key_path(&app->cfg, o.domain, o.selector);
    if (!path)
        return app_fail(merr_set(MERR_NOMEM, "out of memory"), cmd);
    if (make)
        rc = dkimkey_generate(
            path, o.alg && !strcmp(o.alg, "ed25519") ? DKIMKEY_ED25519 : DKIMKEY_RSA, &k);
    else
        rc = dkimkey_load(path, &k);
    code = rc ? app_fail(rc, cmd) : print_record(app, k, &o, path, make);
    dkimkey_free(k);
    free(path);
    return code;
}

static int cmd_keygen(struct app *app, int argc, char **argv)
{
    return key_command(app, argc, argv, "dkim keygen", 1);
}

static int cmd_record(struct app *app, int argc, char **argv)
{
    return key_command(app, argc, argv, "dkim record", 0);
}

/* Reads FILE or stdin into `b`, turning bare LF line ends into CRLF. */
static enum merr read_message(const char *path, struct buf *b)
{
    FILE *f = path ? fopen(path, "rb") : stdin;
    int c, prev = 0;
    enum merr rc = MERR_OK;
    if (!f)
        return merr_set(MERR_IO, "%s: cannot open", path);
    while (!rc && (c = getc(f)) != EOF) {
        if (c == '\n' && prev != '\r')
            rc = buf_putc(b, '\r');
        if (!rc)
            rc = buf_putc(b, (char)c);
        prev = c;
    }
    if (!rc && ferror(f))
        rc = merr_set(MERR_IO, "%s: read error", path ? path : "standard input");
    if (path)
        fclose(f);
    return rc;
}

static int cmd_sign(struct app *app, int argc, char **argv)
{
    struct dkimsig *s = NULL;
    struct buf msg;
    enum merr rc;
    int code = 0;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
        return cli_usage("dkim sign", "sign takes one FILE at most");
    buf_init(&msg, app->cfg.message_max_bytes);
    rc = dkimsig_from_config(&app->cfg, &s);
    if (!rc && !s)
        rc = merr_set(MERR_CONFIG, "[dkim] selector is not set: signing is off");
    if (!rc)
        rc = read_message(argc == 2 ? argv[1] : NULL, &msg);
    if (!rc)
        rc = dkimsig_sign(s, &msg, 0, date_now());
    if (!rc && (fwrite(msg.data, 1, msg.len, stdout) != msg.len || fflush(stdout)))
        rc = merr_set(MERR_IO, "standard output: write error");
    if (rc)
        code = app_fail(rc, "dkim sign");
    dkimsig_free(s);
    buf_free(&msg);
    return code;
}

static const struct cli_command dkim_cmds[] = {
    {.name = "keygen",
     .run = cmd_keygen,
     .usage = "usage: mailer dkim keygen --domain D --selector S [--algorithm rsa|ed25519]\n\n"
              "Makes a DKIM private key, RSA 2048 bits (rsa-sha256, every verifier knows it)\n"
              "or Ed25519 (ed25519-sha256, RFC 8463, as a second signature), writes it to\n"
              "[dkim] keys_dir/D/S.key with mode 0600 (never replacing a file: to rotate,\n"
              "make a key with a new selector), and prints the DNS TXT record to publish\n"
              "at S._domainkey.D as a zone-file line.\n\n"
              "exit codes: 0 made, 1 usage, 3 the key file exists, 7 I/O.\n"},
    {.name = "record",
     .run = cmd_record,
     .usage = "usage: mailer dkim record --domain D --selector S\n\n"
              "Prints the DNS TXT record of the key [dkim] keys_dir/D/S.key.\n\n"
              "exit codes: 0 ok, 1 usage, 2 no such key or an unsafe key file.\n"},
    {.name = "sign",
     .run = cmd_sign,
     .usage = "usage: mailer dkim sign [FILE]\n\n"
              "Signs one message (FILE, or standard input) with the keys of [dkim] for its\n"
              "From domain, as delivery does, and writes it with CRLF line ends to\n"
              "standard output.\n\n"
              "exit codes: 0 signed, 1 usage, 2 signing not configured or no key for the\n"
              "            From domain, 3 not a message, 7 I/O.\n"},
    {.name = NULL},
};

const struct cli_command cli_dkim_cmd = {
    .name = "dkim",
    .usage = DKIM_USAGE,
    .sub = dkim_cmds,
    .summary = "DKIM keys and their DNS records: keygen, record, sign",
};
