# DKIM and the bulk-sender rules (issue 11): keys and `mailer doctor` against a
# real DNS server on loopback (dnspython), signatures checked by two
# independent verifiers (dkimpy; OpenDKIM's opendkim-testmsg in a private
# mount namespace whose resolv.conf names the test DNS server).
mailer_script_test(dkim.doctor dkim/test_doctor.py LABELS integration TIMEOUT 180)
mailer_script_test(dkim.keys dkim/test_keys.py LABELS integration TIMEOUT 120)
foreach(v dkimpy opendkim)
  add_test(NAME dkim.delivered.${v}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_delivered.py ${v})
  set_tests_properties(dkim.delivered.${v} PROPERTIES LABELS "integration"
    ENVIRONMENT "${TEST_ENV}" SKIP_RETURN_CODE 77 TIMEOUT 240)
endforeach()
