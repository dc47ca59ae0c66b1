/*
 * subs_csv.h: a streaming CSV reader and writer (RFC 4180), private to
 * subscribers/ (import and export).
 *
 * The reader holds one record at a time (fields concatenated in one
 * buffer, capped), so memory does not grow with the file. It accepts what
 * RFC 4180 §2 describes plus what real files carry: LF or CR line ends as
 * well as CRLF, a UTF-8 BOM, blank lines (skipped), and the separator that
 * spreadsheets write in the user's locale: comma, semicolon (Excel where
 * the decimal mark is a comma, Vietnamese included) or tab, detected from
 * the first line unless given. A malformed record
 * (stray quote, text after a closing quote, unterminated quote, too long)
 * is returned with `bad` set and its reason, and reading continues with the
 * next record.
 */
#ifndef MAILER_SUBSCRIBERS_SUBS_CSV_H
#define MAILER_SUBSCRIBERS_SUBS_CSV_H

#include <stdio.h>

#include "buf.h"
#include "err.h"

#define SUBS_CSV_RECORD_MAX (1 << 20) /* bytes per record */
#define SUBS_CSV_FIELDS_MAX 256

struct subs_csv {
    FILE *in;
    char rbuf[1 << 16];
    size_t rpos, rlen;
    int eof;
    int err;         /* errno of the first read error, 0 if none */
    long long line;  /* current physical line (1-based) */
    long long bytes; /* bytes consumed */
    int started;     /* BOM checked, separator detected */
    char delim;      /* ',', ';' or '\t'; 0 until detected */
    /* the current record */
    struct buf data;                 /* field bytes, each followed by NUL */
    size_t off[SUBS_CSV_FIELDS_MAX]; /* start of each field in data */
    size_t len[SUBS_CSV_FIELDS_MAX];
    size_t nfields;
    long long record_line; /* physical line where the record starts */
    int bad;
    char reason[160];
};

/*
 * Starts reading `in` (borrowed); the separator is detected from the first
 * line (subs_csv_sniff) unless subs_csv_set_delim gives it before the
 * first record. Free with subs_csv_free.
 */
void subs_csv_init(struct subs_csv *r, FILE *in);

/* Sets the separator (',', ';' or '\t') instead of detecting it. */
void subs_csv_set_delim(struct subs_csv *r, char delim);

/*
 * The separator of the first line: of comma, semicolon and tab, the one
 * found most often outside quotes in `p[0..n)` up to its first line break
 * outside quotes; a comma on a tie or when none appears (one column).
 */
char subs_csv_sniff(const char *p, size_t n);

void subs_csv_free(struct subs_csv *r);

/*
 * Reads the next record. Returns MERR_OK with a record (check r->bad),
 * MERR_NOTFOUND at the end of the input, MERR_IO on a read error.
 */
enum merr subs_csv_next(struct subs_csv *r);

/* Field i of the current record (NUL-terminated; may contain NUL, see len). */
static inline const char *subs_csv_field(const struct subs_csv *r, size_t i, size_t *len)
{
    if (len)
        *len = r->len[i];
    return r->data.data + r->off[i];
}

/*
 * Appends one field to `out`, quoted when it holds a comma, a quote, CR,
 * LF, or starts or ends with a space (RFC 4180 §2.6-2.7: quotes doubled).
 */
enum merr subs_csv_put(struct buf *out, const char *s, size_t n);

/*
 * subs_csv_put for a cell a spreadsheet will open: a text starting with
 * =, +, -, @, a tab or CR (what Excel and LibreOffice read as a formula or
 * DDE call, OWASP "CSV injection") gets a leading apostrophe, which the
 * spreadsheet shows as text and subs_csv_unguard takes off on import.
 */
enum merr subs_csv_put_cell(struct buf *out, const char *s, size_t n);

/* Takes off the apostrophe subs_csv_put_cell added (*s, *n moved), if any. */
void subs_csv_unguard(const char **s, size_t *n);

#endif
