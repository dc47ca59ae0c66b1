/*
 * bounce_intake.c: one message into the database, and the file-based
 * sources (a maildir, an mbox).
 *
 * Idempotence comes from the content: a message is keyed by the SHA-256 of
 * its bytes with CR LF folded to LF (IMAP hands over CR LF, a maildir file
 * has LF), and its row, its recipients and every consequence are written
 * in one transaction. So the same message read twice, by two paths, or by
 * a poll killed after the commit but before the message was moved, finds
 * its row and changes nothing; a poll killed before the commit left
 * nothing behind and the message is read again.
 *
 * A maildir is read from new/ and cur/ in name order; each message, once
 * its result is committed, moves to the Maildir++ folder .Processed or
 * .Unparsed ([bounce] processed_folder / unparsed_folder) beside them,
 * never deleted. An mbox (mboxo/mboxrd, ">From " unescaped) is read and
 * left as it is; reading it again changes nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounce_int.h"
#include "bounce_store.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "log.h"

/* SHA-256 hex of the message with CR before LF dropped. */
static enum merr content_hash(const char *p, size_t n, char out[65])
{
    char *c = malloc(n ? n : 1);
    size_t k = 0;
    if (!c)
        return merr_set(MERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n'))
            c[k++] = p[i];
    crypto_sha256_hex(out, c, k);
    free(c);
    return MERR_OK;
}

enum merr bounce_intake_message(struct db *db, const struct config *cfg, const char *mailbox,
                                const char *role, const char *data, size_t len,
                                const char *rcpt_hint, time_t now, struct bounce_result *res)
{
    struct bounce_limits lim;
    struct bounce_report *r = NULL;
    struct bounce_store_row row;
    char sha[65];
    enum merr rc;

    memset(res, 0, sizeof *res);
    rc = content_hash(data, len, sha);
    if (rc)
        return rc;
    rc = bounce_store_seen(db, sha, &res->bounce_id, res->state);
    if (rc == MERR_OK) {
        res->duplicate = 1;
        snprintf(res->note, sizeof res->note, "seen before as bounce %lld", res->bounce_id);
        return MERR_OK;
    }
    if (rc != MERR_NOTFOUND)
        return rc;
    bounce_limits_default(&lim);
    lim.max_size = cfg->bounce_max_size;
    rc = bounce_parse(data, len, &lim, &r);
    if (rc)
        return rc;

    snprintf(res->kind, sizeof res->kind, "%s", bounce_kind_name(r->kind));
    snprintf(res->state, sizeof res->state, "%s", r->unparsed ? "unparsed" : "processed");
    if (r->unparsed)
        snprintf(res->note, sizeof res->note, "unparsed: %s", r->unparsed);
    memset(&row, 0, sizeof row);
    row.sha256 = sha;
    row.mailbox = mailbox;
    row.role = role;
    row.kind = res->kind;
    row.state = res->state;
    row.note = res->note;
    row.message_id = r->message_id;
    row.from = r->from;
    row.subject = r->subject;
    row.size = len;
    row.raw = data;
    row.raw_len = len < cfg->bounce_keep_raw ? len : cfg->bounce_keep_raw;
    row.received_at = now;

    rc = db_begin(db);
    if (rc)
        goto out;
    rc = bounce_store_insert(db, &row, &res->bounce_id);
    if (!rc && !r->unparsed) {
        rc = bounce_policy_apply(db, cfg, res->bounce_id, r, role, rcpt_hint, now, res);
        if (!rc)
            rc = bounce_store_set_state(db, res->bounce_id, res->state, res->note, res->kind);
    }
    if (!rc)
        rc = db_commit(db);
    if (rc) {
        db_rollback(db);
        if (rc == MERR_EXISTS) { /* another reader committed the same message first */
            rc = bounce_store_seen(db, sha, &res->bounce_id, res->state);
            if (!rc)
                res->duplicate = 1;
        }
        goto out;
    }
    log_info("bounce: %s message %lld from %s: %s, %s", res->kind, res->bounce_id, mailbox,
             res->state, res->note);
out:
    bounce_report_free(r);
    return rc;
}

/* Reads a whole file, at most `max` bytes (the rest is not needed: it ends unparsed). */
static enum merr read_capped(const char *path, size_t max, struct buf *b)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    enum merr rc = MERR_OK;
    if (!f)
        return merr_set(MERR_IO, "%s: %s", path, strerror(errno));
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->len + n > max)
            n = max - b->len;
        rc = buf_append(b, chunk, n);
        if (b->len >= max)
            break;
    }
    if (!rc && ferror(f))
        rc = merr_set(MERR_IO, "%s: read error", path);
    fclose(f);
    return rc;
}

static enum merr make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return merr_set(MERR_IO, "%s: %s", path, strerror(errno));
    return MERR_OK;
}

/* Moves a maildir file into the Maildir++ folder `folder` (cur/), creating it. */
static enum merr maildir_move(const char *dir, const char *sub, const char *name,
                              const char *folder)
{
    char from[4096], to[4096], base[4096];
    enum merr rc;
    snprintf(base, sizeof base, "%s/.%s", dir, folder);
    if ((rc = make_dir(base)))
        return rc;
    for (const char *s = "cur\0new\0tmp\0"; *s; s += 4) {
        snprintf(to, sizeof to, "%s/%s", base, s);
        if ((rc = make_dir(to)))
            return rc;
    }
    snprintf(from, sizeof from, "%s/%s/%s", dir, sub, name);
    snprintf(to, sizeof to, "%s/cur/%s%s", base, name, strchr(name, ':') ? "" : ":2,S");
    if (rename(from, to) != 0)
        return merr_set(MERR_IO, "move %s to %s: %s", from, to, strerror(errno));
    return MERR_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum merr bounce_intake_maildir(struct db *db, const struct config *cfg, const char *dir,
                                const char *role, time_t now, struct bounce_intake_count *count)
{
    static const char *const subs[] = {"new", "cur"};
    enum merr rc = MERR_OK;

    memset(count, 0, sizeof *count);
    for (int s = 0; s < 2 && !rc; s++) {
        char path[4096];
        DIR *d;
        struct dirent *e;
        char **names = NULL;
        size_t n = 0, cap = 0;

        snprintf(path, sizeof path, "%s/%s", dir, subs[s]);
        d = opendir(path);
        if (!d) {
            if (errno == ENOENT && s == 1)
                break;
            return merr_set(MERR_IO, "%s: %s (not a maildir?)", path, strerror(errno));
        }
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            if (n == cap) {
                char **g = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *g);
                if (!g) {
                    rc = merr_set(MERR_NOMEM, "out of memory");
                    break;
                }
                names = g;
            }
            if (!(names[n] = strdup(e->d_name))) {
                rc = merr_set(MERR_NOMEM, "out of memory");
                break;
            }
            n++;
        }
        closedir(d);
        if (n)
            qsort(names, n, sizeof *names, by_name);
        for (size_t i = 0; i < n && !rc; i++) {
            struct buf b;
            struct bounce_result res;
            char file[4096];
            snprintf(file, sizeof file, "%s/%s", path, names[i]);
            buf_init(&b, cfg->bounce_max_size + 1);
            rc = read_capped(file, cfg->bounce_max_size + 1, &b);
            if (!rc)
                rc = bounce_intake_message(db, cfg, "maildir", role, b.data ? b.data : "", b.len,
                                           NULL, now, &res);
            buf_free(&b);
            if (!rc) {
                bounce_intake_tally(count, &res);
                rc = maildir_move(dir, subs[s], names[i],
                                  strcmp(res.state, "processed") ? cfg->bounce_unparsed_folder
                                                                 : cfg->bounce_processed_folder);
            }
        }
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    return rc;
}

void bounce_intake_tally(struct bounce_intake_count *c, const struct bounce_result *r)
{
    c->messages++;
    if (r->duplicate)
        c->duplicates++;
    else if (!strcmp(r->state, "unparsed"))
        c->unparsed++;
    else if (!strcmp(r->state, "refused"))
        c->refused++;
    else
        c->processed++;
    c->suppressed += r->suppressed;
}

/* One message of an mbox: p[0..n) after its "From " line, ">From " unescaped. */
static enum merr mbox_one(struct db *db, const struct config *cfg, const char *role, const char *p,
                          size_t n, time_t now, struct bounce_intake_count *count)
{
    struct buf b;
    struct bounce_result res;
    enum merr rc = MERR_OK;
    size_t i = 0;

    buf_init(&b, n + 1);
    while (i < n && !rc) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t ll = nl ? (size_t)(nl - p - i) + 1 : n - i;
        const char *line = p + i;
        /* mboxrd: one '>' less before "From " */
        if (ll > 5 && line[0] == '>') {
            size_t k = 0;
            while (k < ll && line[k] == '>')
                k++;
            if (k + 5 <= ll && !strncmp(line + k, "From ", 5)) {
                line++;
                ll--;
                i++;
            }
        }
        rc = buf_append(&b, line, ll);
        i += ll;
    }
    if (!rc)
        rc = bounce_intake_message(db, cfg, "mbox", role, b.data ? b.data : "", b.len, NULL, now,
                                   &res);
    buf_free(&b);
    if (!rc)
        bounce_intake_tally(count, &res);
    return rc;
}

enum merr bounce_intake_mbox(struct db *db, const struct config *cfg, const char *path,
                             const char *role, time_t now, struct bounce_intake_count *count)
{
    struct buf all;
    enum merr rc;
    size_t start = (size_t)-1;

    memset(count, 0, sizeof *count);
    buf_init(&all, (size_t)1 << 31);
    rc = buf_read_file(&all, path);
    for (size_t i = 0; !rc && i <= all.len; i++) {
        int from_line = i < all.len && (i == 0 || all.data[i - 1] == '\n') && all.len - i >= 5 &&
                        !strncmp(all.data + i, "From ", 5);
        if (!from_line && i < all.len)
            continue;
        if (start != (size_t)-1) {
            size_t end = i;
            if (end > start && all.data[end - 1] == '\n') /* the blank line before "From " */
                end--;
            rc = mbox_one(db, cfg, role, all.data + start, end - start, now, count);
        }
        if (i < all.len) {
            const char *nl = memchr(all.data + i, '\n', all.len - i);
            start = nl ? (size_t)(nl - all.data) + 1 : all.len;
        }
    }
    if (!rc && start == (size_t)-1 && all.len)
        rc = merr_set(MERR_INVAL, "%s: not an mbox (no \"From \" line)", path);
    buf_free(&all);
    return rc;
}
