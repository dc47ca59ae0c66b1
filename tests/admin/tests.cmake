# The web admin (/admin/) against `mailer serve` on loopback (tests/admin/*.py);
# its browser tests are in tests/browser.
mailer_script_test(admin.security admin/test_admin_security.py LABELS integration TIMEOUT 300)
mailer_script_test(admin.breaking admin/test_breaking.py LABELS integration TIMEOUT 240)
