/*
 * fs.h: files and folders that hold data, created private.
 *
 * Everything the mailer writes holds personal data or secrets (the
 * database with the HMAC secret and every address, its -wal and -shm,
 * exports, previews, the dir transport's .eml files), so each is created
 * 0600 and each folder 0700 whatever the umask (main() also sets umask 077),
 * and a file that already exists with wider modes is narrowed when it is
 * written (an admin's `touch export.csv` at 0644 does not leak the export).
 */
#ifndef MAILER_CORE_FS_H
#define MAILER_CORE_FS_H

#include <stdio.h>

#include "err.h"

#define FS_FILE_MODE 0600
#define FS_DIR_MODE  0700

/*
 * Creates every missing folder of `path` (mode FS_DIR_MODE): all of them
 * with `whole` set, else all but the last component (the parent of a file).
 * Existing folders are left as they are. MERR_IO naming the folder.
 */
enum merr fs_mkdirs(const char *path, int whole);

/*
 * Opens `path` for writing from its start (created FS_FILE_MODE, truncated,
 * and narrowed to FS_FILE_MODE if it existed wider); `*out` is the stream,
 * the caller fcloses it. MERR_IO naming the file.
 */
enum merr fs_open_private(const char *path, FILE **out);

/*
 * Narrows an existing regular file (not a symlink) to FS_FILE_MODE if group
 * or others had any access: 1 if it did, 0 if it was private already or
 * does not exist, -1 with errno on failure. Never opens the file, so it is
 * safe on a database this process has open (see fs.c).
 */
int fs_make_private(const char *path);

#endif
