/*
 * delivery_journal.c: each worker's sent journal, the record of what the
 * server accepted and the outbox does not say yet.
 *
 * The crash bound (delivery_worker.c) is that at most one message per
 * connection is accepted by the server and not recorded. It was kept by
 * committing every sent result to the outbox before the connection's next
 * final "."; on two cores that commit (a round of the writer: some 7 WAL
 * pages for 2-3 results) and the wait for it cost the pipeline 13 % of its
 * rate (bench/deliver/README.md). Now the worker appends the result to its
 * own file with one write(2) as soon as the server has answered, before
 * the next message starts on that connection, and the writer commits
 * results in larger rounds (delivery_writer.c). A write(2) outlives the
 * process (SIGKILL, a crash) as a commit with synchronous = NORMAL does;
 * neither outlives a power loss.
 *
 * Files: "<database>-sent-XXXXXX" beside the database (mkstemp), each
 * held by its worker with an exclusive flock(2) for the whole run: a
 * header (magic, format, record size), then fixed-size records (envelope
 * id, reply code, reply text, an FNV-1a checksum). Once every record of a
 * file is committed the worker truncates it to its header; at the run's
 * end it is removed. If the file cannot be written, the worker falls back
 * to waiting for the commit before the next ".", as before.
 *
 * Recovery (delivery_journal_recover): a file whose lock can be taken has
 * no live owner. Its records are applied to the envelopes still `sending`
 * (the dead run's: an envelope recorded since, or reclaimed and handled
 * by another run, is left alone) in one transaction, then the file is
 * removed. The writer recovers before it returns expired leases to the
 * queue (at its start and periodically), so a dead run's accepted
 * messages become sent, not due again. A torn last record (the process
 * died inside the write) or a checksum that does not match ends a file's
 * records; what follows is ignored, and logged. A file of another format
 * is left where it is, with an error in the log. A file shorter than a
 * header is a journal being created (mkostemp, then its lock): skipped.
 *
 * Two processes recovering at once take turns (delivery_recover_dead,
 * under "<database>-recover.lock"): one that met a journal locked by the
 * other's recovery would skip it as a live run's and return its expired
 * leases to the queue before the other had recorded them as sent, and
 * those messages would go out twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "date.h"
#include "delivery_int.h"
#include "log.h"

#define HEADER_MAGIC  "MLRSENT1"
#define HEADER_SIZE   16
#define RECORD_MAGIC  "SREC"
#define RECORD_TEXT   256
#define RECORD_SIZE   (4 + 8 + 4 + RECORD_TEXT + 8)
#define JOURNAL_INFIX "-sent-"
#define RECOVER_LOCK  "-recover.lock"
#define RECOVER_MAX   (256u << 20) /* a larger file is not ours */

/* FNV-1a, 64 bits: a torn or damaged record, not an attacker, is what it catches. */
static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void header_fill(unsigned char h[HEADER_SIZE])
{
    uint32_t format = 1, size = RECORD_SIZE;
    memcpy(h, HEADER_MAGIC, 8);
    memcpy(h + 8, &format, 4);
    memcpy(h + 12, &size, 4);
}

/* The journal's name prefix for `db_path`: "<db_path>-sent-". */
static int journal_prefix(const char *db_path, char *out, size_t size)
{
    int n = snprintf(out, size, "%s" JOURNAL_INFIX, db_path);
    return n > 0 && (size_t)n < size - 6 ? 0 : -1;
}

enum merr delivery_journal_open(struct delivery_journal *j, const char *db_path)
{
    unsigned char h[HEADER_SIZE];

    memset(j, 0, sizeof *j);
    j->fd = -1;
    if (journal_prefix(db_path, j->path, sizeof j->path))
        return merr_set(MERR_INVAL, "sent journal: database path too long: %s", db_path);
    strcat(j->path, "XXXXXX");
    int fd = mkostemp(j->path, O_CLOEXEC | O_APPEND);
    if (fd < 0)
        return merr_set(MERR_IO, "sent journal %s: %s", j->path, strerror(errno));
    header_fill(h);
    /* blocking: a recovery may hold the new file's lock for a moment (it skips a file
     * without a header), nobody else can */
    if (flock(fd, LOCK_EX) != 0 || write(fd, h, sizeof h) != (ssize_t)sizeof h) {
        enum merr rc = merr_set(MERR_IO, "sent journal %s: %s", j->path, strerror(errno));
        unlink(j->path);
        close(fd);
        return rc;
    }
    j->fd = fd;
    return MERR_OK;
}

int delivery_journal_append(struct delivery_journal *j, const struct outcome_report *r,
                            unsigned long long ticket)
{
    unsigned char rec[RECORD_SIZE];
    int64_t id = r->envelope_id;
    int32_t code = r->code;
    int saved = errno; /* libESMTP reads errno after its callbacks (README) */

    if (j->fd < 0)
        return -1;
    memset(rec, 0, sizeof rec);
    memcpy(rec, RECORD_MAGIC, 4);
    memcpy(rec + 4, &id, 8);
    memcpy(rec + 12, &code, 4);
    memcpy(rec + 16, r->text, strnlen(r->text, RECORD_TEXT - 1));
    uint64_t sum = fnv1a(rec, RECORD_SIZE - 8);
    memcpy(rec + RECORD_SIZE - 8, &sum, 8);
    ssize_t w = write(j->fd, rec, sizeof rec);
    if (w != (ssize_t)sizeof rec) {
        log_warn("delivery: sent journal %s: %s; waiting for commits instead", j->path,
                 w < 0 ? strerror(errno) : "short write");
        /* a partial record is ignored by recovery; stop using the file */
        close(j->fd);
        j->fd = -1;
        errno = saved;
        return -1;
    }
    j->records++;
    j->last_ticket = ticket;
    errno = saved;
    return 0;
}

void delivery_journal_forget(struct delivery_journal *j)
{
    int saved = errno;

    if (j->fd < 0 || j->records == 0)
        return;
    if (ftruncate(j->fd, HEADER_SIZE) == 0)
        j->records = 0;
    errno = saved;
}

void delivery_journal_close(struct delivery_journal *j)
{
    if (j->fd >= 0) {
        if (j->records == 0)
            unlink(j->path); /* everything in it is committed */
        else
            log_warn("delivery: sent journal %s keeps %zu results not recorded; the next run "
                     "records them",
                     j->path, j->records);
        close(j->fd); /* the lock goes with it */
    }
    j->fd = -1;
}

enum merr delivery_journal_parse(const unsigned char *buf, size_t len, struct outbox_result **out,
                                 size_t *n, size_t *ignored)
{
    unsigned char h[HEADER_SIZE];

    *out = NULL;
    *n = 0;
    *ignored = 0;
    header_fill(h);
    if (len < HEADER_SIZE || memcmp(buf, h, 8) != 0)
        return merr_set(MERR_INVAL, "not a sent journal (no header)");
    if (memcmp(buf + 8, h + 8, 8) != 0)
        return merr_set(MERR_INVAL, "a sent journal of another format");
    size_t max = (len - HEADER_SIZE) / RECORD_SIZE;
    struct outbox_result *r = calloc(max ? max : 1, sizeof *r);
    if (!r)
        return merr_set(MERR_NOMEM, "out of memory");
    size_t k = 0, off = HEADER_SIZE;
    for (; off + RECORD_SIZE <= len; off += RECORD_SIZE, k++) {
        const unsigned char *p = buf + off;
        uint64_t sum;
        int64_t id;
        int32_t code;
        memcpy(&sum, p + RECORD_SIZE - 8, 8);
        memcpy(&id, p + 4, 8);
        memcpy(&code, p + 12, 4);
        if (memcmp(p, RECORD_MAGIC, 4) != 0 || fnv1a(p, RECORD_SIZE - 8) != sum || id <= 0)
            break;
        r[k].envelope_id = id;
        r[k].state = OUTBOX_SENT;
        r[k].code = code;
        memcpy(r[k].text, p + 16, RECORD_TEXT);
        r[k].text[sizeof r[k].text - 1] = '\0';
    }
    *out = r;
    *n = k;
    *ignored = len - off;
    return MERR_OK;
}

/* Reads the whole of `fd` (at most RECOVER_MAX bytes) into a malloc'd buffer. */
static enum merr read_all(int fd, const char *path, unsigned char **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return merr_set(MERR_IO, "sent journal %s: %s", path, strerror(errno));
    if ((unsigned long long)st.st_size > RECOVER_MAX)
        return merr_set(MERR_INVAL, "sent journal %s: %lld bytes, more than a journal holds", path,
                        (long long)st.st_size);
    unsigned char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    if (!b)
        return merr_set(MERR_NOMEM, "out of memory");
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    *out = b;
    *len = got;
    return MERR_OK;
}

/*
 * Recovers one journal whose lock `fd` holds: its records applied to the
 * envelopes still sending, in one transaction, then the file removed.
 */
static enum merr recover_file(struct db *db, int fd, const char *path, long long *applied)
{
    unsigned char *buf = NULL;
    size_t len = 0, n = 0, ignored = 0;
    struct outbox_result *r = NULL;
    long long recorded = 0;
    enum merr rc = read_all(fd, path, &buf, &len);

    if (!rc && len < HEADER_SIZE) { /* being created: its run locks it and writes the header next */
        free(buf);
        return MERR_OK;
    }
    if (!rc)
        rc = delivery_journal_parse(buf, len, &r, &n, &ignored);
    free(buf);
    if (rc == MERR_INVAL) {
        log_error("delivery: %s left in place: %s", path, merr_msg());
        free(r);
        return MERR_OK;
    }
    if (rc)
        return rc;
    if (n) {
        rc = db_begin(db);
        if (!rc)
            rc = outbox_record_sending(db, r, n, date_now(), &recorded);
        if (!rc)
            rc = db_commit(db);
        if (rc)
            db_rollback(db);
    }
    free(r);
    if (rc)
        return rc;
    if (ignored)
        log_warn("delivery: sent journal %s: the last %zu bytes are not a whole record (the "
                 "run died writing it): ignored",
                 path, ignored);
    log_info("delivery: a stopped run's sent journal %s: %zu accepted messages, %lld recorded "
             "as sent now",
             path, n, recorded);
    unlink(path);
    *applied += recorded;
    return MERR_OK;
}

enum merr delivery_journal_recover(struct db *db, const char *db_path, long long *applied)
{
    char prefix[PATH_MAX], dir[PATH_MAX];
    const char *base;
    size_t blen;
    enum merr rc = MERR_OK;

    *applied = 0;
    if (journal_prefix(db_path, prefix, sizeof prefix))
        return merr_set(MERR_INVAL, "sent journal: database path too long: %s", db_path);
    base = strrchr(prefix, '/');
    if (base) {
        snprintf(dir, sizeof dir, "%.*s", (int)(base - prefix), prefix);
        if (!dir[0])
            strcpy(dir, "/");
        base++;
    } else {
        strcpy(dir, ".");
        base = prefix;
    }
    blen = strlen(base);
    DIR *d = opendir(dir);
    if (!d)
        return merr_set(MERR_IO, "sent journals in %s: %s", dir, strerror(errno));
    for (struct dirent *e; !rc && (e = readdir(d)) != NULL;) {
        char path[PATH_MAX];
        struct stat a, b;
        if (strncmp(e->d_name, base, blen) != 0 || strlen(e->d_name) != blen + 6)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue; /* gone meanwhile: another run recovered it */
        /* locked: its run is alive; renamed or removed since we opened it: recovered */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
            a.st_ino == b.st_ino && a.st_dev == b.st_dev && S_ISREG(a.st_mode))
            rc = recover_file(db, fd, path, applied);
        close(fd);
    }
    closedir(d);
    return rc;
}

enum merr delivery_recover_lock(const char *db_path, int wait, int *fd_out)
{
    char path[PATH_MAX];
    int fd;

    *fd_out = -1;
    if (snprintf(path, sizeof path, "%s" RECOVER_LOCK, db_path) >= (int)sizeof path)
        return merr_set(MERR_INVAL, "recovery lock: database path too long: %s", db_path);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return merr_set(MERR_IO, "recovery lock %s: %s", path, strerror(errno));
    while (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EINTR)
            continue;
        close(fd);
        if (e == EWOULDBLOCK)
            return merr_set(MERR_TEMPFAIL, "recovery lock %s: another process is recovering", path);
        return merr_set(MERR_IO, "recovery lock %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return MERR_OK;
}

enum merr delivery_recover_dead(struct db *db, const char *db_path, time_t now, int wait,
                                long long *applied, long long *reclaimed)
{
    int fd;
    enum merr rc;

    *applied = 0;
    *reclaimed = 0;
    rc = delivery_recover_lock(db_path, wait, &fd);
    if (rc)
        return rc;
    rc = delivery_journal_recover(db, db_path, applied);
    if (!rc)
        rc = outbox_reclaim_expired(db, now, reclaimed);
    close(fd); /* the lock goes with it; the file stays, as SQLite's -shm does */
    return rc;
}
