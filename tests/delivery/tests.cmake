# Delivery end to end: `mailer share`/`deliver`/`queue` with the dir transport,
# against the real test SMTP server (tests/smtpd) in every fault mode, and the
# SIGKILL crash test. Each script exits non-zero with FAIL: ... on a mismatch.
mailer_script_test(delivery.dir_share_and_queue delivery/test_dir.py LABELS integration
  TIMEOUT 120)
set(DELIVERY_SMTP_CASES share_bytes digest two_sends_retry greeting_421 rcpt_451 rcpt_550
  data_552 drop_mid_data silent_server)
foreach(c ${DELIVERY_SMTP_CASES})
  add_test(NAME delivery.smtp.${c}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_smtp.py ${c})
  set_tests_properties(delivery.smtp.${c} PROPERTIES LABELS "integration"
    ENVIRONMENT "${TEST_ENV}" SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
mailer_script_test(delivery.crash_sigkill delivery/test_crash.py LABELS integration
  TIMEOUT 180)
mailer_script_test(delivery.rate_limits delivery/test_rate.py LABELS integration TIMEOUT 60)
mailer_script_test(delivery.blocked_erased_never_claimed delivery/test_consent.py
  LABELS integration TIMEOUT 120)
