/*
 * http_int.h: what the files of the HTTP module share (not for other modules).
 *
 * http_front.c owns the daemon and turns each libmicrohttpd request into a
 * `struct http_req`: method, path, client address, the body (already capped
 * at [limits] http_max_body) and, once a handler ran, the response. Handlers
 * (http_share.c, http_subs.c, http_api.c, http_health.c) fill the response
 * with the http_reply_* helpers and never touch libmicrohttpd themselves,
 * so they can be unit-tested without a socket.
 */
#ifndef MAILER_HTTP_HTTP_INT_H
#define MAILER_HTTP_HTTP_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "http.h"
#include "net.h"

struct tpl_set;
struct MHD_Connection;

/* What every request of one front shares. */
struct http_ctx {
    const struct config *cfg;
    struct tpl_set *tpl;       /* every page loaded at start: read-only after */
    struct http_health health; /* asks the serve parent for its parts (/healthz) */
    time_t started;
    pthread_mutex_t write_lock; /* serialises this process's write transactions */
    struct db *write_db;        /* the share's handle, used under write_lock only (http_db.c) */
};

#define HTTP_MAX_HEADERS 8

struct http_req {
    struct http_ctx *ctx;
    void *conn;                   /* struct MHD_Connection *, NULL in unit tests */
    const char *method;           /* "GET", "POST", ... */
    char *path;                   /* without the query string */
    char client_ip[NET_IP_TEXT];  /* the client, in one spelling (http_client.c) */
    char client_key[NET_IP_TEXT]; /* what per-client limits count under: IPv4, IPv6 /64 */
    char *content_type;           /* the media type only, lower-cased; NULL if none */
    char *content_type_raw;       /* the whole Content-Type header (parameters too), or NULL */
    char *authorization;          /* the Authorization header; never logged */
    char *accept;                 /* the Accept header, or NULL */
    char *cookie;                 /* the Cookie header, or NULL; never logged */
    char *origin;                 /* the Origin header, or NULL */
    char *host;                   /* the Host header, or NULL */
    char *query;                  /* the raw query string, or NULL (unit tests) */
    struct buf body;
    int too_big;       /* the body passed http_max_body */
    double t0;         /* monotonic start, seconds */
    const char *route; /* metrics label of the matched route */
    char logpath[160]; /* the path as logged: tokens replaced by "…" */

    /* the response */
    int status; /* 0 until a handler answers */
    struct buf out;
    const char *out_type;
    int nheaders;
    char *hname[HTTP_MAX_HEADERS];
    char *hvalue[HTTP_MAX_HEADERS];
};

/* Initialises a request (unit tests and http.c). Free with http_req_free. */
void http_req_init(struct http_req *r, struct http_ctx *ctx, const char *method, const char *path);
void http_req_free(struct http_req *r);

/* ---- http_db.c ---- */

/*
 * This thread's database handle, opened on first use and closed when the
 * front stops. NULL (with merr_msg) if it cannot be opened.
 */
struct db *http_db(struct http_req *r);

/* Closes every thread's handle (the front's stop); the next http_db opens anew. */
void http_db_close_all(void);

/*
 * The front's one handle for the share's step (http_share.c), opened on
 * first use: call it and use the handle only while holding ctx->write_lock.
 * NULL (merr set) if the database cannot be opened. Closed by the front's
 * stop.
 */
struct db *http_db_write(struct http_req *r);

/* ---- http_client.c ---- */

/*
 * The client of a request whose socket peer is `peer`, given the joined
 * X-Forwarded-For lines xff[0..len) (NULL: none): the peer itself unless it
 * is in `trusted`, else the right-most entry that is not in `trusted`
 * (entries a trusted proxy added are skipped; an entry that is not an
 * address stops the walk at the trusted hop before it). Writes its one
 * spelling to ip[] and the key per-client limits count under (the IPv4
 * address, the IPv6 /64) to key[]; "-" for both without a peer.
 */
void http_client_pick(const struct net_cidrs *trusted, const struct sockaddr *peer, const char *xff,
                      size_t len, char ip[NET_IP_TEXT], char key[NET_IP_TEXT]);

/* Fills r->client_ip and r->client_key for connection `c` (http_client_pick). */
void http_client_ip(const struct net_cidrs *trusted, struct MHD_Connection *c, struct http_req *r);

/* ---- http_reply.c ---- */

/* Response helpers: each sets status, type and body (replacing any earlier one). */
void http_reply(struct http_req *r, int status, const char *type, const char *body, size_t n);
void http_reply_json(struct http_req *r, int status, json_t *j); /* steals j */
/* {"error": {"code": CODE, "message": MESSAGE, "field": FIELD}}; field may be NULL. */
void http_reply_error(struct http_req *r, int status, const char *code, const char *message,
                      const char *field);
/* Adds a response header (copied). Silently ignored past HTTP_MAX_HEADERS. */
void http_header(struct http_req *r, const char *name, const char *value);
/* 303 See Other to `location` (a path on this site). */
void http_redirect(struct http_req *r, const char *location);

/*
 * Renders the page template "pages/NAME.html" with `data` (borrowed; the
 * site's name and base URL are added as `site`) and answers with `status`.
 * A rendering failure answers 500 with a plain text.
 */
void http_page(struct http_req *r, int status, const char *name, json_t *data);

/*
 * An error page (pages/error.html) with the title and text of `reason` in
 * the message catalogue (http_msg.h; "page.error" if it has none).
 */
void http_page_error(struct http_req *r, int status, const char *reason);

/*
 * A refusal of a public page's JSON request: {"error": {"code": CODE,
 * "reason": REASON, "field": FIELD, "message": the catalogue's words for a
 * reader, "detail": the technical reason (merr_msg() now)}}. `reason` may
 * be NULL (none), `field` may be NULL, `vars` (borrowed, may be NULL) fills
 * the message's {{values}}. The admin API answers with http_reply_error.
 */
void http_reply_refusal(struct http_req *r, int status, const char *code, const char *reason,
                        const char *field, json_t *vars);

/* The object of http_reply_refusal's "error", new (NULL when out of memory). */
json_t *http_refusal_json(const char *code, const char *reason, const char *field, json_t *vars);

/*
 * Renders the template `tname` (e.g. "admin/lists.html") as http_page does,
 * answering `status` with media type `type`.
 */
void http_render(struct http_req *r, int status, const char *tname, const char *type, json_t *data);

/*
 * An error page with the given title and text: for the web admin, whose
 * editors' words are its own (the readers' pages use the catalogue above).
 */
void http_page_error_text(struct http_req *r, int status, const char *title, const char *message);

/* 1 if the client prefers JSON (an /api/ path or Content-Type application/json). */
int http_wants_json(const struct http_req *r);

/*
 * The query-string argument `name` (decoded by libmicrohttpd), or NULL if
 * absent, not valid UTF-8 or containing CR/LF/NUL. Borrowed until the
 * request ends.
 */
const char *http_query(struct http_req *r, const char *name);

/* ---- http_form.c: request bodies ---- */

struct http_field {
    char *name;
    char *value;    /* NUL-terminated; a file's bytes may hold NULs: see len */
    size_t len;     /* bytes of value */
    char *filename; /* multipart: the part's filename (file fields only), else NULL */
};

struct http_form {
    struct http_field *v;
    size_t n;
    size_t cap;
};

/*
 * Parses application/x-www-form-urlencoded text (WHATWG URL §5.1: '+' is a
 * space, %XX bytes) into name/value pairs in order; repeated names are kept.
 * Every name and value must be valid UTF-8 without NUL: MERR_INVAL naming
 * the field otherwise (merr_field). Free with http_form_free.
 */
enum merr http_form_parse(const char *body, size_t len, struct http_form *out);
void http_form_free(struct http_form *f);

/* The first value of `name`, or NULL. Borrowed from the form. */
const char *http_form_get(const struct http_form *f, const char *name);

/*
 * Appends a field to `f`, taking ownership of `name`, `value` (len bytes,
 * NUL-terminated) and `filename` (may be NULL), which are freed on failure.
 */
enum merr http_form_add(struct http_form *f, char *name, char *value, size_t len, char *filename);

/* MERR_INVAL "WHAT: ..." unless s[0..n) is UTF-8 without NUL. */
enum merr http_form_text_ok(const char *s, size_t n, const char *what);

/* The first field called `name`, or NULL. Borrowed from the form. */
const struct http_field *http_form_field(const struct http_form *f, const char *name);

/*
 * Parses a multipart/form-data body (RFC 7578; RFC 2046 §5.1.1 for the
 * boundaries). `content_type` is the whole Content-Type header, whose
 * boundary parameter splits the body. Each part needs a Content-Disposition
 * form-data with a name; a part with a filename is a file: its bytes are
 * kept as they came (field.len, field.filename); other parts must be UTF-8
 * without NUL like form fields. At most 64 parts. MERR_INVAL naming what is
 * wrong (no boundary, a part without a name, no closing boundary, ...).
 */
enum merr http_form_multipart(const char *body, size_t len, const char *content_type,
                              struct http_form *out);

/*
 * Parses a JSON body: valid UTF-8 first (MERR_INVAL "body is not valid
 * UTF-8 at byte N"), then JSON (MERR_INVAL "malformed JSON at line L column
 * C: reason"). `*out` is a new reference.
 */
enum merr http_form_json(const char *body, size_t len, json_t **out);

/* Percent-decodes a path segment in place (no '+' rule). MERR_INVAL on a bad escape. */
enum merr http_form_unescape_segment(char *s);

/* Appends `s` percent-encoded for a URL path segment (RFC 3986 §2.3 unreserved kept). */
enum merr http_form_escape(struct buf *out, const char *s);

/* ---- handlers ---- */

void http_share_get(struct http_req *r, const char *article_id);
void http_share_post(struct http_req *r, const char *article_id);
void http_share_thanks(struct http_req *r, const char *article_id);
void http_share_media(struct http_req *r, const char *sha256);

/* ---- http_csrf.c ---- */

#define HTTP_CSRF_COOKIE    "mailer_form" /* the browser's form cookie */
#define HTTP_CSRF_BIND_LEN  22            /* its value: base64url of 16 random bytes */
#define HTTP_CSRF_NONCE_HEX 32
#define HTTP_CSRF_TTL       (2 * 3600)

/*
 * Appends a new CSRF token bound to `bind` (the form cookie's value; NULL
 * or "" binds to nothing, for tests): base64url of a 16-byte nonce, the
 * issue time and a truncated HMAC-SHA256 of both and `bind` under `secret`.
 */
enum merr http_csrf_make(const char *secret, const char *bind, time_t now, struct buf *out);

/*
 * Checks a token's MAC (for `bind`) and age, writing nothing: MERR_INVAL
 * (missing, malformed, not genuine), MERR_LIMIT (expired). On MERR_OK the
 * hex of its nonce is in nonce_hex, for http_store_csrf_use once the
 * request passed the rate limits.
 */
enum merr http_csrf_verify(const char *secret, const char *bind, const char *token, time_t now,
                           char nonce_hex[HTTP_CSRF_NONCE_HEX + 1]);

/* http_csrf_verify, then the nonce's single use: MERR_EXISTS the second time. */
enum merr http_csrf_check(struct db *db, const char *secret, const char *bind, const char *token,
                          time_t now);

/*
 * The value of cookie `name` in the request's Cookie header (RFC 6265
 * §5.4) copied to out[size]: 1 if found and it fits, else 0.
 */
int http_cookie(const struct http_req *r, const char *name, char *out, size_t size);

/*
 * A token for a page with a form, bound to this browser's form cookie;
 * when the request carried none (or a malformed one) a new cookie is made
 * and set on the answer (Set-Cookie; Secure when base_url is https).
 */
enum merr http_csrf_form_token(struct http_req *r, time_t now, struct buf *out);

/*
 * 1 unless the request carries an Origin header naming another site: an
 * Origin must be the origin of [site] base_url or of the request's own
 * Host (RFC 6454 §7; "null" is refused). Without Origin the token decides.
 */
int http_csrf_origin_ok(const struct http_req *r);

/* Why a form's token was refused. */
enum http_csrf_fault {
    HTTP_CSRF_OK,
    HTTP_CSRF_OTHER_SITE, /* Origin names another site */
    HTTP_CSRF_NO_COOKIE,  /* the browser sent no form cookie: nothing to check against */
    HTTP_CSRF_BAD,        /* missing, malformed, forged, or another browser's */
    HTTP_CSRF_EXPIRED,
    HTTP_CSRF_USED, /* for the caller: http_store_csrf_use said MERR_EXISTS */
};

/*
 * A public form's POST: the Origin check, then `token` against the form
 * cookie the request carries, writing nothing. HTTP_CSRF_OK leaves the
 * nonce in nonce_hex for http_store_csrf_use after the rate limits.
 */
enum http_csrf_fault http_csrf_form_check(const struct http_req *r, const char *token, time_t now,
                                          char nonce_hex[HTTP_CSRF_NONCE_HEX + 1]);

/* The refusal's reason ("csrf.expired", ...: the message catalogue's key); NULL for HTTP_CSRF_OK.
 */
const char *http_csrf_fault_reason(enum http_csrf_fault f);

/*
 * The admin forms' token, bound to a signed-in session: base64url of the
 * first 24 bytes of HMAC-SHA256("admin-csrf" | session) under `secret`
 * (32 characters), where `session` is the session's stored name (the hash
 * of its cookie). Every form of that session carries the same token, so a
 * second tab or the back button keeps working; it dies with the session.
 */
#define HTTP_CSRF_SESSION_LEN 32
void http_csrf_session(const char *secret, const char *session,
                       char out[HTTP_CSRF_SESSION_LEN + 1]);
/* 1 if `token` is the token of `session`, compared in constant time. */
int http_csrf_session_ok(const char *secret, const char *session, const char *token);

/*
 * 1 unless the request carries an Origin header naming another site: an
 * Origin must be the origin of [site] base_url or of the request's own
 * Host (RFC 6454 §7; "null" is refused). Without Origin (older browsers,
 * non-browser clients) the token alone decides.
 */
int http_csrf_origin_ok(const struct http_req *r);

void http_subs_subscribe_get(struct http_req *r);
void http_subs_subscribe_post(struct http_req *r);
void http_subs_confirm(struct http_req *r, const char *token);
void http_subs_unsubscribe(struct http_req *r, const char *token);

/*
 * Everything under /admin/ (http_admin.c): the login, the session and CSRF
 * checks, then the page of `rest` (the path after /admin/).
 */
void http_admin(struct http_req *r, const char *rest);

/* 413 for a body too large under /admin/: a page naming the limits (http_admin.c). */
void http_admin_too_large(struct http_req *r);

/*
 * Everything under /api/: /api/openapi.json for anyone, the rest
 * authenticated, then routed by `rest` (the path after /api/).
 */
void http_api(struct http_req *r, const char *rest);

/* docs/openapi.yaml as JSON (generated at build time by cmake/openapi_json.py). */
extern const char http_openapi_json[];
extern const size_t http_openapi_json_len;

/*
 * Every route the router answers (http_route and http_api), as
 * docs/openapi.yaml names it: method and path template ("GET",
 * "/api/lists/{slug}"), ended by a NULL method. Kept beside the router:
 * tests/http/test_openapi.py checks each is documented and calls each.
 */
struct http_route_doc {
    const char *method;
    const char *path;
};
extern const struct http_route_doc http_routes[];

/*
 * What the API's handlers share (http_api.c): an error answer for a
 * result code (400 invalid, 404, 409, 413, 503 with Retry-After, else 500
 * logged), the method test (GET also takes HEAD), the 405 answer, and a
 * numeric query parameter in 1..max (0 if absent; -1 after answering 400).
 */
void http_api_fail(struct http_req *r, enum merr rc, const char *field);
int http_api_method(const struct http_req *r, const char *m);
void http_api_bad_method(struct http_req *r, const char *allow);
long long http_api_query_number(struct http_req *r, const char *name, long long max);

/* The most rows one page of an API list answers (`limit`'s upper bound). */
#define HTTP_API_LIST_MAX 1000

/*
 * The request's body as a JSON object (new reference, the caller decrefs),
 * or NULL after answering 415 (not application/json) or 400 (not a JSON
 * object).
 */
json_t *http_api_json_body(struct http_req *r);

/* The string member `name` of the object j (borrowed from j), or NULL if absent or not a string. */
const char *http_api_str_field(json_t *j, const char *name);

/* A time as ISO 8601 in UTC (new reference), JSON null for 0. */
json_t *http_api_time_json(time_t t);

/*
 * The API's areas (http_api_subs.c, http_api_sends.c), routed by http_api
 * after the token check; `rest` is what follows the area's name and its
 * slash ("" for the collection). Each answers every request it gets.
 */
void http_api_subs_lists(struct http_req *r, struct db *db, const char *rest);
void http_api_subs_subscribers(struct http_req *r, struct db *db, const char *rest);
void http_api_sends(struct http_req *r, struct db *db, const char *rest);
void http_api_sends_queue(struct http_req *r, struct db *db);
void http_api_sends_digests(struct http_req *r, struct db *db, const char *rest);
void http_api_sends_breaking(struct http_req *r, struct db *db, const char *rest);

/* /api/bounces (http_bounce.c); `rest` is what follows "bounces/" ("" for the list). */
void http_bounce_api(struct http_req *r, struct db *db, const char *rest);

/* GET /metrics (Prometheus text) and GET /healthz (http_health.c). */
void http_prometheus(struct http_req *r);
void http_healthz(struct http_req *r);

/*
 * 1 unless the serve parent runs a part called `name` that has stopped
 * (a part not started in this process, or unknown, is not a fault).
 */
int http_health_part_ok(const struct http_ctx *ctx, const char *name);

/* ---- http_route.c ---- */

/* Routes a request whose body is complete (or too large) to its handler. */
void http_route(struct http_req *r);

/* Sets r->logpath: the path as logged, link tokens replaced by "…". */
void http_route_logpath(struct http_req *r);

/* ---- http_store.c: the module's tables ---- */

/* Stores a new token's hash under `name`; `*id` receives its id. */
enum merr http_store_token_create(struct db *db, const char *name, int read_only,
                                  const char *hash_hex, time_t now, long long *id);
/* The id of the active token with this hash (and notes its use); MERR_NOTFOUND otherwise. */
enum merr http_store_token_find(struct db *db, const char *hash_hex, time_t now, long long *id,
                                int *read_only);
/* Every token, oldest first. `*out` is malloc'd (free()). */
enum merr http_store_token_list(struct db *db, struct http_token **out, size_t *n);
/* Revokes the token with this id (all digits) or name. MERR_NOTFOUND if none active. */
enum merr http_store_token_revoke(struct db *db, const char *id_or_name, time_t now, int *revoked);

/*
 * Lets one request through `n` sliding-window limits (key, at most
 * limits[i] requests in any `window` seconds) at time `now`, in one BEGIN
 * IMMEDIATE transaction, so parallel requests are counted exactly; O(log n)
 * in the rows stored, whatever the count. At most 8 keys (MERR_INTERNAL).
 * If any key already let its limit through in (now - window, now], the
 * request is not recorded (the keys' requests at or before now - window
 * may have been deleted), `*refused` is that key's index, `*retry_after`
 * the seconds until its oldest request leaves the window, and MERR_LIMIT
 * is returned. A limit of 0 refuses always. A key must always be taken
 * with the same `window`: a take deletes its keys' requests older than
 * its window, which a longer window would still count.
 */
enum merr http_store_rate_take(struct db *db, const char *const *keys, const int *limits, size_t n,
                               time_t now, int window, size_t *refused, int *retry_after);
/*
 * Gives back the latest request of each key (a request that failed after
 * it was let through): the newest one, so the numbering stays gapless; if
 * another process took the same key in between, that one's (a second
 * later at most), which counts the same.
 */
enum merr http_store_rate_give_back(struct db *db, const char *const *keys, size_t n);
/* Marks a CSRF nonce used; MERR_EXISTS if it already was. */
enum merr http_store_csrf_use(struct db *db, const char *nonce_hex, time_t now);
/* Deletes rate events and used nonces older than `before`. */
enum merr http_store_housekeep(struct db *db, time_t before);

#endif
