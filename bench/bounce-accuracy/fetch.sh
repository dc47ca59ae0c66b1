#!/usr/bin/env bash
# Downloads the samples manifest.tsv names into corpus/ (not committed): each
# file from its public GitHub repository at the commit the manifest gives.
# Needs the network; measure.py then runs offline.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus"
grep -v '^#' "$here/manifest.tsv" | while IFS=$'\t' read -r name repo path commit _rest; do
    [ -n "$name" ] || continue
    [ -s "$here/corpus/$name" ] && continue
    curl -fsSL --retry 3 -o "$here/corpus/$name.part" \
        "https://raw.githubusercontent.com/$repo/$commit/$path"
    mv "$here/corpus/$name.part" "$here/corpus/$name"
done
echo "corpus: $(ls "$here/corpus" | wc -l) files"
