/*
 * err.h: the one result type of the whole program.
 *
 * Every function that can fail returns an `enum merr`; MERR_OK is zero so the
 * call sites read `rc = f(...); if (rc) goto out;`. The values never change
 * meaning. The detail text (which file, which field, what was wrong) is kept
 * per thread, like sqlite3_errmsg on a handle: the function that fails calls
 * merr_set(), and the caller that reports reads merr_msg(); when the error is
 * about one field of the input (a form field, a JSON member, an argument),
 * the detail names it too (merr_set_field, merr_field). Foreign result codes
 * are mapped to these values in one place per wrapper (db.c for SQLite, the
 * SMTP transport for libESMTP, ...), and the values are mapped onward in one
 * place each: merr_class (may it work later?), merr_http_status (what an
 * HTTP client is told), merr_exit_code (what a script is told).
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

/*
 * Like merr_set, and also names the refusal with a stable machine name,
 * `reason` (a string literal: "addr.no_at", "name.link", ...), that code
 * showing it to a person maps to their words (the HTTP message catalogue,
 * mailer/http/http_msg.c) and that JSON answers carry as "reason". The
 * message stays the technical detail for logs, the CLI and the API.
 * merr_set clears the reason; merr_wrap keeps it.
 */
enum merr merr_setr(enum merr rc, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The reason of this thread's last refusal (merr_setr), "" if it gave none. */
const char *merr_reason(void);

/* This thread's last detail message; "" if none. Valid until the next merr_set. */
const char *merr_msg(void);

/*
 * Names the input field the current error is about (copied, at most 63
 * bytes) and returns `rc`: `return merr_set_field(merr_set(MERR_INVAL,
 * "note: too long"), "note");`. merr_set and merr_clear forget the field,
 * merr_wrap keeps it.
 */
enum merr merr_set_field(enum merr rc, const char *field);

/* The field of this thread's last error (merr_set_field), "" if none. */
const char *merr_field(void);

/* Clears this thread's detail message and field. */
void merr_clear(void);

/* Whether a failed operation may work if tried again as it is. */
enum merr_class {
    MERR_CLASS_OK,        /* it worked */
    MERR_CLASS_TEMPORARY, /* it may work later: MERR_TEMPFAIL, MERR_NOMEM, MERR_IO, MERR_DB */
    MERR_CLASS_PERMANENT, /* it never will as it is: every other code */
};

/*
 * The class of a result: the one answer to "is this error temporary?" for
 * delivery outcomes (deferred or failed), plans, message loads and bounces.
 */
enum merr_class merr_class(enum merr rc);

/*
 * The HTTP status an API client is answered with for a result (RFC 9110
 * §15): 200 ok, 400 MERR_INVAL, 404 MERR_NOTFOUND, 409 MERR_EXISTS, 413
 * MERR_LIMIT, 501 MERR_UNSUPPORTED, 503 MERR_TEMPFAIL (try again), 500
 * for the rest (ours to fix, not the client's).
 */
int merr_http_status(enum merr rc);

/*
 * Process exit code for a result, as documented in the README:
 * 0 ok, 1 usage, 2 config, 3 bad data, 4 temporary failure, 5 not found,
 * 6 permanent delivery failure, 7 internal or I/O error.
 */
int merr_exit_code(enum merr rc);

#endif
