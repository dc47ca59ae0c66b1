#!/bin/bash
# tests/docs/test_format.sh: the C sources are as the checked-in .clang-format
# writes them (STYLE.md); names each file that is not, and where.
set -euo pipefail
src=${MAILER_SOURCE_DIR:?}
command -v clang-format >/dev/null || { echo "clang-format is not installed (scripts/setup.sh)" >&2; exit 1; }
cd "$src"
mapfile -d '' files < <(find mailer subscribers tests bench -name node_modules -prune -o \
  \( -name '*.c' -o -name '*.h' \) -type f -print0)
[ "${#files[@]}" -gt 100 ] || { echo "only ${#files[@]} C files found under $src" >&2; exit 1; }
if ! out=$(clang-format --dry-run -Werror "${files[@]}" 2>&1); then
  echo "$out" | grep -o '^[^:]*\.[ch]:[0-9]*' | sort -u -t: -k1,1 | sed 's/^/not formatted: /' >&2
  echo "$out" | head -20 >&2
  echo "run clang-format -i on the files named" >&2
  exit 1
fi
echo "${#files[@]} C files formatted"
