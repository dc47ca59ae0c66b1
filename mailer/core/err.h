/*
 * err.h: the one result type of the whole program.
 *
 * Every function that can fail returns an `enum merr`; MERR_OK is zero so the
 * call sites read `rc = f(...); if (rc) goto out;`. The values never change
 * meaning. The detail text (which file, which field, what was wrong) is kept
 * per thread, like sqlite3_errmsg on a handle: the function that fails calls
 * merr_set(), and the caller that reports reads merr_msg(). Foreign result
 * codes are mapped to these values in one place per wrapper (db.c for SQLite,
 * the SMTP transport for libESMTP, ...).
 */
#ifndef MAILER_CORE_ERR_H
#define MAILER_CORE_ERR_H

enum merr {
    MERR_OK = 0,
    MERR_NOMEM,       /* out of memory */
    MERR_INVAL,       /* bad input: the detail names what is wrong */
    MERR_IO,          /* file or socket I/O failed */
    MERR_DB,          /* the database refused or failed */
    MERR_TEMPFAIL,    /* try again later: SMTP 4xx, timeouts, SQLITE_BUSY */
    MERR_PERMFAIL,    /* will never work: SMTP 5xx */
    MERR_NOTFOUND,    /* no such article, list, subscriber, ... */
    MERR_CONFIG,      /* configuration refused */
    MERR_LIMIT,       /* a size or rate limit was hit */
    MERR_EXISTS,      /* already there */
    MERR_UNSUPPORTED, /* asked for something this build cannot do */
    MERR_INTERNAL,    /* a bug: an invariant did not hold */
};

/* Short fixed text for a code ("invalid input", ...). Never NULL. */
const char *merr_str(enum merr rc);

/*
 * Records the detail message for this thread and returns `rc`, so a failure
 * reads `return merr_set(MERR_INVAL, "title: missing");`. The text is
 * truncated at 1 KiB.
 */
enum merr merr_set(enum merr rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Prefixes the current detail message with more context, keeping the code:
 * `return merr_wrap(rc, "%s", path);` turns "title: missing" into
 * "examples/a.json: title: missing".
 */
enum merr merr_wrap(enum merr rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* This thread's last detail message; "" if none. Valid until the next merr_set. */
const char *merr_msg(void);

/* Clears this thread's detail message. */
void merr_clear(void);

/*
 * Process exit code for a result, as documented in the README:
 * 0 ok, 1 usage, 2 config, 3 bad data, 4 temporary failure, 5 not found,
 * 6 permanent delivery failure, 7 internal or I/O error.
 */
int merr_exit_code(enum merr rc);

#endif
