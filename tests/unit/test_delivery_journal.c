/*
 * test_delivery_journal.c: the workers' sent journals (delivery_journal.c):
 * what a journal holds, how it starts over and goes away, how a damaged
 * one is read, and the recovery of a dead run's journal into the outbox
 * (only envelopes still sending; a live run's journal left alone; two
 * recoveries at once take turns).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "date.h"
#include "db.h"
#include "delivery_int.h"
#include "outbox.h"
#include "testutil.h"

#define T0 1700000000

/* How many files of `dir` have "-sent-" in their names. */
static int journals_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, "-sent-") != NULL;
    closedir(d);
    return n;
}

static off_t size_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *b = malloc(1 << 16);
    *len = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

static struct outcome_report sent(long long id, const char *text)
{
    struct outcome_report r;
    memset(&r, 0, sizeof r);
    r.envelope_id = id;
    r.kind = OUTCOME_ATTEMPT;
    r.class = MERR_CLASS_OK;
    r.code = 250;
    snprintf(r.text, sizeof r.text, "%s", text);
    return r;
}

/* A fresh folder `name` with a database path in it (dbp, 700 bytes) and a journal open beside it.
 */
static const char *fresh_journal(const char *name, char *dbp, struct delivery_journal *j)
{
    const char *dir = test_tmpdir(name);
    snprintf(dbp, 700, "%s/m.db", dir);
    assert_int_equal(delivery_journal_open(j, dbp), MERR_OK);
    return dir;
}

/*
 * A fresh database in `dir` (its path in dbp, 700 bytes) with one share of
 * `count` envelopes, all claimed at T0 for 60 s (`*e`, `*n`), as a run
 * that then died would have left them.
 */
static struct db *claimed_share(const char *dir, char *dbp, int count, struct outbox_envelope **e,
                                size_t *n)
{
    long long send_id, id;
    date_set_fake_now(T0);
    struct db *db = test_db_fresh(dir, dbp, 700);
    assert_int_equal(outbox_send_create(db, OUTBOX_SHARE, 0, "{\"kind\":\"share\"}", &send_id),
                     MERR_OK);
    for (int i = 0; i < count; i++) {
        char rcpt[64];
        snprintf(rcpt, sizeof rcpt, "doc-gia-%d@example.vn", i);
        assert_int_equal(outbox_envelope_add(db, send_id, 0, rcpt, "", &id), MERR_OK);
    }
    assert_int_equal(outbox_claim(db, T0, 60, (size_t)count, NULL, e, n, NULL), MERR_OK);
    assert_int_equal(*n, (size_t)count);
    return db;
}

/* Appends, starts over when all is committed, goes away when closed empty. */
static void test_append_forget_close(void **state)
{
    char dbp[700];
    struct delivery_journal j;
    (void)state;
    const char *dir = fresh_journal("journal-life", dbp, &j);
    assert_true(j.fd >= 0);
    assert_int_equal(journals_in(dir), 1);
    assert_int_equal(strncmp(j.path, dbp, strlen(dbp)), 0);
    off_t empty = size_of(j.path);
    assert_true(empty > 0); /* the header */

    struct outcome_report r = sent(41, "2.0.0 Ok: queued as 4XyZ");
    assert_int_equal(delivery_journal_append(&j, &r, 7), 0);
    r = sent(42, "2.0.0 Ok: queued as 5AbC");
    assert_int_equal(delivery_journal_append(&j, &r, 9), 0);
    assert_int_equal(j.records, 2);
    assert_int_equal(j.last_ticket, 9);

    size_t len, n, ignored;
    struct outbox_result *res;
    unsigned char *b = slurp(j.path, &len);
    assert_int_equal(delivery_journal_parse(b, len, &res, &n, &ignored), MERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ignored, 0);
    assert_int_equal(res[0].envelope_id, 41);
    assert_int_equal(res[1].envelope_id, 42);
    assert_int_equal(res[1].state, OUTBOX_SENT);
    assert_int_equal(res[1].code, 250);
    assert_string_equal(res[1].text, "2.0.0 Ok: queued as 5AbC");
    free(res);
    free(b);

    delivery_journal_forget(&j);
    assert_int_equal(j.records, 0);
    assert_int_equal(size_of(j.path), empty);
    r = sent(43, "2.0.0 Ok");
    assert_int_equal(delivery_journal_append(&j, &r, 11), 0);
    b = slurp(j.path, &len);
    assert_int_equal(delivery_journal_parse(b, len, &res, &n, &ignored), MERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(res[0].envelope_id, 43);
    free(res);
    free(b);

    /* a record not committed: the file stays for the next run */
    char kept[4096];
    snprintf(kept, sizeof kept, "%s", j.path);
    delivery_journal_close(&j);
    assert_int_equal(journals_in(dir), 1);
    unlink(kept);

    /* all committed: closed and gone */
    assert_int_equal(delivery_journal_open(&j, dbp), MERR_OK);
    assert_int_equal(delivery_journal_append(&j, &r, 1), 0);
    delivery_journal_forget(&j);
    delivery_journal_close(&j);
    assert_int_equal(journals_in(dir), 0);

    /* a database in a folder that does not exist: a named error, nothing made */
    char bad[800];
    snprintf(bad, sizeof bad, "%s/no-such-folder/m.db", dir);
    assert_int_equal(delivery_journal_open(&j, bad), MERR_IO);
    assert_int_equal(j.fd, -1);
    assert_non_null(strstr(merr_msg(), "no-such-folder"));
}

/* Torn and damaged journals: whole records before the damage, nothing after. */
static void test_parse_damage(void **state)
{
    char dbp[700];
    struct delivery_journal j;
    (void)state;
    fresh_journal("journal-parse", dbp, &j);
    for (int i = 1; i <= 3; i++) {
        struct outcome_report r = sent(100 + i, "2.0.0 Ok");
        assert_int_equal(delivery_journal_append(&j, &r, (unsigned long long)i), 0);
    }
    size_t len, n, ignored;
    struct outbox_result *res;
    unsigned char *b = slurp(j.path, &len);
    size_t rec = (len - 16) / 3;

    /* the process died inside the last write */
    assert_int_equal(delivery_journal_parse(b, len - 5, &res, &n, &ignored), MERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ignored, rec - 5);
    free(res);

    /* a flipped byte in the second record's text: the first one only */
    b[16 + rec + 20] ^= 0x40;
    assert_int_equal(delivery_journal_parse(b, len, &res, &n, &ignored), MERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(res[0].envelope_id, 101);
    assert_int_equal(ignored, 2 * rec);
    free(res);

    /* not a journal, or another format of one */
    assert_int_equal(delivery_journal_parse((const unsigned char *)"hello", 5, &res, &n, &ignored),
                     MERR_INVAL);
    b[9] ^= 1;
    assert_int_equal(delivery_journal_parse(b, len, &res, &n, &ignored), MERR_INVAL);
    assert_non_null(strstr(merr_msg(), "another format"));
    free(b);
    delivery_journal_forget(&j);
    delivery_journal_close(&j);
}

/*
 * A dead run's journal is applied to its envelopes still sending and
 * removed; envelopes recorded since keep their state; a live run's journal
 * is left alone.
 */
static void test_recover(void **state)
{
    char dbp[700];
    struct delivery_journal dead, live;
    struct outbox_envelope *e;
    size_t n = 0;
    long long applied = -1;
    (void)state;

    const char *dir = test_tmpdir("journal-recover");
    struct db *db = claimed_share(dir, dbp, 5, &e, &n);

    /* envelope 4 failed since (a bounce, another run): the journal does not undo it */
    struct outbox_result failed = {.envelope_id = e[3].id, .state = OUTBOX_FAILED, .code = 550};
    snprintf(failed.text, sizeof failed.text, "5.1.1 user unknown");
    assert_int_equal(db_begin(db), MERR_OK);
    assert_int_equal(outbox_record(db, &failed, 1, T0), MERR_OK);
    assert_int_equal(db_commit(db), MERR_OK);

    /* the dead run journaled envelopes 1, 2 and 4, then died (its lock went with it) */
    assert_int_equal(delivery_journal_open(&dead, dbp), MERR_OK);
    int order[] = {0, 1, 3};
    for (int k = 0; k < 3; k++) {
        struct outcome_report r = sent(e[order[k]].id, "2.0.0 Ok: queued");
        assert_int_equal(delivery_journal_append(&dead, &r, (unsigned long long)k + 1), 0);
    }
    delivery_journal_close(&dead); /* kept: 3 records not committed */
    /* a live run journaled envelope 5 and holds its journal */
    assert_int_equal(delivery_journal_open(&live, dbp), MERR_OK);
    struct outcome_report r5 = sent(e[4].id, "2.0.0 Ok");
    assert_int_equal(delivery_journal_append(&live, &r5, 1), 0);
    assert_int_equal(journals_in(dir), 2);

    assert_int_equal(delivery_journal_recover(db, dbp, &applied), MERR_OK);
    assert_int_equal(applied, 2);
    char sql[200];
    const char *want[] = {"sent", "sent", "sending", "failed", "sending"};
    for (int i = 0; i < 5; i++) {
        char st[32];
        snprintf(sql, sizeof sql, "SELECT state FROM envelopes WHERE id = %lld", e[i].id);
        test_db_text(db, sql, st, sizeof st);
        assert_string_equal(st, want[i]);
    }
    snprintf(sql, sizeof sql, "SELECT last_text FROM envelopes WHERE id = %lld", e[0].id);
    char text[64];
    test_db_text(db, sql, text, sizeof text);
    assert_string_equal(text, "2.0.0 Ok: queued");
    assert_int_equal(journals_in(dir), 1); /* the live one */

    /* again: nothing more to do */
    assert_int_equal(delivery_journal_recover(db, dbp, &applied), MERR_OK);
    assert_int_equal(applied, 0);

    /* the live run dies too: its journal is recovered next time */
    delivery_journal_close(&live);
    assert_int_equal(delivery_journal_recover(db, dbp, &applied), MERR_OK);
    assert_int_equal(applied, 1);
    assert_int_equal(journals_in(dir), 0);

    /* left where they are: a file of another format (named in the log), and a file
     * without a header yet (a journal being created: skipped) */
    static const char *const left[][2] = {{"AbC123", "not a journal at all"}, {"NeW456", ""}};
    for (int k = 0; k < 2; k++) {
        char path[800];
        snprintf(path, sizeof path, "%s-sent-%s", dbp, left[k][0]);
        test_write_file(path, left[k][1]);
        assert_int_equal(delivery_journal_recover(db, dbp, &applied), MERR_OK);
        assert_int_equal(applied, 0);
        assert_int_equal(journals_in(dir), k + 1);
    }

    outbox_envelopes_free(e, n);
    db_close(db);
}

/*
 * Two processes recovering at once take turns. While this one holds the
 * recovery lock and a dead run's journal (it is recording it), a second
 * one waits; without the turns it would take the journal for a live run's,
 * return its envelopes to the queue as expired leases, and they would be
 * sent twice. Once this one is done, they are sent and the rest queued.
 */
static void test_recover_takes_turns(void **state)
{
    char dbp[700], sql[200], st[32];
    struct delivery_journal dead;
    struct outbox_envelope *e;
    size_t n = 0;
    long long applied = -1, back = -1;
    int lock_fd, jfd, status;
    (void)state;

    const char *dir = test_tmpdir("journal-turns");
    struct db *db = claimed_share(dir, dbp, 3, &e, &n);
    /* the dead run sent the first two and journaled them; its leases ran out */
    assert_int_equal(delivery_journal_open(&dead, dbp), MERR_OK);
    for (int k = 0; k < 2; k++) {
        struct outcome_report r = sent(e[k].id, "2.0.0 Ok: queued");
        assert_int_equal(delivery_journal_append(&dead, &r, (unsigned long long)k + 1), 0);
    }
    delivery_journal_close(&dead);
    date_set_fake_now(T0 + 600);

    /* this process is recovering: the recovery lock, and the journal's own */
    assert_int_equal(delivery_recover_lock(dbp, 0, &lock_fd), MERR_OK);
    jfd = open(dead.path, O_RDONLY | O_CLOEXEC);
    assert_true(jfd >= 0);
    assert_int_equal(flock(jfd, LOCK_EX | LOCK_NB), 0);
    /* another turn without waiting does nothing */
    assert_int_equal(delivery_recover_dead(db, dbp, date_now(), 0, &applied, &back), MERR_TEMPFAIL);
    assert_int_equal(back, 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the other process: the writer's start, which waits its turn */
        struct db *db2;
        long long a2, b2;
        close(lock_fd); /* this process's locks, not the other's (flock follows the fd) */
        close(jfd);
        if (db_open(dbp, 5000, &db2))
            _exit(2);
        enum merr rc = delivery_recover_dead(db2, dbp, date_now(), 1, &a2, &b2);
        db_close(db2);
        _exit(rc == MERR_OK && a2 == 0 && b2 == 1 ? 0 : 1);
    }
    usleep(500 * 1000);
    assert_int_equal(test_db_int(db, "SELECT count(*) FROM envelopes WHERE state = 'sending'"), 3);
    /* this one records the journal, and lets go */
    close(jfd);
    assert_int_equal(delivery_journal_recover(db, dbp, &applied), MERR_OK);
    assert_int_equal(applied, 2);
    close(lock_fd);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0); /* it returned the third lease only */
    const char *want[] = {"sent", "sent", "queued"};
    for (int i = 0; i < 3; i++) {
        snprintf(sql, sizeof sql, "SELECT state FROM envelopes WHERE id = %lld", e[i].id);
        test_db_text(db, sql, st, sizeof st);
        assert_string_equal(st, want[i]);
    }
    assert_int_equal(journals_in(dir), 0);

    outbox_envelopes_free(e, n);
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_forget_close),
        cmocka_unit_test(test_parse_damage),
        cmocka_unit_test(test_recover),
        cmocka_unit_test(test_recover_takes_turns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
