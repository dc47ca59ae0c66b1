/*
 * compose.h: article data -> MIME messages, planned once per send.
 *
 * A send's plan holds everything its recipients share: the parsed
 * templates, the sanitized article HTML with <img src> rewritten to cid:,
 * the photos already base64-encoded (media_base64), the shared template
 * data. compose_render() then adds one recipient's personal bits (To, name,
 * Message-ID, List-Unsubscribe, personal template data), renders the
 * text/plain and text/html bodies, and writes the whole message:
 *
 *   multipart/related
 *     multipart/alternative
 *       text/plain; charset=UTF-8 (quoted-printable)
 *       text/html; charset=UTF-8 (quoted-printable)
 *     image/jpeg ... (base64, Content-ID, inline; once per distinct photo)
 *
 * with CRLF line ends, no line over 998 octets, Subject and display names
 * RFC 2047-encoded (hdr.h). The plan is immutable after compose_plan_new
 * and may be rendered from several threads at once.
 */
#ifndef MAILER_COMPOSE_COMPOSE_H
#define MAILER_COMPOSE_COMPOSE_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "tpl.h"

struct compose_env {
    const struct config *cfg;
    struct db *db;        /* articles and media are read while planning only */
    struct tpl_set *tpls; /* templates/email/<name>.html and .txt, and the subject */
};

struct compose_plan;

/*
 * Builds a plan from the send's inputs (the JSON kept in sends.plan):
 *   share:   {"kind":"share", "article":"ID", "sender_name":"...",
 *             "sender_email":"...", "note":"..."}
 *   digest:  {"kind":"digest", "articles":["ID",...], "list":{"id":1,
 *             "slug":"tin-tuc", "name":"..."}, "subject":"...",
 *             "template":"digest", "week":"48"}
 *   confirm: {"kind":"confirm", "list":{...}, "template":"confirm"}
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
    json_t *vars;                   /* personal template data (name, unsubscribe_url,
                                       confirm_url, ...), may be NULL */
};

/*
 * Appends one complete message for `r` to `out`. Every header value and
 * address is checked: CR, LF or NUL refuses the message with MERR_INVAL
 * naming the field, and `out` is left as it was.
 */
enum merr compose_render(const struct compose_plan *plan, const struct compose_recipient *r,
                         struct buf *out);

#endif
