/*
 * http_msg.h: the words readers see, in one place.
 *
 * Every refusal and notice of the public pages is an entry of one table
 * (http_msg.c), named by a stable machine name ("reason"): the names
 * modules give their refusals with merr_setr ("addr.no_at", "name.link",
 * "list.not_found", ...) and the HTTP layer's own ("csrf.expired",
 * "rate.ip", "page.not_found", ...). An entry holds the text in Vietnamese,
 * in words a reader understands (a Mustache template over the caller's
 * values: {{max}}, {{note_max}}), and a title for when it fills a page.
 * Handlers name reasons and never write reader text themselves; JSON
 * answers carry the same name as "reason" beside the stable "code" and the
 * "field", so a script or the admin pages can act on it and show the same
 * words.
 */
#ifndef MAILER_HTTP_HTTP_MSG_H
#define MAILER_HTTP_HTTP_MSG_H

#include <jansson.h>

#include "buf.h"
#include "err.h"

struct http_msg {
    const char *reason; /* "addr.no_at" */
    const char *title;  /* the page's heading when it is a whole page; NULL otherwise */
    const char *text;   /* Vietnamese; Mustache over the caller's values */
};

/* Every entry, ended by one whose reason is NULL (tests, the admin pages). */
extern const struct http_msg http_msgs[];

/* The entry for `reason`, or NULL if the catalogue has none. */
const struct http_msg *http_msg_get(const char *reason);

/*
 * Appends the text of `reason` rendered with `vars` (may be NULL) to
 * `out`. A reason the catalogue lacks (a module refused with merr_set
 * only, or a newer name) falls back to the entry `fallback`, which must
 * exist ("field.invalid" for a field, "page.error" for a page). MERR_NOMEM.
 */
enum merr http_msg_text(const char *reason, const char *fallback, json_t *vars, struct buf *out);

/*
 * The text of `reason` (falling back to `fallback`) rendered with `vars`
 * (may be NULL), as a new JSON string: "" when it cannot be rendered,
 * NULL only when out of memory.
 */
json_t *http_msg_json(const char *reason, const char *fallback, json_t *vars);

/* The entry for `reason`, or for `fallback` when there is none. Never NULL. */
const struct http_msg *http_msg_or(const char *reason, const char *fallback);

#endif
