/*
 * transport_tool.c: a small driver for the transport integration tests.
 *
 *   transport_tool --transport URL [--tls required|opportunistic|none]
 *                  [--ca FILE] [--user U --pass P] [--helo NAME]
 *                  [--connect-ms N] [--command-ms N] [--per-conn N]
 *                  [--sends K] --from ADDR [--envid ID]
 *                  [--cb 1] [--cb-sleep-ms N] [--cb-stop-after K]
 *                  [--end-sleep-ms N] [--end-stop-at K]
 *                  (--rcpt ADDR --msg FILE)...
 *
 * Builds one transport_msg per --rcpt/--msg pair, calls transport_send()
 * K times (default 1) on one open transport, and prints one line per
 * message and send: "send I id N rc NAME code C text T". Exit 2 if
 * transport_open fails (the reason on stderr and on stdout as
 * "open rc NAME text T").
 *
 * With --cb (or either --cb-* option) it passes hooks to transport_send();
 * the callback prints "cb id N rc NAME code C skipped S enter E exit X"
 * where E and X are CLOCK_MONOTONIC seconds (the clock Python's
 * time.monotonic() reads) when it was entered and when it returned, after
 * sleeping N ms; it asks to stop after its K-th call. With the --end-*
 * options a before_end hook is set too: it prints "end id N enter E exit X"
 * around a sleep of N ms and asks to stop at its K-th call.
 *
 * With --lazy 1 the messages are given without data and the load hook
 * hands each body out on demand, printing "load id N live L" (L: messages
 * loaded and not released before this one) and "release id N live L";
 * --lazy-fail-at K makes the K-th load fail (MERR_TEMPFAIL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "transport.h"

#define MAX_MSGS 2000

static int cb_sleep_ms, cb_stop_after, cb_calls, end_sleep_ms, end_stop_at, end_calls;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *rc_name(enum merr rc);

static int on_done(void *arg, struct transport_msg *m)
{
    double enter = mono();
    struct timespec ts = {cb_sleep_ms / 1000, (long)(cb_sleep_ms % 1000) * 1000000L};

    (void)arg;
    if (cb_sleep_ms > 0)
        nanosleep(&ts, NULL);
    printf("cb id %lld rc %s code %d skipped %d enter %.6f exit %.6f\n", m->envelope_id,
           rc_name(m->rc), m->code, m->skipped, enter, mono());
    fflush(stdout);
    return ++cb_calls == cb_stop_after;
}

static int on_end(void *arg, struct transport_msg *m)
{
    double enter = mono();
    struct timespec ts = {end_sleep_ms / 1000, (long)(end_sleep_ms % 1000) * 1000000L};

    (void)arg;
    if (end_sleep_ms > 0)
        nanosleep(&ts, NULL);
    printf("end id %lld enter %.6f exit %.6f\n", m->envelope_id, enter, mono());
    fflush(stdout);
    return ++end_calls == end_stop_at;
}

/* --lazy: messages have no data; the load hook hands out their body. */
static struct buf *lazy_body[MAX_MSGS];
static int lazy_fail_at, lazy_loads, lazy_live;

static enum merr on_load(void *arg, struct transport_msg *m)
{
    struct transport_msg *msgs = arg;
    size_t i = (size_t)(m - msgs);

    lazy_loads++;
    printf("load id %lld live %d\n", m->envelope_id, lazy_live);
    fflush(stdout);
    if (lazy_loads == lazy_fail_at)
        return merr_set(MERR_TEMPFAIL, "load %d refused by the test", lazy_loads);
    lazy_live++;
    m->data = lazy_body[i]->data;
    m->len = lazy_body[i]->len;
    return MERR_OK;
}

static void on_release(void *arg, struct transport_msg *m)
{
    (void)arg;
    lazy_live--;
    printf("release id %lld live %d\n", m->envelope_id, lazy_live);
    fflush(stdout);
}

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
}

static const char *rc_name(enum merr rc)
{
    return rc == MERR_OK         ? "ok"
           : rc == MERR_TEMPFAIL ? "tempfail"
           : rc == MERR_PERMFAIL ? "permfail"
                                 : merr_str(rc);
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct transport *t = NULL;
    static struct transport_msg msgs[MAX_MSGS];
    static struct buf bodies[MAX_MSGS];
    const char *from = NULL, *envid = NULL, *rcpts[MAX_MSGS];
    size_t n = 0, nbody = 0;
    int sends = 1, status = 0, use_cb = 0, use_end = 0, lazy = 0;
    struct transport_hooks hooks = {.done = on_done};
    enum merr rc;

    if (cfg_defaults(&cfg))
        return 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "%s: needs a value\n", a);
            return 1;
        }
        i++;
        if (!strcmp(a, "--transport"))
            set_str(&cfg.transport, v);
        else if (!strcmp(a, "--tls"))
            cfg.smtp_tls = !strcmp(v, "none")            ? CFG_TLS_NONE
                           : !strcmp(v, "opportunistic") ? CFG_TLS_OPPORTUNISTIC
                                                         : CFG_TLS_REQUIRED;
        else if (!strcmp(a, "--ca"))
            set_str(&cfg.smtp_ca_file, v);
        else if (!strcmp(a, "--user"))
            set_str(&cfg.smtp_username, v);
        else if (!strcmp(a, "--pass"))
            set_str(&cfg.smtp_password, v);
        else if (!strcmp(a, "--helo"))
            set_str(&cfg.smtp_helo, v);
        else if (!strcmp(a, "--connect-ms"))
            cfg.smtp_connect_timeout_ms = atoi(v);
        else if (!strcmp(a, "--command-ms"))
            cfg.smtp_command_timeout_ms = atoi(v);
        else if (!strcmp(a, "--per-conn"))
            cfg.smtp_messages_per_connection = atoi(v);
        else if (!strcmp(a, "--sends"))
            sends = atoi(v);
        else if (!strcmp(a, "--cb"))
            use_cb = atoi(v);
        else if (!strcmp(a, "--cb-sleep-ms"))
            use_cb = 1, cb_sleep_ms = atoi(v);
        else if (!strcmp(a, "--cb-stop-after"))
            use_cb = 1, cb_stop_after = atoi(v);
        else if (!strcmp(a, "--end-sleep-ms"))
            use_cb = use_end = 1, end_sleep_ms = atoi(v);
        else if (!strcmp(a, "--end-stop-at"))
            use_cb = use_end = 1, end_stop_at = atoi(v);
        else if (!strcmp(a, "--lazy"))
            use_cb = lazy = atoi(v);
        else if (!strcmp(a, "--lazy-fail-at"))
            use_cb = lazy = 1, lazy_fail_at = atoi(v);
        else if (!strcmp(a, "--from"))
            from = v;
        else if (!strcmp(a, "--envid"))
            envid = v;
        else if (!strcmp(a, "--rcpt") && n < MAX_MSGS)
            rcpts[n++] = v;
        else if (!strcmp(a, "--msg") && nbody < MAX_MSGS) {
            buf_init(&bodies[nbody], 0);
            if (buf_read_file(&bodies[nbody], v)) {
                fprintf(stderr, "%s\n", merr_msg());
                return 1;
            }
            nbody++;
        } else {
            fprintf(stderr, "unknown option %s\n", a);
            return 1;
        }
    }
    if (!from || n == 0 || nbody == 0) {
        fprintf(stderr, "need --from, --rcpt and --msg\n");
        return 1;
    }
    rc = transport_open(&cfg, &t);
    if (rc) {
        printf("open rc %s text %s\n", rc_name(rc), merr_msg());
        fprintf(stderr, "%s\n", merr_msg());
        cfg_free(&cfg);
        return 2;
    }
    for (int s = 0; s < sends; s++) {
        for (size_t i = 0; i < n; i++) {
            struct buf *b = &bodies[i < nbody ? i : nbody - 1];
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].envelope_id = (long long)(s * 100000 + (int)i + 1);
            msgs[i].mail_from = from;
            msgs[i].rcpt = rcpts[i];
            msgs[i].envid = envid;
            msgs[i].data = b->data;
            msgs[i].len = b->len;
            if (lazy) {
                lazy_body[i] = b;
                msgs[i].data = NULL;
                msgs[i].len = 0;
            }
        }
        if (lazy) {
            hooks.load = on_load;
            hooks.release = on_release;
            hooks.arg = msgs;
        }
        if (use_end)
            hooks.before_end = on_end;
        rc = transport_send(t, msgs, n, use_cb ? &hooks : NULL);
        if (rc)
            status = 4;
        for (size_t i = 0; i < n; i++)
            printf("send %d id %lld rc %s code %d text %s\n", s, msgs[i].envelope_id,
                   rc_name(msgs[i].rc), msgs[i].code, msgs[i].text);
    }
    fflush(stdout);
    transport_close(t);
    for (size_t i = 0; i < nbody; i++)
        buf_free(&bodies[i]);
    cfg_free(&cfg);
    return status;
}
