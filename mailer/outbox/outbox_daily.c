/*
 * outbox_daily.c: delivery outcomes counted per local day (table
 * daily_counts, the counters migration), for the admin's 30-day chart.
 *
 * The counters are kept where the outcomes are applied and in the same
 * transaction (outbox_record for sent, deferred and failed; the bounce
 * code for bounces and complaints), so the chart never counts a result
 * that was rolled back and reading 30 days is 30 rows of a primary key,
 * whatever the number of envelopes. A day is the local date in the [site]
 * timezone (date.h sets the process's zone), the same day SQLite's
 * 'localtime' gives, which the migration used to fill the table from what
 * an older database already held.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "outbox.h"

static const char SQL_DAILY_ADD[] =
    "INSERT INTO daily_counts(day, sent, deferred, failed, bounced, complaints) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(day) DO UPDATE SET "
    "sent = sent + excluded.sent, deferred = deferred + excluded.deferred, "
    "failed = failed + excluded.failed, bounced = bounced + excluded.bounced, "
    "complaints = complaints + excluded.complaints";
static const char SQL_DAILY_RANGE[] =
    "SELECT day, sent, deferred, failed, bounced, complaints FROM daily_counts "
    "WHERE day BETWEEN ?1 AND ?2 ORDER BY day";

const char *outbox_daily_name(enum outbox_daily_kind k)
{
    switch (k) {
    case OUTBOX_DAY_SENT:
        return "sent";
    case OUTBOX_DAY_DEFERRED:
        return "deferred";
    case OUTBOX_DAY_FAILED:
        return "failed";
    case OUTBOX_DAY_BOUNCED:
        return "bounced";
    case OUTBOX_DAY_COMPLAINTS:
        return "complaints";
    case OUTBOX_DAILY_KINDS:
        break;
    }
    return "?";
}

void outbox_day_key(time_t t, char out[11])
{
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(out, 11, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100);
}

enum merr outbox_daily_add_all(struct db *db, time_t now, const long long n[OUTBOX_DAILY_KINDS])
{
    sqlite3_stmt *st;
    char day[11];
    int any = 0;
    for (int k = 0; k < OUTBOX_DAILY_KINDS; k++)
        any |= n[k] != 0;
    if (!any)
        return MERR_OK;
    st = db_stmt(db, SQL_DAILY_ADD);
    if (!st)
        return MERR_DB;
    outbox_day_key(now, day);
    sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
    for (int k = 0; k < OUTBOX_DAILY_KINDS; k++)
        sqlite3_bind_int64(st, 2 + k, n[k]);
    return db_step_done(db, st, "daily counts");
}

enum merr outbox_daily_add(struct db *db, time_t now, enum outbox_daily_kind k, long long n)
{
    long long v[OUTBOX_DAILY_KINDS] = {0};
    if (k < 0 || k >= OUTBOX_DAILY_KINDS)
        return merr_set(MERR_INVAL, "daily counter %d", (int)k);
    v[k] = n;
    return outbox_daily_add_all(db, now, v);
}

enum merr outbox_daily_range(struct db *db, time_t now, int days, struct outbox_day *out)
{
    sqlite3_stmt *st;
    struct tm tm;
    int src;

    if (days <= 0)
        return MERR_OK;
    /* the days, oldest first, each at local noon (a DST change moves no day) */
    localtime_r(&now, &tm);
    for (int i = 0; i < days; i++) {
        struct tm d = tm;
        d.tm_mday -= days - 1 - i;
        d.tm_hour = 12;
        d.tm_min = d.tm_sec = 0;
        d.tm_isdst = -1;
        memset(&out[i], 0, sizeof out[i]);
        outbox_day_key(mktime(&d), out[i].day);
    }
    st = db_stmt(db, SQL_DAILY_RANGE);
    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, out[0].day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, out[days - 1].day, -1, SQLITE_TRANSIENT);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *day = (const char *)sqlite3_column_text(st, 0);
        for (int i = 0; day && i < days; i++) {
            if (strcmp(out[i].day, day) != 0)
                continue;
            for (int k = 0; k < OUTBOX_DAILY_KINDS; k++)
                out[i].n[k] = sqlite3_column_int64(st, 1 + k);
            break;
        }
    }
    sqlite3_reset(st);
    return db_fail(db, src, "daily counts");
}
