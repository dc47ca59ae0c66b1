/*
 * buf.c: growable byte buffer with a hard cap.
 *
 * Growth doubles the allocation (starting at 256 bytes) but never allocates
 * past max + 1 (the NUL). Appends are all-or-nothing.
 */
#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : BUF_MAX_DEFAULT;
}

void buf_free(struct buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

enum merr buf_reserve(struct buf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (n > b->max || b->len > b->max - n)
        return merr_set(MERR_LIMIT, "buffer limit of %zu bytes exceeded", b->max);
    need = b->len + n + 1;
    if (need <= b->cap)
        return MERR_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    if (cap < need)
        cap = need;
    p = realloc(b->data, cap);
    if (!p)
        return merr_set(MERR_NOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return MERR_OK;
}

enum merr buf_append(struct buf *b, const void *p, size_t n)
{
    enum merr rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MERR_OK;
}

enum merr buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum merr buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

enum merr buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    enum merr rc;
    size_t room;

    va_copy(ap2, ap);
    room = b->cap > b->len ? b->cap - b->len : 0;
    n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return merr_set(MERR_INVAL, "bad format string");
    if ((size_t)n < room) { /* it fitted; cap <= max + 1 keeps it under the cap */
        b->len += (size_t)n;
        return MERR_OK;
    }
    rc = buf_reserve(b, (size_t)n);
    if (rc) {
        if (b->data)
            b->data[b->len] = '\0';
        return rc;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return MERR_OK;
}

enum merr buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    enum merr rc;
    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

enum merr buf_insert(struct buf *b, size_t pos, const void *p, size_t n)
{
    enum merr rc;
    if (pos > b->len)
        return merr_set(MERR_INTERNAL, "buf_insert at %zu past the end (%zu)", pos, b->len);
    rc = buf_reserve(b, n);
    if (rc || n == 0)
        return rc;
    memmove(b->data + pos + n, b->data + pos, b->len - pos);
    memcpy(b->data + pos, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MERR_OK;
}

void buf_truncate(struct buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

enum merr buf_read_fd(struct buf *b, int fd, const char *name)
{
    struct stat st;
    enum merr rc = MERR_OK;
    char tmp[65536];
    ssize_t n;

    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((size_t)st.st_size > b->max - b->len)
            return merr_set(MERR_LIMIT, "%s: file of %lld bytes is over the limit of %zu", name,
                            (long long)st.st_size, b->max);
        rc = buf_reserve(b, (size_t)st.st_size);
        if (rc)
            return rc;
    }
    for (;;) {
        n = read(fd, tmp, sizeof tmp);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return merr_set(MERR_IO, "%s: %s", name, strerror(errno));
        }
        if (n == 0)
            return MERR_OK;
        rc = buf_append(b, tmp, (size_t)n);
        if (rc)
            return merr_wrap(rc, "%s", name);
    }
}

enum merr buf_read_file(struct buf *b, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    enum merr rc;

    if (fd < 0)
        return merr_set(MERR_IO, "%s: %s", path, strerror(errno));
    rc = buf_read_fd(b, fd, path);
    close(fd);
    return rc;
}
