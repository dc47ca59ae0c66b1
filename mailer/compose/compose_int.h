/*
 * compose_int.h: the plan's inside, shared by compose_plan.c (builds it)
 * and compose.c (renders from it). Not for other modules.
 */
#ifndef MAILER_COMPOSE_COMPOSE_INT_H
#define MAILER_COMPOSE_COMPOSE_INT_H

#include <jansson.h>

#include "buf.h"
#include "media_image.h"
#include "outbox.h"
#include "tpl.h"

/* One distinct photo of the send (by SHA-256 and use). */
struct compose_image {
    char sha256[65];    /* of the photo as sent (not of the derived image) */
    enum media_use use; /* body size (share) or thumbnail (digest) */
    char cid[96];       /* Content-ID without angle brackets: HEX@domain */
    char *link;         /* absolute URL used when not embedded */
    char *src;          /* what <img src> gets: "cid:CID" or the link */
    char *full;         /* embedded and smaller than sent: the photo's /media/ URL, else NULL */
    int width, height;  /* of the embedded image, in pixels */
    char *caption;      /* the article's caption for it ("" if none) */
    int embedded;       /* 1: `part` holds its MIME part */
    int referenced;     /* 1: some cid: in the HTML points at it */
    struct buf part;    /* fields, blank line, base64 body (written by libetpan) */
};

struct compose_plan {
    enum outbox_kind kind;
    char *from_name;    /* cfg [mail] from_name */
    char *from_address; /* cfg [mail] from_address */
    char *reply_name;   /* share: the sender; else NULL */
    char *reply_address;
    struct tpl_set *set;                         /* borrowed: parents and partials of html/txt */
    const struct tpl *html, *txt, *subject_file; /* borrowed from set */
    struct tpl *subject;                         /* owned: from the inputs' "subject", else NULL */
    json_t *shared;                              /* template data every recipient shares */
    struct compose_image *images;
    size_t nimages;
    size_t max_bytes;             /* [limits] message_max_bytes */
    const struct dkimsig *signer; /* borrowed from the env; NULL: not signed */
    size_t text_hint, html_hint;  /* trial render sizes: one allocation per body */
    /* list mail (many recipients): the trial render's lines QP-encoded, NULL otherwise */
    struct compose_qp_memo *text_memo, *html_memo;
    char feedback[200]; /* Feedback-ID after the send id: "list:kind:domain" */
    char seed[33];      /* hex of SHA-256 of the inputs: the photos' Content-IDs derive from it */
};

#endif
