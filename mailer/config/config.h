/*
 * config.h: the INI configuration (inih), its defaults and its checks.
 *
 * Every key is documented with its default in config.example. Loading is
 * strict: an unknown section or key, or a bad value, stops the start with
 * "FILE:LINE: [section] key: reason". Secrets may come from the environment
 * instead of the file (MAILER_SECRET, MAILER_SMTP_USERNAME,
 * MAILER_SMTP_PASSWORD), which then win over the file.
 */
#ifndef MAILER_CONFIG_CONFIG_H
#define MAILER_CONFIG_CONFIG_H

#include <stddef.h>

#include "err.h"

enum cfg_tls { CFG_TLS_REQUIRED, CFG_TLS_OPPORTUNISTIC, CFG_TLS_NONE };

/* One bounce mailbox: a [bounce.NAME] section. */
struct cfg_mailbox {
    char *name; /* NAME of the section: letters, digits, - and _ */
    char *role; /* bounces, complaints or unsubscribe */
    char *url;  /* imaps://, imap:// (STARTTLS), pop3s://, pop3:// (STLS) host:port[/folder] */
    char *username;
    char *password;   /* or $MAILER_BOUNCE_<NAME>_PASSWORD */
    enum cfg_tls tls; /* required (default) or none (loopback only) */
    int idle;         /* IMAP IDLE inside `mailer serve` when offered (default 1) */
    int delete; /* delete after the result is committed instead of moving (IMAP), DELE (POP3) */
    int leave_on_server; /* POP3: keep messages, remember their UIDL (default 1) */
    int auth_login;      /* IMAP: auth = login (LOGIN command) instead of AUTHENTICATE PLAIN */
    int line;            /* line of the section in the file, for errors */
};

struct config {
    char *path; /* the file read, or NULL for built-in defaults */

    /* [site] */
    char *site_name;     /* shown in From and in every page */
    char *site_base_url; /* public URL of this service: links in mail point here */
    char *timezone;      /* IANA zone name */

    /* [database] */
    char *db_path;
    int db_busy_timeout_ms;

    /* [mail] */
    char *from_address;
    char *from_name;
    char *digest_from;        /* From of digests; NULL: from_address */
    char *confirm_from;       /* From of confirmation requests; NULL: from_address */
    char *share_from;         /* From of shares; NULL: from_address */
    char *secret;             /* HMAC key for tokens; >= 16 bytes */
    char *bounce_domain;      /* VERP return path domain; default: from_address's domain */
    char *unsubscribe_mailto; /* mailto address for List-Unsubscribe; default unsubscribe@domain */

    /* [delivery] */
    char *transport; /* "dir:PATH" or "smtp://host:port" or "smtps://host:port" */
    int connections;
    double rate;            /* messages per second, 0 = unlimited */
    double per_domain_rate; /* messages per second per recipient domain, 0 = unlimited */
    int batch_size;         /* envelopes claimed per worker round */
    int delivery_nice;      /* niceness of the workers under `mailer serve` */
    int delivery_idle;      /* ... or SCHED_IDLE instead (then nice is not used) */
    int lease_seconds;
    int retry_base_seconds;
    int retry_max_seconds;
    int max_age_seconds; /* deferred envelopes fail after this */

    /* [smtp] */
    enum cfg_tls smtp_tls;
    char *smtp_username;
    char *smtp_password;
    char *smtp_ca_file;
    char *smtp_helo;
    int smtp_connect_timeout_ms;
    int smtp_command_timeout_ms;
    int smtp_messages_per_connection;

    /* [http] */
    char *http_listen; /* host:port */
    int http_threads;
    int http_max_connections;
    int http_connection_timeout_s;
    char *http_trusted_proxies;  /* addresses or networks, comma-separated */
    int http_per_ip_connections; /* open connections one client address may hold */
    int http_request_deadline_s; /* seconds for a whole request (head and body) to arrive */
    char *http_metrics_token;    /* Bearer token /metrics asks for; NULL: public */

    /* [limits] */
    size_t image_max_bytes;
    size_t embed_max_bytes;
    size_t article_max_bytes;
    size_t message_max_bytes;
    size_t http_max_body;
    int share_max_recipients;
    int share_note_max_chars;
    int share_per_ip_per_hour;
    int share_per_sender_per_hour;
    int share_global_per_hour;
    int confirm_per_address_per_day; /* confirmation mails to one address per 24 h */
    int confirm_global_per_hour;     /* confirmation mails in all per hour */
    int fetch_timeout_s;
    int fetch_max_redirects;

    /* [templates] */
    char *templates_dir;      /* built-in templates */
    char *templates_override; /* optional folder whose files win */

    /* [media] */
    char *fetch_allow_hosts; /* host names images may be fetched from; NULL: any public host */
    char *fetch_allow_nets;  /* networks fetched from although not public (a CMS inside) */
    char *media_root;       /* optional root for relative image paths; default: the JSON's folder */
    int media_max_pixels;   /* larger images are refused from their header, before decoding */
    int media_jpeg_quality; /* of the derived JPEGs that go into mail */
    int media_threads;      /* libvips worker threads per image (vips_concurrency_set) */

    /* [bounce] */
    int bounce_soft_limit;       /* soft bounces that suppress ... */
    int bounce_soft_days;        /* ... within this many days, over >= 2 sends */
    int bounce_attribution_days; /* envelopes this recent are matched by address */
    size_t bounce_keep_raw;      /* bytes of each message kept for review */
    size_t bounce_max_size;      /* larger messages end unparsed */
    int bounce_poll_interval_s;  /* mailboxes without IDLE are polled this often by serve */
    int bounce_timeout_s;        /* network timeout of IMAP and POP3 */
    char *bounce_processed_folder;
    char *bounce_unparsed_folder;
    struct cfg_mailbox *mailboxes; /* the [bounce.NAME] sections, in file order */
    size_t n_mailboxes;
    /* [dkim] */
    char *dkim_selector;         /* rsa-sha256 selector; NULL: messages are not signed */
    char *dkim_ed25519_selector; /* optional second signature, ed25519-sha256 */
    char *dkim_keys_dir;         /* KEYS_DIR/DOMAIN/SELECTOR.key */
    /* [admin] the editors' web admin */
    int admin_session_idle_s;      /* a session ends after this long without a request */
    int admin_session_max_s;       /* and after this long in all */
    int admin_login_per_minute;    /* failed logins allowed per client IP and per account */
    size_t admin_import_max_bytes; /* largest CSV uploaded on the import page */
};

/* The mailbox called `name`, or NULL. */
const struct cfg_mailbox *cfg_mailbox(const struct config *cfg, const char *name);

/* Fills `cfg` with the built-in defaults. Free with cfg_free. */
enum merr cfg_defaults(struct config *cfg);

/*
 * Loads defaults, then `path` (if not NULL), then environment overrides, and
 * checks every value. On failure returns MERR_CONFIG with
 * "FILE:LINE: [section] key: reason" in merr_msg() and leaves nothing
 * allocated in `cfg`.
 */
enum merr cfg_load(struct config *cfg, const char *path);

/* Frees every string in `cfg`. NULL is ok. */
void cfg_free(struct config *cfg);

/* The domain part of from_address (borrowed from cfg). */
const char *cfg_mail_domain(const struct config *cfg);

/*
 * The From address of a kind of mail ("digest", "confirm", "share"):
 * [mail] digest_from, confirm_from or share_from when set, else
 * from_address (borrowed from cfg).
 */
const char *cfg_kind_from(const struct config *cfg, const char *kind);

#define CFG_FROM_DOMAINS_MAX 8

/*
 * The distinct domains of every From address the configuration uses
 * (borrowed from cfg, at most CFG_FROM_DOMAINS_MAX), in *n: the domains a
 * DKIM key is needed for.
 */
void cfg_from_domains(const struct config *cfg, const char *out[CFG_FROM_DOMAINS_MAX], size_t *n);

#endif
