/*
 * date.c: dates in the configured zone.
 *
 * Day and month names are written from fixed tables, never strftime's %a/%b,
 * so the locale cannot change a header (RFC 5322 §3.3 wants English names).
 */
#include "date.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char zone[128] = "UTC";
static _Atomic long long fake_now;

enum merr date_set_zone(const char *tz)
{
    char path[512];
    const char *dir = getenv("TZDIR");

    if (!tz || !*tz || strlen(tz) >= sizeof zone || strstr(tz, "..") || tz[0] == '/' ||
        tz[0] == ':')
        return merr_set(MERR_CONFIG, "time zone \"%s\" is not an IANA zone name", tz ? tz : "");
    if (strcmp(tz, "UTC") != 0) {
        snprintf(path, sizeof path, "%s/%s", dir ? dir : "/usr/share/zoneinfo", tz);
        if (access(path, R_OK) != 0)
            return merr_set(MERR_CONFIG, "unknown time zone \"%s\" (no %s)", tz, path);
    }
    snprintf(zone, sizeof zone, "%s", tz);
    setenv("TZ", tz, 1);
    tzset();
    return MERR_OK;
}

const char *date_zone(void)
{
    return zone;
}

double date_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timespec date_mono_deadline(double secs)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)secs;
    ts.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void date_set_fake_now(time_t t)
{
    atomic_store(&fake_now, (long long)t);
}

time_t date_now(void)
{
    long long f = atomic_load(&fake_now);
    if (f)
        return (time_t)f;
    const char *env = getenv("MAILER_FAKE_NOW");
    if (env && *env)
        return (time_t)strtoll(env, NULL, 10);
    return time(NULL);
}

static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void date_rfc5322(time_t t, char out[DATE_RFC5322_LEN])
{
    struct tm tm;
    long off, a;
    localtime_r(&t, &tm);
    off = tm.tm_gmtoff;
    a = off < 0 ? -off : off;
    snprintf(out, DATE_RFC5322_LEN, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+', a / 3600, (a % 3600) / 60);
}

void date_iso8601(time_t t, char out[DATE_ISO_LEN])
{
    struct tm tm;
    long off, a;
    localtime_r(&t, &tm);
    off = tm.tm_gmtoff;
    a = off < 0 ? -off : off;
    snprintf(out, DATE_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
             a / 3600, (a % 3600) / 60);
}

void date_iso8601_utc(time_t t, char out[DATE_ISO_LEN])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, DATE_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void date_display(time_t t, char out[DATE_ISO_LEN])
{
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(out, DATE_ISO_LEN, "%02d/%02d/%04d %02d:%02d", tm.tm_mday, tm.tm_mon + 1,
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
}

long date_offset_at(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

/* Reads exactly `n` digits; -1 if not digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

enum merr date_parse_iso8601(const char *s, time_t *t, int *offset_min)
{
    const char *p = s;
    int y, mo, d, h, mi, se = 0, oh = 0, om = 0, sign = 1;
    struct tm tm;
    time_t base;

    if (!s)
        return merr_set(MERR_INVAL, "missing date");
    y = digits(&p, 4);
    if (y < 0 || *p++ != '-')
        goto bad;
    mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        goto bad;
    d = digits(&p, 2);
    if (d < 1 || d > days_in_month(y, mo))
        goto bad;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return merr_set(MERR_INVAL, "\"%.40s\" is not an ISO 8601 date-time (no time part)", s);
    p++;
    h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':')
        goto bad;
    mi = digits(&p, 2);
    if (mi < 0 || mi > 59)
        goto bad;
    if (*p == ':') {
        p++;
        se = digits(&p, 2);
        if (se < 0 || se > 60)
            goto bad;
        if (*p == '.' || *p == ',') {
            p++;
            if (!isdigit((unsigned char)*p))
                goto bad;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        oh = digits(&p, 2);
        if (oh < 0 || oh > 14)
            goto bad;
        if (*p == ':')
            p++;
        om = digits(&p, 2);
        if (om < 0 || om > 59)
            goto bad;
    } else {
        return merr_set(MERR_INVAL,
                        "\"%.40s\" has no UTC offset (expected Z or +HH:MM, e.g. +07:00)", s);
    }
    if (*p != '\0')
        goto bad;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se == 60 ? 59 : se;
    base = timegm(&tm);
    *t = base - sign * (oh * 3600 + om * 60);
    if (offset_min)
        *offset_min = sign * (oh * 60 + om);
    return MERR_OK;
bad:
    return merr_set(MERR_INVAL,
                    "\"%.40s\" is not an ISO 8601 date-time (expected e.g. "
                    "2021-12-31T14:15:00+07:00)",
                    s);
}

enum merr date_parse_day_or_time(const char *s, time_t *t)
{
    int y, m, d;
    char tail;
    if (strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 &&
        strspn(s, "0123456789-") == 10) {
        struct tm tm;
        if (m < 1 || m > 12 || d < 1 || d > 31)
            return merr_set(MERR_INVAL, "\"%s\" is not a date (YYYY-MM-DD)", s);
        memset(&tm, 0, sizeof tm);
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
        tm.tm_isdst = -1;
        *t = mktime(&tm); /* TZ is the site's zone (date_set_zone) */
        return MERR_OK;
    }
    return date_parse_iso8601(s, t, NULL);
}
