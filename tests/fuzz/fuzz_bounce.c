/*
 * fuzz_bounce.c: the bounce parser (mailer/bounce) on any bytes, as a
 * bounce mailbox, an MTA's pipe or a maildir hands them over. Besides
 * memory safety (libetpan's MIME parser runs behind the screen: an
 * overflow in it, such as 1.9.4's on boundary="\"", would be an ASan
 * report here), what the parser promises its callers:
 *  - it never fails on content (MERR_OK), and a message it does not parse
 *    has a reason, no kind and no recipients;
 *  - at most BOUNCE_RCPT_MAX recipients, each with a reason of the
 *    vocabulary whose class is the recipient's class, a status shaped
 *    "d.d.d" or empty, a reply code of three digits or empty, a
 *    diagnostic of valid UTF-8 within BOUNCE_DIAG_MAX bytes;
 *  - the JSON line of `mailer bounce parse` can always be written;
 *  - what passes the screen, libetpan parses into a tree no deeper than
 *    the screen's bound (2 per counted declaration, +2) and with no more
 *    parts than it allows: the guard is sound.
 */
#include <ctype.h>
#include <libetpan/libetpan.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "bounce_int.h"
#include "fuzz.h"
#include "utf8.h"

static void shape(const struct mailmime *m, int depth, int *maxdepth, int *parts)
{
    if (!m)
        return;
    (*parts)++;
    if (depth > *maxdepth)
        *maxdepth = depth;
    if (m->mm_type == MAILMIME_MULTIPLE)
        for (clistiter *it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it;
             it = clist_next(it))
            shape(clist_content(it), depth + 1, maxdepth, parts);
    else if (m->mm_type == MAILMIME_MESSAGE)
        shape(m->mm_data.mm_message.mm_msg_mime, depth + 1, maxdepth, parts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bounce_report *r = NULL;
    struct bounce_limits lim;
    char why[256];
    json_t *j;
    char *line;

    bounce_limits_default(&lim);
    if (bounce_mime_screen((const char *)data, size, &lim, why, sizeof why) == 0) {
        struct mailmime *m = NULL;
        size_t idx = 0;
        if (mailmime_parse((const char *)data, size, &idx, &m) == MAILIMF_NO_ERROR && m) {
            int depth = 0, parts = 0;
            shape(m, 0, &depth, &parts);
            FUZZ_CHECK(depth <= 2 * BOUNCE_MAX_NEST_TOKEN + 2,
                       "libetpan nested deeper than screened");
            FUZZ_CHECK(parts <= lim.max_parts + 2 * BOUNCE_MAX_NEST_TOKEN + 3,
                       "libetpan found more parts than screened");
            mailmime_free(m);
        }
    } else {
        FUZZ_CHECK(why[0] != '\0', "a screened-out message without a reason");
    }

    FUZZ_CHECK(bounce_parse((const char *)data, size, NULL, &r) == MERR_OK && r,
               "bounce_parse failed on content");
    if (r->unparsed) {
        FUZZ_CHECK(r->unparsed[0] && r->kind == BOUNCE_KIND_NOT_BOUNCE && r->n_rcpts == 0,
                   "unparsed with a kind or recipients");
    }
    FUZZ_CHECK(r->n_rcpts <= BOUNCE_RCPT_MAX, "too many recipients");
    for (size_t i = 0; i < r->n_rcpts; i++) {
        const struct bounce_rcpt *x = &r->rcpts[i];
        int known = 0;
        for (const char *const *p = bounce_reasons; *p; p++)
            known |= !strcmp(*p, x->reason);
        FUZZ_CHECK(known, "a reason outside the vocabulary");
        FUZZ_CHECK(bounce_reason_class(x->reason) == x->cls, "reason and class disagree");
        FUZZ_CHECK(!x->status[0] || (strchr("245", x->status[0]) && x->status[1] == '.'),
                   "status not shaped d.d.d");
        FUZZ_CHECK(!x->reply_code[0] ||
                       (strlen(x->reply_code) == 3 && isdigit((unsigned char)x->reply_code[0]) &&
                        isdigit((unsigned char)x->reply_code[1]) &&
                        isdigit((unsigned char)x->reply_code[2])),
                   "reply code not three digits");
        if (x->diagnostic) {
            size_t n = strlen(x->diagnostic);
            FUZZ_CHECK(n <= BOUNCE_DIAG_MAX, "diagnostic over BOUNCE_DIAG_MAX");
            FUZZ_CHECK(utf8_valid(x->diagnostic, n, NULL), "diagnostic is not UTF-8");
        }
    }
    if (r->subject)
        FUZZ_CHECK(utf8_valid(r->subject, strlen(r->subject), NULL), "subject is not UTF-8");
    j = bounce_report_json(r, "fuzz");
    line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    FUZZ_CHECK(line != NULL, "the JSON line cannot be written");
    free(line);
    json_decref(j);
    bounce_report_free(r);
    return 0;
}
