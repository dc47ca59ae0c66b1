/*
 * transport_dir.c: dir:PATH, one .eml file per envelope.
 *
 * The file is PATH/<envelope_id>.eml and holds exactly the message bytes
 * (CRLF line ends, nothing prepended: the envelope lives in the outbox).
 * Each is written atomically: a temporary file in the same folder (so the
 * rename never crosses file systems), every byte written, fsync, rename
 * over the final name, and once per batch an fsync of the folder so the
 * renames are durable before the outcomes are reported. Because the name
 * comes from the envelope id, delivering the same envelope twice (a retry
 * after a crash) replaces the file instead of making a duplicate.
 *
 * A write error (disk full, permission, folder gone) is MERR_TEMPFAIL with
 * the errno text: the admin frees space and the retry succeeds. Nothing
 * half-written is left: the temporary file is removed on every failure.
 * The messages hold addresses and notes: files are 0600 and the folders
 * this creates 0700 (fs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "rnd.h"
#include "transport_int.h"

struct transport_dir {
    char *path;
};

static enum merr dir_open(const struct config *cfg, const char *path, void **out)
{
    struct transport_dir *d;
    struct stat st;

    (void)cfg;
    *out = NULL;
    if (!path[0])
        return merr_set(MERR_CONFIG, "[delivery] transport dir: needs a path");
    if (strlen(path) > PATH_MAX - 64)
        return merr_set(MERR_CONFIG, "[delivery] transport dir:%s: path too long", path);
    if (fs_mkdirs(path, 1) != MERR_OK)
        return merr_wrap(MERR_CONFIG, "[delivery] transport dir:%s", path);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return merr_set(MERR_CONFIG, "[delivery] transport dir:%s: not a folder", path);
    if (access(path, W_OK | X_OK) != 0)
        return merr_set(MERR_CONFIG, "[delivery] transport dir:%s: not writable: %s", path,
                        strerror(errno));
    d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return merr_set(MERR_NOMEM, "transport: out of memory");
    }
    *out = d;
    return MERR_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes one message; on failure sets its outcome and removes the tmp file. */
static void write_one(struct transport_dir *d, struct transport_msg *m)
{
    char tmp[PATH_MAX], final[PATH_MAX], rnd[17];
    const char *step = "open";
    int fd, err;

    rnd_hex(rnd, 8);
    snprintf(tmp, sizeof tmp, "%s/.tmp-%lld-%s.eml", d->path, m->envelope_id, rnd);
    snprintf(final, sizeof final, "%s/%lld.eml", d->path, m->envelope_id);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, FS_FILE_MODE);
    if (fd < 0)
        goto fail;
    step = "write";
    if (write_all(fd, m->data, m->len) != 0)
        goto fail_fd;
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail_fd;
    step = "close";
    if (close(fd) != 0) {
        fd = -1;
        goto fail_fd;
    }
    step = "rename";
    if (rename(tmp, final) != 0)
        goto fail_unlink;
    transport_outcome(m, MERR_OK, 250, "written to %s", final);
    return;
fail_fd:
    err = errno;
    if (fd >= 0)
        close(fd);
    errno = err;
fail_unlink:
    err = errno;
    unlink(tmp);
    errno = err;
fail:
    transport_outcome(m, MERR_TEMPFAIL, 0, "%s %s: %s", step, final, strerror(errno));
}

static enum merr dir_send(void *impl, struct transport_msg *msgs, size_t n,
                          const struct transport_hooks *h)
{
    struct transport_dir *d = impl;
    int dfd, ok = 0;

    for (size_t i = 0; i < n; i++) {
        struct transport_msg *m = &msgs[i];
        if (transport_msg_lazy(h, m) ? transport_msg_check_envelope(m) : transport_msg_check(m))
            continue;
        if (transport_msg_load(h, m))
            continue; /* outcome set */
        write_one(d, m);
        transport_msg_release(h, m);
        ok += m->rc == MERR_OK;
    }
    if (ok) {
        /* The renames are durable only once the folder itself is synced. */
        dfd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0) {
            int err = errno;
            for (size_t i = 0; i < n; i++)
                if (msgs[i].rc == MERR_OK)
                    transport_outcome(&msgs[i], MERR_TEMPFAIL, 0, "fsync %s: %s", d->path,
                                      strerror(err));
        }
        if (dfd >= 0)
            close(dfd);
    }
    /* Reported only now: before the folder fsync a "sent" could still be
     * lost (see transport.h); nothing is left to stop, so the answers of
     * done() do not matter here, and before_end() has no use: rewriting a
     * file duplicates nothing. */
    for (size_t i = 0; i < n; i++)
        transport_report(h, &msgs[i]);
    return MERR_OK;
}

static void dir_close(void *impl)
{
    struct transport_dir *d = impl;
    free(d->path);
    free(d);
}

const struct transport_ops transport_dir_ops = {"dir:", dir_open, dir_send, dir_close};
