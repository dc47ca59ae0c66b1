#!/usr/bin/env bash
# Installs what is missing, builds the mailer, installs it on PATH, creates
# the database with the sample articles and runs the service on its
# embedded default: SQLite in var/mailer.db, messages written as .eml files
# under var/outbox (both relative to this repository, where it runs).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
# `mailer` on PATH (the install target): /usr/local/bin for root, else ~/.local/bin
prefix=/usr/local
if [ ! -w "$prefix/bin" ]; then
  prefix=$HOME/.local
  mkdir -p "$prefix/bin"
fi
cmake --install build --prefix "$prefix" >/dev/null
export PATH="$prefix/bin:$PATH"
if [ "$(command -v mailer)" != "$prefix/bin/mailer" ]; then
  echo "run: installed $prefix/bin/mailer, but another mailer comes first on PATH: $(command -v mailer)" >&2
fi
case ":$(sh -lc 'echo $PATH' 2>/dev/null):" in
  *":$prefix/bin:"*) ;;
  *) echo "run: add $prefix/bin to PATH to type \`mailer\` in other shells" >&2 ;;
esac
echo "run: mailer installed as $prefix/bin/mailer; run the README's commands from $here"
mailer init
mailer article add examples/articles/*.json
exec mailer serve
