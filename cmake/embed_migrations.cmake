# Generates a C file holding every mailer/db/migrations/NNNN_name.sql as a
# `struct db_migration` row. Run by CMake at build time (see
# mailer/db/CMakeLists.txt) with -DOUT=file -DDIR=folder.
cmake_policy(SET CMP0057 NEW) # if(IN_LIST)
file(GLOB files "${DIR}/[0-9][0-9][0-9][0-9]_*.sql")
list(SORT files)
set(body "/* Generated from mailer/db/migrations: do not edit. */\n#include \"migrations.h\"\n\n")
set(rows "")
set(i 0)
set(seen "")
foreach(f ${files})
  get_filename_component(base "${f}" NAME_WE)
  string(SUBSTRING "${base}" 0 4 num)
  string(SUBSTRING "${base}" 5 -1 name)
  math(EXPR version "${num}")
  # two workers landing the same number both rebase cleanly: stop the build
  # instead of applying one of them under the other's version
  if("${version}" IN_LIST seen)
    message(FATAL_ERROR "two migrations numbered ${num} in ${DIR}: renumber the newer one "
                        "to the next free number")
  endif()
  list(APPEND seen "${version}")
  file(READ "${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND body "static const char m${i}[] = {${hex}0};\n")
  string(APPEND rows "    {${version}, \"${name}\", m${i}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nconst struct db_migration db_migrations[] = {\n${rows}};\n")
string(APPEND body "const size_t db_migrations_count = ${i};\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
