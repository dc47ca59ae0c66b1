/*
 * media_store.c: the SQL for tables `media` (mailer/db/migrations/0001) and
 * `media_derived`.
 *
 * A row is keyed by the SHA-256 of its bytes, so storing the same photo
 * twice is a no-op (INSERT ... ON CONFLICT DO NOTHING) and rows are never
 * updated except to fill the `b64` cache. The cache holds the MIME base64
 * form exactly as a message part needs it (76-column lines ending CRLF), so
 * a send encodes each photo at most once in the life of the database; a
 * failure to write the cache (e.g. the database is busy) is logged and the
 * freshly encoded text is still returned.
 *
 * A derived image (media_image.c) is a `media` row like any photo; its
 * `media_derived` row names the photo it came from, its use and the recipe
 * that made it. One row per photo and use: a new recipe replaces it.
 */
#include <stdint.h>
#include <string.h>

#include "articles.h"
#include "date.h"
#include "enc.h"
#include "log.h"
#include "media.h"
#include "media_image.h"

static const char SQL_MEDIA_PUT[] =
    "INSERT INTO media(sha256, content_type, size, width, height, bytes, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING";
static const char SQL_MEDIA_BYTES[] = "SELECT bytes FROM media WHERE sha256 = ?";
static const char SQL_MEDIA_B64[] = "SELECT b64 FROM media WHERE sha256 = ?";
static const char SQL_MEDIA_B64_SET[] = "UPDATE media SET b64 = ? WHERE sha256 = ? AND b64 IS NULL";
static const char SQL_DERIVED_GET[] =
    "SELECT m.sha256, m.content_type, m.size, coalesce(m.width, 0), coalesce(m.height, 0) "
    "FROM media_derived d JOIN media m ON m.sha256 = d.derived_sha256 "
    "WHERE d.source_sha256 = ? AND d.kind = ? AND d.recipe = ?";
static const char SQL_DERIVED_PUT[] =
    "INSERT INTO media_derived(source_sha256, kind, recipe, derived_sha256, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(source_sha256, kind) DO UPDATE SET "
    "recipe = excluded.recipe, derived_sha256 = excluded.derived_sha256, "
    "created_at = excluded.created_at";
static const char SQL_UNDERIVED[] =
    "SELECT DISTINCT ai.media_sha256 FROM article_images ai JOIN media m ON m.sha256 = "
    "ai.media_sha256 WHERE NOT EXISTS (SELECT 1 FROM media_derived d WHERE "
    "d.source_sha256 = ai.media_sha256 AND d.kind = ?1 AND d.recipe = ?2) "
    "AND ai.media_sha256 > ?3 ORDER BY ai.media_sha256 LIMIT ?4";

enum merr media_store_put(struct db *db, const struct media_info *info, const void *bytes)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEDIA_PUT);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, info->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, info->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)info->size);
    if (info->width > 0 && info->height > 0) {
        sqlite3_bind_int(st, 4, info->width);
        sqlite3_bind_int(st, 5, info->height);
    }
    sqlite3_bind_blob64(st, 6, bytes, info->size, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)date_now());
    return db_step_done(db, st, "media");
}

enum merr media_bytes(struct db *db, const char *sha256, struct buf *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEDIA_BYTES);
    enum merr rc;
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        rc = buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    } else if (src == SQLITE_DONE) {
        rc = merr_set(MERR_NOTFOUND, "media %.64s: not found", sha256);
    } else {
        rc = db_fail(db, src, "media");
    }
    sqlite3_reset(st);
    return rc;
}

enum merr media_base64(struct db *db, const char *sha256, struct buf *out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MEDIA_B64);
    size_t start = out->len;
    enum merr rc;
    int src, cached = 0;

    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        cached = 1;
        rc = buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    } else if (src == SQLITE_DONE) {
        rc = merr_set(MERR_NOTFOUND, "media %.64s: not found", sha256);
    } else if (src != SQLITE_ROW) {
        rc = db_fail(db, src, "media");
    } else {
        rc = MERR_OK;
    }
    sqlite3_reset(st);
    if (rc || cached)
        return rc;
    /* not encoded yet: the bytes, read only now (a photo's bytes are not
     * copied out each time its base64 is wanted) */
    {
        struct buf raw;
        buf_init(&raw, 0);
        rc = media_bytes(db, sha256, &raw);
        if (!rc)
            rc = enc_base64(out, (const unsigned char *)raw.data, raw.len, 1);
        buf_free(&raw);
        if (rc)
            return rc;
    }

    st = db_stmt(db, SQL_MEDIA_B64_SET);
    if (!st) {
        log_warn("media %.64s: cannot cache base64: %s", sha256, merr_msg());
        return MERR_OK;
    }
    sqlite3_bind_blob64(st, 1, out->data + start, out->len - start, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        log_warn("media %.64s: cannot cache base64: %s", sha256, sqlite3_errmsg(db_sqlite(db)));
    sqlite3_reset(st);
    return MERR_OK;
}

enum merr media_store_derived_get(struct db *db, const char *source, enum media_use use,
                                  const char *recipe, struct media_info *info)
{
    sqlite3_stmt *st = db_stmt(db, SQL_DERIVED_GET);
    int src;
    if (!st)
        return MERR_DB;
    memset(info, 0, sizeof *info);
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, media_use_name(use), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, recipe, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        db_col_copy(st, 0, info->sha256, sizeof info->sha256);
        db_col_copy(st, 1, info->content_type, sizeof info->content_type);
        info->size = (size_t)sqlite3_column_int64(st, 2);
        info->width = sqlite3_column_int(st, 3);
        info->height = sqlite3_column_int(st, 4);
    }
    return db_row_end(db, st, src, MERR_NOTFOUND, "media_derived");
}

enum merr media_store_derived_put(struct db *db, const char *source, enum media_use use,
                                  const char *recipe, const struct media_image *img)
{
    sqlite3_stmt *st;
    enum merr rc = media_store_put(db, &img->info, img->bytes.data);
    if (rc)
        return rc;
    st = db_stmt(db, SQL_DERIVED_PUT);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, media_use_name(use), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, recipe, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, img->info.sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)date_now());
    return db_step_done(db, st, "media_derived");
}

enum merr media_store_underived(struct db *db, enum media_use use, const char *recipe,
                                const char *after, char (*out)[65], size_t max, size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_UNDERIVED);
    int src = SQLITE_DONE;
    *n = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, media_use_name(use), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, recipe, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
    while (*n < max && (src = sqlite3_step(st)) == SQLITE_ROW)
        db_col_copy(st, 0, out[(*n)++], 65);
    if (*n < max && src != SQLITE_DONE) {
        enum merr rc = db_fail(db, src, "media_derived");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    return MERR_OK;
}
