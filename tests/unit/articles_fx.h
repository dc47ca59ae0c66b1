/*
 * articles_fx.h: the fixture the articles unit tests share (test_articles.c,
 * test_articles_fetch.c): a fresh database and folder per test, a snapshot
 * of the article tables to show that a refusal changed nothing, and the
 * message check.
 */
#ifndef ARTICLES_FX_H
#define ARTICLES_FX_H

#include "articles.h"
#include "config.h"
#include "db.h"
#include "err.h"

struct articles_fx {
    struct db *db;
    struct config cfg;
    char dir[512];      /* this test's folder: m.db, x.json, images/ */
    char examples[512]; /* examples/articles in the source tree */
};

/* Photos as stored, not the images derived from them for mail. */
#define SQL_ORIGINALS                                                                              \
    "SELECT count(*) FROM media WHERE sha256 NOT IN (SELECT derived_sha256 FROM media_derived)"

/* Row counts of the four tables plus a hash over every stored value. */
struct articles_fx_snapshot {
    int articles, images, media, derived;
    char hash[65];
};

#define GOOD_HEAD                                                                                  \
    "{\n  \"id\": \"probe\",\n  \"url\": \"https://hagiang.gov.vn/p\",\n"                          \
    "  \"published_at\": \"2021-10-05T19:18:00+07:00\",\n  \"body_html\": \"<p>Nội dung</p>\",\n"

/* Copies the file `from` to `to` (the test fails if it cannot). */
void articles_fx_copy_file(const char *from, const char *to);

/* cmocka setup: *state, if set, names the test's folder; *state becomes a struct articles_fx. */
int articles_fx_setup(void **state);

/* cmocka teardown of articles_fx_setup. */
int articles_fx_teardown(void **state);

/* Reads the row counts and a hash of every stored value into *s. */
void articles_fx_snap(struct db *db, struct articles_fx_snapshot *s);

/* Fails the test unless the two snapshots are equal. */
void articles_fx_assert_unchanged(const struct articles_fx_snapshot *a,
                                  const struct articles_fx_snapshot *b);

/* Adds every example article; returns how many. */
int articles_fx_add_examples(struct articles_fx *fx);

/* Writes `json` to the test folder as `name` and adds it as an article. */
enum merr articles_fx_add_text(struct articles_fx *fx, const char *name, const char *json);

/* Fails the test unless the last error message contains `want`. */
void articles_fx_assert_msg(const char *want);

#endif
