/*
 * test_config.c: defaults, file values, refusals with file:line:key, env.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "testutil.h"

static char cfgpath[600];

static void write_cfg(const char *text)
{
    snprintf(cfgpath, sizeof cfgpath, "%s/mailer.ini", test_tmpdir("config"));
    test_write_file(cfgpath, text);
}

static void defaults_are_documented_values(void **state)
{
    struct config c;
    (void)state;
    assert_int_equal(cfg_load(&c, NULL), MERR_OK);
    assert_string_equal(c.db_path, "var/mailer.db");
    assert_string_equal(c.transport, "dir:var/outbox");
    assert_string_equal(c.http_listen, "127.0.0.1:8080");
    assert_string_equal(c.timezone, "Asia/Ho_Chi_Minh");
    assert_int_equal(c.smtp_tls, CFG_TLS_REQUIRED);
    assert_int_equal(c.image_max_bytes, 20 * 1024 * 1024);
    assert_int_equal(c.share_max_recipients, 5);
    assert_int_equal(c.max_age_seconds, 3 * 86400);
    assert_int_equal(c.retry_base_seconds, 300);
    assert_int_equal(c.delivery_idle, 0);
    assert_int_equal(c.delivery_nice, 10);
    assert_null(c.secret);
    assert_string_equal(cfg_mail_domain(&c), "hagiang.example");
    cfg_free(&c);
}

static void file_values_override_defaults(void **state)
{
    struct config c;
    (void)state;
    write_cfg(
        "; comment\n[site]\nname = Báo Hà Giang\ntimezone = Asia/Kolkata\n"
        "[delivery]\ntransport = smtp://127.0.0.1:2525\nconnections = 8\nrate = 12.5\n"
        "max_age = 2d\nidle = yes\n[smtp]\ntls = opportunistic\n[limits]\nimage_max_bytes = 512KB\n"
        "[mail]\nsecret = 0123456789abcdef0123\n");
    assert_int_equal(cfg_load(&c, cfgpath), MERR_OK);
    assert_string_equal(c.site_name, "Báo Hà Giang");
    assert_string_equal(c.transport, "smtp://127.0.0.1:2525");
    assert_int_equal(c.connections, 8);
    assert_true(c.rate > 12.4 && c.rate < 12.6);
    assert_int_equal(c.max_age_seconds, 2 * 86400);
    assert_int_equal(c.delivery_idle, 1);
    assert_int_equal(c.smtp_tls, CFG_TLS_OPPORTUNISTIC);
    assert_int_equal(c.image_max_bytes, 512 * 1024);
    assert_string_equal(c.secret, "0123456789abcdef0123");
    cfg_free(&c);
}

static void expect_refusal(const char *text, const char *needle)
{
    struct config c;
    write_cfg(text);
    assert_int_equal(cfg_load(&c, cfgpath), MERR_CONFIG);
    if (!strstr(merr_msg(), needle))
        fail_msg("message \"%s\" lacks \"%s\"", merr_msg(), needle);
    assert_non_null(strstr(merr_msg(), cfgpath));
}

static void unknown_key_names_file_line_key(void **state)
{
    (void)state;
    expect_refusal("[site]\nname = x\n\n[delivery]\nconections = 4\n",
                   "mailer.ini:5: [delivery] conections: unknown key");
    expect_refusal("[sight]\nname = x\n", "mailer.ini:2: [sight] name: unknown section");
}

static void bad_values_name_the_reason(void **state)
{
    (void)state;
    expect_refusal("[delivery]\nconnections = many\n",
                   ":2: [delivery] connections: \"many\" is not a whole number");
    expect_refusal("[delivery]\nconnections = 0\n",
                   ":2: [delivery] connections: 0 is out of range");
    expect_refusal("[smtp]\ntls = maybe\n", ":2: [smtp] tls: \"maybe\" is not one of");
    expect_refusal("[delivery]\nidle = sometimes\n",
                   ":2: [delivery] idle: \"sometimes\" is not yes or no");
    expect_refusal("[limits]\nimage_max_bytes = lots\n", ":2: [limits] image_max_bytes:");
    expect_refusal("[delivery]\nmax_age = 3 weeks\n", ":2: [delivery] max_age:");
    expect_refusal("[delivery]\n\ntransport = ftp://x\n", ":3: [delivery] transport:");
    expect_refusal("[site]\ntimezone = Mars/Olympus\n", ":2: [site] timezone: unknown time zone");
    expect_refusal("[mail]\nsecret = short\n", ":2: [mail] secret: must be at least 16");
    expect_refusal("[mail]\nfrom_address = not an address\n", ":2: [mail] from_address:");
    expect_refusal("[http]\nlisten = 8080\n", ":2: [http] listen:");
    expect_refusal("[site]\nbase_url = ftp://x\n", ":2: [site] base_url:");
    expect_refusal("[site]\nthis line has no equals\n", ":2: ");
}

static void missing_file_is_refused(void **state)
{
    struct config c;
    (void)state;
    assert_int_equal(cfg_load(&c, "/nonexistent/mailer.ini"), MERR_CONFIG);
    assert_non_null(strstr(merr_msg(), "/nonexistent/mailer.ini"));
}

static void environment_overrides_secrets(void **state)
{
    struct config c;
    (void)state;
    write_cfg("[smtp]\npassword = from-file\n");
    setenv("MAILER_SMTP_PASSWORD", "from-env", 1);
    setenv("MAILER_SECRET", "env-secret-0123456789", 1);
    assert_int_equal(cfg_load(&c, cfgpath), MERR_OK);
    assert_string_equal(c.smtp_password, "from-env");
    assert_string_equal(c.secret, "env-secret-0123456789");
    cfg_free(&c);
    unsetenv("MAILER_SMTP_PASSWORD");
    unsetenv("MAILER_SECRET");
}

/* config.example is loadable as it stands and its values are the built-in defaults. */
static void bounce_mailboxes(void **state)
{
    struct config cfg;
    (void)state;
    write_cfg("[bounce]\nsoft_limit = 4\n\n[bounce.vps-1]\nrole = bounces\n"
              "url = imaps://mail.example.org:993/Bounces\nusername = b@example.org\n"
              "password = from-file\nidle = false\n\n[bounce.isp]\nrole = complaints\n"
              "url = pop3://127.0.0.1:1110\nusername = fbl\ntls = none\ndelete = true\n");
    setenv("MAILER_BOUNCE_VPS_1_PASSWORD", "from-env", 1);
    assert_int_equal(cfg_load(&cfg, cfgpath), MERR_OK);
    unsetenv("MAILER_BOUNCE_VPS_1_PASSWORD");
    assert_int_equal(cfg.bounce_soft_limit, 4);
    assert_int_equal(cfg.bounce_soft_days, 15);
    assert_int_equal(cfg.n_mailboxes, 2);
    assert_string_equal(cfg.mailboxes[0].name, "vps-1");
    assert_string_equal(cfg.mailboxes[0].password, "from-env");
    assert_int_equal(cfg.mailboxes[0].idle, 0);
    assert_int_equal(cfg.mailboxes[0].tls, CFG_TLS_REQUIRED);
    assert_int_equal(cfg.mailboxes[1].tls, CFG_TLS_NONE);
    assert_int_equal(cfg.mailboxes[1].delete, 1);
    assert_int_equal(cfg.mailboxes[1].leave_on_server, 1);
    assert_non_null(cfg_mailbox(&cfg, "isp"));
    assert_null(cfg_mailbox(&cfg, "nope"));
    cfg_free(&cfg);

    expect_refusal("[bounce.x]\nrole = bounce\nurl = imaps://h:993\nusername = u\n",
                   "[bounce.x] role: \"bounce\": expected bounces, complaints or unsubscribe");
    expect_refusal("[bounce.x]\nrole = bounces\nurl = http://h:80\nusername = u\n",
                   "[bounce.x] url: \"http://h:80\": expected imaps://");
    expect_refusal("[bounce.x]\nrole = bounces\nurl = imap://mail.example.org:143\nusername = u\n"
                   "tls = none\n",
                   "[bounce.x] tls: none is for loopback hosts only");
    expect_refusal("[bounce.a b]\nrole = bounces\n", "a mailbox name holds only letters");
    expect_refusal("[bounce.x]\nfolder = INBOX\n", "[bounce.x] folder: unknown key");
    expect_refusal("[bounce.x]\nrole = bounces\nurl = imaps://h:993\n",
                   "[bounce.x] username: missing");
}

static void example_file_matches_defaults(void **state)
{
    struct config ex, def;
    char path[600];
    (void)state;
    snprintf(path, sizeof path, "%s/config.example", test_source_dir());
    assert_int_equal(cfg_load(&ex, path), MERR_OK);
    assert_int_equal(cfg_load(&def, NULL), MERR_OK);
    assert_string_equal(ex.site_name, def.site_name);
    assert_string_equal(ex.db_path, def.db_path);
    assert_string_equal(ex.transport, def.transport);
    assert_string_equal(ex.http_listen, def.http_listen);
    assert_string_equal(ex.from_address, def.from_address);
    assert_int_equal(ex.connections, def.connections);
    assert_int_equal(ex.delivery_idle, def.delivery_idle);
    assert_int_equal(ex.delivery_nice, def.delivery_nice);
    assert_int_equal(ex.max_age_seconds, def.max_age_seconds);
    assert_int_equal(ex.image_max_bytes, def.image_max_bytes);
    assert_int_equal(ex.embed_max_bytes, def.embed_max_bytes);
    assert_int_equal(ex.media_max_pixels, def.media_max_pixels);
    assert_int_equal(ex.media_jpeg_quality, def.media_jpeg_quality);
    assert_int_equal(ex.media_threads, def.media_threads);
    assert_int_equal(ex.share_max_recipients, def.share_max_recipients);
    assert_int_equal(ex.smtp_tls, def.smtp_tls);
    assert_int_equal(ex.smtp_command_timeout_ms, def.smtp_command_timeout_ms);
    cfg_free(&ex);
    cfg_free(&def);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_documented_values),
        cmocka_unit_test(file_values_override_defaults),
        cmocka_unit_test(unknown_key_names_file_line_key),
        cmocka_unit_test(bad_values_name_the_reason),
        cmocka_unit_test(missing_file_is_refused),
        cmocka_unit_test(environment_overrides_secrets),
        cmocka_unit_test(bounce_mailboxes),
        cmocka_unit_test(example_file_matches_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
