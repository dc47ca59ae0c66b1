/*
 * articles_fx.c: the articles unit tests' shared fixture (articles_fx.h).
 * Each test gets its own folder under the test tmp dir with a fresh
 * database and an images/ folder; snapshots hash every stored value of the
 * article tables, so "a refusal changes nothing" is checked byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "articles_fx.h"
#include "crypto.h"
#include "date.h"
#include "testutil.h"

void articles_fx_copy_file(const char *from, const char *to)
{
    struct buf b;
    FILE *f;
    buf_init(&b, 0);
    assert_int_equal(buf_read_file(&b, from), MERR_OK);
    f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    assert_int_equal(fclose(f), 0);
    buf_free(&b);
}

int articles_fx_setup(void **state)
{
    struct articles_fx *fx = calloc(1, sizeof *fx);
    char path[700];
    const char *name = *state ? (const char *)*state : "articles";

    snprintf(fx->dir, sizeof fx->dir, "%s", test_tmpdir(name));
    snprintf(fx->examples, sizeof fx->examples, "%s/examples/articles", test_source_dir());
    assert_int_equal(cfg_defaults(&fx->cfg), MERR_OK);
    assert_int_equal(date_set_zone("Asia/Ho_Chi_Minh"), MERR_OK);
    fx->db = test_db_fresh(fx->dir, NULL, 0);
    snprintf(path, sizeof path, "%s/images", fx->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    *state = fx;
    return 0;
}

int articles_fx_teardown(void **state)
{
    struct articles_fx *fx = *state;
    db_close(fx->db);
    cfg_free(&fx->cfg);
    free(fx);
    return 0;
}

void articles_fx_snap(struct db *db, struct articles_fx_snapshot *s)
{
    static const char *const sql[] = {
        "SELECT id, url, title, category, author, published_at, published_offset, summary, "
        "body_html, created_at, updated_at FROM articles ORDER BY id",
        "SELECT article_id, position, src, media_sha256, filename, caption, alt "
        "FROM article_images ORDER BY article_id, position",
        "SELECT sha256, content_type, size, width, height, hex(bytes), b64 FROM media "
        "ORDER BY sha256",
        "SELECT source_sha256, kind, recipe, derived_sha256 FROM media_derived "
        "ORDER BY source_sha256, kind"};
    struct buf all;
    buf_init(&all, 0);
    for (size_t q = 0; q < 4; q++) {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db_sqlite(db), sql[q], -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const unsigned char *t = sqlite3_column_text(st, c);
                assert_int_equal(buf_printf(&all, "%s\x1f", t ? (const char *)t : "NULL"), MERR_OK);
            }
        sqlite3_finalize(st);
        assert_int_equal(buf_putc(&all, '\x1e'), MERR_OK);
    }
    crypto_sha256_hex(s->hash, all.data, all.len);
    buf_free(&all);
    s->articles = test_db_int(db, "SELECT count(*) FROM articles");
    s->images = test_db_int(db, "SELECT count(*) FROM article_images");
    s->media = test_db_int(db, SQL_ORIGINALS);
    s->derived = test_db_int(db, "SELECT count(*) FROM media_derived");
}

void articles_fx_assert_unchanged(const struct articles_fx_snapshot *a,
                                  const struct articles_fx_snapshot *b)
{
    assert_int_equal(a->articles, b->articles);
    assert_int_equal(a->images, b->images);
    assert_int_equal(a->media, b->media);
    assert_int_equal(a->derived, b->derived);
    assert_string_equal(a->hash, b->hash);
}

/* Adds every .json in examples/articles; returns how many were new. */
int articles_fx_add_examples(struct articles_fx *fx)
{
    DIR *d = opendir(fx->examples);
    struct dirent *e;
    int files = 0, created_n = 0;
    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[900];
        size_t n = strlen(e->d_name);
        char *id = NULL;
        int created = -1;
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", fx->examples, e->d_name);
        if (article_upsert_file(fx->db, &fx->cfg, path, &id, &created) != MERR_OK)
            fail_msg("%s: %s", path, merr_msg());
        assert_non_null(id);
        assert_true(created == 0 || created == 1);
        created_n += created;
        files++;
        free(id);
    }
    closedir(d);
    assert_int_equal(files, 6);
    return created_n;
}

/* Writes `json` to DIR/NAME and adds it. Returns the result; the message is in merr_msg(). */
enum merr articles_fx_add_text(struct articles_fx *fx, const char *name, const char *json)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    test_write_file(path, json);
    return article_upsert_file(fx->db, &fx->cfg, path, NULL, NULL);
}

void articles_fx_assert_msg(const char *want)
{
    if (!strstr(merr_msg(), want))
        fail_msg("message \"%s\" lacks \"%s\"", merr_msg(), want);
}
