/*
 * log.h: one line per event on stderr, with a UTC timestamp and a level.
 *
 * Lines look like `2026-11-26T10:00:00.123Z info  delivery: sent 40 (4 conn)`.
 * Nothing secret may be passed here: no passwords, tokens, AUTH exchanges or
 * full unsubscribe links. A line is written with one write(2) so lines from
 * threads never interleave.
 */
#ifndef MAILER_CORE_LOG_H
#define MAILER_CORE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* Sets the lowest level written (default LOG_INFO, or $MAILER_LOG). */
void log_set_level(enum log_level level);

/* Parses "debug|info|warn|error|off"; returns -1 if unknown. */
int log_level_parse(const char *s);

enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
