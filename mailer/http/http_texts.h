/*
 * http_texts.h: the reader-facing texts (Vietnamese) of the security work
 * (issue 16) in one place, for the catalogue of issue 15 to take over.
 * Older texts still live next to their handlers.
 */
#ifndef MAILER_HTTP_HTTP_TEXTS_H
#define MAILER_HTTP_HTTP_TEXTS_H

#include "text.h"

/*
 * What is wrong with a typed text, as a sentence for a reader: `what` is
 * the field as the form names it ("Tên", "Tên người gửi", "Lời nhắn"),
 * written into `out` (size bytes). `max_chars` for TEXT_TOO_LONG.
 */
void http_text_fault(char *out, size_t size, const char *what, enum text_fault f, size_t max_chars);

#endif
