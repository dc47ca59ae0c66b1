/*
 * tpl_set.c: templates loaded from files, parsed once and cached.
 *
 * A name maps to NAME.mustache under the override folder first, then the
 * built-in folder. Names come from templates that admins edit, so they are
 * checked before any path is built: [A-Za-z0-9_./-] only, no "..", not
 * absolute; a template cannot make us read any other file.
 *
 * The cache is an append-only list: readers walk it without a lock (the
 * head is published with release/acquire atomics and entries never change
 * or go away before tpl_set_free), loaders take the mutex, look again and
 * prepend. So renders running on many threads only ever read; the first
 * use of a name pays for the file read and the parse. A missing file and a
 * syntax error are cached too, so a broken template costs no I/O per render
 * (a restart picks up edits).
 */
#include "tpl.h"
#include "tpl_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TPL_MAX_FILE ((size_t)4 << 20) /* a template file of more than 4 MiB is refused */
#define TPL_MAX_NAME 200

struct tpl_entry {
    struct tpl_entry *next;
    struct tpl *t; /* NULL when rc is not MERR_OK */
    enum merr rc;  /* MERR_OK, MERR_NOTFOUND or MERR_INVAL */
    char *msg;     /* the detail of rc */
    char name[];
};

struct tpl_set {
    char *dir;
    char *odir;
    pthread_mutex_t mu;
    _Atomic(struct tpl_entry *) head;
};

enum merr tpl_name_check(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (!n || n > TPL_MAX_NAME)
        return merr_set(MERR_INVAL, "template name must have 1 to %d characters", TPL_MAX_NAME);
    if (name[0] == '/')
        return merr_set(MERR_INVAL, "template name '%s' is absolute", name);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '/' || c == '-'))
            return merr_set(MERR_INVAL,
                            "template name has a character outside [A-Za-z0-9_./-] at byte %zu",
                            i + 1);
    }
    if (strstr(name, ".."))
        return merr_set(MERR_INVAL, "template name '%s' contains '..'", name);
    return MERR_OK;
}

enum tpl_escape tpl_escape_for(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcmp(name + n - 4, ".txt") == 0 ? TPL_ESCAPE_NONE : TPL_ESCAPE_HTML;
}

enum merr tpl_set_open(const char *dir, const char *override_dir, struct tpl_set **out)
{
    struct tpl_set *s;

    *out = NULL;
    if (!dir || !*dir)
        return merr_set(MERR_INVAL, "templates folder not set");
    s = calloc(1, sizeof *s);
    if (!s)
        return merr_set(MERR_NOMEM, "out of memory");
    s->dir = strdup(dir);
    s->odir = override_dir && *override_dir ? strdup(override_dir) : NULL;
    if (!s->dir || (override_dir && *override_dir && !s->odir)) {
        free(s->dir);
        free(s->odir);
        free(s);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->head, NULL);
    *out = s;
    return MERR_OK;
}

void tpl_set_free(struct tpl_set *set)
{
    struct tpl_entry *e, *next;

    if (!set)
        return;
    for (e = atomic_load(&set->head); e; e = next) {
        next = e->next;
        tpl_free(e->t);
        free(e->msg);
        free(e);
    }
    pthread_mutex_destroy(&set->mu);
    free(set->dir);
    free(set->odir);
    free(set);
}

static struct tpl_entry *find(struct tpl_set *set, const char *name)
{
    struct tpl_entry *e = atomic_load_explicit(&set->head, memory_order_acquire);
    for (; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

static enum merr result(const struct tpl_entry *e, const struct tpl **out)
{
    if (e->rc == MERR_OK) {
        *out = e->t;
        return MERR_OK;
    }
    *out = NULL;
    return merr_set(e->rc, "%s", e->msg);
}

/*
 * Reads and parses NAME.mustache from the first folder that has it. Fills
 * the entry's rc/t/msg for a result worth caching; returns an error only
 * for what is not (I/O, memory).
 */
static enum merr load(struct tpl_set *set, struct tpl_entry *e)
{
    const char *dirs[2] = {set->odir, set->dir};
    char path[4096], err[256];
    struct buf b;
    unsigned line;
    enum merr rc;

    for (int i = 0; i < 2; i++) {
        struct stat sb;
        if (!dirs[i])
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s.mustache", dirs[i], e->name) >= sizeof path)
            return merr_set(MERR_INVAL, "template path too long");
        if (stat(path, &sb) != 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue;
            return merr_set(MERR_IO, "%s: %s", path, strerror(errno));
        }
        if (!S_ISREG(sb.st_mode))
            return merr_set(MERR_IO, "%s: not a regular file", path);
        buf_init(&b, TPL_MAX_FILE);
        rc = buf_read_file(&b, path);
        if (rc) {
            buf_free(&b);
            return rc;
        }
        rc = tpl_parse_ex(b.data, b.len, tpl_escape_for(e->name), &e->t, &line, err, sizeof err);
        buf_free(&b);
        if (rc == MERR_INVAL) {
            char msg[4500];
            snprintf(msg, sizeof msg, "%s:%u: %s", path, line, err);
            e->rc = MERR_INVAL;
            e->msg = strdup(msg);
            return e->msg ? MERR_OK : merr_set(MERR_NOMEM, "out of memory");
        }
        if (rc)
            return rc;
        e->rc = MERR_OK;
        return MERR_OK;
    }
    snprintf(path, sizeof path, "template '%s' not found (%s.mustache in %s%s%s)", e->name, e->name,
             set->odir ? set->odir : "", set->odir ? " or " : "", set->dir);
    e->rc = MERR_NOTFOUND;
    e->msg = strdup(path);
    return e->msg ? MERR_OK : merr_set(MERR_NOMEM, "out of memory");
}

enum merr tpl_get(struct tpl_set *set, const char *name, const struct tpl **out)
{
    struct tpl_entry *e;
    size_t n;
    enum merr rc;

    *out = NULL;
    rc = tpl_name_check(name);
    if (rc)
        return rc;
    e = find(set, name);
    if (e)
        return result(e, out);

    pthread_mutex_lock(&set->mu);
    e = find(set, name);
    if (e) {
        pthread_mutex_unlock(&set->mu);
        return result(e, out);
    }
    n = strlen(name);
    e = calloc(1, sizeof *e + n + 1);
    if (!e) {
        pthread_mutex_unlock(&set->mu);
        return merr_set(MERR_NOMEM, "out of memory");
    }
    memcpy(e->name, name, n + 1);
    rc = load(set, e);
    if (rc) {
        pthread_mutex_unlock(&set->mu);
        tpl_free(e->t);
        free(e->msg);
        free(e);
        return rc;
    }
    e->next = atomic_load_explicit(&set->head, memory_order_relaxed);
    atomic_store_explicit(&set->head, e, memory_order_release);
    pthread_mutex_unlock(&set->mu);
    return result(e, out);
}

enum merr tpl_set_preload(struct tpl_set *set, const char *name)
{
    const struct tpl *t;
    return tpl_get(set, name, &t);
}
