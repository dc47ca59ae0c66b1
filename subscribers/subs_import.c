/*
 * subs_import.c: CSV into subscribers, in one transaction, streaming.
 *
 * Two threads: a reader reads the file record by record (subs_csv.c) and
 * checks each one in C (address, name, attributes), handing rows over in
 * chunks of CHUNK_ROWS, at most NCHUNKS ahead; the calling thread, the
 * only one to touch the database, reports the bad rows (line and reason,
 * in file order) and writes the good ones. They wait in batches of
 * SUBS_STORE_BATCH and go in set-wise: one multi-row INSERT of the
 * subscribers with ids given by us (first_id + k, ON CONFLICT(email_key)
 * DO NOTHING), then one INSERT ... SELECT of their subscriptions by id
 * range. Giving the ids is what makes this exact without a lookup per row:
 * row k was new iff its key's subscriber now has id first_id + k. When the
 * whole batch went in (a new list, the common case) nothing else runs;
 * otherwise each row that was not new takes the per-row path (merge name
 * and attributes, look at its subscription). A staging TEMP table was
 * measured and rejected: it writes every row twice.
 *
 * Everything happens inside one BEGIN IMMEDIATE ... COMMIT, so a crash, a
 * kill or a failed write leaves the database exactly as before (SQLite's
 * WAL makes the commit atomic), and a dry run is the same work ended by
 * ROLLBACK: its report is exact. Foreign key checks are off for the
 * import's connection while it runs (the list is read inside the
 * transaction, and every subscription points at a subscriber just found or
 * inserted). Memory is NCHUNKS chunks, one batch and SQLite's page cache
 * (16 MiB for the duration), whatever the file size. Re-importing finds
 * every address by its key and changes nothing that is already as asked.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
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
/* rows per chunk handed from the reader thread (a multiple of SUBS_STORE_BATCH) */
#define CHUNK_ROWS (4 * SUBS_STORE_BATCH)
#define CHUNK_BADS 64
#define NCHUNKS    3
/* a chunk is handed over early when its attributes reach this many bytes */
#define CHUNK_ATTRS_MAX (1 << 20)

enum col_kind { COL_ATTR, COL_EMAIL, COL_NAME, COL_ATTRS_JSON, COL_IGNORED };

/* A good row, checked by the reader, waiting to be written. */
struct pending {
    struct addr a;
    char name[1024];
    char hash[65];    /* of the key: stored with a new subscriber, the suppression key */
    size_t attrs_off; /* in chunk.attrs */
    int has_attrs;
    long long line;
};

/* What the reader thread hands to the writer: rows and bad rows, in file order. */
struct chunk {
    struct pending rows[CHUNK_ROWS];
    size_t nrows;
    struct buf attrs;    /* the rows' attributes, NUL-terminated each */
    struct buf bad_text; /* the bad rows' reasons, NUL-terminated each */
    long long bad_line[CHUNK_BADS];
    size_t bad_off[CHUNK_BADS];
    size_t nbad;
    long long records; /* data records read into this chunk */
    long long bytes;   /* bytes of the file consumed when the chunk was handed over */
    int last;          /* end of the input, or the reader failed (rc) */
    enum merr rc;
    char msg[1024]; /* its merr_msg() */
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
    struct buf attrs;  /* the reader's scratch for one row */
    time_t now;
    enum subs_status want; /* CONFIRMED or UNCONFIRMED */
    /* the hand-over: chunk i % NCHUNKS, filled by the reader, emptied by the writer */
    struct chunk *chunks;
    struct chunk *fill; /* the reader's current chunk */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long long produced, consumed;
    int stop; /* the writer failed: the reader ends */
};

/* Records a bad row with its reason; control bytes in the reason are shown as '?'. */
static void bad(struct import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(struct import *im, const char *fmt, ...)
{
    struct chunk *ch = im->fill;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    ch->bad_line[ch->nbad] = im->csv.record_line;
    ch->bad_off[ch->nbad] = ch->bad_text.len;
    if (buf_append(&ch->bad_text, msg, strlen(msg) + 1))
        ch->bad_off[ch->nbad] = SIZE_MAX; /* reported without its reason */
    ch->nbad++;
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

/*
 * Column names as people write them, compared by utf8_fold_key (case,
 * accents, spaces and punctuation ignored: "Địa chỉ email", "E-mail",
 * "HỌ VÀ TÊN", "ho_ten" all match). The first of each role is the name
 * used in messages.
 */
static const struct {
    const char *key;
    enum col_kind kind;
} COLUMN_ALIASES[] = {
    {"email", COL_EMAIL},           /* email, E-mail, EMAIL */
    {"emailaddress", COL_EMAIL},    /* Email address, E-mail Address */
    {"mail", COL_EMAIL},            /* Mail */
    {"diachiemail", COL_EMAIL},     /* Địa chỉ email, Địa chỉ e-mail */
    {"thudientu", COL_EMAIL},       /* Thư điện tử */
    {"diachithudientu", COL_EMAIL}, /* Địa chỉ thư điện tử */
    {"name", COL_NAME},             /* name, Name */
    {"fullname", COL_NAME},         /* Full name */
    {"displayname", COL_NAME},      /* Display name */
    {"hovaten", COL_NAME},          /* Họ và tên */
    {"hoten", COL_NAME},            /* Họ tên */
    {"ten", COL_NAME},              /* Tên */
    {"tendaydu", COL_NAME},         /* Tên đầy đủ */
    {"hotendaydu", COL_NAME},       /* Họ tên đầy đủ */
    {"attributes", COL_ATTRS_JSON},
    {"status", COL_IGNORED}, /* written by `sub export` */
    {"list", COL_IGNORED},
    {"createdat", COL_IGNORED},
};

/* What a header cell stands for (COL_ATTR for any other name). */
static enum col_kind column_kind(const char *name)
{
    char key[128];
    if (utf8_fold_key(name, strlen(name), key, sizeof key) <= 0)
        return COL_ATTR;
    for (size_t i = 0; i < sizeof COLUMN_ALIASES / sizeof COLUMN_ALIASES[0]; i++)
        if (!strcmp(key, COLUMN_ALIASES[i].key))
            return COLUMN_ALIASES[i].kind;
    return COL_ATTR;
}

/* The header's cells, quoted and comma-separated, for a message. */
static void header_cells(struct import *im, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < im->ncols && im->colname[i] && len + 8 < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s\"%.40s\"", i ? ", " : "", im->colname[i]);
    if (len >= cap)
        out[cap - 1] = '\0';
}

static enum merr read_header(struct import *im)
{
    enum merr rc = subs_csv_next(&im->csv);
    int email = -1, name = -1;
    char cells[512];

    if (rc == MERR_NOTFOUND)
        return merr_set(MERR_INVAL, "the file is empty: a header row with an \"email\" column "
                                    "is required");
    if (rc)
        return rc;
    im->rep->delimiter = im->csv.delim;
    if (im->csv.nfields) {
        size_t n;
        const char *f = subs_csv_field(&im->csv, 0, &n);
        /* UTF-16 with its byte order mark: Excel's "Unicode Text" */
        if (n >= 2 && (!memcmp(f, "\xFF\xFE", 2) || !memcmp(f, "\xFE\xFF", 2)))
            return merr_set(MERR_INVAL, "the file is UTF-16 text (Excel's \"Unicode Text\"), not "
                                        "CSV: save it as \"CSV UTF-8 (Comma delimited)\"");
    }
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
            return merr_set(MERR_INVAL,
                            "header row: column %zu is not valid UTF-8; was the file saved in "
                            "an older encoding? Save it as \"CSV UTF-8 (Comma delimited)\"",
                            i + 1);
        im->colname[i] = strndup(f, n);
        if (!im->colname[i])
            return merr_set(MERR_NOMEM, "out of memory");
        for (size_t k = 0; k < i; k++)
            if (!strcasecmp(im->colname[k], im->colname[i]))
                return merr_set(MERR_INVAL, "header row: column \"%s\" appears twice",
                                im->colname[i]);
        im->kind[i] = column_kind(im->colname[i]);
        if (im->kind[i] == COL_EMAIL || im->kind[i] == COL_NAME) {
            int *seen = im->kind[i] == COL_EMAIL ? &email : &name;
            if (*seen >= 0)
                return merr_set(MERR_INVAL,
                                "header row: columns \"%s\" and \"%s\" both hold the %s: keep "
                                "one of them",
                                im->colname[*seen], im->colname[i],
                                im->kind[i] == COL_EMAIL ? "email address" : "name");
            *seen = (int)i;
        } else if (im->kind[i] == COL_ATTRS_JSON) {
            im->has_json_col = 1;
        } else if (im->kind[i] == COL_ATTR) {
            im->has_attr_cols = 1;
        }
    }
    if (email < 0) {
        header_cells(im, cells, sizeof cells);
        return merr_set(MERR_INVAL,
                        "header row (line %lld, read as %s-separated) has no email column; its "
                        "columns are %s. The addresses go in a column named email, E-mail or "
                        "\"Địa chỉ email\" (any case, with or without accents)%s",
                        im->csv.record_line, subs_csv_delim_name(im->csv.delim), cells,
                        im->o->delim ? "; or the separator given with --delimiter is wrong" : "");
    }
    snprintf(im->rep->email_column, sizeof im->rep->email_column, "%s", im->colname[email]);
    if (name >= 0)
        snprintf(im->rep->name_column, sizeof im->rep->name_column, "%s", im->colname[name]);
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

/* As subs_subscribe: a confirmation carries no name, neither in To: nor in its text. */
static enum merr enqueue_confirm(struct import *im, long long sid, const struct addr *a)
{
    long long env;
    enum merr rc;
    if (!im->send_id) {
        rc = subs_confirm_send(im->db, &im->list, &im->send_id);
        if (rc)
            return rc;
    }
    rc = outbox_envelope_add(im->db, im->send_id, sid, a->ascii, "", &env);
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
            rc = enqueue_confirm(im, sid, &p->a);
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
static enum merr flush(struct import *im, const struct pending *rows, size_t n,
                       const char *attrs_base)
{
    struct subs_store_new v[SUBS_STORE_BATCH];
    long long first, inserted;
    enum merr rc;

    if (n == 0)
        return MERR_OK;
    for (size_t k = 0; k < n; k++) {
        v[k].a = &rows[k].a;
        v[k].hash = rows[k].hash;
        v[k].name = rows[k].name;
        v[k].attrs = rows[k].has_attrs ? attrs_base + rows[k].attrs_off : NULL;
    }
    rc = subs_store_sub_next_id(im->db, &first);
    if (!rc)
        rc = subs_store_sub_insert_many(im->db, v, n, first, im->now, &inserted);
    if (!rc && inserted)
        rc = subs_store_subn_put_range(im->db, im->list.id, first, first + (long long)n - 1,
                                       im->want, "import", im->now);
    if (rc) {
        merr_wrap(rc, "lines %lld-%lld", rows[0].line, rows[n - 1].line);
        return rc;
    }
    im->rep->created += inserted;
    im->rep->subscribed += inserted;
    for (size_t k = 0; k < n && (inserted < (long long)n || im->want == SUBS_UNCONFIRMED); k++) {
        const struct pending *p = &rows[k];
        long long sid = first + (long long)k;
        if (inserted < (long long)n) {
            rc = subs_store_sub_find(im->db, p->a.key, &sid);
            if (rc == MERR_NOTFOUND)
                rc = merr_set(MERR_DB, "subscriber %s vanished during the import", p->a.key);
        }
        if (!rc && sid == first + (long long)k) /* new: subscribed by the range insert */
            rc = im->want == SUBS_UNCONFIRMED ? enqueue_confirm(im, sid, &p->a) : MERR_OK;
        else if (!rc)
            rc = import_existing(im, sid, p, v[k].attrs);
        if (rc)
            return merr_wrap(rc, "line %lld", p->line);
    }
    return MERR_OK;
}

/*
 * Reader thread: checks the current record into the next slot of the chunk
 * being filled. MERR_OK whether the row was good (taken) or bad (recorded);
 * another code only for a hard error (out of memory).
 */
static enum merr read_row(struct import *im)
{
    struct chunk *ch = im->fill;
    /* parsed straight into the next slot, taken only if the row is good */
    struct pending *p = &ch->rows[ch->nrows];
    const char *email = NULL, *name = "";
    size_t elen = 0, nlen = 0;
    enum merr rc = MERR_OK;
    int ar;

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
    /* our own export's guard against spreadsheet formulas (subs_csv_put_cell) */
    if (email)
        subs_csv_unguard(&email, &elen);
    subs_csv_unguard(&name, &nlen);
    if (addr_parse_n(email, elen, &p->a)) {
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
    if (nlen >= sizeof p->name) /* cannot happen: 200 characters at most */
        nlen = sizeof p->name - 1;
    memcpy(p->name, name, nlen);
    p->name[nlen] = '\0';
    ar = row_attrs(im, &rc);
    if (ar < 0)
        return merr_wrap(rc, "line %lld", im->csv.record_line);
    if (ar > 0)
        return MERR_OK;
    p->line = im->csv.record_line;
    subs_store_key_hash(p->a.key, p->hash); /* SHA-256: here, off the writer's thread */
    p->has_attrs = im->attrs.len > 0;
    p->attrs_off = ch->attrs.len;
    if (p->has_attrs && (rc = buf_append(&ch->attrs, im->attrs.data, im->attrs.len + 1)))
        return merr_wrap(rc, "line %lld", im->csv.record_line);
    ch->nrows++;
    return MERR_OK;
}

/*
 * The reader thread: reads and checks records into chunks and hands them
 * over in order, at most NCHUNKS ahead of the writer (memory stays flat).
 * Ends after the last record, on a read error (handed over as the last
 * chunk's rc) or when the writer sets `stop`.
 */
static void *reader(void *arg)
{
    struct import *im = arg;
    for (;;) {
        struct chunk *ch;
        enum merr rc = MERR_OK;
        pthread_mutex_lock(&im->mu);
        while (!im->stop && im->produced - im->consumed >= NCHUNKS)
            pthread_cond_wait(&im->cv, &im->mu);
        if (im->stop) {
            pthread_mutex_unlock(&im->mu);
            return NULL;
        }
        pthread_mutex_unlock(&im->mu);
        ch = im->fill = &im->chunks[im->produced % NCHUNKS];
        ch->nrows = ch->nbad = 0;
        ch->records = 0;
        ch->last = 0;
        ch->rc = MERR_OK;
        buf_reset(&ch->attrs);
        buf_reset(&ch->bad_text);
        while (ch->nrows < CHUNK_ROWS && ch->nbad < CHUNK_BADS && ch->attrs.len < CHUNK_ATTRS_MAX) {
            rc = subs_csv_next(&im->csv);
            if (rc == MERR_NOTFOUND) {
                rc = MERR_OK;
                ch->last = 1;
                break;
            }
            if (!rc) {
                ch->records++;
                rc = read_row(im);
            }
            if (rc) {
                ch->last = 1;
                ch->rc = rc;
                snprintf(ch->msg, sizeof ch->msg, "%s", merr_msg());
                break;
            }
        }
        ch->bytes = im->csv.bytes;
        pthread_mutex_lock(&im->mu);
        im->produced++;
        pthread_cond_broadcast(&im->cv);
        pthread_mutex_unlock(&im->mu);
        if (ch->last)
            return NULL;
    }
}

/* The writer's part of a row the reader found good: suppression, blocklist. */
static enum merr screen_row(struct import *im, const struct pending *p, int *keep)
{
    const char *hash = p->hash;
    int added;
    enum merr rc;

    *keep = 0;
    if (im->o->mode == SUBS_IMPORT_BLOCKLIST) {
        rc = subs_store_supp_insert(im->db, hash, p->a.key, "manual", "import", im->now, &added);
        if (rc)
            return merr_wrap(rc, "line %lld", p->line);
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
            return merr_wrap(rc, "line %lld", p->line);
    }
    *keep = 1;
    return MERR_OK;
}

/* The writer: reports a chunk's bad rows, then writes its good ones in batches. */
static enum merr write_chunk(struct import *im, struct chunk *ch)
{
    size_t n = 0;
    enum merr rc;

    for (size_t i = 0; i < ch->nbad; i++) {
        im->rep->bad++;
        if (im->o->on_bad)
            im->o->on_bad(im->o->arg, ch->bad_line[i],
                          ch->bad_off[i] == SIZE_MAX ? "(reason lost: out of memory)"
                                                     : ch->bad_text.data + ch->bad_off[i]);
    }
    im->rep->rows += ch->records;
    if (ch->rc)
        return merr_set(ch->rc, "%s", ch->msg);
    for (size_t i = 0; i < ch->nrows; i++) {
        int keep;
        rc = screen_row(im, &ch->rows[i], &keep);
        if (rc)
            return rc;
        if (keep && n != i)
            ch->rows[n] = ch->rows[i];
        n += (size_t)keep;
    }
    for (size_t s = 0; s < n; s += SUBS_STORE_BATCH) {
        size_t m = n - s < SUBS_STORE_BATCH ? n - s : SUBS_STORE_BATCH;
        rc = flush(im, ch->rows + s, m, ch->attrs.data);
        if (rc)
            return rc;
    }
    return MERR_OK;
}

/* Runs the reader thread and writes what it hands over, in order. */
static enum merr pump(struct import *im)
{
    pthread_t th;
    enum merr rc = MERR_OK;
    long long reported = 0;
    int last = 0;

    if (pthread_create(&th, NULL, reader, im))
        return merr_set(MERR_NOMEM, "cannot start the CSV reader thread");
    while (!rc && !last) {
        struct chunk *ch;
        pthread_mutex_lock(&im->mu);
        while (im->consumed == im->produced)
            pthread_cond_wait(&im->cv, &im->mu);
        pthread_mutex_unlock(&im->mu);
        ch = &im->chunks[im->consumed % NCHUNKS];
        last = ch->last;
        rc = write_chunk(im, ch);
        if (!rc && im->o->on_progress && im->rep->rows / PROGRESS_EVERY > reported) {
            reported = im->rep->rows / PROGRESS_EVERY;
            im->o->on_progress(im->o->arg, ch->bytes, im->rep->rows);
        }
        pthread_mutex_lock(&im->mu);
        im->consumed++;
        if (rc)
            im->stop = 1;
        pthread_cond_broadcast(&im->cv);
        pthread_mutex_unlock(&im->mu);
    }
    pthread_join(th, NULL);
    if (!rc && im->o->on_progress)
        im->o->on_progress(im->o->arg, im->csv.bytes, im->rep->rows);
    return rc;
}

enum merr subs_import_csv(struct db *db, const struct config *cfg, FILE *in,
                          const struct subs_import_opts *o, time_t now,
                          struct subs_import_report *rep)
{
    struct import im;
    int begun = 0, sync = 0;
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
    subs_csv_init(&im.csv, in);
    if (o->delim)
        subs_csv_set_delim(&im.csv, o->delim);
    im.chunks = calloc(NCHUNKS, sizeof *im.chunks);
    if (!im.chunks) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < NCHUNKS; i++) {
        buf_init(&im.chunks[i].attrs, CHUNK_ATTRS_MAX + SUBS_CSV_RECORD_MAX * 2 + 1);
        buf_init(&im.chunks[i].bad_text, CHUNK_BADS * 512);
    }
    if (pthread_mutex_init(&im.mu, NULL)) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    if (pthread_cond_init(&im.cv, NULL)) {
        pthread_mutex_destroy(&im.mu);
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    sync = 1;
    im.fill = &im.chunks[0];

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
    rc = pump(&im);
    if (rc)
        goto out;
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
    if (sync) {
        pthread_cond_destroy(&im.cv);
        pthread_mutex_destroy(&im.mu);
    }
    subs_csv_free(&im.csv);
    buf_free(&im.attrs);
    for (size_t i = 0; im.chunks && i < NCHUNKS; i++) {
        buf_free(&im.chunks[i].attrs);
        buf_free(&im.chunks[i].bad_text);
    }
    free(im.chunks);
    for (size_t i = 0; i < SUBS_CSV_FIELDS_MAX; i++)
        free(im.colname[i]);
    subs_list_clear(&im.list);
    return rc;
}
