/*
 * db_vfs.c: SQLite's unix VFS, with each transaction's WAL frames written
 * by one pwrite(2) instead of two per page.
 *
 * SQLite writes a WAL frame as two writes, its 24-byte header and then the
 * page, so a share's commit (about 20 pages) was 40 pwrite(2) calls, a
 * fifth of the HTTP front's CPU in bench/http: on this machine's virtual
 * CPUs most of a small write's cost is the call, not the bytes.
 *
 * "mailer" is the unix VFS ("unix", with its locking, shared memory and
 * file modes) for every file but the WAL: for those, xOpen hands back the
 * unix VFS's own file, untouched. A WAL file gets a wrapper that gathers
 * writes that follow each other into one buffer and writes it out:
 * - when the commit frame is complete: the write after a frame header
 *   whose "database size" field is set (only a transaction's last frame
 *   has one). So COMMIT returns only after its frames are in the file,
 *   as without the wrapper, and another connection or process, which
 *   reads a frame only once the WAL index (the -shm file, updated after
 *   the frames are written) points to it, never sees a frame that is
 *   still in the buffer;
 * - before anything else touches the file (a read, truncate, sync, size,
 *   lock, file control, close), and before a write that does not follow
 *   the buffer (SQLite rewriting a frame in place), so the file's bytes
 *   are always written in SQLite's order;
 * - when the buffer is full (a large transaction is written in pieces,
 *   as SQLite itself writes it as it goes).
 * A process killed with frames in the buffer has not returned from
 * COMMIT: the transaction is lost as if SQLite had not written it yet,
 * and recovery ignores a torn tail as it always does (frame checksums).
 *
 * A connection's calls on its files are serialized by SQLite: the buffer
 * needs no lock. Opened by db_open (db.c), for every handle of the
 * process; tools that open the same database with the plain unix VFS
 * (the sqlite3 shell, Python) share its locks and file format.
 */
#include "db_vfs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WAL_FRAME_HDR 24
#define WAL_BUF_MAX   (1024 * 1024)
#define WAL_WRITE_MAX (124 * 1024) /* below the unix VFS limit per call */

struct wal_file {
    sqlite3_file base;  /* pMethods = wal_methods */
    sqlite3_file *real; /* the unix VFS's file, right after this struct */
    unsigned char *buf; /* the gathered writes */
    int len, cap;       /* bytes in buf, its size */
    sqlite3_int64 off;  /* the file offset of buf[0] */
    int commit_next;    /* the last write was a commit frame's header */
};

static sqlite3_vfs *unix_vfs;
static sqlite3_vfs mailer_vfs;
static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;
static int vfs_rc = SQLITE_ERROR;
static atomic_ulong n_wal_writes, n_file_writes; /* db_vfs_counts */

static int flush(struct wal_file *w)
{
    int rc = SQLITE_OK, done = 0;
    /* in pieces: the unix VFS writes at most 0x1ffff bytes a call
     * (seekAndWrite masks the count; one that masks to 0 comes back as
     * SQLITE_FULL) */
    while (rc == SQLITE_OK && done < w->len) {
        int n = w->len - done < WAL_WRITE_MAX ? w->len - done : WAL_WRITE_MAX;
        rc = w->real->pMethods->xWrite(w->real, w->buf + done, n, w->off + done);
        atomic_fetch_add_explicit(&n_file_writes, 1, memory_order_relaxed);
        done += n;
    }
    w->len = 0;
    return rc;
}

static int wal_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
    struct wal_file *w = (struct wal_file *)f;
    const unsigned char *d = data;
    int rc, commit = w->commit_next;

    atomic_fetch_add_explicit(&n_wal_writes, 1, memory_order_relaxed);
    /* only a frame header is 24 bytes (pages are 512 or more, the WAL
     * header 32); its bytes 4-7 are the database's size after a commit */
    w->commit_next = amt == WAL_FRAME_HDR && (d[4] | d[5] | d[6] | d[7]) != 0;
    if (w->len > 0 && (off != w->off + w->len || w->len + amt > WAL_BUF_MAX)) {
        if ((rc = flush(w)) != SQLITE_OK)
            return rc;
    }
    if (w->len + amt > w->cap) {
        int cap = w->cap ? w->cap : 64 * 1024;
        unsigned char *nb;
        while (cap < w->len + amt && cap < WAL_BUF_MAX)
            cap *= 2;
        nb = cap >= w->len + amt ? realloc(w->buf, (size_t)cap) : NULL;
        if (!nb) {
            /* larger than the limit, or no memory: written through */
            if ((rc = flush(w)) != SQLITE_OK)
                return rc;
            atomic_fetch_add_explicit(&n_file_writes, 1, memory_order_relaxed);
            return w->real->pMethods->xWrite(w->real, data, amt, off);
        }
        w->buf = nb;
        w->cap = cap;
    }
    if (w->len == 0)
        w->off = off;
    memcpy(w->buf + w->len, data, (size_t)amt);
    w->len += amt;
    return commit ? flush(w) : SQLITE_OK;
}

/* ---- everything else: write out what is gathered, then the unix VFS ---- */

static int wal_close(sqlite3_file *f)
{
    struct wal_file *w = (struct wal_file *)f;
    int rc = flush(w), rc2 = w->real->pMethods->xClose(w->real);
    free(w->buf);
    w->buf = NULL;
    w->cap = 0;
    return rc != SQLITE_OK ? rc : rc2;
}

#define FLUSH_FIRST(f)                                                                             \
    struct wal_file *w = (struct wal_file *)(f);                                                   \
    int frc = flush(w);                                                                            \
    if (frc != SQLITE_OK)                                                                          \
    return frc

static int wal_read(sqlite3_file *f, void *data, int amt, sqlite3_int64 off)
{
    FLUSH_FIRST(f);
    return w->real->pMethods->xRead(w->real, data, amt, off);
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    FLUSH_FIRST(f);
    return w->real->pMethods->xTruncate(w->real, size);
}

static int wal_sync(sqlite3_file *f, int flags)
{
    FLUSH_FIRST(f);
    return w->real->pMethods->xSync(w->real, flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    FLUSH_FIRST(f);
    return w->real->pMethods->xFileSize(w->real, size);
}

static int wal_lock(sqlite3_file *f, int level)
{
    FLUSH_FIRST(f);
    return w->real->pMethods->xLock(w->real, level);
}

static int wal_unlock(sqlite3_file *f, int level)
{
    FLUSH_FIRST(f);
    return w->real->pMethods->xUnlock(w->real, level);
}

static int wal_check_reserved(sqlite3_file *f, int *out)
{
    FLUSH_FIRST(f);
    return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int wal_file_control(sqlite3_file *f, int op, void *arg)
{
    FLUSH_FIRST(f);
    return w->real->pMethods->xFileControl(w->real, op, arg);
}

static int wal_sector_size(sqlite3_file *f)
{
    struct wal_file *w = (struct wal_file *)f;
    return w->real->pMethods->xSectorSize(w->real);
}

static int wal_device_characteristics(sqlite3_file *f)
{
    struct wal_file *w = (struct wal_file *)f;
    return w->real->pMethods->xDeviceCharacteristics(w->real);
}

/* Version 1 methods: a WAL file has no shared memory and is not mapped. */
static const sqlite3_io_methods wal_methods = {
    .iVersion = 1,
    .xClose = wal_close,
    .xRead = wal_read,
    .xWrite = wal_write,
    .xTruncate = wal_truncate,
    .xSync = wal_sync,
    .xFileSize = wal_file_size,
    .xLock = wal_lock,
    .xUnlock = wal_unlock,
    .xCheckReservedLock = wal_check_reserved,
    .xFileControl = wal_file_control,
    .xSectorSize = wal_sector_size,
    .xDeviceCharacteristics = wal_device_characteristics,
};

static int vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                    int *out_flags)
{
    struct wal_file *w = (struct wal_file *)f;
    int rc;

    (void)vfs;
    if (!(flags & SQLITE_OPEN_WAL))
        return unix_vfs->xOpen(unix_vfs, name, f, flags, out_flags);
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)(w + 1);
    rc = unix_vfs->xOpen(unix_vfs, name, w->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        /* SQLite calls xClose only when pMethods is set */
        w->base.pMethods = NULL;
        return rc;
    }
    w->base.pMethods = &wal_methods;
    return SQLITE_OK;
}

static void vfs_register(void)
{
    unix_vfs = sqlite3_vfs_find("unix");
    if (!unix_vfs)
        return;
    mailer_vfs = *unix_vfs;
    mailer_vfs.zName = DB_VFS_NAME;
    mailer_vfs.pNext = NULL;
    mailer_vfs.szOsFile = (int)sizeof(struct wal_file) + unix_vfs->szOsFile;
    mailer_vfs.xOpen = vfs_open;
    vfs_rc = sqlite3_vfs_register(&mailer_vfs, 0);
}

int db_vfs_init(void)
{
    pthread_once(&vfs_once, vfs_register);
    return vfs_rc;
}

void db_vfs_counts(unsigned long *wal_writes, unsigned long *file_writes)
{
    *wal_writes = atomic_load(&n_wal_writes);
    *file_writes = atomic_load(&n_file_writes);
}
