/*
 * http_admin.h: what the files of the web admin share (http_admin*.c;
 * not for other modules, nor for the other files of mailer/http).
 *
 * http_admin.c receives every request under /admin/, signs people in and
 * out, checks the session, the CSRF token and the Origin of every POST and
 * the role an area needs, and hands the request to the area's function as
 * a `struct http_admin`. Areas (one file each: dashboard, lists,
 * subscribers, import, sends and digests, breaking news, queue and
 * bounces, users and tokens) render their pages through
 * http_admin_page(), which wraps them in admin/layout.html with the
 * navigation, the signed-in person and the CSRF token, and answer a POST
 * with http_admin_done() (303 back to a page, with a message code) or
 * with the form again and its error.
 */
#ifndef MAILER_HTTP_HTTP_ADMIN_H
#define MAILER_HTTP_HTTP_ADMIN_H

#include <jansson.h>

#include "admin.h"
#include "http_int.h"

/* One admin request. */
struct http_admin {
    struct http_req *r;
    struct db *db;
    struct admin_session s; /* the signed-in person */
    char csrf[HTTP_CSRF_SESSION_LEN + 1];
    struct http_form form; /* a POST's fields (urlencoded or multipart); empty for GET */
    struct admin_actor actor;
    int post; /* 1 for POST (already checked: session, CSRF, Origin) */
};

/*
 * Renders admin/NAME.html inside the admin layout and answers `status`.
 * `data` is taken (may be NULL); `nav` names the menu entry shown as
 * current ("dash", "lists", ...). The layout gets `me`, `csrf`, `nav`,
 * `flash` (from ?ok=CODE) and `title` (from data's "title").
 */
void http_admin_page(struct http_admin *a, int status, const char *name, const char *nav,
                     json_t *data);

/* An error page in the admin layout. */
void http_admin_error(struct http_admin *a, int status, const char *title, const char *message);

/*
 * Answers a failed call: 404 for MERR_NOTFOUND, 409 for MERR_EXISTS, 400
 * for MERR_INVAL (each with merr_msg()), 503 for MERR_TEMPFAIL, else 500
 * (logged).
 */
void http_admin_fail(struct http_admin *a, enum merr rc, const char *what);

/*
 * 303 to `location` (a path under /admin/) with "?ok=CODE" (CODE: a key of
 * the message table in http_admin.c; NULL: none).
 */
void http_admin_done(struct http_admin *a, const char *location, const char *code);

/* A POST field, or NULL. */
const char *http_admin_field(const struct http_admin *a, const char *name);

/* 1 for GET/HEAD, 0 (after answering 405 with Allow: GET) otherwise. */
int http_admin_get_only(struct http_admin *a);
/* Answers 405 with Allow: `allow`. */
void http_admin_bad_method(struct http_admin *a, const char *allow);

/* Writes the audit row of a change made in this request (failures are logged). */
void http_admin_audit(struct http_admin *a, const char *action, const char *object,
                      const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Takes the write lock of the process (http_int.h); pairs with http_admin_unlock. */
void http_admin_lock(struct http_admin *a);
void http_admin_unlock(struct http_admin *a);

/* "31/12/2021 14:15" in the site's zone, or "" for 0, as a new JSON string. */
json_t *http_admin_time(time_t t);

/* A decimal id from a path segment `s` (all digits, > 0), or 0. */
long long http_admin_id(const char *s);

/*
 * Splits "ID" or "ID/ACTION" (an area's path after its prefix): returns
 * ID (0 when the first segment is not a positive number) and points
 * `*action` at what follows the slash ("" if none).
 */
long long http_admin_split(const char *rest, const char **action);

/* Percent-encodes `s` for a query or a path segment, as a new JSON string. */
json_t *http_admin_url_part(const char *s);

/* The Vietnamese word for a state or kind code ("sent", "digest", "confirmed", ...). */
const char *http_admin_label(const char *code);

struct outbox_send_row;
/*
 * A send's progress for pages and for its progress JSON: total, done (sent,
 * failed or cancelled), left, per-state counts, percent, finished
 * (http_admin_dash.c).
 */
json_t *http_admin_send_progress(struct db *db, const struct outbox_send_row *s);

/* ---- the areas: `rest` is the path after their prefix ---- */

void http_admin_dashboard(struct http_admin *a, const char *rest);
void http_admin_lists(struct http_admin *a, const char *rest);
void http_admin_subscribers(struct http_admin *a, const char *rest);
void http_admin_import(struct http_admin *a, const char *rest);
void http_admin_sends(struct http_admin *a, const char *rest);
void http_admin_digests(struct http_admin *a, const char *rest);
void http_admin_breaking(struct http_admin *a, const char *rest);
void http_admin_queue(struct http_admin *a, const char *rest);
void http_admin_bounces(struct http_admin *a, const char *rest);

/* The newest bounces about one address (lower case), for the person page. */
json_t *http_admin_bounces_of(struct http_admin *a, const char *email_key);
void http_admin_users(struct http_admin *a, const char *rest);
void http_admin_tokens(struct http_admin *a, const char *rest);
void http_admin_audit_page(struct http_admin *a, const char *rest);
void http_admin_account(struct http_admin *a, const char *rest);

/* Waits for the import jobs still running and frees every job (the front's stop). */
void http_admin_import_stop(void);

/*
 * A preview page (admin/preview.html) of a composed message `msg`, taken
 * apart by compose_preview, with `d` (taken) as the page's other data.
 */
void http_admin_preview(struct http_admin *a, const char *nav, json_t *d, const struct buf *msg);

/* "YYYY-MM-DD" as local midnight; 0 if absent or empty; -1 if malformed. */
time_t http_admin_day(const char *s);

/*
 * "Send a test to me": the message of a digest (kind "digest", list
 * `slug`, articles since `since`) or of breaking news (kind "breaking",
 * list `slug`, `article`) as a send of one envelope to the signed-in
 * person's address; answers with a 303 back to its preview
 * (http_admin_breaking.c).
 */
void http_admin_send_test(struct http_admin *a, const char *kind, const char *slug,
                          const char *article, const char *since);

/* The largest body the front should read for this request (the import upload may be larger). */
size_t http_admin_body_cap(struct http_req *r);

#endif
