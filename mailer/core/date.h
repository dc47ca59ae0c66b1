/*
 * date.h: the program's clock and its date formats.
 *
 * The time zone is process-wide (TZ + tzset), set once at start from the
 * config before any thread exists; every local time (Date: headers, digest
 * schedules, dates shown in emails) is computed in it with localtime_r, so
 * half-hour and 45-minute zones get their true offsets (+0530, +0545), which
 * libetpan's own date code gets wrong.
 */
#ifndef MAILER_CORE_DATE_H
#define MAILER_CORE_DATE_H

#include <time.h>

#include "err.h"

#define DATE_RFC5322_LEN 40
#define DATE_ISO_LEN     32

/*
 * Makes `tz` (an IANA name such as "Asia/Ho_Chi_Minh", or "UTC") the zone of
 * all local times. MERR_CONFIG if no such zone is installed. Not thread-safe:
 * call at start, or in single-threaded tests.
 */
enum merr date_set_zone(const char *tz);

/* The zone last set ("UTC" before any call). */
const char *date_zone(void);

/*
 * Now, in seconds since the epoch. Tests may fix it with $MAILER_FAKE_NOW
 * (seconds since the epoch) or date_set_fake_now(); 0 goes back to the real
 * clock.
 */
time_t date_now(void);
void date_set_fake_now(time_t t);

/*
 * Seconds on the monotonic clock (CLOCK_MONOTONIC: never set back, never
 * faked), for elapsed times, rates, timeouts and deadlines; the one such
 * clock of the program. Not a date: only differences mean anything.
 */
double date_mono(void);

/*
 * The CLOCK_MONOTONIC time `secs` seconds from now, as pthread_cond_timedwait
 * takes it for a condition whose clock is CLOCK_MONOTONIC
 * (pthread_condattr_setclock).
 */
struct timespec date_mono_deadline(double secs);

/* RFC 5322 §3.3 date-time in the zone, e.g. "Fri, 31 Dec 2021 14:15:00 +0700". */
void date_rfc5322(time_t t, char out[DATE_RFC5322_LEN]);

/* ISO 8601 with the zone's offset, e.g. "2021-12-31T14:15:00+07:00". */
void date_iso8601(time_t t, char out[DATE_ISO_LEN]);

/* ISO 8601 in UTC with a Z, e.g. "2021-12-31T07:15:00Z". */
void date_iso8601_utc(time_t t, char out[DATE_ISO_LEN]);

/*
 * Parses an ISO 8601 / RFC 3339 date-time with an explicit offset:
 * YYYY-MM-DDTHH:MM[:SS[.fraction]](Z|+HH:MM|-HH:MM|+HHMM), 'T' or ' '.
 * Stores the instant in `*t` and the offset in minutes in `*offset_min`
 * (may be NULL). MERR_INVAL with the reason for anything else.
 */
enum merr date_parse_iso8601(const char *s, time_t *t, int *offset_min);

/*
 * A date as people type it, the same for the CLI and the API: an ISO 8601
 * date-time with an offset (as date_parse_iso8601), or a day YYYY-MM-DD,
 * read as midnight at its start in the site's zone (date_set_zone).
 * MERR_INVAL with the reason for anything else.
 */
enum merr date_parse_day_or_time(const char *s, time_t *t);

/* The zone's UTC offset in seconds at instant t. */
long date_offset_at(time_t t);

/* "31/12/2021 14:15" in the zone: how the site shows dates. */
void date_display(time_t t, char out[DATE_ISO_LEN]);

#endif
