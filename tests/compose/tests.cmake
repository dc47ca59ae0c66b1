# Messages composed by the built `mailer` from the sample articles and edge
# cases, parsed with Python's email package (policy=default): no defects,
# exact decoded headers and text, every cid: resolved, CRLF only, <= 998.
# (mailer_script_test resolves scripts against the including folder, tests/.)
mailer_script_test(compose.messages compose/check_messages.py LABELS integration TIMEOUT 120)
