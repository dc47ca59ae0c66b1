/*
 * digest_schedule.c: when a list's digest is due, and which period it is.
 *
 * Local times are computed with mktime(tm_isdst = -1) in the zone set by
 * date_set_zone, so a schedule of "Monday 07:00" means 07:00 on the wall
 * clock whatever the offset that day. The period is the ISO 8601 week
 * (strftime %G-W%V) of the occurrence's local date: a stable key that does
 * not move when the clock, the zone offset or the program restarts.
 *
 * The scheduler applies those rules list by list (digest_tick, every
 * minute in digest_scheduler_run's thread, on a connection of its own): a
 * list's digest is due when its last occurrence is not older than the list,
 * has no digest yet, and no newer digest exists (a clock set back). It is
 * made as a manual digest is (digest_make, digest.c); a race with another
 * scheduler ends at the UNIQUE key and is not an error.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "date.h"
#include "digest.h"
#include "digest_int.h"
#include "digest_store.h"
#include "log.h"
#include "subs.h"

#define SCHEDULER_PERIOD_S 60
#define SCHEDULER_NAP_US   200000

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

/* Whether the list's digest is due at `now`; `period` receives its key. */
static enum merr due(struct db *db, const struct subs_list *l, time_t now, char period[16],
                     int *is_due)
{
    struct digest_schedule s;
    struct digest_row old;
    time_t occ, last;
    int found;
    enum merr rc;

    *is_due = 0;
    rc = digest_schedule_parse(l->digest_weekday, l->digest_time, &s);
    if (rc)
        return merr_wrap(rc, "digest schedule");
    occ = digest_last_occurrence(&s, now);
    /* a new list's first digest is its first occurrence after it was created */
    if (occ < l->created_at)
        return MERR_OK;
    digest_period(occ, period);
    rc = digest_store_find(db, l->id, period, &old);
    if (rc != MERR_NOTFOUND)
        return rc; /* MERR_OK: exists already */
    /* a clock set back: an occurrence the list's newest digest is not older than */
    rc = digest_store_last_until(db, l->id, &last, &found);
    if (rc)
        return rc;
    if (found && last >= occ)
        return MERR_OK;
    *is_due = 1;
    return MERR_OK;
}

enum merr digest_tick(struct db *db, const struct config *cfg, time_t now, int *created)
{
    struct subs_list *lists = NULL;
    size_t n = 0;
    enum merr rc, first = MERR_OK;
    int made = 0;

    if (created)
        *created = 0;
    rc = subs_list_all(db, &lists, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct digest_info info;
        char period[16];
        int is_due;
        if (!lists[i].digest_enabled)
            continue;
        rc = due(db, &lists[i], now, period, &is_due);
        if (!rc && is_due)
            rc = digest_make(db, cfg, &lists[i], period, 0, now, 0, &info);
        if (rc == MERR_EXISTS) /* another scheduler was first */
            continue;
        if (rc) {
            log_error("digest: list %s: %s", lists[i].slug, merr_msg());
            if (!first)
                first = rc;
            continue;
        }
        if (is_due)
            made++;
    }
    subs_lists_free(lists, n);
    if (created)
        *created = made;
    return first;
}

enum merr digest_scheduler_run(const struct config *cfg, atomic_int *stop)
{
    struct db *db = NULL;
    time_t last = 0;
    enum merr rc;

    rc = db_open(cfg->db_path, cfg->db_busy_timeout_ms, &db);
    if (rc)
        return rc;
    log_info("digest: scheduler started");
    while (!*stop) {
        time_t now = date_now();
        if (!last || now / SCHEDULER_PERIOD_S != last / SCHEDULER_PERIOD_S) {
            int made = 0;
            last = now;
            if (digest_tick(db, cfg, now, &made))
                log_warn("digest: scheduler step failed: %s", merr_msg());
            else if (made)
                log_info("digest: scheduler created %d digest%s", made, made == 1 ? "" : "s");
        }
        usleep(SCHEDULER_NAP_US);
    }
    db_close(db);
    log_info("digest: scheduler stopped");
    return MERR_OK;
}
