/*
 * compose.h: article data -> MIME messages, planned once per send.
 *
 * A send's plan holds everything its recipients share: the parsed
 * templates, the sanitized article HTML with <img src> rewritten to cid:,
 * the photos already base64-encoded (media_base64), the shared template
 * data. compose_personal() makes one recipient's personal parts (To, name,
 * Message-ID, VERP, List-Id, List-Unsubscribe, personal template data), the
 * same for delivery, previews and `mailer compose`; compose_render() adds
 * them, renders the text/plain and text/html bodies, and writes the whole
 * message:
 *
 *   multipart/related
 *     multipart/alternative
 *       text/plain; charset=UTF-8 (quoted-printable)
 *       text/html; charset=UTF-8 (quoted-printable)
 *     image/jpeg ... (base64, Content-ID, inline; once per distinct photo)
 *
 * with CRLF line ends, no line over 998 octets, Subject and display names
 * RFC 2047-encoded (hdr.h). The plan is immutable after compose_plan_new
 * and may be rendered from several threads at once. A message is a function
 * of its plan's inputs, its personal parts and the Date: the photos'
 * Content-IDs derive from the inputs and the MIME boundaries from the
 * Message-ID, so rendering it again (a retry, a preview) gives the same
 * bytes but for the Date.
 */
#ifndef MAILER_COMPOSE_COMPOSE_H
#define MAILER_COMPOSE_COMPOSE_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "outbox.h"
#include "tpl.h"

struct dkimsig;

struct compose_media_cache;

struct compose_env {
    const struct config *cfg;
    struct db *db;                     /* articles and media are read while planning only */
    struct tpl_set *tpls;              /* templates/email/<name>.html and .txt, and the subject */
    const struct dkimsig *signer;      /* DKIM keys (dkimsig_from_config), NULL: not signed;
                                          must outlive the plans made with it */
    struct compose_media_cache *media; /* NULL: none (compose_media_cache_new) */
};

/*
 * Derived images kept from one plan to the next. A share is a send of its
 * own, so each gets its own plan, and the photos of an article shared a
 * thousand times were read from the database (the derived image's row,
 * then some 30-300 KB of base64) a thousand times: a seventh of a delivery
 * worker's CPU with shares arriving at 1,000 a second. The cache keeps
 * only what media_image_stored gives (what the database holds, the same
 * for every process: an image made on first use is cached from the next
 * plan on), keyed by photo and use, at most `max_bytes` of base64 and 64
 * images, the least recently used dropped first. Photos are
 * content-addressed and a recipe is fixed by the configuration, so an
 * entry never goes stale. Not thread-safe: plans given the same cache are
 * built one at a time (delivery builds them under its plan cache's lock).
 */
enum merr compose_media_cache_new(size_t max_bytes, struct compose_media_cache **out);
void compose_media_cache_free(struct compose_media_cache *c);

struct compose_plan;

/*
 * Builds a plan from the send's inputs (the JSON kept in sends.plan):
 *   share:   {"kind":"share", "article":"ID", "sender_name":"...",
 *             "sender_email":"...", "note":"..."}
 *   digest:  {"kind":"digest", "articles":["ID",...], "list":{"id":1,
 *             "slug":"tin-tuc", "name":"..."}, "subject":"...",
 *             "template":"digest", "week":"48"}
 *   confirm: {"kind":"confirm", "list":{...}, "template":"confirm"}
 *   breaking: {"kind":"breaking", "article":"ID", "list":{...},
 *             "template":"breaking"}  (one article in full, to a list)
 * Owned by the caller; free with compose_plan_free. MERR_NOTFOUND for a
 * missing article, MERR_INVAL for bad inputs.
 */
enum merr compose_plan_new(const struct compose_env *env, json_t *inputs,
                           struct compose_plan **out);
void compose_plan_free(struct compose_plan *plan);

struct compose_recipient {
    const char *email;              /* ASCII address for To: (punycode domain) */
    const char *name;               /* display name, may be NULL or "" */
    const char *message_id;         /* "local@domain", without angle brackets */
    const char *list_id;            /* list mail: "<slug>.<domain>" for List-Id, else NULL */
    const char *unsubscribe_url;    /* list mail: https one-click URL, else NULL */
    const char *unsubscribe_mailto; /* list mail: mailto: URI, else NULL */
    long long send_id;              /* the send, for Feedback-ID; 0: none (a preview) */
    json_t *vars;                   /* personal template data (name, unsubscribe_url,
                                       confirm_url, ...), may be NULL */
};

/* ---- a recipient's personal parts (compose_personal.c) ---- */

struct crypto_hmac;

/* Whom a message is for, within which send: what the personal parts are made of. */
struct compose_person {
    enum outbox_kind kind;
    const char *salt;        /* the send's: keys the Message-ID; NULL without a send */
    long long send_id;       /* the send, for Feedback-ID; 0: none (a preview) */
    long long envelope_id;   /* 0: no envelope (a preview, `mailer compose`) */
    const char *email;       /* ASCII address (punycode domain) */
    const char *name;        /* display name, may be NULL or "" */
    long long subscriber_id; /* 0: not a subscriber (a share, a sample) */
    long long list_id;       /* list mail and confirmations; 0: none */
    const char *list_slug;   /* list mail */
    time_t created_at;       /* the envelope's: a confirmation link is valid from it */
    /* the same keys prepared (crypto_hmac_new), for the delivery hot path; may be NULL */
    struct crypto_hmac *salt_key;   /* of `salt` */
    struct crypto_hmac *secret_key; /* of [mail] secret */
};

/* One recipient's personal parts; `rcpt` points into the rest. */
struct compose_personal {
    char message_id[128];          /* fixed by the envelope: a retry is the same message */
    char envid[64];                /* the VERP token, also the DSN ENVID (RFC 3461 §4.4) */
    char return_path[128];         /* "bounces+TOKEN@bounce domain": MAIL FROM */
    char list_id[300];             /* list mail: "<slug>.<domain>" (RFC 2919), else "" */
    char mailto[320];              /* list mail: the List-Unsubscribe mailto: URI (RFC 2369) */
    struct buf unsubscribe_url;    /* list mail: the one-click link (RFC 8058) */
    struct buf confirm_url;        /* a confirmation: the link that confirms */
    json_t *vars;                  /* template data: name, unsubscribe_url, confirm_url */
    struct compose_recipient rcpt; /* what compose_render takes */
};

/*
 * Builds every part of a message that is one recipient's own, the same
 * way for delivery, for a digest's preview and for `mailer compose`, so a
 * preview is the delivered message: the Message-ID (outbox_message_id of
 * the send's salt and the envelope; without an envelope a random one on
 * the sending domain), the VERP return path and ENVID, and by kind: list
 * mail gets its List-Id, the List-Unsubscribe URL and mailto and the
 * unsubscribe_url variable; a confirmation its confirm_url. `out` is
 * initialised here; free it with compose_personal_free whatever the
 * result. MERR_INVAL for list mail of an envelope without a list or a
 * subscriber, or a confirmation without either; MERR_NOMEM; MERR_DB (`db`
 * is read for the subscriber's token salt, as subs_unsubscribe_url does).
 */
enum merr compose_personal(const struct config *cfg, struct db *db,
                           const struct compose_person *who, struct compose_personal *out);
void compose_personal_free(struct compose_personal *p);

/*
 * Appends one complete message for `r` to `out`, DKIM-signed when the
 * plan's environment had a signer (dkimsig_sign: MERR_CONFIG if no key
 * signs for the From domain). Every header value and address is checked:
 * CR, LF or NUL refuses the message with MERR_INVAL naming the field, and
 * `out` is left as it was.
 */
enum merr compose_render(const struct compose_plan *plan, const struct compose_recipient *r,
                         struct buf *out);

/* A composed message taken apart for a person to look at (compose_preview.c). */
struct compose_preview {
    char *subject; /* decoded from RFC 2047 */
    char *from;
    char *to;
    char *text;  /* the text/plain part, decoded (UTF-8) */
    char *html;  /* the text/html part, decoded, each cid: URL made a data: URL */
    size_t size; /* bytes of the whole message as delivered */
};

/*
 * Takes apart a message that compose_render wrote (never mail from outside:
 * see compose_preview.c) into `out` (free with compose_preview_clear).
 * MERR_INVAL if it does not parse as MIME, MERR_NOMEM.
 */
enum merr compose_preview(const char *msg, size_t len, struct compose_preview *out);
void compose_preview_clear(struct compose_preview *p);

#endif
