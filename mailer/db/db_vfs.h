/*
 * db_vfs.h: the "mailer" SQLite VFS (db_vfs.c): the unix VFS, with each
 * transaction's WAL frames written in one call.
 */
#ifndef MAILER_DB_VFS_H
#define MAILER_DB_VFS_H

#include <sqlite3.h>

#define DB_VFS_NAME "mailer"

/* Registers the VFS once per process (not as the default); SQLITE_OK or
 * SQLite's error. */
int db_vfs_init(void);

/* SQLite's writes to the WAL files of this process so far, and the
 * write calls to the files they became. */
void db_vfs_counts(unsigned long *wal_writes, unsigned long *file_writes);

#endif
