/*
 * html_doc.h: the parts shared by the sanitizer and the text renderer
 * (internal to mailer/html; other modules include html.h only).
 *
 * html_doc_parse turns untrusted bytes into a libxml2 tree whose depth is
 * bounded, html_doc_walk visits it without recursion, and html_doc_tag
 * classifies element names against the allow-list.
 */
#ifndef MAILER_HTML_HTML_DOC_H
#define MAILER_HTML_HTML_DOC_H

#include <stddef.h>

#include <libxml/tree.h>

#include "buf.h"
#include "err.h"

/*
 * Elements nested deeper than this (counting the implied html and body) are
 * not added to the tree: their children are attached to the deepest kept
 * ancestor, so hostile nesting is flattened instead of lost.
 */
#define HTML_DOC_MAX_DEPTH 200

/*
 * Elements open at once in libxml2's parser before it is stopped. The parser
 * looks for every unmatched end tag through all open elements, so its cost
 * is (end tags x open elements); this cap keeps 1 MB of hostile markup well
 * under a second. Real articles never come near it.
 */
#define HTML_DOC_MAX_OPEN 512

/* Largest input accepted (libxml2 takes an int length). */
#define HTML_DOC_MAX_INPUT ((size_t)64 << 20)

enum html_tag {
    HTML_TAG_UNKNOWN, /* not on the allow-list: the tag goes, its content stays */
    HTML_TAG_ALLOWED, /* kept with its allowed attributes */
    HTML_TAG_DROP,    /* removed with everything inside (script, style, ...) */
};

/* Class of a (lower-case) element name. */
enum html_tag html_doc_tag(const char *name);

/* 1 for the void elements we write without an end tag (br, hr, img). */
int html_doc_void(const char *name);

/*
 * Parses in[0..len) with libxml2's HTML parser as the content of a <body>.
 * The input must be UTF-8 (MERR_INVAL naming the byte offset otherwise);
 * NUL and the C0 controls other than TAB, LF and FF are removed and CR LF / CR
 * become LF before parsing (HTML's input stream preprocessing). Sets
 * `*truncated` to 1 if the parser had to be stopped at HTML_DOC_MAX_OPEN
 * open elements (the rest of the input is then missing from the tree).
 * The caller frees `*doc` with xmlFreeDoc(). MERR_LIMIT past
 * HTML_DOC_MAX_INPUT, MERR_NOMEM.
 */
enum merr html_doc_parse(const char *in, size_t len, xmlDoc **doc, int *truncated);

/*
 * Visits the tree in document order without recursion. `enter` is called for
 * each node and sets `*descend` to 1 to visit its children; `leave` is called
 * for every entered node after its children (or right after `enter` when they
 * are skipped). The first error returned by a callback stops the walk and is
 * returned.
 */
struct html_walk {
    enum merr (*enter)(void *arg, xmlNode *n, int *descend);
    enum merr (*leave)(void *arg, xmlNode *n);
    void *arg;
};
enum merr html_doc_walk(xmlDoc *doc, const struct html_walk *w);

/*
 * html_doc_parse, then html_doc_walk over the tree, which is freed before
 * returning: what the sanitizer and the text renderer do with their input.
 * Logs a warning when the markup was nested too deep and the rest dropped.
 * The errors of either.
 */
enum merr html_doc_parse_walk(const char *in, size_t len, const struct html_walk *w);

/* An attribute's decoded value or NULL; the caller frees it with xmlFree(). */
char *html_doc_attr(xmlNode *n, const char *name);

#endif
