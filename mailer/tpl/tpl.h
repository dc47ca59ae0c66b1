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
 *
 * Semantics beyond the spec's letter: falsey section values are a missing
 * name, null, false, an empty list and an empty string ("" so that an
 * optional note can be tested with {{#note}}); numbers (0 too) are truthy.
 * Integers print as integers, reals in the shortest form that reads back
 * exactly (1.21 -> "1.21"), true/false as "true"/"false", null, objects and
 * lists as nothing. The escape mode of the template being rendered applies
 * to its partials and parents too, so a .txt template can share partials
 * with the .html one without HTML entities leaking into text.
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
 * Loads and parses `name` now (tpl_get without the result), so that a bad
 * template is reported at start and later renders only read the set.
 * Same errors as tpl_get.
 */
enum merr tpl_set_preload(struct tpl_set *set, const char *name);

/*
 * Checks a template name: 1 to 200 characters of [A-Za-z0-9_./-], not
 * starting with '/', no "..". MERR_INVAL with the reason.
 */
enum merr tpl_name_check(const char *name);

/* The escape mode for a template name: TPL_ESCAPE_NONE for "*.txt", else HTML. */
enum tpl_escape tpl_escape_for(const char *name);

/*
 * The parsed template `name`, loading it on first use. Borrowed from the
 * set. MERR_NOTFOUND if no file, MERR_INVAL with "FILE:LINE: reason" for a
 * syntax error or a refused name (see tpl_name_check), MERR_IO if the file
 * cannot be read, MERR_LIMIT for a file over 4 MiB. Missing files and
 * syntax errors are remembered (no retry until the set is reopened).
 * Thread-safe.
 */
enum merr tpl_get(struct tpl_set *set, const char *name, const struct tpl **out);

/*
 * Parses a template from memory (the spec tests; subjects from the
 * database). Free with tpl_free. MERR_INVAL with "line N: reason" for an
 * unclosed tag, an unbalanced section, a bad name or delimiter, or sections
 * nested deeper than 256; MERR_NOMEM.
 */
enum merr tpl_parse(const char *text, size_t len, enum tpl_escape esc, struct tpl **out);
void tpl_free(struct tpl *t);

/*
 * Renders `t` with the data stack ctx[0..nctx) (top = last) into `out`
 * (appending). Partials and parents are taken from `set`, or from
 * `partials` (a JSON object name -> template text, parsed on the fly) when
 * set is NULL. A missing partial renders as nothing (spec); a partial
 * whose name is refused or that fails to parse is an error. MERR_LIMIT past
 * out's cap or when a render takes more than 2^24 steps; MERR_INVAL for a
 * missing parent or partials/parents nested deeper than 64 (recursion).
 * On error `out` is left as it was. Allocates nothing when set is used;
 * safe to call from many threads on the same template and set.
 */
enum merr tpl_render(const struct tpl *t, struct tpl_set *set, json_t *partials, json_t *const *ctx,
                     size_t nctx, struct buf *out);

/*
 * Checks what a small template with fixed data may name (a digest subject
 * typed by an editor, checked before it is stored): every {{name}},
 * {{{name}}} and {{&name}} and the name of every section outside any
 * section must be one of `known` (NULL-terminated, dotted names whole:
 * "list.name"); names inside a section belong to its value and are not
 * checked; partials, parents and blocks are refused (such a template
 * renders without a set). MERR_OK, or MERR_INVAL with "{{NAME}} is not
 * one of ..." in the detail and NAME copied to `bad` (`cap` bytes, may be
 * 0).
 */
enum merr tpl_check_names(const struct tpl *t, const char *const *known, char *bad, size_t cap);

/* Appends `s` HTML-escaped (& < > " ' as the spec escapes them). */
enum merr tpl_escape_html(struct buf *out, const char *s, size_t n);

#endif
