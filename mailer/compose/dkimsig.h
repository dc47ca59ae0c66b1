/*
 * dkimsig.h: DKIM signatures on the messages we write (RFC 6376,
 * RFC 8463, RFC 8301).
 *
 * A signer holds, per From domain, an rsa-sha256 key and optionally an
 * ed25519-sha256 key, each with its selector, loaded once at start.
 * dkimsig_sign() adds one DKIM-Signature per key of the message's From
 * domain (d= is always that domain, so DMARC alignment holds), with
 * relaxed/relaxed canonicalization, and h= naming, each one time more than
 * the message has them (over-signing, §8.15: no instance can be added
 * without breaking the signature, so no second From, no added Reply-To):
 *   From To Subject Date Message-ID MIME-Version Content-Type Reply-To
 *   List-Id List-Unsubscribe List-Unsubscribe-Post Feedback-ID
 *   Auto-Submitted
 * (RFC 8058 §4 needs the two List-Unsubscribe fields signed.) The signer
 * is immutable once built: any number of threads may sign at once.
 */
#ifndef MAILER_COMPOSE_DKIMSIG_H
#define MAILER_COMPOSE_DKIMSIG_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "dkimkey.h"
#include "err.h"

#define DKIMSIG_HASH_LEN 32 /* SHA-256 */

struct dkimsig;

/* An empty signer (signs nothing until keys are added). MERR_NOMEM, MERR_INTERNAL. */
enum merr dkimsig_new(struct dkimsig **out);

/*
 * Adds `key` for d=`domain` s=`selector`, taking it over on success (the
 * caller still frees it on failure). One key per algorithm and domain:
 * MERR_EXISTS for a second. MERR_INVAL for a domain or selector that is not
 * a DNS name of letters, digits, '-' and '.'.
 */
enum merr dkimsig_add(struct dkimsig *s, const char *domain, const char *selector,
                      struct dkimkey *key);

/* 1 if some key signs for `domain` (compared without case). */
int dkimsig_has_domain(const struct dkimsig *s, const char *domain);

void dkimsig_free(struct dkimsig *s);

/*
 * The key file of d=`domain` s=`selector` under [dkim] keys_dir:
 * KEYS_DIR/DOMAIN/SELECTOR.key (the domain lower-cased). Returns a string
 * the caller frees, or NULL without memory. MERR-free: names are checked
 * by dkimsig_name_ok first.
 */
char *dkimsig_key_path(const struct config *cfg, const char *domain, const char *selector);

/* 1 if `s` is a DNS name fit for d= or s=: labels of letters, digits, '-', 1-63 each. */
int dkimsig_name_ok(const char *s);

/*
 * The signer the configuration asks for: NULL in *out (and MERR_OK) when
 * [dkim] selector is unset; otherwise, for every From domain of the
 * configuration, the key of [dkim] selector (RSA) and, if set, of
 * [dkim] ed25519_selector (Ed25519), from dkimsig_key_path. MERR_CONFIG
 * naming the key and file when one is missing, unsafe or of the wrong kind.
 */
enum merr dkimsig_from_config(const struct config *cfg, struct dkimsig **out);

/*
 * Signs the message in msg->data[start..len) (CRLF line ends, header,
 * blank line, body): inserts the DKIM-Signature fields at `start`, before
 * the first header field, t= being `now`. MERR_INVAL for a message with no
 * blank line after its header, a field without ':', no From or two of them,
 * or a From address without a domain; MERR_CONFIG if no key signs for the
 * From domain; MERR_LIMIT past msg's cap; MERR_INTERNAL if OpenSSL fails.
 * The message is unchanged on failure.
 */
enum merr dkimsig_sign(const struct dkimsig *s, struct buf *msg, size_t start, time_t now);

/*
 * The pieces, public for the tests and the fuzz harness:
 * dkimsig_body_canon appends the relaxed canonical form of a body
 * (RFC 6376 §3.4.4) to `out` by the same code that hashes it;
 * dkimsig_body_hash gives its SHA-256; dkimsig_header_canon appends the
 * relaxed form of one header field `f[0..n)` ("Name: value", folded or
 * not, CRLF at the end or not) including the final CRLF (§3.4.2).
 */
enum merr dkimsig_body_canon(const char *body, size_t n, struct buf *out);
enum merr dkimsig_body_hash(const char *body, size_t n, unsigned char out[DKIMSIG_HASH_LEN]);
enum merr dkimsig_header_canon(const char *f, size_t n, struct buf *out);

#endif
