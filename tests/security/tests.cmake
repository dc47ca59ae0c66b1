# Regression tests of issue 16 (security): each reproduces an attack and
# checks that it is refused with the outcome a user should see.
mailer_script_test(security.addr_overflow security/test_addr_overflow.py LABELS integration TIMEOUT 120)
mailer_script_test(security.old_links security/test_old_links.py LABELS integration TIMEOUT 180)
mailer_script_test(security.file_modes security/test_file_modes.py LABELS integration TIMEOUT 120)
mailer_script_test(security.csv_export security/test_csv_export.py LABELS integration TIMEOUT 120)
mailer_script_test(security.spam_relay security/test_spam_relay.py LABELS integration TIMEOUT 180)
mailer_script_test(security.ssrf security/test_ssrf.py LABELS integration TIMEOUT 120)
mailer_script_test(security.proxy_ip security/test_proxy_ip.py LABELS integration TIMEOUT 120)
mailer_script_test(security.slowloris security/test_slowloris.py LABELS integration TIMEOUT 180)
mailer_script_test(security.http_hardening security/test_http_hardening.py LABELS integration TIMEOUT 120)
