#!/usr/bin/env bash
# Installs what is missing, builds the mailer, creates the database with the
# sample articles and runs the service on its embedded default: SQLite in
# var/mailer.db, messages written as .eml files under var/outbox.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
mailer=build/bin/mailer
$mailer init
$mailer article add examples/articles/*.json
exec $mailer serve
