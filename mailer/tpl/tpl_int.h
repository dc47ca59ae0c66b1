/*
 * tpl_int.h: the parsed form of a template, shared by tpl.c (parser),
 * tpl_render.c (renderer) and tpl_set.c (file loading). Not part of the public contract.
 */
#ifndef MAILER_TPL_TPL_INT_H
#define MAILER_TPL_TPL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tpl.h"

enum tpl_kind {
    TPL_N_TEXT,     /* literal text */
    TPL_N_VAR,      /* {{name}}: escaped by the render's escape mode */
    TPL_N_RAW,      /* {{{name}}} or {{&name}} */
    TPL_N_SECTION,  /* {{#name}}...{{/name}} */
    TPL_N_INVERTED, /* {{^name}}...{{/name}} */
    TPL_N_PARTIAL,  /* {{>name}} */
    TPL_N_PARENT,   /* {{<name}}...{{/name}}: its TPL_N_BLOCK kids are arguments */
    TPL_N_BLOCK     /* {{$name}}...{{/name}} */
};

struct tpl_node {
    uint8_t kind;
    uint8_t bol;         /* block/partial/parent: its line was removed, start at a line start */
    uint8_t ind_default; /* block: `ind` also applies to the default content */
    uint32_t line;       /* 1-based line of the tag, for error messages */
    const char *str;     /* text, or the tag's name (dotted names kept whole) */
    size_t len;
    const char *ind; /* indentation added to each line when expanded */
    size_t ind_len;
    struct tpl_node *kids;
    uint32_t nkids;
    uint32_t capkids;
};

struct tpl_chunk;

struct tpl {
    enum tpl_escape esc;
    struct tpl_node root; /* kind TPL_N_SECTION, name "" */
    struct tpl_chunk *chunks;
};

/*
 * Parses like tpl_parse but reports a syntax error as its line and reason
 * separately (so tpl_set can say "FILE:LINE: reason"). On MERR_INVAL,
 * *err_line and err (a NUL-terminated reason of at most errsz bytes) are set.
 */
enum merr tpl_parse_ex(const char *text, size_t len, enum tpl_escape esc, struct tpl **out,
                       unsigned *err_line, char *err, size_t errsz);

#endif
