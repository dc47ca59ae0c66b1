/*
 * bounce.h: reading what comes back on the return path.
 *
 * bounce_parse() turns one raw message (as a mailbox or an MTA's pipe hands
 * it over) into a report: what kind of message it is (an RFC 3464 delivery
 * status notification, an RFC 5965 feedback report, an RFC 3834 automatic
 * reply, a bounce that some MTA wrote in prose, or none of those), one entry
 * per recipient it speaks about, in the order the message lists them, each
 * with a class and a reason from a fixed vocabulary (docs/bounces.md), and
 * the material that ties the message to one of our envelopes: the VERP
 * address it was sent to, the DSN's ENVID, the Message-ID and List-Id of the
 * returned message. Parsing touches no database and no network; attribution
 * and the consequences are bounce_policy's.
 *
 * Everything in a bounce comes from outside and may be hostile: the parser
 * screens the raw bytes before libetpan's MIME parser sees them (size, line
 * length, every boundary parameter, nesting and part counts), so a message
 * that could crash or exhaust it ends "unparsed" with a reason instead.
 */
#ifndef MAILER_BOUNCE_BOUNCE_H
#define MAILER_BOUNCE_BOUNCE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "err.h"

enum bounce_kind {
    BOUNCE_KIND_NOT_BOUNCE, /* none of the below (or unparsed) */
    BOUNCE_KIND_DSN,        /* RFC 3464 message/delivery-status */
    BOUNCE_KIND_ARF,        /* RFC 5965 message/feedback-report */
    BOUNCE_KIND_AUTO_REPLY, /* RFC 3834 automatic reply, vacation, challenge */
    BOUNCE_KIND_REPORT,     /* a bounce without a DSN part, read from its text */
};

/* "dsn", "arf", "auto-reply", "report", "not-bounce". */
const char *bounce_kind_name(enum bounce_kind k);

enum bounce_class {
    BOUNCE_HARD,       /* the address can never receive mail */
    BOUNCE_SOFT,       /* this time it failed; it may work later */
    BOUNCE_COMPLAINT,  /* the person reported the mail (feedback loop) */
    BOUNCE_AUTO_REPLY, /* vacation, out of office, challenge-response */
    BOUNCE_DELIVERED,  /* a success DSN */
    BOUNCE_UNKNOWN,    /* no way to tell */
};

/* "hard", "soft", "complaint", "auto-reply", "delivered", "unknown". */
const char *bounce_class_name(enum bounce_class c);

/* The class name parsed back; -1 if unknown. */
int bounce_class_parse(const char *name);

/*
 * The reason vocabulary (docs/bounces.md). Each reason belongs to one class;
 * bounce_reason_class gives it (BOUNCE_UNKNOWN for a name not in the list).
 */
enum bounce_class bounce_reason_class(const char *reason);

/* Every reason, NULL-terminated, in the order docs/bounces.md lists them. */
extern const char *const bounce_reasons[];

#define BOUNCE_ADDR_MAX       320  /* bytes of a recipient address kept */
#define BOUNCE_DIAG_MAX       1000 /* bytes of a diagnostic text kept */
#define BOUNCE_RCPT_MAX       100  /* recipients kept per report */
#define BOUNCE_MAX_SIZE       (4u << 20)
#define BOUNCE_MAX_LINE       65536 /* bytes of one line */
#define BOUNCE_MAX_PARTS      256
#define BOUNCE_MAX_DEPTH      20
#define BOUNCE_MAX_NEST_TOKEN 40 /* multipart / message/rfc822 declarations */

struct bounce_rcpt {
    char address[BOUNCE_ADDR_MAX];  /* as reported; "" if the report names nobody */
    char original[BOUNCE_ADDR_MAX]; /* Original-Recipient / Original-Rcpt-To, "" if none */
    char action[16];                /* RFC 3464 Action, lower case, "" if none */
    char status[16];                /* RFC 3463 "5.1.1", "" if none */
    char reply_code[4];             /* "550", "" if none */
    /* the host that answered (Remote-MTA), else the one that reported (Reporting-MTA) */
    char mta[64];     /* lower case; "" if the report names none */
    char *diagnostic; /* UTF-8, at most BOUNCE_DIAG_MAX bytes; NULL if none */
    enum bounce_class cls;
    const char *reason; /* one of bounce_reasons */
};

struct bounce_report {
    enum bounce_kind kind;
    char *unparsed; /* why the message could not be read; NULL when it was */
    struct bounce_rcpt *rcpts;
    size_t n_rcpts;
    /*
     * Attribution material, each NULL if absent. Addresses are bare
     * (no angle brackets), as found.
     */
    char *verp;             /* first "bounces+..." address the message was sent to */
    char *unsubscribe;      /* first "unsubscribe+..." address it was sent to */
    char *envid;            /* RFC 3464 Original-Envelope-Id */
    char *returned_msgid;   /* Message-ID of the returned or reported message, no <> */
    char *returned_list_id; /* its List-Id, the id inside <> */
    char *returned_verp;    /* a "bounces+..." Return-Path in the returned headers */
    char *feedback_type;    /* ARF Feedback-Type, lower case */
    char *message_id;       /* this message's own Message-ID, no <> */
    char *from;             /* this message's From address */
    char *subject;          /* this message's Subject, decoded to UTF-8 */
};

/* Limits of one parse; bounce_limits_default() gives the documented ones. */
struct bounce_limits {
    size_t max_size;
    size_t max_line;
    int max_parts;
    int max_depth;
};

void bounce_limits_default(struct bounce_limits *l);

/*
 * Parses `len` bytes of one message (CRLF or LF line ends) into a new
 * report (`*out`, freed with bounce_report_free). A message that cannot be
 * read safely is not an error: the report has kind NOT_BOUNCE and
 * `unparsed` says why. MERR_NOMEM only. `limits` may be NULL (defaults).
 */
enum merr bounce_parse(const char *data, size_t len, const struct bounce_limits *limits,
                       struct bounce_report **out);

void bounce_report_free(struct bounce_report *r);

/*
 * The report as `mailer bounce parse` prints it (a new object, caller
 * json_decref): {"file": file, "kind": ..., "recipients": [{"address",
 * "class", "reason", "status", "reply_code", "diagnostic"}]} with null for
 * what is absent, plus "unparsed": reason when it could not be read. `file`
 * may be NULL (left out).
 */
json_t *bounce_report_json(const struct bounce_report *r, const char *file);

/* ---- into the database: bounce_intake.c, bounce_policy.c, bounce_view.c ---- */

struct db;
struct config;

/* What became of one message. */
struct bounce_result {
    long long bounce_id;
    int duplicate;  /* seen before (same content): nothing changed */
    char state[16]; /* processed, unparsed or refused: decides the folder */
    char kind[16];  /* dsn, arf, auto-reply, report, not-bounce, unsubscribe */
    char note[256]; /* why unparsed or refused; what was done */
    int recipients; /* recipients recorded */
    int attributed; /* of them tied to an envelope */
    int suppressed; /* addresses suppressed by it */
};

/*
 * Records one raw message read from `mailbox` (a [bounce.NAME] name, or
 * "ingest", "maildir", "mbox") of `role` (bounces, complaints,
 * unsubscribe) and applies the policy, all in ONE transaction: the bounce
 * row (raw message cut at [bounce] keep_raw), its recipients with their
 * attribution (VERP token, ENVID, Message-ID or List-Id of the returned
 * message, then the address among envelopes of the last
 * attribution_days), and the consequences through subscribers and the
 * outbox (docs/bounces.md). A message whose content was seen before
 * changes nothing (res->duplicate). `rcpt_hint` is the envelope recipient
 * when the MTA says it (pipe), else NULL. A message that cannot be parsed
 * is recorded as unparsed, one with a forged VERP or ENVID token or an
 * unsubscribe mail without a valid token as refused: neither changes
 * anything else. MERR_DB / MERR_TEMPFAIL (nothing was written), MERR_NOMEM.
 */
enum merr bounce_intake_message(struct db *db, const struct config *cfg, const char *mailbox,
                                const char *role, const char *data, size_t len,
                                const char *rcpt_hint, time_t now, struct bounce_result *res);

/* Counts of a run over many messages (a maildir, an mbox, a poll). */
struct bounce_intake_count {
    long messages, processed, unparsed, refused, duplicates, suppressed;
};

/* Adds one result to the counts. */
void bounce_intake_tally(struct bounce_intake_count *c, const struct bounce_result *r);

/*
 * Every message of the maildir `dir` (new/ and cur/, in name order) through
 * bounce_intake_message (mailbox "maildir"); each, once committed, moves to
 * the Maildir++ folder .Processed or .Unparsed ([bounce] processed_folder,
 * unparsed_folder) of `dir`. MERR_IO naming the file; what was done before
 * the error stays done.
 */
enum merr bounce_intake_maildir(struct db *db, const struct config *cfg, const char *dir,
                                const char *role, time_t now, struct bounce_intake_count *count);

/* Every message of the mbox file `path` (mailbox "mbox"); the file is not changed. */
enum merr bounce_intake_mbox(struct db *db, const struct config *cfg, const char *path,
                             const char *role, time_t now, struct bounce_intake_count *count);

/*
 * Reads the mailbox [bounce.NAME] `name` (NULL: every configured mailbox)
 * once: every message recorded (bounce_intake_message) and, after its
 * commit, moved to [bounce] processed_folder / unparsed_folder (IMAP),
 * deleted (IMAP or POP3 with `delete`) or its UIDL remembered (POP3 with
 * leave_on_server). Each mailbox's poll is recorded for /healthz. `count`
 * adds up every mailbox. MERR_NOTFOUND for an unknown name; the first
 * mailbox's error otherwise (the others are still read).
 */
enum merr bounce_poll_once(struct db *db, const struct config *cfg, const char *name,
                           struct bounce_intake_count *count);

/*
 * The bounce poller part of `mailer serve`: one thread per mailbox, IDLE
 * where offered, else a poll every [bounce] poll_interval, until *stop.
 * With no mailbox configured it waits for the stop (a healthy part).
 */
enum merr bounce_poll_run(const struct config *cfg, atomic_int *stop);

/*
 * Lifts exactly what bounce `id` caused (a suppression it created, while
 * it still has its reason; subscriptions it ended, while still ended; an
 * envelope it marked failed, while still so) and marks it undone, in one
 * transaction. `*lifted` counts what was put back. Undoing twice is
 * MERR_OK with 0. MERR_NOTFOUND.
 */
enum merr bounce_policy_undo(struct db *db, long long id, time_t now, int *lifted);

/* Which bounces bounce_view_list returns (zero / NULL: no filter). */
struct bounce_filter {
    long long before;    /* ids below this (the next page) */
    const char *state;   /* processed, unparsed, refused */
    const char *mailbox; /* a mailbox name */
    const char *match;   /* a class, or an address */
    int limit;           /* 0: 50 */
};

/* The bounces matching `f`, newest first, as a new JSON array. */
enum merr bounce_view_list(struct db *db, const struct bounce_filter *f, json_t **out);

/*
 * One bounce with its recipients and effects (new object); `raw` (may be
 * NULL) receives the kept bytes of the message (malloc'd, NUL-terminated),
 * `raw_len` their length. MERR_NOTFOUND.
 */
enum merr bounce_view_show(struct db *db, long long id, json_t **out, char **raw, size_t *raw_len);

/*
 * Appends the Prometheus text of the bounce counters to out:
 * mailer_bounce_recipients_total{mailbox,class,attributed} and
 * mailer_bounce_messages_total{mailbox,state}.
 */
enum merr bounce_view_metrics(struct db *db, struct buf *out);

/*
 * Appends p[0..n) (a kept message) to out as valid UTF-8 text: invalid
 * sequences become U+FFFD, CR LF becomes LF, other controls a space.
 */
enum merr bounce_view_text(const char *p, size_t n, struct buf *out);

/* [{"name", "last_poll_at", "last_ok_at", "last_error"}] per mailbox polled. */
enum merr bounce_view_health(struct db *db, json_t **out);

#endif
