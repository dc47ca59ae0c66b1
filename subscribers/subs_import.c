/*
 * subs_import.c: CSV into subscribers, in one transaction, streaming.
 *
 * The file is read record by record (subs_csv.c); each record is checked
 * in C (address, name, attributes) and a bad one is reported at once with
 * its line. Good rows wait in a batch of SUBS_STORE_BATCH and go in
 * set-wise: one multi-row INSERT of the subscribers with ids given by us
 * (first_id + k, ON CONFLICT(email_key) DO NOTHING), then one INSERT ...
 * SELECT of their subscriptions by id range. Giving the ids is what makes
 * this exact without a lookup per row: row k was new iff its key's
 * subscriber now has id first_id + k. When the whole batch went in (a new
 * list, the common case) nothing else runs; otherwise each row that was
 * not new takes the per-row path (merge name and attributes, look at its
 * subscription). A staging TEMP table was measured and rejected: it writes
 * every row twice. Everything happens inside one BEGIN IMMEDIATE ...
 * COMMIT, so a crash, a kill or a failed write leaves the database exactly
 * as before (SQLite's WAL makes the commit atomic), and a dry run is the
 * same work ended by ROLLBACK: its report is exact. Foreign key checks are
 * off for the import's connection while it runs (the list is read inside
 * the transaction, and every subscription points at a subscriber just
 * found or inserted). Memory is one record, one batch and SQLite's page
 * cache (16 MiB for the duration), whatever the file size. Re-importing
 * finds every address by its key and changes nothing that is already as
 * asked.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "outbox.h"
#include "subs.h"
#include "subs_csv.h"
#include "subs_store.h"
#include "utf8.h"

#define PROGRESS_EVERY 4096
/* a batch is flushed early when its attributes reach this many bytes */
#define BATCH_ATTRS_MAX (1 << 20)

enum col_kind { COL_ATTR, COL_EMAIL, COL_NAME, COL_ATTRS_JSON, COL_IGNORED };

/* A good row waiting in the batch. */
struct pending {
    struct addr a;
    char name[1024];
    size_t attrs_off; /* in import.battrs */
    int has_attrs;
    long long line;
};

struct import {
    struct db *db;
    const struct subs_import_opts *o;
    struct subs_import_report *rep;
    struct subs_csv csv;
    size_t ncols;
    enum col_kind kind[SUBS_CSV_FIELDS_MAX];
    char *colname[SUBS_CSV_FIELDS_MAX];
    int has_attr_cols, has_json_col;
    struct subs_list list;
    long long send_id; /* confirm send, created on first need */
    int supp_any;      /* the suppression list is not empty */
    struct buf attrs;
    time_t now;
    enum subs_status want; /* CONFIRMED or UNCONFIRMED */
    struct pending *batch; /* SUBS_STORE_BATCH */
    size_t nbatch;
    struct buf battrs; /* the batch's attributes, NUL-separated */
};

/* Reports a bad row with its reason; control bytes in the reason are shown as '?'. */
static void bad(struct import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(struct import *im, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    im->rep->bad++;
    if (im->o->on_bad)
        im->o->on_bad(im->o->arg, im->csv.record_line, msg);
}

/* JSON string (RFC 8259 §7) of valid UTF-8 `s`, appended to b. */
static enum merr json_str(struct buf *b, const char *s, size_t n)
{
    enum merr rc = buf_putc(b, '"');
    size_t i = 0;
    while (i < n && !rc) {
        size_t j = i;
        while (j < n && (unsigned char)s[j] >= 0x20 && s[j] != '"' && s[j] != '\\')
            j++;
        if (j > i) /* a run that needs no escape */
            rc = buf_append(b, s + i, j - i);
        if (j == n || rc)
            break;
        unsigned char c = (unsigned char)s[j];
        if (c == '"' || c == '\\') {
            rc = buf_putc(b, '\\');
            if (!rc)
                rc = buf_putc(b, (char)c);
        } else {
            const char *esc = c == '\n'   ? "\\n"
                              : c == '\r' ? "\\r"
                              : c == '\t' ? "\\t"
                              : c == '\b' ? "\\b"
                              : c == '\f' ? "\\f"
                                          : NULL;
            rc = esc ? buf_puts(b, esc) : buf_printf(b, "\\u%04x", c);
        }
        i = j + 1;
    }
    if (!rc)
        rc = buf_putc(b, '"');
    return rc;
}

static enum merr read_header(struct import *im)
{
    enum merr rc = subs_csv_next(&im->csv);
    int email = 0;

    if (rc == MERR_NOTFOUND)
        return merr_set(MERR_INVAL, "the file is empty: a header row with an \"email\" column "
                                    "is required");
    if (rc)
        return rc;
    if (im->csv.bad)
        return merr_set(MERR_INVAL, "header row (line %lld): %s", im->csv.record_line,
                        im->csv.reason);
    im->ncols = im->csv.nfields;
    for (size_t i = 0; i < im->ncols; i++) {
        size_t n;
        const char *f = subs_csv_field(&im->csv, i, &n);
        while (n && (*f == ' ' || *f == '\t'))
            f++, n--;
        while (n && (f[n - 1] == ' ' || f[n - 1] == '\t'))
            n--;
        if (n == 0)
            return merr_set(MERR_INVAL, "header row: column %zu has no name", i + 1);
        if (!utf8_valid(f, n, NULL) || memchr(f, '\0', n))
            return merr_set(MERR_INVAL, "header row: column %zu is not valid UTF-8", i + 1);
        im->colname[i] = strndup(f, n);
        if (!im->colname[i])
            return merr_set(MERR_NOMEM, "out of memory");
        for (size_t k = 0; k < i; k++)
            if (!strcasecmp(im->colname[k], im->colname[i]))
                return merr_set(MERR_INVAL, "header row: column \"%s\" appears twice",
                                im->colname[i]);
        const char *c = im->colname[i];
        if (!strcasecmp(c, "email")) {
            im->kind[i] = COL_EMAIL;
            email = 1;
        } else if (!strcasecmp(c, "name")) {
            im->kind[i] = COL_NAME;
        } else if (!strcasecmp(c, "attributes")) {
            im->kind[i] = COL_ATTRS_JSON;
            im->has_json_col = 1;
        } else if (!strcasecmp(c, "status") || !strcasecmp(c, "list") ||
                   !strcasecmp(c, "created_at")) {
            im->kind[i] = COL_IGNORED; /* written by `sub export` */
        } else {
            im->kind[i] = COL_ATTR;
            im->has_attr_cols = 1;
        }
    }
    if (!email)
        return merr_set(MERR_INVAL, "header row has no \"email\" column (line %lld)",
                        im->csv.record_line);
    return MERR_OK;
}

/*
 * The row's attributes as compact JSON text in im->attrs, or "" when
 * there are none. 1 if the row is bad (reported), -1 on a hard error.
 */
static int row_attrs(struct import *im, enum merr *hard)
{
    json_t *obj = NULL;
    buf_reset(&im->attrs);
    if (!im->has_attr_cols && !im->has_json_col)
        return 0;
    if (im->has_json_col) {
        for (size_t i = 0; i < im->ncols; i++) {
            size_t n;
            const char *f = subs_csv_field(&im->csv, i, &n);
            json_error_t e;
            if (im->kind[i] != COL_ATTRS_JSON || n == 0)
                continue;
            obj = json_loadb(f, n, JSON_REJECT_DUPLICATES, &e);
            if (!obj || !json_is_object(obj)) {
                json_decref(obj);
                bad(im, "column \"attributes\" is not a JSON object%s%s", obj ? "" : ": ",
                    obj ? "" : e.text);
                return 1;
            }
        }
    }
    for (size_t i = 0; i < im->ncols; i++) {
        size_t n;
        const char *f = subs_csv_field(&im->csv, i, &n);
        if (im->kind[i] != COL_ATTR || n == 0)
            continue;
        if (!utf8_valid(f, n, NULL) || memchr(f, '\0', n)) {
            json_decref(obj);
            bad(im, "column \"%s\" is not valid UTF-8 text", im->colname[i]);
            return 1;
        }
        if (obj) {
            if (json_object_set_new(obj, im->colname[i], json_stringn(f, n))) {
                json_decref(obj);
                *hard = merr_set(MERR_NOMEM, "out of memory");
                return -1;
            }
            continue;
        }
        enum merr rc = buf_putc(&im->attrs, im->attrs.len ? ',' : '{');
        if (!rc)
            rc = json_str(&im->attrs, im->colname[i], strlen(im->colname[i]));
        if (!rc)
            rc = buf_putc(&im->attrs, ':');
        if (!rc)
            rc = json_str(&im->attrs, f, n);
        if (rc) {
            *hard = rc;
            return -1;
        }
    }
    if (obj) {
        char *t = json_object_size(obj) ? json_dumps(obj, JSON_COMPACT) : NULL;
        json_decref(obj);
        if (t) {
            enum merr rc = buf_puts(&im->attrs, t);
            free(t);
            if (rc) {
                *hard = rc;
                return -1;
            }
        }
        return 0;
    }
    if (im->attrs.len && buf_putc(&im->attrs, '}')) {
        *hard = merr_set(MERR_LIMIT, "attributes too long");
        return -1;
    }
    return 0;
}

static enum merr enqueue_confirm(struct import *im, long long sid, const struct addr *a,
                                 const char *name)
{
    long long env;
    enum merr rc;
    if (!im->send_id) {
        rc = subs_confirm_send(im->db, &im->list, &im->send_id);
        if (rc)
            return rc;
    }
    rc = outbox_envelope_add(im->db, im->send_id, sid, a->ascii, name, &env);
    if (!rc)
        im->rep->confirm_mails++;
    return rc;
}

/*
 * A row whose subscriber existed before (or earlier in this import): keep
 * their data, fill an empty name, merge attributes, and subscribe them
 * unless they left the list.
 */
static enum merr import_existing(struct import *im, long long sid, const struct pending *p,
                                 const char *attrs)
{
    struct subs_store_subscription sn;
    enum merr rc = subs_store_sub_merge(im->db, sid, p->name, attrs, im->now);
    if (!rc)
        rc = subs_store_subn_get(im->db, im->list.id, sid, &sn);
    if (rc)
        return rc;
    switch (sn.status) {
    case SUBS_NONE:
        rc = subs_store_subn_put(im->db, im->list.id, sid, im->want, "import", im->now);
        if (!rc && im->want == SUBS_UNCONFIRMED)
            rc = enqueue_confirm(im, sid, &p->a, p->name);
        if (!rc)
            im->rep->subscribed++;
        break;
    case SUBS_UNSUBSCRIBED:
        im->rep->left++; /* they left: an import does not bring them back */
        break;
    case SUBS_CONFIRMED:
        im->rep->existing++;
        break;
    case SUBS_UNCONFIRMED:
        if (im->want == SUBS_CONFIRMED) {
            int changed;
            rc = subs_store_subn_confirm(im->db, im->list.id, sid, "import", im->now, &changed);
            if (!rc)
                im->rep->upgraded++;
        } else {
            im->rep->existing++;
        }
        break;
    }
    return rc;
}

/* Writes the batch: new people set-wise, the others row by row (see the top). */
static enum merr flush(struct import *im)
{
    struct subs_store_new v[SUBS_STORE_BATCH];
    size_t n = im->nbatch;
    long long first, inserted;
    enum merr rc;

    if (n == 0)
        return MERR_OK;
    for (size_t k = 0; k < n; k++) {
        v[k].a = &im->batch[k].a;
        v[k].name = im->batch[k].name;
        v[k].attrs = im->batch[k].has_attrs ? im->battrs.data + im->batch[k].attrs_off : NULL;
    }
    rc = subs_store_sub_next_id(im->db, &first);
    if (!rc)
        rc = subs_store_sub_insert_many(im->db, v, n, first, im->now, &inserted);
    if (!rc && inserted)
        rc = subs_store_subn_put_range(im->db, im->list.id, first, first + (long long)n - 1,
                                       im->want, "import", im->now);
    if (rc) {
        merr_wrap(rc, "lines %lld-%lld", im->batch[0].line, im->batch[n - 1].line);
        return rc;
    }
    im->rep->created += inserted;
    im->rep->subscribed += inserted;
    for (size_t k = 0; k < n && (inserted < (long long)n || im->want == SUBS_UNCONFIRMED); k++) {
        const struct pending *p = &im->batch[k];
        long long sid = first + (long long)k;
        if (inserted < (long long)n) {
            rc = subs_store_sub_find(im->db, p->a.key, &sid);
            if (rc) {
                if (rc == MERR_NOTFOUND)
                    rc = merr_set(MERR_DB, "subscriber %s vanished during the import", p->a.key);
                goto row_failed;
            }
        }
        if (sid == first + (long long)k) /* new: subscribed by the range insert */
            rc = im->want == SUBS_UNCONFIRMED ? enqueue_confirm(im, sid, &p->a, p->name) : MERR_OK;
        else
            rc = import_existing(im, sid, p, v[k].attrs);
        if (rc)
            goto row_failed;
        continue;
    row_failed:
        merr_wrap(rc, "line %lld", p->line);
        return rc;
    }
    im->nbatch = 0;
    buf_reset(&im->battrs);
    return MERR_OK;
}

static enum merr import_row(struct import *im)
{
    struct addr a;
    const char *email = NULL, *name = "", *attrs;
    size_t elen = 0, nlen = 0;
    char hash[65];
    int added, ar;
    enum merr rc = MERR_OK;

    if (im->csv.bad) {
        bad(im, "%s", im->csv.reason);
        return MERR_OK;
    }
    if (im->csv.nfields != im->ncols) {
        bad(im, "row has %zu fields, the header has %zu", im->csv.nfields, im->ncols);
        return MERR_OK;
    }
    for (size_t i = 0; i < im->ncols; i++) {
        if (im->kind[i] == COL_EMAIL)
            email = subs_csv_field(&im->csv, i, &elen);
        else if (im->kind[i] == COL_NAME)
            name = subs_csv_field(&im->csv, i, &nlen);
    }
    if (addr_parse_n(email, elen, &a)) {
        bad(im, "address \"%.*s\": %s", (int)(elen > 100 ? 100 : elen), email, merr_msg());
        return MERR_OK;
    }
    /* trim the name as people type it in spreadsheets */
    while (nlen && (name[0] == ' '))
        name++, nlen--;
    while (nlen && name[nlen - 1] == ' ')
        nlen--;
    if (subs_check_name(name, nlen)) {
        bad(im, "name: %s", merr_msg());
        return MERR_OK;
    }
    char namez[1024];
    snprintf(namez, sizeof namez, "%.*s", (int)nlen, name);
    ar = row_attrs(im, &rc);
    if (ar < 0)
        return rc;
    if (ar > 0)
        return MERR_OK;
    attrs = im->attrs.len ? im->attrs.data : NULL;

    if (im->o->mode == SUBS_IMPORT_BLOCKLIST || im->supp_any)
        subs_store_key_hash(a.key, hash);
    if (im->o->mode == SUBS_IMPORT_BLOCKLIST) {
        rc = subs_store_supp_insert(im->db, hash, a.key, "manual", "import", im->now, &added);
        if (rc)
            return merr_wrap(rc, "line %lld", im->csv.record_line);
        if (added)
            im->rep->blocked++;
        else
            im->rep->existing++;
        return MERR_OK;
    }
    if (im->supp_any) {
        rc = subs_store_supp_get(im->db, hash, NULL);
        if (rc == MERR_OK) {
            im->rep->suppressed++;
            return MERR_OK;
        }
        if (rc != MERR_NOTFOUND)
            return merr_wrap(rc, "line %lld", im->csv.record_line);
    }
    struct pending *p = &im->batch[im->nbatch];
    p->a = a;
    memcpy(p->name, namez, strlen(namez) + 1);
    p->line = im->csv.record_line;
    p->has_attrs = attrs != NULL;
    p->attrs_off = im->battrs.len;
    if (attrs && (rc = buf_append(&im->battrs, attrs, im->attrs.len + 1)))
        return rc;
    im->nbatch++;
    if (im->nbatch == SUBS_STORE_BATCH || im->battrs.len >= BATCH_ATTRS_MAX)
        return flush(im);
    return MERR_OK;
}

enum merr subs_import_csv(struct db *db, const struct config *cfg, FILE *in,
                          const struct subs_import_opts *o, time_t now,
                          struct subs_import_report *rep)
{
    struct import im;
    int begun = 0;
    enum merr rc;

    (void)cfg;
    memset(rep, 0, sizeof *rep);
    memset(&im, 0, sizeof im);
    im.db = db;
    im.o = o;
    im.rep = rep;
    im.now = now;
    im.want = o->mode == SUBS_IMPORT_CONFIRMED ? SUBS_CONFIRMED : SUBS_UNCONFIRMED;
    buf_init(&im.attrs, SUBS_CSV_RECORD_MAX * 2);
    buf_init(&im.battrs, BATCH_ATTRS_MAX + SUBS_CSV_RECORD_MAX * 2 + 1);
    subs_csv_init(&im.csv, in);
    im.batch = malloc(SUBS_STORE_BATCH * sizeof *im.batch);
    if (!im.batch) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }

    rc = read_header(&im);
    if (rc)
        goto out;
    if (o->mode != SUBS_IMPORT_BLOCKLIST && !o->list_slug) {
        rc = merr_set(MERR_INVAL, "a list is needed to import subscribers");
        goto out;
    }
    rc = subs_store_import_tuning(db, 1);
    if (!rc)
        rc = db_begin(db);
    if (rc)
        goto out;
    begun = 1;
    /* read inside the transaction: nobody can remove it before the commit */
    if (o->mode != SUBS_IMPORT_BLOCKLIST) {
        rc = subs_list_get(db, o->list_slug, &im.list);
        if (rc)
            goto out;
    }
    im.supp_any = subs_store_supp_any(db);
    for (;;) {
        rc = subs_csv_next(&im.csv);
        if (rc == MERR_NOTFOUND) {
            rc = MERR_OK;
            break;
        }
        if (rc)
            goto out;
        rep->rows++;
        rc = import_row(&im);
        if (rc)
            goto out;
        if (o->on_progress && rep->rows % PROGRESS_EVERY == 0)
            o->on_progress(o->arg, im.csv.bytes, rep->rows);
    }
    rc = flush(&im);
    if (rc)
        goto out;
    if (o->on_progress)
        o->on_progress(o->arg, im.csv.bytes, rep->rows);
    if (o->dry_run) {
        db_rollback(db);
        begun = 0;
    } else {
        rc = db_commit(db);
        if (rc)
            goto out;
        begun = 0;
    }
out:
    if (begun)
        db_rollback(db);
    subs_store_import_tuning(db, 0);
    subs_csv_free(&im.csv);
    buf_free(&im.attrs);
    buf_free(&im.battrs);
    free(im.batch);
    for (size_t i = 0; i < SUBS_CSV_FIELDS_MAX; i++)
        free(im.colname[i]);
    subs_list_clear(&im.list);
    return rc;
}
