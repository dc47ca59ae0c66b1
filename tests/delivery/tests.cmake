# Delivery end to end: `mailer share`/`deliver`/`queue` with the dir transport,
# against the real test SMTP server (tests/smtpd) in every fault mode, and the
# SIGKILL crash test. Each script exits non-zero with FAIL: ... on a mismatch.
mailer_script_test(delivery.dir_share_and_queue delivery/test_dir.py LABELS integration
  TIMEOUT 120)
set(DELIVERY_SMTP_CASES share_bytes digest postfix_share_bytes postfix_digest two_sends_retry greeting_421 rcpt_451 rcpt_550
  data_552 drop_mid_data silent_server)
foreach(c ${DELIVERY_SMTP_CASES})
  mailer_script_test(delivery.smtp.${c} delivery/test_smtp.py ARGS ${c} LABELS integration
    TIMEOUT 120)
endforeach()
# NO_TSAN: 5,000 messages through the same workers and writer as the tests
# above, which the TSan build runs; what this one adds is SIGKILL (minutes there)
mailer_script_test(delivery.crash_sigkill delivery/test_crash.py LABELS integration
  TIMEOUT 180 NO_TSAN)
mailer_script_test(delivery.rate_limits delivery/test_rate.py LABELS integration TIMEOUT 60)
mailer_script_test(delivery.blocked_erased_never_claimed delivery/test_consent.py
  LABELS integration TIMEOUT 120)
mailer_script_test(delivery.checkpoints_beside_commits delivery/test_checkpoint.py
  LABELS integration TIMEOUT 120)
