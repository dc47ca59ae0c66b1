/*
 * subs_lists.c: mailing lists (create, read, remove) and the checks on
 * what an editor types for them. The slug appears in URLs and in List-Id
 * headers (RFC 2919: "<slug>.<domain>"), hence the narrow alphabet.
 */
#include <stdlib.h>
#include <string.h>

#include "subs.h"
#include "subs_store.h"
#include "utf8.h"

void subs_list_clear(struct subs_list *l)
{
    if (!l)
        return;
    free(l->name);
    free(l->description);
    free(l->digest_category);
    free(l->digest_subject);
    free(l->digest_template);
    l->name = l->description = l->digest_category = l->digest_subject = l->digest_template = NULL;
}

void subs_lists_free(struct subs_list *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        subs_list_clear(&v[i]);
    free(v);
}

static enum merr check_slug(const char *slug)
{
    size_t n = slug ? strlen(slug) : 0;
    if (n == 0)
        return merr_set(MERR_INVAL, "list slug is empty");
    if (n > SUBS_SLUG_MAX)
        return merr_set(MERR_INVAL, "list slug is longer than %d characters", SUBS_SLUG_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = slug[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return merr_set(MERR_INVAL,
                            "list slug \"%s\" may only have lower-case letters a-z, digits and "
                            "hyphens",
                            slug);
    }
    if (slug[0] == '-' || slug[n - 1] == '-')
        return merr_set(MERR_INVAL, "list slug \"%s\" starts or ends with a hyphen", slug);
    return MERR_OK;
}

/* UTF-8 text of at most `max` characters without control characters. */
static enum merr check_text(const char *what, const char *s, size_t max, int allow_newline)
{
    size_t n = strlen(s);
    if (!utf8_valid(s, n, NULL))
        return merr_set(MERR_INVAL, "%s is not valid UTF-8", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(allow_newline && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f)
            return merr_set(MERR_INVAL, "%s contains a control character", what);
    }
    if (utf8_count(s, n) > max)
        return merr_set(MERR_INVAL, "%s is longer than %zu characters", what, max);
    return MERR_OK;
}

enum merr subs_list_create(struct db *db, const char *slug, const char *name,
                           const char *description, const char *optin, time_t now,
                           long long *list_id)
{
    enum merr rc;
    int dbl = 1;

    rc = check_slug(slug);
    if (rc)
        return rc;
    if (!name || !name[0])
        return merr_set(MERR_INVAL, "list name is empty");
    rc = check_text("list name", name, 200, 0);
    if (rc)
        return rc;
    if (description) {
        rc = check_text("list description", description, 2000, 1);
        if (rc)
            return rc;
    }
    if (optin && !strcmp(optin, "single"))
        dbl = 0;
    else if (optin && strcmp(optin, "double") != 0)
        return merr_set(MERR_INVAL, "opt-in must be \"single\" or \"double\", not \"%s\"", optin);
    return subs_store_list_insert(db, slug, name, description, dbl, now, list_id);
}

enum merr subs_list_get(struct db *db, const char *slug, struct subs_list *out)
{
    memset(out, 0, sizeof *out);
    if (!slug)
        return merr_set(MERR_NOTFOUND, "no list given");
    return subs_store_list_by_slug(db, slug, out);
}

enum merr subs_list_get_id(struct db *db, long long id, struct subs_list *out)
{
    memset(out, 0, sizeof *out);
    return subs_store_list_by_id(db, id, out);
}

enum merr subs_list_all(struct db *db, struct subs_list **out, size_t *n)
{
    return subs_store_list_all(db, out, n);
}

enum merr subs_list_remove(struct db *db, const char *slug)
{
    struct subs_list l;
    enum merr rc = subs_list_get(db, slug, &l);
    if (rc)
        return rc;
    rc = subs_store_list_delete(db, l.id);
    subs_list_clear(&l);
    return rc;
}

const char *subs_status_name(enum subs_status s)
{
    switch (s) {
    case SUBS_NONE:
        return "none";
    case SUBS_UNCONFIRMED:
        return "unconfirmed";
    case SUBS_CONFIRMED:
        return "confirmed";
    case SUBS_UNSUBSCRIBED:
        return "unsubscribed";
    }
    return "none";
}

int subs_status_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "unconfirmed"))
        return SUBS_UNCONFIRMED;
    if (!strcmp(s, "confirmed"))
        return SUBS_CONFIRMED;
    if (!strcmp(s, "unsubscribed"))
        return SUBS_UNSUBSCRIBED;
    return -1;
}
