/*
 * subs_lists_update.c: changing a list's settings after it was created
 * (`mailer list set`, PATCH /api/lists/SLUG), above all the digest ones
 * the scheduler reads (mailer/digest).
 *
 * Every field given is checked before anything is written, and the change
 * is one UPDATE, so a request with one bad field changes nothing. The
 * checks are those that would otherwise only fail later, at the next
 * scheduled digest, when nobody is watching: the schedule must be a
 * weekday and a time of day, the subject template must parse (it is
 * rendered into a header, so no line breaks), and the template name must
 * name email/NAME.html and email/NAME.txt that exist and parse in the
 * configured template folders (the same lookup compose does).
 */
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "subs.h"
#include "subs_store.h"
#include "tpl.h"
#include "utf8.h"

#define CATEGORY_MAX    200
#define DESCRIPTION_MAX 2000
#define TEMPLATE_MAX    100

void subs_list_update_init(struct subs_list_update *u)
{
    memset(u, 0, sizeof *u);
    u->digest_weekday = SUBS_UNCHANGED;
    u->digest_max_articles = SUBS_UNCHANGED;
    u->digest_enabled = SUBS_UNCHANGED;
    u->is_public = SUBS_UNCHANGED;
}

/* UTF-8 of at most `max` characters, no control characters (line breaks if `lines`). */
static enum merr check_text(const char *what, const char *s, size_t max, int lines)
{
    size_t n = strlen(s), bad;
    if (!utf8_valid(s, n, &bad))
        return merr_set(MERR_INVAL, "%s: not valid UTF-8 at byte %zu", what, bad);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!lines && (c == '\r' || c == '\n'))
            return merr_set(MERR_INVAL, "%s: a line break is not allowed", what);
        if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f)
            return merr_set(MERR_INVAL, "%s: control characters are not allowed", what);
    }
    if (utf8_count(s, n) > max)
        return merr_set(MERR_INVAL, "%s: longer than %zu characters", what, max);
    return MERR_OK;
}

/* "HH:MM", 00:00 to 23:59. */
static enum merr check_time(const char *s)
{
    int ok = strlen(s) == 5 && s[2] == ':';
    for (int i = 0; ok && i < 5; i++)
        ok = i == 2 || (s[i] >= '0' && s[i] <= '9');
    if (ok)
        ok = (s[0] - '0') * 10 + (s[1] - '0') <= 23 && (s[3] - '0') * 10 + (s[4] - '0') <= 59;
    if (!ok)
        return merr_set(MERR_INVAL, "digest_time: \"%.20s\" is not a time HH:MM (00:00 to 23:59)",
                        s);
    return MERR_OK;
}

static enum merr check_subject(const char *s)
{
    struct tpl *t = NULL;
    enum merr rc;
    if (!*s)
        return merr_set(MERR_INVAL, "digest_subject: empty");
    rc = check_text("digest_subject", s, SUBS_DIGEST_SUBJECT_MAX, 0);
    if (rc)
        return rc;
    rc = tpl_parse(s, strlen(s), TPL_ESCAPE_NONE, &t);
    if (rc) {
        tpl_free(t);
        return merr_wrap(MERR_INVAL, "digest_subject: not a valid Mustache template");
    }
    /* a name the subject's data lacks would come out empty, unnoticed until Monday */
    static const char *const known[] = {SUBS_DIGEST_SUBJECT_VARS, NULL};
    char bad[64];
    rc = tpl_check_names(t, known, bad, sizeof bad);
    tpl_free(t);
    if (rc)
        return merr_set(MERR_INVAL,
                        "digest_subject: {{%s}} is not known; a subject may use {{week}}, "
                        "{{year}}, {{period}}, {{site}}, {{list.name}} (the list's name) and "
                        "{{list.slug}}",
                        bad);
    return MERR_OK;
}

/* The name's alphabet is compose's (compose_plan_new); the files must exist and parse. */
static enum merr check_template(const struct config *cfg, const char *name)
{
    struct tpl_set *set = NULL;
    const struct tpl *t;
    char path[TEMPLATE_MAX + 32];
    size_t n = strlen(name);
    enum merr rc;

    if (!n || n > TEMPLATE_MAX)
        return merr_set(MERR_INVAL, "digest_template: 1 to %d characters", TEMPLATE_MAX);
    if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return merr_set(MERR_INVAL,
                        "digest_template: \"%.100s\" may only have a-z, 0-9, '_' and '-' (the "
                        "name of templates/email/NAME.html and NAME.txt)",
                        name);
    if (!cfg)
        return MERR_OK;
    rc = tpl_set_open(cfg->templates_dir, cfg->templates_override, &set);
    if (rc)
        return merr_wrap(rc, "digest_template: templates");
    for (int i = 0; !rc && i < 2; i++) {
        snprintf(path, sizeof path, "email/%s.%s", name, i ? "txt" : "html");
        rc = tpl_get(set, path, &t);
        if (rc == MERR_NOTFOUND)
            rc = merr_set(MERR_INVAL, "digest_template: no template %s", path);
        else if (rc)
            rc = merr_wrap(MERR_INVAL, "digest_template: %s", path);
    }
    tpl_set_free(set);
    return rc;
}

/* Checks every field given; `*field` names the first refused one. */
static enum merr check_update(const struct config *cfg, const struct subs_list_update *u,
                              const char **field)
{
    enum merr rc = MERR_OK;

    if (u->name) {
        *field = "name";
        rc = *u->name ? check_text("name", u->name, 200, 0) : merr_set(MERR_INVAL, "name: empty");
    }
    if (!rc && u->description) {
        *field = "description";
        rc = check_text("description", u->description, DESCRIPTION_MAX, 1);
    }
    if (!rc && u->optin) {
        *field = "optin";
        if (strcmp(u->optin, "single") != 0 && strcmp(u->optin, "double") != 0)
            rc = merr_set(MERR_INVAL, "optin: \"single\" or \"double\", not \"%.20s\"", u->optin);
    }
    if (!rc && u->digest_weekday != SUBS_UNCHANGED) {
        *field = "digest_weekday";
        if (u->digest_weekday < 0 || u->digest_weekday > 6)
            rc = merr_set(MERR_INVAL, "digest_weekday: %d is not 0 (Sunday) to 6 (Saturday)",
                          u->digest_weekday);
    }
    if (!rc && u->digest_time) {
        *field = "digest_time";
        rc = check_time(u->digest_time);
    }
    if (!rc && u->digest_category) {
        *field = "digest_category";
        rc = check_text("digest_category", u->digest_category, CATEGORY_MAX, 0);
    }
    if (!rc && u->digest_max_articles != SUBS_UNCHANGED) {
        *field = "digest_max_articles";
        if (u->digest_max_articles < 1 || u->digest_max_articles > SUBS_DIGEST_MAX_ARTICLES)
            rc = merr_set(MERR_INVAL, "digest_max_articles: %d is not 1 to %d",
                          u->digest_max_articles, SUBS_DIGEST_MAX_ARTICLES);
    }
    if (!rc && u->digest_subject) {
        *field = "digest_subject";
        rc = check_subject(u->digest_subject);
    }
    if (!rc && u->digest_template) {
        *field = "digest_template";
        rc = check_template(cfg, u->digest_template);
    }
    if (!rc && u->digest_enabled != SUBS_UNCHANGED) {
        *field = "digest_enabled";
        if (u->digest_enabled != 0 && u->digest_enabled != 1)
            rc = merr_set(MERR_INVAL, "digest_enabled: 0 or 1, not %d", u->digest_enabled);
    }
    if (!rc && u->is_public != SUBS_UNCHANGED) {
        *field = "public";
        if (u->is_public != 0 && u->is_public != 1)
            rc = merr_set(MERR_INVAL, "public: 0 or 1, not %d", u->is_public);
    }
    if (!rc)
        *field = NULL;
    return rc;
}

enum merr subs_list_update(struct db *db, const struct config *cfg, const char *slug,
                           const struct subs_list_update *u, const char **field)
{
    const char *f = NULL;
    enum merr rc;

    if (!slug || !*slug)
        rc = merr_set(MERR_NOTFOUND, "no list given");
    else
        rc = check_update(cfg, u, &f);
    if (!rc)
        rc = subs_store_list_update(db, slug, u, date_now());
    if (field)
        *field = rc == MERR_INVAL ? f : NULL;
    return rc;
}
