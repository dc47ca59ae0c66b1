/*
 * compose_plan.c: everything a send's recipients share, built once.
 *
 * compose_plan_new reads the send's inputs, loads its articles, sanitizes
 * each article's HTML once (html_sanitize, with every <img src> of a photo
 * we embed rewritten to cid:), makes the text forms once (html_to_text,
 * html_wrap_text), and fetches each distinct photo's base64 once
 * (media_base64, cached in the database) to write its MIME
 * part once (compose_image_part). All of it lands in `shared`, the JSON
 * that is the bottom of every recipient's template data stack, and in the
 * image parts that compose_render copies into each message.
 *
 * Photos: one part per SHA-256 however often it is used. A photo larger
 * than [limits] embed_max_bytes is linked (site_base_url/media/SHA, which
 * the HTTP service serves, or its own http(s) src); a photo whose bytes are
 * missing is linked to its absolutized src, never given a cid. A trial
 * render at the end loads the layouts and partials the templates use (so
 * the plan can be rendered from several threads) and drops any photo part
 * that the HTML does not reference, so every part is referenced and every
 * cid: resolves.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "articles.h"
#include "compose.h"
#include "compose_int.h"
#include "compose_mime.h"
#include "crypto.h"
#include "date.h"
#include "enc.h"
#include "hdr.h"
#include "html.h"
#include "log.h"
#include "media.h"
#include "media_image.h"
#include "utf8.h"

#define TEXT_WIDTH 72
#define IMG_WIDTH  560 /* content column of the 600 px layout */

struct planner {
    const struct compose_env *env;
    struct compose_plan *plan;
    const struct article *article; /* during html_sanitize */
    int failed;                    /* an error inside the callback */
    enum merr cb_rc;
};

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static int is_http_url(const char *s)
{
    return !strncmp(s, "https://", 8) || !strncmp(s, "http://", 7);
}

/* site_base_url/media/SHA: the photo as the CMS sent it, served by `mailer serve`. */
static char *media_link(const struct config *cfg, const char *sha256)
{
    size_t n = strlen(cfg->site_base_url);
    char *link;
    while (n > 0 && cfg->site_base_url[n - 1] == '/')
        n--;
    if (asprintf(&link, "%.*s/media/%s", (int)n, cfg->site_base_url, sha256) < 0)
        return NULL;
    return link;
}

#define MEDIA_CACHE_ENTRIES 64

struct media_entry {
    char sha256[65]; /* of the photo as sent */
    enum media_use use;
    struct media_info info; /* of the derived image */
    char *b64;
    size_t len;
    unsigned long long last_use;
};

struct compose_media_cache {
    struct media_entry v[MEDIA_CACHE_ENTRIES];
    size_t n, bytes, max_bytes;
    unsigned long long clock;
};

enum merr compose_media_cache_new(size_t max_bytes, struct compose_media_cache **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return merr_set(MERR_NOMEM, "out of memory");
    (*out)->max_bytes = max_bytes;
    return MERR_OK;
}

void compose_media_cache_free(struct compose_media_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].b64);
    free(c);
}

/* Keeps a copy of `b64` for (sha256, use), making room least recently used first. */
static void media_cache_put(struct compose_media_cache *c, const char *sha256, enum media_use use,
                            const struct media_info *info, const char *b64, size_t len)
{
    struct media_entry *e;
    if (len > c->max_bytes)
        return;
    while (c->n && (c->n == MEDIA_CACHE_ENTRIES || c->bytes + len > c->max_bytes)) {
        size_t old = 0;
        for (size_t i = 1; i < c->n; i++)
            if (c->v[i].last_use < c->v[old].last_use)
                old = i;
        c->bytes -= c->v[old].len;
        free(c->v[old].b64);
        c->v[old] = c->v[--c->n];
    }
    e = &c->v[c->n];
    e->b64 = malloc(len ? len : 1);
    if (!e->b64)
        return; /* not kept: read again next time */
    memcpy(e->b64, b64, len);
    e->len = len;
    snprintf(e->sha256, sizeof e->sha256, "%s", sha256);
    e->use = use;
    e->info = *info;
    e->last_use = ++c->clock;
    c->bytes += len;
    c->n++;
}

/*
 * The derived image of photo `sha256` for `use` (media_image_for_mail),
 * from the env's cache when it has it: `*data` and `*len` are its base64,
 * in the cache or in `b64`, valid until the next call.
 */
static enum merr image_for_mail(struct planner *p, const char *sha256, enum media_use use,
                                struct media_info *info, struct buf *b64, const char **data,
                                size_t *len)
{
    struct compose_media_cache *c = p->env->media;
    enum merr rc;

    if (c) {
        for (size_t i = 0; i < c->n; i++) {
            struct media_entry *e = &c->v[i];
            if (e->use == use && !strcmp(e->sha256, sha256)) {
                e->last_use = ++c->clock;
                *info = e->info;
                *data = e->b64;
                *len = e->len;
                return MERR_OK;
            }
        }
        rc = media_image_stored(p->env->db, p->env->cfg, sha256, use, info, b64);
        if (rc == MERR_OK)
            media_cache_put(c, sha256, use, info, b64->data ? b64->data : "", b64->len);
        if (rc != MERR_NOTFOUND) {
            *data = b64->data;
            *len = b64->len;
            return rc;
        }
        buf_reset(b64);
    }
    rc = media_image_for_mail(p->env->db, p->env->cfg, sha256, use, info, b64);
    *data = b64->data;
    *len = b64->len;
    return rc;
}

/*
 * The plan's image for `img` in `use` (the share's body size or the
 * digest's thumbnail), fetching and writing its part on first use. What is
 * embedded is the image derived for mail (media_image_for_mail: resized,
 * without metadata), never the photo as sent; `full` links the photo as
 * sent. A derived image over [limits] embed_max_bytes, or a photo that
 * cannot be decoded, is linked instead. `*out` NULL means "no usable photo"
 * (missing bytes and no URL).
 */
static enum merr plan_image(struct planner *p, const struct article_image *img, enum media_use use,
                            struct compose_image **out)
{
    struct compose_plan *plan = p->plan;
    const struct config *cfg = p->env->cfg;
    struct compose_image *im, *grown;
    struct media_info info;
    struct buf b64;
    const char *data = NULL;
    size_t len = 0;
    enum merr rc;

    *out = NULL;
    for (size_t i = 0; i < plan->nimages; i++)
        if (!strcmp(plan->images[i].sha256, img->sha256) && plan->images[i].use == use) {
            *out = &plan->images[i];
            return MERR_OK;
        }
    grown = realloc(plan->images, (plan->nimages + 1) * sizeof *grown);
    if (!grown)
        return merr_set(MERR_NOMEM, "out of memory planning images");
    plan->images = grown;
    im = &plan->images[plan->nimages];
    memset(im, 0, sizeof *im);
    buf_init(&im->part, 0);
    snprintf(im->sha256, sizeof im->sha256, "%s", img->sha256);
    im->use = use;
    im->caption = strdup(img->caption ? img->caption : "");
    {
        /* the same send (its inputs) gives the same Content-IDs, in delivery and preview */
        unsigned char h[CRYPTO_SHA256_LEN];
        char seed[160], hex[33];
        int n = snprintf(seed, sizeof seed, "cid:%s:%s:%d", plan->seed, img->sha256, (int)use);
        crypto_sha256(h, seed, (size_t)n);
        enc_hex(hex, h, 16);
        snprintf(im->cid, sizeof im->cid, "%s@%s", hex, cfg_mail_domain(cfg));
    }
    plan->nimages++;

    buf_init(&b64, 0);
    rc = image_for_mail(p, img->sha256, use, &info, &b64, &data, &len);
    if (rc == MERR_OK && info.size <= cfg->embed_max_bytes) {
        char *filename = media_safe_filename(img->filename, info.content_type);
        rc = filename
                 ? compose_image_part(&im->part, info.content_type, filename, im->cid, data, len)
                 : merr_set(MERR_NOMEM, "out of memory planning images");
        free(filename);
        buf_free(&b64);
        if (rc)
            return rc;
        im->embedded = 1;
        im->width = info.width;
        im->height = info.height;
        /* "See the full photo" only when there is more to see than the mail shows. */
        if (img->width == 0 || img->width > info.width || img->height > info.height) {
            im->full = media_link(cfg, img->sha256);
            if (!im->full)
                return merr_set(MERR_NOMEM, "out of memory planning images");
        }
        if (asprintf(&im->src, "cid:%s", im->cid) < 0) {
            im->src = NULL;
            return merr_set(MERR_NOMEM, "out of memory planning images");
        }
        *out = im;
        return MERR_OK;
    }
    buf_free(&b64);
    if (rc == MERR_NOTFOUND) {
        /* Bytes missing: link the original, or give up on the photo. */
        log_warn("compose: photo %s (%s) has no bytes; linked instead", img->sha256, img->src);
        if (!is_http_url(img->src))
            return MERR_OK;
        im->link = strdup(img->src);
    } else if (rc == MERR_INVAL || rc == MERR_LIMIT || rc == MERR_OK) {
        if (rc)
            log_warn("compose: photo %s (%s) cannot go into mail: %s; linked instead", img->sha256,
                     img->src, merr_msg());
        im->link = media_link(cfg, img->sha256);
    } else {
        return rc;
    }
    if (!im->link || !(im->src = strdup(im->link)))
        return merr_set(MERR_NOMEM, "out of memory planning images");
    *out = im;
    return MERR_OK;
}

/* The src to use for a photo: "cid:..." or its link; NULL if none. Stable. */
static const char *image_src(const struct compose_image *im)
{
    return im ? im->src : NULL;
}

/* html_img_fn: <img src> of the article body -> cid: or a link. */
static const char *img_cb(void *arg, const char *src)
{
    struct planner *p = arg;
    const struct article *a = p->article;
    size_t n = strlen(src);
    while (n && (src[0] == ' ' || src[0] == '\t'))
        src++, n--;
    while (n && (src[n - 1] == ' ' || src[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < a->nimages; i++) {
        struct compose_image *im;
        enum merr rc;
        if (strlen(a->images[i].src) != n || memcmp(a->images[i].src, src, n))
            continue;
        rc = plan_image(p, &a->images[i], MEDIA_USE_BODY, &im);
        if (rc) {
            p->failed = 1;
            p->cb_rc = rc;
            return NULL;
        }
        return image_src(im);
    }
    return NULL;
}

/* " · " and the "see the full photo" link of `im`, if it has one. */
static enum merr full_link(const struct compose_image *im, int sep, struct buf *out)
{
    enum merr rc;
    if (!im->full)
        return MERR_OK;
    rc = sep ? buf_puts(out, " &middot; ") : MERR_OK;
    if (!rc)
        rc = buf_puts(out, "<a href=\"");
    if (!rc)
        rc = tpl_escape_html(out, im->full, strlen(im->full));
    return rc ? rc
              : buf_puts(out, "\" style=\"color:#a30000;font-style:normal;\">Xem ảnh đầy đủ</a>");
}

/*
 * What follows an <img> of the body: the caption when its figure has none,
 * and the "see the full photo" link (see fix_imgs).
 */
static enum merr add_caption(const struct compose_plan *plan, const char *src, size_t n,
                             const char *rest, const char *end, struct buf *out)
{
    static const char STYLE[] = "padding:6px 0;font-size:13px;line-height:18px;color:#555555;"
                                "font-style:italic;";
    const struct compose_image *im = NULL;
    const char *fig_end, *next_img, *fig_open, *cap;
    size_t left = (size_t)(end - rest);
    int has_caption;
    enum merr rc;
    for (size_t i = 0; i < plan->nimages && !im; i++)
        if (plan->images[i].src && strlen(plan->images[i].src) == n &&
            !memcmp(plan->images[i].src, src, n))
            im = &plan->images[i];
    if (!im)
        return MERR_OK;
    has_caption = im->caption && im->caption[0];
    if (!has_caption && !im->full)
        return MERR_OK;
    fig_end = memmem(rest, left, "</figure>", 9);
    next_img = memmem(rest, left, "<img", 4);
    fig_open = memmem(rest, left, "<figure", 7);
    cap = memmem(rest, left, "<figcaption", 11);
    if (fig_end && (!next_img || fig_end < next_img) && (!fig_open || fig_end < fig_open)) {
        if (cap && cap < fig_end) { /* the body has its own caption: the link alone */
            if (!im->full)
                return MERR_OK;
            rc = buf_printf(out, "<span style=\"display:block;%s\">", STYLE);
            rc = rc ? rc : full_link(im, 0, out);
            return rc ? rc : buf_puts(out, "</span>");
        }
        rc = buf_printf(out, "<figcaption style=\"%s\">", STYLE);
        if (!rc && has_caption)
            rc = tpl_escape_html(out, im->caption, strlen(im->caption));
        rc = rc ? rc : full_link(im, has_caption, out);
        return rc ? rc : buf_puts(out, "</figcaption>");
    }
    rc = buf_printf(out, "<span style=\"display:block;%s\">", STYLE);
    if (!rc && has_caption)
        rc = tpl_escape_html(out, im->caption, strlen(im->caption));
    rc = rc ? rc : full_link(im, has_caption, out);
    return rc ? rc : buf_puts(out, "</span>");
}

/*
 * Mail clients (Outlook) size images by their width attribute: every <img>
 * of the sanitized body gets width <= IMG_WIDTH, no height, an inline style
 * that scales it down on small screens, and an alt. A photo whose caption
 * the body does not show (no <figcaption> in its <figure>) gets one right
 * after it, so captions reach both parts. The input is the sanitizer's
 * output, whose attributes are name="value".
 */
static enum merr fix_imgs(const struct compose_plan *plan, const char *in, size_t len,
                          struct buf *out)
{
    const char *p = in, *end = in + len;
    enum merr rc = MERR_OK;
    while (p < end && !rc) {
        const char *t = strstr(p, "<img");
        const char *q, *src = NULL;
        size_t srclen = 0;
        int has_alt = 0;
        long width = 0;
        if (!t || t >= end || (t[4] != ' ' && t[4] != '>' && t[4] != '/')) {
            if (!t || t >= end)
                return buf_append(out, p, (size_t)(end - p));
            rc = buf_append(out, p, (size_t)(t + 4 - p));
            p = t + 4;
            continue;
        }
        rc = buf_append(out, p, (size_t)(t - p));
        if (!rc)
            rc = buf_puts(out, "<img");
        q = t + 4;
        while (!rc && q < end && *q != '>') {
            const char *ns, *ne, *vs = NULL, *ve = NULL;
            while (q < end && (*q == ' ' || *q == '\n' || *q == '\t' || *q == '/'))
                q++;
            if (q >= end || *q == '>')
                break;
            ns = q;
            while (q < end && *q != '=' && *q != ' ' && *q != '>' && *q != '/')
                q++;
            ne = q;
            if (q < end && *q == '=') {
                char quote = *++q;
                if (quote == '"' || quote == '\'') {
                    vs = ++q;
                    while (q < end && *q != quote)
                        q++;
                    ve = q;
                    if (q < end)
                        q++;
                } else {
                    vs = q;
                    while (q < end && *q != ' ' && *q != '>')
                        q++;
                    ve = q;
                }
            }
            if (ne - ns == 5 && !strncasecmp(ns, "width", 5)) {
                if (vs)
                    width = strtol(vs, NULL, 10);
                continue;
            }
            if ((ne - ns == 6 && !strncasecmp(ns, "height", 6)) ||
                (ne - ns == 5 && !strncasecmp(ns, "style", 5)))
                continue;
            if (ne - ns == 3 && !strncasecmp(ns, "alt", 3))
                has_alt = 1;
            if (ne - ns == 3 && !strncasecmp(ns, "src", 3) && vs) {
                src = vs;
                srclen = (size_t)(ve - vs);
            }
            rc = buf_putc(out, ' ');
            if (!rc)
                rc = buf_append(out, ns, (size_t)(ne - ns));
            if (!rc && vs) {
                rc = buf_puts(out, "=\"");
                if (!rc)
                    rc = buf_append(out, vs, (size_t)(ve - vs));
                if (!rc)
                    rc = buf_putc(out, '"');
            }
        }
        if (width <= 0 && src) { /* no width given: the embedded image's own, if known */
            for (size_t i = 0; i < plan->nimages; i++)
                if (plan->images[i].src && plan->images[i].embedded &&
                    strlen(plan->images[i].src) == srclen &&
                    !memcmp(plan->images[i].src, src, srclen))
                    width = plan->images[i].width;
        }
        if (width <= 0 || width > IMG_WIDTH)
            width = IMG_WIDTH;
        if (!rc && !has_alt)
            rc = buf_puts(out, " alt=\"\"");
        if (!rc)
            rc = buf_printf(out,
                            " width=\"%ld\" style=\"display:block;width:100%%;max-width:%ldpx;"
                            "height:auto;border:0\">",
                            width, width);
        p = q < end ? q + 1 : end;
        if (!rc && src)
            rc = add_caption(plan, src, srclen, p, end, out);
    }
    return rc;
}

/*
 * A browser gives <figure> 40 px side margins (HTML's rendering section,
 * 15.3.3): on a 320 px phone that takes a quarter of the width from the
 * photo. Every <figure> of the sanitized body (written without attributes)
 * gets vertical margins only.
 */
static enum merr fix_figures(const char *in, size_t len, struct buf *out)
{
    static const char FIG[] = "<figure>";
    const char *p = in, *end = in + len, *f;
    enum merr rc = MERR_OK;
    while (!rc && (f = memmem(p, (size_t)(end - p), FIG, sizeof FIG - 1))) {
        rc = buf_append(out, p, (size_t)(f - p));
        if (!rc)
            rc = buf_puts(out, "<figure style=\"margin:16px 0;padding:0;\">");
        p = f + sizeof FIG - 1;
    }
    return rc ? rc : buf_append(out, p, (size_t)(end - p));
}

static enum merr set_str(json_t *o, const char *key, const char *s)
{
    json_t *v = json_string(s ? s : "");
    if (!v)
        return merr_set(MERR_INVAL, "%s: not valid UTF-8 text", key);
    if (json_object_set_new(o, key, v))
        return merr_set(MERR_NOMEM, "out of memory");
    return MERR_OK;
}

static enum merr set_buf(json_t *o, const char *key, const struct buf *b)
{
    json_t *v = json_stringn(b->data ? b->data : "", b->len);
    if (!v)
        return merr_set(MERR_INVAL, "%s: not valid UTF-8 text", key);
    if (json_object_set_new(o, key, v))
        return merr_set(MERR_NOMEM, "out of memory");
    return MERR_OK;
}

static enum merr set_wrapped(json_t *o, const char *key, const char *s)
{
    struct buf b;
    enum merr rc;
    buf_init(&b, 0);
    rc = html_wrap_text(s, strlen(s), TEXT_WIDTH, &b);
    /* The wrapper ends paragraphs with "\n"; the template places the breaks. */
    while (!rc && b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = 0;
    if (!rc)
        rc = set_str(o, key, b.data ? b.data : "");
    buf_free(&b);
    return rc;
}

/* The template data of one article (shared). `full`: body too (share). */
static enum merr article_json(struct planner *p, const struct article *a, int full, json_t **out)
{
    json_t *o = json_object();
    struct buf raw, imgs, html, text;
    char date[DATE_ISO_LEN];
    enum merr rc;

    buf_init(&raw, 0);
    buf_init(&imgs, 0);
    buf_init(&html, 0);
    buf_init(&text, 0);
    if (!o)
        return merr_set(MERR_NOMEM, "out of memory");
    date_display(a->published_at, date);
    rc = set_str(o, "id", a->id);
    if (!rc)
        rc = set_str(o, "url", a->url);
    if (!rc)
        rc = set_str(o, "title", a->title);
    if (!rc)
        rc = set_wrapped(o, "title_text", a->title);
    if (!rc)
        rc = set_str(o, "author", a->author);
    if (!rc)
        rc = set_str(o, "category", a->category);
    if (!rc)
        rc = set_str(o, "summary", a->summary);
    if (!rc)
        rc = set_wrapped(o, "summary_text", a->summary);
    if (!rc)
        rc = set_str(o, "date", date);
    if (rc)
        goto out;

    if (full) {
        json_t *photos = json_array();
        p->article = a;
        p->failed = 0;
        rc = html_sanitize(a->body_html, strlen(a->body_html), a->url, img_cb, p, &raw);
        if (!rc && p->failed)
            rc = p->cb_rc;
        if (!rc)
            rc = fix_imgs(p->plan, raw.data ? raw.data : "", raw.len, &imgs);
        if (!rc)
            rc = fix_figures(imgs.data ? imgs.data : "", imgs.len, &html);
        if (!rc)
            rc = html_to_text(html.data ? html.data : "", html.len, TEXT_WIDTH, &text);
        if (!rc)
            rc = set_buf(o, "body_html", &html);
        if (!rc)
            rc = set_buf(o, "body_text", &text);
        /* Photos the body does not show go after it, with their captions. */
        for (size_t i = 0; !rc && i < a->nimages; i++) {
            const struct article_image *img = &a->images[i];
            struct compose_image *im;
            const char *src;
            json_t *ph;
            if (strstr(a->body_html, img->src))
                continue;
            rc = plan_image(p, img, MEDIA_USE_BODY, &im);
            if (rc || !(src = image_src(im)))
                continue;
            ph = json_object();
            if (!ph || json_array_append_new(photos, ph)) {
                rc = merr_set(MERR_NOMEM, "out of memory");
                break;
            }
            rc = set_str(ph, "src", src);
            if (!rc)
                rc = set_str(ph, "alt", img->alt[0] ? img->alt : img->caption);
            if (!rc)
                rc = set_str(ph, "caption", img->caption);
            if (!rc && im->full)
                rc = set_str(ph, "full", im->full);
        }
        if (!photos || json_object_set_new(o, "photos", photos))
            rc = rc ? rc : merr_set(MERR_NOMEM, "out of memory");
    } else if (a->nimages > 0) {
        /* Digest: the first photo as a thumbnail, like the site's "Tin khác". */
        struct compose_image *im;
        const char *src;
        rc = plan_image(p, &a->images[0], MEDIA_USE_THUMB, &im);
        if (!rc && (src = image_src(im))) {
            json_t *th = json_object();
            if (!th || json_object_set_new(o, "thumb", th)) {
                rc = merr_set(MERR_NOMEM, "out of memory");
                goto out;
            }
            rc = set_str(th, "src", src);
            if (!rc)
                rc = set_str(th, "alt", a->images[0].alt[0] ? a->images[0].alt : a->title);
            if (!rc)
                rc = json_object_set_new(th, "width", json_integer(MEDIA_THUMB_CSS_W)) ||
                             json_object_set_new(th, "height", json_integer(MEDIA_THUMB_CSS_H))
                         ? merr_set(MERR_NOMEM, "out of memory")
                         : MERR_OK;
        }
    }
out:
    buf_free(&raw);
    buf_free(&imgs);
    buf_free(&html);
    buf_free(&text);
    if (rc)
        json_decref(o);
    else
        *out = o;
    return rc;
}

/* The note: HTML-escaped with its line breaks kept, and wrapped for text. */
static enum merr note_json(json_t *shared, const char *note)
{
    struct buf h;
    const char *s = note, *nl;
    enum merr rc = MERR_OK;
    buf_init(&h, 0);
    while (!rc && (nl = strchr(s, '\n'))) {
        size_t n = (size_t)(nl - s);
        if (n && s[n - 1] == '\r')
            n--;
        rc = tpl_escape_html(&h, s, n);
        if (!rc)
            rc = buf_puts(&h, "<br>\n");
        s = nl + 1;
    }
    if (!rc)
        rc = tpl_escape_html(&h, s, strlen(s));
    if (!rc)
        rc = set_buf(shared, "note_html", &h);
    if (!rc)
        rc = set_wrapped(shared, "note_text", note);
    if (!rc)
        rc = set_str(shared, "note", note);
    buf_free(&h);
    return rc;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static enum merr list_json(json_t *shared, json_t *inputs)
{
    json_t *list = json_object_get(inputs, "list"), *copy;
    if (!json_is_object(list))
        return merr_set(MERR_INVAL, "list: missing");
    if (!jstr(list, "name") || !*jstr(list, "name"))
        return merr_set(MERR_INVAL, "list.name: missing");
    copy = json_deep_copy(list);
    if (!copy || json_object_set_new(shared, "list", copy))
        return merr_set(MERR_NOMEM, "out of memory");
    return MERR_OK;
}

static enum merr plan_share(struct planner *p, json_t *inputs, json_t *shared)
{
    struct compose_plan *plan = p->plan;
    const char *id = jstr(inputs, "article"), *name = jstr(inputs, "sender_name");
    const char *email = jstr(inputs, "sender_email"), *note = jstr(inputs, "note");
    struct article *a = NULL;
    json_t *aj = NULL, *sender;
    enum merr rc;

    if (!id || !*id)
        return merr_set(MERR_INVAL, "article: missing");
    name = name ? name : "";
    email = email ? email : "";
    note = note ? note : "";
    rc = hdr_check("sender_name", name);
    if (!rc)
        rc = hdr_check("sender_email", email);
    if (!rc && !utf8_valid(note, strlen(note), NULL))
        rc = merr_set(MERR_INVAL, "note: is not valid UTF-8");
    if (rc)
        return rc;
    rc = article_load(p->env->db, id, &a);
    if (rc)
        return rc == MERR_NOTFOUND ? merr_set(rc, "article %s: not found", id) : rc;
    rc = article_json(p, a, 1, &aj);
    if (rc)
        goto out;
    if (json_object_set_new(shared, "article", aj)) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    sender = json_object();
    if (!sender || json_object_set_new(shared, "sender", sender)) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    rc = set_str(sender, "name", name);
    if (!rc)
        rc = set_str(sender, "email", email);
    /* Who to name in the copy: the name, else the address, else "một bạn đọc". */
    if (!rc)
        rc = set_str(sender, "display", *name ? name : *email ? email : "Một bạn đọc");
    if (!rc && *note)
        rc = note_json(shared, note);
    if (!rc && *email) {
        plan->reply_name = xstrdup(name);
        plan->reply_address = xstrdup(email);
        if (!plan->reply_name || !plan->reply_address)
            rc = merr_set(MERR_NOMEM, "out of memory");
    }
out:
    article_free(a);
    return rc;
}

static enum merr plan_digest(struct planner *p, json_t *inputs, json_t *shared)
{
    json_t *ids = json_object_get(inputs, "articles"), *list, *v;
    const char *week = jstr(inputs, "week");
    size_t i;
    enum merr rc;

    if (!json_is_array(ids) || json_array_size(ids) == 0)
        return merr_set(MERR_INVAL, "articles: an array of article ids is needed");
    rc = list_json(shared, inputs);
    if (rc)
        return rc;
    list = json_array();
    if (!list || json_object_set_new(shared, "articles", list))
        return merr_set(MERR_NOMEM, "out of memory");
    json_array_foreach(ids, i, v)
    {
        struct article *a = NULL;
        json_t *aj;
        if (!json_is_string(v))
            return merr_set(MERR_INVAL, "articles[%zu]: not a string", i);
        rc = article_load(p->env->db, json_string_value(v), &a);
        if (rc)
            return rc == MERR_NOTFOUND ? merr_set(rc, "article %s: not found", json_string_value(v))
                                       : rc;
        rc = article_json(p, a, 0, &aj);
        article_free(a);
        if (rc)
            return rc;
        if (json_array_append_new(list, aj))
            return merr_set(MERR_NOMEM, "out of memory");
    }
    if (!week) {
        char w[8];
        time_t now = date_now();
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(w, sizeof w, "%V", &tm);
        return set_str(shared, "week", w);
    }
    return set_str(shared, "week", week);
}

/*
 * Breaking news: one article in full (as a share carries it) to a list
 * (as a digest goes): {"kind":"breaking", "article":"ID", "list":{...}}.
 */
static enum merr plan_breaking(struct planner *p, json_t *inputs, json_t *shared)
{
    const char *id = jstr(inputs, "article");
    struct article *a = NULL;
    json_t *aj = NULL;
    enum merr rc;

    if (!id || !*id)
        return merr_set(MERR_INVAL, "article: missing");
    rc = list_json(shared, inputs);
    if (rc)
        return rc;
    rc = article_load(p->env->db, id, &a);
    if (rc)
        return rc == MERR_NOTFOUND ? merr_set(rc, "article %s: not found", id) : rc;
    rc = article_json(p, a, 1, &aj);
    article_free(a);
    if (!rc && json_object_set_new(shared, "article", aj))
        rc = merr_set(MERR_NOMEM, "out of memory");
    return rc;
}

/* The recipient-independent part of the template data. */
static enum merr shared_base(const struct config *cfg, json_t *shared)
{
    /* {{site}} is the name, as the lists' digest_subject default uses it. */
    enum merr rc = set_str(shared, "site", cfg->site_name);
    if (!rc)
        rc = set_str(shared, "site_name", cfg->site_name);
    if (!rc)
        rc = set_str(shared, "site_url", cfg->site_base_url);
    if (!rc)
        rc = set_str(shared, "from_name", cfg->from_name);
    return rc;
}

/*
 * Renders once with empty personal data: loads every layout and partial
 * (thread safety), checks the templates, and keeps only photo parts the
 * HTML references. For list mail, rendered for every subscriber, it keeps
 * the bodies' lines QP-encoded too (compose_qp_with): a digest's
 * recipients differ from this render in the greeting and the unsubscribe
 * links only. A share or a confirmation has one or a few recipients: the
 * memo would cost more than it saves.
 */
static enum merr trial_render(struct compose_plan *plan)
{
    int memo = plan->kind == OUTBOX_DIGEST || plan->kind == OUTBOX_BREAKING;
    json_t *personal = json_pack("{s:{s:s,s:s},s:s,s:s}", "recipient", "name", "", "email", "",
                                 "unsubscribe_url", "", "confirm_url", "");
    json_t *ctx[2] = {plan->shared, personal};
    struct buf out;
    enum merr rc;

    if (!personal)
        return merr_set(MERR_NOMEM, "out of memory");
    buf_init(&out, plan->max_bytes);
    rc = tpl_render(plan->txt, plan->set, NULL, ctx, 2, &out);
    plan->text_hint = out.len + 1024;
    if (!rc && memo)
        rc = compose_qp_memo_new(out.data ? out.data : "", out.len, &plan->text_memo);
    if (!rc && plan->subject_file)
        rc = tpl_render(plan->subject_file, plan->set, NULL, ctx, 2, &out);
    buf_reset(&out);
    if (!rc)
        rc = tpl_render(plan->html, plan->set, NULL, ctx, 2, &out);
    plan->html_hint = out.len + 1024;
    if (!rc && memo)
        rc = compose_qp_memo_new(out.data ? out.data : "", out.len, &plan->html_memo);
    for (size_t i = 0; !rc && i < plan->nimages; i++) {
        struct compose_image *im = &plan->images[i];
        char ref[110];
        if (!im->embedded)
            continue;
        snprintf(ref, sizeof ref, "cid:%s", im->cid);
        im->referenced = out.data && strstr(out.data, ref) != NULL;
        if (!im->referenced) {
            im->embedded = 0;
            buf_free(&im->part);
        }
    }
    buf_free(&out);
    json_decref(personal);
    return rc;
}

enum merr compose_plan_new(const struct compose_env *env, json_t *inputs, struct compose_plan **out)
{
    struct compose_plan *plan;
    struct planner p;
    const char *kind = jstr(inputs, "kind"), *tname, *subject;
    char name[128];
    enum merr rc;

    *out = NULL;
    if (!json_is_object(inputs) || !kind)
        return merr_set(MERR_INVAL, "plan: kind: missing");
    plan = calloc(1, sizeof *plan);
    if (!plan)
        return merr_set(MERR_NOMEM, "out of memory");
    memset(&p, 0, sizeof p);
    p.env = env;
    p.plan = plan;
    plan->set = env->tpls;
    plan->max_bytes = env->cfg->message_max_bytes;
    plan->signer = env->signer;
    plan->from_name = xstrdup(env->cfg->from_name);
    plan->shared = json_object();
    if (!plan->from_name || !plan->shared) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    /* a test send carries the plan of what it tests: a plan is never of kind "test" */
    if (outbox_kind_parse(kind) < 0 || outbox_kind_parse(kind) == OUTBOX_TEST) {
        rc = merr_set(MERR_INVAL, "plan: kind: \"%s\" is not share, digest, confirm or breaking",
                      kind);
        goto out;
    }
    plan->kind = (enum outbox_kind)outbox_kind_parse(kind);
    {
        char *canon = json_dumps(inputs, JSON_COMPACT | JSON_SORT_KEYS);
        unsigned char h[CRYPTO_SHA256_LEN];
        if (!canon) {
            rc = merr_set(MERR_NOMEM, "out of memory");
            goto out;
        }
        crypto_sha256(h, canon, strlen(canon));
        enc_hex(plan->seed, h, 16);
        free(canon);
    }
    /* a From per kind of mail, each on a domain that signs (dkimsig_from_config) */
    plan->from_address = xstrdup(cfg_kind_from(env->cfg, kind));
    if (!plan->from_address) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    /* Feedback-ID (Gmail's feedback loop): the list, or "none" for a share */
    {
        const char *slug = jstr(json_object_get(inputs, "list"), "slug");
        snprintf(plan->feedback, sizeof plan->feedback, "%.64s:%s:%.120s",
                 plan->kind != OUTBOX_SHARE && slug && *slug ? slug : "none", kind,
                 cfg_mail_domain(env->cfg));
    }
    tname = jstr(inputs, "template");
    if (!tname || !*tname)
        tname = kind;
    for (const char *c = tname; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_')) {
            rc = merr_set(MERR_INVAL, "plan: template: \"%s\" is not a template name", tname);
            goto out;
        }
    rc = shared_base(env->cfg, plan->shared);
    if (rc)
        goto out;
    if (plan->kind == OUTBOX_SHARE)
        rc = plan_share(&p, inputs, plan->shared);
    else if (plan->kind == OUTBOX_DIGEST)
        rc = plan_digest(&p, inputs, plan->shared);
    else if (plan->kind == OUTBOX_BREAKING)
        rc = plan_breaking(&p, inputs, plan->shared);
    else
        rc = list_json(plan->shared, inputs);
    if (rc)
        goto out;

    snprintf(name, sizeof name, "email/%s.html", tname);
    rc = tpl_get(env->tpls, name, &plan->html);
    if (!rc) {
        snprintf(name, sizeof name, "email/%s.txt", tname);
        rc = tpl_get(env->tpls, name, &plan->txt);
    }
    subject = jstr(inputs, "subject");
    if (!rc && subject && *subject) {
        rc = tpl_parse(subject, strlen(subject), TPL_ESCAPE_NONE, &plan->subject);
        if (rc)
            rc = merr_wrap(rc, "subject");
    } else if (!rc) {
        snprintf(name, sizeof name, "email/%s.subject.txt", tname);
        rc = tpl_get(env->tpls, name, &plan->subject_file);
    }
    if (rc)
        goto out;
    rc = trial_render(plan);
out:
    if (rc) {
        compose_plan_free(plan);
        return rc;
    }
    *out = plan;
    return MERR_OK;
}

void compose_plan_free(struct compose_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->nimages; i++) {
        buf_free(&plan->images[i].part);
        free(plan->images[i].link);
        free(plan->images[i].src);
        free(plan->images[i].full);
        free(plan->images[i].caption);
    }
    free(plan->images);
    free(plan->from_name);
    free(plan->from_address);
    free(plan->reply_name);
    free(plan->reply_address);
    tpl_free(plan->subject);
    json_decref(plan->shared);
    compose_qp_memo_free(plan->text_memo);
    compose_qp_memo_free(plan->html_memo);
    free(plan);
}
