# `mailer serve` against real clients on loopback (tests/http/*.py).
mailer_script_test(http.abuse test_http_abuse.py LABELS integration TIMEOUT 180)
mailer_script_test(http.api test_http_api.py LABELS integration TIMEOUT 180)
