/*
 * articles.c: article JSON from the CMS: parse, validate, store.
 *
 * Adding an article happens in three steps so that a bad input can never
 * leave anything behind. (1) article_parse() checks the whole JSON document
 * with jansson plus our own rules (docs/articles.md): raw bytes first (size
 * cap, NUL bytes, UTF-8 with line and column), then every field's type,
 * syntax and length; unknown fields are refused, so a misspelt key is an
 * error and not a silently missing summary. (2) Every image is read or
 * fetched and sniffed into memory, and its mail images derived (body size
 * and digest thumbnail, media_image.c) unless the store has them already,
 * all outside any transaction, so the write lock is never held across disk,
 * network or decoding time; a photo that cannot be decoded, or is over the
 * pixel limit, refuses the article here. (3) One transaction stores the
 * media rows (content-addressed, so shared photos are stored once), the
 * derived images beside them, the article row and its image rows; any
 * failure rolls all of it back, so nothing half-made stays. Error details
 * read "ORIGIN: FIELD: reason".
 */
#include "articles.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles_store.h"
#include "date.h"
#include "log.h"
#include "media.h"
#include "media_image.h"
#include "utf8.h"

#define ID_MAX 128

/* Fields a document may have; anything else is refused (docs/articles.md). */
static const char *const TOP_FIELDS[] = {"id",      "url",       "title",  "category",    "author",
                                         "summary", "body_html", "images", "published_at"};
static const char *const IMAGE_FIELDS[] = {"src", "caption", "alt"};

void article_free(struct article *a)
{
    if (!a)
        return;
    free(a->id);
    free(a->url);
    free(a->title);
    free(a->category);
    free(a->author);
    free(a->summary);
    free(a->body_html);
    for (size_t i = 0; i < a->nimages; i++) {
        free(a->images[i].src);
        free(a->images[i].caption);
        free(a->images[i].alt);
        free(a->images[i].filename);
    }
    free(a->images);
    free(a);
}

void article_list_free(struct article **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        article_free(list[i]);
    free(list);
}

/* ---- parsing ----------------------------------------------------------- */

enum text_kind {
    TEXT_LINE,  /* one line: no control characters at all */
    TEXT_BLOCK, /* may hold line breaks and tabs, no other control characters */
};

/* Line and column (both from 1) of byte offset `off` in `p`. */
static void line_col(const char *p, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (p[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)p[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/*
 * Copies string field `key` of `obj` into `*out`. `name` is the field as
 * shown in messages ("title", "images[2].alt"). Absent or null: MERR_INVAL
 * "missing" if `required`, else "". Refuses non-strings, NUL characters
 * (\u0000), control characters (all of them for TEXT_LINE), values longer
 * than `max` bytes (0: no limit) and, if `required`, blank values.
 */
static enum merr get_text(json_t *obj, const char *key, const char *name, int required,
                          enum text_kind kind, size_t max, char **out)
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    size_t n;
    int blank = 1;

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return merr_set(MERR_INVAL, "%s: missing (required)", name);
        *out = strdup("");
        return *out ? MERR_OK : merr_set(MERR_NOMEM, "out of memory");
    }
    if (!json_is_string(v))
        return merr_set(MERR_INVAL, "%s: must be a string", name);
    s = json_string_value(v);
    n = json_string_length(v);
    if (memchr(s, '\0', n))
        return merr_set(MERR_INVAL, "%s: contains a NUL character (\\u0000)", name);
    if (max && n > max)
        return merr_set(MERR_INVAL, "%s: %zu bytes is longer than the limit of %zu", name, n, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F) {
            if (kind == TEXT_LINE || !(c == '\n' || c == '\r' || c == '\t'))
                return merr_set(MERR_INVAL, "%s: contains a control character (0x%02X)", name, c);
        } else if (c != ' ') {
            blank = 0;
        }
    }
    if (required && blank)
        return merr_set(MERR_INVAL, "%s: empty (required)", name);
    *out = strdup(s);
    return *out ? MERR_OK : merr_set(MERR_NOMEM, "out of memory");
}

/* Refuses keys of `obj` not in `allowed`; `prefix` is "" or "images[N]." for messages. */
static enum merr check_fields(json_t *obj, const char *const *allowed, size_t nallowed,
                              const char *prefix)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (i < nallowed && strcmp(key, allowed[i]) != 0)
            i++;
        if (i == nallowed)
            return merr_set(MERR_INVAL, "%s%.100s: unknown field (allowed: see docs/articles.md)",
                            prefix, key);
    }
    return MERR_OK;
}

static enum merr check_id(const char *id)
{
    size_t n = strlen(id);
    if (n > ID_MAX)
        return merr_set(MERR_INVAL, "id: %zu characters is longer than the limit of %d", n, ID_MAX);
    for (const char *p = id; *p; p++) {
        int ok = islower((unsigned char)*p) || isdigit((unsigned char)*p);
        if (!ok && (p == id || !strchr("._-", *p)))
            return merr_set(MERR_INVAL,
                            "id: \"%.140s\" may only hold a-z, 0-9, '.', '_' and '-', and must "
                            "start with a-z or 0-9",
                            id);
    }
    return MERR_OK;
}

static enum merr parse_images(json_t *root, struct article *a)
{
    json_t *arr = json_object_get(root, "images");
    size_t n;
    enum merr rc;

    if (!arr || json_is_null(arr))
        return MERR_OK;
    if (!json_is_array(arr))
        return merr_set(MERR_INVAL, "images: must be an array of {src, caption, alt}");
    n = json_array_size(arr);
    if (n > ARTICLE_MAX_IMAGES)
        return merr_set(MERR_INVAL, "images: %zu images is more than the limit of %d", n,
                        ARTICLE_MAX_IMAGES);
    if (n == 0)
        return MERR_OK;
    a->images = calloc(n, sizeof *a->images);
    if (!a->images)
        return merr_set(MERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        struct article_image *im = &a->images[i];
        char name[40], prefix[32];

        a->nimages = i + 1;
        snprintf(prefix, sizeof prefix, "images[%zu].", i);
        if (!json_is_object(o))
            return merr_set(MERR_INVAL, "images[%zu]: must be an object {src, caption, alt}", i);
        rc = check_fields(o, IMAGE_FIELDS, sizeof IMAGE_FIELDS / sizeof *IMAGE_FIELDS, prefix);
        if (rc)
            return rc;
        snprintf(name, sizeof name, "images[%zu].src", i);
        rc = get_text(o, "src", name, 1, TEXT_LINE, 2048, &im->src);
        if (rc)
            return rc;
        snprintf(name, sizeof name, "images[%zu].caption", i);
        rc = get_text(o, "caption", name, 0, TEXT_BLOCK, 4000, &im->caption);
        if (rc)
            return rc;
        snprintf(name, sizeof name, "images[%zu].alt", i);
        rc = get_text(o, "alt", name, 0, TEXT_BLOCK, 4000, &im->alt);
        if (rc)
            return rc;
    }
    return MERR_OK;
}

enum merr article_parse(const struct config *cfg, const char *json, size_t len,
                        struct article **out)
{
    struct article *a = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    char *date = NULL;
    size_t bad;
    int line, col;
    enum merr rc = MERR_OK;

    *out = NULL;
    if (len > cfg->article_max_bytes)
        return merr_set(MERR_LIMIT,
                        "%zu bytes is over the article size limit of %zu bytes ([limits] "
                        "article_max_bytes)",
                        len, cfg->article_max_bytes);
    /* a UTF-8 byte order mark is tolerated (some CMS exports write one) */
    if (len >= 3 && !memcmp(json, "\xEF\xBB\xBF", 3)) {
        json += 3;
        len -= 3;
    }
    if (!utf8_valid(json, len, &bad)) {
        line_col(json, bad, &line, &col);
        return merr_set(MERR_INVAL, "invalid UTF-8 at line %d, column %d (byte 0x%02X)", line, col,
                        (unsigned char)json[bad]);
    }
    const char *nul = memchr(json, '\0', len);
    if (nul) {
        line_col(json, (size_t)(nul - json), &line, &col);
        return merr_set(MERR_INVAL, "NUL byte at line %d, column %d", line, col);
    }
    /* \u0000 is let through by jansson so that get_text can name the field */
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_invalid_utf8)
            return merr_set(MERR_INVAL, "invalid UTF-8 at line %d", jerr.line);
        return merr_set(MERR_INVAL, "not valid JSON at line %d, column %d: %s", jerr.line,
                        jerr.column, jerr.text);
    }
    if (!json_is_object(root)) {
        rc = merr_set(MERR_INVAL, "the document must be one JSON object (one article)");
        goto out;
    }
    rc = check_fields(root, TOP_FIELDS, sizeof TOP_FIELDS / sizeof *TOP_FIELDS, "");
    if (rc)
        goto out;
    a = calloc(1, sizeof *a);
    if (!a) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    rc = get_text(root, "id", "id", 1, TEXT_LINE, 0, &a->id);
    if (!rc)
        rc = check_id(a->id);
    if (!rc)
        rc = get_text(root, "url", "url", 1, TEXT_LINE, 2048, &a->url);
    if (!rc && !media_is_http_url(a->url))
        rc = merr_set(MERR_INVAL, "url: \"%.200s\" is not an absolute http:// or https:// URL",
                      a->url);
    if (!rc)
        rc = get_text(root, "title", "title", 1, TEXT_LINE, 1000, &a->title);
    if (!rc)
        rc = get_text(root, "category", "category", 0, TEXT_LINE, 200, &a->category);
    if (!rc)
        rc = get_text(root, "author", "author", 0, TEXT_LINE, 200, &a->author);
    if (!rc)
        rc = get_text(root, "published_at", "published_at", 1, TEXT_LINE, 64, &date);
    if (!rc) {
        rc = date_parse_iso8601(date, &a->published_at, &a->published_offset);
        if (rc)
            merr_wrap(rc, "published_at");
    }
    if (!rc)
        rc = get_text(root, "summary", "summary", 0, TEXT_BLOCK, 0, &a->summary);
    if (!rc)
        rc = get_text(root, "body_html", "body_html", 1, TEXT_BLOCK, 0, &a->body_html);
    if (!rc)
        rc = parse_images(root, a);
out:
    free(date);
    json_decref(root);
    if (rc) {
        article_free(a);
        return rc;
    }
    *out = a;
    return MERR_OK;
}

/* ---- storing ----------------------------------------------------------- */

/*
 * Derives image `i`'s mail images into derived[i] (bytes in `b`, sniffed as
 * `info`), except those the store already has by the current recipe and
 * those of a photo that an earlier image of this article repeats (the rows
 * are keyed by photo, so one copy is stored). Fills `recipe`.
 */
static enum merr derive_images(struct db *db, const struct config *cfg, const struct article *a,
                               size_t i, const struct buf *b, const struct media_info *info,
                               char recipe[MEDIA_USES][MEDIA_RECIPE_LEN],
                               struct media_image (*derived)[MEDIA_USES])
{
    for (size_t k = 0; k < i; k++)
        if (!strcmp(a->images[k].sha256, info->sha256))
            return MERR_OK;
    for (int u = 0; u < MEDIA_USES; u++) {
        enum media_use use = (enum media_use)u;
        struct media_info have;
        enum merr rc;
        media_image_recipe(cfg, use, recipe[u]);
        rc = media_store_derived_get(db, info->sha256, use, recipe[u], &have);
        if (rc == MERR_OK)
            continue;
        if (rc != MERR_NOTFOUND)
            return rc;
        rc = media_image_derive(cfg, a->images[i].src, b->data, b->len, info, use, &derived[i][u]);
        if (rc)
            return rc;
    }
    return MERR_OK;
}

enum merr article_upsert(struct db *db, const struct config *cfg, const char *json, size_t len,
                         const char *base_dir, const char *origin, char **id_out, int *created)
{
    struct article *a = NULL;
    struct buf *bytes = NULL;
    struct media_image(*derived)[MEDIA_USES] = NULL; /* per image; empty: stored or a repeat */
    char recipe[MEDIA_USES][MEDIA_RECIPE_LEN];
    int exists = 0, in_tx = 0;
    enum merr rc;

    if (id_out)
        *id_out = NULL;
    rc = article_parse(cfg, json, len, &a);
    if (rc)
        goto out;

    if (a->nimages) {
        bytes = calloc(a->nimages, sizeof *bytes);
        derived = calloc(a->nimages, sizeof *derived);
        if (!bytes || !derived) {
            rc = merr_set(MERR_NOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < a->nimages; i++) {
        struct article_image *im = &a->images[i];
        struct media_info info;
        buf_init(&bytes[i], cfg->image_max_bytes);
        rc = media_load(cfg, base_dir, im->src, &bytes[i], &info);
        if (rc) {
            merr_wrap(rc, "images[%zu].src", i);
            goto out;
        }
        memcpy(im->sha256, info.sha256, sizeof im->sha256);
        memcpy(im->content_type, info.content_type, sizeof im->content_type);
        im->size = info.size;
        im->width = info.width;
        im->height = info.height;
        im->filename = media_safe_filename(im->src, info.content_type);
        if (!im->filename) {
            rc = merr_set(MERR_NOMEM, "out of memory");
            goto out;
        }
        rc = derive_images(db, cfg, a, i, &bytes[i], &info, recipe, derived);
        if (rc) {
            merr_wrap(rc, "images[%zu].src", i);
            goto out;
        }
    }

    rc = db_begin(db);
    if (rc)
        goto out;
    in_tx = 1;
    rc = articles_store_exists(db, a->id, &exists);
    for (size_t i = 0; !rc && i < a->nimages; i++) {
        struct media_info info;
        memcpy(info.sha256, a->images[i].sha256, sizeof info.sha256);
        memcpy(info.content_type, a->images[i].content_type, sizeof info.content_type);
        info.size = a->images[i].size;
        info.width = a->images[i].width;
        info.height = a->images[i].height;
        rc = media_store_put(db, &info, bytes[i].data);
        for (int u = 0; !rc && u < MEDIA_USES; u++)
            if (derived[i][u].bytes.data)
                rc = media_store_derived_put(db, info.sha256, (enum media_use)u, recipe[u],
                                             &derived[i][u]);
    }
    if (!rc)
        rc = articles_store_upsert(db, a);
    if (!rc)
        rc = db_commit(db);
    if (rc)
        goto out;
    in_tx = 0;
    log_debug("article %s %s (%zu images) from %s", a->id, exists ? "updated" : "added", a->nimages,
              origin);
    if (created)
        *created = !exists;
    if (id_out) {
        *id_out = a->id;
        a->id = NULL;
    }
out:
    if (in_tx)
        db_rollback(db);
    if (rc)
        merr_wrap(rc, "%s", origin);
    for (size_t i = 0; bytes && i < a->nimages; i++) {
        buf_free(&bytes[i]);
        for (int u = 0; derived && u < MEDIA_USES; u++)
            media_image_free(&derived[i][u]);
    }
    free(bytes);
    free(derived);
    article_free(a);
    return rc;
}

enum merr article_upsert_json(struct db *db, const struct config *cfg, const char *json, size_t len,
                              const char *base_dir, const char *origin, char **id_out)
{
    return article_upsert(db, cfg, json, len, base_dir, origin, id_out, NULL);
}

enum merr article_upsert_file(struct db *db, const struct config *cfg, const char *path,
                              char **id_out, int *created)
{
    struct buf text;
    char *dir = NULL, *slash;
    enum merr rc;

    if (id_out)
        *id_out = NULL;
    /* one byte over the cap tells "too big" apart from "exactly the cap" */
    buf_init(&text, cfg->article_max_bytes + 1);
    rc = buf_read_file(&text, path);
    if (rc == MERR_LIMIT) {
        rc = merr_set(MERR_LIMIT,
                      "%s: over the article size limit of %zu bytes ([limits] "
                      "article_max_bytes)",
                      path, cfg->article_max_bytes);
        goto out;
    }
    if (rc)
        goto out;
    dir = strdup(path);
    if (!dir) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    rc = article_upsert(db, cfg, text.data ? text.data : "", text.len, dir, path, id_out, created);
out:
    free(dir);
    buf_free(&text);
    return rc;
}

enum merr article_add_file(struct db *db, const struct config *cfg, const char *path, char **id_out)
{
    return article_upsert_file(db, cfg, path, id_out, NULL);
}

/* ---- reading ----------------------------------------------------------- */

enum merr article_load(struct db *db, const char *id, struct article **out)
{
    return articles_store_load(db, id, 1, out);
}

enum merr article_load_head(struct db *db, const char *id, struct article **out)
{
    return articles_store_load(db, id, 0, out);
}

enum merr article_exists(struct db *db, const char *id, int *exists)
{
    return articles_store_exists(db, id, exists);
}

static enum merr list_common(struct db *db, time_t since, time_t until, const char *after_id,
                             const char *category, size_t max, int with_body, struct article ***out,
                             size_t *n)
{
    char **ids = NULL;
    size_t nids = 0, k = 0;
    struct article **v = NULL;
    enum merr rc;

    *out = NULL;
    *n = 0;
    rc = articles_store_ids(db, since, until, after_id, category, max, &ids, &nids);
    if (rc)
        return rc;
    if (nids) {
        v = calloc(nids, sizeof *v);
        if (!v)
            rc = merr_set(MERR_NOMEM, "out of memory");
    }
    for (; !rc && k < nids; k++)
        rc = articles_store_load(db, ids[k], with_body, &v[k]);
    for (size_t i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    if (rc) {
        article_list_free(v, nids);
        return rc;
    }
    *out = v;
    *n = nids;
    return MERR_OK;
}

enum merr article_list(struct db *db, time_t since, time_t until, const char *category, size_t max,
                       struct article ***out, size_t *n)
{
    return list_common(db, since, until, NULL, category, max, 1, out, n);
}

enum merr article_page(struct db *db, time_t before, const char *after_id, const char *category,
                       size_t max, struct article ***out, size_t *n)
{
    return list_common(db, 0, before ? before : date_now() + 366 * 86400, after_id, category, max,
                       0, out, n);
}

enum merr article_index(struct db *db, time_t since, time_t until, const char *category, size_t max,
                        struct article ***out, size_t *n)
{
    return list_common(db, since, until, NULL, category, max, 0, out, n);
}

/* ---- writing JSON ------------------------------------------------------ */

/* ISO 8601 in the offset the CMS gave (RFC 3339 §5.6), e.g. 2021-10-05T19:18:00+07:00. */
static void iso_in_offset(time_t t, int offset_min, char out[DATE_ISO_LEN])
{
    time_t local = t + (time_t)offset_min * 60;
    struct tm tm;
    int off = offset_min < 0 ? -offset_min : offset_min;
    gmtime_r(&local, &tm);
    snprintf(out, DATE_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             offset_min < 0 ? '-' : '+', off / 60, off % 60);
}

static int set_str(json_t *o, const char *key, const char *v)
{
    return json_object_set_new(o, key, json_string(v ? v : ""));
}

enum merr article_to_json(const struct article *a, struct buf *out)
{
    json_t *root = json_object(), *imgs = json_array();
    char date[DATE_ISO_LEN];
    char *text = NULL;
    int bad = 0;
    enum merr rc;

    if (!root || !imgs) {
        json_decref(root);
        json_decref(imgs);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    iso_in_offset(a->published_at, a->published_offset, date);
    bad |= set_str(root, "id", a->id);
    bad |= set_str(root, "url", a->url);
    bad |= set_str(root, "title", a->title);
    bad |= set_str(root, "category", a->category);
    bad |= set_str(root, "author", a->author);
    bad |= set_str(root, "published_at", date);
    bad |= set_str(root, "summary", a->summary);
    if (a->body_html)
        bad |= set_str(root, "body_html", a->body_html);
    for (size_t i = 0; i < a->nimages; i++) {
        const struct article_image *im = &a->images[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(imgs, o)) {
            bad = 1;
            break;
        }
        bad |= set_str(o, "src", im->src);
        bad |= set_str(o, "caption", im->caption);
        bad |= set_str(o, "alt", im->alt);
        bad |= set_str(o, "filename", im->filename);
        bad |= set_str(o, "sha256", im->sha256);
        bad |= set_str(o, "content_type", im->content_type);
        bad |= json_object_set_new(o, "size", json_integer((json_int_t)im->size));
        bad |= json_object_set_new(o, "width", json_integer(im->width));
        bad |= json_object_set_new(o, "height", json_integer(im->height));
    }
    bad |= json_object_set_new(root, "images", imgs);
    if (!bad)
        text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text)
        return merr_set(MERR_NOMEM, "out of memory");
    rc = buf_puts(out, text);
    if (!rc)
        rc = buf_putc(out, '\n');
    free(text);
    return rc;
}
