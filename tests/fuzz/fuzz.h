/*
 * fuzz.h: what the harnesses share. FUZZ_CHECK stops the run with a
 * message naming the harness and the property when `cond` is false;
 * libFuzzer then reports the input as a crash and keeps it.
 */
#ifndef MAILER_TESTS_FUZZ_H
#define MAILER_TESTS_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, what)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, what, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
