# The official Mustache specification (tests/conformance/mustache), run by
# tpl_spec: prints passed/total per file and fails on any failing case.
add_executable(tpl_spec ${CMAKE_CURRENT_LIST_DIR}/tpl_spec.c)
target_link_libraries(tpl_spec PRIVATE tpl)
add_test(NAME conformance.mustache
  COMMAND tpl_spec ${PROJECT_SOURCE_DIR}/tests/conformance/mustache)
set_tests_properties(conformance.mustache PROPERTIES LABELS "unit;conformance" TIMEOUT 60)
