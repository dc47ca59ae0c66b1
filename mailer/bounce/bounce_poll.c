/*
 * bounce_poll.c: reading the configured mailboxes, once (`mailer bounce
 * poll`, for cron) or for as long as `mailer serve` runs (its bounce
 * poller part).
 *
 * Each poll of a mailbox is recorded in bounce_mailboxes (when it ran,
 * when it last succeeded, the last error) for /healthz. Inside serve, one
 * thread per mailbox, each with its own database handle: an IMAP mailbox
 * whose server offers IDLE (and `idle` is on) keeps its session and idles
 * between drains, waking on a new message; the others are polled every
 * [bounce] poll_interval. A failure (server down, login refused) is
 * logged and recorded and retried after the interval (at most a minute
 * while it keeps failing); the other mailboxes go on.
 */
#include "bounce_poll.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounce_imap.h"
#include "bounce_pop3.h"
#include "bounce_store.h"
#include "date.h"
#include "log.h"

#define IDLE_MAX_S (25 * 60) /* RFC 2177: re-issue IDLE within 29 minutes */

enum merr bounce_url_parse(const char *url, struct bounce_url *u)
{
    const char *hp, *slash, *colon;
    memset(u, 0, sizeof *u);
    if (!strncmp(url, "imaps://", 8))
        u->imap = u->implicit_tls = 1, hp = url + 8;
    else if (!strncmp(url, "imap://", 7))
        u->imap = 1, hp = url + 7;
    else if (!strncmp(url, "pop3s://", 8))
        u->implicit_tls = 1, hp = url + 8;
    else if (!strncmp(url, "pop3://", 7))
        hp = url + 7;
    else
        return merr_set(MERR_CONFIG, "mailbox url \"%s\": unknown scheme", url);
    slash = strchr(hp, '/');
    colon = memrchr(hp, ':', slash ? (size_t)(slash - hp) : strlen(hp));
    if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof u->host)
        return merr_set(MERR_CONFIG, "mailbox url \"%s\": expected host:port", url);
    snprintf(u->host, sizeof u->host, "%.*s", (int)(colon - hp), hp);
    if (u->host[0] == '[') { /* [::1] */
        memmove(u->host, u->host + 1, strlen(u->host));
        u->host[strcspn(u->host, "]")] = '\0';
    }
    u->port = atoi(colon + 1);
    if (u->port <= 0 || u->port > 65535)
        return merr_set(MERR_CONFIG, "mailbox url \"%s\": bad port", url);
    snprintf(u->folder, sizeof u->folder, "%s", slash && slash[1] ? slash + 1 : "INBOX");
    return MERR_OK;
}

static void record(struct db *db, const char *name, enum merr rc)
{
    if (bounce_store_mailbox_poll(db, name, rc == MERR_OK, rc ? merr_msg() : NULL, date_now()))
        log_warn("bounce: %s: cannot record the poll: %s", name, merr_msg());
}

static enum merr poll_mailbox(struct db *db, const struct config *cfg, const struct cfg_mailbox *m,
                              atomic_int *stop, struct bounce_intake_count *count)
{
    struct bounce_url u;
    struct bounce_imap *b = NULL;
    enum merr rc = bounce_url_parse(m->url, &u);
    if (rc)
        return rc;
    if (!u.imap)
        return bounce_pop3_poll(cfg, m, db, stop, count);
    rc = bounce_imap_open(cfg, m, &b);
    if (!rc)
        rc = bounce_imap_drain(b, db, stop, count);
    bounce_imap_close(b);
    return rc;
}

enum merr bounce_poll_once(struct db *db, const struct config *cfg, const char *name,
                           struct bounce_intake_count *count)
{
    enum merr first = MERR_OK;
    int any = 0;

    memset(count, 0, sizeof *count);
    for (size_t i = 0; i < cfg->n_mailboxes; i++) {
        const struct cfg_mailbox *m = &cfg->mailboxes[i];
        enum merr rc;
        if (name && strcmp(name, m->name))
            continue;
        any = 1;
        rc = poll_mailbox(db, cfg, m, NULL, count);
        if (rc) {
            log_warn("bounce: %s: %s", m->name, merr_msg());
            if (!first)
                first = rc;
        }
        record(db, m->name, rc);
    }
    if (!any)
        return merr_set(MERR_NOTFOUND,
                        name ? "no mailbox [bounce.%s]"
                             : "no [bounce.NAME] mailbox "
                               "configured%s",
                        name ? name : "");
    if (first)
        return merr_set(first, "a mailbox could not be read (see the log)");
    return MERR_OK;
}

/* ---- inside `mailer serve` ---- */

struct watcher {
    const struct config *cfg;
    const struct cfg_mailbox *m;
    atomic_int *stop;
    pthread_t th;
    int started;
};

/* Sleeps up to `s` seconds, waking at *stop. */
static void nap(atomic_int *stop, int s)
{
    for (int i = 0; i < s * 10 && !atomic_load(stop); i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void watch(struct watcher *w, struct db *db)
{
    int backoff = 5;
    while (!atomic_load(w->stop)) {
        struct bounce_url u;
        struct bounce_intake_count c;
        struct bounce_imap *b = NULL;
        enum merr rc = bounce_url_parse(w->m->url, &u);

        memset(&c, 0, sizeof c);
        if (!rc && u.imap && w->m->idle) {
            rc = bounce_imap_open(w->cfg, w->m, &b);
            if (!rc)
                rc = bounce_imap_drain(b, db, w->stop, &c);
            record(db, w->m->name, rc);
            while (!rc && bounce_imap_can_idle(b) && !atomic_load(w->stop)) {
                rc = bounce_imap_idle(b, IDLE_MAX_S, w->stop);
                if (!rc && !atomic_load(w->stop))
                    rc = bounce_imap_drain(b, db, w->stop, &c);
                record(db, w->m->name, rc);
            }
            bounce_imap_close(b);
        } else if (!rc) {
            rc = poll_mailbox(db, w->cfg, w->m, w->stop, &c);
            record(db, w->m->name, rc);
        }
        if (c.messages)
            log_info("bounce: %s: %ld messages (%ld processed, %ld unparsed, %ld refused, %ld seen "
                     "before)",
                     w->m->name, c.messages, c.processed, c.unparsed, c.refused, c.duplicates);
        if (rc) {
            log_warn("bounce: %s: %s (retrying in %d s)", w->m->name, merr_msg(), backoff);
            nap(w->stop, backoff);
            backoff = backoff * 2 > 60 ? 60 : backoff * 2;
            if (backoff > w->cfg->bounce_poll_interval_s)
                backoff = w->cfg->bounce_poll_interval_s;
            continue;
        }
        backoff = 5;
        nap(w->stop, w->cfg->bounce_poll_interval_s);
    }
}

static void *watcher_main(void *arg)
{
    struct watcher *w = arg;
    struct db *db = NULL;
    while (!atomic_load(w->stop)) {
        if (db_open(w->cfg->db_path, w->cfg->db_busy_timeout_ms, &db) == MERR_OK)
            break;
        log_warn("bounce: %s: database: %s", w->m->name, merr_msg());
        nap(w->stop, 5);
    }
    if (db)
        watch(w, db);
    db_close(db);
    return NULL;
}

enum merr bounce_poll_run(const struct config *cfg, atomic_int *stop)
{
    struct watcher *w = calloc(cfg->n_mailboxes ? cfg->n_mailboxes : 1, sizeof *w);
    enum merr rc = MERR_OK;
    if (!w)
        return merr_set(MERR_NOMEM, "out of memory");
    for (size_t i = 0; i < cfg->n_mailboxes; i++) {
        w[i].cfg = cfg;
        w[i].m = &cfg->mailboxes[i];
        w[i].stop = stop;
        if (pthread_create(&w[i].th, NULL, watcher_main, &w[i]) != 0) {
            rc = merr_set(MERR_INTERNAL, "cannot start the bounce poller of %s", w[i].m->name);
            atomic_store(stop, 1);
            break;
        }
        w[i].started = 1;
        log_info("bounce: watching %s (%s, %s)", w[i].m->name, w[i].m->role, w[i].m->url);
    }
    /* no mailbox configured: the part idles until the stop, healthy */
    while (!atomic_load(stop))
        nap(stop, 1);
    for (size_t i = 0; i < cfg->n_mailboxes; i++)
        if (w[i].started)
            pthread_join(w[i].th, NULL);
    free(w);
    return rc;
}
