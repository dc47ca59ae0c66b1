/*
 * http_db.c: the database handle of each request thread.
 *
 * Handlers run on the libmicrohttpd pool thread that read the request, and
 * each such thread keeps one handle of its own, opened on first use
 * (http_db) and kept in a registry so that the front's shutdown closes them
 * all (http_db_close_all). A closed registry bumps its generation, so a
 * thread that survives a stop and start (unit tests, a restarted front)
 * opens a fresh handle instead of using a closed one.
 *
 * Request handles never checkpoint the WAL themselves
 * (wal_autocheckpoint=0): the serve parent runs passive checkpoints, so a
 * request never pays for copying pages into the database file. Write
 * transactions of this process go through ctx->write_lock (http_int.h) so
 * threads do not spin in SQLite's busy handler against each other.
 *
 * The share's step under that lock (http_share.c) runs on one handle of the
 * front, http_db_write, not on the thread's own. In WAL mode a connection
 * drops its whole page cache whenever another connection has committed
 * since its last transaction, so with every request thread writing on its
 * own handle, each share read every page it touched again: 49 pread(2)
 * calls per share in bench/http with two threads, 2 with one handle. On
 * this machine's virtual CPUs each system call costs more than the page.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "http_int.h"
#include "log.h"

#define DB_REGISTRY_MAX 512

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db *registry[DB_REGISTRY_MAX];
static size_t registry_n;
static atomic_uint registry_gen = 1; /* bumped when the registry is closed */
static _Thread_local struct db *tls_db;
static _Thread_local unsigned tls_gen;

struct db *http_db(struct http_req *r)
{
    struct db *db;
    if (tls_db && tls_gen == atomic_load(&registry_gen))
        return tls_db;
    if (db_open(r->ctx->cfg->db_path, r->ctx->cfg->db_busy_timeout_ms, &db))
        return NULL;
    /* Checkpoints are run by the serve parent, not inside a request's commit. */
    if (db_exec(db, "PRAGMA wal_autocheckpoint=0"))
        log_warn("http: wal_autocheckpoint: %s", merr_msg());
    pthread_mutex_lock(&registry_lock);
    if (registry_n == DB_REGISTRY_MAX) {
        pthread_mutex_unlock(&registry_lock);
        db_close(db);
        merr_set(MERR_LIMIT, "too many database handles");
        return NULL;
    }
    registry[registry_n++] = db;
    tls_db = db;
    tls_gen = atomic_load(&registry_gen);
    pthread_mutex_unlock(&registry_lock);
    return db;
}

struct db *http_db_write(struct http_req *r)
{
    struct db *db;
    if (r->ctx->write_db)
        return r->ctx->write_db;
    if (db_open(r->ctx->cfg->db_path, r->ctx->cfg->db_busy_timeout_ms, &db))
        return NULL;
    if (db_exec(db, "PRAGMA wal_autocheckpoint=0"))
        log_warn("http: wal_autocheckpoint: %s", merr_msg());
    r->ctx->write_db = db;
    return db;
}

void http_db_close_all(void)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_n; i++)
        db_close(registry[i]);
    registry_n = 0;
    atomic_fetch_add(&registry_gen, 1);
    pthread_mutex_unlock(&registry_lock);
}
