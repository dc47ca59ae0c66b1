# Weekly digests end to end: personalization through the test SMTP server,
# SIGKILL mid-digest and resume, pause/resume without duplicates, the CLI
# (scheduler tick, exit codes, preview, progress on a terminal).
mailer_script_test(digest.personal digest/test_personal.py LABELS integration TIMEOUT 120)
# NO_TSAN: 10,000 subscribers, the threads of digest.pause_resume; what it adds
# is SIGKILL (five minutes under ThreadSanitizer)
mailer_script_test(digest.kill_and_resume digest/test_kill.py LABELS integration TIMEOUT 150
  NO_TSAN)
mailer_script_test(digest.pause_resume digest/test_pause.py LABELS integration TIMEOUT 120)
mailer_script_test(digest.cli digest/test_cli.py LABELS integration TIMEOUT 120)
mailer_script_test(digest.slow_relay_once digest/test_slow_relay.py LABELS integration
  TIMEOUT 240)
mailer_script_test(digest.preview_is_delivered digest/test_preview_delivered.py LABELS integration
  TIMEOUT 120)
