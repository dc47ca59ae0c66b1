/*
 * text.h: the one filter for short texts people type that others will
 * read: a subscriber's name, a share's sender name and note.
 *
 * These texts land in mail to addresses their author chose (a share, a
 * confirmation), so they are a spam relay's payload unless they can carry
 * no link and nothing that changes how the text around them reads. Every
 * place that takes such a text (public forms, admin API, CLI, CSV import)
 * calls the same function here, so a bypass closed once is closed
 * everywhere (issue 16: `evil.example/win` passed the share's own filter).
 */
#ifndef MAILER_CORE_TEXT_H
#define MAILER_CORE_TEXT_H

#include <stddef.h>

enum text_fault {
    TEXT_OK = 0,
    TEXT_BAD_UTF8,   /* not valid UTF-8 */
    TEXT_LINE_BREAK, /* CR, LF, NEL (U+0085), LS/PS (U+2028/9), VT, FF: in a name */
    TEXT_CONTROL,    /* C0 and C1 controls, DEL; format characters: zero-width,
                        bidirectional overrides and isolates, soft hyphen, BOM */
    TEXT_LINK,       /* a URL, "www.", an address, or a domain name (evil.example/win) */
    TEXT_TOO_LONG    /* more than the allowed number of characters */
};

/* A name: one line, no link, at most `max_chars` code points. */
enum text_fault text_check_name(const char *s, size_t n, size_t max_chars);

/* A note: as a name, but CR, LF and tabs are allowed (it is body text). */
enum text_fault text_check_note(const char *s, size_t n, size_t max_chars);

/*
 * 1 if s[0..n) (valid UTF-8) holds something a mail client would make a
 * link of: a scheme ("http", "://", "mailto:"), "www.", an "@" between
 * word characters, or a dotted name whose last label is alphabetic (2+
 * letters, any script) or four numbers (an IPv4 address). Dots include the
 * ideographic and fullwidth ones IDNA maps to ".". "Th.S. Lê" and "J.R.R."
 * are not links; "Dr.House" is (.house is a top-level domain).
 */
int text_has_link(const char *s, size_t n);

/* English words for a fault, for logs, the CLI and the admin API. */
const char *text_fault_en(enum text_fault f);

/*
 * The fault's machine name for a refusal (merr_setr), the key of the
 * reader's words in the message catalogue (mailer/http/http_msg.c):
 * "name.link", "note.too_long", ...; `note` picks the note's names over a
 * name's. NULL for TEXT_OK.
 */
const char *text_fault_reason(enum text_fault f, int note);

#endif
