/*
 * bounce_pop3.c: a POP3 bounce mailbox (RFC 1939) through libetpan.
 *
 * POP3S (implicit TLS) or STLS (RFC 2595 §4; refused unless offered when
 * tls = required), both verified by bounce_tls.c; USER/PASS. Messages are
 * listed with their UIDL (RFC 1939 §7): with leave_on_server (the default)
 * a message whose UIDL was recorded is skipped, the others are read,
 * recorded (bounce_intake_message commits) and only then their UIDL is
 * remembered; with delete (or leave_on_server off) DELE follows the
 * commit, and the deletions take effect at QUIT. A session killed anywhere
 * loses nothing: a message whose UIDL was not remembered, or whose DELE
 * never reached QUIT, is read again next time and found by its content.
 * A server without UIDL gets every message read on every poll; the content
 * key still keeps it from counting twice.
 */
#include "bounce_pop3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_poll.h"
#include "bounce_store.h"
#include "bounce_tls.h"
#include "date.h"

static enum merr pop_fail(mailpop3 *p, const struct bounce_url *u, int r, const char *what)
{
    enum merr rc = r == MAILPOP3_ERROR_STREAM || r == MAILPOP3_ERROR_CONNECTION_REFUSED
                       ? MERR_TEMPFAIL
                   : r == MAILPOP3_ERROR_BAD_USER || r == MAILPOP3_ERROR_BAD_PASSWORD ||
                           r == MAILPOP3_ERROR_DENIED
                       ? MERR_CONFIG
                       : MERR_TEMPFAIL;
    return merr_set(rc, "POP3 %s:%d: %s failed (libetpan %d): %s", u->host, u->port, what, r,
                    p && p->pop3_response ? p->pop3_response : "no response");
}

static int has_capa(mailpop3 *p, const char *name)
{
    clist *caps = NULL;
    int found = 0;
    if (mailpop3_capa(p, &caps) != MAILPOP3_NO_ERROR)
        return 0;
    for (clistiter *i = clist_begin(caps); i && !found; i = clist_next(i)) {
        struct mailpop3_capa *c = clist_content(i);
        found = c->cap_name && !strcasecmp(c->cap_name, name);
    }
    mailpop3_capa_resp_free(caps);
    return found;
}

static enum merr session(const struct config *cfg, const struct cfg_mailbox *m,
                         const struct bounce_url *u, mailpop3 *p)
{
    mailstream *stream = NULL;
    mailstream_low *low;
    int fd, r;
    enum merr rc;

    rc = bounce_tls_connect(u->host, u->port, cfg->bounce_timeout_s, &fd);
    if (rc)
        return rc;
    if (u->implicit_tls) {
        rc = bounce_tls_start(fd, u->host, cfg->smtp_ca_file, &low);
        if (rc)
            return rc;
        stream = mailstream_new(low, 8192);
        if (!stream) {
            mailstream_low_close(low);
            mailstream_low_free(low);
        }
    } else {
        stream = mailstream_socket_open_timeout(fd, cfg->bounce_timeout_s);
        if (!stream)
            close(fd);
    }
    if (!stream)
        return merr_set(MERR_NOMEM, "out of memory");
    r = mailpop3_connect(p, stream);
    if (r != MAILPOP3_NO_ERROR)
        return pop_fail(p, u, r, "greeting");
    if (!u->implicit_tls && m->tls != CFG_TLS_NONE) {
        if (!has_capa(p, "STLS"))
            return merr_set(MERR_CONFIG, "POP3 %s:%d offers no STLS (tls = required)", u->host,
                            u->port);
        r = mailpop3_stls(p);
        if (r != MAILPOP3_NO_ERROR)
            return pop_fail(p, u, r, "STLS");
        rc = bounce_tls_swap(p->pop3_stream, u->host, cfg->smtp_ca_file);
        if (rc)
            return rc;
    }
    r = mailpop3_user(p, m->username);
    if (r == MAILPOP3_NO_ERROR)
        r = mailpop3_pass(p, m->password ? m->password : "");
    if (r != MAILPOP3_NO_ERROR)
        return merr_set(MERR_CONFIG, "POP3 %s:%d: login as %s refused: %s", u->host, u->port,
                        m->username, p->pop3_response ? p->pop3_response : "no response");
    return MERR_OK;
}

enum merr bounce_pop3_poll(const struct config *cfg, const struct cfg_mailbox *m, struct db *db,
                           atomic_int *stop, struct bounce_intake_count *count)
{
    struct bounce_url u;
    mailpop3 *p;
    carray *msgs = NULL;
    int r, keep = m->leave_on_server && !m->delete;
    enum merr rc;

    rc = bounce_url_parse(m->url, &u);
    if (rc)
        return rc;
    p = mailpop3_new(0, NULL);
    if (!p)
        return merr_set(MERR_NOMEM, "out of memory");
    mailpop3_set_timeout(p, cfg->bounce_timeout_s);
    rc = session(cfg, m, &u, p);
    if (rc)
        goto out;
    r = mailpop3_list(p, &msgs);
    if (r != MAILPOP3_NO_ERROR) {
        rc = pop_fail(p, &u, r, "LIST");
        goto out;
    }
    for (unsigned i = 0; msgs && i < carray_count(msgs) && !rc; i++) {
        struct mailpop3_msg_info *mi = carray_get(msgs, i);
        struct bounce_result res;
        char *data = NULL;
        size_t len = 0;
        int seen = 0;

        if (stop && atomic_load(stop))
            break;
        if (!mi || mi->msg_deleted)
            continue;
        if (keep && mi->msg_uidl) {
            rc = bounce_store_pop3_seen(db, m->name, mi->msg_uidl, &seen);
            if (rc || seen)
                continue;
        }
        r = mailpop3_retr(p, mi->msg_index, &data, &len);
        if (r != MAILPOP3_NO_ERROR) {
            rc = pop_fail(p, &u, r, "RETR");
            break;
        }
        rc = bounce_intake_message(db, cfg, m->name, m->role, data, len, NULL, date_now(), &res);
        mailpop3_retr_free(data);
        if (rc)
            break;
        bounce_intake_tally(count, &res);
        if (!keep) {
            r = mailpop3_dele(p, mi->msg_index);
            if (r != MAILPOP3_NO_ERROR)
                rc = pop_fail(p, &u, r, "DELE");
        } else if (mi->msg_uidl) {
            rc = bounce_store_pop3_mark(db, m->name, mi->msg_uidl, date_now());
        }
    }
    if (!rc) {
        r = mailpop3_quit(p); /* the DELEs take effect here (RFC 1939 §6) */
        if (r != MAILPOP3_NO_ERROR)
            rc = pop_fail(p, &u, r, "QUIT");
    }
out:
    mailpop3_free(p);
    return rc;
}
