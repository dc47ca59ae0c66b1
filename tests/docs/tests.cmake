# The README's "Using it" block, read from README.md and run command by
# command as typed on a fresh database in a fresh folder (`mailer` on PATH),
# `mailer serve` included (tests/docs/test_readme.py).
mailer_script_test(docs.readme_using_it docs/test_readme.py LABELS integration TIMEOUT 300)
# Every C file as the checked-in .clang-format writes it (tests/docs/test_format.sh).
mailer_script_test(docs.clang_format docs/test_format.sh LABELS unit TIMEOUT 120 NO_TSAN)
