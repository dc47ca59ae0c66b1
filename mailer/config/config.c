/*
 * config.c: table-driven INI loading.
 *
 * Each key is one row of `keys[]`: section, name, kind, where it lives in
 * struct config, its default and its bounds. inih calls on_key() per line; a
 * refusal returns 0, and ini_parse() then returns that line's number, which
 * is how every error names its line. Cross-key checks (transport syntax,
 * listen address, time zone) run after the file, naming the key's line when
 * the file set it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "date.h"
#include "net.h"

enum kind { K_STR, K_INT, K_DOUBLE, K_SIZE, K_DURATION, K_TLS, K_BOOL };

struct key {
    const char *section;
    const char *name;
    enum kind kind;
    size_t offset;
    const char *def; /* default, as it would be written in the file; NULL = unset */
    double min, max; /* bounds for numbers */
};

#define O(f) offsetof(struct config, f)
static const struct key keys[] = {
    {"site", "name", K_STR, O(site_name), "Cổng Thông tin điện tử tỉnh Hà Giang", 0, 0},
    {"site", "base_url", K_STR, O(site_base_url), "http://127.0.0.1:8080", 0, 0},
    {"site", "timezone", K_STR, O(timezone), "Asia/Ho_Chi_Minh", 0, 0},
    {"database", "path", K_STR, O(db_path), "var/mailer.db", 0, 0},
    {"database", "busy_timeout_ms", K_INT, O(db_busy_timeout_ms), "5000", 0, 600000},
    {"mail", "from_address", K_STR, O(from_address), "tin-tuc@hagiang.example", 0, 0},
    {"mail", "from_name", K_STR, O(from_name), "Cổng TTĐT Hà Giang", 0, 0},
    {"mail", "digest_from", K_STR, O(digest_from), NULL, 0, 0},
    {"mail", "confirm_from", K_STR, O(confirm_from), NULL, 0, 0},
    {"mail", "share_from", K_STR, O(share_from), NULL, 0, 0},
    {"mail", "secret", K_STR, O(secret), NULL, 0, 0},
    {"mail", "bounce_domain", K_STR, O(bounce_domain), NULL, 0, 0},
    {"mail", "unsubscribe_mailto", K_STR, O(unsubscribe_mailto), NULL, 0, 0},
    {"delivery", "transport", K_STR, O(transport), "dir:var/outbox", 0, 0},
    {"delivery", "connections", K_INT, O(connections), "4", 1, 64},
    {"delivery", "rate", K_DOUBLE, O(rate), "0", 0, 1e6},
    {"delivery", "per_domain_rate", K_DOUBLE, O(per_domain_rate), "0", 0, 1e6},
    {"delivery", "batch_size", K_INT, O(batch_size), "100", 1, 10000},
    {"delivery", "lease", K_DURATION, O(lease_seconds), "5m", 10, 86400},
    {"delivery", "retry_base", K_DURATION, O(retry_base_seconds), "5m", 1, 86400},
    {"delivery", "retry_max", K_DURATION, O(retry_max_seconds), "6h", 1, 7 * 86400},
    {"delivery", "max_age", K_DURATION, O(max_age_seconds), "3d", 60, 30 * 86400},
    {"delivery", "nice", K_INT, O(delivery_nice), "10", 0, 19},
    {"delivery", "idle", K_BOOL, O(delivery_idle), "no", 0, 0},
    {"smtp", "tls", K_TLS, O(smtp_tls), "required", 0, 0},
    {"smtp", "username", K_STR, O(smtp_username), NULL, 0, 0},
    {"smtp", "password", K_STR, O(smtp_password), NULL, 0, 0},
    {"smtp", "ca_file", K_STR, O(smtp_ca_file), NULL, 0, 0},
    {"smtp", "helo", K_STR, O(smtp_helo), NULL, 0, 0},
    {"smtp", "connect_timeout_ms", K_INT, O(smtp_connect_timeout_ms), "10000", 100, 600000},
    {"smtp", "command_timeout_ms", K_INT, O(smtp_command_timeout_ms), "60000", 100, 3600000},
    {"smtp", "messages_per_connection", K_INT, O(smtp_messages_per_connection), "100", 1, 100000},
    {"http", "listen", K_STR, O(http_listen), "127.0.0.1:8080", 0, 0},
    {"http", "threads", K_INT, O(http_threads), "4", 1, 256},
    {"http", "max_connections", K_INT, O(http_max_connections), "512", 1, 100000},
    {"http", "connection_timeout", K_INT, O(http_connection_timeout_s), "15", 1, 3600},
    {"http", "trusted_proxies", K_STR, O(http_trusted_proxies), NULL, 0, 0},
    {"http", "per_ip_connections", K_INT, O(http_per_ip_connections), "16", 1, 100000},
    {"http", "request_deadline", K_INT, O(http_request_deadline_s), "30", 1, 3600},
    {"http", "metrics_token", K_STR, O(http_metrics_token), NULL, 0, 0},
    {"limits", "image_max_bytes", K_SIZE, O(image_max_bytes), "20MB", 1024, 1e9},
    {"limits", "embed_max_bytes", K_SIZE, O(embed_max_bytes), "2MB", 0, 1e9},
    {"limits", "article_max_bytes", K_SIZE, O(article_max_bytes), "2MB", 1024, 1e9},
    {"limits", "message_max_bytes", K_SIZE, O(message_max_bytes), "25MB", 65536, 1e9},
    {"limits", "http_max_body", K_SIZE, O(http_max_body), "1MB", 1024, 1e9},
    {"limits", "share_max_recipients", K_INT, O(share_max_recipients), "5", 1, 100},
    {"limits", "share_note_max_chars", K_INT, O(share_note_max_chars), "500", 0, 10000},
    {"limits", "share_per_ip_per_hour", K_INT, O(share_per_ip_per_hour), "20", 0, 1e9},
    {"limits", "share_per_sender_per_hour", K_INT, O(share_per_sender_per_hour), "20", 0, 1e9},
    {"limits", "share_global_per_hour", K_INT, O(share_global_per_hour), "2000", 0, 1e9},
    {"limits", "confirm_per_address_per_day", K_INT, O(confirm_per_address_per_day), "3", 0, 1000},
    {"limits", "confirm_global_per_hour", K_INT, O(confirm_global_per_hour), "500", 0, 1e9},
    {"limits", "fetch_timeout", K_INT, O(fetch_timeout_s), "15", 1, 600},
    {"limits", "fetch_max_redirects", K_INT, O(fetch_max_redirects), "3", 0, 20},
    {"templates", "dir", K_STR, O(templates_dir), MAILER_SOURCE_DIR "/templates", 0, 0},
    {"templates", "override", K_STR, O(templates_override), NULL, 0, 0},
    {"media", "root", K_STR, O(media_root), NULL, 0, 0},
    {"media", "fetch_allow_hosts", K_STR, O(fetch_allow_hosts), NULL, 0, 0},
    {"media", "fetch_allow_nets", K_STR, O(fetch_allow_nets), NULL, 0, 0},
    {"media", "max_pixels", K_INT, O(media_max_pixels), "50000000", 1, 1e9},
    {"media", "jpeg_quality", K_INT, O(media_jpeg_quality), "80", 30, 100},
    {"media", "threads", K_INT, O(media_threads), "1", 1, 64},
    {"bounce", "soft_limit", K_INT, O(bounce_soft_limit), "3", 1, 100},
    {"bounce", "soft_days", K_INT, O(bounce_soft_days), "15", 1, 365},
    {"bounce", "attribution_days", K_INT, O(bounce_attribution_days), "30", 1, 365},
    {"bounce", "keep_raw", K_SIZE, O(bounce_keep_raw), "64KB", 1024, 16 << 20},
    {"bounce", "max_message_size", K_SIZE, O(bounce_max_size), "4MB", 65536, 64 << 20},
    {"bounce", "poll_interval", K_DURATION, O(bounce_poll_interval_s), "5m", 5, 86400},
    {"bounce", "timeout", K_DURATION, O(bounce_timeout_s), "60s", 1, 3600},
    {"bounce", "processed_folder", K_STR, O(bounce_processed_folder), "Processed", 0, 0},
    {"bounce", "unparsed_folder", K_STR, O(bounce_unparsed_folder), "Unparsed", 0, 0},
    {"dkim", "selector", K_STR, O(dkim_selector), NULL, 0, 0},
    {"dkim", "ed25519_selector", K_STR, O(dkim_ed25519_selector), NULL, 0, 0},
    {"dkim", "keys_dir", K_STR, O(dkim_keys_dir), "var/dkim", 0, 0},
    {"admin", "session_idle", K_DURATION, O(admin_session_idle_s), "30m", 60, 7 * 86400},
    {"admin", "session_max", K_DURATION, O(admin_session_max_s), "12h", 300, 30 * 86400},
    {"admin", "login_per_minute", K_INT, O(admin_login_per_minute), "9", 1, 1000},
    {"admin", "import_max_bytes", K_SIZE, O(admin_import_max_bytes), "64MB", 1024, 1e9},
};
#undef O
#define NKEYS (sizeof keys / sizeof keys[0])

struct loader {
    struct config *cfg;
    char why[512]; /* reason for the first refused line (inih reports its number) */
};

/* yes/true/1 or no/false/0 into *out; -1 for anything else. */
static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = 1;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int parse_long(const char *v, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    *out = x;
    return *end ? (int)(end - v) : 0;
}

/* "5MB", "512k", "1048576" -> bytes. */
static int parse_size(const char *v, double *out)
{
    char *end;
    double x;
    errno = 0;
    x = strtod(v, &end);
    if (errno || end == v || x < 0)
        return -1;
    while (*end == ' ')
        end++;
    if (!strcasecmp(end, "") || !strcasecmp(end, "b"))
        ;
    else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb"))
        x *= 1024;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb"))
        x *= 1024 * 1024;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb"))
        x *= 1024.0 * 1024 * 1024;
    else
        return -1;
    *out = x;
    return 0;
}

/* "90", "90s", "5m", "6h", "3d" -> seconds. */
static int parse_duration(const char *v, double *out)
{
    char *end;
    double x;
    errno = 0;
    x = strtod(v, &end);
    if (errno || end == v || x < 0)
        return -1;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        ;
    else if (!strcmp(end, "m"))
        x *= 60;
    else if (!strcmp(end, "h"))
        x *= 3600;
    else if (!strcmp(end, "d"))
        x *= 86400;
    else
        return -1;
    *out = x;
    return 0;
}

static int set_key(struct config *cfg, const struct key *k, const char *v, char *why, size_t whylen)
{
    char *base = (char *)cfg;
    long long n;
    double d;
    char *end;

    switch (k->kind) {
    case K_STR: {
        char **slot = (char **)(base + k->offset);
        char *copy = strdup(v);
        if (!copy) {
            snprintf(why, whylen, "out of memory");
            return 0;
        }
        free(*slot);
        *slot = copy;
        return 1;
    }
    case K_INT:
        if (parse_long(v, &n) != 0) {
            snprintf(why, whylen, "\"%s\" is not a whole number", v);
            return 0;
        }
        if (n < k->min || n > k->max) {
            snprintf(why, whylen, "%lld is out of range [%.0f, %.0f]", n, k->min, k->max);
            return 0;
        }
        *(int *)(base + k->offset) = (int)n;
        return 1;
    case K_DOUBLE:
        errno = 0;
        d = strtod(v, &end);
        if (errno || end == v || *end) {
            snprintf(why, whylen, "\"%s\" is not a number", v);
            return 0;
        }
        if (d < k->min || d > k->max) {
            snprintf(why, whylen, "%g is out of range [%g, %g]", d, k->min, k->max);
            return 0;
        }
        *(double *)(base + k->offset) = d;
        return 1;
    case K_SIZE:
        if (parse_size(v, &d) != 0) {
            snprintf(why, whylen, "\"%s\" is not a size (e.g. 5MB, 512KB, 1048576)", v);
            return 0;
        }
        if (d < k->min || d > k->max) {
            snprintf(why, whylen, "%s is out of range [%.0f, %.0f] bytes", v, k->min, k->max);
            return 0;
        }
        *(size_t *)(base + k->offset) = (size_t)d;
        return 1;
    case K_DURATION:
        if (parse_duration(v, &d) != 0) {
            snprintf(why, whylen, "\"%s\" is not a duration (e.g. 90s, 5m, 6h, 3d)", v);
            return 0;
        }
        if (d < k->min || d > k->max) {
            snprintf(why, whylen, "%s is out of range [%.0fs, %.0fs]", v, k->min, k->max);
            return 0;
        }
        *(int *)(base + k->offset) = (int)d;
        return 1;
    case K_TLS:
        if (!strcmp(v, "required"))
            *(enum cfg_tls *)(base + k->offset) = CFG_TLS_REQUIRED;
        else if (!strcmp(v, "opportunistic"))
            *(enum cfg_tls *)(base + k->offset) = CFG_TLS_OPPORTUNISTIC;
        else if (!strcmp(v, "none"))
            *(enum cfg_tls *)(base + k->offset) = CFG_TLS_NONE;
        else {
            snprintf(why, whylen, "\"%s\" is not one of required, opportunistic, none", v);
            return 0;
        }
        return 1;
    case K_BOOL:
        if (parse_bool(v, (int *)(base + k->offset)) != 0) {
            snprintf(why, whylen, "\"%s\" is not yes or no", v);
            return 0;
        }
        return 1;
    }
    return 0;
}

static const struct key *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

/* inih goes on after a refused line and reports the first one: keep its reason. */
static int refuse_line(struct loader *ld, const char *section, const char *name, const char *why)
{
    if (!ld->why[0])
        snprintf(ld->why, sizeof ld->why, "[%s] %s: %s", section, name, why);
    return 0;
}

/* A [bounce.NAME] key. Returns 1 if taken, 0 with ld->why if refused. */
static int mailbox_key(struct loader *ld, const char *section, const char *name, const char *value)
{
    const char *mname = section + 7;
    struct config *cfg = ld->cfg;
    struct cfg_mailbox *m = NULL;
    char **slot = NULL;

    if (!*mname || strlen(mname) > 64)
        return refuse_line(ld, section, name, "a mailbox name is 1 to 64 characters");
    for (const char *p = mname; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return refuse_line(ld, section, name,
                               "a mailbox name holds only letters, digits, - and _");
    for (size_t i = 0; i < cfg->n_mailboxes; i++)
        if (!strcmp(cfg->mailboxes[i].name, mname))
            m = &cfg->mailboxes[i];
    if (!m) {
        struct cfg_mailbox *v =
            realloc(cfg->mailboxes, (cfg->n_mailboxes + 1) * sizeof *cfg->mailboxes);
        if (!v)
            return refuse_line(ld, section, name, "out of memory");
        cfg->mailboxes = v;
        m = &v[cfg->n_mailboxes++];
        memset(m, 0, sizeof *m);
        m->idle = 1;
        m->leave_on_server = 1;
        m->tls = CFG_TLS_REQUIRED;
        m->name = strdup(mname);
        if (!m->name)
            return refuse_line(ld, section, name, "out of memory");
    }
    if (!strcmp(name, "role"))
        slot = &m->role;
    else if (!strcmp(name, "url"))
        slot = &m->url;
    else if (!strcmp(name, "username"))
        slot = &m->username;
    else if (!strcmp(name, "password"))
        slot = &m->password;
    if (slot) {
        char *copy = strdup(value);
        if (!copy)
            return refuse_line(ld, section, name, "out of memory");
        free(*slot);
        *slot = copy;
        return 1;
    }
    if (!strcmp(name, "auth")) {
        if (!strcmp(value, "plain") || !strcmp(value, "login"))
            m->auth_login = !strcmp(value, "login");
        else
            return refuse_line(ld, section, name, "expected plain or login");
        return 1;
    }
    if (!strcmp(name, "tls")) {
        if (!strcmp(value, "required"))
            m->tls = CFG_TLS_REQUIRED;
        else if (!strcmp(value, "none"))
            m->tls = CFG_TLS_NONE;
        else
            return refuse_line(ld, section, name, "expected required or none");
        return 1;
    }
    int *flag = !strcmp(name, "idle")              ? &m->idle
                : !strcmp(name, "delete")          ? &m->delete
                : !strcmp(name, "leave_on_server") ? &m->leave_on_server
                                                   : NULL;
    if (!flag)
        return refuse_line(ld, section, name, "unknown key");
    if (parse_bool(value, flag) != 0)
        return refuse_line(ld, section, name, "expected true or false");
    return 1;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct loader *ld = user;
    const struct key *k;
    int known_section = 0;
    char why[400];

    if (!strncmp(section, "bounce.", 7))
        return mailbox_key(ld, section, name, value);
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section))
            known_section = 1;
    if (!known_section)
        return refuse_line(ld, section, name, "unknown section");
    k = find_key(section, name);
    if (!k)
        return refuse_line(ld, section, name, "unknown key");
    if (!set_key(ld->cfg, k, value, why, sizeof why))
        return refuse_line(ld, section, name, why);
    return 1;
}

void cfg_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind == K_STR) {
            char **slot = (char **)((char *)cfg + keys[i].offset);
            free(*slot);
            *slot = NULL;
        }
    for (size_t i = 0; i < cfg->n_mailboxes; i++) {
        struct cfg_mailbox *m = &cfg->mailboxes[i];
        free(m->name);
        free(m->role);
        free(m->url);
        free(m->username);
        free(m->password);
    }
    free(cfg->mailboxes);
    cfg->mailboxes = NULL;
    cfg->n_mailboxes = 0;
    free(cfg->path);
    cfg->path = NULL;
}

const struct cfg_mailbox *cfg_mailbox(const struct config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_mailboxes; i++)
        if (!strcmp(cfg->mailboxes[i].name, name))
            return &cfg->mailboxes[i];
    return NULL;
}

enum merr cfg_defaults(struct config *cfg)
{
    char why[400];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].def && !set_key(cfg, &keys[i], keys[i].def, why, sizeof why)) {
            cfg_free(cfg);
            return merr_set(MERR_INTERNAL, "default of [%s] %s: %s", keys[i].section, keys[i].name,
                            why);
        }
    return MERR_OK;
}

const char *cfg_mail_domain(const struct config *cfg)
{
    const char *at = cfg->from_address ? strrchr(cfg->from_address, '@') : NULL;
    return at ? at + 1 : "localhost";
}

const char *cfg_kind_from(const struct config *cfg, const char *kind)
{
    const char *a = NULL;
    if (!strcmp(kind, "digest") || !strcmp(kind, "breaking")) /* list mail */
        a = cfg->digest_from;
    else if (!strcmp(kind, "confirm"))
        a = cfg->confirm_from;
    else if (!strcmp(kind, "share"))
        a = cfg->share_from;
    return a ? a : cfg->from_address;
}

void cfg_from_domains(const struct config *cfg, const char *out[CFG_FROM_DOMAINS_MAX], size_t *n)
{
    const char *addrs[] = {cfg->from_address, cfg->digest_from, cfg->confirm_from, cfg->share_from};
    *n = 0;
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        const char *at = addrs[i] ? strrchr(addrs[i], '@') : NULL;
        int dup = 0;
        if (!at)
            continue;
        for (size_t j = 0; j < *n; j++)
            dup |= !strcasecmp(out[j], at + 1);
        if (!dup && *n < CFG_FROM_DOMAINS_MAX)
            out[(*n)++] = at + 1;
    }
}

/* Finds the line of `section`/`name` in the file for error messages (0 if absent). */
static int line_of(const char *path, const char *section, const char *name)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[1024], cur[128] = "";
    int n = 0, found = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        n++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '[') {
            char *e = strchr(p, ']');
            if (e) {
                *e = '\0';
                snprintf(cur, sizeof cur, "%s", p + 1);
            }
        } else if (!strcmp(cur, section) && !strncmp(p, name, strlen(name))) {
            char *q = p + strlen(name);
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '=' || *q == ':')
                found = n;
        }
    }
    fclose(f);
    return found;
}

__attribute__((format(printf, 4, 5))) static enum merr
refuse(const struct config *cfg, const char *section, const char *name, const char *fmt, ...)
{
    va_list ap;
    int line = line_of(cfg->path, section, name);
    char why[512];
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (cfg->path && line)
        return merr_set(MERR_CONFIG, "%s:%d: [%s] %s: %s", cfg->path, line, section, name, why);
    if (cfg->path)
        return merr_set(MERR_CONFIG, "%s: [%s] %s: %s", cfg->path, section, name, why);
    return merr_set(MERR_CONFIG, "[%s] %s: %s", section, name, why);
}

static int valid_hostport(const char *s)
{
    const char *colon = strrchr(s, ':');
    long long port;
    if (!colon || colon == s)
        return 0;
    if (parse_long(colon + 1, &port) != 0 || port < 0 || port > 65535)
        return 0;
    for (const char *p = s; p < colon; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-[]:", *p))
            return 0;
    return 1;
}

static int plain_ascii_addr(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@'))
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || strchr("<>()[],;:\"\\", *p))
            return 0;
    return 1;
}

static enum merr check(struct config *cfg)
{
    enum merr rc;
    const char *t = cfg->transport;

    if (strncmp(t, "dir:", 4) == 0) {
        if (!t[4])
            return refuse(cfg, "delivery", "transport", "\"%s\": dir: needs a path", t);
    } else if (strncmp(t, "smtp://", 7) == 0 || strncmp(t, "smtps://", 8) == 0) {
        const char *hp = t + (t[4] == 's' ? 8 : 7);
        if (!valid_hostport(hp))
            return refuse(cfg, "delivery", "transport",
                          "\"%s\": expected smtp://host:port or smtps://host:port", t);
    } else {
        return refuse(cfg, "delivery", "transport",
                      "\"%s\": expected dir:PATH, smtp://host:port or smtps://host:port", t);
    }
    if (!valid_hostport(cfg->http_listen))
        return refuse(cfg, "http", "listen", "\"%s\": expected host:port", cfg->http_listen);
    if (strncmp(cfg->site_base_url, "http://", 7) != 0 &&
        strncmp(cfg->site_base_url, "https://", 8) != 0)
        return refuse(cfg, "site", "base_url", "\"%s\": must start with http:// or https://",
                      cfg->site_base_url);
    if (!plain_ascii_addr(cfg->from_address))
        return refuse(cfg, "mail", "from_address",
                      "\"%s\": must be a plain ASCII address like news@example.org",
                      cfg->from_address);
    {
        static const char *const names[] = {"digest_from", "confirm_from", "share_from"};
        const char *vals[] = {cfg->digest_from, cfg->confirm_from, cfg->share_from};
        for (size_t i = 0; i < 3; i++)
            if (vals[i] && !plain_ascii_addr(vals[i]))
                return refuse(cfg, "mail", names[i],
                              "\"%s\": must be a plain ASCII address like news@example.org",
                              vals[i]);
    }
    if (cfg->unsubscribe_mailto && !plain_ascii_addr(cfg->unsubscribe_mailto))
        return refuse(cfg, "mail", "unsubscribe_mailto", "\"%s\": must be a plain ASCII address",
                      cfg->unsubscribe_mailto);
    for (const char *p = cfg->from_name; *p; p++)
        if (*p == '\r' || *p == '\n')
            return refuse(cfg, "mail", "from_name", "must not contain line breaks");
    if (cfg->secret && strlen(cfg->secret) < 16)
        return refuse(cfg, "mail", "secret", "must be at least 16 characters");
    if (cfg->smtp_ca_file && access(cfg->smtp_ca_file, R_OK) != 0)
        return refuse(cfg, "smtp", "ca_file", "cannot read \"%s\"", cfg->smtp_ca_file);
    for (size_t i = 0; i < cfg->n_mailboxes; i++) {
        const struct cfg_mailbox *m = &cfg->mailboxes[i];
        char sec[80];
        const char *u = m->url;
        snprintf(sec, sizeof sec, "bounce.%s", m->name);
        if (!m->role || (strcmp(m->role, "bounces") && strcmp(m->role, "complaints") &&
                         strcmp(m->role, "unsubscribe")))
            return refuse(cfg, sec, "role", "\"%s\": expected bounces, complaints or unsubscribe",
                          m->role ? m->role : "");
        if (!u)
            return refuse(cfg, sec, "url",
                          "missing: imaps://host:993, imap://host:143, "
                          "pop3s://host:995 or pop3://host:110");
        const char *hp = !strncmp(u, "imaps://", 8)   ? u + 8
                         : !strncmp(u, "imap://", 7)  ? u + 7
                         : !strncmp(u, "pop3s://", 8) ? u + 8
                         : !strncmp(u, "pop3://", 7)  ? u + 7
                                                      : NULL;
        char host[300];
        snprintf(host, sizeof host, "%.*s", (int)(hp ? strcspn(hp, "/") : 0), hp ? hp : "");
        if (!hp || !valid_hostport(host))
            return refuse(cfg, sec, "url",
                          "\"%s\": expected imaps://, imap://, pop3s:// or pop3:// host:port", u);
        if (!m->username)
            return refuse(cfg, sec, "username", "missing");
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        if (m->tls == CFG_TLS_NONE && strcmp(host, "127.0.0.1") && strcmp(host, "localhost") &&
            strcmp(host, "[::1]"))
            return refuse(cfg, sec, "tls", "none is for loopback hosts only, not \"%s\"", host);
        if (m->tls == CFG_TLS_NONE && (!strncmp(u, "imaps://", 8) || !strncmp(u, "pop3s://", 8)))
            return refuse(cfg, sec, "tls", "none with an implicit-TLS url (%s)", u);
    }
    {
        static const struct {
            const char *section, *name;
            size_t off;
        } nets[] = {
            {"http", "trusted_proxies", offsetof(struct config, http_trusted_proxies)},
            {"media", "fetch_allow_nets", offsetof(struct config, fetch_allow_nets)},
        };
        for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
            struct net_cidrs c;
            const char *v = *(char *const *)(const void *)((const char *)cfg + nets[i].off);
            if (net_cidrs_parse(&c, v, NULL))
                return refuse(cfg, nets[i].section, nets[i].name, "%s", merr_msg());
            net_cidrs_free(&c);
        }
    }
    if (cfg->http_metrics_token && strlen(cfg->http_metrics_token) < 16)
        return refuse(cfg, "http", "metrics_token", "must be at least 16 characters");
    rc = date_set_zone(cfg->timezone);
    if (rc)
        return refuse(cfg, "site", "timezone", "unknown time zone \"%s\"", cfg->timezone);
    return MERR_OK;
}

static enum merr env_override(struct config *cfg, const char *var, char **slot)
{
    const char *v = getenv(var);
    if (!v || !*v)
        return MERR_OK;
    char *copy = strdup(v);
    if (!copy)
        return merr_set(MERR_NOMEM, "out of memory");
    free(*slot);
    *slot = copy;
    return MERR_OK;
}

enum merr cfg_load(struct config *cfg, const char *path)
{
    struct loader ld;
    enum merr rc;
    int line;

    rc = cfg_defaults(cfg);
    if (rc)
        return rc;
    if (path) {
        cfg->path = strdup(path);
        if (!cfg->path) {
            cfg_free(cfg);
            return merr_set(MERR_NOMEM, "out of memory");
        }
        memset(&ld, 0, sizeof ld);
        ld.cfg = cfg;
        line = ini_parse(path, on_key, &ld);
        if (line < 0) {
            rc = merr_set(MERR_CONFIG, "%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        if (line > 0) {
            if (ld.why[0])
                rc = merr_set(MERR_CONFIG, "%s:%d: %s", path, line, ld.why);
            else
                rc =
                    merr_set(MERR_CONFIG, "%s:%d: syntax error (expected key = value)", path, line);
            goto fail;
        }
    }
    if ((rc = env_override(cfg, "MAILER_SECRET", &cfg->secret)) ||
        (rc = env_override(cfg, "MAILER_SMTP_USERNAME", &cfg->smtp_username)) ||
        (rc = env_override(cfg, "MAILER_SMTP_PASSWORD", &cfg->smtp_password)))
        goto fail;
    for (size_t i = 0; i < cfg->n_mailboxes; i++) {
        char var[96];
        size_t k = (size_t)snprintf(var, sizeof var, "MAILER_BOUNCE_");
        for (const char *p = cfg->mailboxes[i].name; *p && k + 10 < sizeof var; p++)
            var[k++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
        snprintf(var + k, sizeof var - k, "_PASSWORD");
        if ((rc = env_override(cfg, var, &cfg->mailboxes[i].password)))
            goto fail;
    }
    rc = check(cfg);
    if (rc)
        goto fail;
    return MERR_OK;
fail:
    cfg_free(cfg);
    return rc;
}
