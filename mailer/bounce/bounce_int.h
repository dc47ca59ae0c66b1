/*
 * bounce_int.h: what the files of mailer/bounce share and nobody else sees.
 */
#ifndef MAILER_BOUNCE_BOUNCE_INT_H
#define MAILER_BOUNCE_BOUNCE_INT_H

#include <stddef.h>

#include "bounce.h"
#include "buf.h"

struct mailmime;
struct mailimf_fields;

/* ---- bounce_mime.c: the guard in front of libetpan, and part decoding ---- */

/*
 * Checks the raw bytes before libetpan's MIME parser sees them (see the
 * top of bounce_mime.c). Returns 0 when the message may be parsed, -1 with
 * the reason in why[] otherwise.
 */
int bounce_mime_screen(const char *data, size_t len, const struct bounce_limits *l, char *why,
                       size_t whylen);

/*
 * Parses a screened message with libetpan (mailmime_parse) and checks the
 * tree against the part and depth limits. 0 with `*root` (mailmime_free)
 * or -1 with the reason in why[].
 */
int bounce_mime_parse(const char *data, size_t len, const struct bounce_limits *l,
                      struct mailmime **root, char *why, size_t whylen);

/* Lower-case "type/subtype" of a part into out (at most n bytes, "" if none). */
void bounce_mime_type(const struct mailmime *m, char *out, size_t n);

/*
 * The body of a single part, transfer-decoded (base64, quoted-printable),
 * converted from its charset to UTF-8 and cleaned (bounce_mime_clean),
 * at most `max` bytes, appended to `out`.
 */
enum merr bounce_mime_text(const struct mailmime *m, size_t max, struct buf *out);

/*
 * Appends p[0..n) to out as valid UTF-8: invalid sequences become U+FFFD,
 * CR LF and lone CR become LF, other control characters a space. At most
 * `max` bytes are appended (cut on a character boundary).
 */
enum merr bounce_mime_clean(const char *p, size_t n, size_t max, struct buf *out);

/* ---- bounce_fields.c: header-style field blocks ---- */

#define BOUNCE_FIELDS_MAX 256

/* One field of a block, unfolded; name and value point into the block's text. */
struct bounce_field {
    const char *name;
    size_t name_len;
    char *value; /* owned, NUL-terminated, unfolded, trimmed */
    int group;   /* index of the blank-line separated group (0, 1, ...) */
};

struct bounce_fields {
    struct bounce_field f[BOUNCE_FIELDS_MAX];
    size_t n;
    int groups; /* number of groups seen */
};

/*
 * Reads "Name: value" lines (RFC 5322 §2.2 folding; groups separated by
 * blank lines, as in RFC 3464 §2.1 and RFC 5965 §3.1) from text[0..n) into
 * `fs` (cleared first, at most BOUNCE_FIELDS_MAX fields). Lines that are
 * not fields are skipped. Free the values with bounce_fields_clear.
 */
enum merr bounce_fields_read(const char *text, size_t n, struct bounce_fields *fs);
void bounce_fields_clear(struct bounce_fields *fs);

/* The value of the first field `name` (case-insensitive) at or after index `from`; NULL if none. */
const char *bounce_fields_get(const struct bounce_fields *fs, const char *name, size_t from);

/* The address of a header value ("Name <a@b>", "a@b (c)", "<a@b>") into out; 0 if none. */
int bounce_fields_addr(const char *v, char out[BOUNCE_ADDR_MAX]);

/* 1 if field i is called `name` (case-insensitive). */
int bounce_fields_is(const struct bounce_fields *fs, size_t i, const char *name);

/* ---- bounce_class.c: codes, words and the vocabulary ---- */

/*
 * Finds an RFC 3463 status code ("5.1.1") in text; 1 and out filled (at
 * most 16 bytes) if found.
 */
int bounce_class_find_status(const char *text, char out[16]);

/* Finds an SMTP reply code (RFC 5321 §4.2: 2xx..5xx) in text; 1 and out[4] filled if found. */
int bounce_class_find_reply(const char *text, char out[4]);

/*
 * Sets r->cls and r->reason from r->action, r->status, r->reply_code and
 * the text (the diagnostic and whatever prose goes with it, may be NULL).
 * `final` says the message reports a failure that will not be retried
 * (a bounce in prose that is not a delay warning).
 */
void bounce_class_decide(struct bounce_rcpt *r, const char *text, int final);

/* The reason a text alone suggests (NULL if none), exported for the prose reader. */
const char *bounce_class_text_reason(const char *text);

/* 1 if the text reads like a delay warning (the MTA is still trying). */
int bounce_class_is_warning(const char *text);

/* ---- bounce_words.c: the phrases of the classes ---- */

/* Phrases (NULL-terminated) that name one reason of the vocabulary. */
struct bounce_words {
    const char *reason;
    const char *const *pats;
};

/* The tiers, each ended by {NULL, NULL}: specific causes, missing addresses, vague words. */
extern const struct bounce_words bounce_words_tier1[];
extern const struct bounce_words bounce_words_tier2[];
/* Bare "user unknown" replies: a missing mailbox only with an X.1.x status or at RCPT. */
extern const struct bounce_words bounce_words_user_weak[];
extern const struct bounce_words bounce_words_tier3[];

/* Phrases of a delay warning (the MTA still tries), NULL-terminated. */
extern const char *const bounce_words_warning[];
extern const char *const bounce_words_rcpt_stage[];
extern const char *const bounce_words_directory[];

/* ---- bounce_text.c: bounces written in prose ---- */

struct bounce_text_in {
    const char *text; /* the human-readable part(s), UTF-8, LF line ends */
    size_t len;
    const char *failed; /* X-Failed-Recipients value, may be NULL */
    const char *const
        *own; /* addresses that are not recipients (the bounce's From, To), NULL-ended */
};

/*
 * Finds the recipients a prose bounce names (X-Failed-Recipients first,
 * then addresses in the text before the returned copy) with the paragraph
 * that speaks about each, classifies them and appends them to r.
 */
enum merr bounce_text_scan(const struct bounce_text_in *in, struct bounce_report *r);

/* Where the returned copy of the message starts in a prose bounce (len if nowhere). */
size_t bounce_text_cut(const char *text, size_t len);

/* ---- bounce_policy.c ---- */

struct db;
struct config;

/*
 * Inside the caller's transaction, after the bounce row `bounce_id` was
 * written: attributes the report's recipients, applies the consequences,
 * records the recipients and the effects; fills res (state "refused" for
 * a forged token, note, counts).
 */
enum merr bounce_policy_apply(struct db *db, const struct config *cfg, long long bounce_id,
                              const struct bounce_report *r, const char *role, const char *hint,
                              time_t now, struct bounce_result *res);

/* ---- bounce_report.c: the report, its DSN and ARF parts ---- */

/* Bytes of decoded text kept per part. */
#define PART_TEXT_MAX (256 * 1024)

/* Appends a recipient to r (ignored past BOUNCE_RCPT_MAX); NULL on NOMEM. */
struct bounce_rcpt *bounce_report_add(struct bounce_report *r);

/*
 * RFC 3464: appends to r one recipient per group of per-recipient fields
 * of the delivery-status body dsn[0..n), classified, and sets r->envid
 * from Original-Envelope-Id if unset. `human` (the human-readable text,
 * may be NULL) repairs a domain-only Final-Recipient and sharpens vague or
 * hard reasons. MERR_NOMEM.
 */
enum merr bounce_report_dsn(struct bounce_report *r, const char *dsn, size_t n, const char *human);

/*
 * RFC 5965: appends a complaint per Original-Rcpt-To (Removal-Recipient)
 * of the feedback-report body arf[0..n), else for the To of `ret` (the
 * returned message's fields, may be NULL), its reason from the
 * Feedback-Type; sets r->feedback_type. MERR_NOMEM.
 */
enum merr bounce_report_arf(struct bounce_report *r, const char *arf, size_t n,
                            const struct bounce_fields *ret);

/*
 * Sets x->diagnostic to d[0..n) made safe to show (bounce_mime_clean: valid
 * UTF-8, no controls, at most BOUNCE_DIAG_MAX bytes); nothing if d is empty
 * or cleans to nothing.
 */
void bounce_rcpt_diag(struct bounce_rcpt *x, const char *d, size_t n);

/*
 * Amazon SES's notification (JSON, delivered by Amazon SNS as a mail whose
 * text is the object, then SNS's footer) in text[0..n): appends its
 * recipients to r, sets r->kind (a Bounce or Delivery is a DSN, a
 * Complaint ARF) and *found = 1; *found = 0 if the text is no such
 * notification. MERR_NOMEM.
 */
enum merr bounce_report_ses(struct bounce_report *r, const char *text, size_t n, int *found);

/* ---- bounce.c ---- */

/* Copies an address into dst[BOUNCE_ADDR_MAX]: angle brackets, "rfc822;" and spaces removed. */
void bounce_addr_copy(char dst[BOUNCE_ADDR_MAX], const char *src);

#endif
