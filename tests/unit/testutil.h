/*
 * testutil.h: small helpers shared by the unit tests (header-only).
 */
#ifndef MAILER_TESTS_TESTUTIL_H
#define MAILER_TESTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A fresh empty directory for one test, under $MAILER_TEST_TMP (set by CTest)
 * or /tmp. Returns a static buffer: copy it if you need two.
 */
static inline const char *test_tmpdir(const char *name)
{
    static char path[512];
    const char *base = getenv("MAILER_TEST_TMP");
    char cmd[700];
    if (!base)
        base = "/tmp/mailer-tests";
    mkdir(base, 0755);
    snprintf(path, sizeof path, "%s/%s.%d", base, name, (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        abort();
    if (mkdir(path, 0755) != 0)
        abort();
    return path;
}

/* The source tree (for fixtures): $MAILER_SOURCE_DIR or the compile-time path. */
static inline const char *test_source_dir(void)
{
    const char *s = getenv("MAILER_SOURCE_DIR");
    return s ? s : MAILER_SOURCE_DIR;
}

/* Writes `text` to `path`; aborts on failure. */
static inline void test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

#endif
