# `mailer list` and `mailer sub` through the real binary (tests/subs/cli.py):
# exit codes and messages, imports (bad rows by line, twice, dry run,
# blocklist, SIGKILL midway), export, show and erase (afterwards no text in
# any table holds the erased person's address, name or note).
mailer_script_test(subs.cli subs/cli.py LABELS integration TIMEOUT 240)
# An import that fails after about 1,000 good rows (a connection reset while
# reading stdin, a row too big past the first batches) leaves every table as
# it was and says why (issue 18).
mailer_script_test(subs.import_fails_midway subs/test_import_fails.py LABELS integration
  TIMEOUT 120)
# CSV as people have it (tests/subs/test_csv_people.py): Excel's semicolons
# and BOM, tabs, Vietnamese and English header names in any case and with
# decomposed accents, UTF-16 and legacy-encoded files refused with a hint,
# the export's BOM (--no-bom) and its round trip.
mailer_script_test(subs.csv_people subs/test_csv_people.py LABELS integration TIMEOUT 120)
