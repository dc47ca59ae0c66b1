/*
 * transport.c: the transport kinds as a table of operations (struct
 * transport_ops, transport_int.h), and the one transport a worker holds:
 * picked from cfg->transport by its prefix.
 *
 * A kind is a row of `kinds` below and a file of its own (transport_dir.c,
 * transport_smtp.c) that knows nothing of the others; what every kind does
 * with a message the same way (the checks before any I/O, the outcome,
 * loading on demand, reporting) is transport_msg.c's. A new kind (a pipe to
 * sendmail, a test double) is one more row.
 */
#include "transport.h"

#include <stdlib.h>
#include <string.h>

#include "transport_int.h"

static const struct transport_ops *const kinds[] = {&transport_dir_ops, &transport_smtp_ops};

struct transport {
    const struct transport_ops *ops;
    void *impl;
};

enum merr transport_open(const struct config *cfg, struct transport **out)
{
    enum merr rc = MERR_OK;
    struct transport *t;
    const char *spec = cfg->transport;

    *out = NULL;
    if (!spec)
        return merr_set(MERR_CONFIG, "[delivery] transport: not set");
    if (strncmp(spec, "smtps://", 8) == 0)
        /* libESMTP 1.1.0 only knows STARTTLS (RFC 3207): its session
         * always starts in plain text, and there is no API to hand it a
         * connected TLS socket, so implicit TLS (RFC 8314 section 3.3)
         * cannot be done with it. */
        return merr_set(MERR_CONFIG,
                        "[delivery] transport \"%s\": smtps:// (implicit TLS) is not supported by "
                        "libESMTP 1.1.0; use smtp://host:587 with [smtp] tls = required (STARTTLS)",
                        spec);
    t = calloc(1, sizeof *t);
    if (!t)
        return merr_set(MERR_NOMEM, "transport: out of memory");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i]->prefix);
        if (strncmp(spec, kinds[i]->prefix, n) == 0) {
            t->ops = kinds[i];
            rc = t->ops->open(cfg, spec + n, &t->impl);
            break;
        }
    }
    if (!t->ops)
        rc = merr_set(MERR_CONFIG,
                      "[delivery] transport \"%s\": expected dir:PATH or smtp://host:port", spec);
    if (rc)
        goto out;
    *out = t;
    t = NULL;
out:
    transport_close(t);
    return rc;
}

enum merr transport_send(struct transport *t, struct transport_msg *msgs, size_t n,
                         const struct transport_hooks *hooks)
{
    if (n == 0)
        return MERR_OK;
    for (size_t i = 0; i < n; i++) {
        msgs[i].skipped = 0;
        msgs[i].loaded = 0;
    }
    return t->ops->send(t->impl, msgs, n, hooks);
}

void transport_close(struct transport *t)
{
    if (!t)
        return;
    if (t->ops && t->impl)
        t->ops->close(t->impl);
    free(t);
}
