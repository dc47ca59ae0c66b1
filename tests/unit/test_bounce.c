/*
 * test_bounce.c: the bounce parser's parts: the guard in front of libetpan,
 * field blocks, status and reply codes, the class decision, attribution
 * material.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "bounce_int.h"

static int screen(const char *msg, char *why, size_t n)
{
    struct bounce_limits l;
    bounce_limits_default(&l);
    why[0] = '\0';
    return bounce_mime_screen(msg, strlen(msg), &l, why, n);
}

static void t_screen_boundaries(void **state)
{
    char why[256];
    (void)state;
    assert_int_equal(
        screen("Content-Type: multipart/mixed; boundary=\"=_a1b2\"\r\n\r\n--=_a1b2\r\n", why,
               sizeof why),
        0);
    assert_int_equal(
        screen("Content-Type: multipart/mixed; boundary=simple-token\n\nx\n", why, sizeof why), 0);
    /* the heap overflow of libetpan 1.9.4's mailmime_extract_boundary */
    assert_int_equal(
        screen("Content-Type: multipart/mixed; boundary=\"\\\"\"\n\nx\n", why, sizeof why), -1);
    assert_non_null(strstr(why, "backslash"));
    /* RFC 2231 forms are screened too, and so is a boundary in a nested part */
    assert_int_equal(
        screen("Subject: x\n\n--a\nContent-Type: multipart/mixed; boundary*0=\"\\\"\"\n", why,
               sizeof why),
        -1);
    assert_int_equal(screen("Content-Type: multipart/mixed; boundary=\"\"\n\nx\n", why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "0 characters"));
    assert_int_equal(
        screen("Content-Type: multipart/mixed; BOUNDARY = (c) \"a b\"\n\nx\n", why, sizeof why), 0);
    assert_int_equal(
        screen("Content-Type: multipart/mixed; boundary=\"ab \"\n\nx\n", why, sizeof why),
        -1); /* may not end in a space */
    /* RFC 2045 token characters are fine (Active!Hunter puts "!" in its boundaries) */
    assert_int_equal(screen("Content-Type: multipart/report; "
                            "boundary=\"----=_Active!Hunter_20110429T233445+0900-0000\"\n\nx\n",
                            why, sizeof why),
                     0);
    /* ... and '@' when quoted (PowerMTA's "report<id>@<host>") */
    assert_int_equal(screen("Content-Type: multipart/report; report-type=delivery-status;\n"
                            "    boundary=\"report4E747F78@mta.example.vn\"\n\nx\n",
                            why, sizeof why),
                     0);
    /* ... a quote or a backslash never (tspecials) */
    assert_int_equal(
        screen("Content-Type: multipart/mixed; boundary=\"a\\\\b\"\n\nx\n", why, sizeof why), -1);
    /* prose that says "boundary" without a parameter is left alone */
    assert_int_equal(
        screen("Subject: the boundary of the field\n\nboundary line\n", why, sizeof why), 0);
}

static void t_screen_limits(void **state)
{
    char why[256], *m;
    struct bounce_limits l;
    (void)state;
    bounce_limits_default(&l);
    assert_int_equal(screen("Subject: a\xff\n\nx\n", why, sizeof why), -1);
    assert_non_null(strstr(why, "invalid UTF-8"));
    /* 8-bit bytes in a body are for the charset converter, not an error */
    assert_int_equal(screen("Subject: a\n\n\xff\xfe\n", why, sizeof why), 0);
    m = malloc(70000);
    memcpy(m, "Subject: ", 9);
    memset(m + 9, 'a', 69990 - 9);
    strcpy(m + 69990, "\n\nx\n");
    assert_int_equal(bounce_mime_screen(m, strlen(m), &l, why, sizeof why), -1);
    assert_non_null(strstr(why, "bytes long"));
    free(m);
    assert_int_equal(bounce_mime_screen("a\0b", 3, &l, why, sizeof why), -1);
    assert_non_null(strstr(why, "NUL"));
    /* 41 nesting declarations are refused, 40 pass */
    char buf[4096] = "Subject: x\n\n";
    for (int i = 0; i < 40; i++)
        strcat(buf, "Content-Type: message/rfc822\n");
    assert_int_equal(screen(buf, why, sizeof why), 0);
    strcat(buf, "Content-Type: multipart/mixed\n");
    assert_int_equal(screen(buf, why, sizeof why), -1);
    assert_non_null(strstr(why, "nested too deep"));
    /* "rfc822;" of a DSN field and text/rfc822-headers do not nest */
    char dsn[8192] = "Subject: x\n\n";
    for (int i = 0; i < 60; i++)
        strcat(dsn, "Final-Recipient: rfc822; a@b.example\nContent-Type: text/rfc822-headers\n");
    assert_int_equal(screen(dsn, why, sizeof why), 0);
    l.max_size = 10;
    assert_int_equal(bounce_mime_screen("Subject: 12345\n\n", 16, &l, why, sizeof why), -1);
    assert_non_null(strstr(why, "larger than the limit"));
}

static void t_fields(void **state)
{
    struct bounce_fields fs;
    const char *text = "Reporting-MTA: dns; mx.example\n"
                       "\n\n"
                       "Final-Recipient: rfc822; a@b.example\n"
                       "Diagnostic-Code: smtp; 550 5.1.1 user\n"
                       "  unknown\n"
                       "not a field line\n"
                       "\n"
                       "  Final-Recipient: rfc822; c@d.example\n";
    (void)state;
    assert_int_equal(bounce_fields_read(text, strlen(text), &fs), MERR_OK);
    assert_int_equal(fs.n, 4);
    assert_string_equal(bounce_fields_get(&fs, "diagnostic-code", 0),
                        "smtp; 550 5.1.1 user unknown");
    assert_int_equal(fs.f[0].group, 0);
    assert_int_equal(fs.f[1].group, 1);
    assert_int_equal(fs.f[3].group, 2);
    assert_string_equal(fs.f[3].value, "rfc822; c@d.example");
    bounce_fields_clear(&fs);

    /* a text that ends in a line of blanks, with no NUL after it (libFuzzer's input) */
    char *raw = malloc(7);
    assert_non_null(raw);
    memcpy(raw, "X: b\n \t", 7);
    assert_int_equal(bounce_fields_read(raw, 7, &fs), MERR_OK);
    assert_int_equal(fs.n, 1);
    assert_string_equal(fs.f[0].value, "b");
    bounce_fields_clear(&fs);
    free(raw);
}

static void t_codes(void **state)
{
    char st[16], rc[4];
    (void)state;
    assert_true(bounce_class_find_status("550 5.1.1 <a@b>: unknown", st));
    assert_string_equal(st, "5.1.1");
    assert_true(bounce_class_find_status("(#5.1.1)", st));
    assert_string_equal(st, "5.1.1");
    assert_true(bounce_class_find_status("550 5.1.10 RESOLVER", st));
    assert_string_equal(st, "5.1.10");
    assert_false(bounce_class_find_status("host 10.4.4.1 said", st));
    assert_false(bounce_class_find_status("version 2.4.5.6", st));
    assert_true(bounce_class_find_reply("smtp; 550 5.1.1 x", rc));
    assert_string_equal(rc, "550");
    assert_true(bounce_class_find_reply("host mx[192.0.2.1] said: 452 4.2.2 full", rc));
    assert_string_equal(rc, "452");
    assert_false(bounce_class_find_reply("port 25 id 5501234", rc));
    assert_false(bounce_class_find_reply("size=550.3", rc));
}

struct decide_case {
    const char *action, *status, *reply, *text;
    int final;
    enum bounce_class cls;
    const char *reason;
};

static void t_decide(void **state)
{
    static const struct decide_case cases[] = {
        {"failed", "5.1.1", "550", "550 5.1.1 User unknown", 1, BOUNCE_HARD, "user_unknown"},
        /* a bare "no such user" is believed at RCPT TO, or with an X.1.x status */
        {"failed", "5.0.0", "550", "RCPT TO:<a@b>: 550 No such user here", 1, BOUNCE_HARD,
         "user_unknown"},
        {"failed", "5.1.1", "550", "550 5.1.1 <a@b>... No such user", 1, BOUNCE_HARD,
         "user_unknown"},
        /* qmail reports a 5xx reply as #5.5.0, X3 as 5.3.0: no cause, so the stage decides */
        {"failed", "5.5.0", "550",
         "most progress was RCPT TO response; remote host 192.0.2.4 said: 550 Unknown user a@b "
         "(#5.5.0)",
         1, BOUNCE_HARD, "user_unknown"},
        {"failed", "5.3.0", "553", "SMTP:RCPT host 192.0.2.8: 553 5.3.0 <a@b>... No such user here",
         1, BOUNCE_HARD, "user_unknown"},
        /* "RCPT TO: a@b" in a summary of the envelope, "(ORCPT a@b)": no reply to RCPT TO */
        {"failed", "", "550", "550 - no such user here. Message details: RCPT TO: a@b", 1,
         BOUNCE_SOFT, "failed"},
        {"failed", "5.0.0", "550", "(ORCPT rfc822;a@b) 550 No such user here", 1, BOUNCE_SOFT,
         "failed"},
        /* X.2.1 (a disabled mailbox) beside "user unknown": hard only at RCPT TO */
        {"failed", "5.2.1", "550",
         "550 5.2.1 <a@b>: Recipient address rejected: User unknown in local recipient table", 1,
         BOUNCE_SOFT, "disabled"},
        {"failed", "5.2.1", "550",
         "550 5.2.1 <a@b>: User unknown in local recipient table (in reply to RCPT TO command)", 1,
         BOUNCE_HARD, "user_unknown"},
        /* Postfix's "Recipient address rejected:" prefixes every recipient restriction */
        {"failed", "5.0.0", "550",
         "did not like our RCPT TO: 550 5.0.0 <a@b>: Recipient address rejected: On hold", 1,
         BOUNCE_SOFT, "policy"},
        /* ... not alone: filters and appliances answer it to mail they refuse */
        {"failed", "5.0.0", "550", "550 No such user here", 1, BOUNCE_SOFT, "failed"},
        {"failed", "", "550", "550 Unknown user an@example.vn", 1, BOUNCE_SOFT, "failed"},
        /* ... nor against a policy status, even at RCPT TO */
        {"failed", "5.7.1", "554",
         "after RCPT TO:<a@b>: 554 5.7.1 <a@b>: Recipient address rejected: Access denied", 1,
         BOUNCE_SOFT, "policy"},
        /* Exchange Online's edge blocking: 5.4.1 with these words is a missing mailbox */
        {"failed", "5.4.1", "550",
         "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) "
         "[SN1PEPF000252A0.namprd05.prod.outlook.com]",
         1, BOUNCE_HARD, "user_unknown"},
        {"failed", "5.4.1", "550", "550 5.4.1 No answer from host", 1, BOUNCE_SOFT, "network"},
        /* RFC 7504: 521 and 556, the destination takes no mail, whatever the status */
        {"failed", "5.3.2", "521",
         "did not like our RCPT TO: 521 5.3.2 <a@b>: Recipient address rejected: System not "
         "accepting network messages",
         1, BOUNCE_HARD, "no_mail"},
        {"failed", "", "556", "556 example.net: no service here", 1, BOUNCE_HARD, "no_mail"},
        {"failed", "5.3.2", "550", "550 5.3.2 System not accepting network messages", 1,
         BOUNCE_SOFT, "system"},
        /* RFC 3463 X.4.4 "unable to route": no MX or address, an illegal domain name */
        {"failed", "5.4.4", "", "Illegal host/domain name found", 1, BOUNCE_HARD, "domain_unknown"},
        {"delayed", "4.4.4", "", "unable to route", 0, BOUNCE_SOFT, "delayed"},
        {"", "4.4.4", "", "", 0, BOUNCE_SOFT, "temporary"},
        /* X.1.7 / X.1.8: the server refused our sender's domain, whatever the words */
        {"failed", "5.1.7", "550", "550 5.1.7 No such domain hagiang.example.", 1, BOUNCE_SOFT,
         "policy"},
        {"failed", "5.1.8", "553",
         "553 5.1.8 <us@our.example>... Domain of sender address us@our.example does not exist", 1,
         BOUNCE_SOFT, "policy"},
        /* RFC 5321's own 550 text covers a policy refusal too: it needs X.1.x or RCPT TO */
        {"", "", "550", "550 Requested action not taken: mailbox unavailable", 1, BOUNCE_SOFT,
         "failed"},
        {"failed", "5.1.1", "550", "550 5.1.1 Requested action not taken: mailbox unavailable", 1,
         BOUNCE_HARD, "user_unknown"},
        {"failed", "", "550",
         "after RCPT TO:<a@b>: 550 Requested action not taken: mailbox unavailable", 1, BOUNCE_HARD,
         "user_unknown"},
        /* a specific missing-mailbox phrase needs no backing (IMail's, Exchange IMS's) */
        {"", "", "", "Invalid final delivery userid: a@b", 1, BOUNCE_HARD, "user_unknown"},
        {"", "", "", "a@b on Sat, 7 Nov 2026 The recipient name is not recognized", 1, BOUNCE_HARD,
         "user_unknown"},
        {"failed", "", "", "This user doesn't have a yahoo.example account", 1, BOUNCE_HARD,
         "user_unknown"},
        /* a 4xx user unknown the MTA gave up on is final */
        {"failed", "4.1.1", "450", "450 4.1.1 user unknown", 1, BOUNCE_HARD, "user_unknown"},
        /* ... one it still retries is not */
        {"", "4.1.1", "450", "450 4.1.1 user unknown", 0, BOUNCE_SOFT, "temporary"},
        {"delayed", "4.4.1", "", "connection timed out", 0, BOUNCE_SOFT, "delayed"},
        {"relayed", "2.0.0", "250", "250 ok", 1, BOUNCE_DELIVERED, "delivered"},
        /* text naming a block wins over a 5.1.1 status */
        {"failed", "5.1.1", "550", "550 5.1.1 Client host blocked using zen.spamhaus.org", 1,
         BOUNCE_SOFT, "policy"},
        {"failed", "5.1.1", "550", "550 5.1.1 mailbox is full", 1, BOUNCE_SOFT, "mailbox_full"},
        /* "unknown user" after DATA, no 5.1.x: a filter */
        {"failed", "5.0.0", "550", "550 Unknown user (in reply to end of DATA command)", 1,
         BOUNCE_SOFT, "policy"},
        /* refused at MAIL FROM: never the recipient's fault */
        {"failed", "5.0.0", "550", "SMTP error after MAIL FROM:<x@y>: 550 no such user", 1,
         BOUNCE_SOFT, "policy"},
        {"failed", "5.4.4", "", "Host or domain name not found", 1, BOUNCE_HARD, "domain_unknown"},
        {"failed", "4.0.0", "", "returned Null MX", 1, BOUNCE_SOFT, "temporary"},
        {"failed", "5.1.10", "550", "550 5.1.10 null MX", 1, BOUNCE_HARD, "no_mail"},
        {"failed", "5.1.6", "551", "551 user has moved", 1, BOUNCE_HARD, "moved"},
        {"failed", "5.7.1", "550", "550 5.7.1 message rejected", 1, BOUNCE_SOFT, "policy"},
        {"failed", "5.0.0", "", "", 1, BOUNCE_SOFT, "failed"},
        {"failed", "5.3.4", "552", "552 message too big", 1, BOUNCE_SOFT, "too_big"},
        {"failed", "4.4.7", "", "", 1, BOUNCE_SOFT, "expired"},
        {"", "", "", "Benutzer unbekannt", 1, BOUNCE_HARD, "user_unknown"},
        {"", "", "", "hộp thư đã đầy", 1, BOUNCE_SOFT, "mailbox_full"},
        {"", "", "", "", 0, BOUNCE_UNKNOWN, "unknown"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bounce_rcpt r;
        memset(&r, 0, sizeof r);
        snprintf(r.action, sizeof r.action, "%s", cases[i].action);
        snprintf(r.status, sizeof r.status, "%s", cases[i].status);
        snprintf(r.reply_code, sizeof r.reply_code, "%s", cases[i].reply);
        bounce_class_decide(&r, cases[i].text, cases[i].final);
        if (r.cls != cases[i].cls || strcmp(r.reason, cases[i].reason) != 0)
            fail_msg("case %zu (%s): got %s/%s, want %s/%s", i, cases[i].text,
                     bounce_class_name(r.cls), r.reason, bounce_class_name(cases[i].cls),
                     cases[i].reason);
        assert_int_equal(bounce_reason_class(r.reason) == r.cls || !strcmp(r.reason, "temporary"),
                         1);
    }
}

static void t_vocabulary(void **state)
{
    (void)state;
    for (const char *const *p = bounce_reasons; *p; p++)
        assert_true(bounce_reason_class(*p) <= BOUNCE_UNKNOWN);
    assert_int_equal(bounce_reason_class("user_unknown"), BOUNCE_HARD);
    assert_int_equal(bounce_reason_class("abuse"), BOUNCE_COMPLAINT);
    assert_int_equal(bounce_class_parse("auto-reply"), BOUNCE_AUTO_REPLY);
    assert_int_equal(bounce_class_parse("nope"), -1);
}

static const char DSN[] =
    "Delivered-To: bounces+42.0123456789abcdef0123@hagiang.example\r\n"
    "From: MAILER-DAEMON@mx.example (Mail Delivery System)\r\n"
    "To: bounces+42.0123456789abcdef0123@hagiang.example\r\n"
    "Message-Id: <dsn.1@mx.example>\r\n"
    "Subject: =?UTF-8?Q?Th=C6=B0_kh=C3=B4ng_g=E1=BB=ADi_=C4=91=C6=B0=E1=BB=A3c?=\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nhuman text\r\n"
    "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.example\r\nOriginal-Envelope-Id: 42.0123456789abcdef0123\r\n\r\n"
    "Final-Recipient: rfc822; a@example.vn\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
    "Original-Recipient: rfc822; b@example.vn\r\nFinal-Recipient: rfc822; b2@example.vn\r\n"
    "Action: delayed\r\nStatus: 4.2.2\r\n\r\n"
    "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    "Return-Path: <bounces+42.0123456789abcdef0123@hagiang.example>\r\n"
    "Message-ID: <42.aabbccddeeff00112233@hagiang.example>\r\n"
    "List-Id: \"Tin\" <tin-tuc.hagiang.example>\r\n\r\n"
    "--b--\r\n";

static void t_parse_dsn(void **state)
{
    struct bounce_report *r;
    (void)state;
    assert_int_equal(bounce_parse(DSN, strlen(DSN), NULL, &r), MERR_OK);
    assert_null(r->unparsed);
    assert_int_equal(r->kind, BOUNCE_KIND_DSN);
    assert_int_equal(r->n_rcpts, 2);
    assert_string_equal(r->rcpts[0].address, "a@example.vn");
    assert_int_equal(r->rcpts[0].cls, BOUNCE_HARD);
    assert_string_equal(r->rcpts[1].address, "b2@example.vn");
    assert_string_equal(r->rcpts[1].original, "b@example.vn");
    assert_string_equal(r->rcpts[1].reason, "delayed");
    assert_string_equal(r->verp, "bounces+42.0123456789abcdef0123@hagiang.example");
    assert_string_equal(r->envid, "42.0123456789abcdef0123");
    assert_string_equal(r->returned_msgid, "42.aabbccddeeff00112233@hagiang.example");
    assert_string_equal(r->returned_list_id, "tin-tuc.hagiang.example");
    assert_string_equal(r->returned_verp, "bounces+42.0123456789abcdef0123@hagiang.example");
    assert_string_equal(r->message_id, "dsn.1@mx.example");
    assert_string_equal(r->from, "MAILER-DAEMON@mx.example");
    assert_string_equal(r->subject, "Thư không gửi được");
    json_t *j = bounce_report_json(r, "f.eml");
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(strstr(s,
                           "{\"file\":\"f.eml\",\"kind\":\"dsn\",\"recipients\":[{\"address\":\"a@"
                           "example.vn\",\"class\":\"hard\",\"reason\":\"user_unknown\",\"status\":"
                           "\"5.1.1\",\"reply_code\":null,\"diagnostic\":null}"));
    free(s);
    json_decref(j);
    bounce_report_free(r);
}

static void t_parse_unsubscribe_and_unparsed(void **state)
{
    static const char U[] = "To: \"News\" <unsubscribe+u3.l1.00@hagiang.example>\r\n"
                            "From: reader@example.vn\r\nSubject: unsubscribe\r\n\r\nplease\r\n";
    static const char H[] = "Content-Type: multipart/mixed; boundary=\"\\\"\"\r\n\r\n--x\r\n";
    struct bounce_report *r;
    (void)state;
    assert_int_equal(bounce_parse(U, strlen(U), NULL, &r), MERR_OK);
    assert_int_equal(r->kind, BOUNCE_KIND_NOT_BOUNCE);
    assert_string_equal(r->unsubscribe, "unsubscribe+u3.l1.00@hagiang.example");
    assert_null(r->verp);
    bounce_report_free(r);
    assert_int_equal(bounce_parse(H, strlen(H), NULL, &r), MERR_OK);
    assert_non_null(r->unparsed);
    assert_int_equal(r->n_rcpts, 0);
    bounce_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_screen_boundaries),
        cmocka_unit_test(t_screen_limits),
        cmocka_unit_test(t_fields),
        cmocka_unit_test(t_codes),
        cmocka_unit_test(t_decide),
        cmocka_unit_test(t_vocabulary),
        cmocka_unit_test(t_parse_dsn),
        cmocka_unit_test(t_parse_unsubscribe_and_unparsed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
