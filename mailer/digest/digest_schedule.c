/*
 * digest_schedule.c: when a list's digest is due, and which period it is.
 *
 * Local times are computed with mktime(tm_isdst = -1) in the zone set by
 * date_set_zone, so a schedule of "Monday 07:00" means 07:00 on the wall
 * clock whatever the offset that day. The period is the ISO 8601 week
 * (strftime %G-W%V) of the occurrence's local date: a stable key that does
 * not move when the clock, the zone offset or the program restarts.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"

enum merr digest_schedule_parse(int weekday, const char *hhmm, struct digest_schedule *out)
{
    if (weekday < 0 || weekday > 6)
        return merr_set(MERR_INVAL, "weekday %d is not 0 (Sunday) to 6 (Saturday)", weekday);
    if (!hhmm || strlen(hhmm) != 5 || !isdigit((unsigned char)hhmm[0]) ||
        !isdigit((unsigned char)hhmm[1]) || hhmm[2] != ':' || !isdigit((unsigned char)hhmm[3]) ||
        !isdigit((unsigned char)hhmm[4]))
        return merr_set(MERR_INVAL, "time \"%s\" is not HH:MM", hhmm ? hhmm : "");
    out->weekday = weekday;
    out->hour = (hhmm[0] - '0') * 10 + (hhmm[1] - '0');
    out->minute = (hhmm[3] - '0') * 10 + (hhmm[4] - '0');
    if (out->hour > 23 || out->minute > 59)
        return merr_set(MERR_INVAL, "time \"%s\" is not a time of day", hhmm);
    return MERR_OK;
}

/* The scheduled time on the local date of `tm` shifted by `days`. */
static time_t at_local(const struct tm *day, int days, const struct digest_schedule *s)
{
    struct tm tm = *day;
    tm.tm_mday += days;
    tm.tm_hour = s->hour;
    tm.tm_min = s->minute;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

time_t digest_last_occurrence(const struct digest_schedule *s, time_t now)
{
    struct tm today;
    int back;
    time_t t;

    localtime_r(&now, &today);
    back = (today.tm_wday - s->weekday + 7) % 7;
    t = at_local(&today, -back, s);
    if (t > now)
        t = at_local(&today, -back - 7, s);
    return t;
}

void digest_period(time_t occurrence, char out[16])
{
    struct tm tm;
    localtime_r(&occurrence, &tm);
    strftime(out, 16, "%G-W%V", &tm);
}
