# `mailer list` and `mailer sub` through the real binary (tests/subs/cli.py):
# exit codes and messages, imports (bad rows by line, twice, dry run,
# blocklist, SIGKILL midway), export, show and erase (afterwards no text in
# any table holds the erased person's address, name or note).
mailer_script_test(subs.cli subs/cli.py LABELS integration TIMEOUT 240)
