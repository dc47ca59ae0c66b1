#!/usr/bin/env bash
# Installs the Debian 12 packages the mailer needs to build, run and test.
# (libimage-exiftool-perl: tests/media reads the image parts of delivered
# mail with exiftool, a metadata reader independent of libvips, to show that
# no EXIF, GPS, XMP or IPTC is left in them.)
# (python3-yaml: the build reads docs/openapi.yaml, the API's description kept
# in the readable form, and embeds it as the JSON served at /api/openapi.json,
# cmake/openapi_json.py.)
# Run as root. Packages already present are skipped; apt-get runs only when
# something is missing, so a second run costs a few dpkg queries.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git ca-certificates tzdata
  libesmtp-dev libetpan-dev libsqlite3-dev sqlite3 libmicrohttpd-dev
  libjansson-dev libinih-dev libxml2-dev libcurl4-gnutls-dev libidn2-dev
  libssl-dev openssl libcmocka-dev
  python3 python3-aiosmtpd postfix
  chromium nodejs npm wrk clang-format valgrind
  libvips-dev libvips-tools imagemagick libsodium-dev
  libopendkim-dev opendkim-tools python3-dkim python3-nacl python3-dnspython
  dovecot-imapd dovecot-pop3d libsasl2-modules python3-jsonschema python3-yaml
  libimage-exiftool-perl
  clang libclang-rt-14-dev
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# nodejs from another source may provide npm itself: accept a working npm.
if command -v npm >/dev/null 2>&1; then
  tmp=()
  for p in "${missing[@]}"; do [ "$p" = npm ] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if command -v node >/dev/null 2>&1; then
  tmp=()
  for p in "${missing[@]}"; do [ "$p" = nodejs ] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # postfix asks questions at install: preseed a "No configuration" setup.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# playwright-core drives Debian's Chromium in the browser tests.
here=$(cd "$(dirname "$0")/.." && pwd)
if { [ ! -d "$here/tests/browser/node_modules/playwright-core" ] || [ ! -d "$here/tests/browser/node_modules/axe-core" ]; } && [ -f "$here/tests/browser/package.json" ]; then
  (cd "$here/tests/browser" && npm install --no-audit --no-fund --silent)
fi
