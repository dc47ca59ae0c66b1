/*
 * err.c: result codes, the per-thread detail (message and field) and the
 * mappings of a code to its class, its HTTP status and its exit code.
 *
 * The detail lives in thread-local storage so that worker threads never see
 * each other's messages and no handle has to be passed to leaf functions such
 * as address validation. The mappings are `switch`es without `default`, so
 * the compiler names any code a new value would leave out.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MERR_MSG_MAX 1024

static _Thread_local char detail[MERR_MSG_MAX];
static _Thread_local char field[64];
static _Thread_local const char *reason = "";

const char *merr_str(enum merr rc)
{
    switch (rc) {
    case MERR_OK:
        return "ok";
    case MERR_NOMEM:
        return "out of memory";
    case MERR_INVAL:
        return "invalid input";
    case MERR_IO:
        return "input/output error";
    case MERR_DB:
        return "database error";
    case MERR_TEMPFAIL:
        return "temporary failure";
    case MERR_PERMFAIL:
        return "permanent failure";
    case MERR_NOTFOUND:
        return "not found";
    case MERR_CONFIG:
        return "configuration error";
    case MERR_LIMIT:
        return "limit exceeded";
    case MERR_EXISTS:
        return "already exists";
    case MERR_UNSUPPORTED:
        return "not supported";
    case MERR_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}

enum merr merr_set(enum merr rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    field[0] = '\0';
    reason = "";
    return rc;
}

enum merr merr_set_field(enum merr rc, const char *name)
{
    snprintf(field, sizeof field, "%s", name ? name : "");
    return rc;
}

const char *merr_field(void)
{
    return field;
}

enum merr merr_setr(enum merr rc, const char *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    reason = why ? why : "";
    field[0] = '\0';
    return rc;
}

const char *merr_reason(void)
{
    return reason;
}

enum merr merr_wrap(enum merr rc, const char *fmt, ...)
{
    char prefix[MERR_MSG_MAX];
    char old[MERR_MSG_MAX];
    va_list ap;

    memcpy(old, detail, sizeof old);
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t k = strlen(prefix);
    if (k > sizeof detail - 3)
        k = sizeof detail - 3;
    memcpy(detail, prefix, k);
    memcpy(detail + k, ": ", 2);
    k += 2;
    const char *rest = old[0] ? old : merr_str(rc);
    size_t r = strlen(rest);
    if (r > sizeof detail - 1 - k)
        r = sizeof detail - 1 - k;
    memcpy(detail + k, rest, r);
    detail[k + r] = '\0';
    return rc;
}

const char *merr_msg(void)
{
    return detail;
}

void merr_clear(void)
{
    detail[0] = '\0';
    field[0] = '\0';
    reason = "";
}

enum merr_class merr_class(enum merr rc)
{
    switch (rc) {
    case MERR_OK:
        return MERR_CLASS_OK;
    case MERR_TEMPFAIL:
    case MERR_NOMEM:
    case MERR_IO:
    case MERR_DB:
        return MERR_CLASS_TEMPORARY;
    case MERR_INVAL:
    case MERR_PERMFAIL:
    case MERR_NOTFOUND:
    case MERR_CONFIG:
    case MERR_LIMIT:
    case MERR_EXISTS:
    case MERR_UNSUPPORTED:
    case MERR_INTERNAL:
        return MERR_CLASS_PERMANENT;
    }
    return MERR_CLASS_PERMANENT;
}

int merr_http_status(enum merr rc)
{
    switch (rc) {
    case MERR_OK:
        return 200;
    case MERR_INVAL:
        return 400;
    case MERR_NOTFOUND:
        return 404;
    case MERR_EXISTS:
        return 409;
    case MERR_LIMIT:
        return 413;
    case MERR_UNSUPPORTED:
        return 501;
    case MERR_TEMPFAIL:
        return 503;
    case MERR_NOMEM:
    case MERR_IO:
    case MERR_DB:
    case MERR_PERMFAIL:
    case MERR_CONFIG:
    case MERR_INTERNAL:
        return 500;
    }
    return 500;
}

int merr_exit_code(enum merr rc)
{
    switch (rc) {
    case MERR_OK:
        return 0;
    case MERR_CONFIG:
        return 2;
    case MERR_INVAL:
    case MERR_LIMIT:
    case MERR_EXISTS:
        return 3;
    case MERR_TEMPFAIL:
        return 4;
    case MERR_NOTFOUND:
        return 5;
    case MERR_PERMFAIL:
        return 6;
    case MERR_NOMEM:
    case MERR_IO:
    case MERR_DB:
    case MERR_UNSUPPORTED:
    case MERR_INTERNAL:
        return 7;
    }
    return 7;
}
