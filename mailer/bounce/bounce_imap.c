/*
 * bounce_imap.c: an IMAP4rev1 bounce mailbox (RFC 3501) through libetpan.
 *
 * Session: implicit TLS (imaps://) or STARTTLS (imap://, RFC 3501 §6.2.1;
 * refused unless offered when tls = required), both verified by
 * bounce_tls.c; AUTHENTICATE PLAIN (RFC 4616) when the server offers it
 * (and auth is not "login"), else LOGIN (RFC 3501 §6.2.3). Capabilities are asked again after TLS.
 *
 * Draining: SELECT the folder, UID SEARCH UNDELETED, then per message UID
 * FETCH BODY.PEEK[]<0.N> (N = [bounce] max_message_size + 1: a larger
 * message is only read far enough to be recorded unparsed), record it
 * (bounce_intake_message commits), and only then move it out of the way:
 * UID MOVE (RFC 6851) to Processed or Unparsed when offered, else UID COPY,
 * STORE \Deleted and UID EXPUNGE (RFC 4315) or EXPUNGE; or with `delete`
 * STORE \Deleted and expunge. Killed between the commit and the move, the
 * message is read again next time, found by its content, and moved.
 *
 * Waiting: IDLE (RFC 2177) when offered and asked for: the client idles up
 * to 25 minutes (the RFC asks to re-issue within 29), wakes on any
 * untagged data (a new message's EXISTS) or the stop flag, sends DONE, and
 * drains again.
 */
#include "bounce_imap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounce_store.h"
#include "bounce_tls.h"
#include "date.h"
#include "log.h"

struct bounce_imap {
    mailimap *s;
    const struct config *cfg;
    const struct cfg_mailbox *m;
    struct bounce_url u;
    int has_idle, has_move, has_uidplus;
};

/* The server's last response text, for error messages. */
static const char *said(const struct bounce_imap *b)
{
    return b->s && b->s->imap_response ? b->s->imap_response : "no response";
}

static enum merr imap_fail(struct bounce_imap *b, int r, const char *what)
{
    if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_CONNECTION_REFUSED)
        return merr_set(MERR_TEMPFAIL, "IMAP %s:%d: %s: connection lost", b->u.host, b->u.port,
                        what);
    return merr_set(r == MAILIMAP_ERROR_LOGIN ? MERR_CONFIG : MERR_TEMPFAIL,
                    "IMAP %s:%d: %s failed (libetpan %d): %s", b->u.host, b->u.port, what, r,
                    said(b));
}

static void capabilities(struct bounce_imap *b)
{
    struct mailimap_capability_data *cap = NULL;
    if (mailimap_capability(b->s, &cap) == MAILIMAP_NO_ERROR)
        mailimap_capability_data_free(cap);
    b->has_idle = mailimap_has_idle(b->s);
    b->has_move = mailimap_has_extension(b->s, "MOVE");
    b->has_uidplus = mailimap_has_extension(b->s, "UIDPLUS");
}

static enum merr login(struct bounce_imap *b)
{
    const char *user = b->m->username, *pass = b->m->password ? b->m->password : "";
    int r = MAILIMAP_ERROR_LOGIN;

    if (!b->m->auth_login && mailimap_has_authentication(b->s, "PLAIN"))
        r = mailimap_authenticate(b->s, "PLAIN", b->u.host, NULL, NULL, user, user, pass, NULL);
    if (r != MAILIMAP_NO_ERROR && !mailimap_has_extension(b->s, "LOGINDISABLED"))
        r = mailimap_login(b->s, user, pass);
    if (r != MAILIMAP_NO_ERROR)
        return merr_set(MERR_CONFIG, "IMAP %s:%d: login as %s refused: %s", b->u.host, b->u.port,
                        user, said(b));
    return MERR_OK;
}

enum merr bounce_imap_open(const struct config *cfg, const struct cfg_mailbox *m,
                           struct bounce_imap **out)
{
    struct bounce_imap *b = calloc(1, sizeof *b);
    mailstream *stream = NULL;
    mailstream_low *low;
    int fd, r;
    enum merr rc;

    *out = NULL;
    if (!b)
        return merr_set(MERR_NOMEM, "out of memory");
    b->cfg = cfg;
    b->m = m;
    rc = bounce_url_parse(m->url, &b->u);
    if (rc)
        goto fail;
    b->s = mailimap_new(0, NULL);
    if (!b->s) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto fail;
    }
    mailimap_set_timeout(b->s, cfg->bounce_timeout_s);
    rc = bounce_tls_connect(b->u.host, b->u.port, cfg->bounce_timeout_s, &fd);
    if (rc)
        goto fail;
    if (b->u.implicit_tls) {
        rc = bounce_tls_start(fd, b->u.host, cfg->smtp_ca_file, &low);
        if (rc)
            goto fail;
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
    if (!stream) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto fail;
    }
    r = mailimap_connect(b->s, stream); /* owns the stream from here */
    if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED && r != MAILIMAP_NO_ERROR_AUTHENTICATED) {
        rc = imap_fail(b, r, "greeting");
        goto fail;
    }
    capabilities(b);
    if (!b->u.implicit_tls && m->tls != CFG_TLS_NONE) {
        if (!mailimap_has_extension(b->s, "STARTTLS")) {
            rc = merr_set(MERR_CONFIG, "IMAP %s:%d offers no STARTTLS (tls = required)", b->u.host,
                          b->u.port);
            goto fail;
        }
        r = mailimap_starttls(b->s);
        if (r != MAILIMAP_NO_ERROR) {
            rc = imap_fail(b, r, "STARTTLS");
            goto fail;
        }
        rc = bounce_tls_swap(b->s->imap_stream, b->u.host, cfg->smtp_ca_file);
        if (rc)
            goto fail;
        capabilities(b); /* RFC 3501 §6.2.1: forget what was said in plain text */
    }
    rc = login(b);
    if (rc)
        goto fail;
    capabilities(b);
    *out = b;
    return MERR_OK;
fail:
    bounce_imap_close(b);
    return rc;
}

void bounce_imap_close(struct bounce_imap *b)
{
    if (!b)
        return;
    if (b->s) {
        if (b->s->imap_stream)
            mailimap_logout(b->s);
        mailimap_free(b->s);
    }
    free(b);
}

/* The message body of a UID FETCH result (first body section). */
static int body_of(clist *result, const char **data, size_t *len)
{
    for (clistiter *i = clist_begin(result); i; i = clist_next(i)) {
        struct mailimap_msg_att *ma = clist_content(i);
        for (clistiter *k = clist_begin(ma->att_list); k; k = clist_next(k)) {
            struct mailimap_msg_att_item *it = clist_content(k);
            if (it->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
                it->att_data.att_static->att_type == MAILIMAP_MSG_ATT_BODY_SECTION) {
                struct mailimap_msg_att_body_section *bs =
                    it->att_data.att_static->att_data.att_body_section;
                *data = bs->sec_body_part ? bs->sec_body_part : "";
                *len = bs->sec_body_part ? bs->sec_length : 0;
                return 1;
            }
        }
    }
    return 0;
}

static enum merr expunge(struct bounce_imap *b, uint32_t uid)
{
    struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
    struct mailimap_store_att_flags *sf;
    struct mailimap_set *set;
    int r;

    if (!fl || mailimap_flag_list_add(fl, mailimap_flag_new_deleted()) != MAILIMAP_NO_ERROR)
        return merr_set(MERR_NOMEM, "out of memory");
    sf = mailimap_store_att_flags_new_add_flags_silent(fl);
    set = mailimap_set_new_single(uid);
    r = sf && set ? mailimap_uid_store(b->s, set, sf) : MAILIMAP_ERROR_MEMORY;
    if (set)
        mailimap_set_free(set);
    if (sf)
        mailimap_store_att_flags_free(sf);
    else
        mailimap_flag_list_free(fl);
    if (r != MAILIMAP_NO_ERROR)
        return imap_fail(b, r, "STORE \\Deleted");
    if (b->has_uidplus) {
        set = mailimap_set_new_single(uid);
        r = set ? mailimap_uid_expunge(b->s, set) : MAILIMAP_ERROR_MEMORY;
        if (set)
            mailimap_set_free(set);
    } else {
        r = mailimap_expunge(b->s);
    }
    return r == MAILIMAP_NO_ERROR ? MERR_OK : imap_fail(b, r, "EXPUNGE");
}

static enum merr move(struct bounce_imap *b, uint32_t uid, const char *folder)
{
    struct mailimap_set *set = mailimap_set_new_single(uid);
    int r;
    if (!set)
        return merr_set(MERR_NOMEM, "out of memory");
    if (b->has_move) {
        r = mailimap_uid_move(b->s, set, folder);
        mailimap_set_free(set);
        return r == MAILIMAP_NO_ERROR ? MERR_OK : imap_fail(b, r, "UID MOVE");
    }
    r = mailimap_uid_copy(b->s, set, folder);
    mailimap_set_free(set);
    if (r != MAILIMAP_NO_ERROR)
        return imap_fail(b, r, "UID COPY");
    return expunge(b, uid);
}

enum merr bounce_imap_drain(struct bounce_imap *b, struct db *db, atomic_int *stop,
                            struct bounce_intake_count *count)
{
    struct mailimap_search_key *key;
    clist *uids = NULL;
    int r;
    enum merr rc = MERR_OK;
    const char *folders[2] = {b->cfg->bounce_processed_folder, b->cfg->bounce_unparsed_folder};

    /* the folders, if missing (CREATE of an existing one fails harmlessly) */
    if (!b->m->delete)
        for (int i = 0; i < 2; i++)
            mailimap_create(b->s, folders[i]);
    r = mailimap_select(b->s, b->u.folder);
    if (r != MAILIMAP_NO_ERROR)
        return imap_fail(b, r, "SELECT");
    key = mailimap_search_key_new(MAILIMAP_SEARCH_KEY_UNDELETED, NULL, NULL, NULL, NULL, NULL, NULL,
                                  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL,
                                  NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL);
    if (!key)
        return merr_set(MERR_NOMEM, "out of memory");
    r = mailimap_uid_search(b->s, NULL, key, &uids);
    mailimap_search_key_free(key);
    if (r != MAILIMAP_NO_ERROR)
        return imap_fail(b, r, "UID SEARCH");
    for (clistiter *it = clist_begin(uids); it && !rc; it = clist_next(it)) {
        uint32_t uid = *(uint32_t *)clist_content(it);
        struct mailimap_set *set;
        struct mailimap_fetch_type *ft;
        struct mailimap_section *sec;
        struct mailimap_fetch_att *att;
        struct bounce_result res;
        clist *result = NULL;
        const char *data;
        size_t len;

        if (stop && atomic_load(stop))
            break;
        set = mailimap_set_new_single(uid);
        sec = mailimap_section_new(NULL);
        att = sec ? mailimap_fetch_att_new_body_peek_section_partial(
                        sec, 0, (uint32_t)b->cfg->bounce_max_size + 1)
                  : NULL;
        ft = att ? mailimap_fetch_type_new_fetch_att(att) : NULL;
        if (!set || !ft) {
            if (set)
                mailimap_set_free(set);
            if (ft)
                mailimap_fetch_type_free(ft);
            else if (att)
                mailimap_fetch_att_free(att);
            else if (sec)
                mailimap_section_free(sec);
            rc = merr_set(MERR_NOMEM, "out of memory");
            break;
        }
        r = mailimap_uid_fetch(b->s, set, ft, &result);
        mailimap_set_free(set);
        mailimap_fetch_type_free(ft);
        if (r != MAILIMAP_NO_ERROR) {
            rc = imap_fail(b, r, "UID FETCH");
            break;
        }
        if (!body_of(result, &data, &len)) {
            mailimap_fetch_list_free(result);
            continue; /* expunged meanwhile */
        }
        rc = bounce_intake_message(db, b->cfg, b->m->name, b->m->role, data, len, NULL, date_now(),
                                   &res);
        mailimap_fetch_list_free(result);
        if (rc)
            break;
        bounce_intake_tally(count, &res);
        rc = b->m->delete ? expunge(b, uid)
                          : move(b, uid, strcmp(res.state, "processed") ? folders[1] : folders[0]);
    }
    if (uids)
        mailimap_search_result_free(uids);
    return rc;
}

int bounce_imap_can_idle(const struct bounce_imap *b)
{
    return b->has_idle;
}

enum merr bounce_imap_idle(struct bounce_imap *b, int max_s, atomic_int *stop)
{
    time_t until = time(NULL) + max_s;
    int r = mailimap_idle(b->s), w = 0;
    if (r != MAILIMAP_NO_ERROR)
        return imap_fail(b, r, "IDLE");
    while (!atomic_load(stop) && time(NULL) < until) {
        w = bounce_tls_wait(b->s->imap_stream, 500);
        if (w != 0)
            break;
    }
    r = mailimap_idle_done(b->s);
    if (r != MAILIMAP_NO_ERROR)
        return imap_fail(b, r, "IDLE DONE");
    return w < 0 ? merr_set(MERR_TEMPFAIL, "IMAP %s: waiting: connection lost", b->u.host)
                 : MERR_OK;
}
