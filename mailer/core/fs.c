/*
 * fs.c: private files and folders (see fs.h). The mode is set at
 * creation (open/mkdir with the mode) and fixed with fchmod when a file
 * being written existed. fs_make_private works by name (lstat, chmod):
 * opening a database file to fchmod it would release SQLite's locks.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum merr fs_mkdirs(const char *path, int whole)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof tmp)
        return merr_set(MERR_INVAL, "path is empty or too long (%zu bytes)", n);
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, FS_DIR_MODE) != 0 && errno != EEXIST)
            return merr_set(MERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (whole && mkdir(tmp, FS_DIR_MODE) != 0 && errno != EEXIST)
        return merr_set(MERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    return MERR_OK;
}

enum merr fs_open_private(const char *path, FILE **out)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FS_FILE_MODE);

    *out = NULL;
    if (fd < 0)
        return merr_set(MERR_IO, "cannot write %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 ||
        (S_ISREG(st.st_mode) && (st.st_mode & 077) && fchmod(fd, FS_FILE_MODE) != 0)) {
        int e = errno;
        close(fd);
        return merr_set(MERR_IO, "cannot make %s private: %s", path, strerror(e));
    }
    *out = fdopen(fd, "w");
    if (!*out) {
        int e = errno;
        close(fd);
        return merr_set(MERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return MERR_OK;
}

int fs_make_private(const char *path)
{
    struct stat st;

    /* by name, never by opening it: for a SQLite file, closing any
     * descriptor of it drops every POSIX lock this process holds on it
     * (other connections' locks included) */
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISREG(st.st_mode) || !(st.st_mode & 077))
        return 0;
    return chmod(path, FS_FILE_MODE) == 0 ? 1 : -1;
}
