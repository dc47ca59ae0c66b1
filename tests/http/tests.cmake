# `mailer serve` against real clients on loopback (tests/http/*.py).
mailer_script_test(http.abuse http/test_http_abuse.py LABELS integration TIMEOUT 180)
mailer_script_test(http.api http/test_http_api.py LABELS integration TIMEOUT 180)
# (scripts resolve against the including folder, tests/.)
mailer_script_test(http.scheduler http/test_http_scheduler.py LABELS integration TIMEOUT 120)
mailer_script_test(http.list_settings http/test_http_list_settings.py LABELS integration TIMEOUT 120)
# RFC 8058 one-click by a person on two lists: leaves only that list (issue 18).
mailer_script_test(http.one_click_two_lists http/test_http_one_click.py LABELS integration
  TIMEOUT 120)
# The delivery workers run nicer than the HTTP front ([delivery] nice, issue 17).
mailer_script_test(http.workers_nice http/test_http_workers_nice.py LABELS integration TIMEOUT 120)
# Public and private lists (only public ones on the subscribe page and its
# form), a new list's digest off until turned on, upgrade keeps old lists
# public (tests/http/test_list_visibility.py).
mailer_script_test(http.list_visibility http/test_list_visibility.py LABELS integration TIMEOUT 120)
# The message catalogue (mailer/http/http_msg.c): every refusal reason the
# sources give has its Vietnamese words, no handler writes reader text
# itself, and JSON refusals carry code, field, reason, words and detail
# (tests/http/test_msg_catalogue.py).
mailer_script_test(http.msg_catalogue http/test_msg_catalogue.py LABELS integration TIMEOUT 120)
# docs/openapi.yaml is the API as it is: every route the router knows is
# documented, each is called and its answers validated against the schemas
# (python3-jsonschema); keyset pages, CLI dates, import reasons and dry run.
mailer_script_test(http.openapi http/test_openapi.py LABELS integration TIMEOUT 180)
