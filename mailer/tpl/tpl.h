/*
 * tpl.h: Mustache templates (https://mustache.github.io/mustache.5.html),
 * passing the official spec: comments, delimiters, interpolation, inverted,
 * partials, sections and ~inheritance (blocks and parents).
 *
 * Templates are files: a `struct tpl_set` looks a name up as NAME.mustache
 * under the override folder first, then the built-in folder (e.g. name
 * "email/share.html" -> templates/email/share.html.mustache). Each file is
 * parsed once, on first use, and kept; rendering is then a walk of the
 * parsed tree. A set is safe to render from many threads once every template
 * it needs was loaded (tpl_get from one thread first, or tpl_set_preload).
 *
 * The data is a stack of jansson values searched from the top down, so a
 * send's shared data and a recipient's personal data can be layered without
 * copying: ctx[0] = shared, ctx[1] = personal.
 */
#ifndef MAILER_TPL_TPL_H
#define MAILER_TPL_TPL_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

struct tpl;
struct tpl_set;

enum tpl_escape {
    TPL_ESCAPE_HTML, /* {{x}} escapes & < > " ' (the spec's rule) */
    TPL_ESCAPE_NONE  /* for text/plain templates: {{x}} is written as is */
};

/*
 * Opens a set over `dir` and optional `override_dir` (may be NULL). Nothing
 * is read yet. Names ending in ".txt" use TPL_ESCAPE_NONE, others HTML.
 */
enum merr tpl_set_open(const char *dir, const char *override_dir, struct tpl_set **out);
void tpl_set_free(struct tpl_set *set);

/*
 * The parsed template `name`, loading it on first use. Borrowed from the
 * set. MERR_NOTFOUND if no file, MERR_INVAL with "FILE:LINE: reason" for a
 * syntax error.
 */
enum merr tpl_get(struct tpl_set *set, const char *name, const struct tpl **out);

/*
 * Parses a template from memory (the spec tests; subjects from the
 * database). Free with tpl_free. MERR_INVAL with "line N: reason".
 */
enum merr tpl_parse(const char *text, size_t len, enum tpl_escape esc, struct tpl **out);
void tpl_free(struct tpl *t);

/*
 * Renders `t` with the data stack ctx[0..nctx) (top = last) into `out`
 * (appending). Partials and parents are taken from `set`, or from
 * `partials` (a JSON object name -> template text, parsed on the fly) when
 * set is NULL. MERR_LIMIT past out's cap; MERR_INVAL for a missing parent
 * or a recursion deeper than 64.
 */
enum merr tpl_render(const struct tpl *t, struct tpl_set *set, json_t *partials,
                     json_t *const *ctx, size_t nctx, struct buf *out);

/* Appends `s` HTML-escaped (& < > " ' as the spec escapes them). */
enum merr tpl_escape_html(struct buf *out, const char *s, size_t n);

#endif
