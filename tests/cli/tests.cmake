# The command line as a whole (tests/cli/): -h/--help honoured before any
# action by every command the help lists, names that read as options
# refused, and no database created by anything but `mailer init`.
mailer_script_test(cli.help_first cli/test_help.py LABELS integration TIMEOUT 300)
