/*
 * test_subs_csv.c: the CSV reader (RFC 4180, separators, read errors) and
 * writer (quoting, cells a spreadsheet would run), imports (bad rows by
 * line, twice adds nobody twice, dry run, blocklist, unconfirmed mode's
 * confirm mails, files refused whole) and the export read back. Each test
 * checks the rows in the database, not just return codes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "date.h"
#include "db.h"
#include "enc.h"
#include "outbox.h"
#include "subs.h"
#include "subs_csv.h"
#include "subs_fx.h"
#include "testutil.h"

/* ---- CSV ----------------------------------------------------------------- */

static FILE *mem(const char *s, size_t n)
{
    FILE *f = fmemopen((void *)s, n, "r");
    assert_non_null(f);
    return f;
}

static void csv_reader_rfc4180(void **state)
{
    static const char text[] = "\xEF\xBB\xBF"
                               "email,name,note\r\n"
                               "a@x.vn,\"Nguyễn, Văn A\",\"line1\r\nline2\"\r\n"
                               "\n"
                               "b@x.vn,\"say \"\"hi\"\"\",\n"
                               "c@x.vn,bad\"quote,x\n"
                               "d@x.vn,\"closed\"junk,x\r"
                               "e@x.vn,,\"unterminated\n"
                               "more";
    struct subs_csv r;
    FILE *in = mem(text, sizeof text - 1);
    size_t n;
    (void)state;
    subs_csv_init(&r, in);
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.nfields, 3);
    assert_string_equal(subs_csv_field(&r, 0, NULL), "email");
    assert_int_equal(r.record_line, 1);
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.bad, 0);
    assert_string_equal(subs_csv_field(&r, 1, NULL), "Nguyễn, Văn A");
    assert_string_equal(subs_csv_field(&r, 2, &n), "line1\r\nline2");
    assert_int_equal(n, 12);
    assert_int_equal(r.record_line, 2);
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.record_line, 5); /* after the quoted break and a blank line */
    assert_string_equal(subs_csv_field(&r, 1, NULL), "say \"hi\"");
    assert_int_equal(r.nfields, 3);
    assert_string_equal(subs_csv_field(&r, 2, NULL), "");
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.record_line, 6);
    assert_int_equal(r.bad, 1);
    assert_non_null(strstr(r.reason, "quote inside an unquoted field"));
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.record_line, 7);
    assert_int_equal(r.bad, 1);
    assert_non_null(strstr(r.reason, "after a closing quote"));
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.record_line, 8);
    assert_int_equal(r.bad, 1);
    assert_non_null(strstr(r.reason, "not closed"));
    assert_int_equal(subs_csv_next(&r), MERR_NOTFOUND);
    subs_csv_free(&r);
    fclose(in);
}

/*
 * A stream that gives some rows, then fails as a socket reset by its peer
 * does (ECONNRESET with the last bytes), then reads as the end with errno
 * changed by whatever ran in between: the error must still name its cause.
 */
struct reset_stream {
    const char *data;
    size_t len, pos;
    int calls;
};

static ssize_t reset_read(void *cookie, char *buf, size_t size)
{
    struct reset_stream *s = cookie;
    s->calls++;
    if (s->pos < s->len) {
        size_t n = s->len - s->pos < size ? s->len - s->pos : size;
        memcpy(buf, s->data + s->pos, n);
        s->pos += n;
        return (ssize_t)n;
    }
    if (s->calls == 2) {
        errno = ECONNRESET;
        return -1;
    }
    errno = EAGAIN;
    return 0;
}

static void csv_reader_read_error_names_its_cause(void **state)
{
    static const char text[] = "email\r\na@x.vn\r\nb@x.vn\r\n";
    struct reset_stream rs = {text, sizeof text - 1, 0, 0};
    cookie_io_functions_t io = {.read = reset_read};
    FILE *in = fopencookie(&rs, "r", io);
    struct subs_csv r;
    (void)state;
    assert_non_null(in);
    subs_csv_init(&r, in);
    for (int i = 0; i < 3; i++)
        assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_string_equal(subs_csv_field(&r, 0, NULL), "b@x.vn");
    assert_int_equal(subs_csv_next(&r), MERR_IO);
    assert_string_equal(merr_msg(), "read error: Connection reset by peer");
    subs_csv_free(&r);
    fclose(in);
}

static void csv_separator_detected_from_the_header(void **state)
{
    /* Excel in a Vietnamese locale: semicolons, a quoted semicolon in a name */
    static const char semi[] = "Họ và tên;Địa chỉ email;Ghi chú, thêm\r\n"
                               "\"Trần; Thị B\";b@x.vn;\"a, b\"\r\n";
    static const char tab[] = "email\tname\nc@x.vn\tC, D\n";
    struct subs_csv r;
    FILE *in;
    (void)state;
    assert_int_equal(subs_csv_sniff("email,name", 10), ',');
    assert_int_equal(subs_csv_sniff("email;name;x", 12), ';');
    assert_int_equal(subs_csv_sniff("email\tname", 10), '\t');
    assert_int_equal(subs_csv_sniff("email", 5), ',');          /* one column */
    assert_int_equal(subs_csv_sniff("\"a;b;c\",d\n", 10), ','); /* quoted ones do not count */
    assert_int_equal(subs_csv_sniff("a,b\nc;d;e;f", 11), ',');  /* the first line only */
    assert_int_equal(subs_csv_sniff("a;b,c", 5), ',');          /* a tie: comma */
    assert_int_equal(subs_csv_sniff("Tên; Đơn vị, phòng; email", 29), ';');

    in = mem(semi, sizeof semi - 1);
    subs_csv_init(&r, in);
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.delim, ';');
    assert_int_equal(r.nfields, 3);
    assert_string_equal(subs_csv_field(&r, 2, NULL), "Ghi chú, thêm");
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.bad, 0);
    assert_string_equal(subs_csv_field(&r, 0, NULL), "Trần; Thị B");
    assert_string_equal(subs_csv_field(&r, 2, NULL), "a, b");
    subs_csv_free(&r);
    fclose(in);

    in = mem(tab, sizeof tab - 1);
    subs_csv_init(&r, in);
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.delim, '\t');
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_string_equal(subs_csv_field(&r, 1, NULL), "C, D");
    subs_csv_free(&r);
    fclose(in);

    /* given, not detected: the semicolon file read with commas is one column per comma */
    in = mem(semi, sizeof semi - 1);
    subs_csv_init(&r, in);
    subs_csv_set_delim(&r, ',');
    assert_int_equal(subs_csv_next(&r), MERR_OK);
    assert_int_equal(r.nfields, 2);
    subs_csv_free(&r);
    fclose(in);
}

static void csv_writer_quotes_what_it_must(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 0);
    assert_int_equal(subs_csv_put(&b, "plain", 5), MERR_OK);
    assert_int_equal(buf_putc(&b, '|'), MERR_OK);
    assert_int_equal(subs_csv_put(&b, "a,b", 3), MERR_OK);
    assert_int_equal(buf_putc(&b, '|'), MERR_OK);
    assert_int_equal(subs_csv_put(&b, "say \"hi\"", 8), MERR_OK);
    assert_int_equal(buf_putc(&b, '|'), MERR_OK);
    assert_int_equal(subs_csv_put(&b, "l1\nl2", 5), MERR_OK);
    assert_int_equal(buf_putc(&b, '|'), MERR_OK);
    assert_int_equal(subs_csv_put(&b, " pad", 4), MERR_OK);
    assert_string_equal(b.data, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"l1\nl2\"|\" pad\"");
    buf_free(&b);
}

/* Issue 16 item 10: what a spreadsheet would run is written as text, and read back as typed. */
static void csv_cells_are_spreadsheet_safe(void **state)
{
    static const char *const in[] = {
        "=HYPERLINK(\"x\",\"y\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "a=b", "", "'=kept"};
    static const char *const want[] = {"\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"",
                                       "'+1",
                                       "'-2+3",
                                       "'@SUM(A1)",
                                       "'\tx",
                                       "\"'\rx\"",
                                       "a=b",
                                       "",
                                       "''=kept"};
    (void)state;
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        struct buf b;
        const char *s;
        size_t n;
        buf_init(&b, 0);
        assert_int_equal(subs_csv_put_cell(&b, in[i], strlen(in[i])), MERR_OK);
        assert_string_equal(b.data ? b.data : "", want[i]);
        buf_free(&b);
        /* the guard comes off on import (the CSV quoting aside) */
        s = want[i][0] == '"' ? NULL : want[i];
        if (s) {
            n = strlen(s);
            subs_csv_unguard(&s, &n);
            assert_true(n == strlen(in[i]) && !memcmp(s, in[i], n));
        }
    }
}

/* ---- import ------------------------------------------------------------------ */

struct bads {
    long long lines[16];
    char reasons[16][200];
    int n;
};

static void on_bad(void *arg, long long line, const char *reason)
{
    struct bads *b = arg;
    if (b->n < 16) {
        b->lines[b->n] = line;
        snprintf(b->reasons[b->n], sizeof b->reasons[0], "%s", reason);
    }
    b->n++;
}

/* 1,000 rows; rows 101, 502 and 999 (data rows) are bad. */
static char *thousand(size_t *len)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_puts(&b, "email,name,city\r\n"), MERR_OK);
    for (int i = 1; i <= 1000; i++) {
        if (i == 101)
            buf_printf(&b, "not-an-address,Bad %d,X\r\n", i);
        else if (i == 502)
            buf_printf(&b, "user%d@-bad.vn,Bad %d,X\r\n", i, i);
        else if (i == 999)
            buf_printf(&b, "người%d@x.vn,Bad %d,X\r\n", i, i);
        else if (i == 10)
            buf_printf(&b, "user%d@example.vn,\"Trần, Thị %d\",\"Hà\r\nNội\"\r\n", i, i);
        else
            buf_printf(&b, "User%d@Example.VN,Người %d,Huế\r\n", i, i);
    }
    return buf_detach(&b, len);
}

static void import_thousand_with_three_bad(void **state)
{
    struct subs_fx *f = *state;
    struct subs_import_report rep;
    struct bads bads = {0};
    struct subs_import_opts o = {
        .list_slug = "tin", .mode = SUBS_IMPORT_CONFIRMED, .on_bad = on_bad, .arg = &bads};
    size_t len;
    char *csv = thousand(&len);
    FILE *in;
    subs_fx_mklist(f, "tin", "double");
    assert_non_null(csv);

    in = mem(csv, len);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.rows, 1000);
    assert_int_equal(rep.bad, 3);
    assert_int_equal(rep.created, 997);
    assert_int_equal(rep.subscribed, 997);
    assert_int_equal(bads.n, 3);
    /* physical lines: header is line 1, data row i starts on line i + 1, plus one for
       the quoted line break in row 10 */
    assert_int_equal(bads.lines[0], 103);
    assert_non_null(strstr(bads.reasons[0], "no @"));
    assert_int_equal(bads.lines[1], 504);
    assert_non_null(strstr(bads.reasons[1], "hyphen"));
    assert_int_equal(bads.lines[2], 1001);
    assert_non_null(strstr(bads.reasons[2], "SMTPUTF8"));
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 997);
    assert_int_equal(test_db_int(f->db,
                                 "SELECT count(*) FROM subscriptions WHERE status='confirmed' AND "
                                 "optin_ip='import'"),
                     997);
    char *s = test_db_strdup(f->db, "SELECT name || '|' || attributes FROM subscribers WHERE "
                                    "email_key='user10@example.vn'");
    assert_string_equal(s, "Trần, Thị 10|{\"city\":\"Hà\\r\\nNội\"}");
    free(s);
    s = test_db_strdup(f->db, "SELECT email FROM subscribers WHERE email_key='user7@example.vn'");
    assert_string_equal(s, "User7@example.vn");
    free(s);

    /* twice: nobody added twice, nothing changed */
    bads.n = 0;
    in = mem(csv, len);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW + 60, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.created, 0);
    assert_int_equal(rep.subscribed, 0);
    assert_int_equal(rep.existing, 997);
    assert_int_equal(rep.bad, 3);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 997);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscriptions"), 997);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscribers WHERE updated_at <> created_at"), 0);
    free(csv);
}

struct lines_seen {
    long long line[512];
    int n;
};

static void on_bad_line(void *arg, long long line, const char *reason)
{
    struct lines_seen *s = arg;
    assert_non_null(reason);
    assert_true(reason[0] != '\0');
    if (s->n < 512)
        s->line[s->n] = line;
    s->n++;
}

/*
 * Rows that are new, already there in every state, repeated in the same
 * batch and in a later one, with 120 bad rows (more than one chunk of them)
 * in between: the report and the rows are exactly those of one row at a
 * time, and every subscription points at its subscriber.
 */
static void import_mixed_batches_exact(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct subs_import_report rep;
    struct lines_seen seen = {0};
    struct subs_import_opts o = {
        .list_slug = "tin", .mode = SUBS_IMPORT_CONFIRMED, .on_bad = on_bad_line, .arg = &seen};
    struct buf csv, tok;
    long long lid = subs_fx_mklist(f, "tin", "double");
    FILE *in;
    char *s;
    subs_fx_mklist(f, "khac", "single");
    buf_init(&csv, 0);
    buf_init(&tok, 0);
    /* before: u3 confirmed, u70 left the list, u130 on another list only, u140 unconfirmed */
    assert_int_equal(
        subs_subscribe(f->db, &f->cfg, "tin", "u3@x.vn", "Ba", NULL, NOW, SUBS_ADD_CONFIRMED, &r),
        MERR_OK);
    assert_int_equal(
        subs_subscribe(f->db, &f->cfg, "tin", "u70@x.vn", NULL, NULL, NOW, SUBS_ADD_CONFIRMED, &r),
        MERR_OK);
    assert_int_equal(subs_unsubscribe_url(f->db, &f->cfg, r.subscriber_id, lid, &tok), MERR_OK);
    assert_int_equal(subs_unsubscribe(f->db, &f->cfg, strrchr(tok.data, '/') + 1, 0, NOW, NULL),
                     MERR_OK);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "khac", "u130@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_OK);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tin", "u140@x.vn", NULL, NULL, NOW, 0, &r),
                     MERR_OK);

    /* 300 good rows u1..u300 (u5 without a name), then in the same first batch u5 again
       with a name, 120 bad rows, u7 again and one more new row */
    assert_int_equal(buf_puts(&csv, "email,name,tier\n"), MERR_OK);
    for (int i = 1; i <= 300; i++) {
        buf_printf(&csv, "u%d@x.vn,%s,t%d\n", i, i == 5 ? "" : "Người", i % 3);
        if (i == 20)
            buf_puts(&csv, "U5@X.VN,Năm,\n");
        if (i == 100)
            for (int k = 0; k < 120; k++)
                buf_printf(&csv, "bad%d-at-x.vn,X,\n", k);
    }
    buf_puts(&csv, "u7@x.vn,,t9\nu301@x.vn,Cuối,\n");
    in = fmemopen(csv.data, csv.len, "r");
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW + 10, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.rows, 300 + 1 + 120 + 2);
    assert_int_equal(rep.bad, 120);
    assert_int_equal(seen.n, 120);
    for (int k = 0; k < 120; k++) /* header 1, u1..u20 2-21, U5 22, u21..u100 23-102 */
        assert_int_equal(seen.line[k], 103 + k);
    assert_int_equal(rep.created, 301 - 4);
    assert_int_equal(rep.subscribed, 301 - 4 + 1); /* u130 joins this list */
    assert_int_equal(rep.upgraded, 1);             /* u140 */
    assert_int_equal(rep.left, 1);                 /* u70 stays out */
    assert_int_equal(rep.existing, 3);             /* u3, U5 again, u7 again */
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 301);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE list_id = 1 AND "
                                        "status = 'confirmed'"),
                     301 - 1);
    assert_int_equal(test_db_int(f->db,
                                 "SELECT count(*) FROM subscriptions s LEFT JOIN subscribers u ON "
                                 "u.id = s.subscriber_id WHERE u.id IS NULL"),
                     0);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    assert_int_equal(test_db_int(f->db,
                                 "SELECT count(*) FROM subscriptions WHERE subscriber_id = (SELECT "
                                 "id FROM subscribers WHERE email_key = 'u70@x.vn') AND "
                                 "status = 'unsubscribed'"),
                     1);
    s = test_db_strdup(
        f->db, "SELECT name || '|' || attributes FROM subscribers WHERE email_key='u5@x.vn'");
    assert_string_equal(s, "Năm|{\"tier\":\"t2\"}"); /* the repeat filled the empty name */
    free(s);
    s = test_db_strdup(
        f->db, "SELECT name || '|' || attributes FROM subscribers WHERE email_key='u7@x.vn'");
    assert_string_equal(s, "Người|{\"tier\":\"t9\"}"); /* the later repeat merged its tier */
    free(s);
    s = test_db_strdup(f->db, "SELECT name FROM subscribers WHERE email_key='u3@x.vn'");
    assert_string_equal(s, "Ba"); /* existing people keep their data */
    free(s);
    /* foreign key checks are back on for this connection */
    assert_int_equal(test_db_int(f->db, "PRAGMA foreign_keys"), 1);

    /* again: nobody added, nothing changed, in every batch */
    seen.n = 0;
    in = fmemopen(csv.data, csv.len, "r");
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW + 20, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.created, 0);
    assert_int_equal(rep.subscribed, 0);
    assert_int_equal(rep.existing, 301 - 1 + 2);
    assert_int_equal(rep.left, 1);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 301);
    /* (u7's two rows disagree on its tier: each import applies both, in order) */
    assert_int_equal(test_db_int(f->db,
                                 "SELECT count(*) FROM subscribers WHERE updated_at > 1764000010 "
                                 "AND email_key <> 'u7@x.vn'"),
                     0);
    buf_free(&csv);
    buf_free(&tok);
}

static void import_modes_and_dry_run(void **state)
{
    struct subs_fx *f = *state;
    struct subs_import_report rep;
    struct subs_import_opts o = {.list_slug = "tuan", .mode = SUBS_IMPORT_UNCONFIRMED};
    static const char csv[] = "Email , Name,attributes,status,list,created_at\n"
                              "a@x.vn,An,\"{\"\"tier\"\":\"\"gold\"\"}\",confirmed,tin,2020\n"
                              "b@x.vn,Bình,,,,\n"
                              "blocked@x.vn,,,,,\n";
    FILE *in;
    subs_fx_mklist(f, "tuan", "double");
    assert_int_equal(subs_suppress(f->db, "blocked@x.vn", "complaint", NULL), MERR_OK);

    /* dry run: exact report, nothing written */
    o.dry_run = 1;
    in = mem(csv, sizeof csv - 1);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.subscribed, 2);
    assert_int_equal(rep.suppressed, 1);
    assert_int_equal(rep.confirm_mails, 2);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 0);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM sends"), 0);

    o.dry_run = 0;
    in = mem(csv, sizeof csv - 1);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.confirm_mails, 2);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM sends WHERE kind='confirm'"), 1);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM envelopes WHERE state='queued'"), 2);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='unconfirmed'"), 2);
    char *s = test_db_strdup(f->db, "SELECT attributes FROM subscribers WHERE email_key='a@x.vn'");
    assert_string_equal(s, "{\"tier\":\"gold\"}");
    free(s);

    /* confirmed mode upgrades the unconfirmed ones */
    o.mode = SUBS_IMPORT_CONFIRMED;
    in = mem(csv, sizeof csv - 1);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.upgraded, 2);
    assert_int_equal(
        test_db_int(f->db, "SELECT count(*) FROM subscriptions WHERE status='confirmed'"), 2);

    /* blocklist: suppressions only */
    o.mode = SUBS_IMPORT_BLOCKLIST;
    o.list_slug = NULL;
    in = mem(csv, sizeof csv - 1);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.blocked, 2);
    assert_int_equal(rep.existing, 1);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM suppressions WHERE reason='manual'"),
                     2);
    assert_int_equal(subs_is_suppressed(f->db, "a@x.vn"), 1);
}

static void import_refuses_unusable_files(void **state)
{
    struct subs_fx *f = *state;
    struct subs_import_report rep;
    struct subs_import_opts o = {.list_slug = "tin"};
    FILE *in;
    subs_fx_mklist(f, "tin", "single");
    in = mem("", 0);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "header"));
    fclose(in);
    in = mem("name,phone\nA,0912\n", 18);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "no email column"));
    assert_non_null(strstr(merr_msg(), "\"name\", \"phone\""));
    fclose(in);
    in = mem("Email;Tên;E-mail\na@x.vn;A;a@x.vn\n", 34);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "\"Email\" and \"E-mail\" both hold the email address"));
    fclose(in);
    in = mem("\xFF\xFE"
             "e\0m\0",
             6);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "UTF-16"));
    fclose(in);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 0);
    in = mem("email,email\na@x.vn,b@x.vn\n", 26);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "twice"));
    fclose(in);
    o.list_slug = "nope";
    in = mem("email\na@x.vn\n", 13);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_NOTFOUND);
    fclose(in);
    /* a row with the wrong number of fields is bad, the others go in */
    o.list_slug = "tin";
    static const char t[] = "email,name\na@x.vn,A,extra\nb@x.vn,B\n";
    in = mem(t, sizeof t - 1);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.bad, 1);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 1);
}

static void export_streams_quoted_csv(void **state)
{
    struct subs_fx *f = *state;
    struct subs_result r;
    struct subs_filter flt = {0};
    char *out = NULL;
    size_t outlen = 0;
    long long rows;
    FILE *fo;
    subs_fx_mklist(f, "tin", "single");
    subs_fx_mklist(f, "tuan", "single");
    assert_int_equal(
        subs_subscribe(f->db, &f->cfg, "tin", "a@bưuđiện.vn", "Lê, \"Bé\"", NULL, NOW, 0, &r),
        MERR_OK);
    assert_int_equal(subs_subscribe(f->db, &f->cfg, "tuan", "a@bưuđiện.vn", NULL, NULL, NOW, 0, &r),
                     MERR_OK);
    fo = open_memstream(&out, &outlen);
    assert_int_equal(subs_export_csv(f->db, &flt, fo, 0, &rows), MERR_OK);
    fclose(fo);
    assert_int_equal(rows, 2);
    assert_string_equal(out,
                        "email,name,status,list,created_at,attributes\r\n"
                        "a@bưuđiện.vn,\"Lê, \"\"Bé\"\"\",confirmed,tin,2025-11-24T16:00:00Z,{}\r\n"
                        "a@bưuđiện.vn,\"Lê, \"\"Bé\"\"\",confirmed,tuan,2025-11-24T16:00:00Z,"
                        "{}\r\n");
    free(out);
    flt.list_slug = "tuan";
    flt.search = "BƯU";
    fo = open_memstream(&out, &outlen);
    assert_int_equal(subs_export_csv(f->db, &flt, fo, 0, &rows), MERR_OK);
    fclose(fo);
    free(out);
    flt.search = "bưu";
    fo = open_memstream(&out, &outlen);
    assert_int_equal(subs_export_csv(f->db, &flt, fo, 0, &rows), MERR_OK);
    fclose(fo);
    assert_int_equal(rows, 1);
    free(out);
    /* the export (with its BOM, as the CLI writes it) imports back without adding anyone */
    flt.list_slug = NULL;
    flt.search = NULL;
    fo = open_memstream(&out, &outlen);
    assert_int_equal(subs_export_csv(f->db, &flt, fo, SUBS_EXPORT_BOM, &rows), MERR_OK);
    fclose(fo);
    assert_memory_equal(out,
                        "\xEF\xBB\xBF"
                        "email,name,",
                        14);
    struct subs_import_report rep;
    struct subs_import_opts o = {.list_slug = "tin"};
    FILE *in = mem(out, outlen);
    assert_int_equal(subs_import_csv(f->db, &f->cfg, in, &o, NOW, &rep), MERR_OK);
    fclose(in);
    assert_int_equal(rep.bad, 0);
    assert_int_equal(rep.existing, 2);
    assert_int_equal(test_db_int(f->db, "SELECT count(*) FROM subscribers"), 1);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_reader_rfc4180),
        cmocka_unit_test(csv_reader_read_error_names_its_cause),
        cmocka_unit_test(csv_writer_quotes_what_it_must),
        cmocka_unit_test(csv_cells_are_spreadsheet_safe),
        cmocka_unit_test(csv_separator_detected_from_the_header),
        cmocka_unit_test_setup_teardown(import_thousand_with_three_bad, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(import_mixed_batches_exact, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(import_modes_and_dry_run, subs_fx_setup, subs_fx_teardown),
        cmocka_unit_test_setup_teardown(import_refuses_unusable_files, subs_fx_setup,
                                        subs_fx_teardown),
        cmocka_unit_test_setup_teardown(export_streams_quoted_csv, subs_fx_setup, subs_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
