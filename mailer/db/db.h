/*
 * db.h: the one SQLite handle module.
 *
 * db_open() opens (or creates) the database in WAL mode with foreign keys on
 * and a busy timeout; db_migrate() applies the numbered migrations in
 * mailer/db/migrations/NNNN_name.sql, each in its own transaction together
 * with its schema_version row, forward only. One `struct db` belongs to one
 * thread at a time: each worker opens its own.
 *
 * SQL lives in the store files of the module that owns the tables; they use
 * db_sqlite() and db_stmt() to get at the connection and cached statements,
 * and db_fail() to turn a SQLite result into an `enum merr` with the message.
 */
#ifndef MAILER_DB_DB_H
#define MAILER_DB_DB_H

#include <sqlite3.h>
#include <stddef.h>

#include "err.h"

struct db;

/*
 * Opens `path` (creating it and its parent folder if needed). The result is
 * owned by the caller and closed with db_close(). MERR_DB / MERR_IO with the
 * path in the message.
 */
enum merr db_open(const char *path, int busy_timeout_ms, struct db **out);

/* Finalizes cached statements and closes. NULL is ok. */
void db_close(struct db *db);

/* The schema version the database is at (0 for a new file). */
int db_version(struct db *db);

/* The newest version this build knows. */
int db_latest_version(void);

/*
 * Applies every migration above the current version up to `target`
 * (0 = latest). A database newer than this build is refused (MERR_DB): an
 * old binary must not write to a schema it does not know. Migrations run
 * with foreign keys off so that a table can be rebuilt (a DROP would
 * otherwise cascade), and each is checked with PRAGMA foreign_key_check
 * before its COMMIT: a migration that leaves a dangling reference is
 * rolled back (MERR_DB naming the table).
 */
enum merr db_migrate(struct db *db, int target);

/* The raw connection, for store files. Borrowed. */
sqlite3 *db_sqlite(struct db *db);

/*
 * A prepared statement for `sql`, cached on the handle and keyed by the
 * pointer: pass string literals (or other static strings) only. The
 * statement comes back reset with its bindings cleared; do not finalize it.
 * NULL on failure with the message in merr_msg().
 */
sqlite3_stmt *db_stmt(struct db *db, const char *sql);

/* Runs SQL without results. */
enum merr db_exec(struct db *db, const char *sql);

/*
 * BEGIN IMMEDIATE / COMMIT / ROLLBACK. db_rollback never fails loudly.
 * They nest: db_begin inside an open transaction is a SAVEPOINT, its
 * db_commit a RELEASE and its db_rollback undoes only what was written since
 * that db_begin, so a function that keeps its writes in one transaction of
 * its own is also one step of a caller's transaction (http_share.c: a share
 * is one commit). Only the outermost db_commit makes anything durable.
 */
enum merr db_begin(struct db *db);
enum merr db_commit(struct db *db);
void db_rollback(struct db *db);

/*
 * Maps a SQLite result to our codes (BUSY/LOCKED -> MERR_TEMPFAIL,
 * CONSTRAINT -> MERR_EXISTS, others -> MERR_DB) and records
 * "WHAT: sqlite message" as the detail. Returns MERR_OK for SQLITE_OK,
 * SQLITE_DONE and SQLITE_ROW.
 */
enum merr db_fail(struct db *db, int sqlite_rc, const char *what);

/* Key/value settings (table `settings`). `*out` is malloc'd; MERR_NOTFOUND if absent. */
enum merr db_setting_get(struct db *db, const char *key, char **out);
enum merr db_setting_set(struct db *db, const char *key, const char *value);

/*
 * Helpers for store files, so each does not grow its own copies:
 * db_step_done steps `st` once and resets it: MERR_OK on SQLITE_DONE or
 * SQLITE_ROW (a RETURNING row nobody reads), else db_fail(db, src, what).
 * db_row_end ends a one-row query after its columns were read: resets `st`
 * and returns MERR_OK for a row (`src` from sqlite3_step), `none` when there
 * was no row, else the SQLite error.
 */
enum merr db_step_done(struct db *db, sqlite3_stmt *st, const char *what);
enum merr db_row_end(struct db *db, sqlite3_stmt *st, int src, enum merr none, const char *what);

/*
 * Text column i of the current row: db_col_dup returns a malloc'd copy
 * ("" for NULL; NULL only when out of memory), db_col_dup_null keeps NULL as
 * NULL, db_col_copy writes it truncated into out[size] ("" for NULL).
 */
char *db_col_dup(sqlite3_stmt *st, int i);
char *db_col_dup_null(sqlite3_stmt *st, int i);
void db_col_copy(sqlite3_stmt *st, int i, char *out, size_t size);

/*
 * A WAL checkpoint that keeps the WAL bounded under a steady stream of
 * writes. A PASSIVE checkpoint first (it never waits for anyone); it cannot
 * finish while writers keep appending, and SQLite starts the WAL file over
 * only after a checkpoint that finished, so under load the file grows for
 * as long as the load lasts. When the WAL holds `restart_frames` frames or
 * more, a RESTART checkpoint follows: it takes the write lock, copies what is
 * left and waits up to `wait_ms` for the readers of older snapshots, so that
 * the next writer starts the file over. It blocks writers while it runs (a
 * short copy, then at most `wait_ms`); if the readers are not gone by then it
 * gives up (MERR_OK: the next call tries again), as it does when another
 * connection is checkpointing at that moment. `*frames` (may be NULL): the
 * WAL's frames after it; 0 when the next writer starts the file over, -1
 * when another checkpoint was running.
 */
enum merr db_checkpoint(struct db *db, int restart_frames, int wait_ms, int *frames);

/*
 * The policy of the processes' checkpointers (serve's parent, the delivery
 * writer's): a RESTART at 65,536 frames (256 MiB of 4 KiB pages) waiting at
 * most 2 ms for readers. Why these figures: serve.c.
 */
#define DB_WAL_RESTART_FRAMES 65536
#define DB_WAL_READER_WAIT_MS 2

/* Number of rows sqlite3_changes() reports for the last statement. */
int db_changes(struct db *db);

#endif
