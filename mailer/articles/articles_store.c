/*
 * articles_store.c: the SQL for tables `articles` and `article_images`
 * (mailer/db/migrations/0001_articles.sql).
 *
 * An upsert is one INSERT ... ON CONFLICT(id) DO UPDATE for the article row
 * (created_at survives, updated_at moves) followed by replacing all of its
 * image rows: positions follow the JSON order, so deleting and inserting
 * again is simpler and no slower than diffing. The caller owns the
 * transaction. Media rows that no article uses any more are kept: a queued
 * send may still refer to them by hash.
 */
#include "articles_store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"

static const char SQL_ART_EXISTS[] = "SELECT 1 FROM articles WHERE id = ?";
static const char SQL_ART_UPSERT[] =
    "INSERT INTO articles(id, url, title, category, author, published_at, published_offset, "
    "summary, body_html, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) "
    "ON CONFLICT(id) DO UPDATE SET url = excluded.url, title = excluded.title, "
    "category = excluded.category, author = excluded.author, "
    "published_at = excluded.published_at, published_offset = excluded.published_offset, "
    "summary = excluded.summary, body_html = excluded.body_html, "
    "updated_at = excluded.updated_at";
static const char SQL_IMG_CLEAR[] = "DELETE FROM article_images WHERE article_id = ?";
static const char SQL_IMG_ADD[] =
    "INSERT INTO article_images(article_id, position, src, media_sha256, filename, caption, "
    "alt) VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_ART_LOAD[] =
    "SELECT id, url, title, category, author, published_at, published_offset, summary, "
    "body_html FROM articles WHERE id = ?";
/* without the body: SQLite would read its pages even if no one looks at it */
static const char SQL_ART_HEAD[] =
    "SELECT id, url, title, category, author, published_at, published_offset, summary "
    "FROM articles WHERE id = ?";
static const char SQL_IMG_LOAD[] =
    "SELECT ai.src, ai.caption, ai.alt, ai.filename, m.sha256, m.content_type, m.size, "
    "coalesce(m.width, 0), coalesce(m.height, 0) "
    "FROM article_images ai JOIN media m ON m.sha256 = ai.media_sha256 "
    "WHERE ai.article_id = ? ORDER BY ai.position";
static const char SQL_IMG_COUNT[] = "SELECT count(*) FROM article_images WHERE article_id = ?";
static const char SQL_ART_IDS[] =
    "SELECT id FROM articles WHERE published_at > ?1 AND published_at <= ?2 "
    "AND (?5 IS NULL OR published_at < ?2 OR id > ?5) "
    "AND (?3 IS NULL OR category = ?3) ORDER BY published_at DESC, id LIMIT ?4";

enum merr articles_store_exists(struct db *db, const char *id, int *exists)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ART_EXISTS);
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    *exists = src == SQLITE_ROW;
    sqlite3_reset(st);
    return src == SQLITE_ROW || src == SQLITE_DONE ? MERR_OK : db_fail(db, src, "articles");
}

enum merr articles_store_upsert(struct db *db, const struct article *a)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ART_UPSERT);
    int src;

    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->category ? a->category : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a->author ? a->author : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)a->published_at);
    sqlite3_bind_int(st, 7, a->published_offset);
    sqlite3_bind_text(st, 8, a->summary ? a->summary : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, a->body_html, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)date_now());
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return db_fail(db, src, "articles");

    st = db_stmt(db, SQL_IMG_CLEAR);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return db_fail(db, src, "article_images");

    for (size_t i = 0; i < a->nimages; i++) {
        const struct article_image *im = &a->images[i];
        st = db_stmt(db, SQL_IMG_ADD);
        if (!st)
            return MERR_DB;
        sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_text(st, 3, im->src, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, im->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, im->filename, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, im->caption ? im->caption : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, im->alt ? im->alt : "", -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        sqlite3_reset(st);
        if (src != SQLITE_DONE)
            return db_fail(db, src, "article_images");
    }
    return MERR_OK;
}

static enum merr load_images(struct db *db, struct article *a)
{
    sqlite3_stmt *st = db_stmt(db, SQL_IMG_COUNT);
    size_t n = 0, i = 0;
    enum merr rc = MERR_OK;
    int src;

    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (n == 0)
        return MERR_OK;
    a->images = calloc(n, sizeof *a->images);
    if (!a->images)
        return merr_set(MERR_NOMEM, "out of memory");

    st = db_stmt(db, SQL_IMG_LOAD);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    while (i < n && (src = sqlite3_step(st)) == SQLITE_ROW) {
        struct article_image *im = &a->images[i];
        a->nimages = ++i;
        im->src = db_col_dup(st, 0);
        im->caption = db_col_dup(st, 1);
        im->alt = db_col_dup(st, 2);
        im->filename = db_col_dup(st, 3);
        if (!im->src || !im->caption || !im->alt || !im->filename) {
            rc = merr_set(MERR_NOMEM, "out of memory");
            break;
        }
        snprintf(im->sha256, sizeof im->sha256, "%s", (const char *)sqlite3_column_text(st, 4));
        snprintf(im->content_type, sizeof im->content_type, "%s",
                 (const char *)sqlite3_column_text(st, 5));
        im->size = (size_t)sqlite3_column_int64(st, 6);
        im->width = sqlite3_column_int(st, 7);
        im->height = sqlite3_column_int(st, 8);
    }
    if (!rc && i < n)
        rc = db_fail(db, src, "article_images");
    sqlite3_reset(st);
    return rc;
}

enum merr articles_store_load(struct db *db, const char *id, int with_body, struct article **out)
{
    sqlite3_stmt *st = db_stmt(db, with_body ? SQL_ART_LOAD : SQL_ART_HEAD);
    struct article *a = NULL;
    enum merr rc = MERR_OK;
    int src;

    *out = NULL;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = merr_set(MERR_NOTFOUND, "article %.200s: not found", id);
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = db_fail(db, src, "articles");
        goto out;
    }
    a = calloc(1, sizeof *a);
    if (!a) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    a->id = db_col_dup(st, 0);
    a->url = db_col_dup(st, 1);
    a->title = db_col_dup(st, 2);
    a->category = db_col_dup(st, 3);
    a->author = db_col_dup(st, 4);
    a->published_at = (time_t)sqlite3_column_int64(st, 5);
    a->published_offset = sqlite3_column_int(st, 6);
    a->summary = db_col_dup(st, 7);
    if (with_body)
        a->body_html = db_col_dup(st, 8);
    if (!a->id || !a->url || !a->title || !a->category || !a->author || !a->summary ||
        (with_body && !a->body_html)) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    sqlite3_reset(st);
    rc = load_images(db, a);
out:
    sqlite3_reset(st);
    if (rc) {
        article_free(a);
        return rc;
    }
    *out = a;
    return MERR_OK;
}

enum merr articles_store_ids(struct db *db, time_t since, time_t until, const char *after_id,
                             const char *category, size_t max, char ***ids, size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_ART_IDS);
    char **v = NULL;
    size_t k = 0, cap = 0;
    enum merr rc = MERR_OK;
    int src;

    *ids = NULL;
    *n = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)until);
    if (category)
        sqlite3_bind_text(st, 3, category, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, max ? (sqlite3_int64)max : -1);
    if (after_id)
        sqlite3_bind_text(st, 5, after_id, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = realloc(v, ncap * sizeof *v);
            if (!nv) {
                rc = merr_set(MERR_NOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = ncap;
        }
        if (!(v[k] = db_col_dup(st, 0))) {
            rc = merr_set(MERR_NOMEM, "out of memory");
            break;
        }
        k++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = db_fail(db, src, "articles");
    sqlite3_reset(st);
    if (rc) {
        for (size_t i = 0; i < k; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    *ids = v;
    *n = k;
    return MERR_OK;
}
