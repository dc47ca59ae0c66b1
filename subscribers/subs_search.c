/*
 * subs_search.c: finding subscribers for the admin: by address prefix,
 * by words of the name, by list and state, newest first, a page at a time.
 *
 * Pages are keyset pages on the subscriber id (newest first: "ids below
 * the last one shown"), never OFFSET, so page 1,000 costs what page 1
 * costs. Each way of finding people is a query that reads rows already in
 * id order and stops after a page:
 *   - an address prefix is a range of the email_key index (lower-cased
 *     ASCII), or, when that range is large, the rowid walked backwards with
 *     the range as a filter (a probe of up to PREFIX_SMALL keys decides);
 *   - words of a name use the FTS5 index `subs_names` (each word a prefix
 *     of a word of the name, accents and case ignored), walked by rowid
 *     descending; the rows above its `indexed_to` (added since the last
 *     background indexing, see subs_search_index) are read and matched
 *     here with the same folding, so a search never misses anyone;
 *   - a list (and a state) walk the subscriptions' primary key (list_id,
 *     subscriber_id) backwards; a state alone walks the subscribers with
 *     an EXISTS; "blocked" starts from the suppressions, usually few.
 * Text that could be either (no '@', ASCII) is looked up both as an
 * address prefix and as name words, and the two id-ordered streams are
 * merged. Filters on list and state apply to every source.
 *
 * The index is filled by subs_search_index, run by the serve parent's
 * housekeeping: a batch of names above `indexed_to` at a time, folded as
 * the FTS tokenizer folds them (its unicode61 tokenizer removes the
 * diacritics; đ/Đ, which do not decompose, are replaced by d first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subs.h"
#include "subs_store.h"
#include "utf8.h"

#define PREFIX_SMALL 2000 /* an address range this small is read by its index */
#define TAIL_BATCH   512
#define MAX_WORDS    8
#define TERMS_MAX    16 /* a word that starts more terms than this stays a prefix query */

/* ---- folding: case and Vietnamese (Latin) accents -------------------------- */

/* The base letter of a Latin letter with diacritics, or 0. */
static char base_letter(uint32_t c)
{
    static const char latin1[] = /* U+00C0 .. U+00FF */
        "aaaaaaaceeeeiiiidnooooo_ouuuuyts"
        "aaaaaaaceeeeiiiidnooooo_ouuuuyty";
    if (c >= 0xC0 && c <= 0xFF)
        return latin1[c - 0xC0] == '_' ? 0 : latin1[c - 0xC0];
    switch (c) {
    case 0x102:
    case 0x103:
        return 'a'; /* Ă ă */
    case 0x110:
    case 0x111:
        return 'd'; /* Đ đ */
    case 0x128:
    case 0x129:
        return 'i'; /* Ĩ ĩ */
    case 0x168:
    case 0x169:
        return 'u'; /* Ũ ũ */
    case 0x1A0:
    case 0x1A1:
        return 'o'; /* Ơ ơ */
    case 0x1AF:
    case 0x1B0:
        return 'u'; /* Ư ư */
    default:
        break;
    }
    /* Latin Extended Additional, Vietnamese block U+1EA0 .. U+1EF9 */
    if (c >= 0x1EA0 && c <= 0x1EB7)
        return 'a';
    if (c >= 0x1EB8 && c <= 0x1EC7)
        return 'e';
    if (c >= 0x1EC8 && c <= 0x1ECB)
        return 'i';
    if (c >= 0x1ECC && c <= 0x1EE3)
        return 'o';
    if (c >= 0x1EE4 && c <= 0x1EF1)
        return 'u';
    if (c >= 0x1EF2 && c <= 0x1EF9)
        return 'y';
    return 0;
}

/*
 * Folds UTF-8 text into lower-case ASCII words separated by single spaces
 * (letters and digits kept, accents removed, anything else a separator);
 * other scripts' letters are kept as they are. Returns the length.
 */
size_t subs_search_fold(const char *s, char *out, size_t size)
{
    size_t n = strlen(s), i = 0, o = 0;
    int space = 1;
    if (!size)
        return 0;
    while (i < n && o + 5 < size) {
        uint32_t c;
        size_t k = utf8_decode(s + i, n - i, &c);
        char b = 0;
        if (!k) {
            i++;
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            b = (char)c;
        else if (c >= 'A' && c <= 'Z')
            b = (char)(c - 'A' + 'a');
        else
            b = base_letter(c);
        if (b) {
            out[o++] = b;
            space = 0;
        } else if (c >= 0x80 && c != 0xD7 && c != 0xF7 && !(c >= 0x2000 && c <= 0x206F) &&
                   c != 0xA0 && c != 0x3000) {
            memcpy(out + o, s + i, k); /* a letter of another script */
            o += k;
            space = 0;
        } else if (!space) {
            out[o++] = ' ';
            space = 1;
        }
        i += k;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return o;
}

/* 1 if every word of `words` (folded, space-separated) starts a word of `folded`. */
static int words_match(const char *folded, char words[][64], size_t nwords)
{
    for (size_t w = 0; w < nwords; w++) {
        size_t wl = strlen(words[w]);
        const char *p = folded;
        int found = 0;
        while (*p && !found) {
            if (!strncmp(p, words[w], wl))
                found = 1;
            p += strcspn(p, " ");
            p += *p == ' ';
        }
        if (!found)
            return 0;
    }
    return 1;
}

/* ---- the query ------------------------------------------------------------ */

struct ids {
    long long v[SUBS_SEARCH_MAX];
    size_t n;
};

/* The filter on list and state as SQL on subscriber `s`; binds ?10 (list) and ?11 (state). */
static const char *filter_sql(const struct subs_search *q)
{
    if (q->state == SUBS_SEARCH_BLOCKED)
        return q->list_id ? " AND EXISTS (SELECT 1 FROM suppressions p WHERE p.email_key = "
                            "s.email_key) AND EXISTS (SELECT 1 FROM subscriptions t WHERE "
                            "t.subscriber_id = s.id AND t.list_id = ?10)"
                          : " AND EXISTS (SELECT 1 FROM suppressions p WHERE p.email_key = "
                            "s.email_key)";
    if (q->list_id && q->state)
        return " AND EXISTS (SELECT 1 FROM subscriptions t WHERE t.list_id = ?10 AND "
               "t.subscriber_id = s.id AND t.status = ?11)";
    if (q->list_id)
        return " AND EXISTS (SELECT 1 FROM subscriptions t WHERE t.list_id = ?10 AND "
               "t.subscriber_id = s.id)";
    if (q->state)
        return " AND EXISTS (SELECT 1 FROM subscriptions t WHERE t.subscriber_id = s.id AND "
               "t.status = ?11)";
    return "";
}

/* Prepares `sql` (built per search: not cached) and binds the common parameters. */
static enum merr prepare(struct db *db, const struct subs_search *q, const char *sql,
                         sqlite3_stmt **st)
{
    int src = sqlite3_prepare_v2(db_sqlite(db), sql, -1, st, NULL);
    if (src != SQLITE_OK)
        return db_fail(db, src, "search");
    for (int i = 1; i <= sqlite3_bind_parameter_count(*st); i++) {
        const char *name = sqlite3_bind_parameter_name(*st, i);
        if (!name)
            continue;
        if (!strcmp(name, "?9"))
            sqlite3_bind_int64(*st, i, q->before > 0 ? q->before : INT64_MAX);
        else if (!strcmp(name, "?10"))
            sqlite3_bind_int64(*st, i, q->list_id);
        else if (!strcmp(name, "?11"))
            sqlite3_bind_text(*st, i, subs_status_name((enum subs_status)q->state), -1,
                              SQLITE_STATIC);
        else if (!strcmp(name, "?12"))
            sqlite3_bind_int64(*st, i, (sqlite3_int64)q->limit);
    }
    return MERR_OK;
}

/* Runs a query of ids (first column) in descending order into `out`. */
static enum merr collect(struct db *db, sqlite3_stmt *st, struct ids *out, size_t limit)
{
    int src;
    while (out->n < limit && (src = sqlite3_step(st)) == SQLITE_ROW)
        out->v[out->n++] = sqlite3_column_int64(st, 0);
    if (out->n < limit && src != SQLITE_DONE)
        return db_fail(db, src, "search");
    return MERR_OK;
}

static enum merr run_sql(struct db *db, const struct subs_search *q, const char *sql,
                         struct ids *out, const char *text1, const char *text2)
{
    sqlite3_stmt *st = NULL;
    enum merr rc = prepare(db, q, sql, &st);
    if (!rc) {
        int i1 = sqlite3_bind_parameter_index(st, "?1"),
            i2 = sqlite3_bind_parameter_index(st, "?2");
        if (i1 && text1)
            sqlite3_bind_text(st, i1, text1, -1, SQLITE_STATIC);
        if (i2 && text2)
            sqlite3_bind_text(st, i2, text2, -1, SQLITE_STATIC);
        rc = collect(db, st, out, q->limit);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Ids of addresses starting with `prefix` (lower-cased ASCII). */
static enum merr by_prefix(struct db *db, const struct subs_search *q, const char *prefix,
                           struct ids *out)
{
    char hi[300], sql[1024];
    size_t n = strlen(prefix);
    long long in_range = 0;
    sqlite3_stmt *st;
    int src;

    /* the upper bound: the prefix with its last byte incremented */
    memcpy(hi, prefix, n + 1);
    while (n && (unsigned char)hi[n - 1] == 0xFF)
        hi[--n] = '\0';
    if (!n)
        return MERR_OK;
    hi[n - 1]++;
    src =
        sqlite3_prepare_v2(db_sqlite(db),
                           "SELECT count(*) FROM (SELECT 1 FROM subscribers WHERE email_key >= ?1 "
                           "AND email_key < ?2 LIMIT ?3)",
                           -1, &st, NULL);
    if (src != SQLITE_OK)
        return db_fail(db, src, "search");
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, PREFIX_SMALL);
    if (sqlite3_step(st) == SQLITE_ROW)
        in_range = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (!in_range)
        return MERR_OK;
    /* a small range: read it by the email_key index and sort it ("+s.id" keeps the
     * planner off the rowid); a large one: walk the rowid and filter */
    snprintf(sql, sizeof sql,
             "SELECT s.id FROM subscribers s%s WHERE s.email_key >= ?1 AND s.email_key < ?2 "
             "AND s.id < ?9%s ORDER BY %s DESC LIMIT ?12",
             in_range < PREFIX_SMALL ? "" : " NOT INDEXED", filter_sql(q),
             in_range < PREFIX_SMALL ? "+s.id" : "s.id");
    return run_sql(db, q, sql, out, prefix, hi);
}

/*
 * Writes the FTS5 query of one word: the terms of the index that start
 * with it, `("t1" OR "t2" ...)`, when there are at most TERMS_MAX of them,
 * else the prefix query `"w"*`. The result is the same; the time is not:
 * FTS5 reads the whole posting list of every term a prefix query covers
 * before the first row, while an OR of terms is read lazily from the
 * newest row down and stops after a page (bench/admin: a three-word name
 * search at 1,000,000 names, 12 ms of CPU as prefixes, 1.5 ms as terms).
 * A word holding anything the tokenizer splits on (not [a-z0-9]) stays a
 * prefix phrase. The terms come from an fts5vocab table in the
 * connection's temp schema (no migration: it only reads subs_names).
 */
static enum merr word_terms(struct db *db, const char *word, char *out, size_t cap)
{
    char hi[64];
    size_t n = strlen(word), k = 0, len = 0;
    sqlite3_stmt *st;
    int src, plain = n > 0 && n < sizeof hi;
    for (size_t i = 0; plain && i < n; i++)
        plain = (word[i] >= 'a' && word[i] <= 'z') || (word[i] >= '0' && word[i] <= '9');
    if (plain) {
        src = sqlite3_exec(db_sqlite(db),
                           "CREATE VIRTUAL TABLE IF NOT EXISTS temp.subs_names_vocab USING "
                           "fts5vocab(main, subs_names, row)",
                           NULL, NULL, NULL);
        if (src != SQLITE_OK)
            return db_fail(db, src, "search: vocabulary");
        src = sqlite3_prepare_v2(db_sqlite(db),
                                 "SELECT term FROM temp.subs_names_vocab WHERE term >= ?1 AND "
                                 "term < ?2 LIMIT ?3",
                                 -1, &st, NULL);
        if (src != SQLITE_OK)
            return db_fail(db, src, "search: vocabulary");
        memcpy(hi, word, n + 1);
        hi[n - 1]++; /* [a-z0-9] + 1 is still ASCII: the end of the range */
        sqlite3_bind_text(st, 1, word, (int)n, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, hi, (int)n, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, TERMS_MAX + 1);
        len = (size_t)snprintf(out, cap, "(");
        while ((src = sqlite3_step(st)) == SQLITE_ROW && k <= TERMS_MAX) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            if (++k <= TERMS_MAX && t && len < cap)
                len += (size_t)snprintf(out + len, cap - len, "%s\"%s\"", k > 1 ? " OR " : "",
                                        strchr(t, '"') ? "" : t);
        }
        sqlite3_finalize(st);
        if (src != SQLITE_DONE && src != SQLITE_ROW)
            return db_fail(db, src, "search: vocabulary");
        if (k >= 1 && k <= TERMS_MAX && len + 2 < cap) {
            out[len++] = ')';
            out[len] = '\0';
            return MERR_OK;
        }
        if (k == 0) { /* no name has a word starting so: nothing matches */
            snprintf(out, cap, "\"%s\"", word);
            return MERR_OK;
        }
    }
    snprintf(out, cap, "\"%s\"*", word);
    return MERR_OK;
}

/* Ids whose name has every word of `words`. */
static enum merr by_name(struct db *db, const struct subs_search *q, char words[][64],
                         size_t nwords, struct ids *out)
{
    char match[MAX_WORDS * (TERMS_MAX * 68 + 8)] = "", sql[1024];
    long long indexed = 0;
    sqlite3_stmt *st;
    struct ids tail;
    enum merr rc;
    int src;

    src =
        sqlite3_prepare_v2(db_sqlite(db), "SELECT indexed_to FROM subs_names_state", -1, &st, NULL);
    if (src != SQLITE_OK)
        return db_fail(db, src, "search");
    if (sqlite3_step(st) == SQLITE_ROW)
        indexed = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);

    /* the tail not indexed yet, newest first: read and matched here */
    tail.n = 0;
    if (q->before <= 0 || q->before > indexed + 1) {
        snprintf(sql, sizeof sql,
                 "SELECT s.id, s.name FROM subscribers s WHERE s.id > ?1 AND s.id < ?9 AND "
                 "s.name <> ''%s ORDER BY s.id DESC",
                 filter_sql(q));
        rc = prepare(db, q, sql, &st);
        if (rc)
            return rc;
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "?1"), indexed);
        while (tail.n < q->limit && (src = sqlite3_step(st)) == SQLITE_ROW) {
            char folded[1024];
            const char *name = (const char *)sqlite3_column_text(st, 1);
            subs_search_fold(name ? name : "", folded, sizeof folded);
            if (words_match(folded, words, nwords))
                tail.v[tail.n++] = sqlite3_column_int64(st, 0);
        }
        rc = tail.n < q->limit && src != SQLITE_DONE ? db_fail(db, src, "search") : MERR_OK;
        sqlite3_finalize(st);
        if (rc)
            return rc;
    }
    *out = tail;
    if (out->n >= q->limit)
        return MERR_OK;
    /* the index: every word a prefix ("w"*), all words (AND) */
    for (size_t w = 0; w < nwords && !rc; w++) {
        if (w)
            strcat(match, " AND ");
        rc = word_terms(db, words[w], match + strlen(match), sizeof match - strlen(match));
    }
    if (rc)
        return rc;
    snprintf(sql, sizeof sql,
             "SELECT f.rowid FROM subs_names f JOIN subscribers s ON s.id = f.rowid WHERE "
             "subs_names MATCH ?1 AND f.rowid < ?9 AND f.rowid <= ?2%s ORDER BY f.rowid DESC "
             "LIMIT ?12",
             filter_sql(q));
    rc = prepare(db, q, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, "?1"), match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "?2"), indexed);
    rc = collect(db, st, out, q->limit);
    sqlite3_finalize(st);
    return rc;
}

/* Ids by list, state or neither, without text. */
static enum merr by_filter(struct db *db, const struct subs_search *q, struct ids *out)
{
    const char *sql;
    if (q->state == SUBS_SEARCH_BLOCKED)
        sql = q->list_id ? "SELECT s.id FROM suppressions p JOIN subscribers s ON s.email_key = "
                           "p.email_key WHERE s.id < ?9 AND EXISTS (SELECT 1 FROM subscriptions t "
                           "WHERE t.subscriber_id = s.id AND t.list_id = ?10) ORDER BY s.id DESC "
                           "LIMIT ?12"
                         : "SELECT s.id FROM suppressions p JOIN subscribers s ON s.email_key = "
                           "p.email_key WHERE s.id < ?9 ORDER BY s.id DESC LIMIT ?12";
    else if (q->list_id && q->state)
        sql = "SELECT t.subscriber_id FROM subscriptions t WHERE t.list_id = ?10 AND "
              "t.subscriber_id < ?9 AND t.status = ?11 ORDER BY t.subscriber_id DESC LIMIT ?12";
    else if (q->list_id)
        sql = "SELECT t.subscriber_id FROM subscriptions t WHERE t.list_id = ?10 AND "
              "t.subscriber_id < ?9 ORDER BY t.subscriber_id DESC LIMIT ?12";
    else if (q->state)
        sql = "SELECT s.id FROM subscribers s WHERE s.id < ?9 AND EXISTS (SELECT 1 FROM "
              "subscriptions t WHERE t.subscriber_id = s.id AND t.status = ?11) ORDER BY s.id "
              "DESC LIMIT ?12";
    else
        sql = "SELECT s.id FROM subscribers s WHERE s.id < ?9 ORDER BY s.id DESC LIMIT ?12";
    return run_sql(db, q, sql, out, NULL, NULL);
}

/* Merges two descending id lists without duplicates, at most `limit`. */
static void merge(const struct ids *a, const struct ids *b, size_t limit, struct ids *out)
{
    size_t i = 0, j = 0;
    out->n = 0;
    while (out->n < limit && (i < a->n || j < b->n)) {
        long long x;
        if (j >= b->n || (i < a->n && a->v[i] >= b->v[j]))
            x = a->v[i++];
        else
            x = b->v[j++];
        if (!out->n || out->v[out->n - 1] != x)
            out->v[out->n++] = x;
    }
}

static const char SQL_HIT[] =
    "SELECT s.email, s.name, s.created_at, s.email_key, "
    " (SELECT group_concat(l.slug || ':' || t.status, ' ') FROM subscriptions t "
    "  JOIN lists l ON l.id = t.list_id WHERE t.subscriber_id = s.id), "
    " EXISTS (SELECT 1 FROM suppressions p WHERE p.email_key = s.email_key) "
    "FROM subscribers s WHERE s.id = ?1";

enum merr subs_search(struct db *db, const struct subs_search *q_in, struct subs_hit *out,
                      size_t *n)
{
    struct subs_search q = *q_in;
    struct ids a = {.n = 0}, b = {.n = 0}, all;
    char folded[512], words[MAX_WORDS][64], prefix[256];
    size_t nwords = 0;
    int ascii = 1, has_at;
    enum merr rc = MERR_OK;
    sqlite3_stmt *st;

    *n = 0;
    if (!q.limit || q.limit > SUBS_SEARCH_MAX)
        q.limit = SUBS_SEARCH_MAX;
    if (q.state < 0 || q.state > SUBS_SEARCH_BLOCKED)
        return merr_set(MERR_INVAL, "state %d", q.state);
    while (q.q && (*q.q == ' ' || *q.q == '\t'))
        q.q++;
    if (q.q && *q.q) {
        size_t len = strlen(q.q);
        if (len > 250 || !utf8_valid(q.q, len, NULL))
            return merr_set(MERR_INVAL, "search text: at most 250 bytes of UTF-8");
        has_at = strchr(q.q, '@') != NULL;
        for (const char *p = q.q; *p; p++)
            if ((unsigned char)*p >= 0x80)
                ascii = 0;
        if (ascii) {
            size_t k = 0;
            for (const char *p = q.q; *p && k + 1 < sizeof prefix; p++)
                if (*p != ' ' && *p != '\t')
                    prefix[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
            prefix[k] = '\0';
            rc = by_prefix(db, &q, prefix, &a);
        }
        if (!rc && !has_at) {
            char *save = NULL, *w;
            subs_search_fold(q.q, folded, sizeof folded);
            for (w = strtok_r(folded, " ", &save); w && nwords < MAX_WORDS;
                 w = strtok_r(NULL, " ", &save))
                if (strlen(w) < sizeof words[0] && !strchr(w, '"'))
                    snprintf(words[nwords++], sizeof words[0], "%s", w);
            if (nwords)
                rc = by_name(db, &q, words, nwords, &b);
        }
    } else {
        rc = by_filter(db, &q, &a);
    }
    if (rc)
        return rc;
    merge(&a, &b, q.limit, &all);
    st = db_stmt(db, SQL_HIT);
    if (!st)
        return MERR_DB;
    for (size_t i = 0; i < all.n; i++) {
        struct subs_hit *h = &out[*n];
        int src;
        memset(h, 0, sizeof *h);
        sqlite3_bind_int64(st, 1, all.v[i]);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            h->id = all.v[i];
            db_col_copy(st, 0, h->email, sizeof h->email);
            db_col_copy(st, 1, h->name, sizeof h->name);
            h->created_at = (time_t)sqlite3_column_int64(st, 2);
            db_col_copy(st, 4, h->lists, sizeof h->lists);
            h->blocked = sqlite3_column_int(st, 5);
            (*n)++;
        }
        rc = db_row_end(db, st, src, MERR_OK, "search");
        if (rc)
            return rc;
    }
    return MERR_OK;
}

/* ---- the background index --------------------------------------------------- */

static const char SQL_IDX_STATE[] = "SELECT indexed_to FROM subs_names_state";
static const char SQL_IDX_NEXT[] =
    "SELECT max(id) FROM (SELECT id FROM subscribers WHERE id > ?1 ORDER BY id LIMIT ?2)";
static const char SQL_IDX_ADD[] =
    "INSERT INTO subs_names(rowid, name) SELECT id, replace(replace(name, 'đ', 'd'), 'Đ', 'D') "
    "FROM subscribers WHERE id > ?1 AND id <= ?2 AND name <> ''";
static const char SQL_IDX_SET[] = "UPDATE subs_names_state SET indexed_to = ?1";

enum merr subs_search_index(struct db *db, size_t max, size_t *indexed)
{
    long long from = 0, to = 0;
    sqlite3_stmt *st;
    enum merr rc;
    int src;

    if (indexed)
        *indexed = 0;
    rc = db_begin(db);
    if (rc)
        return rc;
    st = db_stmt(db, SQL_IDX_STATE);
    if (!st) {
        rc = MERR_DB;
        goto out;
    }
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        from = sqlite3_column_int64(st, 0);
    if ((rc = db_row_end(db, st, src, MERR_DB, "name index")))
        goto out;
    if (!(st = db_stmt(db, SQL_IDX_NEXT))) {
        rc = MERR_DB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        to = sqlite3_column_int64(st, 0);
    if ((rc = db_row_end(db, st, src, MERR_DB, "name index")))
        goto out;
    if (to <= from) {
        db_rollback(db);
        return MERR_OK; /* nothing new */
    }
    if (!(st = db_stmt(db, SQL_IDX_ADD))) {
        rc = MERR_DB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    if ((rc = db_step_done(db, st, "name index")))
        goto out;
    if (!(st = db_stmt(db, SQL_IDX_SET))) {
        rc = MERR_DB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, to);
    if ((rc = db_step_done(db, st, "name index")))
        goto out;
    rc = db_commit(db);
    if (!rc && indexed)
        *indexed = (size_t)(to - from);
    if (!rc)
        return MERR_OK;
out:
    db_rollback(db);
    return rc;
}
