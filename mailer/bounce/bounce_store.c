/*
 * bounce_store.c: every SQL statement on the bounce tables (migration
 * 0006_bounces.sql): bounces, bounce_recipients, bounce_effects,
 * bounce_mailboxes, bounce_pop3_seen.
 *
 * Writes happen inside the transaction of bounce_intake (one message: its
 * row, its recipients, its effects) or of bounce_undo; reads serve `ls`,
 * `show`, the soft-bounce count, metrics and health.
 */
#include "bounce_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_SEEN[] = "SELECT id, state FROM bounces WHERE sha256 = ?1";

enum merr bounce_store_seen(struct db *db, const char *sha, long long *id, char state[16])
{
    sqlite3_stmt *st = db_stmt(db, SQL_SEEN);
    int src;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        db_col_copy(st, 1, state, 16);
    }
    return db_row_end(db, st, src, MERR_NOTFOUND, "bounces");
}

static const char SQL_INSERT[] =
    "INSERT INTO bounces(sha256, mailbox, role, kind, state, note, message_id, from_addr, "
    "subject, size, raw, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

enum merr bounce_store_insert(struct db *db, const struct bounce_store_row *b, long long *id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_INSERT);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, b->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b->mailbox, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, b->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, b->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, b->state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, b->note ? b->note : "", -1, SQLITE_STATIC);
    bind_text_or_null(st, 7, b->message_id);
    bind_text_or_null(st, 8, b->from);
    bind_text_or_null(st, 9, b->subject);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)b->size);
    sqlite3_bind_blob(st, 11, b->raw, (int)b->raw_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, b->received_at);
    rc = db_step_done(db, st, "record a bounce");
    if (!rc)
        *id = sqlite3_last_insert_rowid(db_sqlite(db));
    return rc;
}

static const char SQL_SET_STATE[] =
    "UPDATE bounces SET state = ?2, note = ?3, kind = ?4 WHERE id = ?1";

enum merr bounce_store_set_state(struct db *db, long long id, const char *state, const char *note,
                                 const char *kind)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SET_STATE);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, note ? note : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
    return db_step_done(db, st, "bounces");
}

static const char SQL_RCPT[] =
    "INSERT INTO bounce_recipients(bounce_id, position, address, class, reason, status, "
    "reply_code, diagnostic, envelope_id, send_id, subscriber_id, address_key, attributed_by, "
    "action) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

enum merr bounce_store_rcpt(struct db *db, long long bounce_id, int position,
                            const struct bounce_rcpt *r, const struct bounce_store_attr *a)
{
    sqlite3_stmt *st = db_stmt(db, SQL_RCPT);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, bounce_id);
    sqlite3_bind_int(st, 2, position);
    sqlite3_bind_text(st, 3, r->address, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, bounce_class_name(r->cls), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->reason, -1, SQLITE_STATIC);
    bind_text_or_null(st, 6, r->status[0] ? r->status : NULL);
    bind_text_or_null(st, 7, r->reply_code[0] ? r->reply_code : NULL);
    bind_text_or_null(st, 8, r->diagnostic);
    if (a->envelope_id) {
        sqlite3_bind_int64(st, 9, a->envelope_id);
        sqlite3_bind_int64(st, 10, a->send_id);
    }
    if (a->subscriber_id)
        sqlite3_bind_int64(st, 11, a->subscriber_id);
    bind_text_or_null(st, 12, a->address_key[0] ? a->address_key : NULL);
    bind_text_or_null(st, 13, a->by);
    sqlite3_bind_text(st, 14, a->action ? a->action : "none", -1, SQLITE_STATIC);
    return db_step_done(db, st, "bounce_recipients");
}

static const char SQL_EFFECT[] =
    "INSERT INTO bounce_effects(bounce_id, seq, kind, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)";

enum merr bounce_store_effect(struct db *db, long long bounce_id, int seq, const char *kind,
                              const char *target, const char *detail)
{
    sqlite3_stmt *st = db_stmt(db, SQL_EFFECT);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, bounce_id);
    sqlite3_bind_int(st, 2, seq);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
    return db_step_done(db, st, "bounce_effects");
}

static const char SQL_EFFECTS[] = "SELECT seq, kind, target, detail FROM bounce_effects "
                                  "WHERE bounce_id = ?1 AND undone_at IS NULL ORDER BY seq DESC";

enum merr bounce_store_effects(struct db *db, long long bounce_id, struct bounce_store_effect **out,
                               size_t *n)
{
    sqlite3_stmt *st = db_stmt(db, SQL_EFFECTS);
    struct bounce_store_effect *v = NULL;
    size_t k = 0;
    int src;

    *out = NULL;
    *n = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, bounce_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct bounce_store_effect *g = realloc(v, (k + 1) * sizeof *v);
        if (!g) {
            sqlite3_reset(st);
            bounce_store_effects_free(v, k);
            return merr_set(MERR_NOMEM, "out of memory");
        }
        v = g;
        v[k].seq = sqlite3_column_int(st, 0);
        db_col_copy(st, 1, v[k].kind, sizeof v[k].kind);
        v[k].target = db_col_dup(st, 2);
        v[k].detail = db_col_dup(st, 3);
        k++;
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE) {
        bounce_store_effects_free(v, k);
        return db_fail(db, src, "bounce_effects");
    }
    *out = v;
    *n = k;
    return MERR_OK;
}

void bounce_store_effects_free(struct bounce_store_effect *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].target);
        free(v[i].detail);
    }
    free(v);
}

static const char SQL_EFFECT_UNDONE[] =
    "UPDATE bounce_effects SET undone_at = ?3 WHERE bounce_id = ?1 AND seq = ?2";
static const char SQL_UNDONE[] =
    "UPDATE bounces SET undone_at = ?2 WHERE id = ?1 AND undone_at IS NULL";

enum merr bounce_store_effect_undone(struct db *db, long long bounce_id, int seq, time_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_EFFECT_UNDONE);
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, bounce_id);
    sqlite3_bind_int(st, 2, seq);
    sqlite3_bind_int64(st, 3, now);
    return db_step_done(db, st, "bounce_effects");
}

enum merr bounce_store_undone(struct db *db, long long bounce_id, time_t now, int *changed)
{
    sqlite3_stmt *st = db_stmt(db, SQL_UNDONE);
    enum merr rc;
    if (!st)
        return MERR_DB;
    sqlite3_bind_int64(st, 1, bounce_id);
    sqlite3_bind_int64(st, 2, now);
    rc = db_step_done(db, st, "bounces");
    *changed = !rc && db_changes(db) > 0;
    return rc;
}

/* soft bounces of one address that count: attributed, not undone, recent */
static const char SQL_SOFT[] =
    "SELECT count(*), count(DISTINCT r.send_id), coalesce(sum(r.send_id = ?3), 0) "
    "FROM bounce_recipients r "
    "JOIN bounces b ON b.id = r.bounce_id "
    "WHERE r.address_key = ?1 AND r.class = 'soft' AND r.reason <> 'delayed' "
    "AND r.envelope_id IS NOT NULL AND b.undone_at IS NULL AND b.received_at >= ?2";

enum merr bounce_store_soft_count(struct db *db, const char *address_key, time_t since,
                                  long long send_id, int *count, int *sends, int *of_send)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SOFT);
    int src;
    *count = *sends = *of_send = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, address_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since);
    sqlite3_bind_int64(st, 3, send_id);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *count = sqlite3_column_int(st, 0);
        *sends = sqlite3_column_int(st, 1);
        *of_send = sqlite3_column_int(st, 2);
    }
    return db_row_end(db, st, src, MERR_DB, "bounce_recipients");
}

static const char SQL_MAILBOX_POLL[] =
    "INSERT INTO bounce_mailboxes(name, last_poll_at, last_ok_at, last_error) "
    "VALUES (?1, ?2, CASE WHEN ?3 THEN ?2 END, ?4) "
    "ON CONFLICT(name) DO UPDATE SET last_poll_at = ?2, "
    "last_ok_at = CASE WHEN ?3 THEN ?2 ELSE last_ok_at END, last_error = ?4";

enum merr bounce_store_mailbox_poll(struct db *db, const char *name, int ok, const char *error,
                                    time_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_MAILBOX_POLL);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int(st, 3, ok);
    sqlite3_bind_text(st, 4, ok ? "" : (error ? error : "failed"), -1, SQLITE_TRANSIENT);
    return db_step_done(db, st, "bounce_mailboxes");
}

static const char SQL_POP3_SEEN[] =
    "SELECT 1 FROM bounce_pop3_seen WHERE mailbox = ?1 AND uidl = ?2";
static const char SQL_POP3_MARK[] =
    "INSERT OR IGNORE INTO bounce_pop3_seen(mailbox, uidl, seen_at) VALUES (?1, ?2, ?3)";

enum merr bounce_store_pop3_seen(struct db *db, const char *mailbox, const char *uidl, int *seen)
{
    sqlite3_stmt *st = db_stmt(db, SQL_POP3_SEEN);
    int src;
    enum merr rc;
    *seen = 0;
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, uidl, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    rc = db_row_end(db, st, src, MERR_NOTFOUND, "bounce_pop3_seen");
    if (rc == MERR_OK)
        *seen = 1;
    return rc == MERR_NOTFOUND ? MERR_OK : rc;
}

enum merr bounce_store_pop3_mark(struct db *db, const char *mailbox, const char *uidl, time_t now)
{
    sqlite3_stmt *st = db_stmt(db, SQL_POP3_MARK);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, uidl, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    return db_step_done(db, st, "bounce_pop3_seen");
}

/* ---- reading back: ls, show, metrics, health ---- */

static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return json_null();
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    default: {
        const char *t = (const char *)sqlite3_column_text(st, i);
        json_t *s = json_stringn(t ? t : "", (size_t)sqlite3_column_bytes(st, i));
        return s ? s : json_string("?"); /* not UTF-8: never from our writes */
    }
    }
}

/* Appends each row of `st` as an object of its column names. */
static enum merr rows_json(struct db *db, sqlite3_stmt *st, json_t *arr, const char *what)
{
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int i = 0; o && i < sqlite3_column_count(st); i++)
            json_object_set_new(o, sqlite3_column_name(st, i), col_json(st, i));
        if (!o || json_array_append_new(arr, o)) {
            sqlite3_reset(st);
            return merr_set(MERR_NOMEM, "out of memory");
        }
    }
    sqlite3_reset(st);
    return src == SQLITE_DONE ? MERR_OK : db_fail(db, src, what);
}

static const char SQL_LIST[] =
    "SELECT b.id, b.received_at, b.mailbox, b.role, b.kind, b.state, b.note, b.from_addr AS "
    "\"from\", b.subject, b.undone_at, "
    "(SELECT group_concat(r.address || ' ' || r.class || '/' || r.reason || "
    "CASE WHEN r.envelope_id IS NULL THEN ' (unattributed)' ELSE ' -> ' || r.action END, '; ') "
    "FROM bounce_recipients r WHERE r.bounce_id = b.id) AS recipients "
    "FROM bounces b WHERE (?1 = 0 OR b.id < ?1) AND (?2 IS NULL OR b.state = ?2) "
    "AND (?3 IS NULL OR b.mailbox = ?3) AND (?4 IS NULL OR EXISTS (SELECT 1 FROM "
    "bounce_recipients r WHERE r.bounce_id = b.id AND (r.class = ?4 OR r.address_key = lower(?4) "
    "OR lower(r.address) = lower(?4)))) ORDER BY b.id DESC LIMIT ?5";

enum merr bounce_store_list(struct db *db, const struct bounce_filter *f, json_t **out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LIST);
    json_t *arr = json_array();
    enum merr rc;
    *out = NULL;
    if (!arr)
        return merr_set(MERR_NOMEM, "out of memory");
    if (!st) {
        json_decref(arr);
        return MERR_DB;
    }
    sqlite3_bind_int64(st, 1, f->before);
    bind_text_or_null(st, 2, f->state);
    bind_text_or_null(st, 3, f->mailbox);
    bind_text_or_null(st, 4, f->match);
    sqlite3_bind_int(st, 5, f->limit > 0 ? f->limit : 50);
    rc = rows_json(db, st, arr, "bounces");
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return MERR_OK;
}

static const char SQL_SHOW[] =
    "SELECT id, sha256, received_at, mailbox, role, kind, state, note, message_id, from_addr AS "
    "\"from\", subject, size, undone_at FROM bounces WHERE id = ?1";
static const char SQL_SHOW_RAW[] = "SELECT raw FROM bounces WHERE id = ?1";
static const char SQL_SHOW_RCPTS[] =
    "SELECT position, address, class, reason, status, reply_code, diagnostic, envelope_id, "
    "send_id, subscriber_id, attributed_by, action FROM bounce_recipients WHERE bounce_id = ?1 "
    "ORDER BY position";
static const char SQL_SHOW_EFFECTS[] =
    "SELECT seq, kind, target, detail, undone_at FROM bounce_effects WHERE bounce_id = ?1 "
    "ORDER BY seq";

enum merr bounce_store_show(struct db *db, long long id, json_t **out, char **raw, size_t *raw_len)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SHOW);
    json_t *arr = json_array(), *o = NULL, *sub;
    enum merr rc;

    *out = NULL;
    if (raw)
        *raw = NULL;
    if (!st || !arr) {
        json_decref(arr);
        return st ? merr_set(MERR_NOMEM, "out of memory") : MERR_DB;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = rows_json(db, st, arr, "bounces");
    if (!rc && json_array_size(arr) == 0)
        rc = merr_set(MERR_NOTFOUND, "no bounce %lld", id);
    if (rc)
        goto out;
    o = json_incref(json_array_get(arr, 0));
    sub = json_array();
    st = db_stmt(db, SQL_SHOW_RCPTS);
    if (!st || !sub) {
        json_decref(sub);
        rc = st ? merr_set(MERR_NOMEM, "out of memory") : MERR_DB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = rows_json(db, st, sub, "bounce_recipients");
    json_object_set_new(o, "recipients", sub);
    if (rc)
        goto out;
    sub = json_array();
    st = db_stmt(db, SQL_SHOW_EFFECTS);
    if (!st || !sub) {
        json_decref(sub);
        rc = st ? merr_set(MERR_NOMEM, "out of memory") : MERR_DB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = rows_json(db, st, sub, "bounce_effects");
    json_object_set_new(o, "effects", sub);
    if (rc || !raw)
        goto out;
    st = db_stmt(db, SQL_SHOW_RAW);
    if (!st) {
        rc = MERR_DB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 0);
        *raw = malloc((size_t)n + 1);
        if (*raw) {
            memcpy(*raw, sqlite3_column_blob(st, 0), (size_t)n);
            (*raw)[n] = '\0';
            *raw_len = (size_t)n;
        }
    }
    rc = db_row_end(db, st, src, MERR_NOTFOUND, "bounces");
out:
    json_decref(arr);
    if (rc) {
        json_decref(o);
        if (raw) {
            free(*raw);
            *raw = NULL;
        }
        return rc;
    }
    *out = o;
    return MERR_OK;
}

static const char SQL_METRICS_RCPT[] =
    "SELECT b.mailbox, r.class, CASE WHEN r.envelope_id IS NULL THEN 0 ELSE 1 END, count(*) "
    "FROM bounce_recipients r JOIN bounces b ON b.id = r.bounce_id GROUP BY 1, 2, 3";
static const char SQL_METRICS_MSG[] = "SELECT mailbox, state, count(*) FROM bounces GROUP BY 1, 2";

enum merr bounce_store_metrics(struct db *db,
                               void (*fn)(void *arg, const char *mailbox, const char *what,
                                          const char *value, int attributed, long long count),
                               void *arg)
{
    sqlite3_stmt *st = db_stmt(db, SQL_METRICS_RCPT);
    int src;
    if (!st)
        return MERR_DB;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(st, 0), "class",
           (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2),
           sqlite3_column_int64(st, 3));
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return db_fail(db, src, "bounce metrics");
    st = db_stmt(db, SQL_METRICS_MSG);
    if (!st)
        return MERR_DB;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(st, 0), "state",
           (const char *)sqlite3_column_text(st, 1), 0, sqlite3_column_int64(st, 2));
    sqlite3_reset(st);
    return src == SQLITE_DONE ? MERR_OK : db_fail(db, src, "bounce metrics");
}

static const char SQL_HEALTH[] =
    "SELECT name, last_poll_at, last_ok_at, last_error FROM bounce_mailboxes ORDER BY name";

enum merr bounce_store_health(struct db *db, json_t **out)
{
    sqlite3_stmt *st = db_stmt(db, SQL_HEALTH);
    json_t *arr = json_array();
    enum merr rc;
    *out = NULL;
    if (!st || !arr) {
        json_decref(arr);
        return st ? merr_set(MERR_NOMEM, "out of memory") : MERR_DB;
    }
    rc = rows_json(db, st, arr, "bounce_mailboxes");
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return MERR_OK;
}
