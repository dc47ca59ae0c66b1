# Bounces: the parser on the project's own samples (exact JSON lines), hostile
# mail that must end unparsed under ASan, intake and policy against real
# Dovecot and Postfix servers, Postfix's pipe transport as docs/bounces.md configures it.
mailer_script_test(bounce.parse bounce/test_parse.py LABELS integration TIMEOUT 120)
mailer_script_test(bounce.hostile bounce/test_hostile.py LABELS integration TIMEOUT 300)
mailer_script_test(bounce.intake bounce/test_intake.py LABELS integration TIMEOUT 600)
mailer_script_test(bounce.mailboxes bounce/test_mailboxes.py LABELS integration TIMEOUT 600)
mailer_script_test(bounce.e2e bounce/test_e2e.py LABELS integration TIMEOUT 600)
mailer_script_test(bounce.pipe bounce/test_pipe.py LABELS integration TIMEOUT 300)
