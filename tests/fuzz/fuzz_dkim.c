/*
 * fuzz_dkim.c: what DKIM reads from outside and what it rewrites
 * (mailer/compose/dkimkey.c, dkimsig.c, mailer/core/dns.c). The first byte
 * picks what the rest is:
 *   0: a published key record (dkimkey_txt_parse, the TXT text `mailer
 *      doctor` reads from the DNS): on success p= is base64 and every field
 *      a NUL-terminated string;
 *   1: a DNS response (dns_txt_answer): every record a NUL-terminated
 *      string, at most DNS_TXT_MAX of them;
 *   2: a message body (dkimsig_body_canon, RFC 6376 §3.4.4): equal to a
 *      plain step-by-step reference, and canonical (no tab, no run of
 *      spaces, no space before CRLF but on a last line that had no CRLF,
 *      ending in CRLF unless empty);
 *   3: a message (dkimsig_sign with an Ed25519 key, for speed): refused
 *      with the buffer as it was, or the message unchanged after the
 *      DKIM-Signature field it inserts on top, whose lines end in CRLF,
 *      fold with a tab and stay within 998 octets;
 *   4: a Message-ID come back in a bounce (outbox_message_id_envelope,
 *      mailer/outbox/outbox.c): an id it takes back, once made into a
 *      Message-ID again, gives that id again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dkimkey.h"
#include "dkimsig.h"
#include "dns.h"
#include "fuzz.h"
#include "../unit/dkim_ref.h"
#include "outbox.h"

static struct dkimsig *signer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/fuzz-dkim-XXXXXX", path[64];
    struct dkimkey *k = NULL;
    (void)argc;
    (void)argv;
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/e.key", dir);
    if (dkimkey_generate(path, DKIMKEY_ED25519, &k) || dkimsig_new(&signer) ||
        dkimsig_add(signer, "hagiang.example", "f1", k))
        abort();
    unlink(path);
    rmdir(dir);
    return 0;
}

static void check_base64(const char *s)
{
    size_t n = strlen(s), pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=')
            pad++;
        else
            FUZZ_CHECK(!pad && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '+' || c == '/'),
                       "p= accepted with a character outside base64");
    }
    FUZZ_CHECK(n % 4 == 0 && pad <= 2, "p= accepted with a bad base64 length");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data + 1;
    size_t n = size ? size - 1 : 0;

    if (size < 1)
        return 0;
    switch (data[0] % 5) {
    case 0: {
        struct dkimkey_txt t;
        if (dkimkey_txt_parse(s, n, &t) == MERR_OK) {
            FUZZ_CHECK(t.has_p, "a record without p= accepted");
            FUZZ_CHECK(memchr(t.v, 0, sizeof t.v) && memchr(t.k, 0, sizeof t.k) &&
                           memchr(t.p, 0, sizeof t.p) && memchr(t.t, 0, sizeof t.t),
                       "a field without its NUL");
            check_base64(t.p);
        }
        break;
    }
    case 1: {
        struct dns_txt t;
        if (dns_txt_answer((const unsigned char *)s, n, &t) == MERR_OK) {
            FUZZ_CHECK(t.n <= DNS_TXT_MAX, "too many records kept");
            for (size_t i = 0; i < t.n; i++)
                FUZZ_CHECK(t.rec[i] && strlen(t.rec[i]) < 65536, "a record too long");
            dns_txt_free(&t);
        }
        break;
    }
    case 2: {
        struct buf got;
        char *want = malloc(n + 3);
        size_t wn = dkim_ref_body(s, n, want);
        buf_init(&got, 0);
        FUZZ_CHECK(dkimsig_body_canon(s, n, &got) == MERR_OK, "body canonicalization failed");
        FUZZ_CHECK(got.len == wn && (!wn || !memcmp(got.data, want, wn)),
                   "canonical body differs from the reference");
        /* (a last line without CRLF keeps one space before the CRLF added to it,
         * as dkimpy does: our bodies always end in CRLF) */
        int open_end = !(n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n');
        for (size_t i = 0; i < got.len; i++) {
            FUZZ_CHECK(got.data[i] != '\t', "a tab in the canonical body");
            FUZZ_CHECK(!(got.data[i] == ' ' && i + 1 < got.len && got.data[i + 1] == ' '),
                       "a run of spaces");
            FUZZ_CHECK(!(got.data[i] == ' ' && i + 2 < got.len && got.data[i + 1] == '\r' &&
                         got.data[i + 2] == '\n' && !(open_end && i + 3 == got.len)),
                       "a space before CRLF");
        }
        FUZZ_CHECK(!got.len || (got.len >= 2 && got.data[got.len - 2] == '\r' &&
                                got.data[got.len - 1] == '\n'),
                   "a canonical body not ending in CRLF");
        free(want);
        buf_free(&got);
        break;
    }
    default: {
        struct buf m;
        buf_init(&m, 0);
        buf_append(&m, s, n);
        if (dkimsig_sign(signer, &m, 0, 1796529731) == MERR_OK) {
            size_t add = m.len - n, col = 0;
            FUZZ_CHECK(m.len > n && !memcmp(m.data + add, s, n), "the message was changed");
            FUZZ_CHECK(!strncmp(m.data, "DKIM-Signature: v=1; a=ed25519-sha256;", 38),
                       "the signature field is not on top");
            for (size_t i = 0; i < add; i++) {
                if (m.data[i] == '\r') {
                    FUZZ_CHECK(m.data[i + 1] == '\n', "CR without LF in the signature");
                    FUZZ_CHECK(i + 2 == add || m.data[i + 2] == '\t', "a break that is no fold");
                    FUZZ_CHECK(col <= 998, "a signature line over 998 octets");
                    col = 0;
                    i++;
                    continue;
                }
                FUZZ_CHECK(m.data[i] > 0 && m.data[i] != '\n', "a NUL or bare LF in the signature");
                col++;
            }
        } else {
            FUZZ_CHECK(m.len == n && (!n || !memcmp(m.data, s, n)),
                       "a refused message was changed");
        }
        buf_free(&m);
        break;
    }
    case 4: {
        char *t = malloc(n + 1), again[128];
        long long id;
        memcpy(t, s, n);
        t[n] = '\0';
        id = outbox_message_id_envelope("fuzz-secret-0123456789", t);
        FUZZ_CHECK(id >= 0, "a negative envelope id");
        if (id > 0) {
            outbox_message_id("fuzz-secret-0123456789", NULL, "salt", NULL, id, "hagiang.example",
                              again);
            FUZZ_CHECK(outbox_message_id_envelope("fuzz-secret-0123456789", again) == id,
                       "an envelope id does not come back from its own Message-ID");
        }
        free(t);
        break;
    }
    }
    return 0;
}
