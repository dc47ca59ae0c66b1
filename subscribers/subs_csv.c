/*
 * subs_csv.c: RFC 4180 CSV, read as a stream and written as a stream.
 *
 * The reader is a byte-at-a-time state machine over a 64 KiB read buffer
 * (RFC 4180 §2: fields separated by commas, records by line breaks, fields
 * that hold commas, quotes or line breaks enclosed in double quotes, a
 * quote inside written as two). The separator may also be a semicolon or a
 * tab, as spreadsheets write in many locales: it is decided once, from the
 * header line (subs_csv_sniff), and is then the only one. Line numbers count
 * physical lines so a bad record can be reported where an editor will find
 * it: the line where the record starts. The export writes one row at a time
 * through a reused buffer, so it runs in constant memory whatever the list
 * size; its cells of outside text are spreadsheet-safe (subs_csv_put_cell)
 * and the import takes the guard off again, so an export imports back
 * unchanged.
 */
#include "subs_csv.h"

#include <errno.h>
#include <string.h>

#include "date.h"
#include "subs.h"
#include "subs_store.h"

void subs_csv_init(struct subs_csv *r, FILE *in)
{
    memset(r, 0, sizeof *r);
    r->in = in;
    r->line = 1;
    buf_init(&r->data, SUBS_CSV_RECORD_MAX + SUBS_CSV_FIELDS_MAX + 16);
}

void subs_csv_set_delim(struct subs_csv *r, char delim)
{
    r->delim = delim;
}

void subs_csv_free(struct subs_csv *r)
{
    buf_free(&r->data);
}

/* Next byte, or -1 at end of input, -2 on a read error. */
static int getb(struct subs_csv *r)
{
    if (r->rpos == r->rlen) {
        if (r->eof)
            return -1;
        errno = 0;
        r->rlen = fread(r->rbuf, 1, sizeof r->rbuf, r->in);
        r->rpos = 0;
        /* the error may come with the last bytes (a short read): keep its
         * errno now, the call that then returns nothing sets none */
        if (ferror(r->in) && !r->err)
            r->err = errno ? errno : EIO;
        if (r->rlen == 0) {
            r->eof = 1;
            return ferror(r->in) ? -2 : -1;
        }
    }
    r->bytes++;
    return (unsigned char)r->rbuf[r->rpos++];
}

static int peekb(struct subs_csv *r)
{
    int c = getb(r);
    if (c >= 0) {
        r->rpos--;
        r->bytes--;
    }
    return c;
}

static void mark_bad(struct subs_csv *r, const char *why)
{
    if (!r->bad) {
        r->bad = 1;
        snprintf(r->reason, sizeof r->reason, "%s", why);
    }
}

static void add_byte(struct subs_csv *r, char c)
{
    if (r->bad)
        return;
    if (r->data.len >= SUBS_CSV_RECORD_MAX || buf_putc(&r->data, c)) {
        mark_bad(r, "record is longer than 1 MiB");
        return;
    }
}

/*
 * After a data byte: takes the run of plain bytes that follows in the read
 * buffer in one copy (the import's hot loop). A run stops at any byte the
 * state machine must see: the quote and line breaks, and outside quotes
 * the comma too.
 */
static void add_run(struct subs_csv *r, int quoted)
{
    const char *p = r->rbuf + r->rpos, *end = r->rbuf + r->rlen, *q = p;
    size_t n;
    if (quoted)
        while (q < end && *q != '"' && *q != '\r' && *q != '\n')
            q++;
    else
        while (q < end && *q != r->delim && *q != '"' && *q != '\r' && *q != '\n')
            q++;
    n = (size_t)(q - p);
    if (n == 0)
        return;
    r->rpos += n;
    r->bytes += (long long)n;
    if (r->bad)
        return;
    if (r->data.len + n > SUBS_CSV_RECORD_MAX || buf_append(&r->data, p, n))
        mark_bad(r, "record is longer than 1 MiB");
}

static void end_field(struct subs_csv *r)
{
    if (r->bad)
        return;
    size_t start = r->off[r->nfields];
    r->len[r->nfields] = r->data.len - start;
    if (buf_putc(&r->data, '\0')) {
        mark_bad(r, "record is longer than 1 MiB");
        return;
    }
    r->nfields++;
    if (r->nfields >= SUBS_CSV_FIELDS_MAX) {
        mark_bad(r, "record has too many fields (more than 255)");
        return;
    }
    r->off[r->nfields] = r->data.len;
}

char subs_csv_sniff(const char *p, size_t n)
{
    size_t comma = 0, semi = 0, tab = 0;
    int quoted = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '"')
            quoted = !quoted; /* "" inside quotes toggles twice: no change */
        else if (quoted)
            continue;
        else if (c == '\r' || c == '\n')
            break;
        else if (c == ',')
            comma++;
        else if (c == ';')
            semi++;
        else if (c == '\t')
            tab++;
    }
    if (semi > comma && semi >= tab)
        return ';';
    if (tab > comma && tab > semi)
        return '\t';
    return ',';
}

const char *subs_csv_delim_name(char delim)
{
    return delim == ';' ? "semicolon" : delim == '\t' ? "tab" : "comma";
}

/* Consumes a line break whose first byte `c` (CR or LF) was read. */
static void eat_newline(struct subs_csv *r, int c)
{
    if (c == '\r' && peekb(r) == '\n')
        getb(r);
    r->line++;
}

enum merr subs_csv_next(struct subs_csv *r)
{
    enum { FIELD_START, UNQUOTED, QUOTED, AFTER_QUOTE } st = FIELD_START;
    int c;

    if (!r->started) {
        r->started = 1;
        /* a UTF-8 BOM (EF BB BF) is not part of the first field */
        c = peekb(r);
        if (c == 0xEF && r->rlen - r->rpos >= 3 && !memcmp(r->rbuf + r->rpos, "\xEF\xBB\xBF", 3)) {
            r->rpos += 3;
            r->bytes += 3;
        }
        if (!r->delim)
            r->delim = subs_csv_sniff(r->rbuf + r->rpos, r->rlen - r->rpos);
    }
    /* blank lines between records are skipped */
    for (;;) {
        c = peekb(r);
        if (c == '\r' || c == '\n') {
            getb(r);
            eat_newline(r, c);
            continue;
        }
        break;
    }
    if (c == -2)
        return merr_set(MERR_IO, "read error: %s", strerror(r->err));
    if (c == -1)
        return MERR_NOTFOUND;

    buf_reset(&r->data);
    r->nfields = 0;
    r->off[0] = 0;
    r->bad = 0;
    r->reason[0] = '\0';
    r->record_line = r->line;
    for (;;) {
        c = getb(r);
        if (c == -2)
            return merr_set(MERR_IO, "read error: %s", strerror(r->err));
        switch (st) {
        case FIELD_START:
            if (c == '"') {
                st = QUOTED;
                break;
            }
            st = UNQUOTED;
            /* fall through */
        case UNQUOTED:
            if (c == -1 || c == '\r' || c == '\n') {
                end_field(r);
                if (c >= 0)
                    eat_newline(r, c);
                return MERR_OK;
            }
            if (c == r->delim) {
                end_field(r);
                st = FIELD_START;
            } else {
                if (c == '"')
                    mark_bad(r, "quote inside an unquoted field (RFC 4180 §2.5)");
                add_byte(r, (char)c);
                add_run(r, 0);
            }
            break;
        case QUOTED:
            if (c == -1) {
                mark_bad(r, "quoted field is not closed before the end of the file");
                end_field(r);
                return MERR_OK;
            }
            if (c == '"') {
                st = AFTER_QUOTE;
                break;
            }
            if (c == '\r' || c == '\n') {
                /* a line break inside quotes is data (RFC 4180 §2.6) */
                add_byte(r, (char)c);
                if (c == '\r' && peekb(r) == '\n')
                    add_byte(r, (char)getb(r));
                r->line++;
                break;
            }
            add_byte(r, (char)c);
            add_run(r, 1);
            break;
        case AFTER_QUOTE:
            if (c == '"') { /* "" is one quote (RFC 4180 §2.7) */
                add_byte(r, '"');
                st = QUOTED;
            } else if (c == r->delim) {
                end_field(r);
                st = FIELD_START;
            } else if (c == -1 || c == '\r' || c == '\n') {
                end_field(r);
                if (c >= 0)
                    eat_newline(r, c);
                return MERR_OK;
            } else {
                mark_bad(r, "text after a closing quote (RFC 4180 §2.7)");
                add_byte(r, (char)c);
                st = UNQUOTED;
            }
            break;
        }
    }
}

enum merr subs_csv_put(struct buf *out, const char *s, size_t n)
{
    int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    enum merr rc;
    for (size_t i = 0; i < n && !quote; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            quote = 1;
    if (!quote)
        return buf_append(out, s, n);
    rc = buf_putc(out, '"');
    for (size_t i = 0; i < n && !rc; i++) {
        if (s[i] == '"')
            rc = buf_putc(out, '"');
        if (!rc)
            rc = buf_putc(out, s[i]);
    }
    if (!rc)
        rc = buf_putc(out, '"');
    return rc;
}

/* The first characters a spreadsheet reads as the start of a formula. */
static int formula_start(char c)
{
    return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

enum merr subs_csv_put_cell(struct buf *out, const char *s, size_t n)
{
    struct buf guarded;
    enum merr rc;
    /* (an apostrophe before such a character gets one too: the import
     * takes one off, so the text comes back as it was) */
    if (n == 0 || !(formula_start(s[0]) || (s[0] == '\'' && n > 1 && formula_start(s[1]))))
        return subs_csv_put(out, s, n);
    buf_init(&guarded, 0);
    rc = buf_putc(&guarded, '\'');
    if (!rc)
        rc = buf_append(&guarded, s, n);
    if (!rc)
        rc = subs_csv_put(out, guarded.data, guarded.len);
    buf_free(&guarded);
    return rc;
}

void subs_csv_unguard(const char **s, size_t *n)
{
    const char *p = *s;
    if (*n >= 2 && p[0] == '\'' &&
        (formula_start(p[1]) || (*n >= 3 && p[1] == '\'' && formula_start(p[2])))) {
        (*s)++;
        (*n)--;
    }
}

struct export_ctx {
    FILE *out;
    struct buf line;
    long long rows;
};

static enum merr export_row(void *arg, const struct subs_row *row)
{
    struct export_ctx *x = arg;
    char when[DATE_ISO_LEN];
    const char *status = row->list_slug ? subs_status_name(row->status) : "";
    enum merr rc;

    buf_reset(&x->line);
    date_iso8601_utc(row->created_at, when);
    /* email, name and attributes came from outside: spreadsheet-safe cells */
    rc = subs_csv_put_cell(&x->line, row->email, strlen(row->email));
    if (!rc)
        rc = buf_putc(&x->line, ',');
    if (!rc)
        rc = subs_csv_put_cell(&x->line, row->name, strlen(row->name));
    if (!rc)
        rc = buf_printf(&x->line, ",%s,%s,%s,", status, row->list_slug ? row->list_slug : "", when);
    if (!rc)
        rc = subs_csv_put_cell(&x->line, row->attributes, strlen(row->attributes));
    if (!rc)
        rc = buf_append(&x->line, "\r\n", 2);
    if (rc)
        return rc;
    if (fwrite(x->line.data, 1, x->line.len, x->out) != x->line.len)
        return merr_set(MERR_IO, "write error: %s", strerror(errno));
    x->rows++;
    return MERR_OK;
}

enum merr subs_export_csv(struct db *db, const struct subs_filter *f, FILE *out, int flags,
                          long long *rows)
{
    struct export_ctx x = {.out = out};
    static const char header[] = "\xEF\xBB\xBF"
                                 "email,name,status,list,created_at,attributes\r\n";
    size_t skip = flags & SUBS_EXPORT_BOM ? 0 : 3, n = sizeof header - 1 - skip;
    enum merr rc;

    buf_init(&x.line, 0);
    if (fwrite(header + skip, 1, n, out) != n) {
        rc = merr_set(MERR_IO, "write error: %s", strerror(errno));
        goto out;
    }
    rc = subs_each(db, f, export_row, &x);
    if (!rc && fflush(out) != 0)
        rc = merr_set(MERR_IO, "write error: %s", strerror(errno));
out:
    buf_free(&x.line);
    if (rows)
        *rows = x.rows;
    return rc;
}
