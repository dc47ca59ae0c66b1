/*
 * buf.h: the growable byte buffer used for every message, response and file.
 *
 * A `struct buf` is a value the caller owns (usually on the stack or inside
 * another struct). It grows geometrically up to a hard cap fixed at init; an
 * append that would pass the cap fails with MERR_LIMIT and leaves the buffer
 * as it was, so a hostile input can never make us allocate without bound.
 * The data is always NUL-terminated (the NUL is not counted in `len`), so
 * text can be passed to C string functions when it has no embedded NULs.
 */
#ifndef MAILER_CORE_BUF_H
#define MAILER_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct buf {
    char *data; /* NULL until the first append; always NUL-terminated after */
    size_t len; /* bytes used, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard cap on len */
};

#define BUF_MAX_DEFAULT ((size_t)64 << 20) /* 64 MiB */

/* Initialises an empty buffer that may hold up to `max` bytes (0: the default). */
void buf_init(struct buf *b, size_t max);

/* Releases the memory and leaves an empty buffer with the same cap. NULL is ok. */
void buf_free(struct buf *b);

/* Empties the buffer, keeping its memory for reuse. */
void buf_reset(struct buf *b);

/* Makes room for `n` more bytes. MERR_LIMIT past the cap, MERR_NOMEM. */
enum merr buf_reserve(struct buf *b, size_t n);

/* Appends bytes. MERR_LIMIT past the cap (buffer unchanged), MERR_NOMEM. */
enum merr buf_append(struct buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. */
enum merr buf_puts(struct buf *b, const char *s);

/* Appends one byte. */
enum merr buf_putc(struct buf *b, char c);

/* Appends formatted text. */
enum merr buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum merr buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Inserts `n` bytes at offset `pos` (<= len), moving what follows.
 * MERR_LIMIT past the cap (buffer unchanged), MERR_NOMEM.
 */
enum merr buf_insert(struct buf *b, size_t pos, const void *p, size_t n);

/* Shortens the buffer to `len` bytes (no-op if already shorter). */
void buf_truncate(struct buf *b, size_t len);

/*
 * Hands the data to the caller, who frees it with free(); the buffer is left
 * empty. Returns an empty allocated string for an empty buffer, NULL on
 * allocation failure. `*len` (if not NULL) receives the length.
 */
char *buf_detach(struct buf *b, size_t *len);

/* Reads a whole file into `b` (appending). MERR_IO with the path, MERR_LIMIT. */
enum merr buf_read_file(struct buf *b, const char *path);

/*
 * Reads what is left of the open descriptor `fd` into `b` (appending);
 * `name` names it in errors. MERR_IO, MERR_LIMIT past b's cap. Does not
 * close fd.
 */
enum merr buf_read_fd(struct buf *b, int fd, const char *name);

#endif
