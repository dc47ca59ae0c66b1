/*
 * http_admin.c: the door of the web admin: signing in and out, the
 * session, CSRF and Origin checks, roles, and the pages' frame.
 *
 * Every path under /admin/ comes here. Without a live session a GET is
 * sent (303) to /admin/login?next=PATH and anything else is refused 403, so
 * no admin handler runs for a stranger. A POST must also carry the
 * session's CSRF token (http_csrf_session: an HMAC of the session) in the
 * field `csrf` and, when the browser sends Origin, come from this site
 * (http_csrf_origin_ok); otherwise 403 and nothing changes. Areas that
 * need the admin role (accounts, API tokens, the audit log) answer an
 * editor 403.
 *
 * Signing in (POST /admin/login): the login form carries a single-use
 * CSRF token of the public forms' kind, bound to the browser's form cookie
 * (there is no session yet); attempts are counted per client IP and per
 * account in sliding one-minute windows ([admin] login_per_minute each;
 * the next attempt in that minute is refused 429 whatever the password);
 * a success gives its units back. A login always starts a new session (admin_session_start):
 * the cookie a browser had before, signed in or planted, is never
 * promoted, and a session it named is ended. The cookie is `mailer_admin`,
 * Path=/admin, HttpOnly, SameSite=Strict, and Secure when [site] base_url
 * is https; it has no Max-Age (it goes when the browser closes), and the
 * server ends it after [admin] session_idle without a request or
 * session_max in all.
 *
 * Pages are admin/NAME.html templates inside admin/layout.html; every
 * answer is `Cache-Control: no-store` and, like every page of the front,
 * may not be framed. After a change, a page is reached by 303 with
 * ?ok=CODE, a key of the message table below, so no text typed by anyone
 * is ever reflected from a URL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "http_admin.h"
#include "http_msg.h"
#include "log.h"

#define COOKIE_NAME  "mailer_admin"
#define LOGIN_WINDOW 60

/* ?ok=CODE -> the message shown at the top of the page. */
static const struct {
    const char *code;
    const char *text;
} flashes[] = {
    {"saved", "Đã lưu thay đổi."},
    {"created", "Đã tạo."},
    {"removed", "Đã xoá."},
    {"unsubscribed", "Đã huỷ đăng ký của người này."},
    {"blocked", "Đã chặn địa chỉ này: sẽ không gửi thư đến nữa."},
    {"erased", "Đã xoá toàn bộ dữ liệu của người này."},
    {"test_sent", "Đã xếp thư gửi thử vào hàng đợi; thư sẽ đến hộp thư của bạn trong giây lát."},
    {"sending", "Đã bắt đầu gửi."},
    {"paused", "Đã tạm dừng."},
    {"resumed", "Đã tiếp tục gửi."},
    {"cancelled", "Đã huỷ."},
    {"retried", "Đã đưa thư vào hàng đợi để gửi lại."},
    {"undone", "Đã hoàn tác."},
    {"already", "Bản tin này đã được tạo trước đó: đây là lần gửi của nó."},
    {"already_breaking", "Bài này đã được gửi cho danh sách này trước đó: đây là lần gửi đó."},
    {"password", "Đã đổi mật khẩu. Xin đăng nhập lại bằng mật khẩu mới."},
    {"revoked", "Đã thu hồi khoá."},
    {"loggedout", "Bạn đã đăng xuất."},
};

struct nav_item {
    const char *key;
    const char *href;
    const char *label;
    int admin_only;
};

static const struct nav_item nav_items[] = {
    {"dash", "/admin/", "Tổng quan", 0},
    {"lists", "/admin/lists", "Danh sách", 0},
    {"subscribers", "/admin/subscribers", "Người đăng ký", 0},
    {"import", "/admin/import", "Nhập dữ liệu", 0},
    {"digests", "/admin/digests", "Bản tin", 0},
    {"breaking", "/admin/breaking", "Tin nóng", 0},
    {"sends", "/admin/sends", "Các lần gửi", 0},
    {"queue", "/admin/queue", "Hàng đợi", 0},
    {"bounces", "/admin/bounces", "Thư trả lại", 0},
    {"tokens", "/admin/tokens", "Khoá API", 1},
    {"users", "/admin/users", "Người quản trị", 1},
    {"audit", "/admin/audit", "Nhật ký", 1},
};
#define NNAV (sizeof nav_items / sizeof nav_items[0])

/* The areas behind the door, by the first segment of the path. */
static const struct {
    const char *prefix;
    int admin_only;
    void (*fn)(struct http_admin *a, const char *rest);
} areas[] = {
    {"", 0, http_admin_dashboard},
    {"lists", 0, http_admin_lists},
    {"subscribers", 0, http_admin_subscribers},
    {"import", 0, http_admin_import},
    {"digests", 0, http_admin_digests},
    {"breaking", 0, http_admin_breaking},
    {"sends", 0, http_admin_sends},
    {"queue", 0, http_admin_queue},
    {"bounces", 0, http_admin_bounces},
    {"account", 0, http_admin_account},
    {"tokens", 1, http_admin_tokens},
    {"users", 1, http_admin_users},
    {"audit", 1, http_admin_audit_page},
};

static int is_get(const struct http_req *r)
{
    return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
}

/* The value of our cookie in the Cookie header (RFC 6265 §5.4), copied to out[size]. */
static int cookie_value(const struct http_req *r, char *out, size_t size)
{
    const char *p = r->cookie;
    size_t nl = strlen(COOKIE_NAME);
    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        if (n > nl && !strncmp(p, COOKIE_NAME, nl) && p[nl] == '=') {
            size_t vl = n - nl - 1;
            if (vl >= size)
                return 0;
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return 1;
        }
        p += n;
    }
    return 0;
}

static void set_cookie(struct http_req *r, const char *value)
{
    char h[256];
    int secure = strncmp(r->ctx->cfg->site_base_url, "https://", 8) == 0;
    snprintf(h, sizeof h, "%s=%s; Path=/admin; HttpOnly; SameSite=Strict%s%s", COOKIE_NAME, value,
             secure ? "; Secure" : "", *value ? "" : "; Max-Age=0");
    http_header(r, "Set-Cookie", h);
}

/*
 * Every admin answer is never cached. Framing (frame-ancestors 'none',
 * X-Frame-Options) and the referrer policy (same-origin: a form's POST
 * carries its real Origin) are the front's, for every page.
 */
static void frame_headers(struct http_req *r)
{
    http_header(r, "Cache-Control", "no-store");
}

json_t *http_admin_time(time_t t)
{
    char s[DATE_ISO_LEN] = "";
    if (t)
        date_display(t, s);
    return json_string(s);
}

long long http_admin_id(const char *s)
{
    long long v = 0;
    if (!s || !*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
        return 0;
    v = strtoll(s, NULL, 10);
    return v > 0 ? v : 0;
}

long long http_admin_split(const char *rest, const char **action)
{
    char num[24];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    *action = slash ? slash + 1 : "";
    if (n >= sizeof num)
        return 0;
    memcpy(num, rest, n);
    num[n] = '\0';
    return http_admin_id(num);
}

json_t *http_admin_url_part(const char *s)
{
    struct buf b;
    json_t *j;
    buf_init(&b, 0);
    if (http_form_escape(&b, s ? s : "")) {
        buf_free(&b);
        return json_string("");
    }
    j = json_string(b.data ? b.data : "");
    buf_free(&b);
    return j;
}

static json_t *nav_json(const struct http_admin *a, const char *current)
{
    json_t *v = json_array();
    for (size_t i = 0; i < NNAV; i++) {
        if (nav_items[i].admin_only && a->s.user.role != ADMIN_ADMIN)
            continue;
        json_array_append_new(v, json_pack("{s:s, s:s, s:b}", "href", nav_items[i].href, "label",
                                           nav_items[i].label, "current",
                                           current && !strcmp(current, nav_items[i].key)));
    }
    return v;
}

static const char *flash_text(struct http_req *r)
{
    const char *code = http_query(r, "ok");
    for (size_t i = 0; code && i < sizeof flashes / sizeof flashes[0]; i++)
        if (!strcmp(flashes[i].code, code))
            return flashes[i].text;
    return NULL;
}

void http_admin_page(struct http_admin *a, int status, const char *name, const char *nav,
                     json_t *data)
{
    char tname[96];
    const char *flash = flash_text(a->r);
    json_t *d = data ? data : json_object();

    json_object_set_new(d, "me",
                        json_pack("{s:s, s:s, s:s, s:b}", "name",
                                  a->s.user.name[0] ? a->s.user.name : a->s.user.email, "email",
                                  a->s.user.email, "role",
                                  a->s.user.role == ADMIN_ADMIN ? "Quản trị" : "Biên tập", "admin",
                                  a->s.user.role == ADMIN_ADMIN));
    json_object_set_new(d, "csrf", json_string(a->csrf));
    json_object_set_new(d, "nav", nav_json(a, nav));
    if (flash)
        json_object_set_new(d, "flash", json_string(flash));
    snprintf(tname, sizeof tname, "admin/%s.html", name);
    http_render(a->r, status, tname, "text/html; charset=utf-8", d);
    json_decref(d);
    frame_headers(a->r);
}

void http_admin_error(struct http_admin *a, int status, const char *title, const char *message)
{
    http_admin_page(a, status, "error", NULL,
                    json_pack("{s:s, s:s}", "title", title, "message", message));
}

void http_admin_fail(struct http_admin *a, enum merr rc, const char *what)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s", merr_msg()[0] ? merr_msg() : merr_str(rc));
    switch (rc) {
    case MERR_NOTFOUND:
        return http_admin_error(a, 404, "Không tìm thấy", msg);
    case MERR_EXISTS:
        return http_admin_error(a, 409, "Đã có rồi", msg);
    case MERR_INVAL:
    case MERR_LIMIT:
        return http_admin_error(a, 400, "Không thực hiện được", msg);
    case MERR_TEMPFAIL:
        http_header(a->r, "Retry-After", "5");
        return http_admin_error(a, 503, "Hệ thống đang bận", "Xin thử lại sau ít giây.");
    default:
        log_error("http: admin %s %s: %s: %s", a->r->method, a->r->logpath, what, msg);
        return http_admin_error(a, 500, "Lỗi máy chủ",
                                "Đã có lỗi xảy ra; chi tiết ghi trong nhật ký máy chủ.");
    }
}

void http_admin_done(struct http_admin *a, const char *location, const char *code)
{
    char loc[512];
    snprintf(loc, sizeof loc, "%s%s%s%s", location, code ? (strchr(location, '?') ? "&" : "?") : "",
             code ? "ok=" : "", code ? code : "");
    http_redirect(a->r, loc);
    frame_headers(a->r);
}

const char *http_admin_field(const struct http_admin *a, const char *name)
{
    return http_form_get(&a->form, name);
}

void http_admin_bad_method(struct http_admin *a, const char *allow)
{
    http_header(a->r, "Allow", allow);
    http_admin_error(a, 405, "Phương thức không được hỗ trợ",
                     "Địa chỉ này không nhận loại yêu cầu đó.");
}

int http_admin_get_only(struct http_admin *a)
{
    if (is_get(a->r))
        return 1;
    http_admin_bad_method(a, "GET");
    return 0;
}

void http_admin_audit(struct http_admin *a, const char *action, const char *object,
                      const char *detail_fmt, ...)
{
    char detail[512] = "";
    if (detail_fmt) {
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(detail, sizeof detail, detail_fmt, ap);
        va_end(ap);
    }
    if (admin_audit(a->db, &a->actor, date_now(), action, object, detail_fmt ? "%s" : NULL, detail))
        log_error("http: admin: audit %s %s: %s", action, object ? object : "", merr_msg());
}

void http_admin_lock(struct http_admin *a)
{
    pthread_mutex_lock(&a->r->ctx->write_lock);
}

void http_admin_unlock(struct http_admin *a)
{
    pthread_mutex_unlock(&a->r->ctx->write_lock);
}

/* A page without a session (login): the layout shows no menu. */
static void bare_page(struct http_req *r, int status, const char *name, json_t *d)
{
    char tname[96];
    snprintf(tname, sizeof tname, "admin/%s.html", name);
    http_render(r, status, tname, "text/html; charset=utf-8", d);
    json_decref(d);
    frame_headers(r);
}

/* `next` if it is a path of the admin (no other site, no scheme), else "/admin/". */
static const char *safe_next(const char *next)
{
    if (next && !strncmp(next, "/admin/", 7) && !strstr(next, "//") && !strchr(next, '\\') &&
        strlen(next) < 400)
        return next;
    return "/admin/";
}

static void login_form(struct http_req *r, int status, const char *email, const char *next,
                       const char *error)
{
    struct buf tok;
    json_t *d;
    buf_init(&tok, 256);
    if (http_csrf_form_token(r, date_now(), &tok)) {
        buf_free(&tok);
        http_reply(r, 500, "text/plain; charset=utf-8", "internal error\n", 15);
        return;
    }
    d = json_pack("{s:s, s:s, s:s, s:s}", "title", "Đăng nhập", "csrf", tok.data, "email",
                  email ? email : "", "next", safe_next(next));
    if (error)
        json_object_set_new(d, "error", json_string(error));
    if (!error && flash_text(r))
        json_object_set_new(d, "flash", json_string(flash_text(r)));
    if (!error && http_query(r, "expired"))
        json_object_set_new(d, "flash",
                            json_string("Phiên làm việc đã hết hạn: xin đăng nhập lại."));
    buf_free(&tok);
    bare_page(r, status, "login", d);
}

static void login_post(struct http_req *r, struct db *db)
{
    const struct config *cfg = r->ctx->cfg;
    struct http_form f;
    struct admin_user u;
    struct buf cookie;
    char keyip[96], keyuser[320], old[96], nonce[HTTP_CSRF_NONCE_HEX + 1], ra[24];
    const char *keys[2] = {keyip, keyuser};
    int limits[2] = {cfg->admin_login_per_minute, cfg->admin_login_per_minute};
    const char *email, *pw, *next;
    time_t now = date_now();
    size_t refused = 0;
    int retry_after = LOGIN_WINDOW;
    enum http_csrf_fault cf;
    enum merr rc;

    if (!r->content_type || strcmp(r->content_type, "application/x-www-form-urlencoded") != 0 ||
        http_form_parse(r->body.data ? r->body.data : "", r->body.len, &f)) {
        login_form(r, 400, NULL, NULL, "Biểu mẫu không hợp lệ.");
        return;
    }
    email = http_form_get(&f, "email");
    pw = http_form_get(&f, "password");
    next = http_form_get(&f, "next");
    /* the Origin and the token against the browser's form cookie, nothing
     * written yet: the nonce's single use is written after the limits */
    cf = http_csrf_form_check(r, http_form_get(&f, "csrf"), now, nonce);
    if (cf) {
        login_form(r, 403, email, next,
                   http_msg_or(http_csrf_fault_reason(cf), "csrf.invalid")->text);
        goto out;
    }
    if (!email || !*email || !pw || !*pw) {
        login_form(r, 400, email, next, "Xin nhập địa chỉ email và mật khẩu.");
        goto out;
    }
    snprintf(keyip, sizeof keyip, "admin-login-ip:%s", r->client_key);
    snprintf(keyuser, sizeof keyuser, "admin-login:%.250s", email);
    for (char *p = keyuser; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    pthread_mutex_lock(&r->ctx->write_lock);
    rc = http_store_rate_take(db, keys, limits, 2, now, LOGIN_WINDOW, &refused, &retry_after);
    if (!rc) {
        rc = http_store_csrf_use(db, nonce, now);
        if (rc == MERR_EXISTS) {
            http_store_rate_give_back(db, keys, 2);
            pthread_mutex_unlock(&r->ctx->write_lock);
            login_form(r, 403, email, next, http_msg_or("csrf.used", "csrf.invalid")->text);
            goto out;
        }
    }
    pthread_mutex_unlock(&r->ctx->write_lock);
    if (rc == MERR_LIMIT) {
        log_warn("http: admin login throttled (%s)", refused ? "account" : "ip");
        snprintf(ra, sizeof ra, "%d", retry_after > 0 ? retry_after : 1);
        http_header(r, "Retry-After", ra);
        login_form(r, 429, email, next, "Đã nhập sai quá nhiều lần. Xin đợi một phút rồi thử lại.");
        goto out;
    }
    if (rc) {
        login_form(r, 503, email, next, "Hệ thống đang bận, xin thử lại sau ít giây.");
        goto out;
    }
    rc = admin_login_check(db, email, pw, &u);
    if (rc) {
        if (rc != MERR_NOTFOUND)
            log_error("http: admin login: %s", merr_msg());
        login_form(r, rc == MERR_NOTFOUND ? 401 : 503, email, next,
                   rc == MERR_NOTFOUND ? "Sai địa chỉ email hoặc mật khẩu."
                                       : "Hệ thống đang bận, xin thử lại sau ít giây.");
        goto out;
    }
    buf_init(&cookie, 128);
    pthread_mutex_lock(&r->ctx->write_lock);
    http_store_rate_give_back(db, keys, 2);
    if (cookie_value(r, old, sizeof old))
        admin_session_end(db, old); /* whatever the browser had is not kept */
    rc = admin_session_start(db, u.id, r->client_ip, now, &cookie, NULL);
    if (!rc) {
        struct admin_actor me = {u.id, u.email, r->client_ip};
        admin_audit(db, &me, now, "login", u.email, NULL);
    }
    pthread_mutex_unlock(&r->ctx->write_lock);
    if (rc) {
        buf_free(&cookie);
        log_error("http: admin session: %s", merr_msg());
        login_form(r, 503, email, next, "Hệ thống đang bận, xin thử lại sau ít giây.");
        goto out;
    }
    http_redirect(r, safe_next(next));
    set_cookie(r, cookie.data);
    frame_headers(r);
    buf_free(&cookie);
out:
    http_form_free(&f);
}

static void logout(struct http_admin *a)
{
    char c[96];
    http_admin_lock(a);
    if (cookie_value(a->r, c, sizeof c))
        admin_session_end(a->db, c);
    http_admin_audit(a, "logout", a->s.user.email, NULL);
    http_admin_unlock(a);
    http_redirect(a->r, "/admin/login?ok=loggedout");
    set_cookie(a->r, "");
    frame_headers(a->r);
}

static void not_signed_in(struct http_req *r, int expired)
{
    if (is_get(r)) {
        struct buf loc;
        buf_init(&loc, 1024);
        buf_puts(&loc, "/admin/login?next=");
        http_form_escape(&loc, r->path);
        if (expired)
            buf_puts(&loc, "&expired=1");
        http_redirect(r, loc.data);
        buf_free(&loc);
        frame_headers(r);
        return;
    }
    http_page_error_text(r, 403, "Cần đăng nhập", "Xin đăng nhập để dùng trang quản trị.");
    frame_headers(r);
}

/* Parses a POST's body into a->form; answers 400/415 itself and returns 0 on refusal. */
static int read_form(struct http_admin *a)
{
    struct http_req *r = a->r;
    const char *body = r->body.data ? r->body.data : "";
    enum merr rc;
    if (r->content_type && !strcmp(r->content_type, "application/x-www-form-urlencoded"))
        rc = http_form_parse(body, r->body.len, &a->form);
    else if (r->content_type && !strcmp(r->content_type, "multipart/form-data"))
        rc = http_form_multipart(body, r->body.len, r->content_type_raw, &a->form);
    else
        rc = merr_set(MERR_INVAL, "the body must be a form");
    if (rc) {
        http_page_error_text(r, 400, "Biểu mẫu không hợp lệ", merr_msg());
        frame_headers(r);
        return 0;
    }
    return 1;
}

size_t http_admin_body_cap(struct http_req *r)
{
    const struct config *cfg = r->ctx->cfg;
    struct admin_session s;
    char c[96];
    struct db *db;
    /* Only the import upload may be larger, and only for someone signed in. */
    if (strcmp(r->path, "/admin/import") != 0 || strcmp(r->method, "POST") != 0 ||
        cfg->admin_import_max_bytes <= cfg->http_max_body || !cookie_value(r, c, sizeof c))
        return cfg->http_max_body;
    db = http_db(r);
    if (!db || admin_session_check(db, c, date_now(), cfg->admin_session_idle_s,
                                   cfg->admin_session_max_s, &s))
        return cfg->http_max_body;
    return cfg->admin_import_max_bytes;
}

void http_admin(struct http_req *r, const char *rest)
{
    const struct config *cfg = r->ctx->cfg;
    struct http_admin a;
    struct db *db = http_db(r);
    char c[96];
    size_t n;
    enum merr rc;

    if (!db) {
        http_header(r, "Retry-After", "5");
        return http_page_error_text(r, 503, "Dịch vụ tạm thời gián đoạn",
                                    "Xin vui lòng thử lại sau.");
    }
    if (!strcmp(rest, "login")) {
        r->route = "admin_login";
        if (is_get(r))
            return login_form(r, 200, NULL, http_query(r, "next"), NULL);
        if (!strcmp(r->method, "POST"))
            return login_post(r, db);
        http_header(r, "Allow", "GET, POST");
        return http_page_error_text(r, 405, "Phương thức không được hỗ trợ", "");
    }
    if (!strcmp(rest, "admin.js")) {
        /* the pages' small script (the style is inline: the CSP allows no other) */
        r->route = "admin_static";
        if (!is_get(r))
            return http_page_error_text(r, 405, "Phương thức không được hỗ trợ", "");
        http_render(r, 200, "admin/admin.js", "text/javascript; charset=utf-8", NULL);
        http_header(r, "Cache-Control", "max-age=300");
        return;
    }
    r->route = "admin";
    memset(&a, 0, sizeof a);
    a.r = r;
    a.db = db;
    rc = cookie_value(r, c, sizeof c)
             ? admin_session_check(db, c, date_now(), cfg->admin_session_idle_s,
                                   cfg->admin_session_max_s, &a.s)
             : MERR_NOTFOUND;
    if (rc == MERR_NOTFOUND || rc == MERR_LIMIT)
        return not_signed_in(r, rc == MERR_LIMIT);
    if (rc) {
        log_error("http: admin session: %s", merr_msg());
        http_header(r, "Retry-After", "5");
        return http_page_error_text(r, 503, "Dịch vụ tạm thời gián đoạn",
                                    "Xin vui lòng thử lại sau.");
    }
    http_csrf_session(cfg->secret, a.s.id_hash, a.csrf);
    a.actor.user_id = a.s.user.id;
    a.actor.who = a.s.user.email;
    a.actor.ip = r->client_ip;
    if (!is_get(r)) {
        if (strcmp(r->method, "POST") != 0) {
            http_header(r, "Allow", "GET, POST");
            http_page_error_text(r, 405, "Phương thức không được hỗ trợ", "");
            frame_headers(r);
            return;
        }
        if (!read_form(&a))
            return;
        if (!http_csrf_origin_ok(r) ||
            !http_csrf_session_ok(cfg->secret, a.s.id_hash, http_admin_field(&a, "csrf"))) {
            log_warn("http: admin %s: CSRF token or Origin refused", r->logpath);
            http_admin_error(&a, 403, "Yêu cầu bị từ chối",
                             "Biểu mẫu không hợp lệ hoặc đến từ trang khác. Xin tải lại trang và "
                             "làm lại.");
            goto out;
        }
        a.post = 1;
    }
    if (!strcmp(rest, "logout")) {
        if (!a.post)
            http_admin_bad_method(&a, "POST");
        else
            logout(&a);
        goto out;
    }
    n = strcspn(rest, "/");
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++) {
        if (strlen(areas[i].prefix) != n || strncmp(rest, areas[i].prefix, n) != 0)
            continue;
        if (areas[i].admin_only && a.s.user.role != ADMIN_ADMIN) {
            http_admin_error(&a, 403, "Không có quyền",
                             "Trang này chỉ dành cho người quản trị (vai trò admin).");
            goto out;
        }
        areas[i].fn(&a, rest[n] == '/' ? rest + n + 1 : rest + n);
        goto out;
    }
    http_admin_error(&a, 404, "Không tìm thấy trang", "Trang bạn yêu cầu không tồn tại.");
out:
    http_form_free(&a.form);
}

void http_admin_too_large(struct http_req *r)
{
    http_page_error_text(r, 413, "Tệp quá lớn",
                         "Nội dung gửi lên vượt quá giới hạn (tệp nhập: [admin] "
                         "import_max_bytes; biểu mẫu khác: [limits] http_max_body).");
}
