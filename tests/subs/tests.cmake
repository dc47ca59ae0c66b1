# `mailer list` and `mailer sub` through the real binary (tests/subs/cli.py):
# exit codes and messages, imports (bad rows by line, twice, dry run,
# blocklist, SIGKILL midway), export, show and erase.
mailer_script_test(subs.cli subs/cli.py LABELS integration TIMEOUT 240)
