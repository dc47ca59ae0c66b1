/*
 * bounce_view.c: what the CLI, the admin API, /metrics and /healthz show
 * of the bounces: listings, one bounce in full, counters, mailbox health.
 *
 * The Prometheus counters are counted from the tables, not kept in memory:
 * they survive restarts, agree between `mailer serve` and the CLI, and
 * never go down (rows are not deleted; an undo keeps its row).
 */
#include <stdio.h>
#include <string.h>

#include "bounce.h"
#include "bounce_int.h"
#include "bounce_store.h"

enum merr bounce_view_list(struct db *db, const struct bounce_filter *f, json_t **out)
{
    return bounce_store_list(db, f, out);
}

enum merr bounce_view_show(struct db *db, long long id, json_t **out, char **raw, size_t *raw_len)
{
    return bounce_store_show(db, id, out, raw, raw_len);
}

enum merr bounce_view_text(const char *p, size_t n, struct buf *out)
{
    return bounce_mime_clean(p, n, (size_t)-1 / 2, out);
}

enum merr bounce_view_health(struct db *db, json_t **out)
{
    return bounce_store_health(db, out);
}

struct metrics {
    struct buf *out;
    int header_class, header_state;
    enum merr rc;
};

/* Label values are ours (mailbox names are [A-Za-z0-9_-], classes and states fixed). */
static void one(void *arg, const char *mailbox, const char *what, const char *value, int attributed,
                long long count)
{
    struct metrics *m = arg;
    if (m->rc)
        return;
    if (!strcmp(what, "class")) {
        if (!m->header_class++)
            m->rc = buf_puts(m->out, "# HELP mailer_bounce_recipients_total Recipients read from "
                                     "bounce mailboxes, by mailbox, class and attribution.\n"
                                     "# TYPE mailer_bounce_recipients_total counter\n");
        if (!m->rc)
            m->rc = buf_printf(m->out,
                               "mailer_bounce_recipients_total{mailbox=\"%s\",class=\"%s\","
                               "attributed=\"%s\"} %lld\n",
                               mailbox, value, attributed ? "yes" : "no", count);
    } else {
        if (!m->header_state++)
            m->rc = buf_puts(m->out, "# HELP mailer_bounce_messages_total Messages read from "
                                     "bounce mailboxes, by mailbox and outcome (processed, "
                                     "unparsed, refused: forged token).\n"
                                     "# TYPE mailer_bounce_messages_total counter\n");
        if (!m->rc)
            m->rc = buf_printf(m->out,
                               "mailer_bounce_messages_total{mailbox=\"%s\",state=\"%s\"} %lld\n",
                               mailbox, value, count);
    }
}

enum merr bounce_view_metrics(struct db *db, struct buf *out)
{
    struct metrics m = {out, 0, 0, MERR_OK};
    enum merr rc = bounce_store_metrics(db, one, &m);
    return rc ? rc : m.rc;
}
