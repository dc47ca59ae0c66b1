/*
 * dkim_ref.h: the reference that unit.dkim and fuzz.dkim hold the mailer's
 * DKIM body canonicalization to (header-only, like testutil.h): RFC 6376
 * §3.4.4 "relaxed" written step by step, as dkimpy does it, independent of
 * mailer/compose/dkimsig.c's one-pass version.
 */
#ifndef MAILER_TESTS_DKIM_REF_H
#define MAILER_TESTS_DKIM_REF_H

#include <stdlib.h>

/* The relaxed canonical form of the body in[0..n), into out (at least n + 3 bytes); returns its
 * length.
 */
static inline size_t dkim_ref_body(const char *in, size_t n, char *out)
{
    char *a = malloc(n + 3);
    size_t an = 0, bn = 0, end;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == ' ' || in[i] == '\t') {
            size_t j = i;
            while (j < n && (in[j] == ' ' || in[j] == '\t'))
                j++;
            if (j + 1 < n && in[j] == '\r' && in[j + 1] == '\n') {
                i = j - 1;
                continue;
            }
        }
        a[an++] = in[i];
    }
    for (size_t i = 0; i < an; i++) {
        if (a[i] == ' ' || a[i] == '\t') {
            out[bn++] = ' ';
            while (i + 1 < an && (a[i + 1] == ' ' || a[i + 1] == '\t'))
                i++;
        } else {
            out[bn++] = a[i];
        }
    }
    free(a);
    end = bn;
    while (end >= 2 && out[end - 2] == '\r' && out[end - 1] == '\n')
        end -= 2;
    if (end == bn) {
        out[bn++] = '\r';
        out[bn++] = '\n';
        end = bn;
    } else {
        end += 2;
    }
    if (end == 2 && out[0] == '\r' && out[1] == '\n')
        end = 0;
    return end;
}

#endif
