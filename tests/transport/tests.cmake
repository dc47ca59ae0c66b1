# SMTP and dir transports against the real test SMTP server (tests/smtpd).
# transport_tool drives the C transport; test_smtp.py runs one case per test.
add_executable(transport_tool ${CMAKE_CURRENT_LIST_DIR}/transport_tool.c)
target_link_libraries(transport_tool PRIVATE transport config core)
set_target_properties(transport_tool PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

set(TRANSPORT_SMTP_CASES
  plain_bytes one_connection_many_messages batch_split_per_connection dsn_parameters
  starttls_verified starttls_ip_san starttls_untrusted starttls_wrong_name
  starttls_not_offered starttls_opportunistic two_tls_sessions
  auth_ok auth_over_tls auth_failed_not_sent auth_not_offered_not_sent auth_required_no_credentials
  auth_no_starttls_not_sent auth_unverified_tls_not_sent auth_required_untrusted_not_sent
  greeting_421 rcpt_451 rcpt_550 all_rcpts_fail data_552 drop_mid_data
  silent_server_timeout connect_timeout closed_port
  smtps_refused tls_none_refused_off_loopback crlf_in_rcpt_refused
  callback_before_next_mail callback_before_end callback_stop callback_end_stop
  callback_failures lazy_load_one_at_a_time lazy_load_failure)
foreach(c ${TRANSPORT_SMTP_CASES})
  add_test(NAME transport.smtp.${c}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_smtp.py ${c})
  set_tests_properties(transport.smtp.${c} PROPERTIES LABELS "integration"
    ENVIRONMENT "${TEST_ENV};TRANSPORT_TOOL=$<TARGET_FILE:transport_tool>"
    SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
