/*
 * log.c: level-filtered lines on stderr.
 *
 * The level is read once from $MAILER_LOG at first use unless set explicitly.
 * Control characters in the formatted text are replaced by '?' so that a
 * value taken from a request can never forge a second log line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int current = -1;

int log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void log_set_level(enum log_level level)
{
    atomic_store(&current, (int)level);
}

enum log_level log_get_level(void)
{
    int lv = atomic_load(&current);
    if (lv < 0) {
        const char *env = getenv("MAILER_LOG");
        lv = env ? log_level_parse(env) : -1;
        if (lv < 0)
            lv = LOG_INFO;
        atomic_store(&current, lv);
    }
    return (enum log_level)lv;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"debug", "info ", "warn ", "error"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int k;
    va_list ap;

    if (level < log_get_level() || level >= LOG_OFF)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof line - n, ".%03ldZ %s ", ts.tv_nsec / 1000000L, tags[level]);
    if (k > 0)
        n += (size_t)k;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (k > 0) {
        size_t end = n + (size_t)k;
        if (end > sizeof line - 2)
            end = sizeof line - 2;
        for (size_t i = n; i < end; i++)
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
                line[i] = '?';
        n = end;
    }
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* nowhere left to report it */
    }
}
